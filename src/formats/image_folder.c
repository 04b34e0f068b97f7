/* formats/image_folder.c - folders of PNG/JPEG images as a batch or as an ImageFolder dataset
 * (layout in include/nnguard/inputs.h). Every path is listed first, then the float array is
 * allocated once and each image decoded into its slot.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "core/core.h"
#include "nnguard/inputs.h"

#define FOLDER_MAX_DEPTH 16

typedef struct path_list {
    char  **path;
    int32_t *label;
    int64_t n, cap;
} path_list;

static void list_free(path_list *l)
{
    ng_names_free(l->path, l->n);
    free(l->label);
    memset(l, 0, sizeof *l);
}

static ng_status list_add(path_list *l, const char *path, int32_t label)
{
    if (l->n == NG_IMAGES_MAX) return ng_fail(NG_E_UNSUPPORTED, "more than %d images", NG_IMAGES_MAX);
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 64;
        char **p = ng_reallocarray(l->path, (size_t)cap, sizeof *p);
        if (!p) return NG_E_NOMEM;
        l->path = p;
        int32_t *y = ng_reallocarray(l->label, (size_t)cap, sizeof *y);
        if (!y) return NG_E_NOMEM;
        l->label = y;
        l->cap = cap;
    }
    if (!(l->path[l->n] = ng_strdup(path))) return NG_E_NOMEM;
    l->label[l->n++] = label;
    return NG_OK;
}

/* dir/name into buf (4096 bytes); fails on a path too long. */
static ng_status join(char *buf, const char *dir, const char *name)
{
    int k = snprintf(buf, 4096, "%s/%s", dir, name);
    if (k < 0 || k >= 4096) return ng_fail(NG_E_UNSUPPORTED, "%s/%s: path too long", dir, name);
    return NG_OK;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *s)
{
    const char *dot = strrchr(s, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* The entries of dir (no hidden ones) that are folders (want_dirs) or image files, sorted. */
static ng_status list_dir(const char *dir, int want_dirs, char ***out, int64_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return ng_fail(NG_E_IO, "%s: cannot open the folder: %m", dir);
    path_list l;
    memset(&l, 0, sizeof l);
    ng_status st = NG_OK;
    struct dirent *e;
    char full[4096];
    while (st == NG_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (join(full, dir, e->d_name) != NG_OK) { ng_clear_error(); continue; }
        struct stat sb;
        if (stat(full, &sb) != 0) continue;
        int isdir = S_ISDIR(sb.st_mode);
        if (want_dirs ? isdir : (S_ISREG(sb.st_mode) && is_image_name(e->d_name))) st = list_add(&l, e->d_name, 0);
    }
    closedir(d);
    if (st != NG_OK) { list_free(&l); return st; }
    if (l.n) qsort(l.path, (size_t)l.n, sizeof *l.path, cmp_names);
    free(l.label);
    *out = l.path;
    *n = l.n;
    return NG_OK;
}

/* Image files under dir (its sub-folders too, each level in name order) with this label. */
static ng_status walk(const char *dir, int32_t label, int depth, int64_t limit, path_list *l)
{
    if (depth > FOLDER_MAX_DEPTH) return ng_fail(NG_E_UNSUPPORTED, "%s: folders nested too deep", dir);
    char **files, **subs;
    int64_t nf, ns;
    ng_status st = list_dir(dir, 0, &files, &nf);
    if (st != NG_OK) return st;
    if ((st = list_dir(dir, 1, &subs, &ns)) != NG_OK) { ng_names_free(files, nf); return st; }
    char full[4096];
    for (int64_t i = 0; st == NG_OK && i < nf && (limit <= 0 || l->n < limit); i++) {
        if ((st = join(full, dir, files[i])) == NG_OK) st = list_add(l, full, label);
    }
    for (int64_t i = 0; st == NG_OK && i < ns && (limit <= 0 || l->n < limit); i++) {
        if ((st = join(full, dir, subs[i])) == NG_OK) st = walk(full, label, depth + 1, limit, l);
    }
    ng_names_free(files, nf);
    ng_names_free(subs, ns);
    return st;
}

/* Decode every listed image into out (x and y allocated here). */
static ng_status load_list(const path_list *l, const ng_image_options *o, ng_dataset *out)
{
    size_t per = (size_t)o->c * (size_t)o->h * (size_t)o->w;
    out->n = l->n;
    out->c = o->c; out->h = o->h; out->w = o->w;
    out->x = ng_calloc((size_t)l->n, per * sizeof *out->x);
    out->y = ng_calloc((size_t)l->n, sizeof *out->y);
    if (!out->x || !out->y) { ng_dataset_free(out); return NG_E_NOMEM; }
    for (int64_t i = 0; i < l->n; i++) {
        ng_status st = ng_image_load(l->path[i], o, out->x + (size_t)i * per);
        if (st != NG_OK) { ng_dataset_free(out); return st; }
        out->y[i] = l->label[i];
    }
    return NG_OK;
}

static ng_status check_options(const char *dir, const ng_image_options *o)
{
    if ((o->c != 1 && o->c != 3) || o->h < 1 || o->w < 1 || o->h > NG_IMAGE_MAX_SIDE || o->w > NG_IMAGE_MAX_SIDE)
        return ng_fail(NG_E_UNSUPPORTED, "%s: images feed models of 1 or 3 channels, at most %d pixels a side "
                       "(this one takes %dx%dx%d)", dir, NG_IMAGE_MAX_SIDE, o->c, o->h, o->w);
    return NG_OK;
}

ng_status ng_images_load_dir(const char *dir, const ng_image_options *o, int64_t limit,
                             ng_dataset *out, char ***names)
{
    memset(out, 0, sizeof *out);
    if (names) *names = NULL;
    ng_status st = check_options(dir, o);
    if (st != NG_OK) return st;
    char **files;
    int64_t nf;
    if ((st = list_dir(dir, 0, &files, &nf)) != NG_OK) return st;
    if (!nf) return ng_fail(NG_E_INVALID, "%s: no .png, .jpg or .jpeg files in this folder", dir);
    if (limit > 0 && nf > limit) {
        for (int64_t i = limit; i < nf; i++) free(files[i]);
        nf = limit;
    }
    path_list l;
    memset(&l, 0, sizeof l);
    char full[4096];
    for (int64_t i = 0; st == NG_OK && i < nf; i++) {
        if ((st = join(full, dir, files[i])) == NG_OK) st = list_add(&l, full, 0);
    }
    if (st == NG_OK) st = load_list(&l, o, out);
    list_free(&l);
    if (st == NG_OK && names) *names = files;
    else ng_names_free(files, nf);
    return st;
}

ng_status ng_image_folder_load(const char *dir, const ng_image_options *o, int64_t limit,
                               ng_dataset *out, char ***class_names)
{
    memset(out, 0, sizeof *out);
    if (class_names) *class_names = NULL;
    ng_status st = check_options(dir, o);
    if (st != NG_OK) return st;
    char **classes;
    int64_t nc;
    if ((st = list_dir(dir, 1, &classes, &nc)) != NG_OK) return st;
    if (!nc) return ng_fail(NG_E_INVALID, "%s: no class folders (expected DIR/<class>/<image>.png)", dir);
    if (nc > 100000) { ng_names_free(classes, nc); return ng_fail(NG_E_UNSUPPORTED, "%s: more than 100000 classes", dir); }
    path_list l;
    memset(&l, 0, sizeof l);
    char sub[4096];
    for (int64_t k = 0; st == NG_OK && k < nc && (limit <= 0 || l.n < limit); k++) {
        if ((st = join(sub, dir, classes[k])) == NG_OK) st = walk(sub, (int32_t)k, 0, limit, &l);
    }
    if (st == NG_OK && !l.n) st = ng_fail(NG_E_INVALID, "%s: the class folders hold no .png, .jpg or .jpeg files", dir);
    if (st == NG_OK) st = load_list(&l, o, out);
    list_free(&l);
    if (st == NG_OK) out->classes = (int)nc;
    if (st == NG_OK && class_names) *class_names = classes;
    else ng_names_free(classes, nc);
    return st;
}

void ng_names_free(char **names, int64_t n)
{
    if (!names) return;
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}
