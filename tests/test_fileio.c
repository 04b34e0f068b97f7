/* test_fileio: the atomic writer's privacy and cleanup guarantees, for both ways it makes its
 * temporary file (O_TMPFILE, and the named fallback forced with NG_NO_O_TMPFILE=1):
 * - the temporary file is mode 0600 from its creation, whatever the final mode;
 * - the final mode is the caller's mode minus the umask (0666 -> 0644 under 022, 0640 under 027,
 *   0600 under 077; NG_MODE_PRIVATE stays 0600 under umask 0);
 * - O_TMPFILE: no name in the folder while writing; named: exactly one ".<name>.tmp-*";
 * - a child process killed by SIGTERM / SIGINT mid-write leaves no temporary file and no output
 *   (the handler unlinks it), by SIGKILL leaves nothing with O_TMPFILE, and dies by that signal;
 * - an exclusive output appearing between open and commit is refused at commit;
 * - an application's own SIGTERM handler is not replaced. */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tutil.h"
#include "core/core.h"

static char dir[600];

static int entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* Mode of the only temporary file in dir, or -1. */
static int tmp_mode(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int mode = -1;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".tmp-")) continue;
        char p[1200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0) mode = (int)(st.st_mode & 0777);
    }
    if (d) closedir(d);
    return mode;
}

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
}

static int file_mode(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static void writes_with_modes(int named)
{
    char out[700];
    snprintf(out, sizeof out, "%s/out.bin", dir);
    static const struct { mode_t umask; unsigned mode; int want; } cases[] = {
        {022, NG_MODE_PUBLIC, 0644}, {027, NG_MODE_PUBLIC, 0640}, {077, NG_MODE_PUBLIC, 0600},
        {0, NG_MODE_PRIVATE, 0600}, {022, NG_MODE_PRIVATE, 0600}, {002, NG_MODE_PUBLIC, 0664}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_dir();
        mode_t old = umask(cases[i].umask);
        ng_awriter w;
        CHECK_OK(ng_awrite_open(&w, out, cases[i].mode));
        CHECK_OK(ng_awrite(&w, "secret plaintext", 16));
        struct stat st;
        CHECKF(fstat(w.fd, &st) == 0 && (st.st_mode & 0777) == 0600, "temp file mode %o while writing (named %d)",
               (unsigned)(st.st_mode & 0777), named);
        if (named) CHECKF(entries() == 1 && tmp_mode() == 0600, "named temp file: %d entries, mode %o", entries(), (unsigned)tmp_mode());
        else CHECKF(entries() == 0, "O_TMPFILE: %d names in the folder while writing", entries());
        CHECK_OK(ng_awrite_commit(&w));
        umask(old);
        CHECKF(file_mode(out) == cases[i].want, "umask %03o mode %o: got %o, want %o (named %d)", (unsigned)cases[i].umask,
               cases[i].mode, (unsigned)file_mode(out), (unsigned)cases[i].want, named);
        CHECK(entries() == 1);
    }
    /* abort leaves nothing; an existing file survives */
    ng_awriter w;
    CHECK_OK(ng_awrite_open(&w, out, NG_MODE_PUBLIC));
    CHECK_OK(ng_awrite(&w, "x", 1));
    ng_awrite_abort(&w);
    CHECK(entries() == 1);
    /* exclusive: refused at open, and at commit when the file appears meanwhile */
    CHECK_ST(ng_awrite_open_excl(&w, out, NG_MODE_PRIVATE), NG_E_EXISTS);
    char key[700];
    snprintf(key, sizeof key, "%s/new.key", dir);
    CHECK_OK(ng_awrite_open_excl(&w, key, NG_MODE_PRIVATE));
    CHECK_OK(ng_awrite(&w, "k", 1));
    CHECK_OK(ng_write_file_atomic(key, "other", 5, NG_MODE_PUBLIC));
    CHECK_ST(ng_awrite_commit(&w), NG_E_EXISTS);
    uint8_t *d;
    size_t n;
    CHECK_OK(ng_read_file(key, 100, &d, &n));
    CHECK(n == 5 && memcmp(d, "other", 5) == 0);
    free(d);
    CHECKF(entries() == 2, "%d entries after a refused exclusive commit", entries());
}

/* A child writes into OUT and kills itself with sig after the first write; the parent checks
 * the folder. install_own: the child installs its own SIGTERM handler first (it must stay). */
static void killed_child(int sig, int named, int install_own)
{
    clear_dir();
    char out[700];
    snprintf(out, sizeof out, "%s/plain.onnx", dir);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        if (install_own) signal(SIGTERM, SIG_IGN);   /* the application's choice */
        ng_awriter w;
        if (ng_awrite_open(&w, out, NG_MODE_PRIVATE) != NG_OK || ng_awrite(&w, "plaintext", 9) != NG_OK) _exit(9);
        char c = (char)('0' + entries());
        if (write(pfd[1], &c, 1) != 1) _exit(8);
        raise(sig);
        _exit(install_own ? 7 : 6);   /* reached only when the signal is ignored */
    }
    close(pfd[1]);
    char c = 0;
    CHECK(read(pfd[0], &c, 1) == 1);
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECKF(c == (named ? '1' : '0'), "child saw %c entries while writing (named %d)", c, named);
    if (install_own) {
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 7, "the application's SIG_IGN was replaced (status %d)", status);
        clear_dir();
        return;
    }
    CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == sig, "child status %d, expected death by signal %d", status, sig);
    CHECKF(entries() == 0, "signal %d, named %d: %d files left behind (mode of a temp file %o)", sig, named, entries(),
           (unsigned)tmp_mode());
}

int main(void)
{
    CHECK_OK(ng_init());
    snprintf(dir, sizeof dir, "%s/fileio", tu_tmpdir());
    mkdir(dir, 0700);
    /* first, before this process installs anything (children inherit handlers): an application
     * that ignores SIGTERM keeps it ignored */
    setenv("NG_NO_O_TMPFILE", "1", 1);
    killed_child(SIGTERM, 1, 1);
    for (int named = 0; named < 2; named++) {
        setenv("NG_NO_O_TMPFILE", named ? "1" : "0", 1);
        writes_with_modes(named);
        killed_child(SIGTERM, named, 0);
        killed_child(SIGINT, named, 0);
    }
    setenv("NG_NO_O_TMPFILE", "0", 1);
    killed_child(SIGKILL, 0, 0);   /* O_TMPFILE: even SIGKILL leaves nothing */
    clear_dir();
    rmdir(dir);
    return tu_done();
}
