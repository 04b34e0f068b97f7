/* engine/ops_conv_bwd.c - Conv backward (the forward and the formulas: ops_conv.c).
 *
 * Per image and group:  dW_g += dY_g * col^T,  dcol = W_g^T * dY_g then col2im into dX,
 * dB[m] += sum dY[m]. Where this CPU has AVX2 or AVX-512 (and NG_PWGEMM is not 0), dW's product
 * runs on abt.h's kernel and dcol's on the pointwise kernel (pwconv.h, with W^T built once per
 * call), not OpenBLAS: the OPENBLAS_CORETYPE a machine sets no longer picks training's kernels.
 * vgg-small, 6,000 images, 2 threads, nnguard train alternated with NG_PWGEMM=0: 591-624 ->
 * 879-904 img/s; resnet-small 703-735 -> 861-997. For 3x3 stride-1 Convs dX comes from Winograd
 * instead (ng_conv_use_wino_bwd, wconv.h: only with NG_WINOGRAD_TRAIN=1), or for few channels
 * from the direct kernel (conv_use_direct_bwd); depthwise convolutions from dwconv.h's. Work items (image, group) are split over the exec's workers; each
 * worker keeps its own dW/dB partial sums in its scratch, added up at the end (worker 0 adds
 * straight into din).
 */
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "engine/conv_impl.h"
#include "engine/dwconv.h"
#include "engine/wconv.h"
#include "engine/v16.h"
#include "engine/pwconv.h"
#include "engine/abt.h"

static void conv_bias_grad(const conv_geom *o, const float *dyg, float *db)
{
    for (int64_t m = 0; m < o->Mg; m++) {
        const float *r = dyg + m * o->OHW;
        float s = 0.0f;
        for (int64_t p = 0; p < o->OHW; p++) s += r[p];
        db[m] += s;
    }
}

/* t (cols x rows) = a (rows x cols)^T */
static void transpose(const float *a, int64_t rows, int64_t cols, float *t)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++) t[k * rows + r] = a[r * cols + k];
}

/* dcol (K x P, rows ldc apart) = W_g^T dY (Mg x P, rows ldy apart): the pointwise kernel on wt
 * (W_g^T, K x Mg, built by ng_conv_bwd) when the job has it, else OpenBLAS; pool: split inside (or NULL). */
static void conv_dcol(const conv_job *j, ng_pool *pool, const float *wg, const float *wtg, const float *dy,
                      int64_t ldy, int64_t P, float *dcol, int64_t ldc)
{
    const conv_geom *o = &j->o;
    if (wtg && ng_pwconv_ok(P)) {
        const ng_pwconv a = { .N = 1, .M = o->K, .K = o->Mg, .P = P, .x = dy, .ld = ldy, .w = wtg, .y = dcol, .ldy = ldc };
        if (pool) ng_pwconv_run(pool, &a);
        else ng_pwconv_serial(&a);
        return;
    }
    ng_par_sgemm(pool, 1, 0, o->K, P, o->Mg, 1.0f, wg, o->K, dy, ldy, 0.0f, dcol, ldc);
}

/* dW_g (Mg x K) += dY (Mg x P, rows ldy apart) col^T (K x P, rows ldc apart): abt.h's kernel when
 * the job takes it and the work is not split inside (pool NULL), else OpenBLAS. */
static void conv_dw(const conv_job *j, ng_pool *pool, const float *dy, int64_t ldy, const float *cm, int64_t ldc,
                    int64_t P, float *dwg)
{
    const conv_geom *o = &j->o;
    if (j->pw && !pool) {
        const ng_abt q = { .M = o->Mg, .N = o->K, .P = P, .a = dy, .lda = ldy, .b = cm, .ldb = ldc, .d = dwg, .ldd = o->K };
        ng_abt_serial(&q);
        return;
    }
    ng_par_sgemm(pool, 0, 1, o->Mg, o->K, P, 1.0f, dy, ldy, cm, ldc, 1.0f, dwg, o->K);
}

/* Backward of one (image, group) on the padded grid: dY is spread onto the grid (zeros in the
 * extra columns), dW += dY_grid * colw^T, and dX gets W^T * dY_grid put back through the grid. */
static void conv_bwd_wide(const conv_job *j, const float *xg, const float *dyg, const float *wg, const float *wtg,
                          float *dwg, float *dxg, float *col, float *dcol, float *xpad, float *dyw)
{
    const conv_geom *o = &j->o;
    const ng_win2d *g = &o->g;
    int64_t tail = g->dw * (g->kw - 1);
    for (int64_t m = 0; m < o->Mg; m++)
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const float *src = dyg + m * o->OHW + oh * g->OW;
            float *dst = dyw + m * o->L + oh * o->Wp;
            for (int64_t ow = 0; ow < g->OW; ow++) dst[ow] = src[ow];
            for (int64_t ow = g->OW; ow < o->Wp; ow++) dst[ow] = 0.0f;
        }
    if (dwg) {
        ng_pad_planes(xg, o->Cg, o->H, o->W, g->pt, g->pl, o->Hp, o->Wp, tail, xpad);
        ng_im2col_wide(xpad, o->Cg, o->Hp, o->Wp, g->kh, g->kw, g->dh, g->dw, o->L, col, o->L);
        conv_dw(j, j->inner, dyw, o->L, col, o->L, o->L, dwg);
    }
    if (dxg) {
        conv_dcol(j, j->inner, wg, wtg, dyw, o->L, o->L, dcol, o->L);
        memset(xpad, 0, sizeof(float) * (size_t)o->padsz);
        ng_col2im_wide_add(dcol, o->Cg, o->Hp, o->Wp, g->kh, g->kw, g->dh, g->dw, o->L, o->L, xpad);
        ng_unpad_planes_add(xpad, o->Cg, o->H, o->W, g->pt, g->pl, o->Hp, o->Wp, dxg);
    }
}

static void conv_bwd_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const conv_job *j = arg;
    const conv_geom *o = &j->o;
    size_t colsz = (size_t)(o->K * (o->wide ? o->L : o->OHW)), wsz = (size_t)(o->M * o->K);
    float *col = j->scr[worker], *dcol = col + colsz;
    float *xpad = dcol + colsz + wsz + (size_t)o->M, *dyw = xpad + o->padsz;   /* wide only */
    float *dw = j->dw, *db = j->db;
    if (worker != 0) {
        /* Other workers sum into their own scratch; worker 0 accumulates into din directly. */
        float *part = dcol + colsz;
        if (dw) { memset(part, 0, sizeof(float) * wsz); dw = part; }
        if (db) { memset(part + wsz, 0, sizeof(float) * (size_t)o->M); db = part + wsz; }
    }
    j->used[worker] = 1;
    for (int64_t it = i0; it < i1; it++) {
        int64_t n = it / o->G, g = it % o->G;
        const float *xg = j->x + (n * o->C + g * o->Cg) * o->HW;
        const float *dyg = j->dy + (n * o->M + g * o->Mg) * o->OHW;
        const float *wg = j->w + g * o->Mg * o->K, *wtg = j->wt ? j->wt + g * o->Mg * o->K : NULL;
        if (o->wide) {
            conv_bwd_wide(j, xg, dyg, wg, wtg, dw ? dw + g * o->Mg * o->K : NULL,
                          j->dx ? j->dx + (n * o->C + g * o->Cg) * o->HW : NULL, col, dcol, xpad, dyw);
            if (db) conv_bias_grad(o, dyg, db + g * o->Mg);
            continue;
        }
        if (dw) {
            const float *cm = xg;
            if (!o->one_by_one) { ng_im2col(&o->g, xg, col, o->OHW); cm = col; }
            conv_dw(j, j->inner, dyg, o->OHW, cm, o->OHW, o->OHW, dw + g * o->Mg * o->K);
        }
        if (db) conv_bias_grad(o, dyg, db + g * o->Mg);
        if (j->dx) {
            float *dxg = j->dx + (n * o->C + g * o->Cg) * o->HW;
            if (o->one_by_one) {
                ng_par_sgemm(j->inner, 1, 0, o->K, o->OHW, o->Mg, 1.0f, wg, o->K, dyg, o->OHW, 1.0f, dxg, o->OHW);
            } else {
                conv_dcol(j, j->inner, wg, wtg, dyg, o->OHW, o->OHW, dcol, o->OHW);
                ng_col2im_add(&o->g, dcol, dxg, o->OHW);
            }
        }
    }
}

/* Backward of a chunk of j->nb images (group 1, small outputs), the adjoint of conv_fwd_batched:
 * dY of the chunk side by side (on the padded grid when wide, zeros in its extra columns),
 * dW += dYb * colb^T in one GEMM, dcolb = W^T * dYb in one GEMM, then each image's columns put
 * back into its dX. Scratch: col, dcol (K x nb*P each), dW/dB partials, xpad, dYb (M x nb*P). */
static void conv_bwd_batched(void *arg, int64_t i0, int64_t i1, int worker)
{
    const conv_job *j = arg;
    const conv_geom *o = &j->o;
    const ng_win2d *g = &o->g;
    const int64_t P = o->wide ? o->L : o->OHW, tail = g->dw * (g->kw - 1);
    const size_t colsz = (size_t)(o->K * j->nb * P), wsz = (size_t)(o->M * o->K);
    float *col = j->scr[worker], *dcol = col + colsz, *part = dcol + colsz;
    float *xpad = part + wsz + (size_t)o->M, *dyb = xpad + o->padsz;
    float *dw = j->dw, *db = j->db;
    if (worker != 0) {
        if (dw) { memset(part, 0, sizeof(float) * wsz); dw = part; }
        if (db) { memset(part + wsz, 0, sizeof(float) * (size_t)o->M); db = part + wsz; }
    }
    j->used[worker] = 1;
    for (int64_t it = i0; it < i1; it++) {
        const int64_t n0 = it * j->nb, cnt = n0 + j->nb <= o->N ? j->nb : o->N - n0, ld = cnt * P;
        for (int64_t i = 0; i < cnt; i++) {
            const float *dyi = j->dy + (n0 + i) * o->M * o->OHW;
            if (db) conv_bias_grad(o, dyi, db);
            for (int64_t m = 0; m < o->M; m++) {
                float *dst = dyb + m * ld + i * P;
                if (!o->wide) { memcpy(dst, dyi + m * o->OHW, sizeof(float) * (size_t)P); continue; }
                for (int64_t oh = 0; oh < g->OH; oh++, dst += o->Wp) {
                    memcpy(dst, dyi + m * o->OHW + oh * g->OW, sizeof(float) * (size_t)g->OW);
                    memset(dst + g->OW, 0, sizeof(float) * (size_t)(o->Wp - g->OW));
                }
            }
            if (!dw) continue;
            const float *xi = j->x + (n0 + i) * o->C * o->HW;
            if (o->wide) {
                ng_pad_planes(xi, o->C, o->H, o->W, g->pt, g->pl, o->Hp, o->Wp, tail, xpad);
                ng_im2col_wide(xpad, o->C, o->Hp, o->Wp, g->kh, g->kw, g->dh, g->dw, o->L, col + i * P, ld);
            } else if (o->one_by_one) {
                for (int64_t ch = 0; ch < o->C; ch++)
                    memcpy(col + ch * ld + i * P, xi + ch * o->HW, sizeof(float) * (size_t)P);
            } else {
                ng_im2col(g, xi, col + i * P, ld);
            }
        }
        if (dw) conv_dw(j, NULL, dyb, ld, col, ld, ld, dw);
        if (!j->dx) continue;
        conv_dcol(j, NULL, j->w, j->wt, dyb, ld, ld, dcol, ld);
        for (int64_t i = 0; i < cnt; i++) {
            float *dxi = j->dx + (n0 + i) * o->C * o->HW;
            if (o->wide) {
                memset(xpad, 0, sizeof(float) * (size_t)o->padsz);
                ng_col2im_wide_add(dcol + i * P, o->C, o->Hp, o->Wp, g->kh, g->kw, g->dh, g->dw, o->L, ld, xpad);
                ng_unpad_planes_add(xpad, o->C, o->H, o->W, g->pt, g->pl, o->Hp, o->Wp, dxi);
            } else if (o->one_by_one) {
                for (int64_t ch = 0; ch < o->C; ch++) {
                    const float *src = dcol + ch * ld + i * P;
                    float *dst = dxi + ch * o->HW;
                    for (int64_t p = 0; p < P; p++) dst[p] += src[p];
                }
            } else {
                ng_col2im_add(g, dcol + i * P, dxi, ld);
            }
        }
    }
}

static ng_status conv_bwd_data_wino(ng_opctx *c, const ng_node *n, const ng_wino *wp, const conv_job *j, float *dx)
{
    float *s = ng_opctx_scratch(c, 0, (size_t)ng_wino_scratch(wp));
    if (!s) return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for Winograd backward buffers", NG_NODE_NAME(n));
    ng_wino_bwd_data(c->pool, wp, j->dy, j->w, dx, s);
    return NG_OK;
}

/* The data gradient through the direct kernel (dconv.h). With stride 1 and dilation 1, dX is the
 * stride-1 convolution of dY zero-padded by kh-1-pt rows on top and kw-1-pl columns on the left
 * onto a grid of (H + kh - 1) x (W + kw - 1), with the weights turned 180 degrees and their input
 * and output channels swapped:  W'[c, m, i, j] = W[m, c, kh-1-i, kw-1-j]  (every pad < the kernel).
 * Taken where that convolution suits the direct kernel by the forward's rule (M kh kw <=
 * NG_CONV_DIRECT_MAX_K taps, C <= 32 outputs): resnet-small's 16-channel 28x28 layers, whose dX
 * through W^T dY (a GEMM reducing over 16 channels, then col2im) cost twice their forward.
 * NG_CONV_DIRECT_BWD=0 at ng_exec_new turns it off (ng_opctx.conv_direct_bwd). */
static int conv_use_direct_bwd(const ng_opctx *c, const conv_geom *o)
{
    const ng_win2d *g = &o->g;
    const int64_t pb = o->Hp - o->H - g->pt, pr = o->Wp - o->W - g->pl;   /* stride 1: Hp = H + pt + pb */
    return c->conv_direct && c->conv_direct_bwd && !o->depthwise && o->G == 1 && !o->one_by_one &&
           g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->pt < g->kh && g->pl < g->kw &&
           pb >= 0 && pb < g->kh && pr >= 0 && pr < g->kw && o->M * g->kh * g->kw <= NG_CONV_DIRECT_MAX_K &&
           o->C <= 32 && o->W + g->kw - 1 <= 2 * o->W;
}

typedef struct dxd_job {
    const conv_geom *o;
    const ng_dconv16 *q;    /* the plan (q->d alone when !use16) */
    int use16;
    const float *wp, *dy;   /* packed W' (worker 0's scratch); dY */
    float *dx;
    float **scr;
    int64_t shared, Hq, Wq, xlen;   /* floats of W' + packing before each worker's part; the grid */
} dxd_job;

NG_KERN_CLONES static void add_into(float *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* Images [i0, i1): dY padded onto the grid, the direct kernel, its valid outputs added into dX. */
static void conv_dx_direct_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const dxd_job *j = arg;
    const conv_geom *o = j->o;
    const ng_win2d *g = &o->g;
    const int64_t tail = g->kw - 1, padsz = o->M * j->Hq * j->Wq + tail;
    float *xpad = j->scr[worker] + j->shared, *yw = xpad + j->xlen;
    for (int64_t n = i0; n < i1; n++) {
        ng_pad_planes(j->dy + n * o->M * o->OHW, o->M, g->OH, g->OW, g->kh - 1 - g->pt, g->kw - 1 - g->pl, j->Hq, j->Wq,
                      tail, xpad);
        memset(xpad + padsz, 0, sizeof(float) * (size_t)(j->xlen - padsz));
        float *dxn = j->dx + n * o->C * o->HW;
        if (j->use16) {
            ng_dconv16_run(j->q, j->wp, xpad, yw, NULL);
            add_into(dxn, yw, o->C * o->HW);
            continue;
        }
        const ng_dconv *d = &j->q->d;
        ng_dconv_run(d, j->wp, xpad, yw);
        for (int64_t ch = 0; ch < o->C; ch++)
            for (int64_t h = 0; h < o->H; h++)
                add_into(dxn + (ch * o->H + h) * o->W, yw + ch * d->Lr + h * j->Wq, o->W);
    }
}

static ng_status conv_bwd_data_direct(ng_opctx *c, const ng_node *n, const conv_job *cj, int nw)
{
    const conv_geom *o = &cj->o;
    const ng_win2d *g = &o->g;
    const int64_t kk = g->kh * g->kw, K2 = o->M * kk;
    dxd_job j = { .o = o, .dy = cj->dy, .dx = cj->dx, .Hq = o->H + g->kh - 1, .Wq = o->W + g->kw - 1 };
    ng_dconv16 q;
    memset(&q, 0, sizeof q);
    j.use16 = c->dconv16 && ng_dconv16_plan(&q, o->C, o->M, j.Hq, j.Wq, g->kh, g->kw, 1, 1, o->H, o->W);
    if (!j.use16) ng_dconv_plan(&q.d, o->C, o->M, j.Hq, j.Wq, g->kh, g->kw, 1, 1, o->H);
    q.relu = 0;
    const int64_t plen = j.use16 ? ng_dconv16_packed_len(&q) : ng_dconv_packed_len(&q.d);
    const int64_t padsz = o->M * j.Hq * j.Wq + g->kw - 1;
    j.xlen = j.use16 ? ng_dconv16_xpad_len(&q) : ng_dconv_xpad_len(&q.d);
    if (j.xlen < padsz) j.xlen = padsz;
    const int64_t ywlen = j.use16 ? o->C * o->HW : q.d.Mp * q.d.Lr;
    j.shared = o->C * K2 + plen;
    float *ptrs[NG_KERN_MAX_WORKERS];
    if (!ng_conv_scratch(c, (size_t)(j.shared + j.xlen + ywlen), ptrs, nw))
        return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for the data gradient's buffers", NG_NODE_NAME(n));
    float *wt = ptrs[0];
    for (int64_t m = 0; m < o->M; m++)
        for (int64_t ch = 0; ch < o->C; ch++)
            for (int64_t i = 0; i < g->kh; i++)
                for (int64_t jj = 0; jj < g->kw; jj++)
                    wt[(ch * o->M + m) * kk + (g->kh - 1 - i) * g->kw + (g->kw - 1 - jj)] =
                        cj->w[(m * o->C + ch) * kk + i * g->kw + jj];
    float *wp = ptrs[0] + o->C * K2;
    if (j.use16) ng_dconv16_pack(&q, wt, NULL, wp);
    else ng_dconv_pack(&q.d, wt, NULL, wp);
    j.q = &q; j.wp = wp; j.scr = ptrs;
    ng_pool_for(c->pool, o->N, conv_dx_direct_body, &j);
    return NG_OK;
}

ng_status ng_conv_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in,
                      const ng_tensor *const *out, const ng_tensor *const *dout, ng_tensor *const *din)
{
    const ng_tensor *b = n->n_in > 2 ? in[2] : NULL;
    conv_job j;
    memset(&j, 0, sizeof j);
    ng_status st = ng_conv_check(n, &in[0]->s, &in[1]->s, b ? &b->s : NULL, &j.o);
    if (st != NG_OK) return st;
    const conv_geom *o = &j.o;
    j.x = in[0]->data; j.w = in[1]->data; j.dy = dout[0]->data;
    j.dx = din[0] ? din[0]->data : NULL;
    j.dw = din[1] ? din[1]->data : NULL;
    j.db = (b && n->n_in > 2 && din[2]) ? din[2]->data : NULL;
    if (!j.dx && !j.dw && !j.db) return NG_OK;
    int nw = ng_pool_size(c->pool);
    if (nw > NG_KERN_MAX_WORKERS)
        return ng_fail(NG_E_UNSUPPORTED, "node '%s' (Conv): %d workers, at most %d supported", NG_NODE_NAME(n), nw, NG_KERN_MAX_WORKERS);
    float *ptrs[NG_KERN_MAX_WORKERS];
    int used[NG_KERN_MAX_WORKERS] = {0};
    if (o->depthwise) {
        ng_win2d dg = o->g;
        dg.C = o->C;
        if (!ng_conv_scratch(c, (size_t)ng_dwconv_bwd_scratch(&dg), ptrs, nw))
            return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for backward buffers", NG_NODE_NAME(n));
        ng_dwconv_bwd(c->pool, &dg, o->N, j.x, j.w, j.dy, j.dx, j.dw, j.db, ptrs);
        return NG_OK;
    }
    if (j.dx && conv_use_direct_bwd(c, o)) {
        st = conv_bwd_data_direct(c, n, &j, nw);
        if (st != NG_OK) return st;
        j.dx = NULL;
        if (!j.dw && !j.db) return NG_OK;
    }
    ng_wino wp;
    float *dx_wino = NULL;
    if (j.dx && ng_conv_use_wino_bwd(c, o) &&
        ng_wino_plan_bwd_data(&wp, o->N, o->C, o->M, o->H, o->W, o->g.pt, o->g.pl, o->g.OH, o->g.OW, nw, 0)) {
        wp.pw = wp.pw && c->wino_pw;
        wp.tr = wp.tr && wp.pw && c->wino_small;
        dx_wino = j.dx;   /* after dW and dB (which keep the GEMM path) */
        j.dx = NULL;
        if (!j.dw && !j.db) return conv_bwd_data_wino(c, n, &wp, &j, dx_wino);
    }
    j.nb = ng_conv_images_per_gemm(o, nw);
    const int64_t P = j.nb * (o->wide ? o->L : o->OHW);   /* columns per GEMM */
    size_t floats = (size_t)(2 * o->K * o->OHW + o->M * o->K + o->M);
    if (o->wide) floats = (size_t)(2 * o->K * o->L + o->M * o->K + o->M + o->padsz + o->Mg * o->L);
    if (j.nb > 1) floats = (size_t)(2 * o->K * P + o->M * o->K + o->M + o->padsz + o->M * P);
    /* W^T for the pointwise kernel (each group's K x Mg), after worker 0's part of the scratch */
    j.pw = c->pwgemm && ng_pwconv_fast() && ng_abt_fast();
    const int use_wt = j.dx && !o->one_by_one && j.pw;
    if (!ng_conv_scratch(c, floats, ptrs, nw) ||
        (use_wt && !(ptrs[0] = ng_opctx_scratch(c, 0, floats + (size_t)(o->M * o->K)))))
        return ng_fail(NG_E_NOMEM, "node '%s' (Conv): no memory for backward buffers", NG_NODE_NAME(n));
    if (use_wt) {
        float *wt = ptrs[0] + floats;
        for (int64_t g = 0; g < o->G; g++)
            transpose(j.w + g * o->Mg * o->K, o->Mg, o->K, wt + g * o->Mg * o->K);
        j.wt = wt;
    }
    j.scr = ptrs; j.used = used;
    int64_t items = o->N * o->G;
    if (j.nb > 1) ng_pool_for(c->pool, (o->N + j.nb - 1) / j.nb, conv_bwd_batched, &j);
    else if (items == 1) { j.inner = c->pool; conv_bwd_body(&j, 0, 1, 0); }
    else ng_pool_for(c->pool, items, conv_bwd_body, &j);
    /* Add the other workers' partial sums. */
    size_t colsz = (size_t)(o->K * (j.nb > 1 ? P : o->wide ? o->L : o->OHW)), wsz = (size_t)(o->M * o->K);
    for (int w = 1; w < nw; w++) {
        if (!used[w]) continue;
        const float *part = ptrs[w] + 2 * colsz;
        if (j.dw) for (size_t i = 0; i < wsz; i++) j.dw[i] += part[i];
        if (j.db) for (int64_t i = 0; i < o->M; i++) j.db[i] += part[wsz + (size_t)i];
    }
    return dx_wino ? conv_bwd_data_wino(c, n, &wp, &j, dx_wino) : NG_OK;
}
