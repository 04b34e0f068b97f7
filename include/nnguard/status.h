/* nnguard/status.h - status codes and error messages.
 *
 * Every fallible nnguard call returns an ng_status. NG_OK is 0. On failure the
 * call also leaves a message for the user in a thread-local buffer, read with
 * ng_last_error(): it names the file and the problem and, where it can, what to
 * do ("model.onnx: tensor conv1.weight has 3 dims, Conv expects 4").
 *
 *     ng_model *m;
 *     if (ng_model_load("lenet.onnx", &m) != NG_OK) {
 *         fprintf(stderr, "nnguard: %s\n", ng_last_error());
 *         return 1;
 *     }
 *
 * Messages never contain key material.
 */
#ifndef NNGUARD_STATUS_H
#define NNGUARD_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ng_status {
    NG_OK = 0,
    NG_E_INVALID,     /* bad argument or option */
    NG_E_IO,          /* a file could not be read or written */
    NG_E_FORMAT,      /* a file is malformed, truncated or inconsistent */
    NG_E_UNSUPPORTED, /* well-formed but not supported (operator, dtype, layout) */
    NG_E_NOMEM,       /* out of memory, or a size that cannot be allocated */
    NG_E_SHAPE,       /* tensor shapes do not fit together */
    NG_E_KEY,         /* the key does not match this model, or a key file is bad */
    NG_E_STATE,       /* wrong protection state (already locked, not locked, ...) */
    NG_E_AUTH,        /* authentication failed: data was tampered with */
    NG_E_EXISTS,      /* refusing to overwrite an existing file */
    NG_E_PERM,        /* insecure permissions on a secret file */
    NG_E_INTERNAL,    /* a bug in nnguard: please report */
    NG_STATUS_COUNT
} ng_status;

/* Short fixed description of a status code ("malformed file"). Never NULL. */
const char *ng_status_str(ng_status s);

/* The detailed message of the last failed nnguard call in this thread, or "" if none. */
const char *ng_last_error(void);

/* Record a failure: sets the thread's message (printf-style) and returns s.
 * Library modules use it as `return ng_fail(NG_E_FORMAT, "%s: ...", path);`. */
ng_status ng_fail(ng_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "ctx: " (e.g. a file name) and return s. */
ng_status ng_fail_ctx(ng_status s, const char *ctx);

/* Forget the last message (for callers that handle a failure and go on). */
void ng_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
