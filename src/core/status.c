/* core/status.c - status strings and the thread-local error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "nnguard/status.h"
#include "core/core.h"

static const char *const ng_status_strs[] = {
    [NG_OK] = "ok",
    [NG_E_INVALID] = "invalid argument",
    [NG_E_IO] = "input/output error",
    [NG_E_FORMAT] = "malformed file",
    [NG_E_UNSUPPORTED] = "not supported",
    [NG_E_NOMEM] = "out of memory",
    [NG_E_SHAPE] = "shape mismatch",
    [NG_E_KEY] = "wrong or bad key",
    [NG_E_STATE] = "wrong protection state",
    [NG_E_AUTH] = "authentication failed",
    [NG_E_EXISTS] = "file exists",
    [NG_E_PERM] = "insecure permissions",
    [NG_E_INTERNAL] = "internal error",
};
NG_STATIC_ASSERT(NG_ARRAY_LEN(ng_status_strs) == NG_STATUS_COUNT, "ng_status_strs must cover ng_status");

static _Thread_local char ng_errbuf[1024];

const char *ng_status_str(ng_status s)
{
    if ((unsigned)s >= NG_STATUS_COUNT) return "unknown status";
    return ng_status_strs[s];
}

const char *ng_last_error(void) { return ng_errbuf; }

void ng_clear_error(void) { ng_errbuf[0] = 0; }

ng_status ng_fail(ng_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ng_errbuf, sizeof ng_errbuf, fmt, ap);
    va_end(ap);
    return s;
}

ng_status ng_fail_ctx(ng_status s, const char *ctx)
{
    char tmp[sizeof ng_errbuf];
    const char *rest = ng_errbuf[0] ? ng_errbuf : ng_status_str(s);
    size_t a = strlen(ctx), b = strlen(rest), cap = sizeof tmp - 1;
    if (a > cap) a = cap;
    memcpy(tmp, ctx, a);
    if (a + 2 <= cap) { memcpy(tmp + a, ": ", 2); a += 2; }
    if (b > cap - a) b = cap - a;
    memmove(tmp + a, rest, b);
    tmp[a + b] = 0;
    memcpy(ng_errbuf, tmp, a + b + 1);
    return s;
}
