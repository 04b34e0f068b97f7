/* core/fileio.c - reading, mapping and atomically writing files.
 *
 * Atomic write protocol: the data goes to an unnamed file in the target's folder (O_TMPFILE,
 * mode 0600), or where the file system has no O_TMPFILE to "<dir>/.<base>.tmp-XXXXXX"
 * (mkostemp, mode 0600, listed for the signal handler); commit sets the final mode (the
 * caller's mode minus the umask), fsyncs, names the file (linkat through /proc/self/fd),
 * renames it over the target (or links it, for outputs that must not replace anything) and
 * fsyncs the folder. Any failure removes the temp file; the target is never opened for
 * writing, so an existing file survives a crash or a full disk as it was. A process killed
 * by SIGKILL leaves nothing behind with O_TMPFILE; SIGINT/SIGTERM/SIGHUP remove named temp
 * files too (see ng_tempfiles_cleanup).
 */
#define _GNU_SOURCE   /* O_TMPFILE, mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "core/core.h"

/* Open path for reading; it must be a regular file. *len: its size. */
static ng_status open_regular(const char *path, int *fd, size_t *len)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        *fd = -1;
        return ng_fail(NG_E_IO, "%s: not a regular file", path);
    }
    *len = (size_t)st.st_size;
    return NG_OK;
}

ng_status ng_pread_all(int fd, const char *name, void *buf, size_t n, uint64_t off)
{
    uint8_t *b = buf;
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < ((size_t)8 << 20) ? n - got : (size_t)8 << 20;
        ssize_t r = pread(fd, b + got, want, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return ng_fail(NG_E_IO, "%s: read failed after %llu bytes: %s", name, (unsigned long long)(off + got),
                           r < 0 ? strerror(errno) : "file shrank");
        got += (size_t)r;
    }
    return NG_OK;
}

ng_status ng_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len)
{
    *data = NULL; *len = 0;
    int fd;
    size_t n;
    ng_status st = open_regular(path, &fd, &n);
    if (st != NG_OK) return st;
    if (n > max_bytes) {
        close(fd);
        return ng_fail(NG_E_FORMAT, "%s: file is %zu bytes, more than the %zu this reader accepts",
                       path, n, max_bytes);
    }
    uint8_t *buf = malloc(n + 1);
    if (!buf) { close(fd); return ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu bytes", path, n); }
    ng_advise_huge(buf, n + 1);
    st = ng_pread_all(fd, path, buf, n, 0);
    close(fd);
    if (st != NG_OK) { free(buf); return st; }
    buf[n] = 0;
    *data = buf; *len = n;
    return NG_OK;
}

ng_status ng_map_file(const char *path, ng_map *m)
{
    m->data = NULL; m->len = 0;
    int fd;
    size_t n;
    ng_status st = open_regular(path, &fd, &n);
    if (st != NG_OK) return st;
    if (n == 0) { close(fd); return NG_OK; }
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return ng_fail(NG_E_IO, "%s: cannot map: %s", path, strerror(errno));
    m->data = p; m->len = n;
    return NG_OK;
}

ng_status ng_read_file_anon(const char *path, ng_map *m)
{
    m->data = NULL; m->len = 0;
    int fd;
    size_t n;
    ng_status st = open_regular(path, &fd, &n);
    if (st != NG_OK) return st;
    if (n == 0) { close(fd); return NG_OK; }
    uint8_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { close(fd); return ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu bytes", path, n); }
    ng_advise_huge(p, n);
    st = ng_pread_all(fd, path, p, n, 0);
    close(fd);
    if (st != NG_OK) { munmap(p, n); return st; }
    m->data = p; m->len = n;
    return NG_OK;
}

void ng_prefault_write(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    if (!n) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p & ~(page - 1), e = (uintptr_t)p + n;
    (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
    (void)p; (void)n;
#endif
}

void ng_unmap(ng_map *m)
{
    if (m->data) munmap(m->data, m->len);
    m->data = NULL; m->len = 0;
}

/* ---- fault injection for tests (compiled only with NG_TEST_HOOKS: see CMakeLists.txt) ---- */
#ifdef NG_TEST_HOOKS
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
#else
static ssize_t faulty_pwrite(int fd, const void *buf, size_t n, off_t off, int use_off)
{
    return use_off ? pwrite(fd, buf, n, off) : write(fd, buf, n);
}
#endif

/* ---- temp files: 0600 from creation, removed on SIGINT / SIGTERM / SIGHUP ----
 *
 * A temporary file that has a name is listed in a fixed table (no allocation, so the signal
 * handler can read it). The handler unlinks every listed name, restores the default action and
 * re-raises the signal. Names are listed with the signals blocked, so a signal never finds a
 * file that exists but is not yet listed. O_TMPFILE files have no name until commit, when they
 * get one only for the instant between linkat and rename. */
#define NG_TMP_SLOTS 64
#define NG_TMP_PATH 4096
static struct { atomic_int state; char path[NG_TMP_PATH]; } ng_tmp_slots[NG_TMP_SLOTS]; /* 0 free, 1 filling, 2 live */
static const int ng_tmp_signals[] = {SIGINT, SIGTERM, SIGHUP};

void ng_tempfiles_cleanup(void)
{
    for (int i = 0; i < NG_TMP_SLOTS; i++)
        if (atomic_load(&ng_tmp_slots[i].state) == 2) unlink(ng_tmp_slots[i].path);
}

static void tmp_signal(int sig)
{
    int saved = errno;
    ng_tempfiles_cleanup();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    errno = saved;
    raise(sig);   /* delivered when this handler returns: the default action ends the process */
}

/* Install the handler for signals whose action is still the default (an application's own
 * handler, or SIG_IGN as under nohup, is left alone: it can call ng_tempfiles_cleanup()). */
static void tmp_install(void)
{
    for (size_t i = 0; i < NG_ARRAY_LEN(ng_tmp_signals); i++) {
        struct sigaction old, sa;
        if (sigaction(ng_tmp_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = tmp_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(ng_tmp_signals[i], &sa, NULL);
    }
}

static pthread_once_t ng_tmp_once = PTHREAD_ONCE_INIT;

static void block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NG_ARRAY_LEN(ng_tmp_signals); i++) sigaddset(&set, ng_tmp_signals[i]);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

/* List path (call with the signals blocked); slot index or -1 when the table is full. */
static int tmp_list(const char *path)
{
    pthread_once(&ng_tmp_once, tmp_install);
    if (strlen(path) >= NG_TMP_PATH) return -1;
    for (int i = 0; i < NG_TMP_SLOTS; i++) {
        int want = 0;
        if (atomic_compare_exchange_strong(&ng_tmp_slots[i].state, &want, 1)) {
            strcpy(ng_tmp_slots[i].path, path);
            atomic_store(&ng_tmp_slots[i].state, 2);
            return i;
        }
    }
    return -1;
}

static void tmp_unlist(int *slot)
{
    if (*slot >= 0) atomic_store(&ng_tmp_slots[*slot].state, 0);
    *slot = -1;
}

/* "<dir>/.<base>.tmp-XXXXXX" for path. */
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

/* Fill the XXXXXX of a template with random letters (for a name linkat creates). */
static void random_suffix(char *tmpl)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *x = tmpl + strlen(tmpl) - 6;
    for (int i = 0; i < 6; i++) x[i] = abc[randombytes_uniform(sizeof abc - 1)];
}

static int use_o_tmpfile(void)
{
    const char *e = getenv("NG_NO_O_TMPFILE");   /* tests: force the named fallback */
    return !(e && *e && strcmp(e, "0") != 0);
}

/* The process umask, read without changing it (Linux 4.7+ /proc), else umask() twice. */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Umask:", 6) == 0) {
            fclose(f);
            return (mode_t)(strtoul(line + 6, NULL, 8) & 0777);
        }
    if (f) fclose(f);
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    mode_t m = umask(077);
    umask(m);
    pthread_mutex_unlock(&mu);
    return m & 0777;
}

/* An unnamed file in path's folder (O_TMPFILE, mode 0600), usable only when it can be given a
 * name at commit through /proc/self/fd; -1 otherwise (the caller falls back to a named file). */
static int open_unnamed(const char *path)
{
#ifdef O_TMPFILE
    if (!use_o_tmpfile()) return -1;
    char *dup = ng_strdup(path);
    if (!dup) return -1;
    int fd = open(dirname(dup), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    free(dup);
    if (fd < 0) return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (access(proc, F_OK) != 0) { close(fd); return -1; }
    return fd;
#else
    (void)path;
    return -1;
#endif
}

static ng_status awrite_open(ng_awriter *w, const char *path, unsigned mode, int excl)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->slot = -1;
    if (excl && access(path, F_OK) == 0)
        return ng_fail(NG_E_EXISTS, "%s: already exists; refusing to overwrite it", path);
    w->path = ng_strdup(path);
    w->tmp = tmp_name_for(path);
    if (!w->path || !w->tmp) { free(w->path); free(w->tmp); w->path = w->tmp = NULL; return NG_E_NOMEM; }
    w->mode = mode & 07777;
    w->excl = excl;
    w->fd = open_unnamed(path);
    if (w->fd >= 0) {
        w->unnamed = 1;
        return NG_OK;
    }
    sigset_t old;
    block_signals(&old);
    w->fd = mkostemp(w->tmp, O_CLOEXEC);   /* mode 0600 */
    int err = errno;
    if (w->fd >= 0 && (w->slot = tmp_list(w->tmp)) < 0) {
        unlink(w->tmp);
        close(w->fd);
        w->fd = -1;
        err = EMFILE;
    }
    restore_signals(&old);
    if (w->fd < 0) {
        ng_status st = ng_fail(NG_E_IO, "%s: cannot create a temporary file beside it: %s", path,
                               err == EMFILE ? "too many files being written at once" : strerror(err));
        free(w->path); free(w->tmp); w->path = w->tmp = NULL;
        return st;
    }
    return NG_OK;
}

ng_status ng_awrite_open(ng_awriter *w, const char *path, unsigned mode) { return awrite_open(w, path, mode, 0); }
ng_status ng_awrite_open_excl(ng_awriter *w, const char *path, unsigned mode) { return awrite_open(w, path, mode, 1); }

/* Test hook: NG_TEST_STOP_AFTER_WRITE=1 stops the process (SIGSTOP) once, after the first write
 * into a temporary file, so a test can look at the folder and kill it mid-write. */
static void maybe_stop(void)
{
    static atomic_int done;
    const char *e = getenv("NG_TEST_STOP_AFTER_WRITE");
    if (e && *e == '1' && atomic_exchange(&done, 1) == 0) raise(SIGSTOP);
}

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
    maybe_stop();
    return NG_OK;
}

ng_status ng_awrite(ng_awriter *w, const void *buf, size_t n) { return awrite_at(w, buf, n, 0, 0); }
ng_status ng_awrite_pwrite(ng_awriter *w, const void *buf, size_t n, uint64_t off) { return awrite_at(w, buf, n, off, 1); }

void ng_awrite_start_writeback(ng_awriter *w, uint64_t off, uint64_t len)
{
    if (w->fd >= 0 && !w->failed) sync_file_range(w->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
}

void ng_awrite_abort(ng_awriter *w)
{
    if (w->fd >= 0) close(w->fd);
    if (w->slot >= 0) {
        unlink(w->tmp);
        tmp_unlist(&w->slot);
    }
    free(w->tmp); free(w->path);
    w->fd = -1; w->tmp = w->path = NULL;
}

/* Give the unnamed file the name `name` (fails with EEXIST when it exists). */
static int link_unnamed(int fd, const char *name)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* Put the finished file at w->path: exclusive outputs with link (fails if the target appeared
 * meanwhile), others with rename over it. Unnamed files get a listed temporary name first. */
static ng_status place(ng_awriter *w)
{
    if (w->unnamed && w->excl) {
        if (link_unnamed(w->fd, w->path) == 0) return NG_OK;
        return errno == EEXIST ? ng_fail(NG_E_EXISTS, "%s: already exists; refusing to overwrite it", w->path)
                               : ng_fail(NG_E_IO, "%s: cannot create: %s", w->path, strerror(errno));
    }
    if (w->unnamed) {
        for (int tries = 0;; tries++) {
            sigset_t old;
            block_signals(&old);
            random_suffix(w->tmp);
            int r = link_unnamed(w->fd, w->tmp), err = errno;
            if (r == 0 && (w->slot = tmp_list(w->tmp)) < 0) { unlink(w->tmp); r = -1; err = EMFILE; }
            restore_signals(&old);
            if (r == 0) break;
            if (err != EEXIST || tries > 100)
                return ng_fail(NG_E_IO, "%s: cannot name the new file: %s", w->path,
                               err == EMFILE ? "too many files being written at once" : strerror(err));
        }
    }
    ng_status st = NG_OK;
    if (w->excl) {
        if (link(w->tmp, w->path) != 0)
            st = errno == EEXIST ? ng_fail(NG_E_EXISTS, "%s: already exists; refusing to overwrite it", w->path)
                                 : ng_fail(NG_E_IO, "%s: cannot create: %s", w->path, strerror(errno));
        unlink(w->tmp);
    } else if (rename(w->tmp, w->path) != 0) {
        st = ng_fail(NG_E_IO, "%s: cannot replace: %s", w->path, strerror(errno));
        unlink(w->tmp);
    }
    tmp_unlist(&w->slot);
    return st;
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
    if (fchmod(w->fd, (mode_t)(w->mode & ~current_umask())) != 0)
        st = ng_fail(NG_E_IO, "%s: cannot set mode: %s", w->path, strerror(errno));
    if (st == NG_OK && fsync(w->fd) != 0) st = ng_fail(NG_E_IO, "%s: fsync failed: %s", w->path, strerror(errno));
    if (st == NG_OK) st = place(w);
    if (st != NG_OK) { ng_awrite_abort(w); return st; }
    close(w->fd);   /* fsync'ed: a close error cannot lose data any more */
    w->fd = -1;
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
