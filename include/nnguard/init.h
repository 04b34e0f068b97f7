/* nnguard/init.h - library initialisation and process set-up (the core layer: no model,
 * file format or scheme here). Included by nnguard/nnguard.h. */
#ifndef NNGUARD_INIT_H
#define NNGUARD_INIT_H
#include "status.h"

/* Initialise the library (libsodium, OpenBLAS threading). Thread-safe, idempotent. */
ng_status ng_init(void);

/* Remove the temporary files of every atomic write in progress (async-signal-safe). nnguard
 * installs a SIGINT/SIGTERM/SIGHUP handler that does this when the signal's action was the
 * default; a program with its own handler for these signals calls it from there. */
void ng_tempfiles_cleanup(void);

/* The OpenBLAS kernel set ("SkylakeX", "Haswell", ...) this CPU could run when the loaded
 * OpenBLAS has fallen back to older, slower kernels (it did not recognise the CPU model, as on
 * some virtual machines, or it runs AVX2 kernels on a CPU with AVX-512 such as AMD Zen 4), else NULL. OpenBLAS chooses when it loads, so the only remedy is to
 * start the process with OPENBLAS_CORETYPE set to this name; the nnguard CLI re-executes
 * itself once with it (unless OPENBLAS_CORETYPE is already set). */
const char *ng_blas_better_core(void);
/* For programs (not libraries): when ng_blas_better_core() names better kernels and
 * OPENBLAS_CORETYPE is unset, set it and execv("/proc/self/exe", argv); returns only when
 * nothing is to be done or the exec failed. Call first thing in main(). */
void ng_blas_reexec(char **argv);
#endif
