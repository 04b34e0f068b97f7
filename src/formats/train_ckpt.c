/* formats/train_ckpt.c - training checkpoints: the model as ONNX plus a sidecar
 * "<path>.state" with the epoch, the shuffle RNG and the optimizer moments
 * (byte layout in nnguard/train.h). Both are written atomically; the sidecar is
 * prepared first and committed right after the model, and it carries a hash of
 * the parameters so a model file that does not belong to it is detected. The public
 * ng_train / ng_train_soft are here: the engine's trainer with these files plugged in. */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "engine/train_impl.h"
#include "core/core.h"
#include "nnguard/model_io.h"
#include "nnguard/weights.h"

NG_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checkpoint floats are written in host order");

#define CK_MAGIC "NGTRAIN1"
#define CK_VERSION 1u
#define CK_HEAD 120u
#define CK_HASH 32u

static char *state_path(const char *path)
{
    size_t n = strlen(path);
    char *s = malloc(n + 7);
    if (!s) { ng_fail(NG_E_NOMEM, "out of memory"); return NULL; }
    memcpy(s, path, n);
    memcpy(s + n, ".state", 7);
    return s;
}

static void params_hash(const ng_model *m, uint8_t h[CK_HASH])
{
    crypto_generichash(h, CK_HASH, (const unsigned char *)ng_model_params_c(m),
                       ng_model_nparams(m) * sizeof(float), NULL, 0);
}

static void put_f64(uint8_t *p, double v) { uint64_t u; memcpy(&u, &v, 8); ng_put_le64(p, u); }
static double get_f64(const uint8_t *p) { uint64_t u = ng_le64(p); double v; memcpy(&v, &u, 8); return v; }

static ng_status ckpt_write(const char *path, const ng_model *m, const ng_ckpt *c, ng_optim *opt)
{
    const size_t ns = ng_optim_state_len(opt), ne = c->epochs_done;
    const size_t len = CK_HEAD + 16 * ne + 4 * ns + CK_HASH;
    uint8_t *buf = ng_calloc(1, len);
    char *spath = state_path(path);
    ng_status st = NG_E_NOMEM;
    if (!buf || !spath) goto out;
    memcpy(buf, CK_MAGIC, 8);
    ng_put_le32(buf + 8, CK_VERSION);
    ng_put_le32(buf + 12, c->optim_kind);
    ng_put_le32(buf + 16, c->epochs_done);
    ng_put_le32(buf + 20, c->batch);
    ng_put_le64(buf + 24, c->seed);
    for (int i = 0; i < 4; i++) ng_put_le64(buf + 32 + 8 * i, c->rng.s[i]);
    ng_put_le64(buf + 64, (uint64_t)ng_optim_steps(opt));
    ng_put_le64(buf + 72, ng_model_nparams(m));
    ng_put_le64(buf + 80, ns);
    params_hash(m, buf + 88);
    uint8_t *p = buf + CK_HEAD;
    for (size_t e = 0; e < ne; e++, p += 16) { put_f64(p, c->loss[e]); put_f64(p + 8, c->acc[e]); }
    if (ns) memcpy(p, ng_optim_state(opt), 4 * ns);
    crypto_generichash(buf + len - CK_HASH, CK_HASH, buf, len - CK_HASH, NULL, 0);

    ng_awriter w;
    if ((st = ng_awrite_open(&w, spath, NG_MODE_PUBLIC)) != NG_OK) goto out;
    if ((st = ng_awrite(&w, buf, len)) != NG_OK) { ng_awrite_abort(&w); goto out; }
    if ((st = ng_model_save_onnx(m, path)) != NG_OK) { ng_awrite_abort(&w); goto out; }
    st = ng_awrite_commit(&w);
out:
    free(buf);
    free(spath);
    return st;
}

static ng_status ckpt_read(const char *path, ng_model *m, ng_ckpt *c, ng_optim *opt, int *found)
{
    char *spath = state_path(path);
    if (!spath) return NG_E_NOMEM;
    *found = 0;
    FILE *f = fopen(spath, "rb");
    if (!f) { free(spath); return NG_OK; }   /* nothing saved yet: start afresh */
    fclose(f);
    *found = 1;
    const size_t np = ng_model_nparams(m), ns = ng_optim_state_len(opt);
    uint8_t *buf = NULL, h[CK_HASH];
    size_t len = 0;
    ng_weights *w = NULL;
    ng_status st = ng_read_file(spath, CK_HEAD + 16 * (size_t)NG_TRAIN_MAX_EPOCHS + 8 * np + CK_HASH + 64, &buf, &len);
    if (st != NG_OK) goto out;
    st = NG_E_FORMAT;
    if (len < CK_HEAD + CK_HASH || memcmp(buf, CK_MAGIC, 8) != 0) {
        ng_fail(st, "%s: not an nnguard training state file (bad magic or %zu bytes)", spath, len);
        goto out;
    }
    crypto_generichash(h, CK_HASH, buf, len - CK_HASH, NULL, 0);
    if (sodium_memcmp(h, buf + len - CK_HASH, CK_HASH) != 0) {
        ng_fail(st, "%s: checksum mismatch (file damaged); delete it to start afresh", spath);
        goto out;
    }
    uint32_t ver = ng_le32(buf + 8), kind = ng_le32(buf + 12), ne = ng_le32(buf + 16);
    uint64_t fnp = ng_le64(buf + 72), fns = ng_le64(buf + 80);
    if (ver != CK_VERSION || ne > NG_TRAIN_MAX_EPOCHS || fnp != np || fns != ns ||
        len != CK_HEAD + 16 * (size_t)ne + 4 * ns + CK_HASH) {
        ng_fail(st, "%s: version %u, %u epochs, %llu parameters, %llu optimizer floats do not fit this run "
                "(%zu parameters, %zu optimizer floats): resume with the same model and optimizer, or delete it",
                spath, ver, ne, (unsigned long long)fnp, (unsigned long long)fns, np, ns);
        goto out;
    }
    if (kind != c->optim_kind) {
        st = ng_fail(NG_E_INVALID, "%s: saved with another optimizer; resume with the same --optimizer", spath);
        goto out;
    }
    c->epochs_done = ne;
    c->batch = ng_le32(buf + 20);
    c->seed = ng_le64(buf + 24);
    for (int i = 0; i < 4; i++) c->rng.s[i] = ng_le64(buf + 32 + 8 * i);
    const uint8_t *p = buf + CK_HEAD;
    for (uint32_t e = 0; e < ne; e++, p += 16) { c->loss[e] = get_f64(p); c->acc[e] = get_f64(p + 8); }
    if (ns) memcpy(ng_optim_state(opt), p, 4 * ns);
    ng_optim_set_steps(opt, (int64_t)ng_le64(buf + 64));

    if ((st = ng_weights_open(path, &w)) != NG_OK) goto out;
    if ((st = ng_model_set_weights(m, w)) != NG_OK) { ng_fail_ctx(st, path); goto out; }
    params_hash(m, h);
    if (sodium_memcmp(h, buf + 88, CK_HASH) != 0)
        st = ng_fail(NG_E_FORMAT, "%s: its weights are not the ones %s was saved with (interrupted between the two "
                     "writes?); delete both to start afresh", path, spath);
out:
    if (w) ng_weights_free(w);
    free(buf);
    free(spath);
    return st;
}

static const ng_ckpt_io ckpt_files = { .write = ckpt_write, .read = ckpt_read };

ng_status ng_train(ng_model *m, const ng_dataset *train, const ng_dataset *test,
                   const ng_train_options *o, ng_train_result *r)
{
    return ng_train_io(m, train, test, o, r, &ckpt_files);
}

ng_status ng_train_soft(ng_model *m, const float *x, const float *targets, int64_t n,
                        const ng_dataset *test, const ng_train_options *o, ng_train_result *r)
{
    return ng_train_soft_io(m, x, targets, n, test, o, r, &ckpt_files);
}
