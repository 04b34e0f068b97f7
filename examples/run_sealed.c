/* examples/run_sealed.c - embed nnguard: open a sealed model (from its path, or from a memory buffer
 * as a program that ships the model inside itself would) with a key file or a license, and run
 * inference. The plaintext weights exist only in this process's memory.
 *
 *   run_sealed MODEL.onnx --key KEY [--buffer] [--compare PLAIN.onnx]
 *   run_sealed MODEL.onnx --license LIC --identity ME --issuer-pub ISSUER.pub [--buffer] [--compare PLAIN.onnx]
 *
 * Runs 8 inputs (a fixed pattern) through the model and prints each one's predicted class; with
 * --compare, also runs PLAIN.onnx and says whether the logits are bit-for-bit identical.
 * Built with the project (CMake target example_run_sealed); only the public API (nnguard/nnguard.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nnguard/nnguard.h"

static int die(const char *what)
{
    fprintf(stderr, "run_sealed: %s: %s\n", what, ng_last_error());
    return 1;
}

/* The whole file in a malloc'ed buffer (a program embedding a model would link it in instead). */
static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Logits of 8 fixed inputs; malloc'ed, 8 x classes floats. */
static float *run(ng_model *m, int *classes)
{
    ng_shape s;
    ng_model_input_shape(m, &s);
    int64_t per = s.d[1] * s.d[2] * s.d[3];
    *classes = ng_model_num_classes(m);
    float *x = malloc(sizeof(float) * (size_t)(8 * per)), *y = malloc(sizeof(float) * (size_t)(8 * *classes));
    if (!x || !y) { free(x); free(y); return NULL; }
    for (int64_t i = 0; i < 8 * per; i++) x[i] = (float)((i * 7919) % 256) / 255.0f;
    ng_status st = ng_model_predict(m, x, 8, 8, 0, y);
    free(x);
    if (st != NG_OK) { free(y); return NULL; }
    return y;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *key_file = NULL, *lic_file = NULL, *me_file = NULL, *iss_file = NULL, *plain = NULL;
    int buffer = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--buffer")) buffer = 1;
        else if (!strcmp(a, "--key") && v) key_file = argv[++i];
        else if (!strcmp(a, "--license") && v) lic_file = argv[++i];
        else if (!strcmp(a, "--identity") && v) me_file = argv[++i];
        else if (!strcmp(a, "--issuer-pub") && v) iss_file = argv[++i];
        else if (!strcmp(a, "--compare") && v) plain = argv[++i];
        else if (a[0] != '-' && !path) path = a;
        else { fprintf(stderr, "usage: run_sealed MODEL (--key KEY | --license L --identity ME --issuer-pub P) "
                               "[--buffer] [--compare PLAIN]\n"); return 2; }
    }
    if (!path || (!key_file == !lic_file) || (lic_file && (!me_file || !iss_file))) {
        fprintf(stderr, "usage: run_sealed MODEL (--key KEY | --license L --identity ME --issuer-pub P) [--buffer] [--compare PLAIN]\n");
        return 2;
    }
    if (ng_init() != NG_OK) return die("init");

    /* 1. the model's bytes, as weights (from the file or from memory) */
    ng_weights *w = NULL;
    size_t len = 0;
    void *buf = buffer ? slurp(path, &len) : NULL;
    if (buffer && !buf) { fprintf(stderr, "run_sealed: cannot read %s\n", path); return 1; }
    ng_status st = buffer ? ng_weights_open_buffer(buf, len, NG_FMT_ONNX, path, &w) : ng_weights_open(path, &w);
    free(buf);
    if (st != NG_OK) return die("open");

    /* 2. the key: a key file, or the key a license carries for this model and this identity */
    ng_key key;
    ng_license lic;   /* also read at step 3: the classes it grants */
    memset(&lic, 0, sizeof lic);
    if (key_file) {
        st = ng_key_load(key_file, NULL, 0, &key);
    } else {
        ng_identity me;
        ng_identity_pub iss;
        uint8_t id[32];
        st = ng_license_load(lic_file, &lic);
        if (st == NG_OK) st = ng_identity_pub_load(iss_file, &iss);
        if (st == NG_OK) st = ng_seal_id(w, id);
        if (st == NG_OK && (st = ng_identity_load(me_file, &me)) == NG_OK) {
            st = ng_license_open(&lic, lic_file, &iss, &me, id, (int64_t)time(NULL), &key);
            ng_identity_wipe(&me);   /* secrets wiped as soon as they are used */
        }
    }
    if (st != NG_OK) { ng_weights_free(w); return die("key"); }

    /* 3. unseal (and unlock, if it was Deep-Locked before sealing) in memory; build the model */
    ng_deeplock_secret s = {.key = &key};
    ng_weights *open = NULL;
    st = ng_seal_open_opened(w, &s, &open);   /* frees w on failure */
    ng_key_wipe(&key);
    if (st != NG_OK) return die("unseal");
    ng_model *m = NULL;
    st = ng_model_from_weights(open, &m);
    for (size_t i = 0; i < ng_weights_count(open); i++)   /* the model holds its own copy */
        memset(ng_weights_param(open, i)->data, 0, ng_weights_param(open, i)->nbytes);
    ng_weights_free(open);
    if (st == NG_OK && !key_file && lic.classes.limited) {   /* the classes the license grants */
        int n = ng_model_num_classes(m);
        uint8_t *mask = malloc((size_t)(n > 0 ? n : 1));
        st = mask ? ng_class_set_mask(&lic.classes, n, lic_file, mask) : NG_E_NOMEM;
        if (st == NG_OK) st = ng_model_restrict_classes(m, mask, n);
        free(mask);
        if (st != NG_OK) ng_model_free(m);
    }
    if (st != NG_OK) return die("model");

    /* 4. inference */
    int classes = 0;
    float *y = run(m, &classes);
    if (!y) { ng_model_free(m); return die("predict"); }
    printf("predicted:");
    for (int i = 0; i < 8; i++) {
        int best = 0;
        for (int c = 1; c < classes; c++) if (y[i * classes + c] > y[i * classes + best]) best = c;
        printf(" %d", best);
    }
    printf("\n");
    int rc = 0;
    if (plain) {
        ng_model *p = NULL;
        int pc = 0;
        float *py = ng_model_load(plain, &p) == NG_OK ? run(p, &pc) : NULL;
        int same = py && pc == classes && memcmp(py, y, sizeof(float) * (size_t)(8 * classes)) == 0;
        printf("logits %s the plain model's\n", same ? "identical to" : "DIFFERENT from");
        rc = !same;
        free(py);
        ng_model_free(p);
    }
    free(y);
    ng_model_free(m);
    return rc;
}
