/* engine/conv_pool.c - ResNet's stem pool (MaxPool 3x3, stride 2, pads 1) folded into a Conv that
 * computes its output in blocks of rows (ops_conv.c, conv_pwrows_body): each block pools the rows
 * it holds while they are in cache, so the Conv's full output (resnet18: 64 x 112 x 112, 3.2 MB at
 * batch 1) is never written to memory and read back by a MaxPool node.
 *
 * The window's maximum is separable: pooled (ph, pw) = max over rows 2ph-1 .. 2ph+1 of the row's
 * horizontal maximum over columns 2pw-1 .. 2pw+1 (index -1: the padding, which never wins; the
 * last pooled row and column end at OH - 1 and OW - 1, both even, so the far pads are never read).
 * A block of conv rows [r0, r1), r0 and r1 even, holds every row of pooled rows r0/2 + 1 .. r1/2 - 1
 * and two of the three rows of pooled row r0/2: that one also needs row r0 - 1, the last row of the
 * block before. So each block writes its pooled rows (the first one partial when r0 > 0) and the
 * horizontal maximum of its last row aside; ng_conv_pool3_join completes the partial rows once all
 * blocks are done. The same maxima as the MaxPool node (max is exact, any order).
 * resnet18, 2 threads, ms per forward (NG_PROFILE, alternated runs): batch 1, stem + MaxPool
 * 0.97-1.21 -> stem with the pool in it 0.83-0.86; batch 32, 32-40 -> 22-24 (the 100 MB of stem
 * output never written). The blocks' rows are made even (R 7 -> 6 for the stem). */
#include "engine/conv_impl.h"

int ng_conv_pool3_ok(const ng_node *pool, const ng_shape *ps, int64_t N, int64_t M, int64_t OH, int64_t OW)
{
    const ng_attrs *a = &pool->a;
    return a->kernel[0] == 3 && a->kernel[1] == 3 && a->stride[0] == 2 && a->stride[1] == 2 &&
           a->dilation[0] == 1 && a->dilation[1] == 1 && a->pad[0] == 1 && a->pad[1] == 1 && OH % 2 == 0 &&
           OW % 2 == 0 && OH >= 2 && OW >= 2 && ps->ndim == 4 && ps->d[0] == N && ps->d[1] == M &&
           ps->d[2] == OH / 2 && ps->d[3] == OW / 2;
}

/* h[pw] = max of row r over columns 2pw-1 .. 2pw+1 (in range), pw < OW / 2. */
static inline void hmax(const float *restrict r, int64_t OW2, float *restrict h)
{
    h[0] = r[0] > r[1] ? r[0] : r[1];
    for (int64_t pw = 1; pw < OW2; pw++) {
        const float a = r[2 * pw - 1], b = r[2 * pw], c = r[2 * pw + 1];
        const float m = a > b ? a : b;
        h[pw] = m > c ? m : c;
    }
}

NG_KERN_CLONES void ng_conv_pool3_block(const float *restrict yb, int64_t M, int64_t nr, int64_t OW, float *restrict py,
                                        int64_t pstride, float *restrict side, float *restrict tmp)
{
    const int64_t OW2 = OW / 2, P = nr * OW;
    for (int64_t m = 0; m < M; m++) {
        const float *ym = yb + m * P;
        float *pm = py + m * pstride;
        for (int64_t k = 0; k < nr / 2; k++) {   /* pooled row k of the block: local rows 2k-1 .. 2k+1 */
            const float *r1 = ym + 2 * k * OW, *r2 = r1 + OW;
            for (int64_t w = 0; w < OW; w++) tmp[w] = r1[w] > r2[w] ? r1[w] : r2[w];
            if (k > 0) {
                const float *r0 = r1 - OW;
                for (int64_t w = 0; w < OW; w++) tmp[w] = r0[w] > tmp[w] ? r0[w] : tmp[w];
            }
            hmax(tmp, OW2, pm + k * OW2);   /* k == 0 and not the first block: partial (join) */
        }
        if (side) hmax(ym + (nr - 1) * OW, OW2, side + m * OW2);
    }
}

NG_KERN_CLONES void ng_conv_pool3_join(float *restrict row, const float *restrict side, int64_t n)
{
    for (int64_t i = 0; i < n; i++) row[i] = side[i] > row[i] ? side[i] : row[i];
}
