/* fuzz/fuzz_license.c - libFuzzer harness (see targets.h). */
#include "targets.h"
NG_FUZZ_HARNESS(ng_fuzz_license)
