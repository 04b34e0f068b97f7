/* nnguard/inputs.h - model inputs from the files people have: NumPy .npy arrays, PNG/JPEG images,
 * and image-folder datasets (the torchvision ImageFolder layout).
 *
 *     ng_array a;
 *     if (ng_npy_load("x.npy", &a) != NG_OK) ...   // a.shape = (N, C, H, W), a.x floats
 *     ng_model_predict(m, a.x, a.shape.d[0], 256, 0, logits);
 *     ng_array_free(&a);
 *
 *     ng_image_options o = ng_image_options_default();
 *     o.c = 3; o.h = 224; o.w = 224; o.resize = 1;        // the model's input, resized to it
 *     o.mean[0..2] = ...; o.std[0..2] = ...;              // torchvision Normalize
 *     ng_dataset d;
 *     ng_image_folder_load("val", &o, 0, &d, NULL);     // val/<class>/<image>.png, classes sorted
 *
 * ---- .npy (NumPy format versions 1.0, 2.0, 3.0) ------------------------------------------------
 *   "\x93NUMPY" | u8 major (1..3) | u8 minor (0) | header length: u16le (v1) or u32le (v2, v3) |
 *   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *   padded with spaces and ended by '\n' (ASCII; v3 allows UTF-8) | the elements, C order.
 * Accepted: descr '<f4' (little-endian float32; values used as they are) and '|u1' (uint8:
 * scaled to [0,1] by x/255, as torchvision's ToTensor and nnguard's IDX/CIFAR loaders do, so a
 * uint8 image batch feeds the same model as its float form); 0 to NG_MAX_DIMS dims; the data
 * must be exactly as long as the shape says. Refused with a message saying how to convert:
 * big-endian or other dtypes (x.astype('<f4')), fortran_order True (np.ascontiguousarray(x)),
 * object arrays, headers over 64 KiB, duplicate or unknown keys.
 *
 * ---- images --------------------------------------------------------------------------------
 * PNG through libpng (any bit depth, palette, alpha: converted to 8-bit gray or RGB; alpha is
 * dropped as PIL's convert('RGB') does) and JPEG through libjpeg-turbo (baseline, progressive,
 * gray, YCbCr, CMYK refused). Both are Debian's maintained libraries with security support;
 * the image is decoded from memory with its size checked (at most NG_IMAGE_MAX_SIDE per side)
 * before any pixel buffer is allocated. The pipeline, for an image of the model's c x h x w:
 *   decode (8-bit) -> channels: gray -> RGB by copying, RGB -> gray by Pillow's convert('L')
 *   (ITU-R 601-2 luma in 16-bit fixed point: (19595 R + 38470 G + 7471 B + 32768) >> 16)
 *   -> x/255 -> resize (if o.resize and the size differs):
 *   bilinear, half-pixel centres, no antialiasing (torch.nn.functional.interpolate(mode=
 *   'bilinear', align_corners=False)) -> (x - mean[ch]) / std[ch] -> CHW float32.
 * Without o.resize an image of another size is refused (naming both sizes).
 *
 * ---- image folders -------------------------------------------------------------------------
 *   DIR/<class>/<file>.png|.jpg|.jpeg   (extension case-insensitive; files of other kinds are
 *   skipped; hidden entries are skipped; nested folders inside a class folder are walked)
 * Classes are the sub-folders of DIR sorted by name (byte order, as Python's sorted()), label
 * i = the i-th; files in name order. A folder of images without classes (ng_images_load_dir)
 * is the files directly in DIR in name order.
 */
#ifndef NNGUARD_INPUTS_H
#define NNGUARD_INPUTS_H
#include <stddef.h>
#include <stdint.h>
#include "dataset.h"
#include "status.h"
#include "tensor.h"

#define NG_NPY_MAX_HEADER (64u * 1024u)
#define NG_IMAGE_MAX_SIDE 16384
#define NG_IMAGES_MAX     10000000

/* An n-dimensional float32 array, C order (row-major). */
typedef struct ng_array {
    ng_shape shape;     /* shape.d[0] is the batch for model inputs */
    float   *x;         /* numel floats, owned (NULL when numel is 0) */
    int      from_u8;   /* 1 if the file held uint8 (already scaled by 1/255) */
} ng_array;

/* Parse .npy bytes (name is used in messages). */
ng_status ng_npy_parse(const uint8_t *buf, size_t len, const char *name, ng_array *out);
/* Read a .npy file. */
ng_status ng_npy_load(const char *path, ng_array *out);
/* The .npy v1.0 header of a C-order little-endian float32 array of shape s, padded so the data
 * starts at a multiple of 64 bytes. Writes at most cap bytes; returns its length, 0 if cap is short. */
size_t    ng_npy_header_f32(const ng_shape *s, uint8_t *buf, size_t cap);
/* Write x (numel of s floats) as a float32 .npy file, atomically (nothing written on failure). */
ng_status ng_npy_save_f32(const char *path, const float *x, const ng_shape *s);
void      ng_array_free(ng_array *a);

/* What the model takes and how to get there. */
typedef struct ng_image_options {
    int   c, h, w;      /* the model's image: 1 or 3 channels, h x w */
    int   resize;       /* 1: resize every image to h x w; 0: refuse other sizes */
    float mean[3], std[3];   /* per channel (x - mean) / std after x/255; default 0 and 1 */
} ng_image_options;
ng_image_options ng_image_options_default(void);

/* A decoded 8-bit image, h x w x c (c = 1 gray or 3 RGB), row-major interleaved. */
typedef struct ng_image {
    int      w, h, c;
    uint8_t *px;        /* owned */
} ng_image;
/* Decode PNG or JPEG bytes (detected by their signature). */
ng_status ng_image_decode(const uint8_t *buf, size_t len, const char *name, ng_image *out);
void      ng_image_free(ng_image *im);
/* im through the pipeline above into out (o->c x o->h x o->w floats, CHW). */
ng_status ng_image_to_input(const ng_image *im, const ng_image_options *o, const char *name, float *out);
/* Read, decode and convert one image file into out (o->c x o->h x o->w floats). */
ng_status ng_image_load(const char *path, const ng_image_options *o, float *out);

/* The PNG/JPEG files directly in dir, in name order, as one batch: out->n images, y all 0,
 * classes 0. limit > 0 reads at most that many. names (may be NULL) receives the file
 * names (free with ng_names_free). */
ng_status ng_images_load_dir(const char *dir, const ng_image_options *o, int64_t limit,
                             ng_dataset *out, char ***names);
/* An ImageFolder dataset: labels from the class folders; out->classes = number of class folders.
 * class_names (may be NULL) receives them (out->classes entries; free with ng_names_free). */
ng_status ng_image_folder_load(const char *dir, const ng_image_options *o, int64_t limit,
                               ng_dataset *out, char ***class_names);
void      ng_names_free(char **names, int64_t n);

#endif
