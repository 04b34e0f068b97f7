/* cli/cli_output.c - the one check every command runs on the files it is about to write
 * (see ng_cli_check_outputs in cli.h). */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "core/core.h"

/* Where a path points: the file itself when it exists, else (its folder, its last name). */
typedef struct file_id {
    int      exists, is_dir, ok;
    dev_t    dev;
    ino_t    ino;
    char    *base;   /* for a file that does not exist yet */
} file_id;

static file_id identify(const char *path)
{
    file_id f;
    memset(&f, 0, sizeof f);
    struct stat st;
    if (stat(path, &st) == 0) {
        f.exists = f.ok = 1;
        f.is_dir = S_ISDIR(st.st_mode);
        f.dev = st.st_dev;
        f.ino = st.st_ino;
        return f;
    }
    char *d = ng_strdup(path), *b = ng_strdup(path);
    if (d && b && stat(dirname(d), &st) == 0) {
        f.ok = 1;
        f.dev = st.st_dev;
        f.ino = st.st_ino;
        f.base = ng_strdup(basename(b));
        if (!f.base) f.ok = 0;
    }
    free(d);
    free(b);
    return f;
}

static int same(const file_id *a, const file_id *b)
{
    if (!a->ok || !b->ok || a->exists != b->exists) return 0;
    if (a->dev != b->dev || a->ino != b->ino) return 0;
    return a->exists || strcmp(a->base, b->base) == 0;
}

ng_status ng_cli_check_outputs(const char *const *outs, size_t no, const char *const *ins, size_t ni, int force)
{
    ng_status st = NG_OK;
    file_id *o = calloc(no + 1, sizeof *o), *in = calloc(ni + 1, sizeof *in);
    if (!o || !in) { free(o); free(in); return ng_fail(NG_E_NOMEM, "out of memory"); }
    for (size_t i = 0; i < no; i++) if (outs[i]) o[i] = identify(outs[i]);
    for (size_t i = 0; i < ni; i++) if (ins[i]) in[i] = identify(ins[i]);
    for (size_t i = 0; i < no && st == NG_OK; i++) {
        if (!outs[i]) continue;
        if (o[i].is_dir) {
            st = ng_fail(NG_E_INVALID, "%s: is a folder; name the file to write", outs[i]);
            break;
        }
        for (size_t j = 0; j < ni && st == NG_OK; j++)
            if (ins[j] && same(&o[i], &in[j]))
                st = ng_fail(NG_E_EXISTS, "%s is the input %s itself (same device and inode); refusing to write over "
                             "an input, even with --force: choose another output", outs[i], ins[j]);
        for (size_t j = 0; j < i && st == NG_OK; j++)
            if (outs[j] && same(&o[i], &o[j]))
                st = ng_fail(NG_E_INVALID, "%s and %s are the same file; give two different outputs", outs[j], outs[i]);
        if (st == NG_OK && o[i].exists && !force)
            st = ng_fail(NG_E_EXISTS, "%s: already exists; refusing to overwrite it (add --force to replace it)", outs[i]);
    }
    for (size_t i = 0; i < no; i++) free(o[i].base);
    for (size_t i = 0; i < ni; i++) free(in[i].base);
    free(o);
    free(in);
    return st;
}

int ng_cli_make_dir(const char *cmd, const char *dir, int mode, int *made)
{
    struct stat sb;
    *made = 0;
    if (mkdir(dir, (mode_t)mode) == 0) { *made = 1; return NG_EXIT_OK; }
    int e = errno;
    if (e == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return NG_EXIT_OK;
    if (e == EEXIST) fprintf(stderr, "nnguard %s: %s exists and is not a folder; name a folder\n", cmd, dir);
    else fprintf(stderr, "nnguard %s: cannot create the folder %s: %s\n", cmd, dir, strerror(e));
    return NG_EXIT_FAIL;
}

void ng_cli_unmake_dir(const char *dir, int made)
{
    if (made) (void)rmdir(dir);   /* only an empty folder goes; one with results stays */
}
