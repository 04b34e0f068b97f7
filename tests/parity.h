/* tests/parity.h - replay PyTorch fixtures (manifest + _in/_out.f32 files, see tests/gen_fixtures.py
 * and tests/gen_models.py) through the engine: |ours - torch| <= 1e-4 * max(1, |torch|) elementwise
 * and the same argmax on >= 99.9% of rows. Paths are relative to the folder given (absolute or
 * under tests/). */
#ifndef NG_TESTS_PARITY_H
#define NG_TESTS_PARITY_H
#include "tutil.h"

static const char *pa_path(const char *dir, const char *name, const char *suffix)
{
    static char buf[4096];
    if (dir[0] == '/') snprintf(buf, sizeof buf, "%s/%s%s", dir, name, suffix);
    else snprintf(buf, sizeof buf, "%s/%s/%s%s", NG_TEST_DIR, dir, name, suffix);
    return buf;
}

/* Whole little-endian float32 file; *n gets the count. */
static float *read_f32(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return NULL; }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *p = malloc((size_t)len + 4);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) { free(p); p = NULL; }
    fclose(f);
    *n = (size_t)len / 4;
    return p;
}

static int parse_dims(const char *s, int64_t *d)
{
    int n = 0;
    while (*s && n < NG_MAX_DIMS) {
        d[n++] = strtoll(s, (char **)&s, 10);
        if (*s == 'x') s++;
    }
    return n;
}

/* Compare out (rows x cols) with ref; returns worst relative error, counts argmax agreement. */
static double compare(const char *name, const float *out, const float *ref, int64_t rows, int64_t cols, int64_t *agree)
{
    double worst = 0;
    int64_t bad = 0;
    *agree = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t a = 0, b = 0;
        for (int64_t c = 0; c < cols; c++) {
            float o = out[r * cols + c], t = ref[r * cols + c];
            double err = fabs((double)o - t) / fmax(1.0, fabs(t));
            if (!(err <= worst)) worst = err;   /* NaN counts as worst */
            if (!(err <= 1e-4) && bad++ < 3)
                fprintf(stderr, "%s: row %lld col %lld: ours %.9g torch %.9g\n", name, (long long)r, (long long)c, o, t);
            if (out[r * cols + c] > out[r * cols + a]) a = c;
            if (ref[r * cols + c] > ref[r * cols + b]) b = c;
        }
        *agree += a == b;
    }
    return worst;
}

/* Written back as ONNX (ng_model_save_onnx) and loaded again, the model gives the same outputs bit
 * for bit; a model whose ops ONNX 13-17 cannot express must be refused with a message saying so. */
static void roundtrip(const char *name, ng_model *m, const float *x, int64_t n, const float *y, size_t ny)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.onnx", tu_tmpdir(), name);
    ng_status st = ng_model_save_onnx(m, path);
    if (st == NG_E_UNSUPPORTED && strstr(ng_last_error(), "no equivalent")) { remove(path); return; }
    CHECKF(st == NG_OK, "%s: save_onnx: %s", name, ng_last_error());
    ng_model *r = NULL;
    if (st == NG_OK) {
        st = ng_model_load(path, &r);
        CHECKF(st == NG_OK, "%s: reload: %s", name, ng_last_error());
    }
    float *y2 = r ? malloc(ny * sizeof *y2) : NULL;
    if (y2) {
        CHECK_OK(ng_model_predict(r, x, n, (int)n, 2, y2));
        CHECKF(memcmp(y, y2, ny * sizeof *y2) == 0, "%s: outputs differ after save_onnx and load", name);
    }
    free(y2);
    ng_model_free(r);
    remove(path);
}

/* An exec with const_params (serving, predict over many batches): its second forward runs on the
 * weight caches the first one made (Winograd's transformed kernels) and agrees with PyTorch too. */
static void const_params_run(const char *name, ng_model *m, const float *x, int64_t n, const float *ref,
                             int64_t rows, int64_t cols)
{
    ng_exec_options o = ng_exec_options_default();
    o.threads = 2;
    o.const_params = 1;
    ng_exec *e = NULL;
    CHECK_OK(ng_exec_new(m, &o, &e));
    const float *out = NULL;
    ng_shape os;
    for (int i = 0; e && i < 2; i++) CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
    if (out) {
        int64_t agree;
        double worst = compare(name, out, ref, rows, cols, &agree);
        CHECKF(worst <= 1e-4, "%s: const_params exec: worst relative error %.3g", name, worst);
        CHECKF(agree * 1000 >= rows * 999, "%s: const_params exec: argmax agrees on %lld of %lld rows", name,
               (long long)agree, (long long)rows);
    }
    ng_exec_free(e);
}

static void check_fixture(const char *dir, const char *name, int64_t opset, const char *ins, const char *outs)
{
    int64_t di[NG_MAX_DIMS], dout[NG_MAX_DIMS];
    int ni = parse_dims(ins, di), no = parse_dims(outs, dout);
    size_t nx, ny;
    float *x = read_f32(pa_path(dir, name, "_in.f32"), &nx);
    float *y = read_f32(pa_path(dir, name, "_out.f32"), &ny);
    ng_model *m = NULL;
    ng_exec *e = NULL;
    CHECKF(x && y, "%s: fixture data missing", name);
    ng_status st = ng_model_load(pa_path(dir, name, ".onnx"), &m);
    CHECKF(st == NG_OK, "%s: load: %s", name, ng_last_error());
    if (st == NG_OK && x && y) {
        CHECKF(ng_model_opset(m) == opset, "%s: opset %lld, fixture says %lld", name, (long long)ng_model_opset(m), (long long)opset);
        ng_shape is;
        ng_model_input_shape(m, &is);
        CHECKF(is.ndim == ni && is.d[0] == -1, "%s: input shape has %d dims, batch %lld", name, is.ndim, (long long)is.d[0]);
        ng_exec_options o = ng_exec_options_default();
        o.threads = 2;
        CHECK_OK(ng_exec_new(m, &o, &e));
        const float *out = NULL;
        ng_shape os;
        if (e) CHECK_OK(ng_exec_forward(e, x, di[0], &out, &os));
        if (out) {
            int same = os.ndim == no;
            for (int i = 0; same && i < no; i++) same = os.d[i] == dout[i];
            CHECKF(same, "%s: output shape differs from PyTorch's %s", name, outs);
            if (same) {
                int64_t rows = dout[0], agree;
                double worst = compare(name, out, y, rows, (int64_t)ny / rows, &agree);
                CHECKF(worst <= 1e-4, "%s: worst relative error %.3g", name, worst);
                CHECKF(agree * 1000 >= rows * 999, "%s: argmax agrees on %lld of %lld rows", name, (long long)agree, (long long)rows);
                printf("%-22s opset %lld  worst rel err %.2e  argmax %lld/%lld\n", name, (long long)opset, worst,
                       (long long)agree, (long long)rows);
                roundtrip(name, m, x, di[0], out, (size_t)ny);
                const_params_run(name, m, x, di[0], y, rows, (int64_t)ny / rows);
            }
        }
    }
    ng_exec_free(e);
    ng_model_free(m);
    free(x);
    free(y);
}

/* Every fixture of dir/manifest.txt; returns how many. */
static int check_manifest(const char *dir)
{
    FILE *f = fopen(pa_path(dir, "manifest", ".txt"), "r");
    CHECKF(f != NULL, "missing %s", pa_path(dir, "manifest", ".txt"));
    char line[512];
    int count = 0;
    while (f && fgets(line, sizeof line, f)) {
        char name[128], ins[128], outs[128];
        long long opset;
        if (line[0] == '#' || sscanf(line, "%127s %lld %127s %127s", name, &opset, ins, outs) != 4) continue;
        check_fixture(dir, name, opset, ins, outs);
        count++;
    }
    if (f) fclose(f);
    return count;
}
#endif
