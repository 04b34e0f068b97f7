/* engine/conv_impl.h - what ops_conv.c (forward) and ops_conv_bwd.c (backward) share: a Conv's
 * geometry, the job its workers run, and the helpers both passes use. Internal to the engine. */
#ifndef NG_CONV_IMPL_H
#define NG_CONV_IMPL_H
#include "engine/ops.h"
#include "engine/kern.h"
#include "engine/dconv.h"

/* The direct kernel's reduction limit for Convs (forward and data gradient; measured in ops_conv.c,
 * conv_use_direct). */
#define NG_CONV_DIRECT_MAX_K 160   /* <= NG_DCONV_MAX_K */

typedef struct conv_geom {
    int64_t N, C, H, W, M, G, Cg, Mg, K, HW, OHW;
    int     depthwise;    /* group == C == M: the direct kernel of dwconv.h */
    int     one_by_one;   /* col is the image itself */
    int     wide;         /* forward on the padded grid (ng_im2col_wide) */
    int64_t Hp, Wp, L, padsz; /* padded grid: rows, columns, OH*Wp, floats of the padded copy */
    ng_win2d g;           /* per-group window (g.C = Cg) */
} conv_geom;

typedef struct conv_job {
    conv_geom o;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db;
    float **scr;        /* per-worker scratch */
    int   *used;        /* per worker: ran at least one item (its partials are valid) */
    ng_pool *inner;     /* pool for the GEMMs when there is a single work item, else NULL */
    int64_t nb;         /* forward: images per GEMM (conv_fwd_batched) */
    int     relu;       /* forward: write Relu of the output (fused by the exec) */
    const float *clip;  /* forward: {lo, hi}: write Clip of the output (fused by the exec), else NULL */
    const ng_dconv *dc; /* forward: the direct kernel's plan (conv_fwd_direct), else NULL */
    const ng_dconv16 *dc16; /* or its 16-channel variant's */
    const float *wp;    /* its packed weights, one block per group */
    int64_t xlen;       /* floats of its padded input */
    float  *yp;         /* the folded MaxPool's output (conv_pool_ok), else NULL */
    const float *res;   /* forward, the pointwise kernel's paths (conv_pwrows_body, conv_fwd_pwgemm): a folded
                           Add's other input (shaped as y), added before act; else NULL */
    const float *wt;    /* backward: W^T per group (K x Mg) for the pointwise kernel, else NULL */
    int     pw;         /* training: the GEMMs W col and W^T dY through the pointwise kernel (pwconv.h) */
    int     act;        /* forward, those paths: NG_PW_NONE / RELU / CLIP (Relu / Clip fused, or the Add's Relu) */
} conv_job;

/* Check node n's shapes (input xs, weight ws, bias bs or NULL) and fill o. */
ng_status ng_conv_check(const ng_node *n, const ng_shape *xs, const ng_shape *ws, const ng_shape *bs, conv_geom *o);
/* Fetch every worker's scratch of floats on the calling thread (so workers never grow buffers);
 * NULL when out of memory. */
float **ng_conv_scratch(ng_opctx *c, size_t floats, float **ptrs, int nw);
/* The column matrix (or the image itself) of one (image, group); col: scratch of K x (L or OHW)
 * floats, then the padded planes when wide. Returns it and its row stride in *ld. */
const float *ng_conv_cols(const conv_geom *o, const float *xg, float *col, int64_t *ld);
/* Images per GEMM (1: per-image GEMMs) for nw workers. */
int64_t ng_conv_images_per_gemm(const conv_geom *o, int nw);
/* ResNet's stem pool folded into a Conv computed in blocks of rows (conv_pool.c): whether the MaxPool
 * node (output shape ps) is the 3x3 stride-2 pads-1 kind over an N x M x OH x OW output (OH, OW even);
 * a block's pooled rows from its nr (even) conv rows yb (M x nr x OW): into py (the image's pooled
 * output at the block's first pooled row, channels pstride apart; the first row partial unless the
 * block starts the image) and, when side is not NULL, its last row's horizontal maxima (M x OW / 2)
 * into side; tmp: OW floats. ng_conv_pool3_join then completes a partial row (n floats) with the
 * side of the block before. */
int  ng_conv_pool3_ok(const ng_node *pool, const ng_shape *ps, int64_t N, int64_t M, int64_t OH, int64_t OW);
void ng_conv_pool3_block(const float *yb, int64_t M, int64_t nr, int64_t OW, float *py, int64_t pstride, float *side,
                         float *tmp);
void ng_conv_pool3_join(float *row, const float *side, int64_t n);
/* Whether a training backward takes dX from Winograd (wconv.h). */
int ng_conv_use_wino_bwd(const ng_opctx *c, const conv_geom *o);
#endif
