/* engine/wsmall.c - Winograd's 16 GEMMs Z_k = U_k V_k for chunks of few tiles (wconv.h, ng_wino.tr):
 * resnet18's 7x7 layer4 has 16 tiles at batch 1. There the pointwise kernel (pixels along the
 * vector, weights broadcast) gets one vector of tiles per row and broadcasts eight weights for
 * every eight fused multiply-adds, reading U (16.7 MB at 512 x 512) in eight strided streams. This
 * kernel turns the roles round: output channels along the vector, tiles broadcast. U is laid out in
 * panels of 64 output channels (ng_wino_upack_at), each a contiguous C x 64 block read once from
 * memory and again from L2 for each group of 6 tiles; per input channel 4 vector loads and 6
 * broadcasts feed 24 fused multiply-adds held in registers (AVX-512: 24 of its 32). The sums run
 * over the channels in the same order as the pointwise kernel's, so both give the same bits. */
#include <string.h>
#include "engine/wconv.h"
#include "engine/kern.h"
#include "engine/v16.h"

/* Z rows [m0, m0 + 64) x tiles [t0, t0 + NT) of one GEMM: up is the panel, v = V_k + t0,
 * z = Z_k + m0 * Tb + t0. The results leave the registers one channel at a time (a tile's 16
 * channels are a column of Z): 64 x NT scalar stores against 64 x NT x C multiply-adds. */
static inline __attribute__((always_inline)) void
ws_tile(const int NT, const float *restrict up, const float *restrict v, int64_t C, int64_t Tb, float *restrict z)
{
    ng_v16 acc[4][6];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
        for (int t = 0; t < NT; t++) acc[i][t] = (ng_v16){0};
    for (int64_t c = 0; c < C; c++) {
        ng_v16 u[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) memcpy(&u[i], up + c * NG_WINO_PANEL + 16 * i, sizeof(ng_v16));
        const float *vc = v + c * Tb;
#pragma GCC unroll 6
        for (int t = 0; t < NT; t++) {
            const float b = vc[t];
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) acc[i][t] += u[i] * b;
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 6
        for (int t = 0; t < NT; t++) {   /* every index a constant: acc stays in registers */
            const ng_v16 a = acc[i][t];
            float o[16];
            memcpy(o, &a, sizeof o);
            for (int l = 0; l < 16; l++) z[(16 * i + l) * Tb + t] = o[l];
        }
}

NG_KERN_CLONES void ng_wino_small_gemms(const float *Up, const float *V, float *Z, int64_t M, int64_t C,
                                        int64_t k0, int64_t k1, int64_t tiles, int64_t Tb)
{
    for (int64_t k = k0; k < k1; k++) {
        const float *Uk = Up + k * M * C, *Vk = V + k * C * Tb;
        float *Zk = Z + k * M * Tb;
        for (int64_t m0 = 0; m0 < M; m0 += NG_WINO_PANEL) {
            const float *up = Uk + m0 * C;
            float *zm = Zk + m0 * Tb;
            int64_t t0 = 0;
            for (; t0 + 6 <= tiles; t0 += 6) ws_tile(6, up, Vk + t0, C, Tb, zm + t0);
            switch (tiles - t0) {
            case 5: ws_tile(5, up, Vk + t0, C, Tb, zm + t0); break;
            case 4: ws_tile(4, up, Vk + t0, C, Tb, zm + t0); break;
            case 3: ws_tile(3, up, Vk + t0, C, Tb, zm + t0); break;
            case 2: ws_tile(2, up, Vk + t0, C, Tb, zm + t0); break;
            case 1: ws_tile(1, up, Vk + t0, C, Tb, zm + t0); break;
            default: break;
            }
        }
    }
}
