/*
 * ingest: one file through the whole data flow. The engine's diagnoses go straight to the
 * store inside the file's transaction; a store failure stops the file and rolls it back.
 */
#include "ingest.h"

#include "alloc.h"
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDENT_SPAN 4096 /* bytes hashed at the start of a file and before its checkpoint */

struct hvd_ingest {
    hvd_store *st;
    hvd_engine *engine;
    const hvd_logger *log;
    int changed_file;  /* the current file changed the database */
    int changed_total; /* anything changed since create or the last finish */
    int failed;
    hvd_error store_err;
};

static void on_diagnosis(void *ud, const hvd_diagnosis *d)
{
    hvd_ingest *ing = ud;

    if (ing->failed) {
        return;
    }
    if (hvd_store_put_diagnosis(ing->st, d, &ing->changed_file, &ing->store_err) < 0) {
        ing->failed = 1;
    }
}

#define PRIME_MAX      20000 /* stored diagnoses given back to a new engine, newest first */
#define PRIME_ENTITIES 48

struct prime {
    hvd_ingest *ing;
    hvd_entity ents[PRIME_ENTITIES];
    size_t n;
    hvd_time newest;
    uint64_t primed;
    int rc; /* the first failure */
    hvd_error *err;
};

static int newest_time(void *ud, const hvd_stored_diagnosis *d)
{
    ((struct prime *)ud)->newest = d->first_time;
    return 1;
}

static int keep_entity(void *ud, const hvd_entity *ent)
{
    struct prime *p = ud;
    char *name;
    char *value;

    if (p->n == PRIME_ENTITIES) {
        return 1;
    }
    name = hvd_strdup(ent->name);
    value = hvd_strdup(ent->value);
    if (!name || !value) {
        hvd_free(name);
        hvd_free(value);
        return 1;
    }
    p->ents[p->n].name = name;
    p->ents[p->n].value = value;
    p->n++;
    return 0;
}

static int prime_one(void *ud, const hvd_stored_diagnosis *d)
{
    struct prime *p = ud;
    int rc;

    p->n = 0;
    rc = hvd_store_diagnosis_entities(p->ing->st, d->id, keep_entity, p, p->err);
    if (rc == HVD_OK) {
        rc = hvd_engine_prime(p->ing->engine, d->rule_id, d->key, p->ents, p->n, d->first_time,
                              d->last_time, d->count, p->err);
    }
    for (size_t i = 0; i < p->n; i++) {
        hvd_free((char *)p->ents[i].name);
        hvd_free((char *)p->ents[i].value);
    }
    p->primed += rc == HVD_OK;
    p->rc = rc < 0 ? rc : p->rc;
    return rc < 0;
}

/*
 * A new pipeline on a store that already holds diagnoses (a restarted daemon, a second
 * analyze run): the engine gets back the recent diagnoses, newest first, so a cause
 * stored before still explains a failure read now and a flood that goes on after a
 * restart keeps folding into its diagnosis.
 */
static int prime(hvd_ingest *ing, hvd_error *err)
{
    hvd_diagnosis_filter f;
    struct prime p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.ing = ing;
    p.err = err;
    memset(&f, 0, sizeof(f));
    f.limit = 1;
    rc = hvd_store_diagnoses(ing->st, &f, newest_time, &p, err);
    if (rc < 0 || p.newest == 0) {
        return rc;
    }
    memset(&f, 0, sizeof(f));
    f.since = p.newest - hvd_engine_prime_span(ing->engine);
    f.limit = PRIME_MAX;
    rc = hvd_store_diagnoses(ing->st, &f, prime_one, &p, err);
    rc = rc < 0 ? rc : p.rc;
    if (rc == HVD_OK && p.primed) {
        hvd_log(ing->log, HVD_LOG_DEBUG, "%llu stored diagnoses given to the rule engine",
                (unsigned long long)p.primed);
    }
    return rc;
}

int hvd_ingest_create(hvd_ingest **out, hvd_store *st, const hvd_ruleset *rs, const hvd_logger *log,
                      hvd_error *err)
{
    hvd_ingest *ing = hvd_calloc(1, sizeof(*ing));
    int rc;

    *out = NULL;
    if (!ing) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate the pipeline");
    }
    ing->st = st;
    ing->log = log;
    rc = hvd_engine_create(&ing->engine, rs, on_diagnosis, ing, err);
    if (rc < 0) {
        hvd_free(ing);
        return rc;
    }
    rc = prime(ing, err);
    if (rc < 0) {
        hvd_engine_destroy(ing->engine);
        hvd_free(ing);
        return rc;
    }
    *out = ing;
    return HVD_OK;
}

/* What identifies a file as the one checkpointed, up to a byte offset. */
struct identity {
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
    uint64_t offset;
    char head[17];   /* FNV-1a of the first min(IDENT_SPAN, offset) bytes */
    char prefix[17]; /* FNV-1a of the IDENT_SPAN bytes (or fewer) before offset */
};

/* A checkpoint to resume from, copied out of the store. */
struct resume {
    char position[512];
    uint64_t events;
    uint64_t skipped;
};

/* FNV-1a over len bytes of fd at off, as 16 hex digits. */
static int hash_range(int fd, uint64_t off, uint64_t len, char out[17])
{
    unsigned char buf[IDENT_SPAN];
    uint64_t h = 14695981039346656037ull;

    while (len > 0) {
        ssize_t n = pread(fd, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf), (off_t)off);

        if (n <= 0) {
            return -1;
        }
        for (ssize_t i = 0; i < n; i++) {
            h = (h ^ buf[i]) * 1099511628211ull;
        }
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    snprintf(out, 17, "%016" PRIx64, h);
    return 0;
}

/* The identity of path up to offset (UINT64_MAX: its size). */
static int identify(const char *path, uint64_t offset, struct identity *id)
{
    struct stat sb;
    uint64_t span;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -1;

    memset(id, 0, sizeof(*id));
    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &sb) == 0) {
        id->dev = (uint64_t)sb.st_dev;
        id->ino = (uint64_t)sb.st_ino;
        id->size = (uint64_t)sb.st_size;
        id->offset = offset == UINT64_MAX || offset > id->size ? id->size : offset;
        span = id->offset < IDENT_SPAN ? id->offset : IDENT_SPAN;
        if (hash_range(fd, 0, span, id->head) == 0 &&
            hash_range(fd, id->offset - span, span, id->prefix) == 0) {
            rc = 0;
        }
    }
    close(fd);
    return rc;
}

/* The byte offset in a cluster.log position token, or UINT64_MAX. */
static uint64_t token_offset(const char *pos)
{
    char *end;
    unsigned long long v;

    if (!pos || strncmp(pos, "clog:off=", 9) != 0) {
        return UINT64_MAX;
    }
    errno = 0;
    v = strtoull(pos + 9, &end, 10);
    return errno || *end != ';' ? UINT64_MAX : (uint64_t)v;
}

/* 1 and *out filled when display's checkpoint is a cluster.log that path still is, grown;
 * 0 when it must be read from the start; < 0 on a store error. */
static int resume_point(hvd_ingest *ing, const char *path, const char *display, struct resume *out,
                        hvd_error *err)
{
    hvd_store_source row;
    struct identity now;
    uint64_t off;
    int rc = hvd_store_get_source(ing->st, display, &row, err);

    if (rc <= 0) {
        return rc;
    }
    off = token_offset(row.position);
    if (strcmp(row.kind, "clusterlog") != 0 || off == UINT64_MAX || row.prefix_len != off ||
        strlen(row.position) >= sizeof(out->position) || identify(path, off, &now) < 0 ||
        now.dev != row.device || now.ino != row.inode || now.size < off ||
        strcmp(now.head, row.head_hash) != 0 || strcmp(now.prefix, row.prefix_hash) != 0) {
        return 0;
    }
    memcpy(out->position, row.position, strlen(row.position) + 1);
    out->events = row.events;
    out->skipped = row.skipped;
    return 1;
}

static int record_source(hvd_ingest *ing, const char *path, const char *display, hvd_source *src,
                         const struct resume *from, const char *last_error, hvd_error *err)
{
    const hvd_source_stats *s = hvd_source_get_stats(src);
    hvd_store_source row;
    struct identity id;
    struct stat sb;

    memset(&row, 0, sizeof(row));
    row.path = display;
    row.kind = hvd_source_kind_name(hvd_source_get_kind(src));
    row.host = s->host ? s->host : "";
    if (stat(path, &sb) == 0) {
        row.size = (uint64_t)sb.st_size;
        row.mtime = (int64_t)sb.st_mtime;
    }
    row.position = hvd_source_position(src);
    row.events = s->events + (from ? from->events : 0);
    row.skipped = s->skipped + (from ? from->skipped : 0);
    /* Up to where it was read: a cluster.log to its position, anything else whole. */
    if (identify(path, token_offset(row.position), &id) == 0) {
        row.device = id.dev;
        row.inode = id.ino;
        row.prefix_len = id.offset;
        row.head_hash = id.head;
        row.prefix_hash = id.prefix;
    } else {
        row.head_hash = "";
        row.prefix_hash = "";
    }
    row.warnings = "";
    row.first_skipped = s->first_skipped;
    row.recovered = s->recovered;
    row.corrupted = s->corrupted;
    row.dirty = s->dirty;
    row.encoding = s->encoding ? s->encoding : "";
    row.last_error = last_error ? last_error : "";
    return hvd_store_put_source(ing->st, &row, err);
}

int hvd_ingest_file(hvd_ingest *ing, const char *path, const char *display,
                    const hvd_ingest_options *opt, hvd_ingest_result *res, hvd_error *err)
{
    hvd_ingest_options none = {0};
    hvd_source_options sopt = {0};
    hvd_source *src = NULL;
    hvd_event ev;
    hvd_error rerr;
    struct resume from;
    int resumed = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    if (!opt) {
        opt = &none;
    }
    if (!display) {
        display = path;
    }
    sopt.include_recovered = opt->include_recovered;
    sopt.host_hint = opt->host_hint;
    sopt.evtx_decoder = opt->evtx_decoder;
    if (opt->follow) {
        resumed = resume_point(ing, path, display, &from, err);
        if (resumed < 0) {
            return resumed;
        }
        sopt.resume = resumed ? from.position : NULL;
        sopt.tail = !opt->complete;
    }
    rc = hvd_source_open(&src, path, &sopt, ing->log, err);
    if (rc < 0 && resumed) {
        /* A checkpoint this reader no longer takes: read the file again from its start. */
        hvd_log(ing->log, HVD_LOG_WARNING, "%s: %s; reading it from the start", display, err->msg);
        resumed = 0;
        sopt.resume = NULL;
        rc = hvd_source_open(&src, path, &sopt, ing->log, err);
    }
    if (rc < 0) {
        return rc;
    }
    res->resumed = resumed;
    rc = hvd_store_begin(ing->st, err);
    if (rc < 0) {
        hvd_source_close(src);
        return rc;
    }
    ing->changed_file = 0;
    ing->failed = 0;
    hvd_error_clear(&rerr);
    while (!ing->failed && (rc = hvd_source_next(src, &ev, &rerr)) == 1) {
        int seen = 0;

        res->events++;
        ev.source_path = display;
        if ((opt->since && ev.time < opt->since) || (opt->until && ev.time > opt->until)) {
            res->outside++;
            continue;
        }
        rc = hvd_store_event_seen(ing->st, &ev, &seen, err);
        if (rc < 0) {
            goto fail;
        }
        if (seen) {
            res->repeated++;
            continue;
        }
        res->fresh++;
        rc = hvd_engine_feed(ing->engine, &ev, err);
        if (rc < 0) {
            goto fail;
        }
    }
    if (ing->failed) {
        *err = ing->store_err;
        rc = err->code;
        goto fail;
    }
    /* A read error ends the file: keep what was read, and say why it stopped. */
    if (rc < 0) {
        hvd_log(ing->log, HVD_LOG_WARNING, "%s: %s", display, rerr.msg);
    }
    res->stats = *hvd_source_get_stats(src);
    if (opt->follow) {
        uint64_t off = token_offset(hvd_source_position(src));
        struct stat sb;

        if (off != UINT64_MAX && stat(path, &sb) == 0 && (uint64_t)sb.st_size > off) {
            res->pending = (uint64_t)sb.st_size - off;
        }
    }
    /* Following, the checkpoint moves with every read: the next one starts there. */
    if (res->fresh || rc < 0 || opt->follow) {
        rc = record_source(ing, path, display, src, resumed ? &from : NULL,
                           rc < 0 ? rerr.msg : NULL, err);
        if (rc < 0) {
            goto fail;
        }
        ing->changed_file = 1;
    }
    rc = hvd_store_commit(ing->st, err);
    if (rc < 0) {
        goto fail_closed;
    }
    res->changed = ing->changed_file;
    ing->changed_total |= ing->changed_file;
    hvd_source_close(src);
    return rc == HVD_OK ? HVD_OK : rc;
fail:
    hvd_store_rollback(ing->st);
fail_closed:
    hvd_source_close(src);
    return rc;
}

int hvd_ingest_finish(hvd_ingest *ing, int *changed, hvd_error *err)
{
    /* Each file's commit regrouped the incidents it touched; what the engine still holds
     * is stored (and regrouped) in a transaction of its own. */
    int rc = hvd_store_begin(ing->st, err);

    if (rc == HVD_OK) {
        ing->changed_file = 0;
        ing->failed = 0;
        rc = hvd_engine_flush(ing->engine, err);
        if (rc == HVD_OK && ing->failed) {
            *err = ing->store_err;
            rc = err->code;
        }
        rc = rc == HVD_OK ? hvd_store_commit(ing->st, err) : rc;
        if (rc < 0) {
            hvd_store_rollback(ing->st);
        }
        ing->changed_total |= ing->changed_file;
    }
    if (changed) {
        *changed = ing->changed_total;
    }
    ing->changed_total = 0;
    return rc;
}

void hvd_ingest_destroy(hvd_ingest *ing)
{
    if (!ing) {
        return;
    }
    hvd_engine_destroy(ing->engine);
    hvd_free(ing);
}
