/*
 * store: SQLite behind the keep stage. All SQL text is in store_sql.h; statements are
 * prepared once in hvd_store_open(), reset after each use and finalized in close.
 *
 * Seen input (see store.h for the rules) is cached in memory per (host, channel) or
 * (node, section), loaded on first use, and written back at commit in the same transaction as the
 * diagnoses it produced, so a crash loses or repeats nothing. A rollback drops the caches (they
 * reload when next needed), and so does a begin that finds another connection has committed since
 * (PRAGMA data_version), so two writers never trust a stale cache.
 *
 * Incidents are regrouped at commit when diagnoses changed. Put notes which ones; commit
 * reads those, the diagnoses that can share an incident with them (index searches by
 * subject and time, correlation and incident) and regroups only that part, so its cost
 * follows what changed, not the size of the database. hvd_store_rebuild_incidents() is
 * the full pass over all diagnoses; both give the same incidents and ids (see the
 * incidents section). Only changed incidents and memberships are written.
 */
#include "store.h"
#include "store_internal.h"

#include "alloc.h"
#include "buf.h"
#include "hvtime.h"
#include "store_sql.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SCHEMA_VERSION  ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))
#define BUSY_TIMEOUT_MS 10000
#define HOST_MAX        256 /* a host's short name, as kept for grouping */
/* Changed diagnoses below which hvd_store_settle() leaves the regrouping to commit. */
#define SETTLE_MIN 1024
/* Changes noted per transaction for regrouping; past this, commit regroups everything. */
#define CHANGED_MAX (1u << 20)
/* Above this many changed diagnoses, and an eighth of all, one full pass is cheaper. */
#define REGROUP_FULL_MIN 64
/* Below this highest diagnosis id such a full pass holds little (about 100 bytes each) and
 * is faster than the merge path; above it, the merge path is tried first. */
#define REGROUP_SMALL 4096

_Static_assert(STORE_SQL_SCHEMA_LATEST_VERSION == SCHEMA_VERSION,
               "store_schema_latest must be the schema of the last migration: run check_store");
_Static_assert(HVD_STORE_SCHEMA_VERSION ==
                   (int)(sizeof(store_migrations) / sizeof(store_migrations[0])),
               "HVD_STORE_SCHEMA_VERSION must count the migrations");

struct iv { /* EVTX record ids [lo, hi] of one log instance */
    uint64_t lo;
    uint64_t hi;
    hvd_time lo_time;  /* time of record lo; 0: unknown */
    hvd_time hi_time;  /* time of record hi; 0: unknown */
    hvd_time min_time; /* span of the known times inside; min > max: none known */
    hvd_time max_time;
};

struct ivset { /* one log instance: sorted, disjoint, non-adjacent intervals */
    int64_t inst;
    struct iv *v;
    size_t n;
    size_t cap;
};

struct evlog { /* EVTX records seen for one (host, channel) */
    char *host;
    char *channel;
    struct ivset *sets;
    size_t nsets;
    int64_t next_inst;
    size_t cur; /* the instance the open transaction's records join, or NO_INST */
    int dirty;
};

struct hset { /* hashes of the lines at one time: open addressing, 0 is an empty slot */
    uint64_t *slot;
    size_t n;
    size_t cap; /* 0 or a power of two */
    int full;   /* HSET_MAX reached: every line at this time counts as covered */
};

struct crange { /* a cluster.log time range read: lines strictly inside are all covered */
    hvd_time lo;
    hvd_time hi;
    struct hset at_lo; /* the lines at exactly lo */
    struct hset at_hi; /* the lines at exactly hi */
    int stored;        /* a row with this lo exists in the database */
    int changed;       /* to be written at commit */
};

struct clog { /* cluster.log lines seen for one (node, section) */
    char *node;
    char *section;
    struct crange *r; /* sorted by lo, disjoint, not touching */
    size_t n;
    size_t cap;
    hvd_time *gone; /* lo of stored ranges merged away: rows to delete at commit */
    size_t ngone;
    size_t capgone;
    struct crange run; /* the open transaction's lines, when run_on */
    int run_on;
    int64_t pending_lines; /* new lines in the open transaction */
    int dirty;
};

/* How a noted diagnosis changed, as regrouping reads it. Of two notes of one diagnosis the
 * greater kind stands. */
enum change_kind {
    CHANGE_GREW,     /* its span widened (and did not end before it started), it names more
                      * members, its text changed or its severity rose: it keeps every link
                      * it had and ranks no lower, so no incident splits or loses its root */
    CHANGE_OTHER,    /* its severity fell, or a span that ended before it started widened */
    CHANGE_INSERTED, /* new in this transaction */
};

struct changed_diag { /* a diagnosis the open transaction changed in a way grouping sees */
    int64_t id;
    int kind; /* enum change_kind */
};

struct hvd_store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[SQL_COUNT];
    /* Listings by filter combination ([0] diagnoses, [1] incidents), prepared when first
     * asked for: 256 statements would cost more to prepare at open than a query runs. */
    sqlite3_stmt *list[2][STORE_LIST_COMBOS];
    int in_tx;
    int readonly;
    int incidents_dirty; /* diagnoses changed in the open transaction */
    struct changed_diag *changed;
    size_t nchanged;
    size_t changed_cap;
    int changes_lost;        /* not all changes were noted: regroup everything */
    int64_t regroup_loaded;  /* diagnoses the last regrouping read */
    int64_t merges;          /* regroupings by the merge path, since open */
    int64_t merge_fallbacks; /* merge path tried and given up, since open */
    size_t settle_min;       /* SETTLE_MIN, or what hvd__store_settle_min() set */
    int64_t pending_marks;   /* events marked in the open transaction */
    int64_t data_version;    /* PRAGMA data_version at the last begin */
    int64_t sides;           /* join sides kept in diagnosis_keys (-1: not read yet) */
    struct evlog *evtx;
    size_t nevtx;
    size_t evtx_last; /* index of the log used last: events of one file share it */
    struct clog *clog;
    size_t nclog;
    size_t clog_last;
    hvd_buf text; /* scratch for strings handed out by get_source */
};

/* --- plumbing ------------------------------------------------------------------------- */

static int db_error(hvd_store *st, hvd_error *err, const char *what)
{
    return hvd_error_set_cause(err, HVD_ESTORE, sqlite3_extended_errcode(st->db), st->path, 0,
                               "%s: %s", what, sqlite3_errmsg(st->db));
}

static int no_memory(hvd_store *st, hvd_error *err)
{
    return hvd_error_set(err, HVD_ENOMEM, st->path, 0, "out of memory");
}

static int exec(hvd_store *st, const char *sql, hvd_error *err)
{
    char *msg = NULL;
    int rc;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK) {
        return HVD_OK;
    }
    rc = hvd_error_set_cause(err, HVD_ESTORE, sqlite3_extended_errcode(st->db), st->path, 0, "%s",
                             msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    return rc;
}

/* Steps a statement that returns no rows (or whose rows are not wanted) and resets it. */
static int step_done(hvd_store *st, sqlite3_stmt *s, hvd_error *err, const char *what)
{
    int rc = sqlite3_step(s);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        rc = db_error(st, err, what);
        sqlite3_reset(s);
        return rc;
    }
    sqlite3_reset(s);
    return HVD_OK;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) {
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(s, i);
    }
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const char *v = (const char *)sqlite3_column_text(s, i);

    return v ? v : "";
}

/* A statement for a read that may be running already (a callback reading more): the
 * shared one when idle (prepared now if open left it for later), else a private copy the
 * caller finalizes with stmt_release(). */
static int stmt_acquire(hvd_store *st, int which, sqlite3_stmt **out, hvd_error *err)
{
    if (st->stmt[which] && !sqlite3_stmt_busy(st->stmt[which])) {
        *out = st->stmt[which];
        return HVD_OK;
    }
    if (sqlite3_prepare_v3(st->db, store_sql[which], -1,
                           st->stmt[which] ? 0 : SQLITE_PREPARE_PERSISTENT, out,
                           NULL) != SQLITE_OK) {
        *out = NULL;
        return db_error(st, err, "cannot prepare a statement");
    }
    if (!st->stmt[which]) {
        st->stmt[which] = *out;
    }
    return HVD_OK;
}

/* Whether open prepares a statement. Those only read through stmt_acquire() are prepared
 * when first used, and a read-only store never writes or regroups: preparing every
 * statement costs more than a query of 'hvdiag query' runs. */
static int prepared_at_open(int which, int readonly)
{
    switch (which) {
    case SQL_SOURCE_GET:
    case SQL_SOURCE_LIST:
    case SQL_SOURCE_PAGE:
    case SQL_INCIDENT_GET:
    case SQL_INCIDENT_DIAGS:
    case SQL_INCIDENT_DIAGS_AFTER:
    case SQL_DIAGS_AFTER:
    case SQL_DIAGS_JOINED:
    case SQL_DIAG_MAX_SPAN:
    case SQL_RULE_STORED:
    case SQL_KEYS_PUT:
    case SQL_KEYS_MOVE:
    case SQL_SIDE_ADD:
    case SQL_SIDE_FILL:
    case SQL_SIDES_COUNT:
    case SQL_EVIDENCE_OF:
    case SQL_EVIDENCE_COUNT:
    case SQL_ENTITIES_OF:
    case SQL_COUNTS:
    case SQL_DUMP_DIAG:
    case SQL_DUMP_ENTITY:
    case SQL_DUMP_RELATED:
    case SQL_DUMP_EVIDENCE:
    case SQL_DUMP_INCIDENT:
    case SQL_DUMP_MEMBER:
    case SQL_DUMP_EVTX:
    case SQL_DUMP_CLOG:
    case SQL_READ_BEGIN:
    case SQL_READ_END:
    case SQL_SEVERITY_COUNTS:
    case SQL_OUTBOX_READ:
    case SQL_OUTBOX_STATE:
    case SQL_OUTBOX_REVISION:
    case SQL_OUTBOX_RECORD:
        return 0;
    case SQL_DIAG_FIND:
    case SQL_DIAG_INSERT:
    case SQL_DIAG_UPDATE:
    case SQL_ENTITY_PUT:
    case SQL_RELATED_PUT:
    case SQL_EVIDENCE_PUT:
    case SQL_EVTX_DELETE:
    case SQL_EVTX_INSERT:
    case SQL_CLOG_DELETE:
    case SQL_CLOG_PUT:
    case SQL_CLOG_LINES_ADD:
    case SQL_COUNTER_ADD:
    case SQL_SOURCE_PUT:
    case SQL_SOURCE_QUARANTINE:
    case SQL_INC_ROOT_TEXT:
    case SQL_EVIDENCE_TRIM:
    case SQL_CURSOR_DEACTIVATE:
    case SQL_CURSOR_ATTACH:
    case SQL_CURSOR_DROP_INACTIVE:
    case SQL_CURSOR_SET:
    case SQL_OUTBOX_PRUNE:
        return !readonly;
    default:
        /* read-only: those read through stmt_ready() are prepared when first used */
        return !readonly;
    }
}

/* st->stmt[which], prepared now when open left it for later. Unlike stmt_acquire(), for a
 * statement that is never running when asked for. */
static int stmt_ready(hvd_store *st, int which, sqlite3_stmt **out, hvd_error *err)
{
    if (!st->stmt[which] &&
        sqlite3_prepare_v3(st->db, store_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                           &st->stmt[which], NULL) != SQLITE_OK) {
        st->stmt[which] = NULL;
        *out = NULL;
        return db_error(st, err, "cannot prepare a statement");
    }
    *out = st->stmt[which];
    return HVD_OK;
}

static void stmt_release(hvd_store *st, int which, sqlite3_stmt *s)
{
    if (s == st->stmt[which]) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    } else {
        sqlite3_finalize(s);
    }
}

static int need_tx(hvd_store *st, hvd_error *err)
{
    if (!st->in_tx) {
        return hvd_error_set(err, HVD_EINVAL, st->path, 0, "no transaction is open");
    }
    return HVD_OK;
}

static hvd_time now_ticks(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (hvd_time)ts.tv_sec * HVD_TICKS_PER_SECOND + ts.tv_nsec / 100;
}

/* --- open, close, migrations ----------------------------------------------------------- */

static int pragma_int(hvd_store *st, const char *sql, int64_t *v, hvd_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        return db_error(st, err, "cannot read the database header");
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(s, 0);
        rc = HVD_OK;
    } else {
        rc = db_error(st, err, "cannot read the database header");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Brings the schema to SCHEMA_VERSION: all missing steps in one transaction, or for a new
 * file the latest schema at once. */
static int migrate(hvd_store *st, hvd_error *err)
{
    int64_t v;
    char sql[64];
    int rc;

    rc = exec(st, "BEGIN IMMEDIATE", err);
    if (rc < 0) {
        return rc;
    }
    /* Read inside the write lock: another process may be migrating the same file. */
    rc = pragma_int(st, STORE_SQL_USER_VERSION, &v, err);
    if (rc == HVD_OK && v > SCHEMA_VERSION) {
        rc = hvd_error_set(err, HVD_ESTORE, st->path, 0,
                           "written by a newer hvdiag (schema version %" PRId64
                           ", this one knows up to %d); refusing to touch it",
                           v, SCHEMA_VERSION);
    }
    if (rc == HVD_OK && v < 0) {
        rc = hvd_error_set(err, HVD_ESTORE, st->path, 0, "not an hvdiag database");
    }
    if (rc == HVD_OK && v == 0) {
        int64_t empty = 0;

        rc = pragma_int(st, STORE_SQL_SCHEMA_EMPTY, &empty, err);
        if (rc == HVD_OK && empty) {
            rc = exec(st, store_schema_latest, err);
            v = SCHEMA_VERSION;
            if (rc == HVD_OK) {
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
                rc = exec(st, sql, err);
            }
        }
    }
    for (; rc == HVD_OK && v < SCHEMA_VERSION; v++) {
        rc = exec(st, store_migrations[v], err);
        if (rc == HVD_OK) {
            snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", (int)v + 1);
            rc = exec(st, sql, err);
        }
    }
    if (rc == HVD_OK) {
        rc = exec(st, "COMMIT", err);
    }
    if (rc < 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

static pthread_once_t sqlite_setup_once = PTHREAD_ONCE_INIT;

/* Once per process, before SQLite starts: no memory statistics (nothing reads them), so
 * SQLite's allocations skip a global mutex and a malloc_usable_size() each. Fails
 * harmlessly when SQLite was started already. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int hvd_store_open(hvd_store **out, const char *path, int flags, hvd_error *err)
{
    hvd_store *st = NULL;
    int readonly = (flags & HVD_STORE_READONLY) != 0;
    int64_t v = 0;
    int rc;

    *out = NULL;
    pthread_once(&sqlite_setup_once, sqlite_setup);
    st = hvd_calloc(1, sizeof(*st));
    if (!st) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate the store");
    }
    hvd_buf_init(&st->text, 1 << 20);
    st->settle_min = SETTLE_MIN;
    st->sides = -1;
    st->readonly = readonly;
    st->path = hvd_strdup(path);
    if (!st->path) {
        rc = hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate the store");
        goto fail;
    }
    /* sqlite3_open_v2() returns a handle even when it fails; close() releases it. */
    rc = sqlite3_open_v2(
        path, &st->db, readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
        NULL);
    if (rc != SQLITE_OK) {
        rc = hvd_error_set_cause(err, HVD_ESTORE, rc, path, 0, "cannot open: %s",
                                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    if (!readonly) {
        rc = exec(st, STORE_SQL_OPEN_WRITE, err);
        if (rc == HVD_OK) {
            rc = migrate(st, err);
        }
    } else {
        /* No foreign_keys: a read-only connection changes nothing they would check. */
        rc = exec(st, STORE_SQL_OPEN_READ, err);
        if (rc == HVD_OK) {
            rc = pragma_int(st, STORE_SQL_USER_VERSION, &v, err);
        }
        if (rc == HVD_OK && v < 1) {
            rc = hvd_error_set(err, HVD_ESTORE, path, 0, "not an hvdiag database (no schema)");
        } else if (rc == HVD_OK && v > SCHEMA_VERSION) {
            rc = hvd_error_set(err, HVD_ESTORE, path, 0,
                               "written by a newer hvdiag (schema version %" PRId64
                               ", this one knows up to %d)",
                               v, SCHEMA_VERSION);
        } else if (rc == HVD_OK && v < SCHEMA_VERSION && (flags & HVD_STORE_UPGRADE)) {
            hvd_store *rw = NULL;

            hvd_store_close(st);
            rc = hvd_store_open(&rw, path, 0, err);
            hvd_store_close(rw);
            return rc < 0 ? rc : hvd_store_open(out, path, HVD_STORE_READONLY, err);
        } else if (rc == HVD_OK && v < SCHEMA_VERSION) {
            rc = hvd_error_set(err, HVD_ESTORE, path, 0,
                               "schema version %" PRId64 " is older than this hvdiag's %d;"
                               " open it for writing once to upgrade it",
                               v, SCHEMA_VERSION);
        }
    }
    if (rc < 0) {
        goto fail;
    }
    for (int i = 0; i < SQL_COUNT; i++) {
        if (!prepared_at_open(i, readonly)) {
            continue;
        }
        if (sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                               NULL) != SQLITE_OK) {
            rc = db_error(st, err, "cannot prepare a statement");
            goto fail;
        }
    }
    /* data_version is compared at begin, which a read-only store never does */
    rc = readonly ? HVD_OK : pragma_int(st, STORE_SQL_DATA_VERSION, &st->data_version, err);
    if (rc < 0) {
        goto fail;
    }
    *out = st;
    return HVD_OK;
fail:
    hvd_store_close(st);
    return rc;
}

static void evlog_free(struct evlog *g);
static void clog_free(struct clog *c);

static void caches_clear(hvd_store *st)
{
    st->sides = -1;
    for (size_t i = 0; i < st->nevtx; i++) {
        evlog_free(&st->evtx[i]);
    }
    hvd_free(st->evtx);
    st->evtx = NULL;
    st->nevtx = 0;
    st->evtx_last = 0;
    for (size_t i = 0; i < st->nclog; i++) {
        clog_free(&st->clog[i]);
    }
    hvd_free(st->clog);
    st->clog = NULL;
    st->nclog = 0;
    st->clog_last = 0;
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
    hvd_free(st->changed);
    for (int i = 0; i < SQL_COUNT; i++) {
        sqlite3_finalize(st->stmt[i]);
    }
    for (int i = 0; i < STORE_LIST_COMBOS; i++) {
        sqlite3_finalize(st->list[0][i]);
        sqlite3_finalize(st->list[1][i]);
    }
    sqlite3_close(st->db);
    hvd_buf_free(&st->text);
    hvd_free(st->path);
    hvd_free(st);
}

/* --- transactions ---------------------------------------------------------------------- */

static void changes_clear(hvd_store *st)
{
    st->incidents_dirty = 0;
    st->nchanged = 0;
    st->changes_lost = 0;
}

static int changed_by_id(const void *x, const void *y)
{
    const struct changed_diag *a = x;
    const struct changed_diag *b = y;

    return a->id < b->id ? -1 : a->id > b->id;
}

/* Sorts the noted diagnoses and keeps each once (with the greatest kind noted). Cost:
 * O(n log n). */
static void changes_compact(hvd_store *st)
{
    size_t k = 0;

    qsort(st->changed, st->nchanged, sizeof(*st->changed), changed_by_id);
    for (size_t i = 0; i < st->nchanged; i++) {
        if (k > 0 && st->changed[k - 1].id == st->changed[i].id) {
            if (st->changed[i].kind > st->changed[k - 1].kind) {
                st->changed[k - 1].kind = st->changed[i].kind;
            }
        } else {
            st->changed[k++] = st->changed[i];
        }
    }
    st->nchanged = k;
}

/* Notes a diagnosis for regrouping at commit. Out of memory or room, the commit regroups
 * everything instead, so this cannot fail. A diagnosis that grows note by note (each match
 * folded into it) is noted each time: a full array is first compacted, and grows only
 * when that frees less than half, so it holds at most twice the distinct diagnoses
 * changed. Cost: O(log n) amortised per note. */
static void note_changed(hvd_store *st, int64_t id, enum change_kind kind)
{
    st->incidents_dirty = 1;
    if (st->changes_lost) {
        return;
    }
    if (st->nchanged == st->changed_cap) {
        if (st->nchanged > 0) {
            changes_compact(st);
        }
        if (st->changed_cap == 0 || st->nchanged > st->changed_cap / 2) {
            size_t ncap = st->changed_cap ? 2 * st->changed_cap : 64;
            struct changed_diag *grown =
                ncap <= CHANGED_MAX ? hvd_realloc(st->changed, ncap * sizeof(*grown)) : NULL;

            if (!grown) {
                st->changes_lost = 1;
                return;
            }
            st->changed = grown;
            st->changed_cap = ncap;
        }
    }
    st->changed[st->nchanged].id = id;
    st->changed[st->nchanged].kind = kind;
    st->nchanged++;
}

int hvd_store_begin(hvd_store *st, hvd_error *err)
{
    int64_t dv = 0;
    int rc;

    if (st->readonly) {
        return hvd_error_set(err, HVD_EINVAL, st->path, 0, "opened read-only");
    }
    if (st->in_tx) {
        return hvd_error_set(err, HVD_EINVAL, st->path, 0, "a transaction is already open");
    }
    rc = exec(st, "BEGIN IMMEDIATE", err);
    if (rc < 0) {
        return rc;
    }
    st->in_tx = 1;
    changes_clear(st);
    st->regroup_loaded = 0;
    st->pending_marks = 0;
    rc = pragma_int(st, "PRAGMA data_version", &dv, err);
    if (rc < 0) {
        hvd_store_rollback(st);
        return rc;
    }
    if (dv != st->data_version) {
        caches_clear(st); /* another connection wrote: what we cached may be stale */
        st->data_version = dv;
    }
    return HVD_OK;
}

/* Rewrites the intervals of (host, channel): O(intervals), which merge as exports
 * overlap, so they stay few. */
static int flush_evtx(hvd_store *st, struct evlog *g, hvd_error *err)
{
    sqlite3_stmt *del = st->stmt[SQL_EVTX_DELETE];
    sqlite3_stmt *ins = st->stmt[SQL_EVTX_INSERT];
    int rc;

    bind_text(del, 1, g->host);
    bind_text(del, 2, g->channel);
    rc = step_done(st, del, err, "cannot save seen records");
    for (size_t i = 0; i < g->nsets && rc == HVD_OK; i++) {
        const struct ivset *s = &g->sets[i];

        for (size_t k = 0; k < s->n && rc == HVD_OK; k++) {
            bind_text(ins, 1, g->host);
            bind_text(ins, 2, g->channel);
            sqlite3_bind_int64(ins, 3, s->inst);
            sqlite3_bind_int64(ins, 4, (sqlite3_int64)s->v[k].lo);
            sqlite3_bind_int64(ins, 5, (sqlite3_int64)s->v[k].hi);
            sqlite3_bind_int64(ins, 6, s->v[k].lo_time);
            sqlite3_bind_int64(ins, 7, s->v[k].hi_time);
            sqlite3_bind_int64(ins, 8, s->v[k].min_time);
            sqlite3_bind_int64(ins, 9, s->v[k].max_time);
            rc = step_done(st, ins, err, "cannot save seen records");
        }
    }
    return rc;
}

static int clog_run_close(struct clog *c);
static int hset_text(const struct hset *s, hvd_buf *out);

/* Closes the run and writes the ranges it changed: O(ranges) to find them in memory,
 * O(changed) rows written. */
static int flush_clog(hvd_store *st, struct clog *c, hvd_error *err)
{
    sqlite3_stmt *del = st->stmt[SQL_CLOG_DELETE];
    sqlite3_stmt *put = st->stmt[SQL_CLOG_PUT];
    sqlite3_stmt *add = st->stmt[SQL_CLOG_LINES_ADD];
    hvd_buf lo;
    hvd_buf hi;
    int rc = clog_run_close(c);

    if (rc < 0) {
        return no_memory(st, err);
    }
    hvd_buf_init(&lo, 64u << 20);
    hvd_buf_init(&hi, 64u << 20);
    for (size_t k = 0; k < c->ngone && rc == HVD_OK; k++) {
        bind_text(del, 1, c->node);
        bind_text(del, 2, c->section);
        sqlite3_bind_int64(del, 3, c->gone[k]);
        rc = step_done(st, del, err, "cannot save seen lines");
    }
    for (size_t k = 0; k < c->n && rc == HVD_OK; k++) {
        struct crange *r = &c->r[k];

        if (!r->changed) {
            continue;
        }
        if (hset_text(&r->at_lo, &lo) < 0 || hset_text(&r->at_hi, &hi) < 0) {
            rc = no_memory(st, err);
            break;
        }
        bind_text(put, 1, c->node);
        bind_text(put, 2, c->section);
        sqlite3_bind_int64(put, 3, r->lo);
        sqlite3_bind_int64(put, 4, r->hi);
        bind_text(put, 5, hvd_buf_str(&lo));
        bind_text(put, 6, hvd_buf_str(&hi));
        rc = step_done(st, put, err, "cannot save seen lines");
    }
    if (rc == HVD_OK && c->pending_lines) {
        bind_text(add, 1, c->node);
        bind_text(add, 2, c->section);
        sqlite3_bind_int64(add, 3, c->pending_lines);
        rc = step_done(st, add, err, "cannot count seen lines");
    }
    hvd_buf_free(&lo);
    hvd_buf_free(&hi);
    return rc;
}

static int flush_seen(hvd_store *st, hvd_error *err)
{
    sqlite3_stmt *add = st->stmt[SQL_COUNTER_ADD];
    int rc = HVD_OK;

    for (size_t i = 0; i < st->nevtx && rc == HVD_OK; i++) {
        if (st->evtx[i].dirty) {
            rc = flush_evtx(st, &st->evtx[i], err);
        }
    }
    for (size_t i = 0; i < st->nclog && rc == HVD_OK; i++) {
        if (st->clog[i].dirty) {
            rc = flush_clog(st, &st->clog[i], err);
        }
    }
    if (rc == HVD_OK && st->pending_marks) {
        bind_text(add, 1, "events_marked");
        sqlite3_bind_int64(add, 2, st->pending_marks);
        rc = step_done(st, add, err, "cannot count marked events");
    }
    return rc;
}

/* After a commit: what is cached is what is stored. */
static void seen_committed(hvd_store *st)
{
    for (size_t i = 0; i < st->nevtx; i++) {
        st->evtx[i].dirty = 0;
        st->evtx[i].cur = SIZE_MAX;
    }
    for (size_t i = 0; i < st->nclog; i++) {
        struct clog *c = &st->clog[i];

        for (size_t k = 0; k < c->n; k++) {
            c->r[k].stored = 1;
            c->r[k].changed = 0;
        }
        c->ngone = 0;
        c->pending_lines = 0;
        c->dirty = 0;
    }
}

static int regroup_changed(hvd_store *st, hvd_error *err);
static int regroup_closed(hvd_store *st, hvd_error *err);
static int regroup_merge(hvd_store *st, hvd_error *err);
enum { PLAN_FULL, PLAN_MERGE_CLOSED, PLAN_MERGE_FULL }; /* what regroup_plan() returns */
static int regroup_plan(hvd_store *st, int commit, hvd_error *err);

int hvd_store_commit(hvd_store *st, hvd_error *err)
{
    int rc = need_tx(st, err);

    if (rc < 0) {
        return rc;
    }
    rc = flush_seen(st, err);
    if (rc == HVD_OK && st->incidents_dirty) {
        rc = regroup_changed(st, err);
    }
    if (rc == HVD_OK) {
        rc = exec(st, "COMMIT", err);
    }
    if (rc < 0) {
        hvd_store_rollback(st);
        return rc;
    }
    st->in_tx = 0;
    changes_clear(st);
    st->pending_marks = 0;
    seen_committed(st);
    return HVD_OK;
}

int hvd_store_settle_waits(hvd_store *st, hvd_error *err)
{
    int rc = need_tx(st, err);

    if (rc == HVD_OK) {
        rc = regroup_plan(st, 0, err);
    }
    return rc < 0 ? rc : rc == PLAN_FULL;
}

int hvd_store_settle(hvd_store *st, hvd_error *err)
{
    int rc = need_tx(st, err);
    int plan;

    if (rc < 0 || !st->incidents_dirty || (st->nchanged < st->settle_min && !st->changes_lost)) {
        return rc;
    }
    /* A full pass now would be one at commit too (the changes only grow, and faster than
     * the diagnoses): it would hold no less then, so it waits for the commit; so does one
     * the merge path would fall back to. */
    plan = regroup_plan(st, 0, err);
    if (plan < 0 || plan == PLAN_FULL) {
        return plan < 0 ? plan : HVD_OK;
    }
    rc = regroup_merge(st, err);
    if (rc == 1 && plan == PLAN_MERGE_FULL) {
        return HVD_OK;
    }
    if (rc == 1) {
        rc = regroup_closed(st, err);
    }
    if (rc == HVD_OK) {
        changes_clear(st);
    }
    return rc;
}

void hvd_store_rollback(hvd_store *st)
{
    if (!st) {
        return;
    }
    if (st->in_tx) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    st->in_tx = 0;
    changes_clear(st);
    st->pending_marks = 0;
    caches_clear(st); /* marks made since begin are gone: reload from the database */
}

/* --- seen EVTX records ------------------------------------------------------------------ */

#define NO_INST SIZE_MAX

static void iv_widen(struct iv *v, hvd_time t)
{
    if (t != 0) {
        v->min_time = t < v->min_time ? t : v->min_time;
        v->max_time = t > v->max_time ? t : v->max_time;
    }
}

/* Does record (id, t), inside v, agree with what v holds? Exactly at v's ends, within its
 * span of times inside; an unknown time on either side agrees. */
static int iv_agrees(const struct iv *v, uint64_t id, hvd_time t)
{
    if (t == 0) {
        return 1;
    }
    if (id == v->lo && v->lo_time != 0) {
        return t == v->lo_time;
    }
    if (id == v->hi && v->hi_time != 0) {
        return t == v->hi_time;
    }
    return v->min_time > v->max_time || (t >= v->min_time && t <= v->max_time);
}

/* Folds b into a, where a->lo <= b->lo and b starts inside a or right after it. */
static void iv_fold(struct iv *a, const struct iv *b)
{
    if (b->lo == a->lo && a->lo_time == 0) {
        a->lo_time = b->lo_time;
    }
    if (b->hi > a->hi) {
        a->hi = b->hi;
        a->hi_time = b->hi_time;
    } else if (b->hi == a->hi && a->hi_time == 0) {
        a->hi_time = b->hi_time;
    }
    a->min_time = b->min_time < a->min_time ? b->min_time : a->min_time;
    a->max_time = b->max_time > a->max_time ? b->max_time : a->max_time;
}

static int ivset_reserve(struct ivset *s, size_t n)
{
    size_t ncap = s->cap ? s->cap : 8;
    struct iv *grown;

    if (n <= s->cap) {
        return HVD_OK;
    }
    while (ncap < n) {
        ncap *= 2;
    }
    grown = hvd_realloc(s->v, ncap * sizeof(*grown));
    if (!grown) {
        return HVD_ENOMEM;
    }
    s->v = grown;
    s->cap = ncap;
    return HVD_OK;
}

/* Index of the first interval whose end is >= id (s->n when none). O(log n). */
static size_t ivset_search(const struct ivset *s, uint64_t id)
{
    size_t lo = 0;
    size_t hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->v[mid].hi < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

enum { MEET_NONE, MEET_NEXT, MEET_HOLDS };

/* How instance s meets record (id, t): it holds the id and agrees on the time, the record
 * would extend one of its intervals in time order, or neither. O(log n). */
static int ivset_meet(const struct ivset *s, uint64_t id, hvd_time t)
{
    size_t i = ivset_search(s, id);

    if (i < s->n && s->v[i].lo <= id) {
        return iv_agrees(&s->v[i], id, t) ? MEET_HOLDS : MEET_NONE;
    }
    if (i > 0 && s->v[i - 1].hi + 1 == id &&
        (t == 0 || s->v[i - 1].hi_time == 0 || t >= s->v[i - 1].hi_time)) {
        return MEET_NEXT;
    }
    if (i < s->n && id + 1 == s->v[i].lo &&
        (t == 0 || s->v[i].lo_time == 0 || t <= s->v[i].lo_time)) {
        return MEET_NEXT;
    }
    return MEET_NONE;
}

/* Adds (id, t), merging neighbours so intervals stay disjoint and non-adjacent. Returns 1
 * when the id was there already, 0 when added, HVD_ENOMEM. O(n) for a new interval (a
 * move), O(log n) otherwise: records come mostly in order, so moves are rare. */
static int ivset_add(struct ivset *s, uint64_t id, hvd_time t)
{
    size_t i = ivset_search(s, id);
    int joins_prev = i > 0 && s->v[i - 1].hi + 1 == id;
    int joins_next = i < s->n && id != UINT64_MAX && s->v[i].lo == id + 1;

    if (i < s->n && s->v[i].lo <= id) {
        return 1;
    }
    if (joins_prev && joins_next) {
        iv_fold(&s->v[i - 1], &s->v[i]);
        memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
        s->n--;
        iv_widen(&s->v[i - 1], t);
    } else if (joins_prev) {
        s->v[i - 1].hi = id;
        s->v[i - 1].hi_time = t;
        iv_widen(&s->v[i - 1], t);
    } else if (joins_next) {
        s->v[i].lo = id;
        s->v[i].lo_time = t;
        iv_widen(&s->v[i], t);
    } else {
        if (ivset_reserve(s, s->n + 1) < 0) {
            return HVD_ENOMEM;
        }
        memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
        s->v[i].lo = id;
        s->v[i].hi = id;
        s->v[i].lo_time = t;
        s->v[i].hi_time = t;
        s->v[i].min_time = INT64_MAX;
        s->v[i].max_time = INT64_MIN;
        iv_widen(&s->v[i], t);
        s->n++;
    }
    return 0;
}

/* dst becomes the union of dst and src (src is left as it was). O(n + m). */
static int ivset_union(struct ivset *dst, const struct ivset *src)
{
    struct iv *out = hvd_malloc((dst->n + src->n + 1) * sizeof(*out));
    size_t i = 0;
    size_t j = 0;
    size_t n = 0;

    if (!out) {
        return HVD_ENOMEM;
    }
    while (i < dst->n || j < src->n) {
        const struct iv *next = j == src->n || (i < dst->n && dst->v[i].lo <= src->v[j].lo)
                                    ? &dst->v[i++]
                                    : &src->v[j++];

        if (n > 0 && next->lo - 1 <= out[n - 1].hi) {
            iv_fold(&out[n - 1], next);
        } else {
            out[n++] = *next;
        }
    }
    hvd_free(dst->v);
    dst->cap = dst->n + src->n + 1;
    dst->v = out;
    dst->n = n;
    return HVD_OK;
}

static void evlog_free(struct evlog *g)
{
    hvd_free(g->host);
    hvd_free(g->channel);
    for (size_t i = 0; i < g->nsets; i++) {
        hvd_free(g->sets[i].v);
    }
    hvd_free(g->sets);
}

/* A new empty instance in g; its index in *out. */
static int evlog_new_set(struct evlog *g, int64_t inst, size_t *out)
{
    struct ivset *grown = hvd_realloc(g->sets, (g->nsets + 1) * sizeof(*grown));

    if (!grown) {
        return HVD_ENOMEM;
    }
    g->sets = grown;
    memset(&g->sets[g->nsets], 0, sizeof(g->sets[0]));
    g->sets[g->nsets].inst = inst;
    g->next_inst = inst >= g->next_inst ? inst + 1 : g->next_inst;
    *out = g->nsets++;
    return HVD_OK;
}

/* The cached record ids of (host, channel), loaded from the database on first use. On
 * failure returns the code with err set and leaves the cache as it was. */
static int evlog_get(hvd_store *st, const char *host, const char *channel, struct evlog **out,
                     hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    struct evlog g;
    struct evlog *grown;
    int rc;

    if (st->evtx_last < st->nevtx && strcmp(st->evtx[st->evtx_last].host, host) == 0 &&
        strcmp(st->evtx[st->evtx_last].channel, channel) == 0) {
        *out = &st->evtx[st->evtx_last];
        return HVD_OK;
    }
    for (size_t i = 0; i < st->nevtx; i++) {
        if (strcmp(st->evtx[i].host, host) == 0 && strcmp(st->evtx[i].channel, channel) == 0) {
            st->evtx_last = i;
            *out = &st->evtx[i];
            return HVD_OK;
        }
    }
    rc = stmt_ready(st, SQL_EVTX_LOAD, &q, err);
    if (rc < 0) {
        return rc;
    }
    memset(&g, 0, sizeof(g));
    g.cur = NO_INST;
    g.next_inst = 1;
    g.host = hvd_strdup(host);
    g.channel = hvd_strdup(channel);
    if (!g.host || !g.channel) {
        goto nomem;
    }
    bind_text(q, 1, host);
    bind_text(q, 2, channel);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t inst = sqlite3_column_int64(q, 0);
        struct ivset *s = g.nsets ? &g.sets[g.nsets - 1] : NULL;
        size_t k;

        if (!s || s->inst != inst) {
            if (evlog_new_set(&g, inst, &k) < 0) {
                sqlite3_reset(q);
                goto nomem;
            }
            s = &g.sets[k];
        }
        if (ivset_reserve(s, s->n + 1) < 0) {
            sqlite3_reset(q);
            goto nomem;
        }
        s->v[s->n].lo = (uint64_t)sqlite3_column_int64(q, 1);
        s->v[s->n].hi = (uint64_t)sqlite3_column_int64(q, 2);
        s->v[s->n].lo_time = sqlite3_column_int64(q, 3);
        s->v[s->n].hi_time = sqlite3_column_int64(q, 4);
        s->v[s->n].min_time = sqlite3_column_int64(q, 5);
        s->v[s->n].max_time = sqlite3_column_int64(q, 6);
        s->n++;
    }
    if (rc != SQLITE_DONE) {
        rc = db_error(st, err, "cannot load seen records");
        sqlite3_reset(q);
        evlog_free(&g);
        return rc;
    }
    sqlite3_reset(q);
    grown = hvd_realloc(st->evtx, (st->nevtx + 1) * sizeof(*grown));
    if (!grown) {
        goto nomem;
    }
    st->evtx = grown;
    st->evtx[st->nevtx] = g;
    st->evtx_last = st->nevtx++;
    *out = &st->evtx[st->evtx_last];
    return HVD_OK;
nomem:
    evlog_free(&g);
    return no_memory(st, err);
}

/* The open transaction's records are of instance k from now on: when they were of another
 * one, the two are one log and become one instance. */
static int evlog_join(hvd_store *st, struct evlog *g, size_t k, hvd_error *err)
{
    size_t from = g->cur;

    if (from == NO_INST) {
        g->cur = k;
        return HVD_OK;
    }
    if (from == k) {
        return HVD_OK;
    }
    if (ivset_union(&g->sets[k], &g->sets[from]) < 0) {
        return no_memory(st, err);
    }
    hvd_free(g->sets[from].v);
    memmove(g->sets + from, g->sets + from + 1, (g->nsets - from - 1) * sizeof(*g->sets));
    g->nsets--;
    g->cur = k > from ? k - 1 : k;
    g->dirty = 1;
    return HVD_OK;
}

/*
 * Looks record (id, t) up in g and, with mark, records it as read by the open transaction
 * (see the seen-input contract in store.h). *seen says whether it was a repeat.
 * Cost: O(instances x log intervals) per record; instances are few (one per log a host
 * ever had, plus exports that overlap none), intervals merge as exports overlap.
 */
static int evlog_see(hvd_store *st, struct evlog *g, uint64_t id, hvd_time t, int mark, int *seen,
                     hvd_error *err)
{
    size_t holds = NO_INST;
    size_t next = NO_INST;
    size_t k;
    int rc;

    for (size_t i = 0; i < g->nsets && holds == NO_INST; i++) {
        int m = ivset_meet(&g->sets[i], id, t);

        if (m == MEET_HOLDS) {
            holds = i;
        } else if (m == MEET_NEXT && next == NO_INST) {
            next = i;
        }
    }
    *seen = holds != NO_INST;
    if (!mark) {
        return HVD_OK;
    }
    if (holds != NO_INST) {
        return evlog_join(st, g, holds, err);
    }
    if (g->cur == NO_INST && next != NO_INST) {
        g->cur = next;
    }
    if (g->cur == NO_INST) {
        if (evlog_new_set(g, g->next_inst, &k) < 0) {
            return no_memory(st, err);
        }
        g->cur = k;
    }
    rc = ivset_add(&g->sets[g->cur], id, t);
    if (rc < 0) {
        return no_memory(st, err);
    }
    g->dirty = 1;
    st->pending_marks += rc == 0;
    return HVD_OK;
}

int hvd_store_evtx_seen(hvd_store *st, const char *host, const char *channel, uint64_t erid,
                        hvd_time time, hvd_error *err)
{
    struct evlog *g;
    int seen = 0;
    int rc;

    if (erid == 0) {
        return 0; /* nothing to identify it by */
    }
    rc = evlog_get(st, host ? host : "", channel ? channel : "", &g, err);
    if (rc == HVD_OK) {
        rc = evlog_see(st, g, erid, time, 0, &seen, err);
    }
    return rc < 0 ? rc : seen;
}

int hvd_store_evtx_mark(hvd_store *st, const char *host, const char *channel, uint64_t erid,
                        hvd_time time, hvd_error *err)
{
    struct evlog *g;
    int seen;
    int rc = need_tx(st, err);

    if (rc < 0 || erid == 0) {
        return rc;
    }
    rc = evlog_get(st, host ? host : "", channel ? channel : "", &g, err);
    if (rc == HVD_OK) {
        rc = evlog_see(st, g, erid, time, 1, &seen, err);
    }
    return rc;
}

/* --- seen cluster.log lines ------------------------------------------------------------- */

#define HSET_MAX   (1u << 16) /* lines kept at one time; past it the time counts as covered */
#define HSET_SMALL 16         /* a cleared set keeps its table up to this size */

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    }
    return h;
}

/* The same text as schema 1 hashed, so databases from then stay valid; never 0 (an empty
 * slot in a set). */
static uint64_t line_hash(uint32_t pid, uint32_t tid, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    char ids[19]; /* "%08x.%08x|", written without printf: it runs for every line kept */
    uint64_t h;

    for (int i = 0; i < 8; i++) {
        ids[i] = hex[pid >> (28 - 4 * i) & 15];
        ids[9 + i] = hex[tid >> (28 - 4 * i) & 15];
    }
    ids[8] = '.';
    ids[17] = '|';
    ids[18] = '\0';
    h = fnv(fnv(UINT64_C(1469598103934665603), ids), text ? text : "");
    return h ? h : 1;
}

static void hset_free(struct hset *s)
{
    hvd_free(s->slot);
    memset(s, 0, sizeof(*s));
}

static void hset_clear(struct hset *s)
{
    if (s->cap > HSET_SMALL) {
        hset_free(s);
    } else {
        if (s->slot) {
            memset(s->slot, 0, s->cap * sizeof(*s->slot));
        }
        s->n = 0;
        s->full = 0;
    }
}

static size_t hset_home(const struct hset *s, uint64_t h)
{
    return (size_t)((h * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (s->cap - 1);
}

/* O(1) expected: open addressing at most half full. */
static int hset_has(const struct hset *s, uint64_t h)
{
    if (s->cap == 0) {
        return 0;
    }
    for (size_t i = hset_home(s, h);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == h) {
            return 1;
        }
        if (s->slot[i] == 0) {
            return 0;
        }
    }
}

/* Adds h (nonzero); past HSET_MAX the set is marked full instead. HVD_ENOMEM on failure. */
static int hset_add(struct hset *s, uint64_t h)
{
    size_t i;

    if (hset_has(s, h)) {
        return HVD_OK;
    }
    if (s->n >= HSET_MAX) {
        s->full = 1;
        return HVD_OK;
    }
    if (2 * (s->n + 1) > s->cap) {
        struct hset g;

        memset(&g, 0, sizeof(g));
        g.cap = s->cap ? 2 * s->cap : 8;
        g.slot = hvd_calloc(g.cap, sizeof(*g.slot));
        if (!g.slot) {
            return HVD_ENOMEM;
        }
        for (size_t k = 0; k < s->cap; k++) {
            if (s->slot[k]) {
                i = hset_home(&g, s->slot[k]);
                while (g.slot[i]) {
                    i = (i + 1) & (g.cap - 1);
                }
                g.slot[i] = s->slot[k];
            }
        }
        g.n = s->n;
        g.full = s->full;
        hvd_free(s->slot);
        *s = g;
    }
    for (i = hset_home(s, h); s->slot[i]; i = (i + 1) & (s->cap - 1)) {
    }
    s->slot[i] = h;
    s->n++;
    return HVD_OK;
}

static int hset_union(struct hset *dst, const struct hset *src)
{
    for (size_t k = 0; k < src->cap; k++) {
        if (src->slot[k] && hset_add(dst, src->slot[k]) < 0) {
            return HVD_ENOMEM;
        }
    }
    dst->full |= src->full;
    return HVD_OK;
}

/* Reads the space-separated hex hashes of a stored set ("*" first: full). */
static int hset_parse(struct hset *s, const char *text)
{
    while (*text) {
        char *end;
        uint64_t v;

        while (*text == ' ') {
            text++;
        }
        if (*text == '*') {
            s->full = 1;
            text++;
            continue;
        }
        v = strtoull(text, &end, 16);
        if (end == text) {
            break;
        }
        if (hset_add(s, v ? v : 1) < 0) {
            return HVD_ENOMEM;
        }
        text = end;
    }
    return HVD_OK;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x;
    uint64_t b = *(const uint64_t *)y;

    return a < b ? -1 : a > b;
}

/* The set as hset_parse() reads it, sorted. */
static int hset_text(const struct hset *s, hvd_buf *out)
{
    uint64_t *v = s->n ? hvd_malloc(s->n * sizeof(*v)) : NULL;
    size_t n = 0;
    int rc = HVD_OK;

    hvd_buf_reset(out);
    if (s->n && !v) {
        return HVD_ENOMEM;
    }
    for (size_t k = 0; k < s->cap; k++) {
        if (s->slot[k]) {
            v[n++] = s->slot[k];
        }
    }
    if (n > 1) {
        qsort(v, n, sizeof(*v), cmp_u64);
    }
    if (s->full) {
        rc = hvd_buf_adds(out, "*");
    }
    for (size_t k = 0; rc == HVD_OK && k < n; k++) {
        rc = hvd_buf_printf(out, "%s%016" PRIx64, k || s->full ? " " : "", v[k]);
    }
    if (rc == HVD_OK) {
        rc = hvd_buf_adds(out, ""); /* a string even when empty */
    }
    hvd_free(v);
    return rc;
}

static void crange_free(struct crange *r)
{
    hset_free(&r->at_lo);
    hset_free(&r->at_hi);
}

static void clog_free(struct clog *c)
{
    hvd_free(c->node);
    hvd_free(c->section);
    for (size_t i = 0; i < c->n; i++) {
        crange_free(&c->r[i]);
    }
    hvd_free(c->r);
    hvd_free(c->gone);
    crange_free(&c->run);
}

static int clog_reserve(struct clog *c, size_t n)
{
    size_t ncap = c->cap ? c->cap : 8;
    struct crange *grown;

    if (n <= c->cap) {
        return HVD_OK;
    }
    while (ncap < n) {
        ncap *= 2;
    }
    grown = hvd_realloc(c->r, ncap * sizeof(*grown));
    if (!grown) {
        return HVD_ENOMEM;
    }
    c->r = grown;
    c->cap = ncap;
    return HVD_OK;
}

/* The cached ranges of (node, section), loaded on first use; as evlog_get(). */
static int clog_get(hvd_store *st, const char *node, const char *section, struct clog **out,
                    hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    struct clog c;
    struct clog *grown;
    int rc;

    if (st->clog_last < st->nclog && strcmp(st->clog[st->clog_last].node, node) == 0 &&
        strcmp(st->clog[st->clog_last].section, section) == 0) {
        *out = &st->clog[st->clog_last];
        return HVD_OK;
    }
    for (size_t i = 0; i < st->nclog; i++) {
        if (strcmp(st->clog[i].node, node) == 0 && strcmp(st->clog[i].section, section) == 0) {
            st->clog_last = i;
            *out = &st->clog[i];
            return HVD_OK;
        }
    }
    rc = stmt_ready(st, SQL_CLOG_LOAD, &q, err);
    if (rc < 0) {
        return rc;
    }
    memset(&c, 0, sizeof(c));
    c.node = hvd_strdup(node);
    c.section = hvd_strdup(section);
    if (!c.node || !c.section) {
        goto nomem;
    }
    bind_text(q, 1, node);
    bind_text(q, 2, section);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct crange *r;

        if (clog_reserve(&c, c.n + 1) < 0) {
            sqlite3_reset(q);
            goto nomem;
        }
        r = &c.r[c.n++];
        memset(r, 0, sizeof(*r));
        r->lo = sqlite3_column_int64(q, 0);
        r->hi = sqlite3_column_int64(q, 1);
        r->stored = 1;
        if (hset_parse(&r->at_lo, col_text(q, 2)) < 0 ||
            hset_parse(&r->at_hi, col_text(q, 3)) < 0) {
            sqlite3_reset(q);
            goto nomem;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = db_error(st, err, "cannot load seen lines");
        sqlite3_reset(q);
        clog_free(&c);
        return rc;
    }
    sqlite3_reset(q);
    grown = hvd_realloc(st->clog, (st->nclog + 1) * sizeof(*grown));
    if (!grown) {
        goto nomem;
    }
    st->clog = grown;
    st->clog[st->nclog] = c;
    st->clog_last = st->nclog++;
    *out = &st->clog[st->clog_last];
    return HVD_OK;
nomem:
    clog_free(&c);
    return no_memory(st, err);
}

/* Is line (t, h) covered by the stored ranges or by the open run's ends? O(log ranges). */
static int clog_has(const struct clog *c, hvd_time t, uint64_t h)
{
    size_t lo = 0;
    size_t hi = c->n;

    if (c->run_on && ((t == c->run.hi && hset_has(&c->run.at_hi, h)) ||
                      (t == c->run.lo && hset_has(&c->run.at_lo, h)))) {
        return 1;
    }
    while (lo < hi) { /* the first range starting after t */
        size_t mid = lo + (hi - lo) / 2;

        if (c->r[mid].lo <= t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0 || t > c->r[lo - 1].hi) {
        return 0;
    }
    {
        const struct crange *r = &c->r[lo - 1];

        if (t > r->lo && t < r->hi) {
            return 1;
        }
        return (t == r->lo && (r->at_lo.full || hset_has(&r->at_lo, h))) ||
               (t == r->hi && (r->at_hi.full || hset_has(&r->at_hi, h)));
    }
}

/* Widens the open run by line (t, h). O(1) expected. */
static int clog_run_add(struct clog *c, hvd_time t, uint64_t h)
{
    struct crange *run = &c->run;

    if (!c->run_on) {
        hset_clear(&run->at_lo);
        hset_clear(&run->at_hi);
        run->lo = t;
        run->hi = t;
        c->run_on = 1;
    }
    if (t > run->hi) {
        run->hi = t;
        hset_clear(&run->at_hi);
    }
    if (t < run->lo) {
        run->lo = t;
        hset_clear(&run->at_lo);
    }
    if (t == run->hi && hset_add(&run->at_hi, h) < 0) {
        return HVD_ENOMEM;
    }
    if (t == run->lo && hset_add(&run->at_lo, h) < 0) {
        return HVD_ENOMEM;
    }
    c->dirty = 1;
    return HVD_OK;
}

static int clog_gone(struct clog *c, hvd_time lo)
{
    if (hvd_array_room(&c->gone, &c->capgone, c->ngone, sizeof(*c->gone), 8) < 0) {
        return HVD_ENOMEM;
    }
    c->gone[c->ngone++] = lo;
    return HVD_OK;
}

/*
 * Merges the open run into the ranges: the run and every range it overlaps or touches
 * become one range; the hashes at its ends are those of the parts that end there, and
 * the times that fall inside lose theirs. Stored ranges merged away are noted for
 * deletion at commit. O(ranges) for the move, O(lines at the ends) for the hashes.
 */
static int clog_run_close(struct clog *c)
{
    struct crange nr;
    size_t i0 = 0;
    size_t i1;
    size_t hi = c->n;
    size_t gone = c->ngone;
    int rc = HVD_OK;

    if (!c->run_on) {
        return HVD_OK;
    }
    while (i0 < hi) { /* the first range ending at or after the run's start */
        size_t mid = i0 + (hi - i0) / 2;

        if (c->r[mid].hi < c->run.lo) {
            i0 = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (i1 = i0; i1 < c->n && c->r[i1].lo <= c->run.hi; i1++) {
    }
    if (i1 == i0 && clog_reserve(c, c->n + 1) < 0) {
        return HVD_ENOMEM;
    }
    for (size_t k = i0; k < i1; k++) { /* note the deletions first: no half merge */
        if (c->r[k].stored && clog_gone(c, c->r[k].lo) < 0) {
            c->ngone = gone;
            return HVD_ENOMEM;
        }
    }
    nr = c->run;
    memset(&c->run, 0, sizeof(c->run));
    c->run_on = 0;
    for (size_t k = i0; k < i1; k++) {
        struct crange *r = &c->r[k];

        if (r->lo < nr.lo) {
            nr.lo = r->lo;
            hset_free(&nr.at_lo);
            nr.at_lo = r->at_lo;
            memset(&r->at_lo, 0, sizeof(r->at_lo));
        } else if (r->lo == nr.lo && hset_union(&nr.at_lo, &r->at_lo) < 0) {
            rc = HVD_ENOMEM;
        }
        if (r->hi > nr.hi) {
            nr.hi = r->hi;
            hset_free(&nr.at_hi);
            nr.at_hi = r->at_hi;
            memset(&r->at_hi, 0, sizeof(r->at_hi));
        } else if (r->hi == nr.hi && hset_union(&nr.at_hi, &r->at_hi) < 0) {
            rc = HVD_ENOMEM;
        }
        crange_free(r);
    }
    nr.stored = 0;
    nr.changed = 1;
    if (i1 == i0) {
        memmove(c->r + i0 + 1, c->r + i0, (c->n - i0) * sizeof(*c->r));
        c->n++;
    } else {
        memmove(c->r + i0 + 1, c->r + i1, (c->n - i1) * sizeof(*c->r));
        c->n -= i1 - i0 - 1;
    }
    c->r[i0] = nr;
    return rc; /* out of memory the sets lack hashes: the caller rolls back */
}

/* Looks line (t, h) up and, with mark, records it as read by the open transaction: a new
 * line is counted, and any line widens the run. O(log ranges) per line. */
static int clog_see(hvd_store *st, struct clog *c, hvd_time t, uint64_t h, int mark, int *seen,
                    hvd_error *err)
{
    *seen = clog_has(c, t, h);
    if (!mark) {
        return HVD_OK;
    }
    if (clog_run_add(c, t, h) < 0) {
        return no_memory(st, err);
    }
    if (!*seen) {
        c->pending_lines++;
        st->pending_marks++;
    }
    return HVD_OK;
}

int hvd_store_clusterlog_seen(hvd_store *st, const char *node, const char *section, hvd_time time,
                              uint32_t pid, uint32_t tid, const char *text, hvd_error *err)
{
    struct clog *c;
    int rc = clog_get(st, node ? node : "", section ? section : "", &c, err);

    return rc < 0 ? rc : clog_has(c, time, line_hash(pid, tid, text));
}

int hvd_store_clusterlog_mark(hvd_store *st, const char *node, const char *section, hvd_time time,
                              uint32_t pid, uint32_t tid, const char *text, hvd_error *err)
{
    struct clog *c;
    int seen;
    int rc = need_tx(st, err);

    if (rc == HVD_OK) {
        rc = clog_get(st, node ? node : "", section ? section : "", &c, err);
    }
    if (rc == HVD_OK) {
        rc = clog_see(st, c, time, line_hash(pid, tid, text), 1, &seen, err);
    }
    return rc;
}

int hvd_store_seen_break(hvd_store *st, hvd_error *err)
{
    int rc = need_tx(st, err);

    for (size_t i = 0; rc == HVD_OK && i < st->nclog; i++) {
        if (clog_run_close(&st->clog[i]) < 0) {
            rc = no_memory(st, err);
        }
    }
    return rc;
}

int hvd_store_event_seen(hvd_store *st, const hvd_event *ev, int *seen, hvd_error *err)
{
    int rc = need_tx(st, err);

    *seen = 0;
    if (rc < 0) {
        return rc;
    }
    if (ev->kind == HVD_SOURCE_EVTX) {
        struct evlog *g;

        if (ev->event_record_id == 0) {
            return HVD_OK;
        }
        rc = evlog_get(st, ev->host ? ev->host : "", ev->channel ? ev->channel : "", &g, err);
        if (rc == HVD_OK) {
            rc = evlog_see(st, g, ev->event_record_id, ev->time, 1, seen, err);
        }
    } else if (ev->kind == HVD_SOURCE_CLUSTERLOG) {
        struct clog *c;

        rc = clog_get(st, ev->host ? ev->host : "", ev->channel ? ev->channel : "", &c, err);
        if (rc == HVD_OK) {
            rc = clog_see(st, c, ev->time, line_hash(ev->pid, ev->tid, ev->message), 1, seen, err);
        }
    }
    return rc;
}

/* --- diagnoses -------------------------------------------------------------------------- */

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
    bind_text(s, 16, e->level_text);
    bind_text(s, 17, e->task_text);
    bind_text(s, 18, e->opcode_text);
    bind_text(s, 19, e->channel_text);
    rc = step_done(st, s, err, "cannot store evidence");
    if (rc == HVD_OK && sqlite3_changes(st->db) > 0) {
        *added = 1;
    }
    return rc;
}

static int put_refs(const hvd_diagnosis *d, hvd_buf *refs)
{
    int rc = HVD_OK;

    for (size_t i = 0; rc == HVD_OK && i < d->nreferences; i++) {
        rc = hvd_buf_printf(refs, "%s%s", i ? "\n" : "", d->references[i]);
    }
    return rc;
}

static int int_of(hvd_store *st, int which, int64_t arg, int64_t *out, hvd_error *err);

static int diag_insert(hvd_store *st, const hvd_diagnosis *d, sqlite3_int64 *id, hvd_error *err)
{
    sqlite3_stmt *ins = st->stmt[SQL_DIAG_INSERT];
    hvd_buf refs;
    int rc;

    hvd_buf_init(&refs, 64 * 1024);
    rc = put_refs(d, &refs);
    if (rc < 0) {
        return hvd_error_set(err, rc, st->path, 0, "%s: references: %s", d->key, hvd_strerror(rc));
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
    *id = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; rc == HVD_OK && i < d->nentities; i++) {
        sqlite3_stmt *s = st->stmt[SQL_ENTITY_PUT];

        sqlite3_bind_int64(s, 1, *id);
        bind_text(s, 2, d->entities[i].name);
        bind_text(s, 3, d->entities[i].value);
        rc = step_done(st, s, err, "cannot store an entity");
    }
    if (rc == HVD_OK && st->sides < 0) {
        rc = int_of(st, SQL_SIDES_COUNT, 0, &st->sides, err);
        rc = rc < 0 ? rc : HVD_OK;
    }
    if (rc == HVD_OK && st->sides > 0) {
        sqlite3_stmt *s = NULL;

        rc = stmt_ready(st, SQL_KEYS_PUT, &s, err);
        if (rc < 0) {
            return rc;
        }
        sqlite3_bind_int64(s, 1, *id);
        bind_text(s, 2, d->rule_id);
        sqlite3_bind_int64(s, 3, d->first_time);
        rc = step_done(st, s, err, "cannot store a diagnosis's keys");
    }
    return rc;
}

int hvd_store_put_diagnosis(hvd_store *st, const hvd_diagnosis *d, int *changed, hvd_error *err)
{
    sqlite3_stmt *find = st->stmt[SQL_DIAG_FIND];
    sqlite3_int64 id = 0;
    int any = 0;
    int trim = 0;
    int rc = need_tx(st, err);

    if (rc < 0) {
        return rc;
    }
    bind_text(find, 1, d->key);
    rc = sqlite3_step(find);
    if (rc == SQLITE_ROW) {
        hvd_time first = sqlite3_column_int64(find, 1);
        hvd_time last = sqlite3_column_int64(find, 2);
        uint64_t count = (uint64_t)sqlite3_column_int64(find, 3);
        int same_text = strcmp(col_text(find, 4), d->title ? d->title : "") == 0 &&
                        strcmp(col_text(find, 5), d->remedy ? d->remedy : "") == 0 &&
                        strcmp(col_text(find, 6), d->cause ? d->cause : "") == 0 &&
                        sqlite3_column_int(find, 7) == (int)d->severity &&
                        strcmp(col_text(find, 8), d->confidence ? d->confidence : "") == 0;
        /* A correlation's count is how many members it explains, which ranks roots. */
        int explains_more = d->kind == HVD_DIAGNOSIS_CORRELATION && d->count > count;
        int regroup_needed =
            d->first_time < first || d->last_time > last || !same_text || explains_more;
        /* Grouping reads no text (an incident's title and fix are its root's, read when it
         * is written), and a higher severity only ranks a diagnosis higher; a lower one may
         * cost it its incident's root, and a span that ended before it started can lose a
         * link as it widens. */
        enum change_kind kind = (int)d->severity < sqlite3_column_int(find, 7) || first > last
                                    ? CHANGE_OTHER
                                    : CHANGE_GREW;

        id = sqlite3_column_int64(find, 0);
        sqlite3_reset(find);
        if (regroup_needed || d->count > count) {
            sqlite3_stmt *up = st->stmt[SQL_DIAG_UPDATE];

            sqlite3_bind_int64(up, 1, id);
            sqlite3_bind_int64(up, 2, d->first_time < first ? d->first_time : first);
            sqlite3_bind_int64(up, 3, d->last_time > last ? d->last_time : last);
            sqlite3_bind_int64(up, 4, (sqlite3_int64)(d->count > count ? d->count : count));
            bind_text(up, 5, d->title);
            bind_text(up, 6, d->cause);
            bind_text(up, 7, d->remedy);
            sqlite3_bind_int(up, 8, (int)d->severity);
            bind_text(up, 9, d->confidence);
            rc = step_done(st, up, err, "cannot update a diagnosis");
            if (rc == HVD_OK && d->first_time < first && st->sides != 0) {
                sqlite3_stmt *mv = NULL;

                rc = stmt_ready(st, SQL_KEYS_MOVE, &mv, err);
                if (rc < 0) {
                    return rc;
                }
                sqlite3_bind_int64(mv, 1, id);
                bind_text(mv, 2, d->rule_id);
                sqlite3_bind_int64(mv, 3, first);
                sqlite3_bind_int64(mv, 4, d->first_time);
                rc = step_done(st, mv, err, "cannot update a diagnosis's keys");
            }
            any = 1;
            if (regroup_needed) {
                note_changed(st, id, kind);
            }
        } else {
            rc = HVD_OK;
        }
    } else if (rc == SQLITE_DONE) {
        sqlite3_reset(find);
        rc = diag_insert(st, d, &id, err);
        any = 1;
        note_changed(st, id, CHANGE_INSERTED);
    } else {
        rc = db_error(st, err, "cannot look up a diagnosis");
        sqlite3_reset(find);
        return rc;
    }
    for (size_t i = 0; rc == HVD_OK && i < d->nrelated; i++) {
        sqlite3_stmt *s = st->stmt[SQL_RELATED_PUT];

        sqlite3_bind_int64(s, 1, id);
        bind_text(s, 2, d->related[i]);
        rc = step_done(st, s, err, "cannot store a related diagnosis");
        if (rc == HVD_OK && sqlite3_changes(st->db) > 0) {
            any = 1;
            note_changed(st, id, CHANGE_GREW);
        }
    }
    for (size_t i = 0; rc == HVD_OK && i < d->nevidence; i++) {
        int added = 0;

        rc = put_evidence(st, id, &d->evidence[i], &added, err);
        any |= added;
        trim |= added;
    }
    /* Past the bound the latest go, whatever came first: once after all of d's evidence,
     * which keeps what trimming after each one would (the earliest evidence_keep of all
     * rows ever added; a row trimmed and added again is trimmed again). O(k log n) for
     * the k rows of the diagnosis on its index. */
    if (rc == HVD_OK && trim && d->evidence_keep && d->count > d->evidence_keep) {
        sqlite3_stmt *s = st->stmt[SQL_EVIDENCE_TRIM];

        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)d->evidence_keep);
        rc = step_done(st, s, err, "cannot trim evidence");
    }
    if (changed && any) {
        *changed = 1;
    }
    return rc;
}

/* --- sources ---------------------------------------------------------------------------- */

int hvd_store_put_source(hvd_store *st, const hvd_store_source *src, hvd_error *err)
{
    sqlite3_stmt *s = st->stmt[SQL_SOURCE_PUT];
    int rc = need_tx(st, err);

    if (rc < 0) {
        return rc;
    }
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
    sqlite3_bind_int(s, 15, 0);
    bind_text(s, 16, "");
    sqlite3_bind_int64(s, 17, (sqlite3_int64)src->device);
    sqlite3_bind_int64(s, 18, (sqlite3_int64)src->inode);
    bind_text(s, 19, src->head_hash);
    sqlite3_bind_int64(s, 20, (sqlite3_int64)src->prefix_len);
    bind_text(s, 21, src->prefix_hash);
    bind_text(s, 22, src->warnings);
    sqlite3_bind_int64(s, 23, now_ticks());
    sqlite3_bind_int64(s, 24, (sqlite3_int64)src->fresh);
    sqlite3_bind_int64(s, 25, (sqlite3_int64)src->repeated);
    return step_done(st, s, err, "cannot store a source");
}

int hvd_store_set_quarantine(hvd_store *st, const char *path, const char *reason, hvd_error *err)
{
    sqlite3_stmt *s = st->stmt[SQL_SOURCE_QUARANTINE];
    int rc = need_tx(st, err);

    if (rc < 0) {
        return rc;
    }
    bind_text(s, 1, path);
    sqlite3_bind_int(s, 2, reason != NULL);
    bind_text(s, 3, reason);
    rc = step_done(st, s, err, "cannot quarantine a source");
    if (rc == HVD_OK && sqlite3_changes(st->db) == 0) {
        rc = hvd_error_set(err, HVD_ENOTFOUND, st->path, 0, "no source %s", path);
    }
    return rc;
}

/* Fills the numbers of *out from a row of STORE_SOURCE_COLUMNS; strings are left alone. */
static void source_numbers(sqlite3_stmt *q, hvd_store_source *out)
{
    out->size = (uint64_t)sqlite3_column_int64(q, 3);
    out->mtime = sqlite3_column_int64(q, 4);
    out->events = (uint64_t)sqlite3_column_int64(q, 6);
    out->skipped = (uint64_t)sqlite3_column_int64(q, 7);
    out->first_skipped = (uint64_t)sqlite3_column_int64(q, 8);
    out->recovered = (uint64_t)sqlite3_column_int64(q, 9);
    out->corrupted = sqlite3_column_int(q, 10);
    out->dirty = sqlite3_column_int(q, 11);
    out->quarantined = sqlite3_column_int(q, 14);
    out->device = (uint64_t)sqlite3_column_int64(q, 16);
    out->inode = (uint64_t)sqlite3_column_int64(q, 17);
    out->prefix_len = (uint64_t)sqlite3_column_int64(q, 19);
    out->first_seen = sqlite3_column_int64(q, 22);
    out->last_seen = sqlite3_column_int64(q, 23);
    out->fresh = (uint64_t)sqlite3_column_int64(q, 24);
    out->repeated = (uint64_t)sqlite3_column_int64(q, 25);
}

/* The text columns of STORE_SOURCE_COLUMNS and where they go. */
static const int source_text_cols[] = {0, 1, 2, 5, 12, 13, 15, 18, 20, 21};
#define NSOURCE_TEXT (sizeof(source_text_cols) / sizeof(source_text_cols[0]))

static const char **source_text_slot(hvd_store_source *s, int col)
{
    switch (col) {
    case 0:
        return &s->path;
    case 1:
        return &s->kind;
    case 2:
        return &s->host;
    case 5:
        return &s->position;
    case 12:
        return &s->encoding;
    case 13:
        return &s->last_error;
    case 15:
        return &s->quarantine_reason;
    case 18:
        return &s->head_hash;
    case 20:
        return &s->prefix_hash;
    default:
        return &s->warnings;
    }
}

static void source_row(sqlite3_stmt *q, hvd_store_source *out)
{
    memset(out, 0, sizeof(*out));
    source_numbers(q, out);
    for (size_t i = 0; i < NSOURCE_TEXT; i++) {
        *source_text_slot(out, source_text_cols[i]) = col_text(q, source_text_cols[i]);
    }
}

int hvd_store_get_source(hvd_store *st, const char *path, hvd_store_source *out, hvd_error *err)
{
    sqlite3_stmt *s = NULL;
    size_t at[NSOURCE_TEXT];
    int rc = stmt_acquire(st, SQL_SOURCE_GET, &s, err);

    if (rc < 0) {
        return rc;
    }
    bind_text(s, 1, path);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        stmt_release(st, SQL_SOURCE_GET, s);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        rc = db_error(st, err, "cannot read a source");
        stmt_release(st, SQL_SOURCE_GET, s);
        return rc;
    }
    /* Strings are copied into one scratch buffer: offsets first, pointers once it stops
     * growing. */
    hvd_buf_reset(&st->text);
    rc = HVD_OK;
    for (size_t i = 0; rc == HVD_OK && i < NSOURCE_TEXT; i++) {
        at[i] = st->text.len;
        rc = hvd_buf_add(&st->text, col_text(s, source_text_cols[i]),
                         strlen(col_text(s, source_text_cols[i])) + 1);
    }
    memset(out, 0, sizeof(*out));
    source_numbers(s, out);
    stmt_release(st, SQL_SOURCE_GET, s);
    if (rc < 0) {
        return hvd_error_set(err, rc, st->path, 0, "%s: cannot read its state: %s", path,
                             hvd_strerror(rc));
    }
    for (size_t i = 0; i < NSOURCE_TEXT; i++) {
        *source_text_slot(out, source_text_cols[i]) = st->text.data + at[i];
    }
    return 1;
}

int hvd_store_sources(hvd_store *st, int (*fn)(void *ud, const hvd_store_source *src), void *ud,
                      hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_SOURCE_LIST, &q, err);

    if (rc < 0) {
        return rc;
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_store_source s;

        source_row(q, &s);
        if (fn(ud, &s)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list sources");
    stmt_release(st, SQL_SOURCE_LIST, q);
    return rc;
}

int hvd_store_sources_page(hvd_store *st, const char *after, int64_t limit,
                           int (*fn)(void *ud, const hvd_store_source *src), void *ud,
                           hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_SOURCE_PAGE, &q, err);

    if (rc < 0) {
        return rc;
    }
    bind_opt_text(q, 1, after);
    sqlite3_bind_int64(q, 2, limit > 0 ? limit : -1);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_store_source s;

        source_row(q, &s);
        if (fn(ud, &s)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list sources");
    stmt_release(st, SQL_SOURCE_PAGE, q);
    return rc;
}

/* --- incidents -------------------------------------------------------------------------- */

/*
 * Grouping is a union-find over diagnoses. Two diagnoses are joined when they share a
 * subject and, taken in (first time, key) order, the later starts within the gap of the
 * earlier's end; or when one is a correlation naming the other. Both relations depend only
 * on the pair (and on which subject tokens the database joins), so:
 *
 * Regrouping what changed. Let D be the diagnoses a transaction changed. Every pair that
 * gained or lost a link has a member in D, or became one subject through a (VM name, VM id)
 * pair that only a new diagnosis names. So the set S of D, the diagnoses linked to D now,
 * every diagnosis of a subject joined by a new pair, and all members of the incidents these
 * are in, is closed: no link leaves it, and it is a union of old incidents. Grouping S
 * alone gives its new incidents exactly; incidents outside S are neither read nor written.
 * This holds when the stored incidents were right before the transaction; a full pass
 * (hvd_store_rebuild_incidents) makes them right from scratch. The rules for ids see only
 * S's incidents either way, so both number incidents alike.
 */

struct inc_diag {
    int64_t id;
    char *key;
    char *vm_name;
    char *vm_id;
    char *host; /* short name as written, at most HOST_MAX - 1 bytes */
    int correlation;
    int severity;
    int64_t explains; /* a correlation: the member diagnoses it names (its count); else 0 */
    hvd_time first;
    hvd_time last;
    int64_t cur;   /* incident it is in now; 0 for none */
    size_t parent; /* union-find over diagnoses */
    size_t token;  /* its first subject token, in the token set */
};

struct inc_token { /* "n:<vm name>", "i:<vm id>" or "h:<host>", lower case */
    char *text;
    size_t parent; /* union-find over tokens: the tokens of one subject */
};

/* Each token once (open addressing over indexes into tok), so equal tokens are one. */
struct tokset {
    struct inc_token *tok;
    size_t n;
    size_t cap;
    size_t *slot;    /* index + 1; 0 is empty */
    size_t nslot;    /* a power of two, at least twice n */
    size_t explored; /* tokens below this index had their (name, id) pairs read */
};

/* A diagnosis's sort keys, copied out so comparators need no context. */
struct ord {
    size_t idx;
    size_t subject; /* subject token root */
    size_t group;   /* group root */
    int64_t id;
    int correlation;
    int severity;
    hvd_time first;
    union {
        int64_t explains; /* while the order is sorted */
        int64_t moved_to; /* once its group is written: the incident it moves to, or 0 */
    };
    const char *key;
};

struct regroup {
    struct inc_diag *v;
    size_t n;
    size_t cap;
    hvd_arena strs; /* the diagnoses' strings: a malloc'd string each would cost twice */
    struct tokset ts;
    struct ord *order; /* scratch for sorting, one per diagnosis */
    int64_t *ids;      /* incident ids in play, sorted: all, or those of S */
    unsigned char *claimed;
    size_t nids;
    int64_t next_id; /* for new incidents */
};

struct idvec {
    int64_t *v;
    size_t n;
    size_t cap;
};

static hvd_time plus_gap(hvd_time t)
{
    return t > INT64_MAX - HVD_STORE_INCIDENT_GAP ? INT64_MAX : t + HVD_STORE_INCIDENT_GAP;
}

static hvd_time minus_gap(hvd_time t)
{
    return t < INT64_MIN + HVD_STORE_INCIDENT_GAP ? INT64_MIN : t - HVD_STORE_INCIDENT_GAP;
}

static size_t diag_root(struct inc_diag *v, size_t i)
{
    while (v[i].parent != i) {
        v[i].parent = v[v[i].parent].parent;
        i = v[i].parent;
    }
    return i;
}

/* The smaller index wins, so the result does not depend on the order of unions. */
static void diag_unite(struct inc_diag *v, size_t a, size_t b)
{
    a = diag_root(v, a);
    b = diag_root(v, b);
    if (a < b) {
        v[b].parent = a;
    } else if (b < a) {
        v[a].parent = b;
    }
}

static size_t tok_root(struct inc_token *t, size_t i)
{
    while (t[i].parent != i) {
        t[i].parent = t[t[i].parent].parent;
        i = t[i].parent;
    }
    return i;
}

static void tok_unite(struct inc_token *t, size_t a, size_t b)
{
    a = tok_root(t, a);
    b = tok_root(t, b);
    if (a < b) {
        t[b].parent = a;
    } else if (b < a) {
        t[a].parent = b;
    }
}

static void short_name(char *dst, size_t cap, const char *host)
{
    size_t n = 0;

    for (; host[n] && host[n] != '.' && n + 1 < cap; n++) {
        dst[n] = host[n];
    }
    dst[n] = '\0';
}

static void tokset_free(struct tokset *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        hvd_free(ts->tok[i].text);
    }
    hvd_free(ts->tok);
    hvd_free(ts->slot);
}

static void regroup_free(struct regroup *g)
{
    hvd_arena_free(&g->strs);
    hvd_free(g->v);
    tokset_free(&g->ts);
    hvd_free(g->order);
    hvd_free(g->ids);
    hvd_free(g->claimed);
}

static int idvec_push(struct idvec *a, int64_t id)
{
    if (hvd_array_room(&a->v, &a->cap, a->n, sizeof(*a->v), 64) < 0) {
        return HVD_ENOMEM;
    }
    a->v[a->n++] = id;
    return HVD_OK;
}

static int by_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x;
    int64_t b = *(const int64_t *)y;

    return a < b ? -1 : a > b;
}

static void idvec_sort_unique(struct idvec *a)
{
    size_t k = 0;

    if (a->n > 1) {
        qsort(a->v, a->n, sizeof(*a->v), by_id);
    }
    for (size_t i = 0; i < a->n; i++) {
        if (k == 0 || a->v[k - 1] != a->v[i]) {
            a->v[k++] = a->v[i];
        }
    }
    a->n = k;
}

static int idvec_has(const struct idvec *a, int64_t id)
{
    return a->n && bsearch(&id, a->v, a->n, sizeof(*a->v), by_id) != NULL;
}

static int by_key(const void *x, const void *y)
{
    return strcmp(((const struct inc_diag *)x)->key, ((const struct inc_diag *)y)->key);
}

/* Fills g->order with every diagnosis's sort keys (groups flattened to their roots). */
static void order_fill(struct regroup *g)
{
    for (size_t i = 0; i < g->n; i++) {
        const struct inc_diag *d = &g->v[i];
        struct ord *o = &g->order[i];

        o->idx = i;
        o->subject = tok_root(g->ts.tok, d->token);
        o->group = diag_root(g->v, i);
        o->id = d->id;
        o->correlation = d->correlation;
        o->severity = d->severity;
        o->first = d->first;
        o->explains = d->explains;
        o->key = d->key;
    }
}

static int by_subject_time(const void *x, const void *y)
{
    const struct ord *a = x;
    const struct ord *b = y;

    if (a->subject != b->subject) {
        return a->subject < b->subject ? -1 : 1;
    }
    if (a->first != b->first) {
        return a->first < b->first ? -1 : 1;
    }
    return strcmp(a->key, b->key);
}

/* A better root cause first: a correlation, then more severe, then earlier, then the
 * correlation that explains more (names more member diagnoses), so that of two that tie the
 * one covering more of the incident leads, not the first rule id in alphabetical order. */
static int root_order(const struct ord *a, const struct ord *b)
{
    if (a->correlation != b->correlation) {
        return a->correlation ? -1 : 1;
    }
    if (a->severity != b->severity) {
        return a->severity > b->severity ? -1 : 1;
    }
    if (a->first != b->first) {
        return a->first < b->first ? -1 : 1;
    }
    if (a->explains != b->explains) {
        return a->explains > b->explains ? -1 : 1;
    }
    return strcmp(a->key, b->key);
}

static int by_group_then_root(const void *x, const void *y)
{
    const struct ord *a = x;
    const struct ord *b = y;

    if (a->group != b->group) {
        return a->group < b->group ? -1 : 1;
    }
    return root_order(a, b);
}

static int by_diag_id(const void *x, const void *y)
{
    const struct ord *a = x;
    const struct ord *b = y;

    return a->id < b->id ? -1 : a->id > b->id;
}

static char *dup_lower(const char *prefix, const char *s)
{
    size_t np = strlen(prefix);
    size_t ns = strlen(s);
    char *out = hvd_malloc(np + ns + 1);

    if (!out) {
        return NULL;
    }
    memcpy(out, prefix, np);
    for (size_t i = 0; i < ns; i++) {
        char c = s[i];

        out[np + i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[np + ns] = '\0';
    return out;
}

static size_t tok_hash(const char *text)
{
    return (size_t)fnv(UINT64_C(1469598103934665603), text);
}

static int tokset_grow(struct tokset *ts)
{
    size_t nslot = ts->nslot ? 2 * ts->nslot : 256;
    size_t *slot = hvd_calloc(nslot, sizeof(*slot));

    if (!slot) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < ts->n; i++) {
        size_t h = tok_hash(ts->tok[i].text) & (nslot - 1);

        while (slot[h]) {
            h = (h + 1) & (nslot - 1);
        }
        slot[h] = i + 1;
    }
    hvd_free(ts->slot);
    ts->slot = slot;
    ts->nslot = nslot;
    return HVD_OK;
}

/* Sets *out to the index of prefix + value (lower case), adding it when new. */
static int tokset_add(struct tokset *ts, const char *prefix, const char *value, size_t *out)
{
    char *text = dup_lower(prefix, value);
    size_t h;

    if (!text) {
        return HVD_ENOMEM;
    }
    if (2 * (ts->n + 1) > ts->nslot && tokset_grow(ts) < 0) {
        hvd_free(text);
        return HVD_ENOMEM;
    }
    h = tok_hash(text) & (ts->nslot - 1);
    for (; ts->slot[h]; h = (h + 1) & (ts->nslot - 1)) {
        if (strcmp(ts->tok[ts->slot[h] - 1].text, text) == 0) {
            hvd_free(text);
            *out = ts->slot[h] - 1;
            return HVD_OK;
        }
    }
    if (hvd_array_room(&ts->tok, &ts->cap, ts->n, sizeof(*ts->tok), 256) < 0) {
        hvd_free(text);
        return HVD_ENOMEM;
    }
    ts->tok[ts->n].text = text;
    ts->tok[ts->n].parent = ts->n;
    ts->slot[h] = ts->n + 1;
    *out = ts->n++;
    return HVD_OK;
}

/* A diagnosis's subject tokens: its VM name and id, joined, else its host. */
static int diag_tokens(struct regroup *g, size_t i)
{
    struct inc_diag *d = &g->v[i];
    size_t t;
    int rc = HVD_OK;

    d->token = SIZE_MAX;
    if (d->vm_name[0]) {
        rc = tokset_add(&g->ts, "n:", d->vm_name, &d->token);
    }
    if (rc == HVD_OK && d->vm_id[0]) {
        rc = tokset_add(&g->ts, "i:", d->vm_id, &t);
        if (rc == HVD_OK && d->token != SIZE_MAX) {
            tok_unite(g->ts.tok, d->token, t);
        } else {
            d->token = t;
        }
    }
    if (rc == HVD_OK && !d->vm_name[0] && !d->vm_id[0]) {
        rc = tokset_add(&g->ts, "h:", d->host, &d->token);
    }
    return rc;
}

/* Room for n more diagnoses in g, exactly: a full pass knows how many it loads. */
static int regroup_reserve(struct regroup *g, size_t n)
{
    struct inc_diag *grown;

    if (g->cap - g->n >= n) {
        return HVD_OK;
    }
    grown = hvd_realloc(g->v, (g->n + n) * sizeof(*grown));
    if (!grown) {
        return HVD_ENOMEM;
    }
    g->v = grown;
    g->cap = g->n + n;
    return HVD_OK;
}

/* Reads one diagnosis row (STORE_INC_COLUMNS) into a new slot of g->v: what grouping
 * compares, about a hundred bytes and its short strings (a full pass holds every stored
 * diagnosis so; titles and fixes are read per incident when it is written). */
static int row_add(struct regroup *g, sqlite3_stmt *q)
{
    struct inc_diag *d;
    char host[HOST_MAX];

    if (hvd_array_room(&g->v, &g->cap, g->n, sizeof(*g->v), 256) < 0) {
        return HVD_ENOMEM;
    }
    d = &g->v[g->n++];
    memset(d, 0, sizeof(*d));
    d->id = sqlite3_column_int64(q, 0);
    d->key = hvd_arena_strdup(&g->strs, col_text(q, 1));
    d->correlation = strcmp(col_text(q, 2), "correlation") == 0;
    d->vm_name = hvd_arena_strdup(&g->strs, col_text(q, 3));
    d->vm_id = hvd_arena_strdup(&g->strs, col_text(q, 4));
    short_name(host, sizeof(host), col_text(q, 5));
    d->host = hvd_arena_strdup(&g->strs, host);
    d->first = sqlite3_column_int64(q, 6);
    d->last = sqlite3_column_int64(q, 7);
    d->severity = sqlite3_column_int(q, 8);
    d->cur = sqlite3_column_int64(q, 9);
    d->explains = d->correlation ? sqlite3_column_int64(q, 10) : 0;
    if (!d->key || !d->vm_name || !d->vm_id || !d->host) {
        return HVD_ENOMEM;
    }
    return HVD_OK;
}

static int load_diagnoses(hvd_store *st, struct regroup *g, hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_INC_DIAGS];
    int64_t n = 0;
    int rc = int_of(st, SQL_INC_COUNT_DIAG, 0, &n, err);

    if (rc < 0) {
        return rc;
    }
    if (n > 0 && regroup_reserve(g, (size_t)n) < 0) {
        return no_memory(st, err);
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (row_add(g, q) < 0) {
            sqlite3_reset(q);
            return no_memory(st, err);
        }
    }
    if (rc != SQLITE_DONE) {
        rc = db_error(st, err, "cannot read diagnoses");
        sqlite3_reset(q);
        return rc;
    }
    sqlite3_reset(q);
    return HVD_OK;
}

/* Loads the diagnoses of ids (sorted, unique) that g does not hold yet. */
static int load_ids(hvd_store *st, struct regroup *g, const struct idvec *ids, hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_INC_DIAG_ONE];
    struct idvec have = {0};
    size_t n = 0;
    int rc = HVD_OK;

    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        rc = idvec_push(&have, g->v[i].id);
    }
    idvec_sort_unique(&have);
    for (size_t i = 0; rc == HVD_OK && i < ids->n; i++) {
        n += !idvec_has(&have, ids->v[i]);
    }
    rc = rc == HVD_OK ? regroup_reserve(g, n) : rc; /* the exact room, not twice it */
    for (size_t i = 0; rc == HVD_OK && i < ids->n; i++) {
        if (idvec_has(&have, ids->v[i])) {
            continue;
        }
        sqlite3_bind_int64(q, 1, ids->v[i]);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            rc = row_add(g, q);
        } else if (rc == SQLITE_DONE) {
            rc = HVD_OK; /* gone: nothing to group */
        } else {
            rc = db_error(st, err, "cannot read diagnoses");
        }
        sqlite3_reset(q);
    }
    hvd_free(have.v);
    return rc == HVD_ENOMEM ? no_memory(st, err) : rc;
}

/* Adds id to a set kept as a vector: when full it is sorted and made unique first, and
 * grows only when that frees less than half, so many searches naming the same diagnoses
 * hold each about once. O(log n) amortised. */
static int idvec_add(struct idvec *a, int64_t id)
{
    if (a->n == a->cap && a->n > 0) {
        idvec_sort_unique(a);
        if (a->n > a->cap / 2 && hvd_array_room(&a->v, &a->cap, a->cap, sizeof(*a->v), 64) < 0) {
            return HVD_ENOMEM;
        }
    }
    return idvec_push(a, id);
}

/* Steps q (bound by the caller) and adds the id in its first column of every row to the
 * set out (idvec_add()). */
static int collect_ids(hvd_store *st, sqlite3_stmt *q, struct idvec *out, hvd_error *err)
{
    int rc;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (idvec_add(out, sqlite3_column_int64(q, 0)) < 0) {
            sqlite3_reset(q);
            return no_memory(st, err);
        }
    }
    if (rc != SQLITE_DONE) {
        rc = db_error(st, err, "cannot read diagnoses");
        sqlite3_reset(q);
        return rc;
    }
    sqlite3_reset(q);
    return HVD_OK;
}

/* Joins each VM name and VM id token not explored yet to every value the database names
 * with it, and those in turn, until the token set holds whole subjects. */
static int explore_links(hvd_store *st, struct tokset *ts, hvd_error *err)
{
    int rc = HVD_OK;

    for (; rc == HVD_OK && ts->explored < ts->n; ts->explored++) {
        size_t i = ts->explored;
        int by_name = ts->tok[i].text[0] == 'n';
        sqlite3_stmt *q = st->stmt[by_name ? SQL_INC_IDS_OF_NAME : SQL_INC_NAMES_OF_ID];
        size_t last = SIZE_MAX;

        if (ts->tok[i].text[0] == 'h') {
            continue;
        }
        for (;;) {
            size_t t;

            bind_text(q, 1, ts->tok[i].text + 2);
            bind_text(q, 2, last == SIZE_MAX ? "" : ts->tok[last].text + 2);
            rc = sqlite3_step(q);
            if (rc == SQLITE_DONE) {
                sqlite3_reset(q);
                rc = HVD_OK;
                break;
            }
            if (rc != SQLITE_ROW) {
                rc = db_error(st, err, "cannot read diagnoses");
                sqlite3_reset(q);
                break;
            }
            rc = tokset_add(ts, by_name ? "i:" : "n:", col_text(q, 0), &t);
            sqlite3_reset(q);
            if (rc < 0) {
                rc = no_memory(st, err);
                break;
            }
            tok_unite(ts->tok, i, t);
            last = t;
        }
    }
    return rc;
}

/* Subjects: each diagnosis's tokens joined; with explore, also the joins the database
 * holds beyond the loaded diagnoses. */
static int group_subjects(hvd_store *st, struct regroup *g, int explore, hvd_error *err)
{
    for (size_t i = 0; i < g->n; i++) {
        if (diag_tokens(g, i) < 0) {
            return no_memory(st, err);
        }
    }
    return explore ? explore_links(st, &g->ts, err) : HVD_OK;
}

/* Same subject, no quiet gap longer than the tolerance: one group. */
static void group_by_time(struct regroup *g)
{
    hvd_time reach = 0; /* the latest end so far in the current run of one subject */

    order_fill(g);
    if (g->n > 1) {
        qsort(g->order, g->n, sizeof(*g->order), by_subject_time);
    }
    for (size_t k = 0; k < g->n; k++) {
        const struct inc_diag *d = &g->v[g->order[k].idx];

        if (k > 0 && g->order[k - 1].subject == g->order[k].subject &&
            d->first <= plus_gap(reach)) {
            diag_unite(g->v, g->order[k - 1].idx, g->order[k].idx);
            reach = d->last > reach ? d->last : reach;
        } else {
            reach = d->last;
        }
    }
}

/* The diagnosis with row id 'id' in g->order sorted by id. */
static int find_by_id(const struct regroup *g, int64_t id, size_t *out)
{
    size_t lo = 0;
    size_t hi = g->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (g->order[mid].id == id) {
            *out = g->order[mid].idx;
            return 1;
        }
        if (g->order[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

/* A correlation and a diagnosis it explains, as indexes into g->v. */
struct rel_pair {
    size_t corr;
    size_t member;
};

struct relset {
    struct rel_pair *v;
    size_t n;
    size_t cap;
    size_t *adopter; /* per diagnosis: the correlation whose subject it takes, or SIZE_MAX */
};

/* Records that correlation a explains b. A role event (1205, 1254: they name only the role)
 * that a correlation naming a VM ties to that VM's own role (the correlation's 'group')
 * takes the VM as its subject instead of its host: the role is shown to be the VM's, and
 * its events are not the host's. Among several such correlations the least key wins, so
 * the choice depends only on the set of diagnoses. */
static int relset_add(struct regroup *g, struct relset *rs, size_t a, size_t b,
                      const char *member_role, const char *corr_role)
{
    const struct inc_diag *c = &g->v[a];
    const struct inc_diag *m = &g->v[b];

    if (hvd_array_room(&rs->v, &rs->cap, rs->n, sizeof(*rs->v), 64) < 0) {
        return HVD_ENOMEM;
    }
    rs->v[rs->n].corr = a;
    rs->v[rs->n++].member = b;
    if (c->correlation && c->vm_name[0] && !m->vm_name[0] && !m->vm_id[0] && member_role[0] &&
        strcasecmp(member_role, corr_role) == 0 &&
        (rs->adopter[b] == SIZE_MAX || strcmp(c->key, g->v[rs->adopter[b]].key) < 0)) {
        rs->adopter[b] = a;
    }
    return HVD_OK;
}

/* Reads the correlation pairs among the loaded diagnoses (all of them, or for a closed
 * part the members each loaded diagnosis names) and gives the adopted their subject. One
 * pass over the pairs: O(R log n) with R pairs read. */
static int load_related(hvd_store *st, struct regroup *g, int some, struct relset *rs,
                        hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[some ? SQL_INC_RELATED_OF : SQL_INC_RELATED];
    int rc = SQLITE_DONE;

    rs->adopter = hvd_calloc(g->n ? g->n : 1, sizeof(*rs->adopter));
    if (!rs->adopter) {
        return no_memory(st, err);
    }
    for (size_t i = 0; i < g->n; i++) {
        rs->adopter[i] = SIZE_MAX;
    }
    order_fill(g);
    if (g->n > 1) {
        qsort(g->order, g->n, sizeof(*g->order), by_diag_id);
    }
    for (size_t i = 0; rc == SQLITE_DONE && i < (some ? g->n : 1); i++) {
        if (some) {
            sqlite3_bind_int64(q, 1, g->v[i].id);
        }
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            int col = some ? 0 : 1;
            size_t a = i;
            size_t b;

            if ((some || find_by_id(g, sqlite3_column_int64(q, 0), &a)) &&
                find_by_id(g, sqlite3_column_int64(q, col), &b) &&
                relset_add(g, rs, a, b, col_text(q, col + 1), col_text(q, col + 2)) < 0) {
                sqlite3_reset(q);
                return no_memory(st, err);
            }
        }
        sqlite3_reset(q);
    }
    if (rc != SQLITE_DONE) {
        return db_error(st, err, "cannot read related diagnoses");
    }
    for (size_t i = 0; i < g->n; i++) {
        if (rs->adopter[i] != SIZE_MAX) {
            g->v[i].token = g->v[rs->adopter[i]].token;
        }
    }
    return HVD_OK;
}

/* A correlation pulls the diagnoses it explains into its group. */
static void group_related(struct regroup *g, const struct relset *rs)
{
    for (size_t k = 0; k < rs->n; k++) {
        diag_unite(g->v, rs->v[k].corr, rs->v[k].member);
    }
}

static int load_incident_ids(hvd_store *st, struct regroup *g, hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_INC_IDS];
    struct idvec ids = {0};
    int rc;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (idvec_push(&ids, sqlite3_column_int64(q, 0)) < 0) {
            sqlite3_reset(q);
            hvd_free(ids.v);
            return no_memory(st, err);
        }
    }
    sqlite3_reset(q);
    g->ids = ids.v;
    g->nids = ids.n;
    if (rc != SQLITE_DONE) {
        return db_error(st, err, "cannot read incidents");
    }
    g->next_id = g->nids ? g->ids[g->nids - 1] + 1 : 1;
    g->claimed = hvd_calloc(g->nids ? g->nids : 1, 1);
    return g->claimed ? HVD_OK : no_memory(st, err);
}

/* Claims an existing incident id for reuse; 0 when it is unknown or taken. */
static int64_t claim(struct regroup *g, int64_t id)
{
    int64_t *at;

    if (id <= 0 || !g->nids) {
        return 0;
    }
    at = bsearch(&id, g->ids, g->nids, sizeof(*g->ids), by_id);
    if (!at || g->claimed[at - g->ids]) {
        return 0;
    }
    g->claimed[at - g->ids] = 1;
    return id;
}

/* Any case, and of spellings that differ only in case the least by strcmp first: the one
 * kept is then the least of all, whichever order or parts the names came in. */
static int by_host(const void *x, const void *y)
{
    const char *a = *(const char *const *)x;
    const char *b = *(const char *const *)y;
    int c = strcasecmp(a, b);

    return c ? c : strcmp(a, b);
}

/* Appends "a,b,c" to out: the k names (sorted here), each once in any case. O(k log k). */
static int hosts_join(const char **names, size_t k, hvd_buf *out)
{
    int rc = HVD_OK;

    if (k > 1) {
        qsort(names, k, sizeof(*names), by_host);
    }
    for (size_t i = 0; rc == HVD_OK && i < k; i++) {
        if (i > 0 && strcasecmp(names[i - 1], names[i]) == 0) {
            continue;
        }
        rc = hvd_buf_printf(out, "%s%s", out->len ? "," : "", names[i]);
    }
    return rc;
}

/* "a,b,c": the members' hosts, sorted, each once (any case). */
static int hosts_text(const struct regroup *g, const struct ord *members, size_t n, hvd_buf *out)
{
    const char **names = hvd_calloc(n ? n : 1, sizeof(*names));
    size_t k = 0;
    int rc;

    if (!names) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (g->v[members[i].idx].host[0]) {
            names[k++] = g->v[members[i].idx].host;
        }
    }
    rc = hosts_join(names, k, out);
    hvd_free(names);
    return rc;
}

struct group_span {
    size_t start; /* in order[]: members, root cause first */
    size_t n;
    hvd_time first;
    const char *key; /* the root cause's */
};

static int by_span(const void *x, const void *y)
{
    const struct group_span *a = x;
    const struct group_span *b = y;

    if (a->first != b->first) {
        return a->first < b->first ? -1 : 1;
    }
    return strcmp(a->key, b->key);
}

/* What the outbox needs to know of incident id before it is written: *active is 0 when no
 * output has a cursor (nothing is recorded), else *old is its severity (-1: new). */
static int outbox_before(hvd_store *st, int64_t id, int *active, int *old, hvd_error *err)
{
    sqlite3_stmt *s;
    int rc = stmt_ready(st, SQL_OUTBOX_STATE, &s, err);

    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return db_error(st, err, "cannot read the outbox");
    }
    *active = sqlite3_column_int(s, 0);
    *old = sqlite3_column_type(s, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 1);
    sqlite3_reset(s);
    return HVD_OK;
}

/* Records a change of incident id, just written, in the outbox: its next revision and a
 * snapshot of it and its root cause ('new', or 'severity' when the severity changed from
 * old, else 'update'). The one place incident changes reach the outbox. */
static int outbox_record(hvd_store *st, int64_t id, int old, int severity, hvd_error *err)
{
    sqlite3_stmt *rev;
    sqlite3_stmt *rec;
    int rc = stmt_ready(st, SQL_OUTBOX_REVISION, &rev, err);

    if (rc == HVD_OK) {
        rc = stmt_ready(st, SQL_OUTBOX_RECORD, &rec, err);
    }
    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(rev, 1, id);
    rc = step_done(st, rev, err, "cannot write the outbox");
    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(rec, 1, id);
    bind_text(rec, 2, old < 0 ? "new" : old != severity ? "severity" : "update");
    sqlite3_bind_int(rec, 3, old);
    return step_done(st, rec, err, "cannot write the outbox");
}

/* An incident row as a regrouping decides it; the title and fix are the root's. */
struct inc_row {
    int64_t id;
    const char *subject_kind;
    const char *subject;
    const char *hosts;
    hvd_time first;
    hvd_time last;
    int severity;
    int64_t root;
    int64_t diagnoses;
};

/* Writes incident r (unless its row says so already) and records the change in the
 * outbox: the one place regrouping writes an incident row. */
static int put_incident(hvd_store *st, const struct inc_row *r, hvd_error *err)
{
    sqlite3_stmt *put = st->stmt[SQL_INC_PUT];
    sqlite3_stmt *text = st->stmt[SQL_INC_ROOT_TEXT];
    int active = 0;
    int old = -1;
    int rc;

    sqlite3_bind_int64(put, 1, r->id);
    bind_text(put, 2, r->subject_kind);
    bind_text(put, 3, r->subject);
    bind_text(put, 4, r->hosts);
    sqlite3_bind_int64(put, 5, r->first);
    sqlite3_bind_int64(put, 6, r->last);
    sqlite3_bind_int(put, 7, r->severity);
    sqlite3_bind_int64(text, 1, r->root);
    rc = sqlite3_step(text);
    if (rc != SQLITE_ROW) {
        rc = rc == SQLITE_DONE ? hvd_error_set(err, HVD_ESTORE, st->path, 0,
                                               "diagnosis %" PRId64 " vanished", r->root)
                               : db_error(st, err, "cannot read a diagnosis");
        sqlite3_reset(text);
        return rc;
    }
    bind_text(put, 8, col_text(text, 0));
    bind_text(put, 9, col_text(text, 1));
    sqlite3_reset(text);
    sqlite3_bind_int64(put, 10, r->root);
    sqlite3_bind_int64(put, 11, r->diagnoses);
    rc = outbox_before(st, r->id, &active, &old, err);
    if (rc == HVD_OK) {
        rc = step_done(st, put, err, "cannot write an incident");
    }
    if (rc == HVD_OK && active && sqlite3_changes(st->db) > 0) {
        rc = outbox_record(st, r->id, old, r->severity, err);
    }
    return rc;
}

/* Writes one group as incident id, and notes which members move into it. */
static int write_group(hvd_store *st, struct regroup *g, const struct group_span *sp, int64_t id,
                       hvd_error *err)
{
    struct ord *m = g->order + sp->start;
    const struct inc_diag *root = &g->v[m[0].idx];
    struct inc_row r = {.id = id,
                        .subject_kind = "host",
                        .subject = root->host,
                        .first = root->first,
                        .last = root->last,
                        .root = root->id,
                        .diagnoses = (int64_t)sp->n};
    hvd_buf hosts;
    int rc;

    for (size_t i = 0; i < sp->n; i++) {
        const struct inc_diag *d = &g->v[m[i].idx];

        r.first = d->first < r.first ? d->first : r.first;
        r.last = d->last > r.last ? d->last : r.last;
        r.severity = d->severity > r.severity ? d->severity : r.severity;
    }
    /* The subject: the first VM name in root-cause order, else a VM id, else the host. */
    for (size_t i = 0; i < sp->n && strcmp(r.subject_kind, "host") == 0; i++) {
        if (g->v[m[i].idx].vm_name[0]) {
            r.subject_kind = "vm";
            r.subject = g->v[m[i].idx].vm_name;
        }
    }
    for (size_t i = 0; i < sp->n && strcmp(r.subject_kind, "host") == 0; i++) {
        if (g->v[m[i].idx].vm_id[0]) {
            r.subject_kind = "vm";
            r.subject = g->v[m[i].idx].vm_id;
        }
    }
    hvd_buf_init(&hosts, 64 * 1024);
    rc = hosts_text(g, m, sp->n, &hosts);
    if (rc < 0) {
        hvd_buf_free(&hosts);
        return hvd_error_set(err, rc, st->path, 0, "cannot group incidents: %s", hvd_strerror(rc));
    }
    r.hosts = hvd_buf_str(&hosts);
    rc = put_incident(st, &r, err);
    hvd_buf_free(&hosts);
    for (size_t i = 0; i < sp->n; i++) {
        m[i].moved_to = g->v[m[i].idx].cur != id ? id : 0;
    }
    return rc;
}

/* Sets the incident of the diagnoses that moved (write_group noted them in g->order, which
 * no longer serves once the groups are written), in order of diagnosis id: O(n log n) to
 * sort the n loaded diagnoses, then one update per move, walking the table and its indexes
 * from one end to the other. In the order of the groups they would jump across the table,
 * once per group and kind, and a table larger than the page cache would be read and written
 * again at every jump. */
static int write_moves(hvd_store *st, struct regroup *g, hvd_error *err)
{
    sqlite3_stmt *set = st->stmt[SQL_INC_SET];
    int rc = HVD_OK;

    if (g->n > 1) {
        qsort(g->order, g->n, sizeof(*g->order), by_diag_id);
    }
    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        if (g->order[i].moved_to) {
            sqlite3_bind_int64(set, 1, g->order[i].moved_to);
            sqlite3_bind_int64(set, 2, g->order[i].id);
            rc = step_done(st, set, err, "cannot write an incident");
        }
    }
    return rc;
}

/* Writes the groups of g, reusing the ids in g->ids and deleting those left unclaimed. */
static int write_groups(hvd_store *st, struct regroup *g, hvd_error *err)
{
    struct group_span *spans = NULL;
    size_t nspans = 0;
    int rc = HVD_OK;

    /* Members of one group next to each other, root cause first. */
    order_fill(g);
    if (g->n > 1) {
        qsort(g->order, g->n, sizeof(*g->order), by_group_then_root);
    }
    spans = hvd_calloc(g->n ? g->n : 1, sizeof(*spans));
    if (!spans) {
        return no_memory(st, err);
    }
    for (size_t i = 0; i < g->n; i++) {
        const struct inc_diag *d = &g->v[g->order[i].idx];

        if (i == 0 || g->order[i - 1].group != g->order[i].group) {
            spans[nspans].start = i;
            spans[nspans].first = d->first;
            spans[nspans].key = d->key;
            nspans++;
        }
        spans[nspans - 1].n++;
        if (d->first < spans[nspans - 1].first) {
            spans[nspans - 1].first = d->first;
        }
    }
    /* New ids in order of time, so a database built in one go numbers them the same way
     * whatever order the diagnoses came in. */
    if (nspans > 1) {
        qsort(spans, nspans, sizeof(*spans), by_span);
    }
    for (size_t s = 0; rc == HVD_OK && s < nspans; s++) {
        const struct ord *m = g->order + spans[s].start;
        int64_t id = claim(g, g->v[m[0].idx].cur);

        /* Keep the id of the incident the root was in, else the lowest a member was in. */
        if (!id) {
            int64_t best = 0;

            for (size_t i = 0; i < spans[s].n; i++) {
                int64_t c = g->v[m[i].idx].cur;
                int64_t *at =
                    c > 0 && g->nids ? bsearch(&c, g->ids, g->nids, sizeof(*g->ids), by_id) : NULL;

                if (at && !g->claimed[at - g->ids] && (!best || c < best)) {
                    best = c;
                }
            }
            id = claim(g, best);
        }
        if (!id) {
            id = g->next_id++;
        }
        rc = write_group(st, g, &spans[s], id, err);
    }
    if (rc == HVD_OK) {
        rc = write_moves(st, g, err);
    }
    for (size_t i = 0; rc == HVD_OK && i < g->nids; i++) {
        if (!g->claimed[i]) {
            sqlite3_stmt *del = st->stmt[SQL_INC_DELETE];

            sqlite3_bind_int64(del, 1, g->ids[i]);
            rc = step_done(st, del, err, "cannot delete an incident");
        }
    }
    hvd_free(spans);
    return rc;
}

/* Groups the loaded diagnoses by subject and time and by the correlation pairs among them
 * (read into rs; the caller frees rs->v and rs->adopter); 'some' when they are a part of
 * all. */
static int group_loaded(hvd_store *st, struct regroup *g, int some, struct relset *rs,
                        hvd_error *err)
{
    int rc;

    if (g->n > 1) {
        qsort(g->v, g->n, sizeof(*g->v), by_key);
    }
    for (size_t i = 0; i < g->n; i++) {
        g->v[i].parent = i;
    }
    g->order = hvd_calloc(g->n ? g->n : 1, sizeof(*g->order));
    if (!g->order) {
        return no_memory(st, err);
    }
    rc = group_subjects(st, g, some, err);
    if (rc == HVD_OK) {
        rc = load_related(st, g, some, rs, err);
    }
    if (rc == HVD_OK) {
        group_by_time(g);
        group_related(g, rs);
    }
    return rc;
}

/* Groups the loaded diagnoses and writes them; 'some' when they are a closed part. */
static int group_and_write(hvd_store *st, struct regroup *g, int some, hvd_error *err)
{
    struct relset rs = {0};
    int rc = group_loaded(st, g, some, &rs, err);

    if (rc == HVD_OK) {
        rc = write_groups(st, g, err);
    }
    hvd_free(rs.v);
    hvd_free(rs.adopter);
    st->regroup_loaded = (int64_t)g->n;
    return rc;
}

/* Regroups every diagnosis. */
static int regroup_full(hvd_store *st, hvd_error *err)
{
    struct regroup g;
    int rc;

    memset(&g, 0, sizeof(g));
    rc = load_diagnoses(st, &g, err);
    if (rc == HVD_OK) {
        rc = load_incident_ids(st, &g, err);
    }
    if (rc == HVD_OK) {
        rc = group_and_write(st, &g, 0, err);
    }
    regroup_free(&g);
    return rc;
}

/* Runs a one-number query (arg bound to ?1 when it has one): 1 and *out set when it
 * gave a row, 0 when none, or a negative code. */
static int int_of(hvd_store *st, int which, int64_t arg, int64_t *out, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_ready(st, which, &q, err);

    if (rc < 0) {
        return rc;
    }
    if (sqlite3_bind_parameter_count(q) > 0) {
        sqlite3_bind_int64(q, 1, arg);
    }
    rc = sqlite3_step(q);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return db_error(st, err, "cannot read incidents");
    }
    return rc == SQLITE_ROW;
}

/* The longest span of any diagnosis, never below 0. HVD_OK or a negative code. */
static int diag_max_span(hvd_store *st, int64_t *span, hvd_error *err)
{
    int rc = int_of(st, SQL_DIAG_MAX_SPAN, 0, span, err);

    *span = *span > 0 ? *span : 0;
    return rc < 0 ? rc : HVD_OK;
}

/* Adds the diagnoses of a token's subject whose span ends at or after lo and starts at or
 * before hi (span: diag_max_span()). Cost: one index search over those that end from lo to
 * hi plus span. */
static int add_near(hvd_store *st, const char *token, hvd_time lo, hvd_time hi, int64_t span,
                    struct idvec *out, hvd_error *err)
{
    int which = token[0] == 'n'   ? SQL_INC_NEAR_NAME
                : token[0] == 'i' ? SQL_INC_NEAR_ID
                                  : SQL_INC_NEAR_HOST;
    sqlite3_stmt *q = st->stmt[which];

    bind_text(q, 1, token + 2);
    sqlite3_bind_int64(q, 2, lo);
    sqlite3_bind_int64(q, 3, hi);
    sqlite3_bind_int64(q, 4, hi > INT64_MAX - span ? INT64_MAX : hi + span);
    return collect_ids(st, q, out, err);
}

/* 1 when a diagnosis outside 'fresh' (inserted in this transaction) names the pair. */
static int pair_known(hvd_store *st, const struct inc_diag *d, const struct idvec *fresh,
                      hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_INC_PAIR];
    int known = 0;
    int rc;

    bind_text(q, 1, d->vm_name);
    bind_text(q, 2, d->vm_id);
    while (!known && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        known = !idvec_has(fresh, sqlite3_column_int64(q, 0));
    }
    if (!known && rc != SQLITE_DONE) {
        rc = db_error(st, err, "cannot read diagnoses");
        sqlite3_reset(q);
        return rc;
    }
    sqlite3_reset(q);
    return known;
}

struct tok_ref {
    size_t root;
    size_t tok;
};

static int by_root(const void *x, const void *y)
{
    const struct tok_ref *a = x;
    const struct tok_ref *b = y;

    if (a->root != b->root) {
        return a->root < b->root ? -1 : 1;
    }
    return a->tok < b->tok ? -1 : a->tok > b->tok;
}

/* The first entry of refs (sorted by root) with this root. */
static size_t refs_first(const struct tok_ref *refs, size_t n, size_t root)
{
    size_t lo = 0;
    size_t hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (refs[mid].root < root) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* A subject token's times whose diagnoses a regrouping reads (tok SIZE_MAX: spans that end
 * before they start, of any subject). */
struct near_ask {
    size_t tok;
    hvd_time lo;
    hvd_time hi;
};

struct near_asks {
    struct near_ask *v;
    size_t n;
    size_t cap;
};

static int asks_add(struct near_asks *a, size_t tok, hvd_time lo, hvd_time hi)
{
    if (hvd_array_room(&a->v, &a->cap, a->n, sizeof(*a->v), 64) < 0) {
        return HVD_ENOMEM;
    }
    a->v[a->n++] = (struct near_ask){tok, lo, hi};
    return HVD_OK;
}

static int by_ask(const void *x, const void *y)
{
    const struct near_ask *a = x;
    const struct near_ask *b = y;

    if (a->tok != b->tok) {
        return a->tok < b->tok ? -1 : 1;
    }
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Adds the diagnoses linked to the changed ones in g (see the top of this section):
 * same subject and within the gap, correlations either way, and every diagnosis of a
 * subject that a new (VM name, VM id) pair joined; or, with 'merge', returns 1 when a new
 * pair joins subjects (the merge path does not load whole subjects). The times asked of a
 * subject are merged first, so changes near each other read their neighbours once: the
 * rows read are the distinct neighbours, not changes times neighbours (a busy subject's
 * thousands of changes would read each of its diagnoses a thousand times). */
static int add_linked(hvd_store *st, struct regroup *g, const struct idvec *fresh, int merge,
                      struct idvec *want, hvd_error *err)
{
    struct near_asks asks = {0};
    struct tok_ref *refs = NULL;
    struct idvec whole = {0}; /* roots of subjects to load entirely */
    int64_t span = 0;
    int rc = group_subjects(st, g, 1, err);

    if (rc == HVD_OK) {
        rc = diag_max_span(st, &span, err);
    }
    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        const struct inc_diag *d = &g->v[i];
        int known;

        if (!d->vm_name[0] || !d->vm_id[0] || !idvec_has(fresh, d->id)) {
            continue;
        }
        known = pair_known(st, d, fresh, err);
        if (known < 0) {
            rc = known;
        } else if (!known && idvec_push(&whole, (int64_t)tok_root(g->ts.tok, d->token)) < 0) {
            rc = no_memory(st, err);
        }
    }
    idvec_sort_unique(&whole);
    if (rc == HVD_OK && merge && whole.n) {
        rc = 1;
    }
    /* Tokens by subject, so each diagnosis finds every token of its subject. */
    refs = hvd_calloc(g->ts.n ? g->ts.n : 1, sizeof(*refs));
    if (rc == HVD_OK && !refs) {
        rc = no_memory(st, err);
    }
    for (size_t t = 0; rc == HVD_OK && t < g->ts.n; t++) {
        refs[t].root = tok_root(g->ts.tok, t);
        refs[t].tok = t;
    }
    if (rc == HVD_OK && g->ts.n > 1) {
        qsort(refs, g->ts.n, sizeof(*refs), by_root);
    }
    for (size_t t = 0; rc == HVD_OK && t < g->ts.n; t++) {
        if (idvec_has(&whole, (int64_t)refs[t].root)) {
            rc = add_near(st, g->ts.tok[refs[t].tok].text, INT64_MIN, INT64_MAX, span, want, err);
        }
    }
    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        const struct inc_diag *d = &g->v[i];
        size_t root = tok_root(g->ts.tok, d->token);
        hvd_time hi = d->first > plus_gap(d->last) ? d->first : plus_gap(d->last);
        sqlite3_stmt *q;

        /* One starting before d joins it when it ends within the gap before d's start; one
         * starting after, when it starts within the gap after d's end. */
        if (!idvec_has(&whole, (int64_t)root)) {
            for (size_t r = refs_first(refs, g->ts.n, root);
                 rc == HVD_OK && r < g->ts.n && refs[r].root == root; r++) {
                rc = asks_add(&asks, refs[r].tok, minus_gap(d->first), hi);
            }
        }
        /* Spans that end before they start escape the search by end above. */
        if (rc == HVD_OK && d->first <= plus_gap(d->last)) {
            rc = asks_add(&asks, SIZE_MAX, d->first, plus_gap(d->last));
        }
        rc = rc < 0 ? no_memory(st, err) : rc;
        if (rc == HVD_OK) {
            q = st->stmt[SQL_INC_RELATED_OF];
            sqlite3_bind_int64(q, 1, d->id);
            rc = collect_ids(st, q, want, err);
        }
        if (rc == HVD_OK) {
            q = st->stmt[SQL_INC_RELATED_TO];
            bind_text(q, 1, d->key);
            rc = collect_ids(st, q, want, err);
        }
    }
    /* Each token's times asked for, merged: near diagnoses share most of their neighbours. */
    if (rc == HVD_OK && asks.n > 1) {
        qsort(asks.v, asks.n, sizeof(*asks.v), by_ask);
    }
    for (size_t i = 0, k; rc == HVD_OK && i < asks.n; i = k) {
        struct near_ask a = asks.v[i];

        for (k = i + 1; k < asks.n && asks.v[k].tok == a.tok &&
                        asks.v[k].lo <= (a.hi < INT64_MAX ? a.hi + 1 : a.hi);
             k++) {
            a.hi = asks.v[k].hi > a.hi ? asks.v[k].hi : a.hi;
        }
        if (a.tok != SIZE_MAX) {
            rc = add_near(st, g->ts.tok[a.tok].text, a.lo, a.hi, span, want, err);
        } else {
            sqlite3_stmt *q = st->stmt[SQL_INC_NEAR_INVERTED];

            sqlite3_bind_int64(q, 1, a.lo);
            sqlite3_bind_int64(q, 2, a.hi);
            rc = collect_ids(st, q, want, err);
        }
    }
    hvd_free(asks.v);
    hvd_free(refs);
    hvd_free(whole.v);
    return rc;
}

/* Loads S (see the top of this section) into g, and the ids of its incidents. Returns 1
 * when only a full pass can tell. */
static int load_closed_part(hvd_store *st, struct regroup *g, hvd_error *err)
{
    struct idvec want = {0};
    struct idvec fresh = {0};
    struct idvec incs = {0};
    int rc = HVD_OK;

    for (size_t i = 0; rc == HVD_OK && i < st->nchanged; i++) {
        rc = idvec_push(&want, st->changed[i].id);
        if (rc == HVD_OK && st->changed[i].kind == CHANGE_INSERTED) {
            rc = idvec_push(&fresh, st->changed[i].id);
        }
    }
    rc = rc < 0 ? no_memory(st, err) : HVD_OK;
    idvec_sort_unique(&want);
    idvec_sort_unique(&fresh);
    if (rc == HVD_OK) {
        rc = load_ids(st, g, &want, err);
    }
    /* A short name cut at HOST_MAX may stand for longer ones no search by name finds. */
    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        if (!g->v[i].vm_name[0] && !g->v[i].vm_id[0] && strlen(g->v[i].host) + 1 >= HOST_MAX) {
            rc = 1;
        }
    }
    if (rc == HVD_OK) {
        rc = add_linked(st, g, &fresh, 0, &want, err);
    }
    if (rc == HVD_OK) {
        idvec_sort_unique(&want);
        rc = load_ids(st, g, &want, err);
    }
    /* Whole incidents: what they hold is in play with them. */
    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        if (g->v[i].cur > 0 && idvec_push(&incs, g->v[i].cur) < 0) {
            rc = no_memory(st, err);
        }
    }
    idvec_sort_unique(&incs);
    want.n = 0;
    for (size_t i = 0; rc == HVD_OK && i < incs.n; i++) {
        int64_t one;
        int found = int_of(st, SQL_INC_EXISTS, incs.v[i], &one, err);

        if (found < 0) {
            rc = found;
        } else if (found) {
            incs.v[g->nids++] = incs.v[i]; /* keeps the ones that exist, in order */
            sqlite3_bind_int64(st->stmt[SQL_INC_MEMBERS], 1, incs.v[i]);
            rc = collect_ids(st, st->stmt[SQL_INC_MEMBERS], &want, err);
        }
    }
    if (rc == HVD_OK) {
        idvec_sort_unique(&want);
        rc = load_ids(st, g, &want, err);
    }
    /* New ids continue after the highest in use, as in a full pass. */
    if (rc == HVD_OK) {
        int found = int_of(st, SQL_INC_MAX_ID, 0, &g->next_id, err);

        rc = found < 0 ? found : HVD_OK;
        g->next_id++;
    }
    g->ids = incs.v;
    incs.v = NULL;
    g->claimed = hvd_calloc(g->nids ? g->nids : 1, 1);
    if (rc == HVD_OK && !g->claimed) {
        rc = no_memory(st, err);
    }
    hvd_free(want.v);
    hvd_free(fresh.v);
    hvd_free(incs.v);
    return rc;
}

/*
 * The merge path. When every change only adds links (a new diagnosis, a span that only
 * widened, a correlation naming more members), no old incident splits: each new incident
 * is a union of old incidents and new diagnoses. Then the diagnoses D changed, those
 * linked to them (add_linked()) and the roots of the incidents these are in are enough:
 * the links among them, and one link between two loaded members of one old incident (its
 * own links stay, unread), give the unions; the old incidents' rows give the rest. Each
 * new incident's first and last time, severity, count and hosts combine its old ones' with
 * its loaded members'; its root is the best loaded one (a root's rank only improves under
 * these changes, and the others' did not change); ids and subjects follow write_groups()
 * and write_group(). It holds O(loaded) memory, however long the incidents, where the
 * closed part holds every member of the incidents touched.
 *
 * It cannot be sure, and falls back, when: a change is CHANGE_OTHER or changes were lost;
 * a new (VM name, VM id) pair joins subjects; a loaded short host name is cut at HOST_MAX
 * or holds a comma (or an old incident's hosts text may); a loaded diagnosis without a VM
 * could be adopted by a correlation (relset_add(): its subject would not be its host's);
 * or a group's subject is not known from its root and its old incidents' rows.
 */

/* An incident as its row stood before this regrouping. */
struct old_inc {
    int64_t id;
    int64_t root;
    int64_t diagnoses;
    hvd_time first;
    hvd_time last;
    int severity;
    int vm_subject; /* subject_kind 'vm': some member names a VM */
    char *hosts;    /* in the regroup's arena; split in place when its group is written */
    int64_t to;     /* the incident it becomes */
    size_t mark;    /* the group that took it in (its index + 1), while groups are merged */
};

struct merge {
    struct regroup g;
    struct old_inc *inc; /* sorted by id */
    size_t ninc;
};

/* One group of the merge path, before it is written. */
struct merged {
    struct group_span sp; /* first: over the whole group, old incidents included */
    size_t pre;           /* its index before the groups were put in order */
    int64_t id;           /* 0 until a new one is numbered */
    hvd_time last;
    int severity;
    int64_t diagnoses;
    const char *subject_kind;
    const char *subject;
};

static int by_merged_span(const void *x, const void *y)
{
    return by_span(&((const struct merged *)x)->sp, &((const struct merged *)y)->sp);
}

static int by_old_id(const void *x, const void *y)
{
    int64_t a = ((const struct old_inc *)x)->id;
    int64_t b = ((const struct old_inc *)y)->id;

    return a < b ? -1 : a > b;
}

static struct old_inc *old_find(const struct merge *mg, int64_t id)
{
    struct old_inc key = {.id = id};

    return mg->ninc ? bsearch(&key, mg->inc, mg->ninc, sizeof(*mg->inc), by_old_id) : NULL;
}

/* 1 when query 'which' (?1 id, ?2 text when given) gives a row, 0 when not, or a negative
 * code. */
static int row_exists(hvd_store *st, int which, int64_t id, const char *text, hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[which];
    int rc;

    sqlite3_bind_int64(q, 1, id);
    if (text) {
        bind_text(q, 2, text);
    }
    rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return db_error(st, err, "cannot read incidents");
    }
    return rc == SQLITE_ROW;
}

/* Reads the row of every incident a loaded diagnosis is in, and loads its root. Returns 1
 * when a loaded diagnosis is in an incident without a row or a root. */
static int load_old(hvd_store *st, struct merge *mg, hvd_error *err)
{
    struct regroup *g = &mg->g;
    sqlite3_stmt *q = st->stmt[SQL_INC_ROW];
    struct idvec curs = {0};
    struct idvec roots = {0};
    int rc = HVD_OK;

    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        if (g->v[i].cur > 0 && idvec_push(&curs, g->v[i].cur) < 0) {
            rc = no_memory(st, err);
        }
    }
    idvec_sort_unique(&curs);
    mg->inc = rc == HVD_OK ? hvd_calloc(curs.n ? curs.n : 1, sizeof(*mg->inc)) : NULL;
    if (rc == HVD_OK && !mg->inc) {
        rc = no_memory(st, err);
    }
    for (size_t k = 0; rc == HVD_OK && k < curs.n; k++) {
        struct old_inc *o = &mg->inc[mg->ninc];

        sqlite3_bind_int64(q, 1, curs.v[k]);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            o->id = o->to = curs.v[k];
            o->vm_subject = strcmp(col_text(q, 0), "host") != 0;
            o->hosts = hvd_arena_strdup(&g->strs, col_text(q, 1));
            o->first = sqlite3_column_int64(q, 2);
            o->last = sqlite3_column_int64(q, 3);
            o->severity = sqlite3_column_int(q, 4);
            o->diagnoses = sqlite3_column_int64(q, 5);
            o->root = sqlite3_column_int64(q, 6);
            mg->ninc++;
            rc = !o->hosts ? no_memory(st, err) : o->root > 0 ? HVD_OK : 1;
            if (rc == HVD_OK && idvec_push(&roots, o->root) < 0) {
                rc = no_memory(st, err);
            }
        } else {
            rc = rc == SQLITE_DONE ? 1 : db_error(st, err, "cannot read incidents");
        }
        sqlite3_reset(q);
    }
    idvec_sort_unique(&roots);
    if (rc == HVD_OK) {
        rc = load_ids(st, g, &roots, err);
    }
    /* Every loaded diagnosis (the roots too) in an incident read above, or in none. */
    for (size_t i = 0; rc == HVD_OK && i < g->n; i++) {
        if (g->v[i].cur > 0 && !old_find(mg, g->v[i].cur)) {
            rc = 1;
        }
    }
    hvd_free(curs.v);
    hvd_free(roots.v);
    return rc;
}

/* 1 when a loaded diagnosis or an old incident's hosts keep the merge path from being
 * sure (see above), 0 when none does, or a negative code. One index search per loaded
 * diagnosis without a VM, and a search of the members of each old incident whose hosts
 * text holds a comma. */
static int merge_unsafe(hvd_store *st, const struct merge *mg, hvd_error *err)
{
    const struct regroup *g = &mg->g;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < g->n; i++) {
        const struct inc_diag *d = &g->v[i];

        if (strchr(d->host, ',')) {
            rc = 1;
        } else if (!d->vm_name[0] && !d->vm_id[0]) {
            rc = strlen(d->host) + 1 >= HOST_MAX
                     ? 1
                     : row_exists(st, SQL_INC_ADOPTABLE, d->id, d->key, err);
        }
    }
    for (size_t k = 0; rc == 0 && k < mg->ninc; k++) {
        if (strchr(mg->inc[k].hosts, ',')) {
            rc = row_exists(st, SQL_INC_COMMA_HOST, mg->inc[k].id, NULL, err);
        }
    }
    return rc;
}

/* The groups of g (grouped, and united through their old incidents) as merged: each one's
 * span of g->order, times, severity, count, id when it keeps one, and subject. Returns 1
 * when a subject is not known. O(n log n) for the n loaded diagnoses. */
static int merge_spans(struct merge *mg, struct merged *ms, size_t *nms)
{
    struct regroup *g = &mg->g;
    size_t n = 0;

    order_fill(g);
    if (g->n > 1) {
        qsort(g->order, g->n, sizeof(*g->order), by_group_then_root);
    }
    for (size_t i = 0; i < g->n; i++) {
        if (i == 0 || g->order[i - 1].group != g->order[i].group) {
            ms[n].sp.start = i;
            ms[n].pre = n;
            n++;
        }
        ms[n - 1].sp.n++;
    }
    *nms = n;
    for (size_t s = 0; s < n; s++) {
        struct merged *m = &ms[s];
        const struct ord *o = g->order + m->sp.start;
        const struct inc_diag *root = &g->v[o[0].idx];
        int vm = 0;
        int64_t lowest = 0;

        m->sp.first = root->first;
        m->sp.key = root->key;
        m->last = root->last;
        for (size_t i = 0; i < m->sp.n; i++) {
            const struct inc_diag *d = &g->v[o[i].idx];
            struct old_inc *old = d->cur > 0 ? old_find(mg, d->cur) : NULL;

            m->sp.first = d->first < m->sp.first ? d->first : m->sp.first;
            m->last = d->last > m->last ? d->last : m->last;
            m->severity = d->severity > m->severity ? d->severity : m->severity;
            vm |= d->vm_name[0] || d->vm_id[0];
            if (!old) {
                m->diagnoses++;
            } else if (old->mark != s + 1) {
                old->mark = s + 1;
                m->sp.first = old->first < m->sp.first ? old->first : m->sp.first;
                m->last = old->last > m->last ? old->last : m->last;
                m->severity = old->severity > m->severity ? old->severity : m->severity;
                m->diagnoses += old->diagnoses;
                vm |= old->vm_subject;
                lowest = !lowest || old->id < lowest ? old->id : lowest;
            }
        }
        /* Keep the id of the incident the root was in, else the lowest one merged. */
        m->id = root->cur > 0 ? root->cur : lowest;
        /* write_group(): the first VM name in root-cause order, else a VM id, else the
         * root's host; past the root only its old incidents could tell. */
        if (root->vm_name[0]) {
            m->subject_kind = "vm";
            m->subject = root->vm_name;
        } else if (!vm) {
            m->subject_kind = "host";
            m->subject = root->host;
        } else {
            return 1;
        }
    }
    return HVD_OK;
}

/* Writes merged group m: its row (hosts: those of its old incidents and its loaded
 * members), and notes where its old incidents and new members go. */
static int merge_write(hvd_store *st, struct merge *mg, struct merged *m, hvd_error *err)
{
    struct regroup *g = &mg->g;
    struct ord *o = g->order + m->sp.start;
    const struct inc_diag *root = &g->v[o[0].idx];
    const char **names = NULL;
    size_t nnames = 0;
    size_t cap = 0;
    hvd_buf hosts;
    struct inc_row r = {.id = m->id,
                        .subject_kind = m->subject_kind,
                        .subject = m->subject,
                        .first = m->sp.first,
                        .last = m->last,
                        .severity = m->severity,
                        .root = root->id,
                        .diagnoses = m->diagnoses};
    int rc = HVD_OK;

    hvd_buf_init(&hosts, 64 * 1024);
    for (size_t i = 0; rc == HVD_OK && i < m->sp.n; i++) {
        const struct inc_diag *d = &g->v[o[i].idx];
        struct old_inc *old = d->cur > 0 ? old_find(mg, d->cur) : NULL;
        char *p = NULL;

        o[i].moved_to = d->cur == 0 ? m->id : 0;
        if (d->host[0]) {
            if (hvd_array_room(&names, &cap, nnames, sizeof(*names), 16) < 0) {
                rc = HVD_ENOMEM;
                break;
            }
            names[nnames++] = d->host;
        }
        if (old && old->mark == m->pre + 1) {
            old->mark = 0; /* once */
            old->to = m->id;
            p = old->hosts[0] ? old->hosts : NULL;
        }
        /* Its hosts text: names without commas (merge_unsafe()), joined by commas. */
        while (rc == HVD_OK && p) {
            char *comma = strchr(p, ',');

            if (hvd_array_room(&names, &cap, nnames, sizeof(*names), 16) < 0) {
                rc = HVD_ENOMEM;
                break;
            }
            names[nnames++] = p;
            if (comma) {
                *comma = '\0';
            }
            p = comma ? comma + 1 : NULL;
        }
    }
    if (rc == HVD_OK) {
        rc = hosts_join(names, nnames, &hosts);
    }
    hvd_free(names);
    if (rc < 0) {
        hvd_buf_free(&hosts);
        return hvd_error_set(err, rc, st->path, 0, "cannot group incidents: %s", hvd_strerror(rc));
    }
    r.hosts = hvd_buf_str(&hosts);
    rc = put_incident(st, &r, err);
    hvd_buf_free(&hosts);
    return rc;
}

/* Unites the loaded members of each old incident, then writes the groups: rows in order of
 * time, the members of merged-away incidents moved with one update each, the new ones set,
 * the merged-away rows deleted; as write_groups() would. Returns 1, having written
 * nothing, when a subject is not known. */
static int merge_groups(hvd_store *st, struct merge *mg, hvd_error *err)
{
    struct regroup *g = &mg->g;
    struct merged *ms = NULL;
    size_t nms = 0;
    int64_t next_id = 0;
    int rc;

    for (size_t i = 0; i < g->n; i++) {
        struct old_inc *old = g->v[i].cur > 0 ? old_find(mg, g->v[i].cur) : NULL;

        if (old && old->mark) {
            diag_unite(g->v, old->mark - 1, i);
        } else if (old) {
            old->mark = i + 1;
        }
    }
    for (size_t k = 0; k < mg->ninc; k++) {
        mg->inc[k].mark = 0;
    }
    for (size_t i = 0; i < g->n; i++) {
        nms += diag_root(g->v, i) == i; /* one span per group */
    }
    ms = hvd_calloc(nms ? nms : 1, sizeof(*ms));
    nms = 0;
    if (!ms) {
        return no_memory(st, err);
    }
    rc = merge_spans(mg, ms, &nms);
    if (rc == HVD_OK) {
        rc = int_of(st, SQL_INC_MAX_ID, 0, &next_id, err);
        rc = rc < 0 ? rc : HVD_OK;
        next_id++;
    }
    /* New ids in order of time, after the highest in use, as write_groups() gives them. */
    if (rc == HVD_OK && nms > 1) {
        qsort(ms, nms, sizeof(*ms), by_merged_span);
    }
    for (size_t s = 0; rc == HVD_OK && s < nms; s++) {
        if (!ms[s].id) {
            ms[s].id = next_id++;
        }
        rc = merge_write(st, mg, &ms[s], err);
    }
    for (size_t k = 0; rc == HVD_OK && k < mg->ninc; k++) {
        if (mg->inc[k].to != mg->inc[k].id) {
            sqlite3_stmt *mv = st->stmt[SQL_INC_MOVE];

            sqlite3_bind_int64(mv, 1, mg->inc[k].to);
            sqlite3_bind_int64(mv, 2, mg->inc[k].id);
            rc = step_done(st, mv, err, "cannot write an incident");
        }
    }
    if (rc == HVD_OK) {
        rc = write_moves(st, g, err);
    }
    for (size_t k = 0; rc == HVD_OK && k < mg->ninc; k++) {
        if (mg->inc[k].to != mg->inc[k].id) {
            sqlite3_stmt *del = st->stmt[SQL_INC_DELETE];

            sqlite3_bind_int64(del, 1, mg->inc[k].id);
            rc = step_done(st, del, err, "cannot delete an incident");
        }
    }
    hvd_free(ms);
    return rc;
}

/* Regroups what the open transaction changed by the merge path (above). Returns HVD_OK,
 * 1 when it cannot be sure (nothing is written then), or a negative code. */
static int regroup_merge(hvd_store *st, hvd_error *err)
{
    struct merge mg;
    struct relset rs = {0};
    struct idvec want = {0};
    struct idvec fresh = {0};
    int rc = st->changes_lost ? 1 : HVD_OK;

    memset(&mg, 0, sizeof(mg));
    for (size_t i = 0; rc == HVD_OK && i < st->nchanged; i++) {
        if (st->changed[i].kind == CHANGE_OTHER) {
            rc = 1;
        } else if (idvec_push(&want, st->changed[i].id) < 0 ||
                   (st->changed[i].kind == CHANGE_INSERTED &&
                    idvec_push(&fresh, st->changed[i].id) < 0)) {
            rc = no_memory(st, err);
        }
    }
    idvec_sort_unique(&want);
    idvec_sort_unique(&fresh);
    if (rc == HVD_OK) {
        rc = load_ids(st, &mg.g, &want, err);
    }
    if (rc == HVD_OK) {
        rc = add_linked(st, &mg.g, &fresh, 1, &want, err);
    }
    if (rc == HVD_OK) {
        idvec_sort_unique(&want);
        rc = load_ids(st, &mg.g, &want, err);
    }
    if (rc == HVD_OK) {
        rc = load_old(st, &mg, err);
    }
    if (rc == HVD_OK) {
        rc = merge_unsafe(st, &mg, err);
    }
    if (rc == HVD_OK) {
        rc = group_loaded(st, &mg.g, 1, &rs, err);
    }
    for (size_t i = 0; rc == HVD_OK && i < mg.g.n; i++) {
        if (rs.adopter[i] != SIZE_MAX) {
            rc = 1;
        }
    }
    if (rc == HVD_OK) {
        rc = merge_groups(st, &mg, err);
    }
    st->regroup_loaded = (int64_t)mg.g.n;
    if (rc == HVD_OK) {
        st->merges++;
    } else if (rc == 1) {
        st->merge_fallbacks++;
    }
    hvd_free(rs.v);
    hvd_free(rs.adopter);
    hvd_free(want.v);
    hvd_free(fresh.v);
    hvd_free(mg.inc);
    regroup_free(&mg.g);
    return rc;
}

/* How what the open transaction changed is regrouped: a full pass when the changes were not
 * all noted, or are many (over REGROUP_FULL_MIN notes and an eighth of all diagnoses) among
 * few (a highest id under REGROUP_SMALL: one pass is then cheap, and faster) or, at a
 * commit ('commit'), half of all (a file's first commit: the merge path would read as much,
 * and more slowly); else the
 * merge path, falling back to the closed part, or to a full pass when the changes are
 * many. A PLAN_* or a negative code. */
static int regroup_plan(hvd_store *st, int commit, hvd_error *err)
{
    int64_t max_diag = 0;
    int rc;

    if (st->changes_lost) {
        return PLAN_FULL;
    }
    if (st->nchanged <= REGROUP_FULL_MIN) {
        return PLAN_MERGE_CLOSED;
    }
    rc = int_of(st, SQL_INC_MAX_DIAG, 0, &max_diag, err);
    if (rc < 0) {
        return rc;
    }
    if ((int64_t)st->nchanged <= max_diag / 8) {
        return PLAN_MERGE_CLOSED;
    }
    /* At a commit, half of all or more: the merge path would read them and more, slower
     * than a pass. Not at a settle: one that waits for the commit would leave it all. */
    if (commit) {
        changes_compact(st);
        if ((int64_t)st->nchanged > max_diag / 2) {
            return PLAN_FULL;
        }
    }
    return max_diag < REGROUP_SMALL ? PLAN_FULL : PLAN_MERGE_FULL;
}

/* Regroups the closed part around what the open transaction changed, or everything when
 * only a full pass can tell. */
static int regroup_closed(hvd_store *st, hvd_error *err)
{
    struct regroup g;
    int rc;

    memset(&g, 0, sizeof(g));
    rc = load_closed_part(st, &g, err);
    if (rc == HVD_OK) {
        rc = group_and_write(st, &g, 1, err);
    }
    regroup_free(&g);
    return rc == 1 ? regroup_full(st, err) : rc;
}

/* Regroups what the open transaction changed, as regroup_plan() says. */
static int regroup_changed(hvd_store *st, hvd_error *err)
{
    int plan = regroup_plan(st, 1, err);
    int rc;

    if (plan < 0 || plan == PLAN_FULL) {
        return plan < 0 ? plan : regroup_full(st, err);
    }
    rc = regroup_merge(st, err);
    if (rc != 1) {
        return rc;
    }
    return plan == PLAN_MERGE_FULL ? regroup_full(st, err) : regroup_closed(st, err);
}

int hvd_store_rebuild_incidents(hvd_store *st, hvd_error *err)
{
    int rc = need_tx(st, err);

    if (rc < 0) {
        return rc;
    }
    rc = regroup_full(st, err);
    if (rc == HVD_OK) {
        changes_clear(st);
    }
    return rc;
}

int64_t hvd__store_regroup_loaded(const hvd_store *st)
{
    return st->regroup_loaded;
}

void hvd__store_merges(const hvd_store *st, int64_t *merged, int64_t *fell_back)
{
    *merged = st->merges;
    *fell_back = st->merge_fallbacks;
}

void hvd__store_settle_min(hvd_store *st, size_t n)
{
    st->settle_min = n;
}

/* --- reading ---------------------------------------------------------------------------- */

/* Which filters f sets, as STORE_LIST_* bits. */
static unsigned filter_mask(const hvd_incident_filter *f)
{
    if (!f) {
        return 0;
    }
    return (f->vm ? STORE_LIST_VM : 0) | (f->vm_id ? STORE_LIST_VM_ID : 0) |
           (f->host ? STORE_LIST_HOST : 0) | (f->rule ? STORE_LIST_RULE : 0) |
           (f->since ? STORE_LIST_SINCE : 0) | (f->until ? STORE_LIST_UNTIL : 0) |
           (f->after ? STORE_LIST_AFTER : 0);
}

int hvd__store_list_walks(int incidents, unsigned mask)
{
    return incidents && (mask & STORE_LIST_MATCH);
}

/* One arm of a listing (STORE_ARM_*): the diagnoses of mask's filters, a walk's rows
 * (walk) or a page's ids, on the index of the most selective filter. */
static int list_arm_sql(int walk, unsigned mask, int arm, hvd_buf *out)
{
    const char *index = store_list_arm[arm].index;
    int rc;

    if (arm == STORE_ARM_ONE) {
        index = mask & STORE_LIST_VM_ID  ? STORE_LIST_BY_VM_ID
                : mask & STORE_LIST_HOST ? STORE_LIST_BY_HOST
                                         : "";
    }
    rc = hvd_buf_adds(out, walk ? STORE_LIST_WALK_ARM : STORE_LIST_DIAG_ARM);
    rc = rc == HVD_OK ? hvd_buf_adds(out, index) : rc;
    rc =
        rc == HVD_OK ? hvd_buf_adds(out, walk ? STORE_LIST_WALK_WHERE : STORE_LIST_DIAG_WHERE) : rc;
    rc = rc == HVD_OK ? hvd_buf_adds(out, store_list_arm[arm].vm) : rc;
    for (size_t k = 0; k < sizeof(store_list_match) / sizeof(store_list_match[0]); k++) {
        if ((mask & store_list_match[k].bit) && rc == HVD_OK) {
            rc = hvd_buf_adds(out, store_list_match[k].sql);
        }
    }
    if (walk) {
        if ((mask & STORE_LIST_SINCE) && rc == HVD_OK) {
            rc = hvd_buf_adds(out, STORE_LIST_WALK_SINCE);
            rc = rc == HVD_OK ? hvd_buf_adds(out, STORE_LIST_INC_SINCE) : rc;
        }
        if ((mask & (STORE_LIST_UNTIL | STORE_LIST_AFTER)) && rc == HVD_OK) {
            rc = hvd_buf_adds(out, STORE_LIST_WALK_TOP);
        }
    } else if ((mask & STORE_LIST_SINCE) && rc == HVD_OK) {
        rc = hvd_buf_adds(out, STORE_LIST_DIAG_SINCE);
    }
    if ((mask & STORE_LIST_UNTIL) && rc == HVD_OK) {
        rc = hvd_buf_adds(out, walk ? STORE_LIST_INC_UNTIL : STORE_LIST_DIAG_UNTIL);
    }
    if ((mask & STORE_LIST_AFTER) && rc == HVD_OK) {
        rc = hvd_buf_adds(out, walk ? STORE_LIST_INC_AFTER : STORE_LIST_DIAG_AFTER);
    }
    return rc;
}

/* The arms of mask's listing, joined into one UNION ALL when there are two. */
static int list_arms_sql(int walk, unsigned mask, hvd_buf *out)
{
    int rc;

    if (!(mask & STORE_LIST_VM)) {
        return list_arm_sql(walk, mask, STORE_ARM_ONE, out);
    }
    rc = list_arm_sql(walk, mask, STORE_ARM_VM_NAME, out);
    rc = rc == HVD_OK ? hvd_buf_adds(out, STORE_LIST_UNION) : rc;
    return rc == HVD_OK ? list_arm_sql(walk, mask, STORE_ARM_VM_ID, out) : rc;
}

int hvd__store_list_sql(int incidents, unsigned mask, hvd_buf *out)
{
    int rc;

    if (hvd__store_list_walks(incidents, mask)) {
        rc = list_arms_sql(1, mask, out);
        return rc == HVD_OK ? hvd_buf_adds(out, STORE_LIST_WALK_TAIL) : rc;
    }
    if (!incidents) {
        rc = hvd_buf_adds(out, STORE_LIST_DIAG_HEAD);
        rc = rc == HVD_OK ? list_arms_sql(0, mask, out) : rc;
        return rc == HVD_OK ? hvd_buf_adds(out, STORE_LIST_DIAG_TAIL) : rc;
    }
    rc = hvd_buf_adds(out, STORE_LIST_INC_HEAD);
    if ((mask & STORE_LIST_SINCE) && rc == HVD_OK) {
        rc = hvd_buf_adds(out, STORE_LIST_INC_SINCE);
    }
    if ((mask & STORE_LIST_UNTIL) && rc == HVD_OK) {
        rc = hvd_buf_adds(out, STORE_LIST_INC_UNTIL);
    }
    if ((mask & STORE_LIST_AFTER) && rc == HVD_OK) {
        rc = hvd_buf_adds(out, STORE_LIST_INC_AFTER);
    }
    return rc == HVD_OK ? hvd_buf_adds(out, STORE_LIST_INC_TAIL) : rc;
}

/* The latest an incident or diagnosis may start to be listed under f: until, the
 * cursor's time, the smaller of both, or no bound. */
static hvd_time list_top(const hvd_incident_filter *f)
{
    hvd_time top = f->until ? f->until : INT64_MAX;

    return f->after && f->after_time < top ? f->after_time : top;
}

/* The listing statement for f, bound: the cached one when idle, else (a callback listing
 * again) a private copy. Release with list_release(). */
static int list_acquire(hvd_store *st, int incidents, const hvd_incident_filter *f,
                        sqlite3_stmt **out, hvd_error *err)
{
    unsigned mask = filter_mask(f);
    sqlite3_stmt **slot = &st->list[incidents][mask];
    hvd_buf sql;
    int rc;

    *out = NULL;
    if (*slot && !sqlite3_stmt_busy(*slot)) {
        *out = *slot;
    } else {
        hvd_buf_init(&sql, 64 * 1024);
        rc = hvd__store_list_sql(incidents, mask, &sql);
        if (rc < 0) {
            hvd_buf_free(&sql);
            return no_memory(st, err);
        }
        rc = sqlite3_prepare_v3(st->db, hvd_buf_str(&sql), -1,
                                *slot ? 0 : SQLITE_PREPARE_PERSISTENT, out, NULL);
        hvd_buf_free(&sql);
        if (rc != SQLITE_OK) {
            *out = NULL;
            return db_error(st, err, "cannot prepare a listing");
        }
        if (!*slot) {
            *slot = *out;
        }
    }
    if (f) {
        sqlite3_bind_int(*out, 1, f->min_severity);
        bind_opt_text(*out, 2, f->vm);
        bind_opt_text(*out, 3, f->vm_id);
        bind_opt_text(*out, 4, f->host);
        bind_opt_text(*out, 5, f->rule);
        sqlite3_bind_int64(*out, 6, f->since);
        sqlite3_bind_int64(*out, 7, f->until);
        sqlite3_bind_int64(*out, 10, list_top(f));
        sqlite3_bind_int64(*out, 11, f->after_time);
        sqlite3_bind_int64(*out, 12, f->after_id);
    } else {
        sqlite3_bind_int(*out, 1, 0);
    }
    sqlite3_bind_int64(*out, 8, f && f->limit > 0 ? f->limit : -1);
    sqlite3_bind_int64(*out, 9, f && f->offset > 0 ? f->offset : 0);
    return HVD_OK;
}

static void list_release(hvd_store *st, int incidents, const hvd_incident_filter *f,
                         sqlite3_stmt *q)
{
    if (q == st->list[incidents][filter_mask(f)]) {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    } else {
        sqlite3_finalize(q);
    }
}

static void incident_row(sqlite3_stmt *q, hvd_incident *in)
{
    in->id = sqlite3_column_int64(q, 0);
    in->subject_kind = col_text(q, 1);
    in->subject = col_text(q, 2);
    in->hosts = col_text(q, 3);
    in->first_time = sqlite3_column_int64(q, 4);
    in->last_time = sqlite3_column_int64(q, 5);
    in->severity = (hvd_severity)sqlite3_column_int(q, 6);
    in->title = col_text(q, 7);
    in->remedy = col_text(q, 8);
    in->diagnoses = sqlite3_column_int64(q, 9);
    in->root = sqlite3_column_int64(q, 10);
}

static void diagnosis_row(sqlite3_stmt *q, hvd_stored_diagnosis *d)
{
    d->id = sqlite3_column_int64(q, 0);
    d->key = col_text(q, 1);
    d->kind = col_text(q, 2);
    d->rule_id = col_text(q, 3);
    d->title = col_text(q, 4);
    d->severity = (hvd_severity)sqlite3_column_int(q, 5);
    d->confidence = col_text(q, 6);
    d->cause = col_text(q, 7);
    d->remedy = col_text(q, 8);
    d->references = col_text(q, 9);
    d->vm_name = col_text(q, 10);
    d->vm_id = col_text(q, 11);
    d->host = col_text(q, 12);
    d->first_time = sqlite3_column_int64(q, 13);
    d->last_time = sqlite3_column_int64(q, 14);
    d->count = (uint64_t)sqlite3_column_int64(q, 15);
    d->incident = sqlite3_column_int64(q, 16);
    d->root = sqlite3_column_int(q, 17);
}

/* --- incidents by VM, host or rule: a walk of the index -------------------------------- */

struct inc_key { /* where an incident stands in a listing */
    hvd_time first;
    int64_t id;
};

/* Whether a comes before b in a listing: it starts later, or at once with a higher id. */
static int inc_newer(const struct inc_key *a, const struct inc_key *b)
{
    return a->first > b->first || (a->first == b->first && a->id > b->id);
}

static int by_newest(const void *x, const void *y)
{
    const struct inc_key *a = x;
    const struct inc_key *b = y;

    return inc_newer(a, b) ? -1 : inc_newer(b, a);
}

/* The newest 'need' incidents met so far: a heap with the oldest of them at v[0]. */
struct inc_heap {
    struct inc_key *v;
    size_t n;
    size_t cap;
    size_t need; /* SIZE_MAX: every one */
};

static void inc_heap_down(struct inc_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1;
        size_t m = i;
        struct inc_key t;

        if (l < h->n && inc_newer(&h->v[m], &h->v[l])) {
            m = l;
        }
        if (l + 1 < h->n && inc_newer(&h->v[m], &h->v[l + 1])) {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

/* Keeps k if it is among the newest 'need'. O(log need). HVD_ENOMEM on failure. */
static int inc_heap_offer(struct inc_heap *h, struct inc_key k)
{
    size_t i;

    if (h->n == h->need) {
        if (inc_newer(&k, &h->v[0])) {
            h->v[0] = k;
            inc_heap_down(h, 0);
        }
        return HVD_OK;
    }
    if (hvd_array_room(&h->v, &h->cap, h->n, sizeof(*h->v), 64) < 0) {
        return HVD_ENOMEM;
    }
    for (i = h->n++; i > 0 && inc_newer(&h->v[(i - 1) / 2], &k); i = (i - 1) / 2) {
        h->v[i] = h->v[(i - 1) / 2];
    }
    h->v[i] = k;
    return HVD_OK;
}

struct idset { /* incident ids (never 0): open addressing, at most half full */
    int64_t *slot;
    size_t n;
    size_t cap; /* 0 or a power of two */
};

static size_t idset_home(size_t cap, int64_t id)
{
    return (size_t)(((uint64_t)id * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (cap - 1);
}

/* Adds id: 1 when it is new, 0 when it was there, or HVD_ENOMEM. O(1) expected. */
static int idset_add(struct idset *s, int64_t id)
{
    size_t i;

    if (2 * (s->n + 1) > s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 256;
        int64_t *grown = hvd_calloc(ncap, sizeof(*grown));

        if (!grown) {
            return HVD_ENOMEM;
        }
        for (size_t k = 0; k < s->cap; k++) {
            if (s->slot[k]) {
                for (i = idset_home(ncap, s->slot[k]); grown[i]; i = (i + 1) & (ncap - 1)) {
                }
                grown[i] = s->slot[k];
            }
        }
        hvd_free(s->slot);
        s->slot = grown;
        s->cap = ncap;
    }
    for (i = idset_home(s->cap, id); s->slot[i]; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == id) {
            return 0;
        }
    }
    s->slot[i] = id;
    s->n++;
    return 1;
}

/* Reads incident id whole into q (SQL_INCIDENT_GET, acquired by the caller). Returns 1 and
 * fills *in (borrowed from q until its reset), 0 when there is no such incident, or < 0. */
static int incident_read(hvd_store *st, sqlite3_stmt *q, int64_t id, hvd_incident *in,
                         hvd_error *err)
{
    int rc;

    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        incident_row(q, in);
        return 1;
    }
    return rc == SQLITE_DONE ? 0 : db_error(st, err, "cannot read an incident");
}

/* Incidents of a VM, host or rule, newest first. Walks the diagnoses that match newest
 * first on their index (a VM's two merged), each joined to its incident by id and kept
 * when that passes the incident filters (STORE_LIST_WALK_ARM); an incident met for the first
 * time is offered to a heap of the newest offset + limit. The walk ends when the heap is
 * full and its oldest incident starts after the diagnosis at hand: an incident not met
 * yet starts no later than that diagnosis. The page is then read by id, in one read
 * transaction with the walk.
 * Cost: O(w log N + k log p) for a walk of w index entries, each joined by an O(log N)
 * search, meeting k incidents, and a page of p = offset + limit; memory O(k + p). w is
 * the diagnoses from the newest (or the time bound) down to the page's oldest start, so a
 * page of recent incidents costs about its own diagnoses whatever the size of the store;
 * with no limit, every diagnosis that matches within the time bounds. */
static int list_incidents_walk(hvd_store *st, const hvd_incident_filter *f,
                               int (*fn)(void *ud, const hvd_incident *in), void *ud,
                               hvd_error *err)
{
    struct inc_heap heap = {NULL, 0, 0, SIZE_MAX};
    struct idset seen = {NULL, 0, 0};
    sqlite3_stmt *walk = NULL;
    sqlite3_stmt *get = NULL;
    int own_tx = sqlite3_get_autocommit(st->db);
    size_t skip = f->offset > 0 ? (size_t)f->offset : 0;
    hvd_incident in;
    int rc = HVD_OK;

    if (f->limit > 0) {
        heap.need = (uint64_t)f->limit > SIZE_MAX - skip ? SIZE_MAX : skip + (size_t)f->limit;
    }
    if (own_tx) {
        rc = stmt_acquire(st, SQL_READ_BEGIN, &get, err);
        if (rc < 0) {
            return rc;
        }
        rc = step_done(st, get, err, "cannot begin a read");
        stmt_release(st, SQL_READ_BEGIN, get);
        get = NULL;
        if (rc < 0) {
            return rc;
        }
    }
    rc = stmt_acquire(st, SQL_INCIDENT_GET, &get, err);
    rc = rc == HVD_OK ? list_acquire(st, 1, f, &walk, err) : rc;
    while (rc == HVD_OK) {
        int64_t id;
        hvd_time first;
        hvd_time t;

        rc = sqlite3_step(walk);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list incidents");
            break;
        }
        id = sqlite3_column_int64(walk, 0);
        first = sqlite3_column_int64(walk, 1);
        t = sqlite3_column_int64(walk, 2);
        if (heap.n > 0 && heap.n == heap.need && heap.v[0].first > t) {
            rc = HVD_OK; /* the page is whole; this row was not needed */
            break;
        }
        rc = idset_add(&seen, id);
        if (rc == 1) {
            rc = inc_heap_offer(&heap, (struct inc_key){first, id});
        }
        rc = rc == HVD_ENOMEM ? no_memory(st, err) : HVD_OK;
    }
    if (walk) {
        list_release(st, 1, f, walk);
    }
    if (heap.n > 1) {
        qsort(heap.v, heap.n, sizeof(*heap.v), by_newest); /* v is NULL when none was met */
    }
    for (size_t k = skip; rc == HVD_OK && k < heap.n; k++) {
        rc = incident_read(st, get, heap.v[k].id, &in, err);
        if (rc == 1 && fn(ud, &in)) {
            break;
        }
        rc = rc < 0 ? rc : HVD_OK;
    }
    rc = rc < 0 ? rc : HVD_OK;
    if (get) {
        sqlite3_reset(get);
        stmt_release(st, SQL_INCIDENT_GET, get);
    }
    if (own_tx) {
        /* a read: ending it cannot lose anything, whatever happened above */
        int end = stmt_acquire(st, SQL_READ_END, &get, rc < 0 ? NULL : err);

        if (end == HVD_OK) {
            end = step_done(st, get, rc < 0 ? NULL : err, "cannot end a read");
            stmt_release(st, SQL_READ_END, get);
        }
        rc = rc < 0 ? rc : end;
    }
    hvd_free(heap.v);
    hvd_free(seen.slot);
    return rc;
}

int hvd_store_incidents(hvd_store *st, const hvd_incident_filter *f,
                        int (*fn)(void *ud, const hvd_incident *in), void *ud, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    if (f && hvd__store_list_walks(1, filter_mask(f))) {
        return list_incidents_walk(st, f, fn, ud, err);
    }
    rc = list_acquire(st, 1, f, &q, err);
    if (rc < 0) {
        return rc;
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_incident in;

        incident_row(q, &in);
        if (fn(ud, &in)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list incidents");
    list_release(st, 1, f, q);
    return rc;
}

int hvd_store_get_incident(hvd_store *st, int64_t id, int (*fn)(void *ud, const hvd_incident *in),
                           void *ud, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_INCIDENT_GET, &q, err);

    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        hvd_incident in;

        incident_row(q, &in);
        fn(ud, &in);
        rc = 1;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = db_error(st, err, "cannot read an incident");
    }
    stmt_release(st, SQL_INCIDENT_GET, q);
    return rc;
}

/* Steps q calling fn with each row; returns HVD_OK or a database error. Does not reset q. */
static int walk_diagnoses(hvd_store *st, sqlite3_stmt *q,
                          int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                          hvd_error *err)
{
    int rc;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_stored_diagnosis d;

        diagnosis_row(q, &d);
        if (fn(ud, &d)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    return rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list diagnoses");
}

int hvd_store_incident_diagnoses(hvd_store *st, int64_t incident,
                                 int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                                 hvd_error *err)
{
    return hvd_store_incident_diagnoses_page(st, incident, NULL, 0, fn, ud, err);
}

int hvd_store_incident_diagnoses_page(hvd_store *st, int64_t incident,
                                      const hvd_incident_diag_cursor *after, int64_t limit,
                                      int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                                      hvd_error *err)
{
    int which = after ? SQL_INCIDENT_DIAGS_AFTER : SQL_INCIDENT_DIAGS;
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, which, &q, err);

    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, incident);
    if (after) {
        /* the order key of STORE_INCIDENT_DIAG_ORDER */
        sqlite3_bind_int(q, 3, after->correlation ? -1 : 0);
        sqlite3_bind_int(q, 4, -(int)after->severity);
        sqlite3_bind_int64(q, 5, after->first_time);
        bind_text(q, 6, after->key);
        sqlite3_bind_int64(q, 8, after->correlation ? -after->explains : 0);
    }
    sqlite3_bind_int64(q, 7, limit > 0 ? limit : -1);
    rc = walk_diagnoses(st, q, fn, ud, err);
    stmt_release(st, which, q);
    return rc;
}

int hvd_store_diagnoses(hvd_store *st, const hvd_diagnosis_filter *f,
                        int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                        hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = list_acquire(st, 0, f, &q, err);

    if (rc < 0) {
        return rc;
    }
    rc = walk_diagnoses(st, q, fn, ud, err);
    list_release(st, 0, f, q);
    return rc;
}

/* Makes diagnosis_keys keep (rule, name) from now on, with the keys of every diagnosis
 * of the rule stored before: O(the rule's diagnoses) the first time, O(log n) after. */
static int join_side(hvd_store *st, const char *rule, const char *name, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = need_tx(st, err);

    if (rc == HVD_OK) {
        rc = stmt_ready(st, SQL_SIDE_ADD, &q, err);
    }
    if (rc < 0) {
        return rc;
    }
    bind_text(q, 1, rule);
    bind_text(q, 2, name);
    rc = step_done(st, q, err, "cannot add a join side");
    if (rc < 0 || sqlite3_changes(st->db) == 0) {
        return rc;
    }
    st->sides = 1;
    rc = stmt_ready(st, SQL_SIDE_FILL, &q, err);
    if (rc < 0) {
        return rc;
    }
    bind_text(q, 1, rule);
    bind_text(q, 2, name);
    return step_done(st, q, err, "cannot fill a join side");
}

int hvd_store_diagnoses_joined(hvd_store *st, const char *rule, const char *name, const char *value,
                               int host, hvd_time lo, hvd_time hi, int64_t limit,
                               int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                               hvd_error *err)
{
    size_t len = strcspn(value, ".");
    int64_t span = 0;
    sqlite3_stmt *q = NULL;
    char *key = hvd_strndup(value, len);
    int rc;

    if (!key) {
        return no_memory(st, err);
    }
    for (size_t i = 0; i < len; i++) {
        key[i] = (char)tolower((unsigned char)key[i]);
    }
    rc = join_side(st, rule, name, err);
    /* One that ends at or after lo starts no earlier than lo minus the longest span. */
    if (rc == HVD_OK) {
        rc = diag_max_span(st, &span, err);
    }
    if (rc == HVD_OK) {
        rc = stmt_acquire(st, SQL_DIAGS_JOINED, &q, err);
    }
    if (rc == HVD_OK) {
        bind_text(q, 1, rule);
        bind_text(q, 2, name);
        bind_text(q, 3, key);
        if (!host && value[len]) {
            bind_text(q, 4, value);
        }
        sqlite3_bind_int64(q, 5, lo < INT64_MIN + span ? INT64_MIN : lo - span);
        sqlite3_bind_int64(q, 6, hi);
        sqlite3_bind_int64(q, 7, lo);
        sqlite3_bind_int64(q, 8, limit > 0 ? limit : -1);
        rc = walk_diagnoses(st, q, fn, ud, err);
        stmt_release(st, SQL_DIAGS_JOINED, q);
    }
    hvd_free(key);
    return rc;
}

int hvd_store_rule_stored(hvd_store *st, const char *rule, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_RULE_STORED, &q, err);

    if (rc < 0) {
        return rc;
    }
    bind_text(q, 1, rule);
    rc = sqlite3_step(q);
    rc = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) != 0
                          : db_error(st, err, "cannot read diagnoses");
    stmt_release(st, SQL_RULE_STORED, q);
    return rc;
}

int hvd_store_diagnoses_after(hvd_store *st, int64_t after,
                              int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                              hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_DIAGS_AFTER, &q, err);

    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, after);
    rc = walk_diagnoses(st, q, fn, ud, err);
    stmt_release(st, SQL_DIAGS_AFTER, q);
    return rc;
}

int hvd_store_diagnosis_evidence(hvd_store *st, int64_t diagnosis,
                                 int (*fn)(void *ud, const hvd_evidence *ev), void *ud,
                                 hvd_error *err)
{
    return hvd_store_diagnosis_evidence_page(st, diagnosis, NULL, 0, fn, ud, err);
}

int hvd_store_diagnosis_evidence_page(hvd_store *st, int64_t diagnosis,
                                      const hvd_evidence_cursor *after, int64_t limit,
                                      int (*fn)(void *ud, const hvd_evidence *ev), void *ud,
                                      hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_EVIDENCE_OF, &q, err);

    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, diagnosis);
    sqlite3_bind_int(q, 2, after != NULL);
    if (after) {
        sqlite3_bind_int64(q, 3, after->time);
        bind_text(q, 4, after->source_path);
        sqlite3_bind_int64(q, 5, (sqlite3_int64)after->record_id);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)after->line);
    }
    sqlite3_bind_int64(q, 7, limit > 0 ? limit : -1);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_evidence e;
        const char *kind = col_text(q, 0);

        e.kind = strcmp(kind, "evtx") == 0         ? HVD_SOURCE_EVTX
                 : strcmp(kind, "clusterlog") == 0 ? HVD_SOURCE_CLUSTERLOG
                                                   : HVD_SOURCE_UNKNOWN;
        e.source_path = col_text(q, 1);
        e.record_id = (uint64_t)sqlite3_column_int64(q, 2);
        e.event_record_id = (uint64_t)sqlite3_column_int64(q, 3);
        e.line = (uint64_t)sqlite3_column_int64(q, 4);
        e.byte_offset = (uint64_t)sqlite3_column_int64(q, 5);
        e.time = sqlite3_column_int64(q, 6);
        e.host = col_text(q, 7);
        e.provider = col_text(q, 8);
        e.channel = col_text(q, 9);
        e.component = col_text(q, 10);
        e.event_id = (uint16_t)sqlite3_column_int(q, 11);
        e.level = (uint8_t)sqlite3_column_int(q, 12);
        e.message = col_text(q, 13);
        e.level_text = col_text(q, 14);
        e.task_text = col_text(q, 15);
        e.opcode_text = col_text(q, 16);
        e.channel_text = col_text(q, 17);
        if (fn(ud, &e)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list evidence");
    stmt_release(st, SQL_EVIDENCE_OF, q);
    return rc;
}

int hvd_store_evidence_count(hvd_store *st, int64_t diagnosis, int64_t *out, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_EVIDENCE_COUNT, &q, err);

    *out = 0;
    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, diagnosis);
    if (sqlite3_step(q) == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = HVD_OK;
    } else {
        rc = db_error(st, err, "cannot count evidence");
    }
    stmt_release(st, SQL_EVIDENCE_COUNT, q);
    return rc;
}

int hvd_store_diagnosis_entities(hvd_store *st, int64_t diagnosis,
                                 int (*fn)(void *ud, const hvd_entity *ent), void *ud,
                                 hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_ENTITIES_OF, &q, err);

    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, diagnosis);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hvd_entity ent;

        ent.name = col_text(q, 0);
        ent.value = col_text(q, 1);
        if (fn(ud, &ent)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot list entities");
    stmt_release(st, SQL_ENTITIES_OF, q);
    return rc;
}

int hvd_store_get_counts(hvd_store *st, hvd_store_counts *out, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_COUNTS, &q, err);

    if (rc < 0) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->sources = sqlite3_column_int64(q, 0);
        out->diagnoses = sqlite3_column_int64(q, 1);
        out->incidents = sqlite3_column_int64(q, 2);
        out->evidence = sqlite3_column_int64(q, 3);
        out->events_marked = sqlite3_column_int64(q, 4);
        out->benign_incidents = sqlite3_column_int64(q, 5);
        rc = HVD_OK;
    } else {
        rc = db_error(st, err, "cannot count");
    }
    stmt_release(st, SQL_COUNTS, q);
    return rc;
}

int hvd_store_severity_counts(hvd_store *st, int64_t diagnoses[HVD_STORE_SEVERITIES],
                              int64_t incidents[HVD_STORE_SEVERITIES], hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_acquire(st, SQL_SEVERITY_COUNTS, &q, err);

    if (rc < 0) {
        return rc;
    }
    memset(diagnoses, 0, HVD_STORE_SEVERITIES * sizeof(diagnoses[0]));
    memset(incidents, 0, HVD_STORE_SEVERITIES * sizeof(incidents[0]));
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t sev = sqlite3_column_int64(q, 1);

        if (sev >= 0 && sev < HVD_STORE_SEVERITIES) {
            (sqlite3_column_int(q, 0) ? incidents : diagnoses)[sev] += sqlite3_column_int64(q, 2);
        }
    }
    rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot count by severity");
    stmt_release(st, SQL_SEVERITY_COUNTS, q);
    return rc;
}

/* --- outbox ----------------------------------------------------------------------------- */

/* Outbox writes run on their own: not inside a begin/commit of diagnoses. */
static int outbox_writable(hvd_store *st, hvd_error *err)
{
    if (st->readonly) {
        return hvd_error_set(err, HVD_EINVAL, st->path, 0, "opened read-only");
    }
    if (st->in_tx) {
        return hvd_error_set(err, HVD_EINVAL, st->path, 0, "a transaction is open");
    }
    return HVD_OK;
}

int hvd_store_outbox_attach(hvd_store *st, const char *const *names, size_t n, hvd_error *err)
{
    sqlite3_stmt *q;
    int64_t end = 0;
    int rc = outbox_writable(st, err);

    if (rc < 0) {
        return rc;
    }
    rc = exec(st, "BEGIN IMMEDIATE", err);
    if (rc < 0) {
        return rc;
    }
    rc = int_of(st, SQL_OUTBOX_END, 0, &end, err);
    if (rc >= 0) {
        rc = step_done(st, st->stmt[SQL_CURSOR_DEACTIVATE], err, "cannot write output cursors");
    }
    q = st->stmt[SQL_CURSOR_ATTACH];
    for (size_t i = 0; rc == HVD_OK && i < n; i++) {
        bind_text(q, 1, names[i]);
        sqlite3_bind_int64(q, 2, end);
        rc = step_done(st, q, err, "cannot write output cursors");
    }
    if (rc == HVD_OK) {
        rc = step_done(st, st->stmt[SQL_CURSOR_DROP_INACTIVE], err, "cannot write output cursors");
    }
    if (rc == HVD_OK) {
        rc = exec(st, "COMMIT", err);
    }
    if (rc < 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

int hvd_store_outbox_cursor(hvd_store *st, const char *name, int64_t *seq, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_ready(st, SQL_CURSOR_GET, &q, err);

    *seq = 0;
    if (rc < 0) {
        return rc;
    }
    bind_text(q, 1, name);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        rc = HVD_OK;
    } else if (rc == SQLITE_DONE) {
        rc = hvd_error_set(err, HVD_ENOTFOUND, st->path, 0, "output '%s' has no cursor", name);
    } else {
        rc = db_error(st, err, "cannot read output cursors");
    }
    sqlite3_reset(q);
    return rc;
}

int hvd_store_outbox_ack(hvd_store *st, const char *name, int64_t seq, hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_CURSOR_SET];
    int rc = outbox_writable(st, err);

    if (rc < 0) {
        return rc;
    }
    bind_text(q, 1, name);
    sqlite3_bind_int64(q, 2, seq);
    rc = step_done(st, q, err, "cannot write an output cursor");
    if (rc == HVD_OK && sqlite3_changes(st->db) == 0) {
        rc = hvd_error_set(err, HVD_ENOTFOUND, st->path, 0, "output '%s' has no cursor", name);
    }
    return rc;
}

int hvd_store_outbox_read(hvd_store *st, int64_t after, int64_t limit,
                          int (*fn)(void *ud, const hvd_outbox_record *r), void *ud, hvd_error *err)
{
    sqlite3_stmt *q = NULL;
    hvd_outbox_record r;
    int rc = stmt_acquire(st, SQL_OUTBOX_READ, &q, err);

    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, after);
    sqlite3_bind_int64(q, 2, limit > 0 ? limit : 1);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        r.seq = sqlite3_column_int64(q, 0);
        r.incident = sqlite3_column_int64(q, 1);
        r.revision = sqlite3_column_int64(q, 2);
        r.change = col_text(q, 3);
        r.changed_at = sqlite3_column_int64(q, 4);
        r.severity = (hvd_severity)sqlite3_column_int(q, 5);
        r.previous_severity = sqlite3_column_int(q, 6);
        r.subject_kind = col_text(q, 7);
        r.subject = col_text(q, 8);
        r.hosts = col_text(q, 9);
        r.first_time = sqlite3_column_int64(q, 10);
        r.last_time = sqlite3_column_int64(q, 11);
        r.title = col_text(q, 12);
        r.remedy = col_text(q, 13);
        r.diagnoses = sqlite3_column_int64(q, 14);
        r.rule = col_text(q, 15);
        r.root_key = col_text(q, 16);
        r.host = col_text(q, 17);
        r.vm_name = col_text(q, 18);
        r.vm_id = col_text(q, 19);
        if (fn(ud, &r) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? HVD_OK : db_error(st, err, "cannot read the outbox");
    stmt_release(st, SQL_OUTBOX_READ, q);
    return rc;
}

int hvd_store_outbox_end(hvd_store *st, int64_t *end, hvd_error *err)
{
    int rc = int_of(st, SQL_OUTBOX_END, 0, end, err);

    return rc < 0 ? rc : HVD_OK;
}

int hvd_store_outbox_prune(hvd_store *st, int64_t *deleted, hvd_error *err)
{
    sqlite3_stmt *q = st->stmt[SQL_OUTBOX_PRUNE];
    int64_t end = 0;
    int rc = outbox_writable(st, err);

    if (rc < 0) {
        return rc;
    }
    rc = int_of(st, SQL_OUTBOX_END, 0, &end, err);
    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_int64(q, 1, end);
    rc = step_done(st, q, err, "cannot prune the outbox");
    if (deleted) {
        *deleted = rc == HVD_OK ? sqlite3_changes(st->db) : 0;
    }
    return rc;
}

/* --- dump and digest -------------------------------------------------------------------- */

/* Appends a field, escaping what would break the one-fact-a-line layout. */
static int dump_field(hvd_buf *line, const char *v)
{
    int rc = line->len ? hvd_buf_addc(line, '\t') : HVD_OK;

    for (; rc == HVD_OK && *v; v++) {
        switch (*v) {
        case '\t':
            rc = hvd_buf_adds(line, "\\t");
            break;
        case '\n':
            rc = hvd_buf_adds(line, "\\n");
            break;
        case '\r':
            rc = hvd_buf_adds(line, "\\r");
            break;
        case '\\':
            rc = hvd_buf_adds(line, "\\\\");
            break;
        default:
            rc = hvd_buf_addc(line, *v);
            break;
        }
    }
    return rc;
}

/* The evtx_seen rows, sorted by (host, channel, lo), as the union of their intervals over
 * all instances: which instance holds an id depends on the order files came in, the ids
 * seen do not. One pass, O(rows). */
static int dump_evtx(hvd_store *st, sqlite3_stmt *q, int (*fn)(void *ud, const char *line),
                     void *ud, hvd_buf *line, int *stop, hvd_error *err)
{
    hvd_buf key;
    uint64_t lo = 0;
    uint64_t hi = 0;
    int have = 0;
    int step;
    int rc = HVD_OK;

    hvd_buf_init(&key, 16u << 20);
    for (;;) {
        uint64_t rlo = 0;
        uint64_t rhi = 0;
        int same = 0;

        step = sqlite3_step(q);
        if (step == SQLITE_ROW) {
            hvd_buf_reset(line);
            rc = dump_field(line, col_text(q, 0));
            rc = rc == HVD_OK ? dump_field(line, col_text(q, 1)) : rc;
            rlo = (uint64_t)sqlite3_column_int64(q, 2);
            rhi = (uint64_t)sqlite3_column_int64(q, 3);
            same = have && rc == HVD_OK && strcmp(hvd_buf_str(line), hvd_buf_str(&key)) == 0;
            if (same && rlo - 1 <= hi) {
                hi = rhi > hi ? rhi : hi;
                continue;
            }
        } else if (step != SQLITE_DONE) {
            return db_error(st, err, "cannot dump");
        }
        if (have && rc == HVD_OK) {
            hvd_buf tmp;

            hvd_buf_init(&tmp, 16u << 20);
            rc = hvd_buf_printf(&tmp, "evtx_seen\t%s\t%" PRIu64 "\t%" PRIu64, hvd_buf_str(&key), lo,
                                hi);
            if (rc == HVD_OK && fn(ud, hvd_buf_str(&tmp))) {
                *stop = 1;
            }
            hvd_buf_free(&tmp);
        }
        if (step != SQLITE_ROW || rc < 0 || *stop) {
            break;
        }
        hvd_buf_reset(&key);
        rc = hvd_buf_adds(&key, hvd_buf_str(line));
        lo = rlo;
        hi = rhi;
        have = 1;
    }
    hvd_buf_free(&key);
    if (rc < 0) {
        rc = hvd_error_set(err, rc, st->path, 0, "cannot dump: %s", hvd_strerror(rc));
    }
    return rc;
}

int hvd_store_dump(hvd_store *st, int (*fn)(void *ud, const char *line), void *ud, hvd_error *err)
{
    static const struct {
        int sql;
        const char *tag;
    } parts[] = {
        {SQL_DUMP_DIAG, "diagnosis"},    {SQL_DUMP_ENTITY, "entity"},
        {SQL_DUMP_RELATED, "related"},   {SQL_DUMP_EVIDENCE, "evidence"},
        {SQL_DUMP_INCIDENT, "incident"}, {SQL_DUMP_MEMBER, "member"},
        {SQL_DUMP_EVTX, "evtx_seen"},    {SQL_DUMP_CLOG, "clog_lines"},
    };
    hvd_buf line;
    int rc = HVD_OK;
    int stop = 0;

    hvd_buf_init(&line, 16u << 20);
    for (size_t p = 0; rc == HVD_OK && !stop && p < sizeof(parts) / sizeof(parts[0]); p++) {
        sqlite3_stmt *q = NULL;
        int step = SQLITE_DONE;

        rc = stmt_acquire(st, parts[p].sql, &q, err);
        if (rc < 0) {
            break;
        }
        if (parts[p].sql == SQL_DUMP_EVTX) {
            rc = dump_evtx(st, q, fn, ud, &line, &stop, err);
            stmt_release(st, parts[p].sql, q);
            continue;
        }
        while (rc == HVD_OK && !stop && (step = sqlite3_step(q)) == SQLITE_ROW) {
            int ncol = sqlite3_column_count(q);

            hvd_buf_reset(&line);
            rc = dump_field(&line, parts[p].tag);
            for (int c = 0; rc == HVD_OK && c < ncol; c++) {
                rc = dump_field(&line, col_text(q, c));
            }
            if (rc < 0) {
                rc = hvd_error_set(err, rc, st->path, 0, "cannot dump: %s", hvd_strerror(rc));
            } else {
                stop = fn(ud, hvd_buf_str(&line));
            }
        }
        if (rc == HVD_OK && !stop && step != SQLITE_DONE) {
            rc = db_error(st, err, "cannot dump");
        }
        stmt_release(st, parts[p].sql, q);
    }
    hvd_buf_free(&line);
    return rc;
}

struct digest {
    uint64_t a;
    uint64_t b;
};

static int digest_line(void *ud, const char *line)
{
    struct digest *d = ud;

    /* Two FNV-1a streams with different bases: 128 bits, enough to tell states apart. */
    for (const char *p = line;; p++) {
        unsigned char c = *p ? (unsigned char)*p : '\n';

        d->a = (d->a ^ c) * UINT64_C(1099511628211);
        d->b = (d->b ^ c) * UINT64_C(1099511628211);
        d->b ^= d->b >> 29;
        if (!*p) {
            break;
        }
    }
    return 0;
}

int hvd_store_digest(hvd_store *st, char out[HVD_STORE_DIGEST_SIZE], hvd_error *err)
{
    struct digest d = {UINT64_C(1469598103934665603), UINT64_C(0x9e3779b97f4a7c15)};
    int rc = hvd_store_dump(st, digest_line, &d, err);

    out[0] = '\0';
    if (rc == HVD_OK) {
        snprintf(out, HVD_STORE_DIGEST_SIZE, "%016" PRIx64 "%016" PRIx64, d.a, d.b);
    }
    return rc;
}
