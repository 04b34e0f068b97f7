/* engine/memplan.h - which activations of an inference forward can share a buffer.
 *
 *     int slot[n_vals]; size_t size[n_vals];
 *     int ns = ng_memplan(m, shapes, fuse, fpool, slot, size);   // -1: out of memory
 *     // value v lives in buffer slot[v] (>= 0) of size[slot[v]] floats, or has its own (-1)
 *
 * Each activation is live from the node that writes it to the last node that reads it; two
 * activations whose lives do not overlap may share a buffer. At batch 1 MobileNetV2's ~35 MB of
 * activations then fit in a few buffers that stay in the caches, instead of every node writing
 * fresh memory. Only for inference forwards: backward reads every activation afterwards.
 * fuse[i] != 0: node i+1 (a Relu / Clip / Add folded into node i) writes nothing, its output is node
 * i's (chains too: Conv -> Add -> Relu all in the Conv's buffer);
 * fpool[i] >= 0: node i may write node fpool[i]'s output (a folded MaxPool), so that output is
 * live from node i. Not planned (slot -1): parameters, the graph inputs, the graph output (and
 * what aliases it), values without a shape. */
#ifndef NG_ENGINE_MEMPLAN_H
#define NG_ENGINE_MEMPLAN_H
#include <stddef.h>
#include "engine/graph.h"

int ng_memplan(const ng_model *m, const ng_shape *shapes, const char *fuse, const int *fpool, int *slot,
               size_t *size);
#endif
