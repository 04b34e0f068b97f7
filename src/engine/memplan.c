/* engine/memplan.c - buffer sharing for inference forwards (memplan.h).
 *
 * Walk the nodes in order. At node i: give each output a buffer (and, when node i may write a
 * folded MaxPool's output, that output too), then free the buffers whose value was read for the
 * last time by node i. Outputs are placed before inputs are freed, so a node never writes into a
 * buffer it reads. A value needing n floats takes the smallest free buffer of at least n floats,
 * else the largest free one (grown to n), else a new one. */
#include <stdlib.h>
#include "engine/memplan.h"
#include "core/core.h"

typedef struct plan { int *rep, *last, *slot, nslots; char *busy; size_t *size; } plan;

static void place(plan *p, int v, size_t need)
{
    int best = -1, big = -1;
    for (int k = 0; k < p->nslots; k++) {
        if (p->busy[k]) continue;
        if (p->size[k] >= need && (best < 0 || p->size[k] < p->size[best])) best = k;
        if (big < 0 || p->size[k] > p->size[big]) big = k;
    }
    const int k = best >= 0 ? best : big >= 0 ? big : p->nslots++;
    if (p->size[k] < need) p->size[k] = need;
    p->busy[k] = 1;
    p->slot[v] = k;
}

int ng_memplan(const ng_model *m, const ng_shape *shapes, const char *fuse, const int *fpool, int *slot,
               size_t *size)
{
    const int nv = m->n_vals, nn = m->n_nodes;
    plan p = { .rep = ng_calloc((size_t)nv, sizeof(int)), .last = ng_calloc((size_t)nv, sizeof(int)),
               .slot = slot, .busy = ng_calloc((size_t)nv, 1), .size = size };
    char *own = ng_calloc((size_t)nv, 1);   /* per group: keeps a buffer of its own */
    if (!p.rep || !p.last || !p.busy || !own) { free(p.rep); free(p.last); free(p.busy); free(own); return -1; }
    for (int v = 0; v < nv; v++) { p.rep[v] = v; p.last[v] = -1; slot[v] = -1; size[v] = 0; }
    for (int i = 0; i + 1 < nn; i++)   /* a folded Relu / Clip / Add's output is its producer's buffer */
        if (fuse[i]) p.rep[m->nodes[i + 1].out[0]] = p.rep[m->nodes[i].out[0]];   /* (Conv -> Add -> Relu: a chain) */
    for (int v = 0; v < nv; v++)
        if (m->vals[v].kind != NG_V_ACT || v == m->input || ng_shape_numel(&shapes[v]) < 0 || v == m->output)
            own[p.rep[v]] = 1;
    for (int i = 0; i < nn; i++) {   /* last reader; a value nobody reads dies where it is written */
        const ng_node *n = &m->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && p.last[p.rep[n->in[j]]] < i) p.last[p.rep[n->in[j]]] = i;
        for (int j = 0; j < n->n_out; j++)
            if (p.last[p.rep[n->out[j]]] < i) p.last[p.rep[n->out[j]]] = i;
    }
    for (int i = 0; i < nn; i++) {
        const int from[2] = { i, fpool[i] };
        for (int s = 0; s < 2; s++) {
            if (from[s] < 0) continue;
            const ng_node *n = &m->nodes[from[s]];
            for (int j = 0; j < n->n_out; j++) {
                const int v = n->out[j];
                if (p.rep[v] == v && !own[v] && slot[v] < 0) place(&p, v, (size_t)ng_shape_numel(&shapes[v]));
            }
        }
        for (int v = 0; v < nv; v++)
            if (p.rep[v] == v && slot[v] >= 0 && p.last[v] == i) p.busy[slot[v]] = 0;
    }
    for (int v = 0; v < nv; v++)
        if (p.rep[v] != v) slot[v] = slot[p.rep[v]];
    const int ns = p.nslots;
    free(p.rep); free(p.last); free(p.busy); free(own);
    return ns;
}
