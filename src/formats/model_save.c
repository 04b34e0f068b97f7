/* formats/model_save.c - save an engine model in the format its file name asks for. */
#include "nnguard/model.h"
#include "nnguard/model_io.h"
#include "core/core.h"

ng_status ng_model_save(const ng_model *m, const char *path)
{
    switch (ng_format_from_ext(path)) {
    case NG_FMT_ONNX: return ng_model_save_onnx(m, path);
    case NG_FMT_SAFETENSORS: return ng_model_save_safetensors(m, path);
    default:
        return ng_fail(NG_E_INVALID, "%s: cannot tell the format from the name; use .onnx or .safetensors", path);
    }
}
