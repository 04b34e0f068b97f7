/* formats/dataset_cifar.c - CIFAR-10 binary batches, and finding a dataset in a folder.
 *
 * CIFAR-10 binary: records of 3073 bytes: u8 label (0..9) | 1024 red | 1024 green | 1024 blue
 * (32x32 row-major each), i.e. already CHW. File size must be a positive multiple of 3073.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/core.h"
#include "nnguard/dataset.h"

#define CIFAR_REC   3073u
#define CIFAR_PIX   3072u
#define CIFAR_MAX_N 100000000ull

ng_status ng_dataset_load_cifar(const char *const *files, int nfiles, ng_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (nfiles <= 0) return ng_fail(NG_E_INVALID, "CIFAR-10: no batch files given");
    uint64_t total = 0;
    for (int f = 0; f < nfiles; f++) {
        struct stat sb;
        if (stat(files[f], &sb) != 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", files[f], strerror(errno));
        if (sb.st_size <= 0 || sb.st_size % CIFAR_REC)
            return ng_fail(NG_E_FORMAT, "%s: %lld bytes is not a multiple of the 3073-byte CIFAR-10 record "
                           "(label + 3072 pixels): not a CIFAR-10 binary batch, or truncated",
                           files[f], (long long)sb.st_size);
        total += (uint64_t)sb.st_size / CIFAR_REC;
    }
    if (total > CIFAR_MAX_N) return ng_fail(NG_E_FORMAT, "CIFAR-10: %llu records, more than allowed", (unsigned long long)total);
    float *x = malloc(total * CIFAR_PIX * sizeof *x);
    int32_t *y = malloc(total * sizeof *y);
    ng_status st = x && y ? NG_OK : ng_fail(NG_E_NOMEM, "CIFAR-10: cannot allocate %llu images", (unsigned long long)total);
    float lut[256];
    for (int i = 0; i < 256; i++) lut[i] = (float)i / 255.0f;
    uint64_t at = 0;
    for (int f = 0; f < nfiles && st == NG_OK; f++) {
        uint8_t *buf;
        size_t len;
        if ((st = ng_read_file(files[f], (size_t)CIFAR_MAX_N * CIFAR_REC, &buf, &len)) != NG_OK) break;
        if (len % CIFAR_REC || at + len / CIFAR_REC > total) {
            st = ng_fail(NG_E_IO, "%s: changed size while being read", files[f]);
        }
        for (size_t r = 0; st == NG_OK && r < len / CIFAR_REC; r++, at++) {
            const uint8_t *rec = buf + r * CIFAR_REC;
            if (rec[0] > 9) {
                st = ng_fail(NG_E_FORMAT, "%s: record %zu has label %u; CIFAR-10 labels are 0..9", files[f], r, rec[0]);
                break;
            }
            y[at] = rec[0];
            for (size_t i = 0; i < CIFAR_PIX; i++) x[at * CIFAR_PIX + i] = lut[rec[1 + i]];
        }
        free(buf);
    }
    if (st != NG_OK) { free(x); free(y); return st; }
    *out = (ng_dataset){.n = (int64_t)total, .c = 3, .h = 32, .w = 32, .classes = 10, .x = x, .y = y};
    return NG_OK;
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir/name(.gz) if one exists (gz first) into buf. */
static int find_idx(const char *dir, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s.gz", dir, name);
    if (is_file(buf)) return 1;
    snprintf(buf, cap, "%s/%s", dir, name);
    return is_file(buf);
}

static ng_status load_cifar_dir(const char *dir, ng_split split, int *found, ng_dataset *out)
{
    char paths[5][4096];
    const char *files[5];
    int n = 0;
    if (split == NG_SPLIT_TEST) {
        snprintf(paths[0], sizeof paths[0], "%s/test_batch.bin", dir);
        if (is_file(paths[0])) files[n++] = paths[0];
    } else {
        for (int b = 1; b <= 5; b++) {
            snprintf(paths[n], sizeof paths[n], "%s/data_batch_%d.bin", dir, b);
            if (is_file(paths[n])) { files[n] = paths[n]; n++; }
        }
    }
    *found = n > 0;
    return n ? ng_dataset_load_cifar(files, n, out) : NG_OK;
}

ng_status ng_dataset_load_dir(const char *dir, ng_split split, ng_dataset *out)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ng_fail(NG_E_IO, "%s: not a folder (%s)", dir, errno ? strerror(errno) : "not a directory");
    const char *pre = split == NG_SPLIT_TEST ? "t10k" : "train";
    char nimg[64], nlab[64], pimg[4096], plab[4096];
    snprintf(nimg, sizeof nimg, "%s-images-idx3-ubyte", pre);
    snprintf(nlab, sizeof nlab, "%s-labels-idx1-ubyte", pre);
    int hi = find_idx(dir, nimg, pimg, sizeof pimg), hl = find_idx(dir, nlab, plab, sizeof plab);
    if (hi && hl) return ng_dataset_load_idx(pimg, plab, out);
    if (hi != hl)
        return ng_fail(NG_E_IO, "%s: found %s but not %s[.gz]", dir, hi ? pimg : plab, hi ? nlab : nimg);
    int found = 0;
    ng_status st = load_cifar_dir(dir, split, &found, out);
    if (found) return st;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    st = load_cifar_dir(sub, split, &found, out);
    if (found) return st;
    return ng_fail(NG_E_IO, "%s: no %s dataset found: looked for %s[.gz] + %s[.gz] (MNIST IDX) and %s "
                   "(CIFAR-10 binary, also in cifar-10-batches-bin/)", dir, split == NG_SPLIT_TEST ? "test" : "training",
                   nimg, nlab, split == NG_SPLIT_TEST ? "test_batch.bin" : "data_batch_1..5.bin");
}
