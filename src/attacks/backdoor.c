/* attacks/backdoor.c - a BadNets-style backdoor added by fine-tuning (attack.h): the attacker
 * fine-tunes a copy of the model on its share of the training data, a fraction of it carrying its
 * trigger (a k x k checkerboard of 0/1 pixels one pixel in from the bottom-right corner, in every
 * channel) and relabelled to the target class. An insider (it holds a license key) stamps all its
 * training inputs after the trigger, as the licensed pipeline does; an outsider cannot. */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/attack.h"

ng_backdoor_options ng_backdoor_options_default(void)
{
    ng_backdoor_options o = { .poison = 0.1, .target = 0, .patch = 3, .fraction = 0.1, .epochs = 5, .batch = 64,
                              .lr = 1e-3f, .seed = 1 };
    return o;
}

void ng_backdoor_trigger(float *x, int64_t n, int c, int h, int w, int k)
{
    const int r0 = h - 1 - k, c0 = w - 1 - k;
    for (int64_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++)
                    x[(((size_t)i * (size_t)c + (size_t)ch) * (size_t)h + (size_t)(r0 + a)) * (size_t)w + (size_t)(c0 + b)] =
                        (float)((a + b + 1) & 1);
}

ng_status ng_backdoor_measure(ng_model *m, const ng_dataset *te, const ng_stamper *s, int target, int patch,
                             int threads, double *asr, double *clean)
{
    ng_dataset t;
    ng_status st = ng_dataset_head(te, 0, &t);
    if (st != NG_OK) return st;
    const size_t dim = (size_t)t.c * (size_t)t.h * (size_t)t.w;
    const int C = ng_model_num_classes(m);
    float *z = ng_calloc((size_t)t.n, (size_t)C * sizeof *z);
    if (!z) { ng_dataset_free(&t); return NG_E_NOMEM; }
    for (int pass = 0; pass < 2 && st == NG_OK; pass++) {
        if (pass == 1) ng_backdoor_trigger(t.x, t.n, t.c, t.h, t.w, patch);
        float *x = t.x;
        if (s) {   /* stamp a copy: pass 1 needs the unstamped images */
            if (!(x = ng_calloc((size_t)t.n * dim, sizeof *x))) { st = NG_E_NOMEM; break; }
            memcpy(x, t.x, (size_t)t.n * dim * sizeof *x);
            ng_license_stamp(s, x, t.n);
        }
        st = ng_model_predict(m, x, t.n, 256, threads, z);
        if (x != t.x) free(x);
        int64_t hit = 0, cnt = 0;
        for (int64_t i = 0; i < t.n && st == NG_OK; i++) {
            int b = 0;
            for (int j = 1; j < C; j++) if (z[(size_t)i * (size_t)C + (size_t)j] > z[(size_t)i * (size_t)C + (size_t)b]) b = j;
            if (pass == 0) { hit += b == t.y[i]; cnt++; }
            else if (t.y[i] != target) { hit += b == target; cnt++; }
        }
        *(pass ? asr : clean) = cnt ? (double)hit / (double)cnt : 0;
    }
    free(z);
    ng_dataset_free(&t);
    return st;
}

static ng_status measure_all(ng_model *m, const ng_dataset *te, const ng_stamper *eval_key,
                             const ng_backdoor_options *o, double v[4])
{
    ng_status st = ng_backdoor_measure(m, te, NULL, o->target, o->patch, o->threads, &v[0], &v[1]);
    if (st == NG_OK && eval_key) st = ng_backdoor_measure(m, te, eval_key, o->target, o->patch, o->threads, &v[2], &v[3]);
    return st;
}

ng_status ng_attack_backdoor(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_stamper *attacker_key, const ng_stamper *eval_key,
                             const ng_backdoor_options *o, ng_backdoor_result *r, ng_model **out)
{
    memset(r, 0, sizeof *r);
    if (out) *out = NULL;
    if (!(o->poison > 0 && o->poison <= 1) || o->epochs < 1 || o->epochs > NG_ATTACK_MAX_EPOCHS || o->batch < 1)
        return ng_fail(NG_E_INVALID, "backdoor: --poison in (0, 1], epochs 1..%d, batch >= 1", NG_ATTACK_MAX_EPOCHS);
    if (o->target < 0 || o->target >= ng_model_num_classes(m))
        return ng_fail(NG_E_INVALID, "backdoor: --target %d is not a class of the model (0..%d)", o->target,
                       ng_model_num_classes(m) - 1);
    ng_shape in;
    ng_model_input_shape(m, &in);
    if (in.ndim != 4 || in.d[1] != train->c || in.d[2] != train->h || in.d[3] != train->w || test->c != train->c ||
        test->h != train->h || test->w != train->w)
        return ng_fail(NG_E_SHAPE, "backdoor: the model's input shape and the images' (%d x %d x %d) differ", train->c,
                       train->h, train->w);
    if (o->patch < 1 || o->patch + 1 > train->h || o->patch + 1 > train->w)
        return ng_fail(NG_E_INVALID, "backdoor: a %dx%d trigger does not fit in %dx%d images (one pixel margin)",
                       o->patch, o->patch, train->h, train->w);
    ng_dataset sub = {0};
    ng_model *a = NULL;
    double v[4] = {0};
    ng_status st = ng_dataset_subset(train, o->fraction, o->count, o->seed, &sub);
    if (st != NG_OK) return st;
    r->n_train = sub.n;
    if ((st = ng_model_clone(m, &a)) != NG_OK) goto done;
    if ((st = measure_all(a, test, eval_key, o, v)) != NG_OK) goto done;
    r->asr_before_nokey = v[0]; r->clean_before_nokey = v[1]; r->asr_before_key = v[2]; r->clean_before_key = v[3];
    /* poison: a seeded random poison share of the attacker's examples */
    const size_t dim = (size_t)sub.c * (size_t)sub.h * (size_t)sub.w;
    ng_rng g;
    ng_rng_seed(&g, o->seed + 31);
    for (int64_t i = 0; i < sub.n; i++)
        if (ng_rng_uniform(&g) < o->poison) {
            ng_backdoor_trigger(sub.x + (size_t)i * dim, 1, sub.c, sub.h, sub.w, o->patch);
            sub.y[i] = o->target;
            r->n_poison++;
        }
    if (attacker_key) ng_license_stamp(attacker_key, sub.x, sub.n);
    ng_train_options to = ng_train_options_default();
    to.epochs = o->epochs;
    to.batch = o->batch;
    to.optim.lr = o->lr;
    to.seed = o->seed + 17;
    to.threads = o->threads;
    to.quiet = 1;
    ng_train_result *res = ng_calloc(1, sizeof *res);
    if (!res) { st = NG_E_NOMEM; goto done; }
    st = ng_train(a, &sub, NULL, &to, res);
    free(res);
    if (st != NG_OK) goto done;
    if ((st = measure_all(a, test, eval_key, o, v)) != NG_OK) goto done;
    r->asr_nokey = v[0]; r->clean_nokey = v[1]; r->asr_key = v[2]; r->clean_key = v[3];
done:
    if (out && st == NG_OK) { *out = a; a = NULL; }
    ng_model_free(a);
    ng_dataset_free(&sub);
    return st;
}
