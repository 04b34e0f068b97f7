/* fuzz/fuzz_wm_opts.c - libFuzzer harness (see targets.h). */
#include "targets.h"
NG_FUZZ_HARNESS(ng_fuzz_wm_opts)
