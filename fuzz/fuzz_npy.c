/* fuzz/fuzz_npy.c - libFuzzer harness (see targets.h). */
#include "targets.h"
NG_FUZZ_HARNESS(ng_fuzz_npy)
