/* fuzz/targets.c - the fuzz targets (see targets.h). Compiled into each harness and
 * into tests/test_fuzz_corpus.c. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "targets.h"
#include "nnguard/nnguard.h"
#include "nnguard/safetensors.h"

/* Bytes as a file path (memfd, no disk). Returns the fd (close it) and fills path. */
static int memfile(const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create("ng-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

static void exercise_weights(ng_weights *w)
{
    uint8_t id[32];
    char hex[65];
    for (size_t i = 0; i < ng_weights_count(w); i++) {
        ng_param *p = ng_weights_param(w, i);
        if (p->nbytes) p->data[p->nbytes - 1] ^= 1;   /* params must be writable */
    }
    for (size_t i = 0; i < ng_weights_meta_count(w); i++) {
        const char *k, *v;
        ng_weights_meta_at(w, i, &k, &v);
        (void)k; (void)v;
    }
    ng_weights_id(w, id);
    ng_id_hex(id, hex);
}

int ng_fuzz_onnx(const uint8_t *data, size_t size)
{
    ng_weights *w;
    ng_init();
    if (ng_weights_open_buffer(data, size, NG_FMT_ONNX, "fuzz.onnx", &w) != NG_OK) return 0;
    ng_model *m;
    if (ng_model_from_weights(w, &m) == NG_OK) ng_model_free(m);
    exercise_weights(w);
    ng_weights_free(w);
    return 0;
}

int ng_fuzz_safetensors(const uint8_t *data, size_t size)
{
    ng_weights *w;
    ng_init();
    if (ng_weights_open_buffer(data, size, NG_FMT_SAFETENSORS, "fuzz.safetensors", &w) != NG_OK) return 0;
    exercise_weights(w);
    ng_weights_free(w);
    return 0;
}

/* Parse, serialise, parse again: the second parse must succeed and agree. */
int ng_fuzz_st_header(const uint8_t *data, size_t size)
{
    ng_st_header *h, *h2;
    if (ng_st_header_parse(data, size, size, "fuzz.safetensors", &h) != NG_OK) return 0;
    uint8_t *out;
    size_t len;
    if (ng_st_header_serialize(h, &out, &len) == NG_OK) {
        uint64_t file_size = len + ng_st_header_data_size(h);
        if (ng_st_header_parse(out, len, file_size, "reserialised", &h2) != NG_OK) abort();
        if (ng_st_header_count(h2) != ng_st_header_count(h)) abort();
        ng_st_header_free(h2);
        free(out);
    }
    ng_st_header_free(h);
    return 0;
}

/* First 4 bytes: little-endian split point; images file = data[4:4+k], labels = the rest. */
int ng_fuzz_idx(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    uint32_t k = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    data += 4; size -= 4;
    if (k > size) k = (uint32_t)size;
    char p1[64], p2[64];
    int f1 = memfile(data, k, p1), f2 = memfile(data + k, size - k, p2);
    if (f1 >= 0 && f2 >= 0) {
        ng_dataset d;
        if (ng_dataset_load_idx(p1, p2, &d) == NG_OK) ng_dataset_free(&d);
    }
    if (f1 >= 0) close(f1);
    if (f2 >= 0) close(f2);
    return 0;
}

int ng_fuzz_cifar(const uint8_t *data, size_t size)
{
    char p[64];
    int f = memfile(data, size, p);
    if (f < 0) return 0;
    const char *files[1] = {p};
    ng_dataset d;
    if (ng_dataset_load_cifar(files, 1, &d) == NG_OK) ng_dataset_free(&d);
    close(f);
    return 0;
}

const ng_fuzz_target ng_fuzz_targets[] = {
    {"onnx", ng_fuzz_onnx},
    {"safetensors", ng_fuzz_safetensors},
    {"st_header", ng_fuzz_st_header},
    {"idx", ng_fuzz_idx},
    {"cifar", ng_fuzz_cifar},
};
const int ng_fuzz_ntargets = (int)(sizeof ng_fuzz_targets / sizeof ng_fuzz_targets[0]);
