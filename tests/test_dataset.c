/* test_dataset: Fashion-MNIST from its IDX files (counts, labels, known pixel values, gzip ==
 * plain), a synthetic CIFAR-10 batch, stratified subset/split (exact per-class counts, seeded),
 * head/gather, and corrupted IDX/CIFAR files refused with messages naming the file. */
#include <sys/stat.h>
#include <zlib.h>
#include "tutil.h"

static char g_buf[512];
static const char *tmp(const char *name)
{
    snprintf(g_buf, sizeof g_buf, "%s/%s", tu_tmpdir(), name);
    return g_buf;
}

static void counts(const ng_dataset *d, int64_t *c)
{
    for (int i = 0; i < 10; i++) c[i] = 0;
    for (int64_t i = 0; i < d->n; i++)
        if (d->y[i] >= 0 && d->y[i] < 10) c[d->y[i]]++;
}

static int all_counts(const ng_dataset *d, int64_t want)
{
    int64_t c[10];
    counts(d, c);
    for (int i = 0; i < 10; i++)
        if (c[i] != want) return 0;
    return 1;
}

/* FNV-1a of one example (pixels and label), to compare sets of examples. */
static uint64_t ex_hash(const ng_dataset *d, int64_t i)
{
    size_t es = (size_t)d->c * d->h * d->w;
    const uint8_t *p = (const uint8_t *)(d->x + (size_t)i * es);
    uint64_t h = 1469598103934665603ull ^ (uint64_t)d->y[i];
    for (size_t k = 0; k < es * sizeof(float); k++) h = (h ^ p[k]) * 1099511628211ull;
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t *hashes(const ng_dataset *d)
{
    uint64_t *h = malloc((size_t)(d->n ? d->n : 1) * sizeof *h);
    for (int64_t i = 0; i < d->n; i++) h[i] = ex_hash(d, i);
    qsort(h, (size_t)d->n, sizeof *h, cmp_u64);
    return h;
}

static void gunzip(const char *src, const char *dst)
{
    gzFile g = gzopen(src, "rb");
    FILE *f = fopen(dst, "wb");
    char b[65536];
    int r;
    while (g && f && (r = gzread(g, b, sizeof b)) > 0) fwrite(b, 1, (size_t)r, f);
    if (g) gzclose(g);
    if (f) fclose(f);
}

static void test_fashion(ng_dataset *tr, ng_dataset *te)
{
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, tr));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, te));
    CHECK(tr->n == 60000 && te->n == 10000);
    CHECK(tr->c == 1 && tr->h == 28 && tr->w == 28 && te->c == 1 && te->h == 28 && te->w == 28);
    CHECK(tr->classes == 10 && te->classes == 10);
    if (tr->n != 60000 || te->n != 10000) return;
    CHECK(tr->y[0] == 9 && te->y[0] == 9);
    int32_t first5[5] = {9, 2, 1, 1, 6};
    CHECK(memcmp(te->y, first5, sizeof first5) == 0);
    CHECK(all_counts(tr, 6000));
    CHECK(all_counts(te, 1000));
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < te->n * 784; i++) {
        if (te->x[i] < lo) lo = te->x[i];
        if (te->x[i] > hi) hi = te->x[i];
    }
    CHECK(lo == 0.0f && hi == 1.0f);
    /* first test image: raw bytes sum to 33456; pixels 400..409 are known bytes / 255 */
    double s = 0;
    for (int i = 0; i < 784; i++) s += te->x[i];
    CHECK_NEAR(s, 33456.0 / 255.0, 1e-4);
    const int raw[10] = {1, 0, 0, 0, 98, 136, 110, 109, 110, 162};
    int exact = 1;
    for (int i = 0; i < 10; i++) exact &= te->x[400 + i] == (float)raw[i] / 255.0f;
    CHECK(exact);
    double s0 = 0;
    for (int i = 0; i < 784; i++) s0 += tr->x[i];
    CHECK_NEAR(s0, 76247.0 / 255.0, 1e-4);

    /* plain (gunzipped) files give the same data as the gzip ones */
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tmp("plain"));
    mkdir(dir, 0700);
    char src[1024], dst[1024];
    const char *names[2] = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/%s.gz", NG_FMNIST_DIR, names[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
        gunzip(src, dst);
    }
    ng_dataset p;
    CHECK_OK(ng_dataset_load_dir(dir, NG_SPLIT_TEST, &p));
    CHECK(p.n == te->n && p.x && memcmp(p.x, te->x, (size_t)te->n * 784 * sizeof(float)) == 0 &&
          memcmp(p.y, te->y, (size_t)te->n * sizeof(int32_t)) == 0);
    ng_dataset_free(&p);
    /* the train split is not in that folder: the message names the folder and the files */
    CHECK_ST(ng_dataset_load_dir(dir, NG_SPLIT_TRAIN, &p), NG_E_IO);
    CHECK(strstr(ng_last_error(), dir) && strstr(ng_last_error(), "train-images-idx3-ubyte") &&
          strstr(ng_last_error(), "data_batch_1"));
    CHECK(p.n == 0 && p.x == NULL);
}

static void test_ops(const ng_dataset *tr, const ng_dataset *te)
{
    ng_dataset a, b, c;
    /* 1% and 10% of the training set: exact per-class counts */
    CHECK_OK(ng_dataset_subset(tr, 0.01, 0, 42, &a));
    CHECK(a.n == 600 && all_counts(&a, 60) && a.classes == 10 && a.h == 28);
    CHECK_OK(ng_dataset_subset(tr, 0.10, 0, 42, &b));
    CHECK(b.n == 6000 && all_counts(&b, 600));
    ng_dataset_free(&b);
    /* same seed: same subset; another seed: another */
    CHECK_OK(ng_dataset_subset(tr, 0.01, 0, 42, &b));
    CHECK(b.n == a.n && memcmp(a.x, b.x, (size_t)a.n * 784 * sizeof(float)) == 0 &&
          memcmp(a.y, b.y, (size_t)a.n * sizeof(int32_t)) == 0);
    CHECK_OK(ng_dataset_subset(tr, 0.01, 0, 43, &c));
    CHECK(c.n == 600 && all_counts(&c, 60));
    uint64_t *ha = hashes(&a), *hc = hashes(&c);
    int common = 0, dups = 0;
    for (int64_t i = 0, j = 0; i < a.n && j < c.n;) {
        if (ha[i] == hc[j]) { common++; i++; j++; }
        else if (ha[i] < hc[j]) i++;
        else j++;
    }
    for (int64_t i = 1; i < a.n; i++) dups += ha[i] == ha[i - 1];
    CHECKF(common < 60, "seeds 42 and 43 share %d of 600 examples", common);   /* ~6 expected */
    CHECKF(dups <= 2, "%d duplicate examples in a subset", dups);               /* the data has a few */
    free(ha); free(hc);
    ng_dataset_free(&a); ng_dataset_free(&b); ng_dataset_free(&c);

    /* a count: 25 of the test set (2.5 per class: classes 0..4 get 3, 5..9 get 2) */
    CHECK_OK(ng_dataset_subset(te, 0, 25, 1, &a));
    int64_t k[10];
    counts(&a, k);
    CHECK(a.n == 25 && k[0] == 3 && k[4] == 3 && k[5] == 2 && k[9] == 2);
    ng_dataset_free(&a);
    CHECK_ST(ng_dataset_subset(te, 0, 10001, 1, &a), NG_E_INVALID);
    CHECK_ST(ng_dataset_subset(te, 1.5, 0, 1, &a), NG_E_INVALID);

    /* split: 10% held out per class, disjoint and complete */
    CHECK_OK(ng_dataset_split(te, 0.1, 7, &a, &b));
    CHECK(a.n == 9000 && b.n == 1000 && all_counts(&a, 900) && all_counts(&b, 100));
    if (a.n + b.n == te->n) {
        ng_dataset u;
        int64_t *idx = malloc(sizeof *idx);
        /* union of both parts as hashes against the original's */
        uint64_t *hu = malloc((size_t)te->n * sizeof *hu), *ho = hashes(te);
        for (int64_t i = 0; i < a.n; i++) hu[i] = ex_hash(&a, i);
        for (int64_t i = 0; i < b.n; i++) hu[a.n + i] = ex_hash(&b, i);
        qsort(hu, (size_t)te->n, sizeof *hu, cmp_u64);
        CHECK(memcmp(hu, ho, (size_t)te->n * sizeof *hu) == 0);
        free(hu); free(ho);
        idx[0] = 0;
        CHECK_OK(ng_dataset_gather(&b, idx, 1, &u));
        ng_dataset_free(&u);
        free(idx);
    }
    ng_dataset_free(&a); ng_dataset_free(&b);
    /* same seed: same held-out part; another seed: another */
    ng_dataset a2, b2;
    CHECK_OK(ng_dataset_split(te, 0.1, 7, &a, &b));
    CHECK_OK(ng_dataset_split(te, 0.1, 7, &a2, &b2));
    CHECK(b.n == b2.n && memcmp(b.y, b2.y, (size_t)b.n * sizeof(int32_t)) == 0 &&
          memcmp(b.x, b2.x, (size_t)b.n * 784 * sizeof(float)) == 0);
    ng_dataset_free(&a2); ng_dataset_free(&b2);
    CHECK_OK(ng_dataset_split(te, 0.1, 8, &a2, &b2));
    CHECK(b2.n == 1000 && memcmp(b.x, b2.x, (size_t)b.n * 784 * sizeof(float)) != 0);
    ng_dataset_free(&a2); ng_dataset_free(&b2);
    ng_dataset_free(&a); ng_dataset_free(&b);
    CHECK_ST(ng_dataset_split(te, 1.0, 7, &a, &b), NG_E_INVALID);

    /* head and gather */
    CHECK_OK(ng_dataset_head(te, 5, &a));
    int32_t first5[5] = {9, 2, 1, 1, 6};
    CHECK(a.n == 5 && memcmp(a.y, first5, sizeof first5) == 0 && memcmp(a.x, te->x, 5 * 784 * sizeof(float)) == 0);
    ng_dataset_free(&a);
    CHECK_OK(ng_dataset_head(te, 0, &a));
    CHECK(a.n == te->n);
    ng_dataset_free(&a);
    int64_t idx[3] = {3, 0, 9999};
    CHECK_OK(ng_dataset_gather(te, idx, 3, &a));
    CHECK(a.n == 3 && a.y[0] == 1 && a.y[1] == 9 && a.y[2] == te->y[9999]);
    CHECK(a.n == 3 && memcmp(a.x + 784, te->x, 784 * sizeof(float)) == 0);
    ng_dataset_free(&a);
    idx[2] = 10000;
    CHECK_ST(ng_dataset_gather(te, idx, 3, &a), NG_E_INVALID);
}

/* Write an IDX file: header words (big-endian) then body; gzip if gz. */
static const char *write_idx(const char *name, const uint32_t *hdr, int nh, const uint8_t *body, size_t n, int gz)
{
    uint8_t h[16];
    for (int i = 0; i < nh; i++) {
        h[4 * i] = (uint8_t)(hdr[i] >> 24); h[4 * i + 1] = (uint8_t)(hdr[i] >> 16);
        h[4 * i + 2] = (uint8_t)(hdr[i] >> 8); h[4 * i + 3] = (uint8_t)hdr[i];
    }
    const char *p = tmp(name);
    if (gz) {
        gzFile g = gzopen(p, "wb");
        gzwrite(g, h, (unsigned)(4 * nh));
        if (n) gzwrite(g, body, (unsigned)n);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        fwrite(h, 1, (size_t)(4 * nh), f);
        if (n) fwrite(body, 1, n, f);
        fclose(f);
    }
    return p;
}

/* load_idx(images, labels) must fail with a message naming the file `blame`. */
static void expect_idx_bad(const char *img, const char *lab, const char *blame, const char *what)
{
    ng_dataset d;
    ng_status st = ng_dataset_load_idx(img, lab, &d);
    CHECKF(st != NG_OK && d.x == NULL && d.n == 0, "%s: loaded", what);
    CHECKF(strstr(ng_last_error(), blame) != NULL, "%s: message \"%s\" does not name %s", what, ng_last_error(), blame);
}

static void test_bad_idx(void)
{
    uint8_t body[4 * 4 * 3 + 64], labs[8] = {0, 1, 2, 1, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof body; i++) body[i] = (uint8_t)(i * 7);
    for (int gz = 0; gz < 2; gz++) {
        char img[4096], lab[4096];
        /* a good tiny pair first: 3 images of 4x4, labels 0 1 2 */
        snprintf(lab, sizeof lab, "%s", write_idx(gz ? "l.gz" : "l", (uint32_t[]){2049, 3}, 2, labs, 3, gz));
        snprintf(img, sizeof img, "%s", write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 3, 4, 4}, 4, body, 48, gz));
        ng_dataset d;
        CHECK_OK(ng_dataset_load_idx(img, lab, &d));
        CHECK(d.n == 3 && d.h == 4 && d.w == 4 && d.classes == 3 && d.y[2] == 2 && d.x[47] == (float)body[47] / 255.0f);
        ng_dataset_free(&d);
        expect_idx_bad(lab, img, img, "swapped");
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2050, 3, 4, 4}, 4, body, 48, gz);
        expect_idx_bad(img, lab, img, "bad magic");
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 3, 4, 4}, 4, body, 47, gz);
        expect_idx_bad(img, lab, img, "truncated");
        CHECK(strstr(ng_last_error(), "truncated") != NULL);
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 3, 4, 4}, 4, body, 49, gz);
        expect_idx_bad(img, lab, img, "trailing byte");
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 3}, 2, body, 0, gz);
        expect_idx_bad(img, lab, img, "header cut");
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 4, 4, 3}, 4, body, 48, gz);
        expect_idx_bad(img, lab, img, "count mismatch");
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 3, 5000, 4}, 4, body, 48, gz);
        expect_idx_bad(img, lab, img, "rows 5000");
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 200000000, 4, 4}, 4, body, 48, gz);
        expect_idx_bad(img, lab, img, "n 200M");
        /* a header announcing 100M images of 4096x4096 over 48 bytes: refused, nothing huge allocated */
        write_idx(gz ? "l.gz" : "l", (uint32_t[]){2049, 100000000}, 2, labs, 3, gz);
        write_idx(gz ? "i.gz" : "i", (uint32_t[]){2051, 100000000, 4096, 4096}, 4, body, 48, gz);
        expect_idx_bad(img, lab, lab, "huge counts, tiny file");
    }
    /* a corrupted gzip stream */
    FILE *f = fopen(tmp("c.gz"), "wb");
    fwrite("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-garbage-garbage", 1, 33, f);
    fclose(f);
    char cz[4096];
    snprintf(cz, sizeof cz, "%s", tmp("c.gz"));
    expect_idx_bad(cz, cz, cz, "corrupt gzip");
    expect_idx_bad(tmp("nope"), tmp("nope"), "nope", "missing file");
}

static void test_cifar(void)
{
    /* 4 records, labels 3 0 9 5; pixel byte j of record r = (r*31 + j) & 255 */
    char dir[512], sub[1024], path[2048];
    snprintf(dir, sizeof dir, "%s", tmp("cifar"));
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    mkdir(dir, 0700); mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/test_batch.bin", sub);
    uint8_t rec[4][3073];
    const uint8_t lab[4] = {3, 0, 9, 5};
    for (int r = 0; r < 4; r++) {
        rec[r][0] = lab[r];
        for (int j = 0; j < 3072; j++) rec[r][1 + j] = (uint8_t)((r * 31 + j) & 255);
    }
    FILE *f = fopen(path, "wb");
    fwrite(rec, 1, sizeof rec, f);
    fclose(f);
    ng_dataset d;
    CHECK_OK(ng_dataset_load_dir(dir, NG_SPLIT_TEST, &d));
    CHECK(d.n == 4 && d.c == 3 && d.h == 32 && d.w == 32 && d.classes == 10);
    if (d.n == 4) {
        CHECK(d.y[0] == 3 && d.y[1] == 0 && d.y[2] == 9 && d.y[3] == 5);
        /* record 2, green channel (1024..2047), row 1, col 2 */
        int j = 1024 + 32 + 2;
        CHECK(d.x[2 * 3072 + j] == (float)((2 * 31 + j) & 255) / 255.0f);
        CHECK(d.x[3 * 3072 + 3071] == (float)((3 * 31 + 3071) & 255) / 255.0f);
    }
    ng_dataset_free(&d);
    const char *files[2] = {path, path};
    CHECK_OK(ng_dataset_load_cifar(files, 2, &d));
    CHECK(d.n == 8 && d.y[4] == 3);
    ng_dataset_free(&d);
    /* train split absent: message names the folder and data_batch files */
    CHECK(ng_dataset_load_dir(dir, NG_SPLIT_TRAIN, &d) != NG_OK && strstr(ng_last_error(), "data_batch_1"));
    /* size not a multiple of 3073, label 10 */
    f = fopen(path, "wb");
    fwrite(rec, 1, sizeof rec - 1, f);
    fclose(f);
    CHECK_ST(ng_dataset_load_dir(dir, NG_SPLIT_TEST, &d), NG_E_FORMAT);
    CHECK(strstr(ng_last_error(), path) != NULL);
    rec[1][0] = 10;
    f = fopen(path, "wb");
    fwrite(rec, 1, sizeof rec, f);
    fclose(f);
    CHECK_ST(ng_dataset_load_cifar(files, 1, &d), NG_E_FORMAT);
    CHECK(strstr(ng_last_error(), path) && strstr(ng_last_error(), "record 1"));
    CHECK(d.x == NULL && d.n == 0);
}

int main(void)
{
    CHECK_OK(ng_init());
    ng_dataset tr = {0}, te = {0};
    test_fashion(&tr, &te);
    if (tr.n == 60000 && te.n == 10000) test_ops(&tr, &te);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    test_bad_idx();
    test_cifar();
    CHECK_ST(ng_dataset_load_dir(tmp("no-such-folder"), NG_SPLIT_TEST, &tr), NG_E_IO);
    CHECK(strstr(ng_last_error(), "no-such-folder") != NULL);
    return tu_done();
}
