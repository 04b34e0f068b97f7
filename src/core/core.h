/* core/core.h - internal helpers every module uses: allocation, files, atomic writes. */
#ifndef NG_CORE_CORE_H
#define NG_CORE_CORE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "nnguard/status.h"

#define NG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NG_STATIC_ASSERT(c, msg) _Static_assert(c, msg)

/* 64-byte aligned allocation (free with ng_free_aligned); NULL and message on failure or overflow. */
void *ng_alloc_aligned(size_t n);
void  ng_free_aligned(void *p);
/* Ask for transparent huge pages on the 2 MiB-aligned part of a large heap block (>= 8 MiB): one
 * page fault per 2 MiB instead of per 4 KiB when it is first written (a hint; errors ignored).
 * ng_alloc_aligned and ng_read_file do it for their large blocks. */
void  ng_advise_huge(void *p, size_t n);
/* calloc/realloc that check n*size for overflow; NULL and a message on failure. */
void *ng_calloc(size_t n, size_t size);
void *ng_reallocarray(void *p, size_t n, size_t size);
char *ng_strdup(const char *s);

/* Read a whole file into a malloc'ed buffer (with a NUL byte after it); refuses files > max_bytes. */
ng_status ng_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len);

/* Read exactly n bytes of fd at offset off into buf (retrying short reads and EINTR, in pieces of
 * at most 8 MiB); a read error or a file shorter than off + n fails naming `name`. */
ng_status ng_pread_all(int fd, const char *name, void *buf, size_t n, uint64_t off);

/* Map a file read-only (private, copy-on-write). */
typedef struct ng_map { void *data; size_t len; } ng_map;
ng_status ng_map_file(const char *path, ng_map *m);
/* Read a file whole into a private anonymous mapping advised for huge pages (freed by ng_unmap):
 * for data about to be rewritten in place (decryption), where a private file mapping would take
 * a copy-on-write fault per 4 KiB page. */
ng_status ng_read_file_anon(const char *path, ng_map *m);
void      ng_unmap(ng_map *m);

/* Make the pages of [p, p + n) present and writable now (madvise MADV_POPULATE_WRITE), before
 * they are read: a private file mapping (ng_map_file) changed in place is then copied once per
 * page by the kernel, instead of a read fault and a copy-on-write fault that flushes the TLBs of
 * every core running the process. A hint: does nothing where the kernel lacks it. */
void ng_prefault_write(void *p, size_t n);

/* Atomic file writer: data goes to a temporary file in the same folder, mode 0600 from its
 * creation (unnamed with O_TMPFILE where the file system has it, else ".<name>.tmp-XXXXXX",
 * removed on SIGINT/SIGTERM/SIGHUP); commit sets the final mode, fsyncs it, renames it over
 * path and fsyncs the folder. abort (or a failed write) removes the temp file and leaves any
 * existing file at path untouched.
 *
 * mode is the final mode as open(2) takes it: the process umask is taken off. Outputs that hold
 * secrets or plaintext of a protected model pass NG_MODE_PRIVATE (0600); ordinary outputs pass
 * NG_MODE_PUBLIC (0666, i.e. 0644 under the usual umask 022).
 *
 *     ng_awriter w;
 *     if ((st = ng_awrite_open(&w, path, NG_MODE_PUBLIC)) != NG_OK) return st;
 *     if ((st = ng_awrite(&w, buf, n)) != NG_OK) { ng_awrite_abort(&w); return st; }
 *     return ng_awrite_commit(&w);
 */
#define NG_MODE_PRIVATE 0600u
#define NG_MODE_PUBLIC  0666u
typedef struct ng_awriter {
    int   fd;
    char *path;
    char *tmp;      /* temp file name (for an unnamed file: the name it gets at commit) */
    int   unnamed;  /* O_TMPFILE: no name until commit */
    int   slot;     /* entry in the signal handler's list of temp names, -1 when none */
    unsigned mode;  /* final mode before the umask */
    int   failed;   /* errno of the first failed write (commit refuses), 0 if none */
    int   excl;     /* refuse to replace an existing file */
    uint64_t written;
} ng_awriter;
ng_status ng_awrite_open(ng_awriter *w, const char *path, unsigned mode);
/* Like open, but refuses (NG_E_EXISTS) if path already exists (checked again at commit via link()). */
ng_status ng_awrite_open_excl(ng_awriter *w, const char *path, unsigned mode);
ng_status ng_awrite(ng_awriter *w, const void *buf, size_t n);
/* Write at an offset (any order, from several threads at once). */
ng_status ng_awrite_pwrite(ng_awriter *w, const void *buf, size_t n, uint64_t off);
/* Start writing bytes [off, off + len) to the device now (sync_file_range), so that commit's fsync
 * has less left to wait for: large streamed outputs overlap disk I/O with their computation.
 * A hint: errors are ignored here (commit's fsync reports them). */
void      ng_awrite_start_writeback(ng_awriter *w, uint64_t off, uint64_t len);
ng_status ng_awrite_commit(ng_awriter *w);
void      ng_awrite_abort(ng_awriter *w);
/* Whole buffer to a file atomically. */
ng_status ng_write_file_atomic(const char *path, const void *buf, size_t n, unsigned mode);

#ifdef NG_TEST_HOOKS
/* Test hook (test builds only: cmake -DNG_TEST_HOOKS=ON, the default): when set (NG_FAULT_WRITE_AFTER
 * env var or this call), writes fail with ENOSPC after that many bytes in total, to test that nothing
 * is lost on a full disk. A build with -DNG_TEST_HOOKS=OFF neither reads the variable nor has this. */
void ng_fault_write_after(int64_t bytes);
#endif

/* Little-endian loads/stores. */
static inline uint32_t ng_le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t ng_le64(const uint8_t *p) { return (uint64_t)ng_le32(p) | (uint64_t)ng_le32(p + 4) << 32; }
static inline void ng_put_le32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
static inline void ng_put_le64(uint8_t *p, uint64_t v) { ng_put_le32(p, (uint32_t)v); ng_put_le32(p + 4, (uint32_t)(v >> 32)); }

/* An ordered string -> string list (ONNX metadata_props, safetensors __metadata__). */
typedef struct ng_meta_kv { char *key, *value; } ng_meta_kv;
typedef struct ng_meta { ng_meta_kv *kv; size_t n; } ng_meta;
const char *ng_meta_get(const ng_meta *m, const char *key);            /* NULL if absent */
ng_status   ng_meta_set(ng_meta *m, const char *key, const char *value); /* value NULL removes */
ng_status   ng_meta_copy(ng_meta *dst, const ng_meta *src);
void        ng_meta_free(ng_meta *m);

/* Monotonic seconds. */
double ng_now(void);
/* CPU seconds used by the process so far (all its threads): timings that a loaded machine does
 * not stretch the way it stretches wall-clock seconds. */
double ng_cpu_now(void);

#endif
