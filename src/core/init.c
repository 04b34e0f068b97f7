/* core/init.c - one-time library initialisation. */
#include <sodium.h>
#include <cblas.h>
#include "nnguard/init.h"

ng_status ng_init(void)
{
    if (sodium_init() < 0) return ng_fail(NG_E_INTERNAL, "libsodium failed to initialise");
    /* The engine splits work across its own workers; each BLAS call runs on one thread. */
    openblas_set_num_threads(1);
    return NG_OK;
}
