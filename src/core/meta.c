/* core/meta.c - ordered string -> string metadata lists. */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"

const char *ng_meta_get(const ng_meta *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->kv[i].key, key) == 0) return m->kv[i].value;
    return NULL;
}

ng_status ng_meta_set(ng_meta *m, const char *key, const char *value)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->kv[i].key, key) != 0) continue;
        if (!value) {
            free(m->kv[i].key); free(m->kv[i].value);
            memmove(&m->kv[i], &m->kv[i + 1], (m->n - i - 1) * sizeof *m->kv);
            m->n--;
            return NG_OK;
        }
        char *v = ng_strdup(value);
        if (!v) return NG_E_NOMEM;
        free(m->kv[i].value);
        m->kv[i].value = v;
        return NG_OK;
    }
    if (!value) return NG_OK;
    ng_meta_kv *kv = ng_reallocarray(m->kv, m->n + 1, sizeof *kv);
    if (!kv) return NG_E_NOMEM;
    m->kv = kv;
    kv[m->n].key = ng_strdup(key);
    kv[m->n].value = ng_strdup(value);
    if (!kv[m->n].key || !kv[m->n].value) { free(kv[m->n].key); free(kv[m->n].value); return NG_E_NOMEM; }
    m->n++;
    return NG_OK;
}

ng_status ng_meta_copy(ng_meta *dst, const ng_meta *src)
{
    ng_meta out = {0};
    for (size_t i = 0; i < src->n; i++)
        if (ng_meta_set(&out, src->kv[i].key, src->kv[i].value) != NG_OK) { ng_meta_free(&out); return NG_E_NOMEM; }
    *dst = out;
    return NG_OK;
}

void ng_meta_free(ng_meta *m)
{
    for (size_t i = 0; i < m->n; i++) { free(m->kv[i].key); free(m->kv[i].value); }
    free(m->kv);
    m->kv = NULL; m->n = 0;
}
