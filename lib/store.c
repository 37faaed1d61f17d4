/*
 * store: SQLite behind the keep stage. All SQL text is in store_sql.h; statements are
 * prepared once in hvd_store_open(), reset after each use and finalized in close.
 *
 * Seen input is cached per (host, channel) or (node, section) and written back at commit, in
 * the same transaction as the diagnoses it produced, so a crash loses or repeats nothing; a
 * rollback drops the caches, which reload from the database when next needed.
 */
#include "store.h"

#include "alloc.h"
#include "buf.h"
#include "hvtime.h"
#include "store_sql.h"

#include <ctype.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCHEMA_VERSION  ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))
#define INCIDENT_GAP    (6 * 3600 * INT64_C(10000000)) /* a quieter gap starts a new incident */
#define BUSY_TIMEOUT_MS 10000

struct ivset { /* EVTX record ids seen for one (host, channel) */
    char *host;
    char *channel;
    uint64_t *lo;
    uint64_t *hi;
    size_t n;
    size_t cap;
    int dirty;
};

struct hwm { /* cluster.log lines seen for one (node, section) */
    char *node;
    char *section;
    hvd_time time;
    uint64_t *hashes;
    size_t n;
    size_t cap;
    int dirty;
};

struct hvd_store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[SQL_COUNT];
    int in_tx;
    int readonly;
    struct ivset *evtx;
    size_t nevtx;
    struct hwm *clog;
    size_t nclog;
    hvd_buf text; /* scratch for strings handed out by get_source */
};

static int db_error(hvd_store *st, hvd_error *err, const char *what)
{
    return hvd_error_set_cause(err, HVD_ESTORE, sqlite3_errcode(st->db), st->path, 0, "%s: %s",
                               what, sqlite3_errmsg(st->db));
}

static int exec(hvd_store *st, const char *sql, hvd_error *err)
{
    char *msg = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = hvd_error_set_cause(err, HVD_ESTORE, sqlite3_errcode(st->db), st->path, 0, "%s",
                                     msg ? msg : sqlite3_errmsg(st->db));

        sqlite3_free(msg);
        return rc;
    }
    return HVD_OK;
}

/* Steps a statement to completion; returns HVD_OK or a store error. */
static int step_done(hvd_store *st, sqlite3_stmt *s, hvd_error *err, const char *what)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return db_error(st, err, what);
    }
    return HVD_OK;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static int user_version(hvd_store *st, int *v, hvd_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
        return db_error(st, err, "cannot read the schema version");
    }
    rc = sqlite3_step(s);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? HVD_OK : db_error(st, err, "cannot read the schema version");
}

static int migrate(hvd_store *st, hvd_error *err)
{
    int v;
    int rc = user_version(st, &v, err);
    char sql[64];

    if (rc < 0) {
        return rc;
    }
    if (v > SCHEMA_VERSION) {
        return hvd_error_set(err, HVD_ESTORE, st->path, 0,
                             "written by a newer hvdiag (schema %d, this one knows %d)", v,
                             SCHEMA_VERSION);
    }
    for (; v < SCHEMA_VERSION; v++) {
        rc = exec(st, "BEGIN IMMEDIATE", err);
        if (rc == HVD_OK) {
            rc = exec(st, store_migrations[v], err);
        }
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if (rc == HVD_OK) {
            rc = exec(st, sql, err);
        }
        if (rc == HVD_OK) {
            rc = exec(st, "COMMIT", err);
        }
        if (rc < 0) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return HVD_OK;
}

int hvd_store_open(hvd_store **out, const char *path, int flags, hvd_error *err)
{
    hvd_store *st;
    int readonly = flags & HVD_STORE_READONLY;
    int rc;
    int v;

    *out = NULL;
    st = hvd_calloc(1, sizeof(*st));
    if (!st) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate the store");
    }
    hvd_buf_init(&st->text, 1 << 20);
    st->path = hvd_strdup(path);
    if (!st->path) {
        hvd_free(st);
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate the store");
    }
    /* sqlite3_open_v2() returns a handle even when it fails; close() releases it. */
    if (sqlite3_open_v2(path, &st->db,
                        readonly ? SQLITE_OPEN_READONLY
                                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        rc = hvd_error_set(err, HVD_ESTORE, path, 0, "cannot open: %s",
                           st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    st->readonly = readonly;
    if (!readonly) {
        rc = exec(st,
                  "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                  " PRAGMA foreign_keys = ON",
                  err);
        if (rc == HVD_OK) {
            rc = migrate(st, err);
        }
    } else {
        rc = user_version(st, &v, err);
        if (rc == HVD_OK && (v < 1 || v > SCHEMA_VERSION)) {
            rc = hvd_error_set(err, HVD_ESTORE, path, 0,
                               v < 1 ? "not an hvdiag database" : "written by a newer hvdiag");
        }
    }
    if (rc < 0) {
        goto fail;
    }
    for (int i = 0; i < SQL_COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                               NULL) != SQLITE_OK) {
            rc = db_error(st, err, "cannot prepare a statement");
            goto fail;
        }
    }
    *out = st;
    return HVD_OK;
fail:
    hvd_store_close(st);
    return rc;
}

static void caches_clear(hvd_store *st)
{
    for (size_t i = 0; i < st->nevtx; i++) {
        hvd_free(st->evtx[i].host);
        hvd_free(st->evtx[i].channel);
        hvd_free(st->evtx[i].lo);
        hvd_free(st->evtx[i].hi);
    }
    hvd_free(st->evtx);
    st->evtx = NULL;
    st->nevtx = 0;
    for (size_t i = 0; i < st->nclog; i++) {
        hvd_free(st->clog[i].node);
        hvd_free(st->clog[i].section);
        hvd_free(st->clog[i].hashes);
    }
    hvd_free(st->clog);
    st->clog = NULL;
    st->nclog = 0;
}

void hvd_store_close(hvd_store *st)
{
    if (!st) {
        return;
    }
    if (st->in_tx) {
        hvd_store_rollback(st);
    }
    caches_clear(st);
    for (int i = 0; i < SQL_COUNT; i++) {
        sqlite3_finalize(st->stmt[i]);
    }
    sqlite3_close(st->db);
    hvd_buf_free(&st->text);
    hvd_free(st->path);
    hvd_free(st);
}

int hvd_store_begin(hvd_store *st, hvd_error *err)
{
    int rc;

    if (st->readonly) {
        return hvd_error_set(err, HVD_ESTORE, st->path, 0, "opened read-only");
    }
    rc = exec(st, "BEGIN IMMEDIATE", err);

    st->in_tx = rc == HVD_OK;
    return rc;
}

static int flush_seen(hvd_store *st, hvd_error *err)
{
    hvd_buf hex;
    int rc = HVD_OK;

    for (size_t i = 0; i < st->nevtx && rc == HVD_OK; i++) {
        struct ivset *s = &st->evtx[i];
        sqlite3_stmt *del = st->stmt[SQL_EVTX_DELETE];
        sqlite3_stmt *ins = st->stmt[SQL_EVTX_INSERT];

        if (!s->dirty) {
            continue;
        }
        bind_text(del, 1, s->host);
        bind_text(del, 2, s->channel);
        rc = step_done(st, del, err, "cannot save seen records");
        for (size_t k = 0; k < s->n && rc == HVD_OK; k++) {
            bind_text(ins, 1, s->host);
            bind_text(ins, 2, s->channel);
            sqlite3_bind_int64(ins, 3, (sqlite3_int64)s->lo[k]);
            sqlite3_bind_int64(ins, 4, (sqlite3_int64)s->hi[k]);
            rc = step_done(st, ins, err, "cannot save seen records");
        }
        s->dirty = 0;
    }
    hvd_buf_init(&hex, 64u << 20);
    for (size_t i = 0; i < st->nclog && rc == HVD_OK; i++) {
        struct hwm *h = &st->clog[i];
        sqlite3_stmt *put = st->stmt[SQL_CLOG_PUT];

        if (!h->dirty) {
            continue;
        }
        hvd_buf_reset(&hex);
        for (size_t k = 0; k < h->n; k++) {
            hvd_buf_printf(&hex, "%s%016" PRIx64, k ? " " : "", h->hashes[k]);
        }
        bind_text(put, 1, h->node);
        bind_text(put, 2, h->section);
        sqlite3_bind_int64(put, 3, h->time);
        bind_text(put, 4, hvd_buf_str(&hex));
        rc = step_done(st, put, err, "cannot save seen lines");
        h->dirty = 0;
    }
    hvd_buf_free(&hex);
    return rc;
}

int hvd_store_commit(hvd_store *st, hvd_error *err)
{
    int rc = flush_seen(st, err);

    if (rc == HVD_OK) {
        rc = exec(st, "COMMIT", err);
    }
    if (rc < 0) {
        hvd_store_rollback(st);
        return rc;
    }
    st->in_tx = 0;
    return HVD_OK;
}

void hvd_store_rollback(hvd_store *st)
{
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_tx = 0;
    caches_clear(st); /* marks made since begin are gone: reload from the database */
}

/* --- seen input --------------------------------------------------------------------- */

static struct ivset *ivset_get(hvd_store *st, const char *host, const char *channel, hvd_error *err)
{
    struct ivset *s;
    sqlite3_stmt *q = st->stmt[SQL_EVTX_LOAD];
    int rc;

    for (size_t i = 0; i < st->nevtx; i++) {
        if (strcmp(st->evtx[i].host, host) == 0 && strcmp(st->evtx[i].channel, channel) == 0) {
            return &st->evtx[i];
        }
    }
    s = hvd_realloc(st->evtx, (st->nevtx + 1) * sizeof(*s));
    if (!s) {
        hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
        return NULL;
    }
    st->evtx = s;
    s = &st->evtx[st->nevtx];
    memset(s, 0, sizeof(*s));
    s->host = hvd_strdup(host);
    s->channel = hvd_strdup(channel);
    if (!s->host || !s->channel) {
        hvd_free(s->host);
        hvd_free(s->channel);
        hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
        return NULL;
    }
    st->nevtx++;
    bind_text(q, 1, host);
    bind_text(q, 2, channel);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 16;
            uint64_t *lo = hvd_realloc(s->lo, cap * sizeof(*lo));
            uint64_t *hi = lo ? hvd_realloc(s->hi, cap * sizeof(*hi)) : NULL;

            if (lo) {
                s->lo = lo;
            }
            if (!lo || !hi) {
                sqlite3_reset(q);
                hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
                return NULL;
            }
            s->hi = hi;
            s->cap = cap;
        }
        s->lo[s->n] = (uint64_t)sqlite3_column_int64(q, 0);
        s->hi[s->n] = (uint64_t)sqlite3_column_int64(q, 1);
        s->n++;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) {
        db_error(st, err, "cannot load seen records");
        return NULL;
    }
    return s;
}

/* Adds id to the sorted, disjoint intervals, merging neighbours. */
static int ivset_add(struct ivset *s, uint64_t id)
{
    size_t lo = 0;
    size_t hi = s->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (s->hi[mid] < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    /* lo: first interval whose end is >= id */
    if (lo < s->n && s->lo[lo] <= id) {
        return 1; /* seen */
    }
    if (lo > 0 && s->hi[lo - 1] + 1 == id) {
        s->hi[lo - 1] = id;
        if (lo < s->n && s->lo[lo] == id + 1) {
            s->hi[lo - 1] = s->hi[lo];
            memmove(s->lo + lo, s->lo + lo + 1, (s->n - lo - 1) * sizeof(*s->lo));
            memmove(s->hi + lo, s->hi + lo + 1, (s->n - lo - 1) * sizeof(*s->hi));
            s->n--;
        }
    } else if (lo < s->n && s->lo[lo] == id + 1) {
        s->lo[lo] = id;
    } else {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 16;
            uint64_t *nlo = hvd_realloc(s->lo, cap * sizeof(*nlo));
            uint64_t *nhi;

            if (!nlo) {
                return -1;
            }
            s->lo = nlo;
            nhi = hvd_realloc(s->hi, cap * sizeof(*nhi));
            if (!nhi) {
                return -1;
            }
            s->hi = nhi;
            s->cap = cap;
        }
        memmove(s->lo + lo + 1, s->lo + lo, (s->n - lo) * sizeof(*s->lo));
        memmove(s->hi + lo + 1, s->hi + lo, (s->n - lo) * sizeof(*s->hi));
        s->lo[lo] = id;
        s->hi[lo] = id;
        s->n++;
    }
    s->dirty = 1;
    return 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static struct hwm *hwm_get(hvd_store *st, const char *node, const char *section, hvd_error *err)
{
    struct hwm *h;
    sqlite3_stmt *q = st->stmt[SQL_CLOG_LOAD];

    for (size_t i = 0; i < st->nclog; i++) {
        if (strcmp(st->clog[i].node, node) == 0 && strcmp(st->clog[i].section, section) == 0) {
            return &st->clog[i];
        }
    }
    h = hvd_realloc(st->clog, (st->nclog + 1) * sizeof(*h));
    if (!h) {
        hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
        return NULL;
    }
    st->clog = h;
    h = &st->clog[st->nclog];
    memset(h, 0, sizeof(*h));
    h->node = hvd_strdup(node);
    h->section = hvd_strdup(section);
    if (!h->node || !h->section) {
        hvd_free(h->node);
        hvd_free(h->section);
        hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
        return NULL;
    }
    st->nclog++;
    h->time = INT64_MIN;
    bind_text(q, 1, node);
    bind_text(q, 2, section);
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(q, 1);

        h->time = sqlite3_column_int64(q, 0);
        while (p && *p) {
            char *end;
            uint64_t v = strtoull(p, &end, 16);
            uint64_t *grown;

            if (end == p) {
                break;
            }
            grown = hvd_realloc(h->hashes, (h->n + 1) * sizeof(*grown));
            if (!grown) {
                break;
            }
            h->hashes = grown;
            h->hashes[h->n++] = v;
            p = end;
        }
    }
    sqlite3_reset(q);
    return h;
}

int hvd_store_event_seen(hvd_store *st, const hvd_event *ev, int *seen, hvd_error *err)
{
    *seen = 0;
    if (ev->kind == HVD_SOURCE_EVTX) {
        struct ivset *s;
        int r;

        if (ev->event_record_id == 0) {
            return HVD_OK; /* nothing to identify it by */
        }
        s = ivset_get(st, ev->host, ev->channel, err);
        if (!s) {
            return err ? err->code : HVD_ENOMEM;
        }
        r = ivset_add(s, ev->event_record_id);
        if (r < 0) {
            return hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
        }
        *seen = r;
        return HVD_OK;
    }
    if (ev->kind == HVD_SOURCE_CLUSTERLOG) {
        struct hwm *h = hwm_get(st, ev->host, ev->channel ? ev->channel : "", err);
        char ids[32];
        uint64_t hash;

        if (!h) {
            return err ? err->code : HVD_ENOMEM;
        }
        snprintf(ids, sizeof(ids), "%08x.%08x|", ev->pid, ev->tid);
        hash = fnv(fnv(1469598103934665603ULL, ids), ev->message ? ev->message : "");
        if (ev->time < h->time) {
            *seen = 1;
            return HVD_OK;
        }
        if (ev->time == h->time) {
            for (size_t i = 0; i < h->n; i++) {
                if (h->hashes[i] == hash) {
                    *seen = 1;
                    return HVD_OK;
                }
            }
        } else {
            h->time = ev->time;
            h->n = 0;
        }
        if (h->n == h->cap) {
            size_t cap = h->cap ? 2 * h->cap : 8;
            uint64_t *grown = hvd_realloc(h->hashes, cap * sizeof(*grown));

            if (!grown) {
                return hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
            }
            h->hashes = grown;
            h->cap = cap;
        }
        h->hashes[h->n++] = hash;
        h->dirty = 1;
    }
    return HVD_OK;
}

/* --- diagnoses ---------------------------------------------------------------------- */

static const char *entity_or_empty(const hvd_diagnosis *d, const char *name)
{
    const char *v = hvd_diagnosis_entity(d, name);

    return v ? v : "";
}

static int put_evidence(hvd_store *st, sqlite3_int64 id, const hvd_evidence *e, int *added,
                        hvd_error *err)
{
    sqlite3_stmt *s = st->stmt[SQL_EVIDENCE_PUT];
    int rc;

    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, hvd_source_kind_name(e->kind));
    bind_text(s, 3, e->source_path);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)e->record_id);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)e->event_record_id);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)e->line);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)e->byte_offset);
    sqlite3_bind_int64(s, 8, e->time);
    bind_text(s, 9, e->host);
    bind_text(s, 10, e->provider);
    bind_text(s, 11, e->channel);
    bind_text(s, 12, e->component);
    sqlite3_bind_int(s, 13, e->event_id);
    sqlite3_bind_int(s, 14, e->level);
    bind_text(s, 15, e->message);
    rc = step_done(st, s, err, "cannot store evidence");
    if (rc == HVD_OK && sqlite3_changes(st->db) > 0) {
        *added = 1;
    }
    return rc;
}

int hvd_store_put_diagnosis(hvd_store *st, const hvd_diagnosis *d, int *changed, hvd_error *err)
{
    sqlite3_stmt *find = st->stmt[SQL_DIAG_FIND];
    sqlite3_int64 id;
    int any = 0;
    int rc;

    bind_text(find, 1, d->key);
    rc = sqlite3_step(find);
    if (rc == SQLITE_ROW) {
        hvd_time first = sqlite3_column_int64(find, 1);
        hvd_time last = sqlite3_column_int64(find, 2);
        uint64_t count = (uint64_t)sqlite3_column_int64(find, 3);
        int same_text = strcmp((const char *)sqlite3_column_text(find, 4), d->title) == 0 &&
                        strcmp((const char *)sqlite3_column_text(find, 5), d->remedy) == 0 &&
                        strcmp((const char *)sqlite3_column_text(find, 6), d->cause) == 0;

        id = sqlite3_column_int64(find, 0);
        sqlite3_reset(find);
        if (d->first_time < first || d->last_time > last || d->count > count || !same_text) {
            sqlite3_stmt *up = st->stmt[SQL_DIAG_UPDATE];

            sqlite3_bind_int64(up, 1, id);
            sqlite3_bind_int64(up, 2, d->first_time < first ? d->first_time : first);
            sqlite3_bind_int64(up, 3, d->last_time > last ? d->last_time : last);
            sqlite3_bind_int64(up, 4, (sqlite3_int64)(d->count > count ? d->count : count));
            bind_text(up, 5, d->title);
            bind_text(up, 6, d->cause);
            bind_text(up, 7, d->remedy);
            rc = step_done(st, up, err, "cannot update a diagnosis");
            any = 1;
        } else {
            rc = HVD_OK;
        }
    } else if (rc == SQLITE_DONE) {
        sqlite3_stmt *ins = st->stmt[SQL_DIAG_INSERT];
        hvd_buf refs;

        sqlite3_reset(find);
        hvd_buf_init(&refs, 64 * 1024);
        for (size_t i = 0; i < d->nreferences; i++) {
            hvd_buf_printf(&refs, "%s%s", i ? "\n" : "", d->references[i]);
        }
        bind_text(ins, 1, d->key);
        bind_text(ins, 2, d->kind == HVD_DIAGNOSIS_CORRELATION ? "correlation" : "signature");
        bind_text(ins, 3, d->rule_id);
        bind_text(ins, 4, d->title);
        sqlite3_bind_int(ins, 5, (int)d->severity);
        bind_text(ins, 6, d->confidence);
        bind_text(ins, 7, d->cause);
        bind_text(ins, 8, d->remedy);
        bind_text(ins, 9, hvd_buf_str(&refs));
        bind_text(ins, 10, entity_or_empty(d, HVD_ENTITY_VM_NAME));
        bind_text(ins, 11, entity_or_empty(d, HVD_ENTITY_VM_ID));
        bind_text(ins, 12, entity_or_empty(d, HVD_ENTITY_HOST));
        sqlite3_bind_int64(ins, 13, d->first_time);
        sqlite3_bind_int64(ins, 14, d->last_time);
        sqlite3_bind_int64(ins, 15, (sqlite3_int64)d->count);
        rc = step_done(st, ins, err, "cannot store a diagnosis");
        hvd_buf_free(&refs);
        id = sqlite3_last_insert_rowid(st->db);
        for (size_t i = 0; rc == HVD_OK && i < d->nentities; i++) {
            sqlite3_stmt *s = st->stmt[SQL_ENTITY_PUT];

            sqlite3_bind_int64(s, 1, id);
            bind_text(s, 2, d->entities[i].name);
            bind_text(s, 3, d->entities[i].value);
            rc = step_done(st, s, err, "cannot store an entity");
        }
        for (size_t i = 0; rc == HVD_OK && i < d->nrelated; i++) {
            sqlite3_stmt *s = st->stmt[SQL_RELATED_PUT];

            sqlite3_bind_int64(s, 1, id);
            bind_text(s, 2, d->related[i]);
            rc = step_done(st, s, err, "cannot store a related diagnosis");
        }
        any = 1;
    } else {
        sqlite3_reset(find);
        return db_error(st, err, "cannot look up a diagnosis");
    }
    for (size_t i = 0; rc == HVD_OK && i < d->nevidence; i++) {
        rc = put_evidence(st, id, &d->evidence[i], &any, err);
    }
    if (changed && any) {
        *changed = 1;
    }
    return rc;
}

/* --- sources -------------------------------------------------------------------------- */

int hvd_store_put_source(hvd_store *st, const hvd_store_source *src, hvd_error *err)
{
    sqlite3_stmt *s = st->stmt[SQL_SOURCE_PUT];

    bind_text(s, 1, src->path);
    bind_text(s, 2, src->kind);
    bind_text(s, 3, src->host);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)src->size);
    sqlite3_bind_int64(s, 5, src->mtime);
    bind_text(s, 6, src->position);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)src->events);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)src->skipped);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)src->first_skipped);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)src->recovered);
    sqlite3_bind_int(s, 11, src->corrupted);
    sqlite3_bind_int(s, 12, src->dirty);
    bind_text(s, 13, src->encoding);
    bind_text(s, 14, src->last_error);
    sqlite3_bind_int(s, 15, src->quarantined);
    bind_text(s, 16, src->quarantine_reason);
    return step_done(st, s, err, "cannot store a source");
}

int hvd_store_get_source(hvd_store *st, const char *path, hvd_store_source *out, hvd_error *err)
{
    sqlite3_stmt *s = st->stmt[SQL_SOURCE_GET];
    size_t at[16];
    int rc;

    bind_text(s, 1, path);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return db_error(st, err, "cannot read a source");
    }
    /* Strings are copied into one scratch buffer: offsets first, pointers after it stops
     * growing. */
    hvd_buf_reset(&st->text);
    for (int i = 0; i < 16; i++) {
        const char *v = (const char *)sqlite3_column_text(s, i);

        at[i] = st->text.len;
        hvd_buf_adds(&st->text, v ? v : "");
        hvd_buf_addc(&st->text, '\0');
    }
    memset(out, 0, sizeof(*out));
    out->size = (uint64_t)sqlite3_column_int64(s, 3);
    out->mtime = sqlite3_column_int64(s, 4);
    out->events = (uint64_t)sqlite3_column_int64(s, 6);
    out->skipped = (uint64_t)sqlite3_column_int64(s, 7);
    out->first_skipped = (uint64_t)sqlite3_column_int64(s, 8);
    out->recovered = (uint64_t)sqlite3_column_int64(s, 9);
    out->corrupted = sqlite3_column_int(s, 10);
    out->dirty = sqlite3_column_int(s, 11);
    out->quarantined = sqlite3_column_int(s, 14);
    sqlite3_reset(s);
    if (!st->text.data) {
        return hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
    }
    out->path = st->text.data + at[0];
    out->kind = st->text.data + at[1];
    out->host = st->text.data + at[2];
    out->position = st->text.data + at[5];
    out->encoding = st->text.data + at[12];
    out->last_error = st->text.data + at[13];
    out->quarantine_reason = st->text.data + at[15];
    return 1;
}

/* --- incidents ---------------------------------------------------------------------- */

struct inc_diag {
    int64_t id;
    char *key;
    int correlation;
    char subject[200];
    int subject_vm;
    char host[160];
    hvd_time first;
    hvd_time last;
    int severity;
    char *title;
    char *remedy;
    size_t parent;
};

static size_t find_root(struct inc_diag *v, size_t i)
{
    while (v[i].parent != i) {
        v[i].parent = v[v[i].parent].parent;
        i = v[i].parent;
    }
    return i;
}

static void unite(struct inc_diag *v, size_t a, size_t b)
{
    a = find_root(v, a);
    b = find_root(v, b);
    if (a != b) {
        /* The smaller index wins, so the result does not depend on the order of unions. */
        if (a < b) {
            v[b].parent = a;
        } else {
            v[a].parent = b;
        }
    }
}

static int by_subject_time(const void *x, const void *y)
{
    const struct inc_diag *a = *(const struct inc_diag *const *)x;
    const struct inc_diag *b = *(const struct inc_diag *const *)y;
    int c = strcasecmp(a->subject, b->subject);

    if (c) {
        return c;
    }
    if (a->first != b->first) {
        return a->first < b->first ? -1 : 1;
    }
    return strcmp(a->key, b->key);
}

/* A host's first label, as written: subjects compare without regard to case. */
static void short_name(char *dst, size_t cap, const char *host)
{
    size_t n = 0;

    for (; host[n] && host[n] != '.' && n + 1 < cap; n++) {
        dst[n] = host[n];
    }
    dst[n] = '\0';
}

static int strcasestr_ascii(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Is a better root cause than b: a correlation, then more severe, then earlier. */
static int better_root(const struct inc_diag *a, const struct inc_diag *b)
{
    if (a->correlation != b->correlation) {
        return a->correlation;
    }
    if (a->severity != b->severity) {
        return a->severity > b->severity;
    }
    if (a->first != b->first) {
        return a->first < b->first;
    }
    return strcmp(a->key, b->key) < 0;
}

int hvd_store_rebuild_incidents(hvd_store *st, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    sqlite3_stmt *ins = NULL;
    sqlite3_stmt *set = NULL;
    struct inc_diag *v = NULL;
    struct inc_diag **order = NULL;
    size_t n = 0;
    size_t cap = 0;
    int rc = HVD_OK;

    if (sqlite3_prepare_v2(st->db, store_sql_all_diagnoses, -1, &q, NULL) != SQLITE_OK) {
        return db_error(st, err, "cannot read diagnoses");
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct inc_diag *d;
        const char *vm = (const char *)sqlite3_column_text(q, 3);
        const char *vmid = (const char *)sqlite3_column_text(q, 4);
        const char *host = (const char *)sqlite3_column_text(q, 5);

        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            struct inc_diag *grown = hvd_realloc(v, ncap * sizeof(*grown));

            if (!grown) {
                rc = SQLITE_NOMEM;
                break;
            }
            v = grown;
            cap = ncap;
        }
        d = &v[n];
        memset(d, 0, sizeof(*d));
        d->id = sqlite3_column_int64(q, 0);
        d->key = hvd_strdup((const char *)sqlite3_column_text(q, 1));
        d->correlation = strcmp((const char *)sqlite3_column_text(q, 2), "correlation") == 0;
        short_name(d->host, sizeof(d->host), host ? host : "");
        if (vm && *vm) {
            snprintf(d->subject, sizeof(d->subject), "vm:%s", vm);
            d->subject_vm = 1;
        } else if (vmid && *vmid) {
            snprintf(d->subject, sizeof(d->subject), "vm:%s", vmid);
            d->subject_vm = 1;
        } else {
            snprintf(d->subject, sizeof(d->subject), "host:%s", d->host);
        }
        d->first = sqlite3_column_int64(q, 6);
        d->last = sqlite3_column_int64(q, 7);
        d->severity = sqlite3_column_int(q, 8);
        d->title = hvd_strdup((const char *)sqlite3_column_text(q, 9));
        d->remedy = hvd_strdup((const char *)sqlite3_column_text(q, 10));
        d->parent = n;
        n++;
        if (!d->key || !d->title || !d->remedy) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (rc != SQLITE_DONE) {
        rc = rc == SQLITE_NOMEM ? hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory")
                                : db_error(st, err, "cannot read diagnoses");
        goto out;
    }
    rc = HVD_OK;
    /* Same subject, no gap longer than INCIDENT_GAP: one incident. */
    order = hvd_calloc(n ? n : 1, sizeof(*order));
    if (!order) {
        rc = hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = &v[i];
    }
    if (n > 1) {
        qsort(order, n, sizeof(*order), by_subject_time);
    }
    {
        hvd_time reach = 0; /* the latest end so far in the current run of one subject */

        for (size_t i = 0; i < n; i++) {
            if (i > 0 && strcasecmp(order[i - 1]->subject, order[i]->subject) == 0 &&
                order[i]->first <= reach + INCIDENT_GAP) {
                unite(v, (size_t)(order[i - 1] - v), (size_t)(order[i] - v));
                reach = order[i]->last > reach ? order[i]->last : reach;
            } else {
                reach = order[i]->last;
            }
        }
    }
    /* A correlation pulls the diagnoses it explains into its incident. */
    if (sqlite3_prepare_v2(st->db, store_sql_all_related, -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, err, "cannot read related diagnoses");
        goto out;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        int64_t a = sqlite3_column_int64(q, 0);
        int64_t b = sqlite3_column_int64(q, 1);
        size_t ia = n;
        size_t ib = n;

        for (size_t i = 0; i < n; i++) {
            ia = v[i].id == a ? i : ia;
            ib = v[i].id == b ? i : ib;
        }
        if (ia < n && ib < n) {
            unite(v, ia, ib);
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    rc = exec(st, "DELETE FROM incidents; UPDATE diagnoses SET incident = NULL", err);
    if (rc < 0) {
        goto out;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO incidents(id, subject_kind, subject, hosts, first_time,"
                           " last_time, severity, title, remedy, root, diagnoses)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "UPDATE diagnoses SET incident = ?1 WHERE id = ?2", -1, &set,
                           NULL) != SQLITE_OK) {
        rc = db_error(st, err, "cannot write incidents");
        goto out;
    }
    /* Incidents numbered in order of their first diagnosis (v is in first_time order). */
    {
        int64_t next_id = 1;
        size_t *root_of = hvd_calloc(n ? n : 1, sizeof(*root_of));
        int64_t *ids = hvd_calloc(n ? n : 1, sizeof(*ids));

        if (!root_of || !ids) {
            hvd_free(root_of);
            hvd_free(ids);
            rc = hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            root_of[i] = find_root(v, i);
        }
        for (size_t i = 0; i < n && rc == HVD_OK; i++) {
            size_t r = root_of[i];
            size_t best = i;
            hvd_time first = v[i].first;
            hvd_time last = v[i].last;
            int severity = 0;
            int64_t count = 0;
            hvd_buf hosts;

            if (ids[r]) {
                continue;
            }
            ids[r] = next_id++;
            hvd_buf_init(&hosts, 64 * 1024);
            for (size_t k = 0; k < n; k++) {
                char needle[170];

                if (root_of[k] != r) {
                    continue;
                }
                count++;
                first = v[k].first < first ? v[k].first : first;
                last = v[k].last > last ? v[k].last : last;
                severity = v[k].severity > severity ? v[k].severity : severity;
                if (better_root(&v[k], &v[best])) {
                    best = k;
                }
                snprintf(needle, sizeof(needle), ",%s,", v[k].host);
                if (v[k].host[0] && !strcasestr_ascii(hvd_buf_str(&hosts), needle)) {
                    if (!hosts.len) {
                        hvd_buf_addc(&hosts, ',');
                    }
                    hvd_buf_adds(&hosts, v[k].host);
                    hvd_buf_addc(&hosts, ',');
                }
                sqlite3_bind_int64(set, 1, ids[r]);
                sqlite3_bind_int64(set, 2, v[k].id);
                rc = step_done(st, set, err, "cannot write incidents");
            }
            {
                /* The subject: the root's, unless it is a host and a member names a VM. */
                const struct inc_diag *subj = &v[best];
                const char *hl = hosts.len > 2 ? hvd_buf_str(&hosts) + 1 : "";
                char hostlist[4096];

                for (size_t k = 0; !subj->subject_vm && k < n; k++) {
                    if (root_of[k] == r && v[k].subject_vm) {
                        subj = &v[k];
                    }
                }
                snprintf(hostlist, sizeof(hostlist), "%.*s", (int)(strlen(hl) ? strlen(hl) - 1 : 0),
                         hl);
                sqlite3_bind_int64(ins, 1, ids[r]);
                bind_text(ins, 2, subj->subject_vm ? "vm" : "host");
                bind_text(ins, 3, strchr(subj->subject, ':') + 1);
                bind_text(ins, 4, hostlist);
                sqlite3_bind_int64(ins, 5, first);
                sqlite3_bind_int64(ins, 6, last);
                sqlite3_bind_int(ins, 7, severity);
                bind_text(ins, 8, v[best].title);
                bind_text(ins, 9, v[best].remedy);
                sqlite3_bind_int64(ins, 10, v[best].id);
                sqlite3_bind_int64(ins, 11, count);
                if (rc == HVD_OK) {
                    rc = step_done(st, ins, err, "cannot write incidents");
                }
            }
            hvd_buf_free(&hosts);
        }
        hvd_free(root_of);
        hvd_free(ids);
    }
out:
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    sqlite3_finalize(set);
    for (size_t i = 0; i < n; i++) {
        hvd_free(v[i].key);
        hvd_free(v[i].title);
        hvd_free(v[i].remedy);
    }
    hvd_free(v);
    hvd_free(order);
    return rc;
}

/* --- reading ------------------------------------------------------------------------ */

int hvd_store_incidents(hvd_store *st, const hvd_incident_filter *f,
                        int (*fn)(void *ud, const hvd_incident *in), void *ud, hvd_error *err)
{
    static const char sql[] =
        "SELECT id, subject_kind, subject, hosts, first_time, last_time, severity, title,"
        " remedy, diagnoses FROM incidents i WHERE severity >= ?1"
        " AND (?2 IS NULL OR EXISTS(SELECT 1 FROM diagnoses d WHERE d.incident = i.id AND"
        "  (d.vm_name = ?2 COLLATE NOCASE OR d.vm_id = ?2 COLLATE NOCASE)))"
        " AND (?3 IS NULL OR EXISTS(SELECT 1 FROM diagnoses d WHERE d.incident = i.id AND"
        "  (d.host = ?3 COLLATE NOCASE OR d.host LIKE ?3 || '.%')))"
        " AND (?4 IS NULL OR EXISTS(SELECT 1 FROM diagnoses d WHERE d.incident = i.id AND"
        "  d.rule = ?4))"
        " AND (?5 = 0 OR last_time >= ?5) AND (?6 = 0 OR first_time <= ?6)"
        " ORDER BY first_time DESC, id DESC LIMIT ?7 OFFSET ?8";
    sqlite3_stmt *q = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        return db_error(st, err, "cannot query incidents");
    }
    sqlite3_bind_int(q, 1, f ? f->min_severity : 0);
    if (f && f->vm) {
        bind_text(q, 2, f->vm);
    }
    if (f && f->host) {
        bind_text(q, 3, f->host);
    }
    if (f && f->rule) {
        bind_text(q, 4, f->rule);
    }
    sqlite3_bind_int64(q, 5, f ? f->since : 0);
    sqlite3_bind_int64(q, 6, f ? f->until : 0);
    sqlite3_bind_int64(q, 7, f && f->limit > 0 ? f->limit : -1);
    sqlite3_bind_int64(q, 8, f ? f->offset : 0);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_incident in;

        in.id = sqlite3_column_int64(q, 0);
        in.subject_kind = (const char *)sqlite3_column_text(q, 1);
        in.subject = (const char *)sqlite3_column_text(q, 2);
        in.hosts = (const char *)sqlite3_column_text(q, 3);
        in.first_time = sqlite3_column_int64(q, 4);
        in.last_time = sqlite3_column_int64(q, 5);
        in.severity = (hvd_severity)sqlite3_column_int(q, 6);
        in.title = (const char *)sqlite3_column_text(q, 7);
        in.remedy = (const char *)sqlite3_column_text(q, 8);
        in.diagnoses = sqlite3_column_int64(q, 9);
        if (fn(ud, &in)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot query incidents");
}

/* Walks the diagnosis rows of a prepared statement (columns as SQL_INCIDENT_DIAGS). */
static int walk_diagnoses(hvd_store *st, sqlite3_stmt *q,
                          int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                          hvd_error *err)
{
    int rc;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_stored_diagnosis d;

        d.id = sqlite3_column_int64(q, 0);
        d.key = (const char *)sqlite3_column_text(q, 1);
        d.kind = (const char *)sqlite3_column_text(q, 2);
        d.rule_id = (const char *)sqlite3_column_text(q, 3);
        d.title = (const char *)sqlite3_column_text(q, 4);
        d.severity = (hvd_severity)sqlite3_column_int(q, 5);
        d.confidence = (const char *)sqlite3_column_text(q, 6);
        d.cause = (const char *)sqlite3_column_text(q, 7);
        d.remedy = (const char *)sqlite3_column_text(q, 8);
        d.references = (const char *)sqlite3_column_text(q, 9);
        d.vm_name = (const char *)sqlite3_column_text(q, 10);
        d.vm_id = (const char *)sqlite3_column_text(q, 11);
        d.host = (const char *)sqlite3_column_text(q, 12);
        d.first_time = sqlite3_column_int64(q, 13);
        d.last_time = sqlite3_column_int64(q, 14);
        d.count = (uint64_t)sqlite3_column_int64(q, 15);
        d.root = strcmp(d.kind, "correlation") == 0;
        if (fn(ud, &d)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot query diagnoses");
}

int hvd_store_incident_diagnoses(hvd_store *st, int64_t incident,
                                 int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                                 hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_INCIDENT_DIAGS];

    sqlite3_bind_int64(q, 1, incident);
    return walk_diagnoses(st, q, fn, ud, err);
}

int hvd_store_diagnoses_after(hvd_store *st, int64_t after,
                              int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                              hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_DIAGS_AFTER];

    sqlite3_bind_int64(q, 1, after);
    return walk_diagnoses(st, q, fn, ud, err);
}

int hvd_store_diagnosis_evidence(hvd_store *st, int64_t diagnosis,
                                 int (*fn)(void *ud, const hvd_evidence *ev), void *ud,
                                 hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_EVIDENCE_OF];
    int rc;

    sqlite3_bind_int64(q, 1, diagnosis);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_evidence e;
        const char *kind = (const char *)sqlite3_column_text(q, 0);

        e.kind = strcmp(kind, "evtx") == 0 ? HVD_SOURCE_EVTX : HVD_SOURCE_CLUSTERLOG;
        e.source_path = (const char *)sqlite3_column_text(q, 1);
        e.record_id = (uint64_t)sqlite3_column_int64(q, 2);
        e.event_record_id = (uint64_t)sqlite3_column_int64(q, 3);
        e.line = (uint64_t)sqlite3_column_int64(q, 4);
        e.byte_offset = (uint64_t)sqlite3_column_int64(q, 5);
        e.time = sqlite3_column_int64(q, 6);
        e.host = (const char *)sqlite3_column_text(q, 7);
        e.provider = (const char *)sqlite3_column_text(q, 8);
        e.channel = (const char *)sqlite3_column_text(q, 9);
        e.component = (const char *)sqlite3_column_text(q, 10);
        e.event_id = (uint16_t)sqlite3_column_int(q, 11);
        e.level = (uint8_t)sqlite3_column_int(q, 12);
        e.message = (const char *)sqlite3_column_text(q, 13);
        if (fn(ud, &e)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot query evidence");
}

int hvd_store_get_counts(hvd_store *st, hvd_store_counts *out, hvd_error *err)
{
    static const char sql[] = "SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM"
                              " diagnoses), (SELECT count(*) FROM incidents),"
                              " (SELECT count(*) FROM evidence)";
    sqlite3_stmt *q = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        return db_error(st, err, "cannot count");
    }
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->sources = sqlite3_column_int64(q, 0);
        out->diagnoses = sqlite3_column_int64(q, 1);
        out->incidents = sqlite3_column_int64(q, 2);
        out->evidence = sqlite3_column_int64(q, 3);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? HVD_OK : db_error(st, err, "cannot count");
}

int hvd_store_sources(hvd_store *st, int (*fn)(void *ud, const hvd_store_source *src), void *ud,
                      hvd_error *err)
{
    static const char sql[] = "SELECT path, kind, host, size, mtime, position, events, skipped,"
                              " first_skipped, recovered, corrupted, dirty, encoding, last_error,"
                              " quarantined, quarantine_reason FROM sources ORDER BY path";
    sqlite3_stmt *q = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        return db_error(st, err, "cannot list sources");
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_store_source s;

        s.path = (const char *)sqlite3_column_text(q, 0);
        s.kind = (const char *)sqlite3_column_text(q, 1);
        s.host = (const char *)sqlite3_column_text(q, 2);
        s.size = (uint64_t)sqlite3_column_int64(q, 3);
        s.mtime = sqlite3_column_int64(q, 4);
        s.position = (const char *)sqlite3_column_text(q, 5);
        s.events = (uint64_t)sqlite3_column_int64(q, 6);
        s.skipped = (uint64_t)sqlite3_column_int64(q, 7);
        s.first_skipped = (uint64_t)sqlite3_column_int64(q, 8);
        s.recovered = (uint64_t)sqlite3_column_int64(q, 9);
        s.corrupted = sqlite3_column_int(q, 10);
        s.dirty = sqlite3_column_int(q, 11);
        s.encoding = (const char *)sqlite3_column_text(q, 12);
        s.last_error = (const char *)sqlite3_column_text(q, 13);
        s.quarantined = sqlite3_column_int(q, 14);
        s.quarantine_reason = (const char *)sqlite3_column_text(q, 15);
        if (fn(ud, &s)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list sources");
}
