/* engine/ops_conv.c - Conv (2-D, NCHW): forward (backward: ops_conv_bwd.c).
 *
 *   Y[n, m, oh, ow] = B[m] + sum_{c in group(m), i, j} W[m, c, i, j] * X[n, c, oh*sh - pt + i*dh, ow*sw - pl + j*dw]
 *
 * Per image and group: im2col (kern.h) then one GEMM  Y_g (Mg x OHW) = W_g (Mg x K) * col (K x OHW),
 * K = C/group * kh * kw; a 1x1 conv with stride 1 and no padding uses the image itself as col.
 * With stride 1, col is built on the zero-padded grid instead (ng_im2col_wide: one memcpy per col
 * row); the grid's extra columns are dropped from the forward output and are zero in backward's dY.
 * Backward per image and group:  dW_g += dY_g * col^T,  dcol = W_g^T * dY_g then col2im into dX,
 * dB[m] += sum dY[m]; for 3x3 stride-1 Convs dX comes from Winograd instead (conv_use_wino_bwd,
 * wconv.h), or for few channels from the direct kernel (conv_use_direct_bwd). Depthwise convolutions (group == C == M) skip all this for the direct kernel
 * of dwconv.h; stride-1 forwards with few output channels and short reductions for the one of
 * dconv.h (conv_use_direct), which can also write a following 2x2 MaxPool's output (the exec's
 * fold, ng_opctx.pool_node). Work items (image, group) are split over the exec's workers; each worker keeps
 * its own dW/dB partial sums in its scratch, added up at the end (worker 0 adds straight into din).
 */
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "engine/conv_impl.h"
#include "engine/dwconv.h"
#include "engine/wconv.h"
#include "engine/pwconv.h"
#include "engine/gconv.h"
#include "engine/v16.h"

ng_status ng_conv_check(const ng_node *n, const ng_shape *xs, const ng_shape *ws, const ng_shape *bs,
                        conv_geom *o)
{
    const ng_attrs *a = &n->a;
    const char *nm = NG_NODE_NAME(n);
    if (xs->ndim != 4) return ng_fail(NG_E_SHAPE, "node '%s' (Conv): input has %d dims, only 2-D convolution (NCHW) is supported", nm, xs->ndim);
    if (ws->ndim != 4) return ng_fail(NG_E_SHAPE, "node '%s' (Conv): weight has %d dims, expected 4 (M x C/group x kH x kW)", nm, ws->ndim);
    if (a->group < 1) return ng_fail(NG_E_SHAPE, "node '%s' (Conv): group %lld must be >= 1", nm, (long long)a->group);
    for (int i = 0; i < 2; i++)
        if (a->stride[i] < 1 || a->dilation[i] < 1)
            return ng_fail(NG_E_SHAPE, "node '%s' (Conv): strides and dilations must be >= 1", nm);
    for (int i = 0; i < 4; i++)
        if (a->pad[i] < 0) return ng_fail(NG_E_SHAPE, "node '%s' (Conv): negative padding", nm);
    o->N = xs->d[0]; o->C = xs->d[1]; o->H = xs->d[2]; o->W = xs->d[3];
    o->M = ws->d[0]; o->G = a->group;
    if (o->C % o->G || o->M % o->G || ws->d[1] != o->C / o->G)
        return ng_fail(NG_E_SHAPE, "node '%s' (Conv): input has %lld channels, weight is %lld x %lld x ..., group %lld: "
                       "need C = %lld x group and M divisible by group", nm, (long long)o->C, (long long)ws->d[0],
                       (long long)ws->d[1], (long long)o->G, (long long)ws->d[1]);
    if (bs && (bs->ndim != 1 || bs->d[0] != o->M))
        return ng_fail(NG_E_SHAPE, "node '%s' (Conv): bias must have shape [%lld]", nm, (long long)o->M);
    o->Cg = o->C / o->G; o->Mg = o->M / o->G;
    ng_win2d *g = &o->g;
    g->C = o->Cg; g->H = o->H; g->W = o->W; g->kh = ws->d[2]; g->kw = ws->d[3];
    g->sh = a->stride[0]; g->sw = a->stride[1]; g->pt = a->pad[0]; g->pl = a->pad[1];
    g->dh = a->dilation[0]; g->dw = a->dilation[1];
    g->OH = ng_pool_out_len(o->H, g->kh, g->sh, a->pad[0], a->pad[2], g->dh, 0);
    g->OW = ng_pool_out_len(o->W, g->kw, g->sw, a->pad[1], a->pad[3], g->dw, 0);
    if (g->kh < 1 || g->kw < 1 || g->OH < 1 || g->OW < 1)
        return ng_fail(NG_E_SHAPE, "node '%s' (Conv): kernel %lldx%lld does not fit the padded %lldx%lld input",
                       nm, (long long)g->kh, (long long)g->kw, (long long)o->H, (long long)o->W);
    o->K = o->Cg * g->kh * g->kw;
    o->HW = o->H * o->W;
    o->OHW = g->OH * g->OW;
    o->one_by_one = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 &&
                    a->pad[0] == 0 && a->pad[1] == 0 && a->pad[2] == 0 && a->pad[3] == 0;
    o->Hp = g->OH + g->dh * (g->kh - 1);
    o->Wp = g->OW + g->dw * (g->kw - 1);
    o->L = g->OH * o->Wp;
    o->padsz = o->Cg * o->Hp * o->Wp + g->dw * (g->kw - 1);
    o->depthwise = o->G == o->C && o->M == o->C;
    /* worth it while the padded grid adds at most as many columns as the output has */
    o->wide = !o->one_by_one && g->sh == 1 && g->sw == 1 && o->Wp <= 2 * g->OW;
    return NG_OK;
}

ng_status ng_conv_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    conv_geom o = {0};
    ng_status st = ng_conv_check(n, in[0], in[1], n->n_in > 2 ? in[2] : NULL, &o);
    if (st != NG_OK) return st;
    out[0].ndim = 4;
    out[0].d[0] = o.N; out[0].d[1] = o.M; out[0].d[2] = o.g.OH; out[0].d[3] = o.g.OW;
    return NG_OK;
}


/* dst[i] = src[i] + bias, or Relu of it (the same expression as the Relu op), or clamped to
 * [clip[0], clip[1]] (the Clip op's, ng_clamp) when clip is not NULL. dst may be src. */
NG_KERN_CLONES static void copy_out(float *dst, const float *src, int64_t n, float bias, int relu, const float *clip)
{
    if (clip) {
        const float lo = clip[0], hi = clip[1];
        for (int64_t i = 0; i < n; i++) { float v = src[i] + bias; dst[i] = v < lo ? lo : v > hi ? hi : v; }
        return;
    }
    if (!relu) { for (int64_t i = 0; i < n; i++) dst[i] = src[i] + bias; return; }
    for (int64_t i = 0; i < n; i++) { float v = src[i] + bias; dst[i] = v > 0.0f ? v : 0.0f; }
}

/* Fetch every worker's scratch on the calling thread (so workers never grow buffers). */
float **ng_conv_scratch(ng_opctx *c, size_t floats, float **ptrs, int nw)
{
    for (int w = 0; w < nw; w++) {
        ptrs[w] = ng_opctx_scratch(c, w, floats ? floats : 1);
        if (!ptrs[w]) return NULL;
    }
    return ptrs;
}

/* Output rows [r0, r1) of channels [m0, m1) of group g: the block filled with the bias, one GEMM
 * (beta 1) of those channels' weights with the rows' columns of cm (the column matrix, K x ldb, or
 * the image itself for a 1x1) added in, straight into y (or into the grid yw, Mg x L, when wide),
 * then Relu or Clip over the block while it is still in cache (no separate pass over the whole
 * output). The bias goes in first as the GEMM's C (beta 0 would cost OpenBLAS a zeroing pass).
 * Columns per output row: OW (Wp when wide). Single-threaded (the callers split the work). */
static void conv_gemm_block(const conv_job *j, int64_t g, const float *cm, int64_t ldb, float *yg, float *yw,
                            int64_t m0, int64_t m1, int64_t r0, int64_t r1)
{
    const conv_geom *o = &j->o;
    const int64_t prow = o->wide ? o->Wp : o->g.OW, c0 = r0 * prow, nc = (r1 - r0) * prow;
    const int64_t ldc = o->wide ? o->L : o->OHW;
    const float *a = j->w + (g * o->Mg + m0) * o->K;
    float *cb = o->wide ? yw + c0 : yg + c0;
    if (m1 <= m0 || nc <= 0) return;
    if (j->pw && ng_pwconv_ok(nc)) {   /* the pointwise kernel on the columns: bias and act in registers */
        const ng_pwconv pa = { .N = 1, .M = m1 - m0, .K = o->K, .P = nc, .x = cm + c0, .ld = ldb, .w = a,
                               .b = j->b ? j->b + g * o->Mg + m0 : NULL, .y = cb + m0 * ldc, .ldy = ldc,
                               .act = o->wide ? NG_PW_NONE : j->clip ? NG_PW_CLIP : j->relu ? NG_PW_RELU : NG_PW_NONE,
                               .lo = j->clip ? j->clip[0] : 0.0f, .hi = j->clip ? j->clip[1] : 0.0f };
        ng_pwconv_serial(&pa);
        if (o->wide)
            for (int64_t m = m0; m < m1; m++)
                for (int64_t oh = r0; oh < r1; oh++)
                    copy_out(yg + m * o->OHW + oh * o->g.OW, yw + m * o->L + oh * o->Wp, o->g.OW, 0.0f, j->relu, j->clip);
        return;
    }
    for (int64_t m = m0; m < m1; m++) {
        const float bv = j->b ? j->b[g * o->Mg + m] : 0.0f;
        float *r = cb + m * ldc;
        for (int64_t p = 0; p < nc; p++) r[p] = bv;
    }
    ng_par_sgemm(NULL, 0, 0, m1 - m0, nc, o->K, 1.0f, a, o->K, cm + c0, ldb, 1.0f, cb + m0 * ldc, ldc);
    if (o->wide) {
        for (int64_t m = m0; m < m1; m++)
            for (int64_t oh = r0; oh < r1; oh++)
                copy_out(yg + m * o->OHW + oh * o->g.OW, yw + m * o->L + oh * o->Wp, o->g.OW, 0.0f, j->relu, j->clip);
        return;
    }
    if (!j->relu && !j->clip) return;
    for (int64_t m = m0; m < m1; m++) {
        float *r = yg + m * o->OHW + c0;
        if (j->clip) ng_clamp(r, nc, j->clip[0], j->clip[1]);
        else copy_out(r, r, nc, 0.0f, 1, NULL);
    }
}

/* Output rows per GEMM block: about NG_CONV_BLOCK floats of output (96 KB: the epilogue finds them in L2),
 * at least NG_CONV_MIN_COLS columns; all of them (one GEMM) when the reduction is at least as long as
 * a block is wide: OpenBLAS packs the weights (mrows x K) once per block, and for deep layers that
 * traffic outweighs what the cached epilogue saves (resnet18's layer3 at 14x14, K 2304: +10%). */
#define NG_CONV_BLOCK 24576
#define NG_CONV_MIN_COLS 112
static int64_t conv_block_rows(const conv_geom *o, int64_t mrows)
{
    const int64_t prow = o->wide ? o->Wp : o->g.OW;
    int64_t cols = NG_CONV_BLOCK / (mrows > 0 ? mrows : 1);
    if (cols < NG_CONV_MIN_COLS) cols = NG_CONV_MIN_COLS;
    if (o->K >= cols) return o->g.OH;
    int64_t r = cols / prow;
    if (r < 1) r = 1;
    return r > o->g.OH ? o->g.OH : r;
}

/* The column matrix (or the image itself) of one (image, group) for conv_gemm_block; col: scratch
 * of K x (L or OHW) floats, then the padded planes when wide. Returns it and its row stride. */
const float *ng_conv_cols(const conv_geom *o, const float *xg, float *col, int64_t *ld)
{
    if (o->one_by_one) { *ld = o->OHW; return xg; }
    if (o->wide) {
        float *xpad = col + o->K * o->L;
        ng_pad_planes(xg, o->Cg, o->H, o->W, o->g.pt, o->g.pl, o->Hp, o->Wp, o->g.dw * (o->g.kw - 1), xpad);
        ng_im2col_wide(xpad, o->Cg, o->Hp, o->Wp, o->g.kh, o->g.kw, o->g.dh, o->g.dw, o->L, col, o->L);
        *ld = o->L;
        return col;
    }
    ng_im2col(&o->g, xg, col, o->OHW);
    *ld = o->OHW;
    return col;
}

/* Work item = (image, group): its columns, then its output in blocks of rows (conv_gemm_block).
 * Scratch per worker: col, the padded planes (wide), the grid output yw (wide). */
static void conv_fwd_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const conv_job *j = arg;
    const conv_geom *o = &j->o;
    float *col = j->scr[worker], *yw = col + o->K * o->L + o->padsz;
    const int64_t R = conv_block_rows(o, o->Mg);
    for (int64_t it = i0; it < i1; it++) {
        int64_t n = it / o->G, g = it % o->G, ld;
        const float *cm = ng_conv_cols(o, j->x + (n * o->C + g * o->Cg) * o->HW, col, &ld);
        float *yg = j->y + (n * o->M + g * o->Mg) * o->OHW;
        for (int64_t r0 = 0; r0 < o->g.OH; r0 += R)
            conv_gemm_block(j, g, cm, ld, yg, yw, 0, o->Mg, r0, r0 + R < o->g.OH ? r0 + R : o->g.OH);
    }
}

/* One image, one group (batch 1): the work split inside it. The column matrix is built in
 * parallel over input channels, then the blocks of conv_gemm_block run over the workers: blocks
 * of output rows when the output has more columns than channels (each worker packs only its share
 * of the column matrix), else blocks of output channels (each packs only its share of the weights,
 * the bulk of a deep layer); ng_par_sgemm's rule. */
typedef struct conv_one { const conv_job *j; const float *cm; int64_t ld, nr, R, mb; float *col, *yw; } conv_one;

static void conv_one_cols(void *arg, int64_t c0, int64_t c1, int worker)
{
    const conv_one *q = arg;
    const conv_geom *o = &q->j->o;
    (void)worker;
    const int64_t kk = o->g.kh * o->g.kw;
    if (o->wide) {
        ng_im2col_wide(q->col + o->K * o->L + c0 * o->Hp * o->Wp, c1 - c0, o->Hp, o->Wp, o->g.kh, o->g.kw, o->g.dh,
                       o->g.dw, o->L, q->col + c0 * kk * o->L, o->L);
        return;
    }
    ng_win2d g = o->g;
    g.C = c1 - c0;
    ng_im2col(&g, q->j->x + c0 * o->HW, q->col + c0 * kk * o->OHW, o->OHW);
}

static void conv_one_blocks(void *arg, int64_t u0, int64_t u1, int worker)
{
    const conv_one *q = arg;
    const conv_geom *o = &q->j->o;
    (void)worker;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t mi = u / q->nr, ri = u % q->nr, r0 = ri * q->R;
        const int64_t m0 = mi * q->mb, m1 = m0 + q->mb < o->Mg ? m0 + q->mb : o->Mg;
        conv_gemm_block(q->j, 0, q->cm, q->ld, q->j->y, q->yw, m0, m1, r0, r0 + q->R < o->g.OH ? r0 + q->R : o->g.OH);
    }
}

/* One image, one group, through the pointwise kernel (pwconv.h) on its column matrix: the
 * im2col (K x OHW, plain: no padded grid) split over input channels, then the kernel reads the
 * column matrix's rows and the weight rows in place (OpenBLAS packs both on every call: at batch
 * 1 the weights, ResNet-18's 11.7 M floats, are each used for a few hundred output pixels only).
 * Inference (ng_opctx.pwgemm, NG_PWGEMM=0 turns it off); the bias and Relu / Clip in registers. */
typedef struct conv_pwcols { const conv_geom *o; const float *x; float *col; } conv_pwcols;
static void conv_pw_cols(void *arg, int64_t c0, int64_t c1, int worker)
{
    const conv_pwcols *q = arg;
    (void)worker;
    ng_win2d g = q->o->g;
    g.C = c1 - c0;
    ng_im2col(&g, q->x + c0 * q->o->HW, q->col + c0 * g.kh * g.kw * q->o->OHW, q->o->OHW);
}

static void conv_fwd_pwgemm(ng_pool *p, const conv_job *j, float *col)
{
    const conv_geom *o = &j->o;
    conv_pwcols q = { o, j->x, col };
    ng_pool_for(p, o->Cg, conv_pw_cols, &q);
    const ng_pwconv a = { .N = 1, .M = o->M, .K = o->K, .P = o->OHW, .x = col, .w = j->w, .b = j->b, .res = j->res,
                          .y = j->y, .act = j->act, .lo = j->clip ? j->clip[0] : 0.0f, .hi = j->clip ? j->clip[1] : 0.0f };
    ng_pwconv_run(p, &a);
}

/* The same for large outputs (ResNet's 7x7 stride-2 stem: 12,544 pixels, K 147), in blocks of
 * output rows: each worker writes a block's columns into its own scratch (about NG_PW_ROWS_FLOATS:
 * it stays in L2 for the kernel that reads it) and runs the pointwise kernel on them into the
 * block's part of y. All workers busy in both steps (the whole-matrix im2col above splits over the
 * 3 input channels: 2 workers ran 2 + 1), and the column matrix never goes out to memory: resnet18
 * batch 1, 2 threads, ms per forward: stem 1.88 -> 0.79, layer2.0.conv1 (3x3 stride 2) 0.64 -> 0.42.
 * Any batch (work item = image x block): at batch 32 the stem took 77 ms through per-image im2col +
 * OpenBLAS, 25 ms this way; layer2.0.conv1 24 -> 14, layer3.0.conv1 24 -> 13. */
#define NG_PW_ROWS_FLOATS 131072
/* With ResNet's stem pool folded in (conv_pool.c; pool set): even R, each block's rows into the worker's
 * scratch after its columns (never into y), pooled from there into pool; side: the blocks' last rows'
 * horizontal maxima (N x nb x M x OW/2) for ng_conv_pool3_join. */
typedef struct conv_pwrows { const conv_job *j; float **scr; int64_t R, nb, ycol; float *pool, *side; } conv_pwrows;
static void conv_pwrows_body(void *arg, int64_t b0, int64_t b1, int worker)
{
    const conv_pwrows *q = arg;
    const conv_job *j = q->j;
    const conv_geom *o = &j->o;
    const int64_t OW = o->g.OW, OW2 = OW / 2, PH = o->g.OH / 2;
    for (int64_t it = b0; it < b1; it++) {
        const int64_t n = it / q->nb, b = it % q->nb;   /* image n, its block b */
        const int64_t r0 = b * q->R, r1 = b + 1 < q->nb ? r0 + q->R : o->g.OH, P = (r1 - r0) * OW;
        ng_win2d g = o->g;   /* output rows [r0, r1): the same window, its top moved down */
        g.OH = r1 - r0;
        g.pt = o->g.pt - r0 * o->g.sh;
        ng_im2col(&g, j->x + n * o->C * o->HW, q->scr[worker], P);
        float *yb = q->pool ? q->scr[worker] + q->ycol : j->y + n * o->M * o->OHW + r0 * OW;
        const ng_pwconv a = { .N = 1, .M = o->M, .K = o->K, .P = P, .x = q->scr[worker], .w = j->w, .b = j->b,
                              .res = j->res ? j->res + n * o->M * o->OHW + r0 * OW : NULL, .y = yb,
                              .ldy = q->pool ? P : o->OHW, .act = j->act, .lo = j->clip ? j->clip[0] : 0.0f,
                              .hi = j->clip ? j->clip[1] : 0.0f };
        ng_pwconv_serial(&a);
        if (q->pool)
            ng_conv_pool3_block(yb, o->M, r1 - r0, OW, q->pool + (n * o->M * PH + r0 / 2) * OW2, PH * OW2,
                                b + 1 < q->nb ? q->side + (n * q->nb + b) * o->M * OW2 : NULL, yb + o->M * P);
    }
}

/* The partial first pooled row of every block after the first: with the side of the block before. */
static void conv_pool3_join_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const conv_pwrows *q = arg;
    const conv_geom *o = &q->j->o;
    const int64_t OW2 = o->g.OW / 2, PH = o->g.OH / 2;
    (void)worker;
    for (int64_t it = i0; it < i1; it++) {   /* it = image x channel */
        const int64_t n = it / o->M, m = it % o->M;
        for (int64_t b = 1; b < q->nb; b++)
            ng_conv_pool3_join(q->pool + ((n * o->M + m) * PH + b * q->R / 2) * OW2,
                               q->side + ((n * q->nb + b - 1) * o->M + m) * OW2, OW2);
    }
}

/* Rows per block for conv_pwrows_body (the last block of an image also takes the OH % R rows
 * after it), or 0 when the output is too small to give every worker two blocks of at least 64
 * pixels (then the whole-matrix path splits the output channels instead). */
static int64_t conv_pwrows_rows(const conv_geom *o, int nw)
{
    int64_t R = NG_PW_ROWS_FLOATS / (o->K * o->g.OW);
    if (R < 1) R = 1;
    if (R > o->g.OH) R = o->g.OH;
    if (R * o->g.OW < 64) return 0;
    return o->N * (o->g.OH / R) >= 2 * nw ? R : 0;
}

static void conv_fwd_one(ng_pool *p, const conv_job *j, float *scr)
{
    const conv_geom *o = &j->o;
    const int nw = ng_pool_size(p);
    conv_one q = { .j = j, .col = scr, .yw = scr + o->K * o->L + o->padsz, .cm = j->x, .ld = o->OHW };
    if (!o->one_by_one) {
        if (o->wide) ng_pad_planes(j->x, o->Cg, o->H, o->W, o->g.pt, o->g.pl, o->Hp, o->Wp, o->g.dw * (o->g.kw - 1),
                                   scr + o->K * o->L);
        ng_pool_for(p, o->Cg, conv_one_cols, &q);
        q.cm = scr;
        q.ld = o->wide ? o->L : o->OHW;
    }
    const int64_t prow = o->wide ? o->Wp : o->g.OW;
    if (o->g.OH * prow > o->Mg && o->g.OH >= 2 * nw) {   /* blocks of rows, at least 2 per worker */
        q.mb = o->Mg;
        q.R = conv_block_rows(o, o->Mg);
        const int64_t most = (o->g.OH + 2 * nw - 1) / (2 * nw);
        if (q.R > most) q.R = most;
    } else {   /* blocks of output channels, one per worker (multiples of 16 rows) */
        q.R = o->g.OH;
        q.mb = (o->Mg + nw - 1) / nw;
        q.mb = (q.mb + 15) / 16 * 16;
    }
    q.nr = (o->g.OH + q.R - 1) / q.R;
    const int64_t nm = (o->Mg + q.mb - 1) / q.mb;
    ng_pool_for(p, nm * q.nr, conv_one_blocks, &q);
}

/* The grid's valid columns out: y (Mg x OH x OW) = yw[m*Lr + oh*Wp + ow] (+ 0, the bias is in),
 * Relu of it when fused: copy_out's expression. */
NG_KERN_CLONES static void dconv_out(const float *restrict yw, int64_t Lr, int64_t Wp, int64_t Mg, int64_t OH,
                                     int64_t OW, int relu, float *restrict y)
{
    for (int64_t m = 0; m < Mg; m++)
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *src = yw + m * Lr + oh * Wp;
            float *dst = y + (m * OH + oh) * OW;
            if (!relu) { for (int64_t k = 0; k < OW; k++) dst[k] = src[k] + 0.0f; continue; }
            for (int64_t k = 0; k < OW; k++) { float v = src[k] + 0.0f; dst[k] = v > 0.0f ? v : 0.0f; }
        }
}

/* The same values max-pooled 2x2 with stride 2 into yp (Mg x PH x PW): the MaxPool node's fast
 * path (ops_pool.c) on what dconv_out would have written, the same comparisons in the same order,
 * so the folded pool is bit-identical to running the nodes one by one. With Wp even, the column
 * pairs never straddle a grid row: first h[k] = max of pair k over the whole plane (one long loop,
 * vectorised), then each output row is the max of two rows of h. */
NG_KERN_CLONES static void dconv_out_pool(const float *restrict yw, int64_t Lr, int64_t Wp, int64_t Mg, int64_t PH,
                                          int64_t PW, int relu, float *restrict yp, float *restrict h)
{
    for (int64_t m = 0; m < Mg; m++) {
        const float *pl = yw + m * Lr;
        float *dst = yp + m * PH * PW;
        if (Wp % 2) {
            for (int64_t ph = 0; ph < PH; ph++) {
                const float *r0 = pl + 2 * ph * Wp, *r1 = r0 + Wp;
                for (int64_t k = 0; k < PW; k++) {
                    float a0 = r0[2 * k] + 0.0f, a1 = r0[2 * k + 1] + 0.0f, b0 = r1[2 * k] + 0.0f, b1 = r1[2 * k + 1] + 0.0f;
                    if (relu) {
                        a0 = a0 > 0.0f ? a0 : 0.0f; a1 = a1 > 0.0f ? a1 : 0.0f;
                        b0 = b0 > 0.0f ? b0 : 0.0f; b1 = b1 > 0.0f ? b1 : 0.0f;
                    }
                    float a = a0 > a1 ? a0 : a1, b = b0 > b1 ? b0 : b1;
                    dst[ph * PW + k] = a > b ? a : b;
                }
            }
            continue;
        }
        const int64_t np = PH * Wp, hw = Wp / 2;   /* pairs in rows 0 .. 2*PH-1; pairs per row */
        int64_t k0 = 0;
        for (; k0 + 16 <= np; k0 += 16) {   /* 16 pairs at once: split even / odd, then the same selects */
            ng_v16 p0, p1;
            memcpy(&p0, pl + 2 * k0, sizeof p0);
            memcpy(&p1, pl + 2 * k0 + 16, sizeof p1);
            ng_v16 a0 = NG_V16_EVEN(p0, p1) + 0.0f;
            ng_v16 a1 = NG_V16_ODD(p0, p1) + 0.0f;
            if (relu) {
                a0 = (ng_v16)((ng_v16i)a0 & (ng_v16i)(a0 > (ng_v16){0}));
                a1 = (ng_v16)((ng_v16i)a1 & (ng_v16i)(a1 > (ng_v16){0}));
            }
            const ng_v16i gt = (ng_v16i)(a0 > a1);
            const ng_v16 hv = (ng_v16)(((ng_v16i)a0 & gt) | ((ng_v16i)a1 & ~gt));
            memcpy(h + k0, &hv, sizeof hv);
        }
        if (relu) {
            for (int64_t k = k0; k < np; k++) {
                float a0 = pl[2 * k] + 0.0f, a1 = pl[2 * k + 1] + 0.0f;
                a0 = a0 > 0.0f ? a0 : 0.0f; a1 = a1 > 0.0f ? a1 : 0.0f;
                h[k] = a0 > a1 ? a0 : a1;
            }
        } else {
            for (int64_t k = k0; k < np; k++) {
                float a0 = pl[2 * k] + 0.0f, a1 = pl[2 * k + 1] + 0.0f;
                h[k] = a0 > a1 ? a0 : a1;
            }
        }
        for (int64_t ph = 0; ph < PH; ph++) {
            const float *a = h + 2 * ph * hw, *b = a + hw;
            float *d = dst + ph * PW;
            for (int64_t k = 0; k < PW; k++) d[k] = a[k] > b[k] ? a[k] : b[k];
        }
    }
}

/* The direct kernel (dconv.h), work item = (image, group): pad the group's planes, run the tiles
 * into the grid yw, copy the valid columns out (Relu when fused), or their 2x2 maxima into the
 * MaxPool's output when the exec folded it in (j->yp). */
static void conv_fwd_direct(void *arg, int64_t i0, int64_t i1, int worker)
{
    const conv_job *j = arg;
    const conv_geom *o = &j->o;
    const ng_dconv *d = j->dc;
    const int64_t tail = o->g.dw * (o->g.kw - 1), plen = j->dc16 ? ng_dconv16_packed_len(j->dc16) : ng_dconv_packed_len(d);
    float *xpad = j->scr[worker] + o->G * plen, *yw = xpad + j->xlen;
    for (int64_t it = i0; it < i1; it++) {
        const int64_t n = it / o->G, g = it % o->G;
        ng_pad_planes(j->x + (n * o->C + g * o->Cg) * o->HW, o->Cg, o->H, o->W, o->g.pt, o->g.pl, o->Hp, o->Wp,
                      tail, xpad);
        memset(xpad + o->padsz, 0, sizeof(float) * (size_t)(j->xlen - o->padsz));
        const int64_t PH = o->g.OH / 2, PW = o->g.OW / 2;
        if (j->dc16) {
            ng_dconv16_run(j->dc16, j->wp + g * plen, xpad, j->y + (n * o->M + g * o->Mg) * o->OHW,
                           j->yp ? j->yp + (n * o->M + g * o->Mg) * PH * PW : NULL);
            if (j->clip && !j->yp) ng_clamp(j->y + (n * o->M + g * o->Mg) * o->OHW, o->Mg * o->OHW, j->clip[0], j->clip[1]);
            continue;
        }
        ng_dconv_run(d, j->wp + g * plen, xpad, yw);
        if (j->yp) dconv_out_pool(yw, d->Lr, o->Wp, o->Mg, PH, PW, j->relu, j->yp + (n * o->M + g * o->Mg) * PH * PW,
                                  yw + d->Mp * d->Lr);
        else dconv_out(yw, d->Lr, o->Wp, o->Mg, o->g.OH, o->g.OW, j->relu, j->y + (n * o->M + g * o->Mg) * o->OHW);
        if (j->clip && !j->yp) ng_clamp(j->y + (n * o->M + g * o->Mg) * o->OHW, o->Mg * o->OHW, j->clip[0], j->clip[1]);
    }
}

/* The MaxPool the exec offers to fold in (c->pool_node), when it is the 2x2 stride-2 kind this
 * file computes: no padding, no dilation, output N x M x OH/2 x OW/2 (ceil_mode adding no window). */
static int conv_pool_ok(const ng_opctx *c, const conv_geom *o)
{
    if (!c->pool_node || !c->pool_out) return 0;
    const ng_attrs *a = &c->pool_node->a;
    const ng_shape *s = &c->pool_out->s;
    return a->kernel[0] == 2 && a->kernel[1] == 2 && a->stride[0] == 2 && a->stride[1] == 2 &&
           a->dilation[0] == 1 && a->dilation[1] == 1 && !a->pad[0] && !a->pad[1] && !a->pad[2] && !a->pad[3] &&
           s->ndim == 4 && s->d[0] == o->N && s->d[1] == o->M && s->d[2] == o->g.OH / 2 && s->d[3] == o->g.OW / 2 &&
           o->g.OH >= 2 && o->g.OW >= 2;
}

/* The direct kernel where the column matrix would cost about as much as the GEMM: stride 1, a
 * padded grid at most twice the output's width, few output channels and a short reduction (a
 * tile's inputs, K rows of 48 floats, stay in L1). Measured (1 thread, CPU time per forward):
 * LeNet c1 (K 25, M 6) 1.23 -> 0.88 ms at batch 256, c2 (K 150, M 16) 2.92 -> 1.93 ms; MobileNetV2's
 * 1x1 projections at batch 32: K 32 M 16 15.3 -> 13.6 ms, K 144 M 24 20.9 -> 17.0 ms, but K 192
 * M 32 6.8 -> 7.8 ms (hence K <= 160). NG_CONV_DIRECT=0 in the environment at ng_exec_new turns it
 * off (the im2col + GEMM path for every Conv; ng_opctx.conv_direct). NG_CONV_DIRECT_MAX_K: conv_impl.h. */
static int conv_use_direct(const ng_opctx *c, const conv_geom *o)
{
    return c->conv_direct && !o->depthwise && o->g.sh == 1 && o->g.sw == 1 && o->Wp <= 2 * o->g.OW &&
           o->K <= NG_CONV_DIRECT_MAX_K && o->Mg <= 32;
}

/* The pointwise kernel (pwconv.h) for inference 1x1 Convs (stride 1, no padding, group 1) of at
 * least 16 pixels: MobileNetV2's expansions and projections. NG_PWCONV=0 at ng_exec_new turns it
 * off (ng_opctx.pwconv). */
static int conv_use_pw(const ng_opctx *c, const conv_geom *o)
{
    return c->pwconv && !c->training && o->one_by_one && o->G == 1 && ng_pwconv_ok(o->OHW);
}

/* Winograd F(2x2, 3x3) (wconv.h) for inference 3x3 stride-1 Convs of group 1 with enough channels
 * for its 16 GEMMs (C x M of at least 16 x 16) and tiles. resnet18 at batch 1, 2 threads, ms per
 * Conv (32 forwards, loaded machine), im2col -> Winograd: layer1 (56x56, 784 tiles) 4.6 -> 2.5,
 * layer2 (28x28, 196 tiles) 3.6 -> 2.4, but layer3 (14x14, 49 tiles, 256 channels) 3.5 -> 4.0: its
 * transformed weights (16 x 256 x 256 floats, redone every forward) cost more than the 49 tiles
 * save. In training (where no Relu is fused) only with C * M >= NG_WINO_TRAIN_MIN_CM: batch 64,
 * 1 thread, ms per training forward (bench_conv_bwd, loaded machine), im2col -> Winograd: 32->32
 * 28x28 15.5 -> 11.4-14.0, 64->64 14x14 13.5 -> 7.9-10.2, 128->128 7x7 14.7 -> 12.1-12.4, but
 * 16->16 28x28 3.1 -> 3.3-4.0 (the transforms cost more than 16-channel GEMMs save). */
#define NG_WINO_MIN_TILES 64
/* An exec with const_params transforms the weights once (ng_opctx_wcache), and where its 16 GEMMs
 * run on the pointwise kernel (no packing of U per call; AVX2 or AVX-512) from 16 tiles on (the pointwise kernel's
 * least: resnet18's 7x7 layer4 at batch 1) Winograd wins: resnet18 batch 1, 1 thread, whole
 * forward 27.5 ms (transform per forward, OpenBLAS) -> 31.0 (cached, OpenBLAS: its skinny GEMMs)
 * -> 19.1 (cached, pointwise); batch 32 1.01 -> 0.73 s (OpenBLAS -> pointwise GEMMs). */
#define NG_WINO_MIN_TILES_CACHED 16
#define NG_WINO_TRAIN_MIN_CM 1024
/* ... and on outputs under 10x10 (7x7: 8x8 of tiles, 31% computed for nothing) only with C * M of at
 * least 8192: resnet-small's 64->64 7x7 ran 0.80-1.12x (forward 4.0 -> 4.3-4.6 ms), vgg-small's
 * 128->128 7x7 1.06-1.31x. */
static int conv_wino_train_ok(const conv_geom *o)
{
    const int64_t cm = o->C * o->M;
    return cm >= NG_WINO_TRAIN_MIN_CM && (o->g.OH * o->g.OW >= 100 || cm >= 8 * NG_WINO_TRAIN_MIN_CM);
}
static int conv_use_wino(const ng_opctx *c, const conv_geom *o)
{
    const ng_win2d *g = &o->g;
    return c->winograd && o->G == 1 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
           g->dh == 1 && g->dw == 1 && o->C >= 16 && o->M >= 16 && (!c->training || conv_wino_train_ok(o)) &&
           o->N * ((g->OH + 1) / 2) * ((g->OW + 1) / 2) >=
               (c->wcache && c->wino_pw && ng_pwconv_fast() ? NG_WINO_MIN_TILES_CACHED : NG_WINO_MIN_TILES);
}

/* The grid kernel (gconv.h) for inference 3x3 Convs of group 1 at batch 1: stride 1 with at most
 * NG_GCONV_MAXPIX output pixels, ahead of Winograd; stride 2 with at most NG_GCONV_MAXPIX_S2, ahead
 * of im2col + the pointwise kernel. resnet18 batch 1, 2 threads, ms per forward (NG_PROFILE,
 * alternating runs on one machine). Stride 1, the four 3x3 Convs of a stage: layer4 (7x7)
 * 4.1-5.1 with Winograd, 2.9-3.3 on the grid; layer3 (14x14) 3.0-3.6 / 2.8-3.2; layer2 (28x28)
 * 3.1-3.5 / 2.7-3.0; layer1 (56x56) 2.8-3.1 with Winograd, 3.3-3.6 on the grid (hence 784).
 * Stride 2, one Conv: layer4.0.conv1 (7x7) 0.54-0.67 on im2col, 0.42-0.56 on the grid;
 * layer3.0.conv1 (14x14) 0.55-0.65 / 0.47-0.57; layer2.0.conv1 (28x28) 0.46-0.50 on im2col,
 * 0.52-0.64 on the grid (hence 196). At batch 32 the grid reads the weights once per image and
 * loses (0.38-0.42 s per batch against Winograd's 0.32): batch 1 only. NG_GCONV=0 at ng_exec_new
 * turns it off. */
#define NG_GCONV_MAXPIX 784
#define NG_GCONV_MAXPIX_S2 196
static int conv_use_grid(const ng_opctx *c, const conv_geom *o, ng_gconv *q)
{
    const ng_win2d *g = &o->g;
    *q = (ng_gconv){ .N = o->N, .C = o->C, .H = o->H, .W = o->W, .M = o->M, .sh = g->sh, .pt = g->pt,
                     .pl = g->pl, .OH = g->OH, .OW = g->OW };
    return c->gconv && !c->training && o->G == 1 && g->kh == 3 && g->kw == 3 && g->sh == g->sw &&
           (g->sh == 1 || g->sh == 2) && g->dh == 1 && g->dw == 1 && o->N == 1 && o->C >= 16 && o->M >= 16 &&
           o->OHW <= (g->sh == 1 ? NG_GCONV_MAXPIX : NG_GCONV_MAXPIX_S2) && o->OHW >= 16 && ng_pwconv_fast() &&
           ng_gconv_ok(q);
}

/* Winograd for the data gradient of a training Conv (ng_wino_bwd_data): the same shapes as the
 * training forward's (3x3, stride 1, group 1, C and M of at least 16, conv_wino_train_ok, every pad
 * in [0, 2]: the caller's plan checks the pads), dX's tiles counted over H x W. dX = W^T dY through
 * col2im costs 9 C M MACs per pixel and a K x OHW column buffer; Winograd 4 C M per pixel plus its
 * transforms. Backward (dX, dW, dB) at batch 64, 1 thread, ms, col2im -> Winograd (bench_conv_bwd,
 * loaded machine): 32->32 28x28 32.4 -> 29-31, 64->64 14x14 27.5-31 -> 23-25, 128->128 7x7
 * 31.5-36 -> 27.5-29.7; 16->16 28x28 no gain (0.88-1.06x). Training only, and only where the exec
 * sets ng_opctx.winograd in training (NG_WINOGRAD_TRAIN=1: off by default, see exec.c). */
int ng_conv_use_wino_bwd(const ng_opctx *c, const conv_geom *o)
{
    const ng_win2d *g = &o->g;
    return c->winograd && c->training && o->G == 1 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
           g->dw == 1 && o->C >= 16 && o->M >= 16 && conv_wino_train_ok(o) && o->N * ((o->H + 1) / 2) * ((o->W + 1) / 2) >= NG_WINO_MIN_TILES;
}

/* Several images per GEMM (group 1, small outputs): the column matrices of nb images side by side
 * (K x nb*P, P = OHW or the padded grid's L), one GEMM Yb (M x nb*P) = W * col, then each image's
 * outputs (and bias) copied out of Yb. One GEMM with nb times the columns instead of nb narrow
 * ones: the weights are packed once per chunk, and the kernel runs on full-width panels. Work
 * item = a chunk of j->nb images. */
static void conv_fwd_batched(void *arg, int64_t i0, int64_t i1, int worker)
{
    const conv_job *j = arg;
    const conv_geom *o = &j->o;
    const int64_t P = o->wide ? o->L : o->OHW;
    for (int64_t it = i0; it < i1; it++) {
        const int64_t n0 = it * j->nb, cnt = n0 + j->nb <= o->N ? j->nb : o->N - n0, ld = cnt * P;
        float *col = j->scr[worker], *xpad = col + o->K * j->nb * P, *yb = xpad + o->padsz;
        for (int64_t i = 0; i < cnt; i++) {
            const float *xi = j->x + (n0 + i) * o->C * o->HW;
            if (o->wide) {
                ng_pad_planes(xi, o->C, o->H, o->W, o->g.pt, o->g.pl, o->Hp, o->Wp, o->g.dw * (o->g.kw - 1), xpad);
                ng_im2col_wide(xpad, o->C, o->Hp, o->Wp, o->g.kh, o->g.kw, o->g.dh, o->g.dw, o->L, col + i * P, ld);
            } else if (o->one_by_one) {
                for (int64_t ch = 0; ch < o->C; ch++)
                    memcpy(col + ch * ld + i * P, xi + ch * o->HW, sizeof(float) * (size_t)P);
            } else {
                ng_im2col(&o->g, xi, col + i * P, ld);
            }
        }
        if (j->pw && ng_pwconv_ok(ld)) {
            const ng_pwconv pa = { .N = 1, .M = o->M, .K = o->K, .P = ld, .x = col, .w = j->w, .y = yb };
            ng_pwconv_serial(&pa);
        } else {
            ng_par_sgemm(NULL, 0, 0, o->M, ld, o->K, 1.0f, j->w, o->K, col, ld, 0.0f, yb, ld);
        }
        for (int64_t i = 0; i < cnt; i++)
            for (int64_t m = 0; m < o->M; m++) {
                const float bv = j->b ? j->b[m] : 0.0f, *src = yb + m * ld + i * P;
                float *dst = j->y + ((n0 + i) * o->M + m) * o->OHW;
                const int64_t rows = o->wide ? o->g.OH : 1, cols = o->wide ? o->g.OW : o->OHW,
                              step = o->wide ? o->Wp : 0;
                for (int64_t r = 0; r < rows; r++, dst += cols, src += step)
                    copy_out(dst, src, cols, bv, j->relu, j->clip);
            }
    }
}

/* Images per GEMM: enough for about NG_CONV_COLS output columns per GEMM, while every worker still
 * gets a chunk; 1 (per-image GEMMs) for grouped convolutions and large outputs. */
#define NG_CONV_COLS 512
int64_t ng_conv_images_per_gemm(const conv_geom *o, int nw)
{
    const int64_t P = o->wide ? o->L : o->OHW;
    if (o->G != 1 || o->N < 2 || 2 * P > NG_CONV_COLS) return 1;
    int64_t chunks = (o->N * P + NG_CONV_COLS - 1) / NG_CONV_COLS;
    chunks = (chunks + nw - 1) / nw * nw;   /* a multiple of the workers */
    if (chunks > o->N) chunks = o->N;
    return (o->N + chunks - 1) / chunks;
}

/* y[0 .. n) clamped (a fused Clip after a kernel that cannot apply it per block), over the pool. */
typedef struct clamp_job { float *y; const float *clip; } clamp_job;
static void clamp_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const clamp_job *q = arg;
    (void)worker;
    ng_clamp(q->y + i0, i1 - i0, q->clip[0], q->clip[1]);
}
static void conv_clamp_all(ng_pool *p, float *y, int64_t n, const float *clip)
{
    clamp_job q = { y, clip };
    ng_pool_for(p, n, clamp_body, &q);
}

ng_status ng_conv_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    const ng_tensor *b = n->n_in > 2 ? in[2] : NULL;
    conv_job j;
    memset(&j, 0, sizeof j);
    ng_status st = ng_conv_check(n, &in[0]->s, &in[1]->s, b ? &b->s : NULL, &j.o);
    if (st != NG_OK) return st;
    int nw = ng_pool_size(c->pool);
    float *ptrs[NG_KERN_MAX_WORKERS];
    if (nw > NG_KERN_MAX_WORKERS)
        return ng_fail(NG_E_UNSUPPORTED, "node '%s' (Conv): %d workers, at most %d supported", NG_NODE_NAME(n), nw, NG_KERN_MAX_WORKERS);
    const float clip[2] = { c->clip_lo, c->clip_hi };
    j.clip = c->fuse_clip ? clip : NULL;
    if (j.o.depthwise) {
        ng_win2d dg = j.o.g;
        dg.C = j.o.C;   /* all channels (o.g is one group's window) */
        if (!ng_conv_scratch(c, (size_t)ng_dwconv_fwd_scratch(&dg), ptrs, nw))
            return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the padded planes", NG_NODE_NAME(n));
        ng_dwconv_fwd(c->pool, &dg, j.o.N, in[0]->data, in[1]->data, b ? b->data : NULL, c->fuse_relu,
                      c->fuse_clip ? clip : NULL, c->dwflat, out[0]->data, ptrs);
        return NG_OK;
    }
    j.relu = c->fuse_relu;
    j.x = in[0]->data; j.w = in[1]->data; j.b = b ? b->data : NULL; j.y = out[0]->data;
    /* The Add after it (the exec checked the shapes match), for the kernels that add it: the pointwise
     * kernel (1x1, and after im2col: ResNet's downsample), the grid and Winograd; the Relu after that
     * Add (res_relu) then comes after it. */
    const ng_tensor *r = c->fuse_res;
    const float *res = r && ng_shape_numel(&r->s) == ng_shape_numel(&out[0]->s) && r->data != j.y ? r->data : NULL;
    const int act = res ? (c->res_relu ? NG_PW_RELU : NG_PW_NONE)
                        : j.clip ? NG_PW_CLIP : j.relu ? NG_PW_RELU : NG_PW_NONE;
    j.act = act;
    if (conv_use_pw(c, &j.o)) {
        ng_pwconv a = { .N = j.o.N, .M = j.o.M, .K = j.o.K, .P = j.o.OHW, .x = j.x, .w = j.w, .b = j.b,
                        .res = res, .y = j.y, .act = act, .lo = clip[0], .hi = clip[1] };
        c->res_done = res != NULL;
        ng_pwconv_run(c->pool, &a);
        return NG_OK;
    }
    if (conv_use_direct(c, &j.o)) {
        ng_dconv16 q;
        const conv_geom *o = &j.o;
        const ng_dconv *d = &q.d;
        const int use16 = c->dconv16 &&
                          ng_dconv16_plan(&q, o->Mg, o->Cg, o->Hp, o->Wp, o->g.kh, o->g.kw, o->g.dh, o->g.dw, o->g.OH, o->g.OW);
        if (!use16) ng_dconv_plan(&q.d, o->Mg, o->Cg, o->Hp, o->Wp, o->g.kh, o->g.kw, o->g.dh, o->g.dw, o->g.OH);
        q.relu = j.relu;
        const int64_t plen = use16 ? ng_dconv16_packed_len(&q) : ng_dconv_packed_len(d);
        j.xlen = use16 ? ng_dconv16_xpad_len(&q) : ng_dconv_xpad_len(d);
        if (j.xlen < o->padsz) j.xlen = o->padsz;
        const int64_t ywlen = use16 ? 0 : d->Mp * d->Lr + d->Lr / 2 + 1;
        if (!ng_conv_scratch(c, (size_t)(o->G * plen + j.xlen + ywlen), ptrs, nw))
            return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the padded planes", NG_NODE_NAME(n));
        for (int64_t g = 0; g < o->G; g++) {
            const float *wg = j.w + g * o->Mg * o->K, *bg = j.b ? j.b + g * o->Mg : NULL;
            if (use16) ng_dconv16_pack(&q, wg, bg, ptrs[0] + g * plen);
            else ng_dconv_pack(d, wg, bg, ptrs[0] + g * plen);
        }
        j.dc = d; j.dc16 = use16 ? &q : NULL; j.wp = ptrs[0]; j.scr = ptrs;
        if (conv_pool_ok(c, o)) { j.yp = c->pool_out->data; c->pool_done = 1; }
        ng_pool_for(c->pool, o->N * o->G, conv_fwd_direct, &j);
        return NG_OK;
    }
    ng_gconv gq;
    if (conv_use_grid(c, &j.o, &gq)) {
        float *s = ng_opctx_scratch(c, 0, (size_t)ng_gconv_scratch(&gq));
        if (!s) return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the padded planes", NG_NODE_NAME(n));
        ng_gconv_run(c->pool, &gq, j.x, j.w, j.b, res, act, clip[0], clip[1], j.y, s);
        c->res_done = res != NULL;
        return NG_OK;
    }
    if (conv_use_wino(c, &j.o)) {
        const conv_geom *o = &j.o;
        ng_wino p;
        ng_wino_plan(&p, o->N, o->C, o->M, o->H, o->W, o->g.pt, o->g.pl, o->g.OH, o->g.OW, nw, 0);
        p.pw = p.pw && c->wino_pw;
        p.tr = p.tr && p.pw && c->wino_small;
        int fresh = 0;
        float *U = c->wcache ? ng_opctx_wcache(c, j.w, (size_t)(16 * o->M * o->C), p.tr, &fresh) : NULL;
        if (c->wcache && !U) return NG_E_NOMEM;
        float *s = ng_opctx_scratch(c, 0, (size_t)(U ? ng_wino_scratch_u(&p) : ng_wino_scratch(&p)));
        if (!s) return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the Winograd transforms", NG_NODE_NAME(n));
        if (U && fresh) ng_wino_weights(c->pool, &p, j.w, U);
        const int relu = act == NG_PW_RELU;   /* (with res: the Add's Relu, never a Clip) */
        if (U) ng_wino_fwd_u(c->pool, &p, j.x, U, j.b, res, relu, j.y, s);
        else ng_wino_fwd(c->pool, &p, j.x, j.w, j.b, res, relu, j.y, s);
        c->res_done = res != NULL;
        if (j.clip) conv_clamp_all(c->pool, j.y, o->N * o->M * o->OHW, j.clip);
        return NG_OK;
    }
    const int64_t rows = c->pwgemm && !c->training && j.o.G == 1 && !j.o.one_by_one ? conv_pwrows_rows(&j.o, nw) : 0;
    if (rows > 0) {
        /* ResNet's stem pool folded in (conv_pool.c): the blocks' rows even, kept in the scratch */
        const int pool3 = rows >= 2 && !j.clip && !res && c->pool_node && c->pool_out &&
                          ng_conv_pool3_ok(c->pool_node, &c->pool_out->s, j.o.N, j.o.M, j.o.g.OH, j.o.g.OW);
        conv_pwrows q = { .j = &j, .scr = ptrs, .R = pool3 ? rows / 2 * 2 : rows };
        q.nb = j.o.g.OH / q.R;
        const int64_t rmax = q.R + j.o.g.OH % q.R;
        q.ycol = j.o.K * rmax * j.o.g.OW;
        const int64_t per = q.ycol + (pool3 ? (j.o.M * rmax + 1) * j.o.g.OW : 0),
                      side = pool3 ? j.o.N * q.nb * j.o.M * (j.o.g.OW / 2) : 0;
        for (int w = 0; w < nw; w++)   /* worker 0's scratch also holds the sides */
            if (!(ptrs[w] = ng_opctx_scratch(c, w, (size_t)(per + (w ? 0 : side)))))
                return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the column blocks", NG_NODE_NAME(n));
        if (pool3) { q.pool = c->pool_out->data; q.side = ptrs[0] + per; }
        j.res = res;
        c->res_done = res != NULL;
        ng_pool_for(c->pool, j.o.N * q.nb, conv_pwrows_body, &q);
        if (pool3) {
            ng_pool_for(c->pool, j.o.N * j.o.M, conv_pool3_join_body, &q);
            c->pool_done = 1;
        }
        return NG_OK;
    }
    if (c->pwgemm && !c->training && j.o.N == 1 && j.o.G == 1 && !j.o.one_by_one && ng_pwconv_ok(j.o.OHW)) {
        float *col = ng_opctx_scratch(c, 0, (size_t)(j.o.K * j.o.OHW));
        if (!col) return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the column buffer", NG_NODE_NAME(n));
        j.res = res;
        c->res_done = res != NULL;
        conv_fwd_pwgemm(c->pool, &j, col);
        return NG_OK;
    }
    j.pw = c->pwgemm && c->training && ng_pwconv_fast();
    j.nb = ng_conv_images_per_gemm(&j.o, nw);
    size_t floats = j.o.one_by_one ? 1 : (size_t)(j.o.K * j.o.OHW);
    if (j.o.wide) floats = (size_t)(j.o.K * j.o.L + j.o.padsz + j.o.Mg * j.o.L);   /* conv_fwd_body's layout */
    if (j.nb > 1) {
        const int64_t P = j.o.wide ? j.o.L : j.o.OHW;
        floats = (size_t)(j.o.K * j.nb * P + j.o.padsz + j.o.M * j.nb * P);
    }
    if (!ng_conv_scratch(c, floats, ptrs, nw))
        return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the column buffer", NG_NODE_NAME(n));
    j.scr = ptrs;
    if (j.nb > 1) {
        ng_pool_for(c->pool, (j.o.N + j.nb - 1) / j.nb, conv_fwd_batched, &j);
        return NG_OK;
    }
    int64_t items = j.o.N * j.o.G;
    if (items == 1) conv_fwd_one(c->pool, &j, ptrs[0]);
    else ng_pool_for(c->pool, items, conv_fwd_body, &j);
    return NG_OK;
}
