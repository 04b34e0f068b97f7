/* core/tensor.c - dtype table and shape helpers. */
#include <string.h>
#include "nnguard/tensor.h"
#include "core/core.h"

static const struct { const char *name; size_t size; int is_float; } ng_dtypes[] = {
    [NG_DT_UNKNOWN] = {"?", 0, 0},
    [NG_DT_F32] = {"F32", 4, 1}, [NG_DT_F16] = {"F16", 2, 1}, [NG_DT_BF16] = {"BF16", 2, 1},
    [NG_DT_F64] = {"F64", 8, 1}, [NG_DT_I8] = {"I8", 1, 0}, [NG_DT_U8] = {"U8", 1, 0},
    [NG_DT_I16] = {"I16", 2, 0}, [NG_DT_U16] = {"U16", 2, 0}, [NG_DT_I32] = {"I32", 4, 0},
    [NG_DT_U32] = {"U32", 4, 0}, [NG_DT_I64] = {"I64", 8, 0}, [NG_DT_U64] = {"U64", 8, 0},
    [NG_DT_BOOL] = {"BOOL", 1, 0},
};
NG_STATIC_ASSERT(NG_ARRAY_LEN(ng_dtypes) == NG_DT_COUNT, "dtype table must cover ng_dtype");

size_t ng_dtype_size(ng_dtype t) { return (unsigned)t < NG_DT_COUNT ? ng_dtypes[t].size : 0; }
const char *ng_dtype_name(ng_dtype t) { return (unsigned)t < NG_DT_COUNT ? ng_dtypes[t].name : "?"; }
int ng_dtype_is_float(ng_dtype t) { return (unsigned)t < NG_DT_COUNT && ng_dtypes[t].is_float; }

ng_dtype ng_dtype_from_name(const char *s)
{
    for (int i = 1; i < NG_DT_COUNT; i++)
        if (strcmp(s, ng_dtypes[i].name) == 0) return (ng_dtype)i;
    return NG_DT_UNKNOWN;
}

int64_t ng_shape_numel(const ng_shape *s)
{
    int64_t n = 1;
    if (s->ndim < 0 || s->ndim > NG_MAX_DIMS) return -1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] < 0) return -1;
        if (s->d[i] == 0) return 0;
        if (n > INT64_MAX / s->d[i]) return -1;
        n *= s->d[i];
    }
    return n;
}
