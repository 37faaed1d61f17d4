/*
 * hvdiagd files: the watched folders and the table of files in them.
 *
 * A file is its identity, as in Fluent Bit's in_tail: device, inode, size, mtime and a hash
 * of its first 4 KiB. Each scan stats every matching file and compares with the table:
 * same inode and larger is "grown", smaller "truncated" (copytruncate), different first
 * bytes "replaced" (rewritten in place), a new inode at a known path "replaced", an inode
 * known under a path that no longer has it "renamed" (rotation by rename; not read again
 * unless it changed too). A file that is gone is forgotten; its checkpoint stays in the
 * store.
 *
 * Scans run at start, shortly after any fs_event in a watched folder, while a file is
 * settling, and every rescan_interval as a fallback (network shares drop notifications).
 * A changed file is read once its identity has held still for settle_time: EVTX exports
 * are written and then closed, and a copy caught with a half-written last chunk grows
 * again and is read again (the store skips what was seen).
 *
 * This file owns a file's state: the scan moves it to settling or due, the scheduler to
 * running (file_started), and a worker's report (hvdd_file_report) to done, failed, retry
 * or quarantined; nothing else writes f->state.
 *
 * The table is an array searched linearly: a scan is O(files x observations), fine for the
 * few thousand files a collector folder holds; a hash on path and inode would replace it.
 */
#define _DEFAULT_SOURCE
#include "hvdiagd.h"
#include "ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_BYTES 4096
#define MAX_FILES  100000
#define MAX_DEPTH  16
#define SOON_MS    100
#define RETRY_MS   5000
/* Reads in a row that may run out of memory, each by a fresh worker, before quarantine. */
#define MEMORY_STRIKES 2

struct obs {
    char *path;
    struct stat st;
    const hvd_config_watch *w;
    int done;
};

struct scan {
    struct obs *obs;
    size_t n;
    size_t cap;
    char **vacated; /* paths a rename moved a file away from in this scan */
    size_t nvacated;
};

const char *hvdd_state_name(enum hvdd_state s)
{
    static const char *const names[] = {"settling", "due",   "running",    "done",
                                        "failed",   "retry", "quarantined"};

    return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *hvdd_change_name(enum hvdd_change c)
{
    static const char *const names[] = {"new",      "grown",   "truncated",
                                        "replaced", "renamed", "modified"};

    return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Reads up to HEAD_BYTES from the start of path; returns the count or -1. */
static ssize_t read_head(const char *path, unsigned char *buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    size_t got = 0;

    if (fd < 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    }
    if (fd < 0) {
        return -1;
    }
    while (got < HEAD_BYTES) {
        ssize_t n = read(fd, buf + got, HEAD_BYTES - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    return (ssize_t)got;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Identity from stat plus the head hash; head_len is kept in the low bits' place by
 * hashing a fixed length: the hash covers min(size, HEAD_BYTES) bytes. */
static void identity_of(struct hvdd_identity *id, const struct stat *st, const unsigned char *head,
                        ssize_t n)
{
    id->dev = (uint64_t)st->st_dev;
    id->ino = (uint64_t)st->st_ino;
    id->size = (uint64_t)st->st_size;
    id->mtime_ns = mtime_ns(st);
    id->head_hash = n > 0 ? fnv1a(head, (size_t)n) : 0;
}

/* How many head bytes an identity's hash covers. */
static size_t head_len(const struct hvdd_identity *id)
{
    return id->size < HEAD_BYTES ? (size_t)id->size : HEAD_BYTES;
}

/* True when the file's current first bytes start with what 'old' hashed. */
static int head_continues(const struct hvdd_identity *old, const unsigned char *head, ssize_t n)
{
    size_t len = head_len(old);

    if (n < 0 || (size_t)n < len) {
        return 0;
    }
    return fnv1a(head, len) == old->head_hash || len == 0;
}

static int identity_equal(const struct hvdd_identity *a, const struct hvdd_identity *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->head_hash == b->head_hash;
}

/* --- the table ----------------------------------------------------------------------- */

static struct hvdd_file *find_path(struct hvdd *d, const char *path)
{
    for (size_t i = 0; i < d->nfiles; i++) {
        if (strcmp(d->files[i]->path, path) == 0) {
            return d->files[i];
        }
    }
    return NULL;
}

/* A file whose inode was not seen at its own path in this scan. */
static struct hvdd_file *find_moved_inode(struct hvdd *d, const struct stat *st)
{
    for (size_t i = 0; i < d->nfiles; i++) {
        struct hvdd_file *f = d->files[i];

        if (f->gen != d->gen && f->seen.dev == (uint64_t)st->st_dev &&
            f->seen.ino == (uint64_t)st->st_ino) {
            return f;
        }
    }
    return NULL;
}

static void file_free(struct hvdd_file *f)
{
    free(f->path);
    free(f->host);
    free(f->last_error);
    free(f);
}

void hvdd_file_remove(struct hvdd *d, struct hvdd_file *f)
{
    for (size_t i = 0; i < d->nfiles; i++) {
        if (d->files[i] == f) {
            d->files[i] = d->files[--d->nfiles];
            break;
        }
    }
    if (f->worker) {
        /* the worker finishes on its own; its result has no file to go to */
        hvdd_worker_detach(f->worker);
    }
    file_free(f);
}

static struct hvdd_file *file_add(struct hvdd *d, const char *path)
{
    struct hvdd_file *f;

    if (d->nfiles == d->cap_files) {
        size_t cap = d->cap_files ? d->cap_files * 2 : 64;
        struct hvdd_file **grown;

        if (d->nfiles >= MAX_FILES) {
            return NULL;
        }
        grown = realloc(d->files, cap * sizeof(*grown));
        if (!grown) {
            return NULL;
        }
        d->files = grown;
        d->cap_files = cap;
    }
    f = calloc(1, sizeof(*f));
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return NULL;
    }
    d->files[d->nfiles++] = f;
    return f;
}

static void set_hints(struct hvdd_file *f, const hvd_config_watch *w)
{
    f->kind = w->kind;
    if (!f->host || !w->host || strcmp(f->host, w->host) != 0) {
        free(f->host);
        f->host = w->host ? strdup(w->host) : NULL;
    }
}

/* --- scanning ------------------------------------------------------------------------ */

static int matches(const hvd_config_watch *w, const char *name)
{
    for (size_t i = 0; i < w->npatterns; i++) {
        if (fnmatch(w->patterns[i], name, FNM_PERIOD) == 0) {
            return 1;
        }
    }
    return 0;
}

static void dir_closed(uv_handle_t *h)
{
    struct hvdd_dirwatch *dw = h->data;

    free(dw->path);
    free(dw);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct hvdd_dirwatch *dw = h->data;

    (void)filename;
    (void)events;
    if (status < 0) {
        hvd_log(&dw->d->log, HVD_LOG_WARNING, "%s: watch error: %s (rescans go on)", dw->path,
                uv_strerror(status));
        return;
    }
    hvdd_files_arm_soon(dw->d, SOON_MS);
}

/* Makes sure the folder has a notification watch; a failure leaves it to the rescans. */
static void ensure_dirwatch(struct hvdd *d, const char *path)
{
    struct hvdd_dirwatch *dw;
    int rc;

    for (dw = d->dirs; dw; dw = dw->next) {
        if (strcmp(dw->path, path) == 0) {
            dw->gen = d->gen;
            return;
        }
    }
    dw = calloc(1, sizeof(*dw));
    if (!dw || !(dw->path = strdup(path))) {
        free(dw);
        return;
    }
    dw->d = d;
    dw->gen = d->gen;
    uv_fs_event_init(d->loop, &dw->handle);
    dw->handle.data = dw;
    rc = uv_fs_event_start(&dw->handle, on_fs_event, path, 0);
    if (rc < 0) {
        hvd_log(&d->log, HVD_LOG_WARNING,
                "%s: no change notifications (%s); rescanning every %" PRIu64 " ms", path,
                uv_strerror(rc), d->cfg->rescan_ms);
    }
    dw->next = d->dirs;
    d->dirs = dw;
}

/* Closes notification watches for folders the last scan did not visit (all when stop). */
static void prune_dirwatches(struct hvdd *d, int all)
{
    struct hvdd_dirwatch **pp = &d->dirs;

    while (*pp) {
        struct hvdd_dirwatch *dw = *pp;

        if (all || dw->gen != d->gen) {
            *pp = dw->next;
            uv_close((uv_handle_t *)&dw->handle, dir_closed);
        } else {
            pp = &dw->next;
        }
    }
}

static void scan_add(struct hvdd *d, struct scan *s, const char *path, const struct stat *st,
                     const hvd_config_watch *w)
{
    /* overlapping watches: the first one to see a path keeps it */
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->obs[i].path, path) == 0) {
            return;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct obs *grown = realloc(s->obs, cap * sizeof(*grown));

        if (!grown) {
            return;
        }
        s->obs = grown;
        s->cap = cap;
    }
    s->obs[s->n].path = strdup(path);
    if (!s->obs[s->n].path) {
        return;
    }
    s->obs[s->n].st = *st;
    s->obs[s->n].w = w;
    s->obs[s->n].done = 0;
    s->n++;
    (void)d;
}

static void scan_dir(struct hvdd *d, struct scan *s, const hvd_config_watch *w, const char *dir,
                     int depth)
{
    DIR *dp = opendir(dir);
    struct dirent *de;

    if (!dp) {
        if (depth == 0) {
            hvd_log(&d->log, HVD_LOG_DEBUG, "%s: cannot open the folder: %s", dir, strerror(errno));
        }
        return;
    }
    ensure_dirwatch(d, dir);
    while ((de = readdir(dp)) != NULL) {
        char path[4096];
        struct stat st;
        int n;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            continue;
        }
        if (lstat(path, &st) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            /* symbolic links to folders are not followed: no loops */
            if (w->recursive && depth < MAX_DEPTH) {
                scan_dir(d, s, w, path, depth + 1);
            }
            continue;
        }
        if (S_ISLNK(st.st_mode) && stat(path, &st) < 0) {
            continue;
        }
        if (S_ISREG(st.st_mode) && matches(w, de->d_name)) {
            scan_add(d, s, path, &st, w);
        }
    }
    closedir(dp);
}

static int was_vacated(const struct scan *s, const char *path)
{
    for (size_t i = 0; i < s->nvacated; i++) {
        if (strcmp(s->vacated[i], path) == 0) {
            return 1;
        }
    }
    return 0;
}

static void note_change(struct hvdd *d, struct hvdd_file *f, enum hvdd_change c)
{
    f->change = c;
    f->changes++;
    f->stable_since = uv_now(d->loop);
    hvd_log(&d->log, HVD_LOG_DEBUG, "%s: %s (%" PRIu64 " bytes)", f->path, hvdd_change_name(c),
            f->seen.size);
}

/* Same path, same inode. */
static void observe_same(struct hvdd *d, struct hvdd_file *f, const struct obs *o)
{
    unsigned char head[HEAD_BYTES];
    ssize_t n;
    struct hvdd_identity now;

    if ((uint64_t)o->st.st_size == f->seen.size && mtime_ns(&o->st) == f->seen.mtime_ns) {
        return; /* unchanged: do not even read the head */
    }
    n = read_head(o->path, head);
    identity_of(&now, &o->st, head, n);
    if (now.size < f->seen.size) {
        f->seen = now;
        note_change(d, f, HVDD_TRUNCATED);
    } else if (!head_continues(&f->seen, head, n)) {
        f->seen = now;
        note_change(d, f, HVDD_REPLACED);
    } else if (now.size > f->seen.size) {
        f->seen = now;
        note_change(d, f, HVDD_GROWN);
    } else {
        f->seen = now;
        note_change(d, f, HVDD_MODIFIED);
    }
}

/* A file seen for the first time: if the store's checkpoint is this very file as it is now
 * (a restart; see hvd_ingest_checkpoint_holds()), it is not read again. */
static void adopt_checkpoint(struct hvdd *d, struct hvdd_file *f)
{
    hvd_store_source row;
    hvd_error err;

    if (!d->store || hvd_ingest_checkpoint_holds(d->store, f->path, f->path, &err) != 1 ||
        hvd_store_get_source(d->store, f->path, &row, &err) != 1) {
        return;
    }
    f->read = f->seen;
    f->read_valid = 1;
    f->state = row.quarantined ? HVDD_QUARANTINED : HVDD_DONE;
    if (!row.quarantined && strcmp(row.kind, "clusterlog") == 0 && row.prefix_len < row.size) {
        /* stopped with a last line still open: read it whole once its writer is done */
        f->retry_at = uv_now(d->loop) + HVDD_COMPLETE_MS;
        f->complete_next = 1;
    }
    f->events = row.events;
    if (row.quarantined) {
        f->last_error = strdup(row.quarantine_reason);
    }
}

void hvdd_files_scan(struct hvdd *d)
{
    struct scan s;
    const hvd_config *c = d->cfg;

    if (d->stopping) {
        return;
    }
    memset(&s, 0, sizeof(s));
    d->gen++;
    for (size_t i = 0; i < c->nwatches; i++) {
        scan_dir(d, &s, &c->watches[i], c->watches[i].path, 0);
    }
    /* 1: same path, same inode */
    for (size_t i = 0; i < s.n; i++) {
        struct hvdd_file *f = find_path(d, s.obs[i].path);

        if (f && f->seen.dev == (uint64_t)s.obs[i].st.st_dev &&
            f->seen.ino == (uint64_t)s.obs[i].st.st_ino) {
            observe_same(d, f, &s.obs[i]);
            set_hints(f, s.obs[i].w);
            f->gen = d->gen;
            s.obs[i].done = 1;
        }
    }
    /* 2: an inode that left its path and shows up here: renamed, if its bytes agree */
    for (size_t i = 0; i < s.n; i++) {
        struct obs *o = &s.obs[i];
        struct hvdd_file *f;
        struct hvdd_file *old;
        unsigned char head[HEAD_BYTES];
        ssize_t n;
        char *path;
        char **grown;

        if (o->done || !(f = find_moved_inode(d, &o->st))) {
            continue;
        }
        n = read_head(o->path, head);
        if (!head_continues(&f->seen, head, n) || (uint64_t)o->st.st_size < f->seen.size) {
            continue; /* inode reuse, not a rename */
        }
        grown = realloc(s.vacated, (s.nvacated + 1) * sizeof(*grown));
        if (!grown) {
            continue;
        }
        s.vacated = grown;
        path = strdup(o->path);
        if (!path) {
            continue;
        }
        s.vacated[s.nvacated++] = f->path; /* freed with the scan */
        old = find_path(d, o->path);
        if (old && old != f) {
            hvdd_file_remove(d, old);
        }
        hvd_log(&d->log, HVD_LOG_INFO, "%s: renamed to %s", f->path, path);
        f->path = path;
        identity_of(&f->seen, &o->st, head, n);
        note_change(d, f, HVDD_RENAMED);
        set_hints(f, o->w);
        f->gen = d->gen;
        o->done = 1;
    }
    /* 3: the rest is new, or a new inode at a known path */
    for (size_t i = 0; i < s.n; i++) {
        struct obs *o = &s.obs[i];
        struct hvdd_file *f;
        unsigned char head[HEAD_BYTES];
        ssize_t n;

        if (o->done) {
            continue;
        }
        f = find_path(d, o->path);
        n = read_head(o->path, head);
        if (f) {
            identity_of(&f->seen, &o->st, head, n);
            note_change(d, f, HVDD_REPLACED);
        } else {
            f = file_add(d, o->path);
            if (!f) {
                hvd_log(&d->log, HVD_LOG_WARNING, "%s: not watched (table full or no memory)",
                        o->path);
                continue;
            }
            identity_of(&f->seen, &o->st, head, n);
            note_change(d, f, was_vacated(&s, o->path) ? HVDD_REPLACED : HVDD_NEW);
            adopt_checkpoint(d, f);
        }
        set_hints(f, o->w);
        f->gen = d->gen;
    }
    /* 4: gone */
    for (size_t i = 0; i < d->nfiles;) {
        struct hvdd_file *f = d->files[i];

        if (f->gen != d->gen) {
            hvd_log(&d->log, HVD_LOG_INFO, "%s: gone; forgotten", f->path);
            hvdd_file_remove(d, f);
            continue;
        }
        i++;
    }
    prune_dirwatches(d, 0);
    for (size_t i = 0; i < s.n; i++) {
        free(s.obs[i].path);
    }
    free(s.obs);
    for (size_t i = 0; i < s.nvacated; i++) {
        free(s.vacated[i]);
    }
    free(s.vacated);
    hvdd_files_schedule(d);
}

/* --- outcomes ------------------------------------------------------------------------ */

struct quarantine {
    uv_work_t req;
    struct hvdd *d;
    char *db;
    char *path;
    char *reason;
    int rc;
    hvd_error err;
};

/* Thread pool: touches only its own struct; opens its own connection. */
static void quarantine_work(uv_work_t *req)
{
    struct quarantine *q = req->data;
    hvd_store *st = NULL;
    hvd_store_source row;
    int rc;

    hvd_error_clear(&q->err);
    rc = hvd_store_open(&st, q->db, 0, &q->err);
    if (rc == HVD_OK) {
        rc = hvd_store_begin(st, &q->err);
    }
    if (rc == HVD_OK) {
        rc = hvd_store_get_source(st, q->path, &row, &q->err);
        if (rc == 0) {
            /* never read to the end: a row that says only what it is */
            memset(&row, 0, sizeof(row));
            row.path = q->path;
            row.kind = "unknown";
            row.host = "";
            row.position = "";
            row.encoding = "";
            row.last_error = q->reason;
            row.head_hash = "";
            row.prefix_hash = "";
            row.warnings = "";
            rc = hvd_store_put_source(st, &row, &q->err);
        }
        if (rc >= 0) {
            rc = hvd_store_set_quarantine(st, q->path, q->reason, &q->err);
        }
        rc = rc < 0 ? rc : hvd_store_commit(st, &q->err);
        if (rc < 0) {
            hvd_store_rollback(st);
        }
    }
    hvd_store_close(st);
    q->rc = rc;
}

/* Loop thread: reports and frees. */
static void quarantine_done(uv_work_t *req, int status)
{
    struct quarantine *q = req->data;

    if (status < 0 || q->rc < 0) {
        hvd_log(&q->d->log, HVD_LOG_ERR, "%s: cannot record the quarantine: %s", q->path,
                status < 0 ? uv_strerror(status) : q->err.msg);
    }
    free(q->db);
    free(q->path);
    free(q->reason);
    free(q);
}

static void record_quarantine(struct hvdd *d, const char *path, const char *reason)
{
    struct quarantine *q = calloc(1, sizeof(*q));

    if (!q || !(q->db = strdup(d->cfg->database)) || !(q->path = strdup(path)) ||
        !(q->reason = strdup(reason))) {
        goto fail;
    }
    q->d = d;
    q->req.data = q;
    if (uv_queue_work(d->loop, &q->req, quarantine_work, quarantine_done) < 0) {
        goto fail;
    }
    return;
fail:
    hvd_log(&d->log, HVD_LOG_ERR, "%s: cannot record the quarantine (no memory)", path);
    if (q) {
        free(q->db);
        free(q->path);
        free(q->reason);
    }
    free(q);
}

static void set_error(struct hvdd_file *f, const char *msg)
{
    free(f->last_error);
    f->last_error = msg ? strdup(msg) : NULL;
}

/* Not read again until it changes; recorded in the store so a restart knows too. */
static void quarantine(struct hvdd *d, struct hvdd_file *f, const char *path, const char *reason)
{
    d->count.quarantined++;
    hvd_log(&d->log, HVD_LOG_ERR, "%s: quarantined: %s", path, reason);
    if (f) {
        f->state = HVDD_QUARANTINED;
        f->memory_strikes = 0;
        set_error(f, reason);
    }
    record_quarantine(d, path, reason);
}

static void retry_later(struct hvdd *d, struct hvdd_file *f, const char *path, const char *why,
                        uint64_t ms)
{
    hvd_log(&d->log, HVD_LOG_WARNING, "%s: %s; trying again later", path, why);
    if (f) {
        f->state = HVDD_RETRY;
        f->retry_at = uv_now(d->loop) + ms;
        set_error(f, why);
    }
}

void hvdd_file_report(struct hvdd *d, struct hvdd_file *f, const char *path,
                      const struct hvdd_report *r)
{
    const char *error = r->error;

    if (f) {
        f->worker = NULL;
    }
    switch (r->outcome) {
    case HVDD_OUT_READ:
        d->count.files_ingested++;
        d->count.events += r->events;
        d->count.fresh += r->fresh;
        if (r->kind > HVD_SOURCE_UNKNOWN && r->kind < HVDD_KINDS) {
            d->count.kind_events[r->kind] += r->events;
            d->count.kind_fresh[r->kind] += r->fresh;
            d->count.kind_skipped[r->kind] += r->skipped;
            if (r->newest > d->count.kind_newest[r->kind]) {
                d->count.kind_newest[r->kind] = r->newest;
            }
        }
        if (r->skipped) {
            hvd_log(&d->log, HVD_LOG_INFO,
                    "%s: %" PRIu64 " events, %" PRIu64 " new, %" PRIu64 " records skipped", path,
                    r->events, r->fresh, r->skipped);
        } else {
            hvd_log(&d->log, HVD_LOG_INFO, "%s: %" PRIu64 " events, %" PRIu64 " new", path,
                    r->events, r->fresh);
        }
        if (f) {
            f->state = HVDD_DONE;
            if (r->pending) {
                f->retry_at = uv_now(d->loop) + HVDD_COMPLETE_MS;
                f->complete_next = 1; /* done, but for a line still open */
            }
            f->reads++;
            f->events = r->events;
            f->fresh = r->fresh;
            f->memory_strikes = 0;
            set_error(f, error);
        }
        break;
    case HVDD_OUT_BAD_FILE:
        d->count.failed++;
        error = error ? error : "cannot be read";
        hvd_log(&d->log, HVD_LOG_WARNING, "%s: %s", path, error);
        if (f) {
            f->state = HVDD_FAILED;
            f->memory_strikes = 0;
            set_error(f, error);
        }
        break;
    case HVDD_OUT_RETRY:
        retry_later(d, f, path, error ? error : "the worker could not finish", RETRY_MS);
        break;
    case HVDD_OUT_MEMORY:
        d->count.out_of_memory++;
        error = error ? error : "out of memory";
        if (f && ++f->memory_strikes < MEMORY_STRIKES) {
            /* perhaps what an earlier file left behind: a fresh worker tries once more */
            retry_later(d, f, path, error, 0);
        } else {
            quarantine(d, f, path, error);
        }
        break;
    case HVDD_OUT_CRASHED:
        d->count.crashed++;
        quarantine(d, f, path, error ? error : "the reader crashed");
        break;
    case HVDD_OUT_TIMEOUT:
        d->count.timeouts++;
        quarantine(d, f, path, error ? error : "reading took too long");
        break;
    case HVDD_OUT_STOPPED:
        /* its transaction rolled back; the file is read again at the next start */
        hvd_log(&d->log, HVD_LOG_NOTICE, "%s: worker stopped at shutdown", path);
        if (f) {
            f->state = HVDD_DUE;
        }
        break;
    }
}

hvd_source_kind hvdd_kind_parse(const char *name)
{
    if (name && strcmp(name, "evtx") == 0) {
        return HVD_SOURCE_EVTX;
    }
    if (name && strcmp(name, "clusterlog") == 0) {
        return HVD_SOURCE_CLUSTERLOG;
    }
    return HVD_SOURCE_UNKNOWN;
}

/* --- scheduling ---------------------------------------------------------------------- */

/* The job for f: a cluster.log is read on from its checkpoint; "complete" when its writer
 * is done with a last line left open at the identity read last time. */
static void job_of(const struct hvdd_file *f, struct hvdd_job *job)
{
    job->path = f->path;
    job->host = f->host;
    job->kind = f->kind;
    job->complete = f->complete_next && f->read_valid && f->read.ino == f->seen.ino &&
                    f->read.size == f->seen.size && f->read.mtime_ns == f->seen.mtime_ns;
}

/* A worker took f. */
static void file_started(struct hvdd *d, struct hvdd_file *f, struct hvdd_worker *w)
{
    f->complete_next = 0;
    f->worker = w;
    f->state = HVDD_RUNNING;
    f->read = f->seen;
    f->read_valid = 1;
    hvd_log(&d->log, HVD_LOG_DEBUG, "%s: to worker %d (%s)", f->path, hvdd_worker_pid(w),
            hvdd_change_name(f->change));
}

static void on_soon(uv_timer_t *t)
{
    hvdd_files_scan(t->data);
}

void hvdd_files_arm_soon(struct hvdd *d, uint64_t ms)
{
    if (d->stopping) {
        return;
    }
    if (uv_is_active((uv_handle_t *)&d->soon_timer) && uv_timer_get_due_in(&d->soon_timer) <= ms) {
        return;
    }
    uv_timer_start(&d->soon_timer, on_soon, ms, 0);
}

size_t hvdd_files_due(const struct hvdd *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->nfiles; i++) {
        n += d->files[i]->state == HVDD_DUE || d->files[i]->state == HVDD_SETTLING;
    }
    return n;
}

void hvdd_files_schedule(struct hvdd *d)
{
    uint64_t now = uv_now(d->loop);
    uint64_t wake = UINT64_MAX;
    struct hvdd_job job;
    struct hvdd_worker *w;

    if (d->stopping) {
        return;
    }
    for (size_t i = 0; i < d->nfiles; i++) {
        struct hvdd_file *f = d->files[i];
        /* done with a line still open: due again once that line had time to end */
        int open_line = f->complete_next && f->state == HVDD_DONE;
        uint64_t ready;

        if (f->state == HVDD_RUNNING) {
            continue;
        }
        if (f->read_valid && identity_equal(&f->seen, &f->read) && f->state != HVDD_RETRY &&
            !open_line) {
            continue; /* done, failed or quarantined at this identity */
        }
        ready = f->stable_since + d->cfg->settle_ms;
        if ((f->state == HVDD_RETRY || open_line) && f->retry_at > ready) {
            ready = f->retry_at;
        }
        if (now >= ready) {
            f->state = HVDD_DUE;
        } else {
            if (!open_line || !identity_equal(&f->seen, &f->read)) {
                f->state = f->state == HVDD_RETRY ? HVDD_RETRY : HVDD_SETTLING;
            }
            if (ready - now < wake) {
                wake = ready - now;
            }
        }
    }
    /* oldest change first */
    while (d->running < d->cfg->workers) {
        struct hvdd_file *next = NULL;

        for (size_t i = 0; i < d->nfiles; i++) {
            struct hvdd_file *f = d->files[i];

            if (f->state == HVDD_DUE && (!next || f->stable_since < next->stable_since)) {
                next = f;
            }
        }
        if (!next) {
            break;
        }
        job_of(next, &job);
        w = hvdd_worker_assign(d, next, &job);
        if (!w) {
            break; /* every worker busy: the next result schedules again */
        }
        file_started(d, next, w);
    }
    if (wake != UINT64_MAX) {
        /* one more scan after the settle time confirms the size held still */
        hvdd_files_arm_soon(d, wake);
    }
}

/* --- lifecycle ----------------------------------------------------------------------- */

static void on_rescan(uv_timer_t *t)
{
    hvdd_files_scan(t->data);
}

void hvdd_files_init(struct hvdd *d)
{
    uv_timer_init(d->loop, &d->rescan_timer);
    d->rescan_timer.data = d;
    uv_timer_init(d->loop, &d->soon_timer);
    d->soon_timer.data = d;
}

int hvdd_files_start(struct hvdd *d)
{
    uv_timer_start(&d->rescan_timer, on_rescan, d->cfg->rescan_ms, d->cfg->rescan_ms);
    hvdd_files_arm_soon(d, 0);
    return 0;
}

void hvdd_files_apply_config(struct hvdd *d)
{
    uv_timer_start(&d->rescan_timer, on_rescan, d->cfg->rescan_ms, d->cfg->rescan_ms);
    hvdd_files_arm_soon(d, 0);
}

void hvdd_files_stop(struct hvdd *d)
{
    uv_timer_stop(&d->rescan_timer);
    uv_timer_stop(&d->soon_timer);
    prune_dirwatches(d, 1);
}

void hvdd_files_free(struct hvdd *d)
{
    while (d->nfiles) {
        hvdd_file_remove(d, d->files[d->nfiles - 1]);
    }
    free(d->files);
    d->files = NULL;
    d->cap_files = 0;
}
