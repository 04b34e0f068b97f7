/* cli/inputs.c - image options and input shape checks for `predict` and `eval` (see inputs.h). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "inputs.h"

ng_cli_img ng_cli_img_default(void)
{
    ng_cli_img o;
    memset(&o, 0, sizeof o);
    return o;
}

/* "a" or "a,b,c" into v; returns the count (1 or 3), 0 when malformed. */
static int parse_floats(const char *s, float v[3], int positive)
{
    int n = 0;
    const char *p = s;
    while (n < 3) {
        char *end;
        double d = strtod(p, &end);
        if (end == p || !(d > -1e6 && d < 1e6) || (positive && !(d > 0))) return 0;
        v[n++] = (float)d;
        if (!*end) break;
        if (*end != ',') return 0;
        p = end + 1;
    }
    return n == 1 || n == 3 ? n : 0;
}

int ng_cli_img_option(const char *cmd, ng_cli_img *o, int opt, const char *arg)
{
    char *end;
    switch (opt) {
    case NG_CLI_OPT_RESIZE: {
        long h = strtol(arg, &end, 10), w = 0;
        if (*end == 'x' || *end == 'X') w = strtol(end + 1, &end, 10);
        if (*end || h < 1 || w < 1 || h > NG_IMAGE_MAX_SIDE || w > NG_IMAGE_MAX_SIDE) {
            ng_cli_usage(cmd, "--resize expects HxW (e.g. 224x224, each 1 to %d), not '%s'", NG_IMAGE_MAX_SIDE, arg);
            return -1;
        }
        o->h = (int)h; o->w = (int)w;
        return 1;
    }
    case NG_CLI_OPT_MEAN:
        if (!(o->nmean = parse_floats(arg, o->mean, 0))) {
            ng_cli_usage(cmd, "--mean expects one number or three separated by commas, not '%s'", arg);
            return -1;
        }
        return 1;
    case NG_CLI_OPT_STD:
        if (!(o->nstd = parse_floats(arg, o->std, 1))) {
            ng_cli_usage(cmd, "--std expects one positive number or three separated by commas, not '%s'", arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

/* n given values (0, 1 or 3) for c channels into out; def when none. */
static ng_status per_channel(const char *path, const char *opt, int n, const float *v, int c, float def, float *out)
{
    if (n == 3 && c != 3)
        return ng_fail(NG_E_INVALID, "%s: the model takes %d-channel images but %s gives 3 values", path, c, opt);
    for (int i = 0; i < 3; i++) out[i] = n == 0 ? def : n == 1 ? v[0] : v[i];
    return NG_OK;
}

ng_status ng_cli_img_options(const ng_cli_img *ci, const char *path, const ng_model *m, ng_image_options *o)
{
    *o = ng_image_options_default();
    ng_shape s;
    ng_model_input_shape(m, &s);
    if (s.ndim != 4 || (s.d[1] != 1 && s.d[1] != 3))
        return ng_fail(NG_E_SHAPE, "%s: images feed models whose input is N x 1 or 3 x H x W; this model's is not "
                       "(give it a .npy array with --input)", path);
    o->c = (int)s.d[1]; o->h = (int)s.d[2]; o->w = (int)s.d[3];
    if (ci->h && (ci->h != o->h || ci->w != o->w))
        return ng_fail(NG_E_SHAPE, "%s: --resize %dx%d but the model takes %dx%d images", path, ci->h, ci->w, o->h, o->w);
    o->resize = ci->h != 0;
    ng_status st = per_channel(path, "--mean", ci->nmean, ci->mean, o->c, 0.0f, o->mean);
    if (st == NG_OK) st = per_channel(path, "--std", ci->nstd, ci->std, o->c, 1.0f, o->std);
    return st;
}

static void shape_str(const ng_shape *s, int from, const char *sep, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = from; i < s->ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i > from ? sep : "", (long long)s->d[i]);
}

ng_status ng_cli_check_array(const char *path, const ng_model *m, const ng_shape *x, const char *what)
{
    ng_shape s;
    ng_model_input_shape(m, &s);
    int ok = x->ndim == s.ndim && x->ndim >= 1;
    for (int i = 1; ok && i < s.ndim; i++) ok = s.d[i] < 0 || x->d[i] == s.d[i];
    if (ok) return NG_OK;
    char want[200], wantc[200], got[200];
    shape_str(&s, 1, " x ", want, sizeof want);
    shape_str(&s, 1, ", ", wantc, sizeof wantc);
    shape_str(x, 0, ", ", got, sizeof got);
    return ng_fail(NG_E_SHAPE, "%s: the model takes N x %s inputs but %s holds an array of shape (%s)%s; "
                   "give one of shape (N, %s), batch first", path, want, what, got,
                   x->ndim + 1 == s.ndim ? " (no batch dimension? use x[None])" : "", wantc);
}
