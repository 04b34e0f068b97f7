/* fuzz/fuzz_license_meta.c - libFuzzer harness (see targets.h). */
#include "targets.h"
NG_FUZZ_HARNESS(ng_fuzz_license_meta)
