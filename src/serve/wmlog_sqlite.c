/* serve/wmlog_sqlite.c - the request log of label mode in an embedded SQLite database (WAL),
 * behind the ng_wmlog interface (nnguard/serve.h). One connection, serialised by a mutex:
 * only the watermarked answers (a fraction r of all) are written. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "nnguard/serve.h"
#include "core/core.h"

typedef struct sqlog {
    ng_wmlog base;
    sqlite3 *db;
    sqlite3_stmt *ins;
    pthread_mutex_t mu;
    char *path;
} sqlog;

static ng_status dberr(sqlog *l, const char *what)
{
    return ng_fail(NG_E_IO, "%s: request log: %s: %s", l->path, what, sqlite3_errmsg(l->db));
}

static ng_status sq_record(ng_wmlog *b, const ng_wmlog_entry *e)
{
    sqlog *l = (sqlog *)b;
    if (!l->ins) return ng_fail(NG_E_STATE, "%s: the request log is open read-only", l->path);
    size_t cnt = (size_t)e->c * (size_t)e->h * (size_t)e->w;
    uint8_t *blob = malloc(cnt * 4 + 1);
    if (!blob) return ng_fail(NG_E_NOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++) { uint32_t u; memcpy(&u, &e->input[i], 4); ng_put_le32(blob + 4 * i, u); }
    pthread_mutex_lock(&l->mu);
    sqlite3_stmt *s = l->ins;
    sqlite3_bind_text(s, 1, e->client ? e->client : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, e->time_ms);
    sqlite3_bind_blob(s, 3, e->digest, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 4, e->c);
    sqlite3_bind_int(s, 5, e->h);
    sqlite3_bind_int(s, 6, e->w);
    sqlite3_bind_blob(s, 7, blob, (int)(cnt * 4), SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 8, e->label_true);
    sqlite3_bind_int(s, 9, e->label);
    int rc = sqlite3_step(s);
    ng_status st = rc == SQLITE_DONE ? NG_OK : dberr(l, "insert");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    pthread_mutex_unlock(&l->mu);
    free(blob);
    return st;
}

static ng_status sq_foreach(ng_wmlog *b, const char *client, ng_wmlog_cb cb, void *arg)
{
    sqlog *l = (sqlog *)b;
    sqlite3_stmt *s;
    const char *sql = client ? "SELECT client,time_ms,digest,c,h,w,input,label_true,label FROM nnguard_wm_log WHERE client=?1 ORDER BY id"
                             : "SELECT client,time_ms,digest,c,h,w,input,label_true,label FROM nnguard_wm_log ORDER BY id";
    pthread_mutex_lock(&l->mu);
    if (sqlite3_prepare_v2(l->db, sql, -1, &s, NULL) != SQLITE_OK) {
        ng_status st = dberr(l, "query");
        pthread_mutex_unlock(&l->mu);
        return st;
    }
    if (client) sqlite3_bind_text(s, 1, client, -1, SQLITE_TRANSIENT);
    ng_status st = NG_OK;
    float *buf = NULL;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ng_wmlog_entry e;
        memset(&e, 0, sizeof e);
        e.client = (const char *)sqlite3_column_text(s, 0);
        e.time_ms = sqlite3_column_int64(s, 1);
        const void *dg = sqlite3_column_blob(s, 2);
        int dlen = sqlite3_column_bytes(s, 2);
        e.c = sqlite3_column_int(s, 3);
        e.h = sqlite3_column_int(s, 4);
        e.w = sqlite3_column_int(s, 5);
        const uint8_t *in = sqlite3_column_blob(s, 6);
        size_t ilen = (size_t)sqlite3_column_bytes(s, 6);
        e.label_true = sqlite3_column_int(s, 7);
        e.label = sqlite3_column_int(s, 8);
        if (dlen != 32 || e.c < 1 || e.h < 1 || e.w < 1 || e.c > 65536 || e.h > 65536 || e.w > 65536 ||
            ilen != (size_t)e.c * (size_t)e.h * (size_t)e.w * 4 || !dg || !in) {
            st = ng_fail(NG_E_FORMAT, "%s: request log: a malformed row (digest, shape or input size)", l->path);
            break;
        }
        memcpy(e.digest, dg, 32);
        size_t cnt = ilen / 4;
        if (cnt > cap) {
            float *nb = realloc(buf, cnt * sizeof *nb);
            if (!nb) { st = ng_fail(NG_E_NOMEM, "out of memory"); break; }
            buf = nb;
            cap = cnt;
        }
        for (size_t i = 0; i < cnt; i++) { uint32_t u = ng_le32(in + 4 * i); memcpy(&buf[i], &u, 4); }
        e.input = buf;
        if (cb(arg, &e)) break;
    }
    if (st == NG_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) st = dberr(l, "read");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&l->mu);
    free(buf);
    return st;
}

static ng_status sq_flush(ng_wmlog *b)
{
    sqlog *l = (sqlog *)b;
    pthread_mutex_lock(&l->mu);
    int rc = sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_unlock(&l->mu);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? NG_OK : dberr(l, "checkpoint");
}

static void sq_close(ng_wmlog *b)
{
    sqlog *l = (sqlog *)b;
    sqlite3_finalize(l->ins);
    sqlite3_close(l->db);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}

static const ng_wmlog_ops sq_ops = { sq_record, sq_foreach, sq_flush, sq_close };

ng_status ng_wmlog_sqlite_open(const char *path, int readonly, ng_wmlog **out)
{
    *out = NULL;
    sqlog *l = calloc(1, sizeof *l);
    if (!l || !(l->path = ng_strdup(path))) { free(l); return ng_fail(NG_E_NOMEM, "out of memory"); }
    l->base.ops = &sq_ops;
    pthread_mutex_init(&l->mu, NULL);
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    ng_status st = NG_OK;
    if (sqlite3_open_v2(path, &l->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        st = ng_fail(NG_E_IO, "%s: cannot open the request log: %s", path, l->db ? sqlite3_errmsg(l->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(l->db, 5000);
    if (!readonly) {
        const char *init =
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            "CREATE TABLE IF NOT EXISTS nnguard_wm_log(id INTEGER PRIMARY KEY, client TEXT NOT NULL,"
            " time_ms INTEGER NOT NULL, digest BLOB NOT NULL, c INTEGER NOT NULL, h INTEGER NOT NULL,"
            " w INTEGER NOT NULL, input BLOB NOT NULL, label_true INTEGER NOT NULL, label INTEGER NOT NULL);"
            "CREATE INDEX IF NOT EXISTS nnguard_wm_log_client ON nnguard_wm_log(client);";
        if (sqlite3_exec(l->db, init, NULL, NULL, NULL) != SQLITE_OK) { st = dberr(l, "create"); goto fail; }
        if (sqlite3_prepare_v2(l->db, "INSERT INTO nnguard_wm_log(client,time_ms,digest,c,h,w,input,label_true,label)"
                               " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)", -1, &l->ins, NULL) != SQLITE_OK) {
            st = dberr(l, "prepare");
            goto fail;
        }
    }
    *out = &l->base;
    return NG_OK;
fail:
    sq_close(&l->base);
    return st;
}
