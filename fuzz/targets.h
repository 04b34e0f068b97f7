/* fuzz/targets.h - every parser nnguard exposes to untrusted bytes, as one function each.
 *
 * A target takes arbitrary bytes, runs the parser (and whatever consumes its result),
 * frees everything and returns 0. It must never crash, leak or hang, whatever the bytes.
 * Each target is used twice:
 *   fuzz/fuzz_<name>.c          a libFuzzer harness:  NG_FUZZ_HARNESS(ng_fuzz_<name>)
 *   tests/test_fuzz_corpus.c    replays fuzz/corpus/<name>/ and fuzz/regressions/<name>/
 * Adding a parser (license files, HTTP bodies) = one function here, one row in
 * ng_fuzz_targets[], one 2-line harness file, a few seed files.
 */
#ifndef NG_FUZZ_TARGETS_H
#define NG_FUZZ_TARGETS_H
#include <stddef.h>
#include <stdint.h>

typedef int (*ng_fuzz_fn)(const uint8_t *data, size_t size);
typedef struct ng_fuzz_target { const char *name; ng_fuzz_fn fn; } ng_fuzz_target;
extern const ng_fuzz_target ng_fuzz_targets[];
extern const int ng_fuzz_ntargets;

int ng_fuzz_onnx(const uint8_t *data, size_t size);
int ng_fuzz_safetensors(const uint8_t *data, size_t size);
int ng_fuzz_st_header(const uint8_t *data, size_t size);
int ng_fuzz_idx(const uint8_t *data, size_t size);
int ng_fuzz_cifar(const uint8_t *data, size_t size);

#define NG_FUZZ_HARNESS(fn) \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#endif
