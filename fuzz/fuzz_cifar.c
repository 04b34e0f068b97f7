/* fuzz/fuzz_cifar.c - libFuzzer harness (see targets.h). */
#include "targets.h"
NG_FUZZ_HARNESS(ng_fuzz_cifar)
