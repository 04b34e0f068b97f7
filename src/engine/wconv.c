/* engine/wconv.c - Winograd F(2x2, 3x3) convolution forward (see wconv.h). */
#include <string.h>
#include "engine/wconv.h"
#include "engine/kern.h"
#include "engine/pwconv.h"

/* V and Z of one chunk (16 x (C + M) x tiles floats) are kept about WINO_CHUNK_BYTES, so each
 * worker's chunk stays near its cache; each chunk reads all of U again. Where that leaves fewer than
 * two chunks per worker (batch 1 from 28x28 down), the chunks run shared, with a barrier per phase
 * and U read per chunk, so they are made as few as WINO_SHARED_BYTES allows. resnet18, 2 threads,
 * pointwise GEMMs, ms per Conv (NG_PROFILE, 2026-12-05): batch 1 layer1 (64->64 56x56) 0.80-0.84 at
 * 8 MB -> 0.59-0.61 at 2 MB (4 own chunks), layer2 (128 28x28) 0.72 at 4-8 MB against 0.80 at 2 MB
 * (two shared chunks), layer3/4 one chunk either way; batch 32 layer3 (256 14x14) 18.2-19.1 -> 13.6-
 * 14.8, layer2 17-20 -> 16.3, layer1 and layer4 the same. Before the GEMMs ran on the pointwise
 * kernel (OpenBLAS packing U per chunk), 8 MB was best for batch 32. */
#define WINO_CHUNK_BYTES (2 << 20)
#define WINO_SHARED_BYTES (8 << 20)

/* A chunk's V_k lie C x Tb floats apart, and wino_input writes a tile to all 16 of them. Where that
 * distance is a multiple of 2 KB, the 16 streams fall in one or two L1 sets (64 sets of 8 or 12 ways
 * on today's x86 cores) and the stores keep evicting each other: resnet18's layer4 at batch 1 (512
 * channels, 16 tiles) is exactly 32 KB. There (and where a channel's 16 x Tb values fit
 * WINO_CBUF_FLOATS) wino_input gathers a channel in the worker's temp and then writes each V_k's row
 * in one piece (ng_wino.cb). One thread, resnet18 batch 1, layer4's Convs 7.3-7.6 -> 7.0-7.2 ms per
 * forward; where the distance is not such a multiple (layers 1-3), the extra copy cost 5-8%, so it
 * stays off there. */
#define WINO_CBUF_FLOATS 4096

void ng_wino_plan(ng_wino *p, int64_t N, int64_t C, int64_t M, int64_t H, int64_t W, int64_t pt, int64_t pl,
                  int64_t OH, int64_t OW, int nw, int64_t chunk_bytes)
{
    memset(p, 0, sizeof *p);
    p->N = N; p->C = C; p->M = M; p->H = H; p->W = W; p->pt = pt; p->pl = pl; p->OH = OH; p->OW = OW;
    p->th = (OH + 1) / 2; p->tw = (OW + 1) / 2;
    p->nw = nw < 1 ? 1 : nw;
    const int64_t R = N * p->th, per_row = 16 * (C + M) * p->tw * (int64_t)sizeof(float);
    int64_t rows = (chunk_bytes > 0 ? chunk_bytes : WINO_CHUNK_BYTES) / per_row;
    if (rows < 1) rows = 1;
    if (rows > R) rows = R;
    int64_t nch = (R + rows - 1) / rows;
    if (chunk_bytes <= 0 && p->nw > 1 && nch < 2 * p->nw) {   /* shared chunks: as few as fit */
        rows = WINO_SHARED_BYTES / per_row;
        if (rows < 1) rows = 1;
        if (rows > R) rows = R;
        nch = (R + rows - 1) / rows;
    }
    p->own = p->nw == 1 || nch >= 2 * p->nw;
    if (p->own && p->nw > 1) {   /* a multiple of the workers, so they finish together */
        nch = (nch + p->nw - 1) / p->nw * p->nw;
        rows = (R + nch - 1) / nch;
        nch = (R + rows - 1) / rows;
    }
    p->rows = rows;
    p->nchunks = nch;
    p->pw = ng_pwconv_fast();
    p->tr = p->pw && M % NG_WINO_PANEL == 0 && rows * p->tw < NG_WINO_SMALL_TILES;
    p->cb = 16 * rows * p->tw <= WINO_CBUF_FLOATS && (C * rows * p->tw * (int64_t)sizeof(float)) % 2048 == 0;
}

static int64_t wino_wq(const ng_wino *p) { return 2 * p->tw + 2; }   /* padded row width */

static int64_t wino_tmplen(const ng_wino *p) { return 4 * wino_wq(p) + (p->cb ? 16 * p->rows * p->tw : 0); }

/* Layout of the scratch: U (16 x M x C; not there when the caller holds it), a zero row (W), per
 * buffer set V (16 x C x Tb) and Z (16 x M x Tb), per worker a temp of 4 rows of Wq (and with cb a
 * channel's 16 x Tb values). */
typedef struct wino_bufs { float *U, *zero, *sets, *tmps; int64_t Tb, setlen, tmplen; } wino_bufs;

static wino_bufs wino_layout(const ng_wino *p, float *scr, const float *U)
{
    wino_bufs b;
    b.Tb = p->rows * p->tw;
    b.setlen = 16 * (p->C + p->M) * b.Tb;
    b.tmplen = wino_tmplen(p);
    b.U = U ? (float *)U : scr;   /* read only when the caller's */
    b.zero = U ? scr : b.U + 16 * p->M * p->C;
    b.sets = b.zero + p->W;
    b.tmps = b.sets + (p->own ? p->nw : 1) * b.setlen;
    return b;
}

int64_t ng_wino_scratch(const ng_wino *p)
{
    return 16 * p->M * p->C + ng_wino_scratch_u(p);
}

int64_t ng_wino_scratch_u(const ng_wino *p)
{
    const int64_t Tb = p->rows * p->tw;
    return p->W + (p->own ? p->nw : 1) * 16 * (p->C + p->M) * Tb + p->nw * wino_tmplen(p);
}

/* U_k[m][c] = (G g G^T)[k / 4][k % 4] for the 3x3 kernel g = w[m][c]. */
NG_KERN_CLONES static void wino_weights(const float *restrict w, int64_t M, int64_t C, int64_t m0, int64_t m1,
                                        int flip, int panels, float *restrict U)
{
    const int64_t MC = M * C;
    for (int64_t m = m0; m < m1; m++)
        for (int64_t c = 0; c < C; c++) {
            float gf[9];
            const float *g = w + (m * C + c) * 9;
            if (flip) {   /* the data gradient's kernel: w[c][m] turned 180 degrees */
                const float *s = w + (c * M + m) * 9;
                for (int t = 0; t < 9; t++) gf[t] = s[8 - t];
                g = gf;
            }
            float a[4][3];
            for (int j = 0; j < 3; j++) {
                a[0][j] = g[j];
                a[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                a[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                a[3][j] = g[6 + j];
            }
            float *u = U + (panels ? (m - m % NG_WINO_PANEL) * C + c * NG_WINO_PANEL + m % NG_WINO_PANEL : m * C + c);
            for (int i = 0; i < 4; i++) {
                u[(4 * i + 0) * MC] = a[i][0];
                u[(4 * i + 1) * MC] = 0.5f * (a[i][0] + a[i][1] + a[i][2]);
                u[(4 * i + 2) * MC] = 0.5f * (a[i][0] - a[i][1] + a[i][2]);
                u[(4 * i + 3) * MC] = a[i][2];
            }
        }
}

/* V_k[c][t] = (B^T d B)[k / 4][k % 4] for channels [c0, c1) and the tiles of tile rows [r0, r1)
 * (tile t = (r - r0) * tw + tx). The four input rows of a tile row are first combined down the
 * columns (B^T d, over the whole zero-padded row width), then along each tile's four columns. */
NG_KERN_CLONES static void wino_input(const ng_wino *restrict p, const float *restrict x, int64_t c0, int64_t c1,
                                      int64_t r0, int64_t r1, int64_t Tb, const float *restrict zero,
                                      float *restrict tmp, float *restrict V)
{
    const int64_t Wq = wino_wq(p), tw = p->tw, W = p->W, pl = p->pl, CT = p->C * Tb, nt = (r1 - r0) * tw;
    float *t0 = tmp, *t1 = t0 + Wq, *t2 = t1 + Wq, *t3 = t2 + Wq, *cb = p->cb ? t3 + Wq : NULL;
    const int64_t kst = cb ? nt : CT;   /* floats between a tile's V_k and V_k+1 where it is written */
    for (int64_t k = 0; k < 4 * Wq; k++) tmp[k] = 0.0f;   /* the padding columns stay 0 */
    for (int64_t c = c0; c < c1; c++) {
        for (int64_t r = r0; r < r1; r++) {
            const int64_t n = r / p->th, ty = r % p->th;
            const float *d[4];
            for (int k = 0; k < 4; k++) {
                const int64_t ih = 2 * ty - p->pt + k;
                d[k] = ih >= 0 && ih < p->H ? x + ((n * p->C + c) * p->H + ih) * W : zero;
            }
            const float *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3];
            for (int64_t i = 0; i < W; i++) {
                t0[pl + i] = d0[i] - d2[i];
                t1[pl + i] = d1[i] + d2[i];
                t2[pl + i] = d2[i] - d1[i];
                t3[pl + i] = d1[i] - d3[i];
            }
            float *v = (cb ? cb : V + c * Tb) + (r - r0) * tw;
            const float *rows[4] = { t0, t1, t2, t3 };
            for (int i = 0; i < 4; i++) {
                const float *s = rows[i];
                float *v0 = v + (4 * i) * kst, *v1 = v0 + kst, *v2 = v1 + kst, *v3 = v2 + kst;
                for (int64_t tx = 0; tx < tw; tx++) {
                    const float a0 = s[2 * tx], a1 = s[2 * tx + 1], a2 = s[2 * tx + 2], a3 = s[2 * tx + 3];
                    v0[tx] = a0 - a2;
                    v1[tx] = a1 + a2;
                    v2[tx] = a2 - a1;
                    v3[tx] = a1 - a3;
                }
            }
        }
        if (cb)
            for (int k = 0; k < 16; k++) memcpy(V + k * CT + c * Tb, cb + k * nt, sizeof(float) * (size_t)nt);
    }
}

/* y tiles of output channels [m0, m1), tile rows [r0, r1) = A^T Z A (+ bias, + res when given (a folded
 * Add's other input, shaped as y), then Relu; or added to y when relu is WINO_ADD): two output rows at a
 * time into tmp, then their OW valid columns out. */
#define WINO_ADD 2
NG_KERN_CLONES static void wino_output(const ng_wino *restrict p, const float *restrict Z, const float *restrict b,
                                       const float *restrict res, int relu, int64_t m0, int64_t m1, int64_t r0,
                                       int64_t r1, int64_t Tb, float *restrict tmp, float *restrict y)
{
    const int64_t tw = p->tw, MT = p->M * Tb, OW = p->OW;
    float *o0 = tmp, *o1 = tmp + 2 * tw;
    for (int64_t m = m0; m < m1; m++) {
        const float bv = b ? b[m] : 0.0f;
        for (int64_t r = r0; r < r1; r++) {
            const int64_t n = r / p->th, ty = r % p->th;
            const float *z = Z + m * Tb + (r - r0) * tw;
            for (int64_t tx = 0; tx < tw; tx++) {
                float s0[4], s1[4];
                for (int j = 0; j < 4; j++) {
                    const float q0 = z[j * MT + tx], q1 = z[(4 + j) * MT + tx], q2 = z[(8 + j) * MT + tx],
                                q3 = z[(12 + j) * MT + tx];
                    s0[j] = q0 + q1 + q2;
                    s1[j] = q1 - q2 - q3;
                }
                o0[2 * tx] = s0[0] + s0[1] + s0[2];
                o0[2 * tx + 1] = s0[1] - s0[2] - s0[3];
                o1[2 * tx] = s1[0] + s1[1] + s1[2];
                o1[2 * tx + 1] = s1[1] - s1[2] - s1[3];
            }
            for (int k = 0; k < 2; k++) {
                const int64_t oh = 2 * ty + k;
                if (oh >= p->OH) break;
                const float *src = k ? o1 : o0;
                float *dst = y + ((n * p->M + m) * p->OH + oh) * OW;
                if (res) {   /* (conv + bias) + res, rounded as the Add node would */
                    const float *rr = res + ((n * p->M + m) * p->OH + oh) * OW;
                    if (relu)
                        for (int64_t i = 0; i < OW; i++) { float v = (src[i] + bv) + rr[i]; dst[i] = v > 0.0f ? v : 0.0f; }
                    else
                        for (int64_t i = 0; i < OW; i++) dst[i] = (src[i] + bv) + rr[i];
                } else if (relu == WINO_ADD) {
                    for (int64_t i = 0; i < OW; i++) dst[i] += src[i];
                } else if (relu) {
                    for (int64_t i = 0; i < OW; i++) { float v = src[i] + bv; dst[i] = v > 0.0f ? v : 0.0f; }
                } else {
                    for (int64_t i = 0; i < OW; i++) dst[i] = src[i] + bv;
                }
            }
        }
    }
}

static void wino_gemms(const ng_wino *p, const float *U, const float *V, float *Z, int64_t k0, int64_t k1,
                       int64_t tiles, int64_t Tb)
{
    if (p->pw && p->tr) {
        ng_wino_small_gemms(U, V, Z, p->M, p->C, k0, k1, tiles, Tb);
        return;
    }
    if (p->pw && ng_pwconv_ok(tiles)) {   /* Z_k = U_k V_k as k1 - k0 "images" of the pointwise kernel */
        const ng_pwconv a = { .N = k1 - k0, .M = p->M, .K = p->C, .P = tiles, .ld = Tb, .x = V + k0 * p->C * Tb,
                              .w = U + k0 * p->M * p->C, .wstep = p->M * p->C, .y = Z + k0 * p->M * Tb };
        ng_pwconv_serial(&a);
        return;
    }
    for (int64_t k = k0; k < k1; k++)
        ng_par_sgemm(NULL, 0, 0, p->M, tiles, p->C, 1.0f, U + k * p->M * p->C, p->C, V + k * p->C * Tb, Tb,
                     0.0f, Z + k * p->M * Tb, Tb);
}

typedef struct wino_job {
    const ng_wino *p;
    const float *x, *w, *b, *res;
    float *y;
    int relu;       /* 1: Relu, WINO_ADD: add into y */
    int flip;       /* weights of the data gradient (ng_wino_bwd_data) */
    wino_bufs bf;
    int64_t r0, r1;   /* the chunk of the shared phases */
} wino_job;

static void wt_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)worker;
    const wino_job *j = arg;
    wino_weights(j->w, j->p->M, j->p->C, i0, i1, j->flip, j->p->pw && j->p->tr, j->bf.U);
}

/* Each worker: its chunks end to end, with its own V and Z. */
static void own_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const wino_job *j = arg;
    const ng_wino *p = j->p;
    const wino_bufs *bf = &j->bf;
    float *V = bf->sets + worker * bf->setlen, *Z = V + 16 * p->C * bf->Tb, *tmp = bf->tmps + worker * bf->tmplen;
    const int64_t R = p->N * p->th;
    for (int64_t ch = i0; ch < i1; ch++) {
        const int64_t r0 = ch * p->rows, r1 = r0 + p->rows < R ? r0 + p->rows : R;
        if (r0 >= r1) break;
        wino_input(p, j->x, 0, p->C, r0, r1, bf->Tb, bf->zero, tmp, V);
        wino_gemms(p, bf->U, V, Z, 0, 16, (r1 - r0) * p->tw, bf->Tb);
        wino_output(p, Z, j->b, j->res, j->relu, 0, p->M, r0, r1, bf->Tb, tmp, j->y);
    }
}

static void in_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const wino_job *j = arg;
    const wino_bufs *bf = &j->bf;
    wino_input(j->p, j->x, i0, i1, j->r0, j->r1, bf->Tb, bf->zero, bf->tmps + worker * bf->tmplen, bf->sets);
}

static void gemm_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)worker;
    const wino_job *j = arg;
    const wino_bufs *bf = &j->bf;
    wino_gemms(j->p, bf->U, bf->sets, bf->sets + 16 * j->p->C * bf->Tb, i0, i1, (j->r1 - j->r0) * j->p->tw, bf->Tb);
}

static void out_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const wino_job *j = arg;
    const wino_bufs *bf = &j->bf;
    wino_output(j->p, bf->sets + 16 * j->p->C * bf->Tb, j->b, j->res, j->relu, i0, i1, j->r0, j->r1, bf->Tb,
                bf->tmps + worker * bf->tmplen, j->y);
}

static void wino_run(ng_pool *pool, const ng_wino *p, const float *x, const float *w, const float *U,
                     const float *b, const float *res, int relu, int flip, float *y, float *scr)
{
    wino_job j = { .p = p, .x = x, .w = w, .b = b, .res = res, .y = y, .relu = relu, .flip = flip,
                   .bf = wino_layout(p, scr, U) };
    memset(j.bf.zero, 0, sizeof(float) * (size_t)p->W);
    if (!U) ng_pool_for(pool, p->M, wt_body, &j);
    if (p->own) { ng_pool_for(pool, p->nchunks, own_body, &j); return; }
    const int64_t R = p->N * p->th;
    for (int64_t ch = 0; ch < p->nchunks; ch++) {
        j.r0 = ch * p->rows;
        j.r1 = j.r0 + p->rows < R ? j.r0 + p->rows : R;
        ng_pool_for(pool, p->C, in_body, &j);
        ng_pool_for(pool, 16, gemm_body, &j);
        ng_pool_for(pool, p->M, out_body, &j);
    }
}

void ng_wino_fwd(ng_pool *pool, const ng_wino *p, const float *x, const float *w, const float *b,
                 const float *res, int relu, float *y, float *scr)
{
    wino_run(pool, p, x, w, NULL, b, res, relu ? 1 : 0, 0, y, scr);
}

void ng_wino_weights(ng_pool *pool, const ng_wino *p, const float *w, float *U)
{
    wino_job j = { .p = p, .w = w };
    j.bf.U = U;
    ng_pool_for(pool, p->M, wt_body, &j);
}

void ng_wino_fwd_u(ng_pool *pool, const ng_wino *p, const float *x, const float *U, const float *b,
                   const float *res, int relu, float *y, float *scr)
{
    wino_run(pool, p, x, NULL, U, b, res, relu ? 1 : 0, 0, y, scr);
}

/* dX[n, c, h, w] = sum_{m, i, j} dY[n, m, h + pt - i, w + pl - j] * W[m, c, i, j]: with i' = 2 - i,
 * j' = 2 - j, the forward convolution of dY (M channels, OH x OW) with the kernel W'[c, m, i', j'] =
 * W[m, c, 2 - i', 2 - j'] and padding 2 - pt, 2 - pl, giving H x W. Rows beyond dY read the zero
 * row; columns beyond it the zero padding of the transform's row buffer (wino_input): a dY row lands
 * at columns [2 - pl, W + pr) of a buffer 2 * ceil(W / 2) + 2 >= W + 2 wide, so every pad in [0, 2]. */
int ng_wino_plan_bwd_data(ng_wino *p, int64_t N, int64_t C, int64_t M, int64_t H, int64_t W, int64_t pt,
                          int64_t pl, int64_t OH, int64_t OW, int nw, int64_t chunk_bytes)
{
    const int64_t pb = OH + 2 - H - pt, pr = OW + 2 - W - pl;
    if (pt < 0 || pt > 2 || pl < 0 || pl > 2 || pb < 0 || pb > 2 || pr < 0 || pr > 2 || OH < 1 || OW < 1) return 0;
    ng_wino_plan(p, N, M, C, OH, OW, 2 - pt, 2 - pl, H, W, nw, chunk_bytes);
    return 1;
}

void ng_wino_bwd_data(ng_pool *pool, const ng_wino *p, const float *dy, const float *w, float *dx, float *scr)
{
    wino_run(pool, p, dy, w, NULL, NULL, NULL, WINO_ADD, 1, dx, scr);
}
