/* test_advparams: AdvParams on a trained LeNet-5 (tests/fixtures/lenet5.onnx, or trained here
 * for 2 epochs when the fixture is absent) on Fashion-MNIST. Encrypt with the defaults and with a
 * stricter target; figures printed (accuracy before/after, parameters changed, time); every moved
 * value inside its tensor's original range; decrypt bit-exact (every parameter byte, the model id,
 * the re-saved file); another model's key refused with nothing changed; corrupted, truncated and
 * group-readable key files refused; sealed key round trip; ONNX and safetensors.
 * ctest-label: slow (loads all of Fashion-MNIST, several encryptions) */
#include <sys/stat.h>
#include <unistd.h>
#include "tutil.h"
#include "nnguard/advparams.h"
#include "core/core.h"

/* Snapshot of a file's parameter bytes. */
typedef struct snap { size_t n; uint8_t **bytes; size_t *len; } snap;

static snap take_snap(const ng_weights *w)
{
    snap s = {ng_weights_count(w), NULL, NULL};
    s.bytes = calloc(s.n, sizeof *s.bytes);
    s.len = calloc(s.n, sizeof *s.len);
    for (size_t i = 0; i < s.n; i++) {
        const ng_param *p = ng_weights_param_c(w, i);
        s.len[i] = p->nbytes;
        s.bytes[i] = malloc(p->nbytes ? p->nbytes : 1);
        memcpy(s.bytes[i], p->data, p->nbytes);
    }
    return s;
}
static void free_snap(snap *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->bytes[i]);
    free(s->bytes); free(s->len);
}
/* Byte-exact equality of w's parameters with a snapshot. */
static int same_as(const ng_weights *w, const snap *s)
{
    if (ng_weights_count(w) != s->n) return 0;
    for (size_t i = 0; i < s->n; i++) {
        const ng_param *p = ng_weights_param_c(w, i);
        if (p->nbytes != s->len[i] || memcmp(p->data, s->bytes[i], p->nbytes) != 0) return 0;
    }
    return 1;
}

static int same_files(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void tmp(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tu_tmpdir(), name); }

/* Write bytes to a fresh 0600 file. */
static void write_secret(const char *path, const uint8_t *b, size_t n)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    chmod(path, 0600);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { *n = 0; return NULL; }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static double test_acc(ng_model *m, const ng_dataset *te)
{
    double a = -1;
    CHECK_OK(ng_evaluate(m, te, 0, 500, 0, &a, NULL, NULL));
    return a;
}

/* Every changed element is a key entry, holds its perturbed bits, and lies in its tensor's
 * original [min, max]; returns the number of changed elements. */
static size_t check_changes(const ng_weights *w, const snap *orig, const ng_adv_key *k)
{
    size_t changed = 0, outside = 0, unexplained = 0;
    for (size_t i = 0; i < orig->n; i++) {
        const ng_param *p = ng_weights_param_c(w, i);
        if (p->dtype != NG_DT_F32) continue;
        const float *o = (const float *)(const void *)orig->bytes[i];
        size_t n = p->nbytes / 4;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t e = 0; e < n; e++) { if (o[e] < lo) lo = o[e]; if (o[e] > hi) hi = o[e]; }
        for (size_t e = 0; e < n; e++) {
            if (memcmp(p->data + 4 * e, orig->bytes[i] + 4 * e, 4) == 0) continue;
            changed++;
            float v;
            memcpy(&v, p->data + 4 * e, 4);
            if (!(v >= lo && v <= hi)) outside++;
            int found = 0;
            for (size_t j = 0; j < ng_adv_key_count(k); j++) {
                ng_adv_entry en;
                ng_adv_key_entry(k, j, &en);
                uint32_t ob, pb;
                memcpy(&ob, orig->bytes[i] + 4 * e, 4); memcpy(&pb, p->data + 4 * e, 4);
                if (!strcmp(en.tensor, p->name) && en.index == e && en.orig_bits == ob && en.pert_bits == pb) found = 1;
            }
            if (!found) unexplained++;
        }
    }
    CHECKF(outside == 0, "%zu changed values outside their tensor's original range", outside);
    CHECKF(unexplained == 0, "%zu changed values are not key entries", unexplained);
    return changed;
}

/* Encrypt a fresh copy of the model file at path; returns test accuracy after. */
static double encrypt_file(const char *path, const char *onnx_for_graph, const ng_dataset *tr, const ng_dataset *te,
                           const ng_adv_options *o, ng_weights **w_out, ng_model **m_out, ng_adv_key **k_out,
                           double *secs)
{
    ng_weights *w = NULL, *g = NULL;
    ng_model *m = NULL;
    CHECK_OK(ng_weights_open(path, &w));
    CHECK_OK(ng_weights_open(onnx_for_graph, &g));
    CHECK_OK(ng_model_from_weights(g, &m));
    ng_weights_free(g);
    double t0 = ng_now();
    CHECK_OK(ng_adv_encrypt(m, w, tr, o, k_out));
    *secs = ng_now() - t0;
    *w_out = w; *m_out = m;
    return *k_out ? test_acc(m, te) : -1;
}

/* One option set on the model file: encrypt, print, and check what every run must meet (1..25
 * changes, all key entries and inside their tensor's range, the rule recorded in the key).
 * Returns the number of changes and the test accuracy after, for the caller's own bounds. */
typedef struct run_result { size_t n; double acc; } run_result;
static run_result run_options(const char *label, const char *onnx, const ng_dataset *tr, const ng_dataset *te,
                              const ng_adv_options *o, const snap *orig, double acc0, size_t total)
{
    ng_weights *w = NULL;
    ng_model *m = NULL;
    ng_adv_key *k = NULL;
    double secs = 0;
    run_result r = {0, encrypt_file(onnx, onnx, tr, te, o, &w, &m, &k, &secs)};
    if (k) {
        r.n = ng_adv_key_count(k);
        printf("%s: test accuracy %.2f%% -> %.2f%% with %zu parameters (%.6f%%), %.2f s\n", label, 100 * acc0,
               100 * r.acc, r.n, 100.0 * (double)r.n / (double)total, secs);
        CHECK(r.n >= 1 && r.n <= 25);
        CHECK(ng_adv_key_rule(k) == o->rule);
        CHECK(check_changes(w, orig, k) == r.n);
    }
    ng_adv_key_free(k);
    ng_weights_free(w);
    ng_model_free(m);
    return r;
}

/* Steps recorded by the progress callback. */
typedef struct steps { int n; char name[8][32]; uint64_t index[8]; double grad[8], loss[8], acc[8]; } steps;
static void record(void *u, const ng_adv_step *s)
{
    steps *r = u;
    if (s->step >= 8) return;
    r->n = s->step + 1;
    snprintf(r->name[s->step], sizeof r->name[0], "%s", s->tensor ? s->tensor : "");
    r->index[s->step] = s->index;
    r->grad[s->step] = s->grad; r->loss[s->step] = s->loss; r->acc[s->step] = s->accuracy;
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);   /* OpenBLAS's best kernels (the CLI does the same): a shorter run */
    CHECK_OK(ng_init());
    char onnx[4096], st_path[512], enc[512], dec[512], resaved[512], keyp[512], key2p[512], bad[512], sealed[512];
    ng_dataset tr, te;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &tr));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te));
    if (tu_fail) return tu_done();

    /* The plain model: the fixture (1 epoch), or train one here. */
    snprintf(onnx, sizeof onnx, "%s", tu_path("fixtures/lenet5.onnx"));
    int fixture = access(onnx, R_OK) == 0;
    if (!fixture) {
        ng_model *t;
        CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 0, &t));
        ng_train_options to = ng_train_options_default();
        to.epochs = 2; to.quiet = 1;
        ng_train_result r;
        CHECK_OK(ng_train(t, &tr, NULL, &to, &r));
        tmp(onnx, sizeof onnx, "lenet5.onnx");
        CHECK_OK(ng_model_save_onnx(t, onnx));
        ng_model_free(t);
        printf("trained LeNet-5 for 2 epochs (no fixture)\n");
    }

    /* NG_ADV_DUMP_SET=DIR: write the default encryption set for tests/advparams_torch_ref.py. */
    const char *dump = getenv("NG_ADV_DUMP_SET");
    if (dump) {
        ng_dataset set;
        char px[512], py[512];
        CHECK_OK(ng_dataset_subset(&tr, 0, 512, 0, &set));
        snprintf(px, sizeof px, "%s/set_x.f32", dump);
        snprintf(py, sizeof py, "%s/set_y.i32", dump);
        FILE *fx = fopen(px, "wb"), *fy = fopen(py, "wb");
        CHECK(fx && fy);
        if (fx) { fwrite(set.x, 4, (size_t)set.n * 784, fx); fclose(fx); }
        if (fy) { fwrite(set.y, 4, (size_t)set.n, fy); fclose(fy); }
        ng_dataset_free(&set);
    }
    tmp(st_path, sizeof st_path, "lenet5.safetensors");
    tmp(enc, sizeof enc, "enc.onnx");
    tmp(dec, sizeof dec, "dec.onnx");
    tmp(resaved, sizeof resaved, "resaved.onnx");
    tmp(keyp, sizeof keyp, "k.advkey");
    tmp(key2p, sizeof key2p, "k2.advkey");
    tmp(bad, sizeof bad, "bad.advkey");
    tmp(sealed, sizeof sealed, "sealed.advkey");

    ng_weights *w0;
    ng_model *m0;
    uint8_t id0[32], id[32];
    CHECK_OK(ng_weights_open(onnx, &w0));
    CHECK_OK(ng_model_from_weights(w0, &m0));
    ng_weights_id(w0, id0);
    snap orig = take_snap(w0);
    size_t meta0 = ng_weights_meta_count(w0);
    CHECK_OK(ng_weights_save(w0, resaved));             /* the plain file as our writer writes it */
    CHECK_OK(ng_model_save_safetensors(m0, st_path));
    double acc0 = test_acc(m0, &te);
    size_t total = ng_model_nparams(m0);
    printf("plain LeNet-5: test accuracy %.2f%%, %zu parameters\n", 100 * acc0, total);
    CHECK(acc0 > 0.75);

    /* ---- ONNX, the spec's rule (|gradient|, target 15%): matched step by step with PyTorch ---- */
    ng_adv_options o = ng_adv_options_paper();
    CHECK(o.rule == NG_ADV_RULE_GRAD && o.target_acc == 0.15 && o.budget == 25 && !o.harden);
    o.log = stdout;
    steps rec;
    memset(&rec, 0, sizeof rec);
    o.on_step = record;
    o.user = &rec;
    ng_weights *w;
    ng_model *m;
    ng_adv_key *k = NULL;
    double secs, acc1 = encrypt_file(onnx, onnx, &tr, &te, &o, &w, &m, &k, &secs);
    if (!k) return tu_done();
    size_t n = ng_adv_key_count(k);
    double sb, sa;
    ng_adv_key_info(k, NULL, NULL, NULL, NULL, &sb, &sa, NULL);
    printf("spec rule (grad, budget 25, target 15%%, set 512): test accuracy %.2f%% -> %.2f%% (drop %.2f points, "
           "relative %.1f%%), %zu parameters changed = %.6f%% of %zu, encryption set %.2f%% -> %.2f%%, %.2f s\n",
           100 * acc0, 100 * acc1, 100 * (acc0 - acc1), 100 * (acc0 - acc1) / acc0, n, 100.0 * (double)n / (double)total,
           total, 100 * sb, 100 * sa, secs);
    /* PyTorch 1.13 on the same encryption set (tests/advparams_torch_ref.py): the same picks,
     * gradients and losses. Step k's loss here is the loss before PyTorch's step k+1. */
    if (fixture) {
        static const char *pn[7] = {"f3.weight", "c1.weight", "c1.weight", "c1.weight", "f3.weight", "f3.weight", "f3.weight"};
        static const uint64_t pi[7] = {756, 47, 21, 91, 792, 780, 779};
        static const double pg[7] = {0.1025, -0.1182, -0.2476, -0.4125, 0.5454, 0.6306, 0.7001};
        static const double pl[7] = {0.4354, 0.4412, 0.5084, 0.6661, 0.8803, 0.9309, 0.9808};
        static const double pa[7] = {0.8379, 0.8359, 0.8223, 0.7656, 0.6992, 0.6758, 0.6602};
        CHECK(rec.n >= 8);
        for (int i = 0; i < 7 && rec.n >= 8; i++) {
            CHECKF(!strcmp(rec.name[i + 1], pn[i]) && rec.index[i + 1] == pi[i], "step %d picked %s[%llu], PyTorch %s[%llu]",
                   i + 1, rec.name[i + 1], (unsigned long long)rec.index[i + 1], pn[i], (unsigned long long)pi[i]);
            CHECK_NEAR(rec.grad[i + 1], pg[i], 6e-4);
            CHECK_NEAR(rec.loss[i], pl[i], 6e-4);
            CHECK_NEAR(rec.acc[i], pa[i], 1e-4);
        }
    }
    CHECK(n >= 1 && n <= 25);
    CHECKF(sa < 0.15 || n == 25, "stopped at encryption-set accuracy %.4f with %zu changes", sa, n);
    /* The spec's |gradient| rule meets this on the fixture; on a LeNet-5 trained here for 2 epochs
     * it stalls near 38% after 25 changes (the gain rule below does not), so only printed then. */
    CHECKF(!fixture || acc1 <= 0.20, "test accuracy after encryption %.4f", acc1);
    CHECK(check_changes(w, &orig, k) == n);
    CHECK(ng_weights_meta_get(w, "nnguard.scheme") == NULL && ng_weights_meta_count(w) == meta0);
    /* the file and the model agree: a model built from the encrypted file scores the same */
    ng_model *mf;
    CHECK_OK(ng_model_from_weights(w, &mf));
    CHECK_NEAR(test_acc(mf, &te), acc1, 1e-12);
    ng_model_free(mf);
    ng_weights_id(w, id);
    uint8_t kid[32];
    ng_adv_key_id_after(k, kid);
    CHECK(memcmp(id, kid, 32) == 0);
    ng_adv_key_id_before(k, kid);
    CHECK(memcmp(id0, kid, 32) == 0);
    CHECK_OK(ng_weights_save(w, enc));

    /* key file: 0600, exclusive */
    CHECK_OK(ng_adv_key_save(k, keyp, NULL, 0));
    struct stat sst;
    CHECK(stat(keyp, &sst) == 0 && (sst.st_mode & 0777) == 0600);
    CHECK_ST(ng_adv_key_save(k, keyp, NULL, 0), NG_E_EXISTS);

    /* in-memory model decrypt and re-apply */
    CHECK_OK(ng_adv_decrypt_model(m, k));
    CHECK(memcmp(ng_model_params_c(m), ng_model_params_c(m0), total * 4) == 0);
    CHECK_ST(ng_adv_decrypt_model(m, k), NG_E_KEY);          /* already plain */
    CHECK_OK(ng_adv_apply_model(m, k));
    CHECK_NEAR(test_acc(m, &te), acc1, 1e-12);

    /* decrypt the saved file with the key read back: bit-exact */
    ng_adv_key *kl;
    ng_weights *we;
    CHECK_OK(ng_adv_key_load(keyp, NULL, 0, &kl));
    CHECK_OK(ng_weights_open(enc, &we));
    double tdec = ng_now();
    CHECK_OK(ng_adv_decrypt(we, kl));
    tdec = ng_now() - tdec;
    CHECK(same_as(we, &orig));
    ng_weights_id(we, id);
    CHECK(memcmp(id, id0, 32) == 0);
    CHECK_OK(ng_weights_save(we, dec));
    CHECK(same_files(dec, resaved));
    printf("decrypt: bit-exact, %.3f ms\n", 1e3 * tdec);
    CHECK_ST(ng_adv_decrypt(we, kl), NG_E_KEY);               /* plain model: id does not match */
    CHECK(strstr(ng_last_error(), "belongs to another model") != NULL);
    ng_weights_free(we);
    ng_adv_key_free(kl);

    /* another model's key: refused, file unchanged */
    ng_adv_options o2 = ng_adv_options_paper();
    o2.seed = 7;
    ng_weights *w2;
    ng_model *m2;
    ng_adv_key *k2 = NULL;
    double secs2;
    encrypt_file(onnx, onnx, &tr, &te, &o2, &w2, &m2, &k2, &secs2);
    CHECK(k2 != NULL);
    if (k2) {
        CHECK_OK(ng_adv_key_save(k2, key2p, NULL, 0));
        ng_adv_key *k2l;
        CHECK_OK(ng_adv_key_load(key2p, NULL, 0, &k2l));
        CHECK_OK(ng_weights_open(enc, &we));
        snap encs = take_snap(we);
        CHECK_ST(ng_adv_decrypt(we, k2l), NG_E_KEY);
        CHECK(strstr(ng_last_error(), "this key belongs to another model (id ") != NULL);
        CHECK(same_as(we, &encs));
        free_snap(&encs);
        ng_weights_free(we);
        ng_adv_key_free(k2l);
        ng_adv_key_free(k2);
    }
    ng_weights_free(w2);
    ng_model_free(m2);

    /* corrupted key files */
    size_t kn;
    uint8_t *kb = slurp(keyp, &kn);
    CHECK(kb && kn > 100);
    ng_adv_key *kx = NULL;
    size_t flips[3] = {3, kn / 2, kn - 1};
    for (int i = 0; i < 3; i++) {
        kb[flips[i]] ^= 0x01;
        write_secret(bad, kb, kn);
        CHECK_ST(ng_adv_key_load(bad, NULL, 0, &kx), NG_E_KEY);
        kb[flips[i]] ^= 0x01;
    }
    write_secret(bad, kb, kn - 1);
    CHECK_ST(ng_adv_key_load(bad, NULL, 0, &kx), NG_E_KEY);
    write_secret(bad, kb, kn / 2);
    CHECK_ST(ng_adv_key_load(bad, NULL, 0, &kx), NG_E_KEY);
    write_secret(bad, kb, 0);
    CHECK_ST(ng_adv_key_load(bad, NULL, 0, &kx), NG_E_KEY);
    write_secret(bad, kb, kn);
    CHECK_OK(ng_adv_key_load(bad, NULL, 0, &kx));
    ng_adv_key_free(kx);
    /* permissions */
    chmod(bad, 0644);
    CHECK_ST(ng_adv_key_load(bad, NULL, 0, &kx), NG_E_PERM);
    chmod(bad, 0640);
    CHECK_ST(ng_adv_key_load(bad, NULL, 0, &kx), NG_E_PERM);
    chmod(bad, 0602);
    CHECK_ST(ng_adv_key_load(bad, NULL, 0, &kx), NG_E_PERM);
    chmod(bad, 0400);
    CHECK_OK(ng_adv_key_load(bad, NULL, 0, &kx));
    ng_adv_key_free(kx);
    free(kb);

    /* sealed key */
    const char *pw = "correct horse battery staple";
    CHECK_OK(ng_adv_key_save(k, sealed, pw, strlen(pw)));
    CHECK(ng_adv_key_file_sealed(sealed) == 1 && ng_adv_key_file_sealed(keyp) == 0);
    CHECK_ST(ng_adv_key_load(sealed, NULL, 0, &kx), NG_E_KEY);
    CHECK_ST(ng_adv_key_load(sealed, "wrong", 5, &kx), NG_E_KEY);
    CHECK_OK(ng_adv_key_load(sealed, pw, strlen(pw), &kx));
    CHECK_OK(ng_weights_open(enc, &we));
    CHECK_OK(ng_adv_decrypt(we, kx));
    CHECK(same_as(we, &orig));
    ng_weights_free(we);
    ng_adv_key_free(kx);
    kb = slurp(sealed, &kn);
    kb[kn - 40] ^= 0x80;               /* inside the ciphertext */
    write_secret(bad, kb, kn);
    CHECK_ST(ng_adv_key_load(bad, pw, strlen(pw), &kx), NG_E_KEY);
    free(kb);

    /* ---- safetensors: the ONNX model gives the gradients, the safetensors file is encrypted ---- */
    ng_weights *ws;
    ng_model *ms;
    ng_adv_key *ks = NULL;
    double secs3, acc3 = encrypt_file(st_path, onnx, &tr, &te, &o, &ws, &ms, &ks, &secs3);
    CHECK(ks != NULL);
    if (ks) {
        CHECK(ng_weights_format(ws) == NG_FMT_SAFETENSORS);
        CHECK(ng_adv_key_count(ks) == n);                  /* same parameters, same set: same choices */
        CHECK_NEAR(acc3, acc1, 1e-12);
        ng_weights *wsp;
        CHECK_OK(ng_weights_open(st_path, &wsp));
        snap sorig = take_snap(wsp);
        CHECK(check_changes(ws, &sorig, ks) == n);
        char encs_path[512], decs_path[512], ress_path[512];
        tmp(encs_path, sizeof encs_path, "enc.safetensors");
        tmp(decs_path, sizeof decs_path, "dec.safetensors");
        tmp(ress_path, sizeof ress_path, "resaved.safetensors");
        CHECK_OK(ng_weights_save(wsp, ress_path));
        CHECK_OK(ng_weights_save(ws, encs_path));
        ng_weights *wse;
        CHECK_OK(ng_weights_open(encs_path, &wse));
        CHECK_OK(ng_adv_decrypt(wse, ks));
        CHECK(same_as(wse, &sorig));
        ng_weights_id(wse, id);
        CHECK(memcmp(id, id0, 32) == 0);                   /* the id does not depend on the format */
        CHECK_OK(ng_weights_save(wse, decs_path));
        CHECK(same_files(decs_path, ress_path));
        ng_weights_free(wse);
        ng_weights_free(wsp);
        free_snap(&sorig);
        printf("safetensors: %zu parameters changed, test accuracy %.2f%%, decrypt bit-exact\n",
               ng_adv_key_count(ks), 100 * acc3);
    }
    ng_adv_key_free(ks);
    ng_weights_free(ws);
    ng_model_free(ms);

    /* ---- the spec's rule, a stricter target: the paper's <= 12% with <= 25 parameters ---- */
    ng_adv_options o3 = ng_adv_options_paper();
    o3.target_acc = 0.11;
    run_result r3 = run_options("rule grad, target 11%", onnx, &tr, &te, &o3, &orig, acc0, total);
    CHECKF(!fixture || r3.acc <= 0.12, "test accuracy %.4f with target 0.11", r3.acc);

    /* our GAIN rule (|gradient x move|): fewer changes for the same drop; PyTorch on the same
     * set: encryption set < 15% after 18 changes, test accuracy <= 12% after 21. */
    o3.rule = NG_ADV_RULE_GAIN;
    o3.target_acc = 0.15;
    r3 = run_options("rule gain, target 15%", onnx, &tr, &te, &o3, &orig, acc0, total);
    if (fixture) CHECK(r3.n == 18);   /* PyTorch on this set: 18 */
    CHECKF(r3.acc <= 0.15, "test accuracy %.4f", r3.acc);
    o3.target_acc = 0.12;
    r3 = run_options("rule gain, target 12%", onnx, &tr, &te, &o3, &orig, acc0, total);
    CHECKF(r3.acc <= 0.12, "test accuracy %.4f", r3.acc);

    /* paper form with our gain rule and target 10%: the issue's <= 12% with <= 25 parameters */
    o3.target_acc = 0.10;
    r3 = run_options("paper form, gain, target 10%", onnx, &tr, &te, &o3, &orig, acc0, total);
    CHECKF(r3.acc <= 0.12, "test accuracy %.4f with gain, target 10%%", r3.acc);

    /* the hardened form (the default): test_advparams_harden and test_advparams_hardq */

    /* bad options and inputs */
    ng_adv_options ob = ng_adv_options_default();
    ng_adv_key *kb2 = NULL;
    ob.tensors = "no.such.tensor*";
    CHECK_ST(ng_adv_encrypt(m0, w0, &tr, &ob, &kb2), NG_E_INVALID);
    ob = ng_adv_options_default();
    ob.budget = 0;
    CHECK_ST(ng_adv_encrypt(m0, w0, &tr, &ob, &kb2), NG_E_INVALID);
    ob = ng_adv_options_paper();
    ob.target_acc = 0.0;                       /* never reached: spends the whole budget of 3 */
    ob.budget = 3;
    ob.tensors = "f3.*";                       /* biases too when named */
    CHECK_OK(ng_adv_encrypt(m0, w0, &tr, &ob, &kb2));
    if (kb2) {
        CHECK(ng_adv_key_count(kb2) == 3);
        for (size_t i = 0; i < ng_adv_key_count(kb2); i++) {
            ng_adv_entry en;
            ng_adv_key_entry(kb2, i, &en);
            CHECK(strncmp(en.tensor, "f3.", 3) == 0);
        }
        CHECK_OK(ng_adv_decrypt(w0, kb2));
        CHECK_OK(ng_adv_decrypt_model(m0, kb2));
        CHECK(same_as(w0, &orig));
    }
    ng_adv_key_free(kb2);

    /* The set gradient does not depend on the batching: batches of 64 and one batch of 512 pick
     * the same first 6 positions (the mean over batches is weighted by batch size). */
    ng_adv_key *ka = NULL, *kc = NULL;
    ob = ng_adv_options_paper();
    ob.rule = NG_ADV_RULE_GAIN;
    ob.budget = 6; ob.target_acc = 0; ob.batch = 64;
    CHECK_OK(ng_adv_encrypt(m0, w0, &tr, &ob, &ka));
    if (ka) CHECK_OK(ng_adv_decrypt(w0, ka));
    if (ka) CHECK_OK(ng_adv_decrypt_model(m0, ka));
    ob.batch = 512;
    CHECK_OK(ng_adv_encrypt(m0, w0, &tr, &ob, &kc));
    if (kc) CHECK_OK(ng_adv_decrypt(w0, kc));
    if (kc) CHECK_OK(ng_adv_decrypt_model(m0, kc));
    if (ka && kc) {
        int same = ng_adv_key_count(ka) == 6 && ng_adv_key_count(kc) == 6;
        for (size_t i = 0; same && i < 6; i++) {
            ng_adv_entry a, c;
            ng_adv_key_entry(ka, i, &a); ng_adv_key_entry(kc, i, &c);
            same = !strcmp(a.tensor, c.tensor) && a.index == c.index && a.pert_bits == c.pert_bits;
        }
        CHECK(same);
    }
    CHECK(same_as(w0, &orig));
    CHECK(memcmp(ng_model_params_c(m0), orig.bytes[0], orig.len[0]) == 0);
    ng_adv_key_free(ka);
    ng_adv_key_free(kc);

    /* model only (no file), as attack modules call it: ids from ng_model_id */
    ng_model *mc;
    ng_adv_key *km = NULL;
    CHECK_OK(ng_model_clone(m0, &mc));
    ob = ng_adv_options_default();
    ob.budget = 5; ob.target_acc = 0;
    CHECK_OK(ng_adv_encrypt(mc, NULL, &tr, &ob, &km));
    if (km) {
        CHECK(ng_adv_key_count(km) == 5);
        ng_model_id(mc, id);
        ng_adv_key_id_after(km, kid);
        CHECK(memcmp(id, kid, 32) == 0);
        ng_adv_key_id_before(km, kid);
        CHECK(memcmp(id0, kid, 32) == 0);        /* the model's id is the file's id */
        CHECK(memcmp(ng_model_params_c(mc), ng_model_params_c(m0), total * 4) != 0);
        CHECK_OK(ng_adv_decrypt_model(mc, km));
        CHECK(memcmp(ng_model_params_c(mc), ng_model_params_c(m0), total * 4) == 0);
    }
    ng_adv_key_free(km);
    ng_model_free(mc);

    ng_adv_key_free(k);
    ng_weights_free(w);
    ng_model_free(m);
    ng_weights_free(w0);
    ng_model_free(m0);
    free_snap(&orig);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    return tu_done();
}
