/* test_nolostdata: every writer of the library, made to fail part-way with the write fault hook
 * (ng_fault_write_after: ENOSPC after B bytes, B = 0, 1, a few hundred, half and all-but-one of the
 * output), must leave an existing output file byte-identical, its input untouched, and no
 * ".<name>.tmp-*" file in the folder; the same call without the fault must succeed and change the
 * output (so the test can fail). Writers: ng_write_file_atomic, ng_weights_save (ONNX and
 * safetensors), ng_model_save_onnx / _safetensors, Deep-Lock lock/unlock in memory and streaming,
 * ng_key_save and ng_adv_key_save (exclusive: no file may appear), AdvParams decrypt + save. */
#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tutil.h"
#include "core/core.h"
#include "nnguard/deeplock.h"
#include "nnguard/advparams.h"
#include "protect/advparams/advparams_impl.h"

static const char *ORIG = "original output, must survive\n";

/* name inside the test folder, in a fresh heap string (freed at exit via the list below) */
static char *g_paths[32];
static int g_npaths;
static char *path_in(const char *name)
{
    char *p = malloc(1024);
    snprintf(p, 1024, "%s/%s", tu_tmpdir(), name);
    if (g_npaths < 32) g_paths[g_npaths++] = p;
    return p;
}
static void free_paths(void) { for (int i = 0; i < g_npaths; i++) free(g_paths[i]); }

static void hash_file(const char *path, uint8_t h[32])
{
    uint8_t *b; size_t n;
    memset(h, 0, 32);
    if (ng_read_file(path, 1u << 30, &b, &n) == NG_OK) { crypto_hash_sha256(h, b, n); free(b); }
}

static size_t file_size(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 ? (size_t)s.st_size : 0;
}

/* Temp files left in the test folder. */
static int temp_files(void)
{
    DIR *d = opendir(tu_tmpdir());
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (e->d_name[0] == '.' && strstr(e->d_name, ".tmp-")) { n++; fprintf(stderr, "left behind: %s\n", e->d_name); }
    if (d) closedir(d);
    return n;
}

typedef ng_status (*writer_fn)(void *ctx, const char *out);

/* Run w into out (pre-filled with ORIG unless excl) under faults at several offsets. */
static void check_writer(const char *what, writer_fn w, void *ctx, const char *in, int excl)
{
    static const char *out, *probe;
    if (!out) { out = path_in("out.bin"); probe = path_in("probe.bin"); }
    uint8_t in_h[32], in_h2[32];
    if (in) hash_file(in, in_h);
    /* the size of a complete output */
    unlink(probe);
    ng_fault_write_after(-1);
    ng_status st = w(ctx, probe);
    CHECKF(st == NG_OK, "%s: fault-free write failed: %s", what, ng_last_error());
    size_t full = file_size(probe);
    unlink(probe);
    CHECKF(full > 0, "%s: wrote nothing", what);
    int64_t at[] = {0, 1, 300, (int64_t)full / 2, (int64_t)full - 1};
    int failures_seen = 0;
    for (size_t i = 0; i < NG_ARRAY_LEN(at); i++) {
        if (at[i] < 0 || (i > 0 && at[i] <= at[i - 1]) || at[i] >= (int64_t)full) continue;
        unlink(out);
        if (!excl) CHECK_OK(ng_write_file_atomic(out, ORIG, strlen(ORIG), 0644));
        ng_fault_write_after(at[i]);
        st = w(ctx, out);
        ng_fault_write_after(-1);
        CHECKF(st != NG_OK, "%s: a write failing after %lld of %zu bytes was reported as success", what,
               (long long)at[i], full);
        if (st != NG_OK) failures_seen++;
        if (excl) {
            CHECKF(access(out, F_OK) != 0, "%s: failed exclusive write left a file behind (fault at %lld)", what,
                   (long long)at[i]);
        } else {
            uint8_t *b; size_t n;
            int same = ng_read_file(out, 1 << 20, &b, &n) == NG_OK && n == strlen(ORIG) && memcmp(b, ORIG, n) == 0;
            if (same || n) free(b);
            CHECKF(same, "%s: original output changed after a write failing at %lld bytes", what, (long long)at[i]);
        }
        CHECKF(temp_files() == 0, "%s: temp file left after a fault at %lld bytes", what, (long long)at[i]);
    }
    CHECKF(failures_seen >= 2, "%s: fewer than 2 fault offsets exercised", what);
    /* without the fault the output is replaced (excl: created) */
    unlink(out);
    if (!excl) CHECK_OK(ng_write_file_atomic(out, ORIG, strlen(ORIG), 0644));
    CHECK_OK(w(ctx, out));
    CHECKF(file_size(out) == full, "%s: complete output has %zu bytes, expected %zu", what, file_size(out), full);
    if (excl) CHECK_ST(w(ctx, out), NG_E_EXISTS);   /* never overwritten */
    unlink(out);
    if (in) {
        hash_file(in, in_h2);
        CHECKF(memcmp(in_h, in_h2, 32) == 0, "%s: the input file changed", what);
    }
    CHECK(temp_files() == 0);
    printf("%-34s ok: output %zu bytes, faults at up to %d offsets\n", what, full, failures_seen);
}

/* ---- the writers ---- */
typedef struct ctx {
    const char *in;
    ng_weights *w;
    ng_model *m;
    ng_key key;
    ng_adv_key *ak;
} ctx;

static ng_status w_atomic(void *c, const char *out)
{
    (void)c;
    static uint8_t buf[10000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)i;
    return ng_write_file_atomic(out, buf, sizeof buf, 0644);
}
static ng_status w_weights(void *c, const char *out) { return ng_weights_save(((ctx *)c)->w, out); }
static ng_status w_model_onnx(void *c, const char *out) { return ng_model_save_onnx(((ctx *)c)->m, out); }
static ng_status w_model_st(void *c, const char *out) { return ng_model_save_safetensors(((ctx *)c)->m, out); }

static ng_status w_lock_file(void *c, const char *out)
{
    ng_deeplock_secret s = {.key = &((ctx *)c)->key};
    return ng_deeplock_lock_file(((ctx *)c)->in, out, &s, NULL);
}
static ng_status w_unlock_file(void *c, const char *out)
{
    ng_deeplock_secret s = {.key = &((ctx *)c)->key};
    return ng_deeplock_unlock_file(((ctx *)c)->in, out, &s, NULL);
}
static ng_status w_lock_stream(void *c, const char *out)
{
    ng_deeplock_secret s = {.key = &((ctx *)c)->key};
    ng_deeplock_options o = ng_deeplock_options_default();
    o.chunk_bytes = 1024;
    return ng_deeplock_lock_stream(((ctx *)c)->in, out, &s, &o);
}
static ng_status w_unlock_stream(void *c, const char *out)
{
    ng_deeplock_secret s = {.key = &((ctx *)c)->key};
    ng_deeplock_options o = ng_deeplock_options_default();
    o.chunk_bytes = 1024;
    return ng_deeplock_unlock_stream(((ctx *)c)->in, out, &s, &o);
}
static ng_status w_key(void *c, const char *out) { return ng_key_save(&((ctx *)c)->key, out, NULL, 0); }
static ng_status w_key_sealed(void *c, const char *out) { return ng_key_save(&((ctx *)c)->key, out, "pw", 2); }
static ng_status w_advkey(void *c, const char *out) { return ng_adv_key_save(((ctx *)c)->ak, out, NULL, 0); }

/* AdvParams decrypt as the CLI does it: open, decrypt in memory, save. */
static ng_status w_adv_decrypt(void *c, const char *out)
{
    ng_weights *w;
    ng_status st = ng_weights_open(((ctx *)c)->in, &w);
    if (st != NG_OK) return st;
    if ((st = ng_adv_decrypt(w, ((ctx *)c)->ak)) == NG_OK) st = ng_weights_save(w, out);
    ng_weights_free(w);
    return st;
}

int main(void)
{
    CHECK_OK(ng_init());
    ctx c = {0};
    const char *onnx = tu_path("fixtures/resbn.onnx");
    const char *st = path_in("resbn.safetensors"), *lk_onnx = path_in("locked.onnx"), *lk_st = path_in("locked.safetensors");
    CHECK_OK(ng_key_generate(256, &c.key));

    check_writer("ng_write_file_atomic", w_atomic, &c, NULL, 0);

    CHECK_OK(ng_model_load(onnx, &c.m));
    if (!c.m) return tu_done();
    c.in = onnx;
    check_writer("ng_model_save_onnx", w_model_onnx, &c, NULL, 0);
    check_writer("ng_model_save_safetensors", w_model_st, &c, NULL, 0);
    CHECK_OK(ng_model_save_safetensors(c.m, st));

    CHECK_OK(ng_weights_open(onnx, &c.w));
    check_writer("ng_weights_save (ONNX)", w_weights, &c, onnx, 0);
    ng_weights_free(c.w);
    CHECK_OK(ng_weights_open(st, &c.w));
    check_writer("ng_weights_save (safetensors)", w_weights, &c, st, 0);
    ng_weights_free(c.w);
    c.w = NULL;

    c.in = onnx;
    check_writer("deeplock lock (in memory, ONNX)", w_lock_file, &c, onnx, 0);
    c.in = st;
    check_writer("deeplock lock (in memory, st)", w_lock_file, &c, st, 0);
    check_writer("deeplock lock (streaming)", w_lock_stream, &c, st, 0);
    {
        ng_deeplock_secret s = {.key = &c.key};
        CHECK_OK(ng_deeplock_lock_file(onnx, lk_onnx, &s, NULL));
        CHECK_OK(ng_deeplock_lock_file(st, lk_st, &s, NULL));
    }
    c.in = lk_onnx;
    check_writer("deeplock unlock (in memory, ONNX)", w_unlock_file, &c, lk_onnx, 0);
    c.in = lk_st;
    check_writer("deeplock unlock (in memory, st)", w_unlock_file, &c, lk_st, 0);
    check_writer("deeplock unlock (streaming)", w_unlock_stream, &c, lk_st, 0);

    check_writer("ng_key_save (exclusive, 0600)", w_key, &c, NULL, 1);
    check_writer("ng_key_save sealed (exclusive)", w_key_sealed, &c, NULL, 1);

    /* An AdvParams key on resbn's first parameter, and the model "encrypted" with it. */
    ng_weights *w;
    CHECK_OK(ng_weights_open(onnx, &w));
    if (w) {
        ng_weights_id(w, (c.ak = ng_adv_key_new())->id_before);
        ng_param *p = ng_weights_param(w, 0);
        uint32_t orig, pert;
        float f = 7.5f;
        memcpy(&orig, p->data, 4);
        memcpy(&pert, &f, 4);
        memcpy(p->data, &pert, 4);
        CHECK_OK(ng_adv_key_push(c.ak, p->name, 0, orig, pert));
        ng_weights_id(w, c.ak->id_after);
        const char *enc = path_in("enc.onnx");
        CHECK_OK(ng_weights_save(w, enc));
        ng_weights_free(w);
        check_writer("ng_adv_key_save (exclusive, 0600)", w_advkey, &c, NULL, 1);
        c.in = enc;
        check_writer("advparams decrypt + save", w_adv_decrypt, &c, enc, 0);
        ng_adv_key_free(c.ak);
    }
    ng_key_wipe(&c.key);
    ng_model_free(c.m);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tu_tmpdir());
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tu_tmpdir());
    free_paths();
    return tu_done();
}
