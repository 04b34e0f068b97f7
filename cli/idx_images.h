/* cli/idx_images.h - read an MNIST IDX images file alone (no labels file needed).
 *
 * IDX images layout (big-endian): u32 magic 0x00000803 | u32 n | u32 rows | u32 cols |
 * n*rows*cols bytes, one unsigned byte per pixel, row-major. The file may be gzip'ed.
 * Limits: rows, cols in 1..4096; the pixel bytes read must all be present.
 */
#ifndef NG_CLI_IDX_IMAGES_H
#define NG_CLI_IDX_IMAGES_H
#include <stdint.h>
#include "nnguard/status.h"

typedef struct ng_idx_images {
    int64_t n;       /* images read */
    int     c, h, w; /* c = 1 */
    float  *x;       /* n*h*w floats in [0,1] (pixel/255), malloc'ed */
} ng_idx_images;

/* Read the first min(n, limit) images (limit <= 0: all) of an IDX images file. */
ng_status ng_idx_images_load(const char *path, int64_t limit, ng_idx_images *out);
void      ng_idx_images_free(ng_idx_images *im);

#endif
