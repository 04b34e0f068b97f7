/* test_fuzz_corpus: replay every fuzz seed (fuzz/corpus/<target>/) and every crash ever
 * found (fuzz/regressions/<target>/) through its target, plus deterministic mutations of
 * each seed (truncations, byte flips, length-field edits), so the normal and the sanitizer
 * test runs exercise the parsers on hostile input without libFuzzer. A target "fails" by
 * crashing, which ends the test. */
#define _GNU_SOURCE   /* targets.c needs memfd_create, memmem */
#include <dirent.h>
#include "tutil.h"
#include "core/core.h"
#include "targets.c"

static int replay_dir(const ng_fuzz_target *t, const char *kind, int mutate)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz/%s/%s", NG_SOURCE_DIR, kind, t->name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int files = 0;
    ng_rng r;
    ng_rng_seed(&r, 7);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *buf;
        size_t len;
        if (ng_read_file(path, 64u << 20, &buf, &len) != NG_OK) continue;
        t->fn(buf, len);
        files++;
        if (mutate && len > 0) {
            uint8_t *m = malloc(len);
            /* every truncation of small files, 64 of larger ones */
            size_t step = len <= 512 ? 1 : len / 64;
            for (size_t cut = 0; cut < len; cut += step) t->fn(buf, cut);
            for (int k = 0; k < 200; k++) {
                memcpy(m, buf, len);
                int flips = 1 + (int)ng_rng_below(&r, 4);
                for (int f = 0; f < flips; f++) {
                    size_t at = ng_rng_below(&r, (uint32_t)(len < UINT32_MAX ? len : UINT32_MAX));
                    /* bias towards the front, where lengths and headers live */
                    if (k % 2 == 0) at %= (len < 64 ? len : 64);
                    static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
                    m[at] = (k % 3 == 0) ? vals[ng_rng_below(&r, 5)] : (uint8_t)ng_rng_u64(&r);
                }
                t->fn(m, len);
            }
            free(m);
        }
        free(buf);
    }
    closedir(d);
    return files;
}

/* The crashes once found must now be clear errors, not merely survived. */
static void regressions_are_errors(void)
{
    char path[1024];
    ng_model *m = NULL;
    snprintf(path, sizeof path, "%s/fuzz/regressions/onnx/conv-absent-weight-input", NG_SOURCE_DIR);
    CHECK_ST(ng_model_load(path, &m), NG_E_FORMAT);
    CHECKF(strstr(ng_last_error(), "required but empty") != NULL, "message: %s", ng_last_error());
    ng_model_free(m);
    m = NULL;   /* an LSTM whose W input is the empty name (found by the CI's fuzz run) */
    snprintf(path, sizeof path, "%s/fuzz/regressions/onnx/lstm-absent-w-input", NG_SOURCE_DIR);
    CHECK_ST(ng_model_load(path, &m), NG_E_FORMAT);
    CHECKF(strstr(ng_last_error(), "input 1 (X, W or R) is required but empty") != NULL, "message: %s", ng_last_error());
    ng_model_free(m);
    ng_idx_images im;
    snprintf(path, sizeof path, "%s/fuzz/regressions/cli_idx/oom-huge-count-tiny-file", NG_SOURCE_DIR);
    CHECK_ST(ng_idx_images_load(path, 0, &im), NG_E_FORMAT);
    CHECKF(strstr(ng_last_error(), "truncated") != NULL, "message: %s", ng_last_error());
    /* a blend weight positive as a double but zero as a float */
    ng_stamp_options so;
    CHECK_ST(ng_license_stamp_parse("blend 1e-126", "m.onnx", &so), NG_E_FORMAT);
    CHECKF(strstr(ng_last_error(), "m.onnx") != NULL, "message: %s", ng_last_error());
    CHECK_OK(ng_license_stamp_parse("blend 1e-06", "m.onnx", &so));
    CHECKF(so.mode == NG_STAMP_BLEND && so.alpha > 0, "alpha %g", (double)so.alpha);
}

int main(void)
{
    CHECK_OK(ng_init());
    regressions_are_errors();
    for (int i = 0; i < ng_fuzz_ntargets; i++) {
        const ng_fuzz_target *t = &ng_fuzz_targets[i];
        int seeds = replay_dir(t, "corpus", 1);
        int regs = replay_dir(t, "regressions", 0);
        printf("%-12s %3d seeds (with mutations), %3d regression inputs\n", t->name, seeds, regs);
        /* every target must have seeds: a harness that never sees valid input finds little */
        CHECKF(seeds > 0, "target %s has no seed corpus in fuzz/corpus/%s", t->name, t->name);
    }
    return tu_done();
}
