/* nnguard/tensor.h - element types and tensor descriptors shared by all modules.
 *
 * A parameter tensor is described by name, dtype, shape and its raw bytes
 * (little-endian elements, row-major). Protection schemes work on these bytes
 * as integers: locked values may be NaN/Inf/denormal bit patterns and must be
 * copied, never computed on.
 */
#ifndef NNGUARD_TENSOR_H
#define NNGUARD_TENSOR_H
#include <stddef.h>
#include <stdint.h>

#define NG_MAX_DIMS 8

typedef enum ng_dtype {
    NG_DT_UNKNOWN = 0,
    NG_DT_F32, NG_DT_F16, NG_DT_BF16, NG_DT_F64,
    NG_DT_I8, NG_DT_U8, NG_DT_I16, NG_DT_U16, NG_DT_I32, NG_DT_U32, NG_DT_I64, NG_DT_U64,
    NG_DT_BOOL,
    NG_DT_COUNT
} ng_dtype;

/* Size in bytes of one element (0 for NG_DT_UNKNOWN). */
size_t      ng_dtype_size(ng_dtype t);
/* safetensors spelling: "F32", "F16", "BF16", "F64", "I64", ... */
const char *ng_dtype_name(ng_dtype t);
/* Parse the safetensors spelling; NG_DT_UNKNOWN if not recognised. */
ng_dtype    ng_dtype_from_name(const char *s);
/* True for the floating dtypes that count as model parameters (F32/F16/BF16/F64). */
int         ng_dtype_is_float(ng_dtype t);

typedef struct ng_shape {
    int     ndim;
    int64_t d[NG_MAX_DIMS];
} ng_shape;

/* Number of elements; 0 if any dim is 0; -1 if a dim is negative (unknown) or it overflows. */
int64_t ng_shape_numel(const ng_shape *s);

/* A float32 tensor view (engine activations and parameters). Does not own data. */
typedef struct ng_tensor {
    float   *data;
    ng_shape s;
} ng_tensor;

/* A named parameter tensor of any dtype, as raw bytes (a view into a file or model). */
typedef struct ng_param {
    const char *name;
    ng_dtype    dtype;
    ng_shape    shape;
    uint8_t    *data;    /* nbytes bytes; may point into a mapped file or the file's buffer:
                          * not necessarily aligned for its dtype (read values with memcpy) */
    size_t      nbytes;
} ng_param;

#endif
