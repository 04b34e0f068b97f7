/* nnguard/dynamarks.h - DynaMarks: watermarking a prediction API, and ownership verification.
 *
 * SCHEMES.md section 4. The model is untouched: the API changes its answers by a 256-bit
 * secret (a key file as `nnguard keygen` writes it, nnguard/keys.h), and a surrogate trained
 * on those answers (model extraction) inherits a mark the owner can test for.
 *
 *     ng_wm *wm;
 *     ng_wm_options o = ng_wm_options_default();          // soft, strength [0.3, 0.6]
 *     ng_wm_new(&key, 10, &o, &wm);  ng_key_wipe(&key);
 *     ng_wm_answer a;
 *     ng_wm_apply(wm, x, 784, probs, &a);                 // probs rewritten in place (one call
 *                                                         // = ng_wm_hash + ng_wm_apply_hash)
 *     ...
 *     ng_wm_soft_verify(wm, suspect_probs, owner_probs, n, &res);   // res.p_value
 *
 * ---- Derivations (byte-exact; K = the 32 key bytes) ----------------------------------------
 * PRF(k, m)      = BLAKE2b-64 keyed with the 32-byte k over message m (crypto_generichash,
 *                  outlen 8), read as a little-endian u64.
 * Subkeys        K_x = crypto_kdf_derive_from_key(32 bytes, id, "ngdynmk1", K) (BLAKE2b-256 keyed
 *                  with K, salt = id as LE u64, personal = context): id 1 ranking (K_rank),
 *                  7 the NH key (K_nh), 8 the input hash (K_fin). (Ids 2-6 belonged to the
 *                  first definition, below; never reuse them.)
 * NH key         k_nh = 1036 little-endian u32 words: the first 4,144 bytes of the ChaCha20 (IETF)
 *                keystream under K_nh, nonce "ngdynmk-nh01", counter 0.
 * Input hash     h(x) = BLAKE2b-512 keyed with K_fin over NH(x_0) | ... | NH(x_{c-1}) | LE64(n):
 *                the n float32 values as their IEEE-754 bit patterns (u32 words) in chunks x_i of
 *                1,024 words (the last one shorter, zero-padded to a multiple of 8 words), and
 *                NH(x_i) the four NH-Toeplitz values of the chunk under k_nh as LE u64 (definition
 *                in src/protect/dynamarks/nh.h: NH_j = sum over pairs of (m_2i + k_{2i+4j} mod 2^32)
 *                (m_2i+1 + k_{2i+1+4j} mod 2^32) mod 2^64, j = 0..3). A PRF of x under K: two inputs
 *                of one length collide in every chunk's NH with probability <= 2^-128 (NH-Toeplitz
 *                is 2^-128-almost-universal on equal-length strings; inputs of other lengths differ
 *                in LE64(n)); NH's values never leave the keyed BLAKE2b; so over q inputs h is a
 *                keyed BLAKE2b of distinct messages except with probability q^2 2^-129 (the UMAC /
 *                Carter-Wegman composition: universal hash, then PRF). One vector multiply-add
 *                pass and one BLAKE2b compression per 28x28 answer, where the first definition
 *                took a GMAC and two BLAKE2b compressions (bench/bench_wm.c).
 *                Bytes 0-31 of h(x) are the input digest d(x) (label-mode logs record it); the
 *                draws below are the later bytes, which d(x) says nothing about.
 * Draws          u_str = LE64(h[32..40)), u_sel = LE64(h[40..48)), u_lab = LE64(h[48..56)).
 * unit(u)        = (u >> 11) * 2^-53, a double in [0, 1).
 * Ranking        for predicted class c, every other class j gets s_j = PRF(K_rank, LE32(c) | LE32(j));
 *                the secret ranking lists the other classes by s_j ascending (ties: smaller j first);
 *                position 0 is the most favoured. It depends on (K, c) only - never on the input:
 *                a surrogate can learn it for inputs it never saw.
 * soft mode      a = a_min + (a_max - a_min) * unit(u_str) (the "dynamic" strength).
 *                With t = the first argmax of p, R = 1 - p_t, m = C - 1 and q_r = 2(m - r) / (m(m+1))
 *                for the class at ranking position r: p'_j = (1 - a) p_j + a R q_r (in double),
 *                p'_t = p_t. The sum is unchanged. a is lowered per answer to
 *                a* = min_j (p_t - p_j) / (R q_r - p_j) over the j with R q_r > p_j, times 0.999,
 *                so every p'_j stays below p_t; and if after rounding to float any p'_j >= p'_t,
 *                the answer is returned unchanged. The top-1 label never changes.
 * label mode     selected when unit(u_sel) < r; the answer then becomes the class
 *                (t + 1 + (u_lab mod (C - 1))) mod C (bias < 2^-58), given with
 *                probability 1 (one-hot). Unselected answers: one-hot of t. Deterministic per input.
 * First definition (until 2026-12-03; the same rankings, other digests, strengths and selections):
 *                d(x) = BLAKE2b-256 keyed with K_6 over (GMAC | LE64(n)), the GMAC being the
 *                AES-256-GCM tag under K_5 (nonce "ngdynmk-dig1") with the input as additional
 *                data; draws PRF(K_2 / K_3 / K_4, d(x)). Label-mode logs written then hold those
 *                digests; `nnguard wm verify --log` reads only the logged inputs and labels, so
 *                they verify unchanged.
 *
 * ---- Verification -------------------------------------------------------------------------
 * soft: the suspect's and the owner's (unwatermarked) probabilities on a verification set the
 *   attacker never saw. For each class c with inputs the suspect assigns to c: residual
 *   e_j = mean(suspect_j) - s * mean(owner_j) over those inputs, j != c, where
 *   s = 1 - (a_min + a_max) / 2 (ours, refining SCHEMES.md's plain difference, s = 1: a soft
 *   answer keeps only (1 - a) of the natural confusions, so a surrogate's mean is about
 *   (1 - a) owner + a R q; subtracting the scaled owner leaves the keyed profile alone. On
 *   LeNet-5 the watermarked API itself scores a tau sum of 5.2 of 10 with s = 1 and 10.0 with
 *   the scaled owner. s does not depend on the rankings, so the null stays exact); order the other classes
 *   by e_j descending; I_c = pairs (i, j) the secret ranking puts i before j but the residual
 *   order does not (ties in e count against the secret ranking: conservative);
 *   tau_c = 1 - 4 I_c / (m(m-1)). Statistic T = sum of tau_c over the classes used.
 *   Null hypothesis (the suspect does not depend on K): the C permutations are independent
 *   and uniform, so each I_c follows the Mahonian distribution of inversions of m items, and
 *   p = P(sum I <= observed) by exact convolution of those distributions (never by treating
 *   inputs as independent). Classes limited to NG_WM_MAX_CLASSES.
 * label: agreements k of the suspect with the given (watermark) labels over the n recorded
 *   watermarked queries; an independent model matches a key-uniform wrong label with
 *   probability at most 1/(C-1), so p = P(Binomial(n, 1/(C-1)) >= k).
 * Verdict: "stolen" when p < threshold (default 1e-6).
 */
#ifndef NNGUARD_DYNAMARKS_H
#define NNGUARD_DYNAMARKS_H
#include <stddef.h>
#include <stdint.h>
#include "keys.h"
#include "model.h"
#include "status.h"

#define NG_WM_MAX_CLASSES 64
#define NG_WM_DEFAULT_THRESHOLD 1e-6

typedef enum ng_wm_mode { NG_WM_SOFT = 0, NG_WM_LABEL = 1 } ng_wm_mode;

typedef struct ng_wm_options {
    ng_wm_mode mode;
    double a_min, a_max;   /* soft: strength range, 0 <= a_min <= a_max < 1 (default 0.3, 0.6) */
    double rate;           /* label: fraction of answers changed, [0, 1] (default 0.005) */
} ng_wm_options;
ng_wm_options ng_wm_options_default(void);
/* "soft" / "label" -> mode; -1 when unknown. */
int ng_wm_mode_parse(const char *s);
const char *ng_wm_mode_name(ng_wm_mode m);
/* "A" (range [A/2, A]) or "AMIN,AMAX", each in [0, 1): 0 ok, -1 malformed. */
int ng_wm_parse_strength(const char *s, double *a_min, double *a_max);

typedef struct ng_wm ng_wm;

/* Derive the watermark state from a 256-bit key (the key may be wiped afterwards). */
ng_status ng_wm_new(const ng_key *key, int classes, const ng_wm_options *o, ng_wm **out);
void      ng_wm_free(ng_wm *w);    /* wipes the subkeys */
int       ng_wm_classes(const ng_wm *w);
ng_wm_mode ng_wm_mode_of(const ng_wm *w);
/* 1 - (a_min + a_max) / 2: the share of the natural probabilities a soft answer keeps on average. */
double    ng_wm_owner_scale(const ng_wm *w);

#define NG_WM_HASH_BYTES 64      /* h(x): the digest d(x) (bytes 0-31), then the draws */
#define NG_WM_DRAW_STR   32
#define NG_WM_DRAW_SEL   40
#define NG_WM_DRAW_LAB   48
/* The input hash h(x) of n float32 values; its first 32 bytes are the digest d(x). Reads w only:
 * any number of threads may hash with one watermark. */
void ng_wm_hash(const ng_wm *w, const float *x, size_t n, uint8_t out[NG_WM_HASH_BYTES]);
/* The hashes of count inputs of n floats each (x: count x n), out: count x NG_WM_HASH_BYTES. */
void ng_wm_hash_batch(const ng_wm *w, const float *x, size_t count, size_t n, uint8_t *out);

/* The secret ranking of the other classes for predicted class c: order[0..C-2], most favoured first. */
void ng_wm_ranking(const ng_wm *w, int c, int *order);

typedef struct ng_wm_answer {
    int    label_true;     /* argmax of the unwatermarked probabilities (first on ties) */
    int    label;          /* the label the answer gives */
    int    marked;         /* 1 when the answer was changed */
    double strength;       /* soft: the strength used (after the bound); label: 0 */
    uint8_t digest[32];    /* input digest d(x) */
} ng_wm_answer;

/* Watermark one answer: x (dim floats) is the input, probs (C floats, a probability vector) is
 * rewritten in place as the API's answer. */
ng_status ng_wm_apply(const ng_wm *w, const float *x, size_t dim, float *probs, ng_wm_answer *a);
/* The same with the input hash h(x) computed beforehand (ng_wm_hash), e.g. on another thread. */
void ng_wm_apply_hash(const ng_wm *w, const uint8_t hx[NG_WM_HASH_BYTES], float *probs, ng_wm_answer *a);

typedef struct ng_wm_result {
    ng_wm_mode mode;
    double statistic;      /* soft: sum of Kendall taus; label: agreement rate k/n */
    double p_value;
    int64_t n;             /* inputs (soft) or recorded queries (label) */
    int64_t agree;         /* label: k */
    int    classes_used;   /* soft: classes with at least one input */
    double tau[NG_WM_MAX_CLASSES];  /* soft: per class (0 when unused) */
    int    stolen;         /* p < threshold */
} ng_wm_result;

/* Soft-mode test. suspect, owner: n x C probability rows on the same inputs. */
ng_status ng_wm_soft_verify(const ng_wm *w, const float *suspect, const float *owner, int64_t n,
                            double threshold, ng_wm_result *r);
/* Label-mode test from recorded answers: the suspect's labels and the labels the API gave. */
ng_status ng_wm_label_verify(int classes, const int32_t *suspect, const int32_t *given, int64_t n,
                             double threshold, ng_wm_result *r);

/* probs = softmax(logits) row by row (n x c, max-subtracted, sums in double). */
void ng_softmax_rows(const float *logits, float *probs, int64_t n, int c);
/* Model probabilities for n inputs (n x classes), in batches. */
ng_status ng_model_predict_proba(ng_model *m, const float *x, int64_t n, int threads, float *probs);

/* ---- statistics (exposed for tests) ---- */
/* Pairs the secret order ref[0..m) (item ids 0..m-1, most favoured first) puts x before y but
 * the observed order (score descending) does not; a tie in score counts as such a pair. */
int64_t ng_wm_inversions(const int *ref, const double *score, int m);
/* P(sum of k independent Mahonian(m) inversion counts <= s); m <= NG_WM_MAX_CLASSES. */
double ng_wm_mahonian_cdf(int m, int k, int64_t s);
/* P(Binomial(n, p) >= k), computed in log space (accurate far into the tail). */
double ng_binom_sf(int64_t n, int64_t k, double p);
#endif
