/* core/fileio.c - reading, mapping and atomically writing files.
 *
 * Atomic write protocol: create "<dir>/.<base>.tmp-XXXXXX" (O_EXCL, mode as asked),
 * write, fsync, rename over the target, fsync the folder. Any failure unlinks the
 * temp file; the target is never opened for writing, so an existing file survives
 * a crash or a full disk as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/core.h"

ng_status ng_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len)
{
    *data = NULL; *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ng_fail(NG_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return ng_fail(NG_E_FORMAT, "%s: file is %lld bytes, more than the %zu this reader accepts",
                       path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) { close(fd); return ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu bytes", path, n); }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf); close(fd);
            return ng_fail(NG_E_IO, "%s: read failed after %zu bytes: %s", path, got,
                           r < 0 ? strerror(errno) : "file shrank");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *data = buf; *len = n;
    return NG_OK;
}

ng_status ng_map_file(const char *path, ng_map *m)
{
    m->data = NULL; m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ng_fail(NG_E_IO, "%s: not a regular file", path);
    }
    m->len = (size_t)st.st_size;
    if (m->len == 0) { close(fd); return NG_OK; }
    void *p = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) { m->len = 0; return ng_fail(NG_E_IO, "%s: cannot map: %s", path, strerror(errno)); }
    m->data = p;
    return NG_OK;
}

void ng_unmap(ng_map *m)
{
    if (m->data) munmap(m->data, m->len);
    m->data = NULL; m->len = 0;
}

/* ---- fault injection for tests ---- */
static int64_t ng_fault_budget = -2; /* -2: not read from env yet, -1: off */
static _Atomic int64_t ng_fault_used;   /* all threads together: the streaming writers use workers */

void ng_fault_write_after(int64_t bytes) { ng_fault_budget = bytes; atomic_store(&ng_fault_used, 0); }

static int64_t fault_budget(void)
{
    if (ng_fault_budget == -2) {
        const char *e = getenv("NG_FAULT_WRITE_AFTER");
        ng_fault_budget = e && *e ? strtoll(e, NULL, 10) : -1;
    }
    return ng_fault_budget;
}

static ssize_t faulty_pwrite(int fd, const void *buf, size_t n, off_t off, int use_off)
{
    int64_t b = fault_budget();
    if (b >= 0) {
        int64_t used = atomic_fetch_add(&ng_fault_used, (int64_t)n);
        if (used >= b) { errno = ENOSPC; return -1; }
        if ((int64_t)n > b - used) n = (size_t)(b - used);
    }
    return use_off ? pwrite(fd, buf, n, off) : write(fd, buf, n);
}

static char *tmp_name_for(const char *path)
{
    char *dup1 = ng_strdup(path), *dup2 = ng_strdup(path);
    char *out = NULL;
    if (dup1 && dup2) {
        const char *dir = dirname(dup1), *base = basename(dup2);
        size_t n = strlen(dir) + strlen(base) + 32;
        out = malloc(n);
        if (out) snprintf(out, n, "%s/.%s.tmp-XXXXXX", dir, base);
    }
    free(dup1); free(dup2);
    if (!out) ng_fail(NG_E_NOMEM, "out of memory");
    return out;
}

static ng_status awrite_open(ng_awriter *w, const char *path, unsigned mode, int excl)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    if (excl && access(path, F_OK) == 0)
        return ng_fail(NG_E_EXISTS, "%s: already exists; refusing to overwrite it", path);
    w->path = ng_strdup(path);
    w->tmp = tmp_name_for(path);
    if (!w->path || !w->tmp) { free(w->path); free(w->tmp); return NG_E_NOMEM; }
    w->fd = mkstemp(w->tmp);
    if (w->fd < 0) {
        ng_status st = ng_fail(NG_E_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(w->path); free(w->tmp); w->path = w->tmp = NULL;
        return st;
    }
    if (fchmod(w->fd, (mode_t)mode) != 0) {
        ng_status st = ng_fail(NG_E_IO, "%s: cannot set mode: %s", path, strerror(errno));
        ng_awrite_abort(w);
        return st;
    }
    w->excl = excl;
    return NG_OK;
}

ng_status ng_awrite_open(ng_awriter *w, const char *path, unsigned mode) { return awrite_open(w, path, mode, 0); }
ng_status ng_awrite_open_excl(ng_awriter *w, const char *path, unsigned mode) { return awrite_open(w, path, mode, 1); }

static ng_status awrite_at(ng_awriter *w, const void *buf, size_t n, uint64_t off, int use_off)
{
    const uint8_t *p = buf;
    if (w->fd < 0 || w->failed)   /* repeat the first failure's cause: it is what the user must fix */
        return ng_fail(NG_E_IO, "%s: write failed: %s (the original file, if any, is untouched)",
                       w->path ? w->path : "?", w->failed > 0 ? strerror(w->failed) : "writer closed");
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t r = faulty_pwrite(w->fd, p, chunk, (off_t)off, use_off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            w->failed = r < 0 && errno ? errno : EIO;
            return ng_fail(NG_E_IO, "%s: write failed: %s (the original file, if any, is untouched)",
                           w->path, r < 0 ? strerror(errno) : "no progress");
        }
        p += r; n -= (size_t)r; off += (uint64_t)r;
        if (!use_off) w->written += (uint64_t)r;
    }
    return NG_OK;
}

ng_status ng_awrite(ng_awriter *w, const void *buf, size_t n) { return awrite_at(w, buf, n, 0, 0); }
ng_status ng_awrite_pwrite(ng_awriter *w, const void *buf, size_t n, uint64_t off) { return awrite_at(w, buf, n, off, 1); }

void ng_awrite_abort(ng_awriter *w)
{
    if (w->fd >= 0) close(w->fd);
    if (w->tmp) unlink(w->tmp);
    free(w->tmp); free(w->path);
    w->fd = -1; w->tmp = w->path = NULL;
}

ng_status ng_awrite_commit(ng_awriter *w)
{
    ng_status st = NG_OK;
    if (w->fd < 0 || w->failed) {
        st = ng_fail(NG_E_IO, "%s: not written: an earlier write failed: %s (the original file, if any, "
                               "is untouched)", w->path ? w->path : "?", w->failed > 0 ? strerror(w->failed) : "writer closed");
        ng_awrite_abort(w);
        return st;
    }
    if (fsync(w->fd) != 0) st = ng_fail(NG_E_IO, "%s: fsync failed: %s", w->path, strerror(errno));
    if (close(w->fd) != 0 && st == NG_OK) st = ng_fail(NG_E_IO, "%s: close failed: %s", w->path, strerror(errno));
    w->fd = -1;
    if (st == NG_OK) {
        if (w->excl) {
            /* exclusive: link() fails if the target appeared meanwhile */
            if (link(w->tmp, w->path) != 0)
                st = errno == EEXIST ? ng_fail(NG_E_EXISTS, "%s: already exists; refusing to overwrite it", w->path)
                                     : ng_fail(NG_E_IO, "%s: cannot create: %s", w->path, strerror(errno));
            unlink(w->tmp);
        } else if (rename(w->tmp, w->path) != 0) {
            st = ng_fail(NG_E_IO, "%s: cannot replace: %s", w->path, strerror(errno));
        }
    }
    if (st != NG_OK) { ng_awrite_abort(w); return st; }
    char *dup = ng_strdup(w->path);
    if (dup) {
        int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
        free(dup);
    }
    free(w->tmp); free(w->path);
    w->tmp = w->path = NULL;
    return NG_OK;
}

ng_status ng_write_file_atomic(const char *path, const void *buf, size_t n, unsigned mode)
{
    ng_awriter w;
    ng_status st = ng_awrite_open(&w, path, mode);
    if (st != NG_OK) return st;
    if ((st = ng_awrite(&w, buf, n)) != NG_OK) { ng_awrite_abort(&w); return st; }
    return ng_awrite_commit(&w);
}
