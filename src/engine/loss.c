/* engine/loss.c - classification losses on logits (n x c), mean over the batch.
 *
 * All of them go through a numerically stable log-softmax:
 *     lse(z) = max(z) + log(sum_j exp(z_j - max(z))),   log p_j = z_j - lse(z).
 * Gradients written to dlogits are d(mean loss)/d(logits), i.e. already divided by n.
 * Sums are taken in double so a batch of thousands loses no precision.
 */
#include <math.h>
#include "nnguard/train.h"

/* log p_j of one row of logits into lp (c doubles). */
static void log_softmax_row(const float *z, int64_t c, double *lp)
{
    double mx = z[0];
    for (int64_t j = 1; j < c; j++) if (z[j] > mx) mx = z[j];
    double s = 0;
    for (int64_t j = 0; j < c; j++) s += exp((double)z[j] - mx);
    /* cppcheck-suppress invalidFunctionArg ; s >= 1: the max element contributes exp(0) (c >= 1, z[0] is read above) */
    double lse = mx + log(s);
    for (int64_t j = 0; j < c; j++) lp[j] = (double)z[j] - lse;
}

/* Rows are worked on in a stack buffer: at most this many classes (NaN beyond). */
#define NG_LOSS_MAX_STACK 1024

/* loss_i = -log p_{y_i};  d/dz_ij = (p_ij - [j == y_i]) / n */
float ng_loss_xent(const float *logits, const int32_t *labels, int64_t n, int64_t c, float *dlogits)
{
    if (n <= 0 || c <= 0 || c > NG_LOSS_MAX_STACK) return NAN;
    double lp[NG_LOSS_MAX_STACK], total = 0, inv_n = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * c;
        int32_t y = labels[i];
        log_softmax_row(z, c, lp);
        total += (y >= 0 && y < c) ? -lp[y] : NAN;
        if (dlogits)
            for (int64_t j = 0; j < c; j++)
                dlogits[i * c + j] = (float)((exp(lp[j]) - (j == y ? 1.0 : 0.0)) * inv_n);
    }
    return (float)(total * inv_n);
}

/* loss_i = -sum_j t_ij log p_ij;  d/dz_ij = (p_ij * sum_k t_ik - t_ij) / n
 * (equal to (p - t) / n when the targets sum to 1). */
float ng_loss_soft_xent(const float *logits, const float *targets, int64_t n, int64_t c, float *dlogits)
{
    if (n <= 0 || c <= 0 || c > NG_LOSS_MAX_STACK) return NAN;
    double lp[NG_LOSS_MAX_STACK], total = 0, inv_n = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        const float *t = targets + i * c;
        log_softmax_row(logits + i * c, c, lp);
        double ts = 0;
        for (int64_t j = 0; j < c; j++) { total -= t[j] * lp[j]; ts += t[j]; }
        if (dlogits)
            for (int64_t j = 0; j < c; j++)
                dlogits[i * c + j] = (float)((exp(lp[j]) * ts - t[j]) * inv_n);
    }
    return (float)(total * inv_n);
}

/* KL(t || p) = sum_j t_j (log t_j - log p_j), with 0 log 0 = 0; gradient as soft_xent. */
float ng_loss_kl(const float *logits, const float *targets, int64_t n, int64_t c, float *dlogits)
{
    float xent = ng_loss_soft_xent(logits, targets, n, c, dlogits);
    if (n <= 0 || c <= 0) return NAN;
    double h = 0;
    for (int64_t i = 0; i < n * c; i++)
        if (targets[i] > 0) h -= (double)targets[i] * log((double)targets[i]);
    return (float)((double)xent - h / (double)n);
}

/* H_i = -sum_j p_ij log p_ij;  dH_i/dz_ij = -p_ij (log p_ij + H_i).
 * dlogits receives d(mean H)/d(logits): the gradient of the returned value.
 * To maximise entropy with a minimiser, negate it (minimise -H). */
float ng_loss_entropy(const float *logits, int64_t n, int64_t c, float *dlogits)
{
    if (n <= 0 || c <= 0 || c > NG_LOSS_MAX_STACK) return NAN;
    double lp[NG_LOSS_MAX_STACK], total = 0, inv_n = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        log_softmax_row(logits + i * c, c, lp);
        double h = 0;
        for (int64_t j = 0; j < c; j++) h -= exp(lp[j]) * lp[j];
        total += h;
        if (dlogits)
            for (int64_t j = 0; j < c; j++)
                dlogits[i * c + j] = (float)(-exp(lp[j]) * (lp[j] + h) * inv_n);
    }
    return (float)(total * inv_n);
}
