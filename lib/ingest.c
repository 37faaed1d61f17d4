/*
 * ingest: one file through the whole data flow. The engine's diagnoses go straight to the
 * store inside the file's transaction; a store failure stops the file and rolls it back.
 *
 * The engine emits a diagnosis again for every event folded into it; those are merged per
 * key (diagbuf.h) and written when the file ends, before the engine's loader reads the store
 * and when DIAG_BUF_MAX bytes are held: the store ends up as if each had been written.
 *
 * The engine's memory follows the store: it loads stored diagnoses as the events of a
 * file need them (see hvd_engine_set_loader()), and after any rollback it is replaced by a
 * new one, which loads again what the store holds. So a retry, a restart or a file read
 * after a failed one sees the same state as if the failed read had never happened.
 */
#include "ingest.h"
#include "ingest_internal.h"

#include "alloc.h"
#include "diagbuf.h"
#include "engine.h"
#include "engine_internal.h"
#include "hvtime.h"
#include "needs.h"
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDENT_SPAN 4096 /* bytes hashed at the start of a file and before its checkpoint */
/* Bytes of emitted diagnoses held before they are written. */
#define DIAG_BUF_MAX (1u * 1024 * 1024)

struct hvd_ingest {
    hvd_store *st;
    const hvd_ruleset *rs;
    hvd_engine *engine;
    hvd_needs *needs;     /* what the rules can match: the EVTX reader skips the rest */
    hvd_diagbuf *pending; /* emitted diagnoses not written yet */
    const hvd_logger *log;
    int changed_file;  /* the current file changed the database */
    int changed_total; /* anything changed since create or the last finish */
    int failed;
    hvd_error store_err;
    uint64_t settle_every; /* SETTLE_EVERY, or 1 under hvd__ingest_tight() */
#ifdef HVD_TESTING
    long fail_after;  /* see hvd__ingest_fail_store_after(); < 0 off */
    int tight;        /* see hvd__ingest_tight() */
    uint64_t dropped; /* by engines gone */
#endif
};

static int put_one(void *ud, const hvd_diagnosis *d)
{
    hvd_ingest *ing = ud;

    return hvd_store_put_diagnosis(ing->st, d, &ing->changed_file, &ing->store_err);
}

/* Writes the diagnoses held. On failure the file fails (ing->failed, ing->store_err). */
static int write_pending(hvd_ingest *ing)
{
    int rc;

    if (ing->failed) {
        return ing->store_err.code;
    }
    rc = hvd_diagbuf_flush(ing->pending, put_one, ing);
    if (rc < 0) {
        ing->failed = 1;
    }
    return rc;
}

static int on_diagnosis(void *ud, const hvd_diagnosis *d)
{
    hvd_ingest *ing = ud;
    int rc;

    if (ing->failed) {
        return ing->store_err.code;
    }
#ifdef HVD_TESTING
    if (ing->fail_after == 0) {
        ing->fail_after = -1;
        ing->failed = 1;
        return hvd_error_set(&ing->store_err, HVD_ESTORE, NULL, 0, "injected store failure");
    }
    ing->fail_after -= ing->fail_after > 0;
#endif
    rc = hvd_diagbuf_add(ing->pending, d);
    if (rc < 0) {
        ing->failed = 1;
        return hvd_error_set(&ing->store_err, rc, NULL, 0, "out of memory for a diagnosis");
    }
    return rc == 1 ? write_pending(ing) : HVD_OK;
}

#define SETTLE_EVERY   65536 /* fresh events of a file between two hvd_store_settle() */
#define PRIME_MAX      20000 /* stored diagnoses given to the engine per slice, newest first */
#define PRIME_ENTITIES 48

struct prime {
    hvd_ingest *ing;
    hvd_entity ents[PRIME_ENTITIES];
    size_t n;
    uint64_t primed;
    int rc; /* the first failure */
    hvd_error *err;
};

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

/* Readies p for a load, storing what the engine emitted first when 'flush'. */
static int prime_start(hvd_ingest *ing, struct prime *p, int flush, hvd_error *err)
{
    int rc = flush ? write_pending(ing) : HVD_OK;

    if (rc < 0) {
        *err = ing->store_err;
        return rc;
    }
    memset(p, 0, sizeof(*p));
    p->ing = ing;
    p->err = err;
    return HVD_OK;
}

struct limit_ctx {
    const hvd_logger *log;
    const char *display;
};

static void limit_one(void *ud, const char *rule_id, uint64_t hits, uint64_t total)
{
    const struct limit_ctx *c = ud;

    hvd_log(c->log, HVD_LOG_WARNING,
            "%s%srule %s: %llu regex match(es) stopped at the PCRE2 match or depth limit and "
            "counted as no match (%llu in all); simplify the pattern",
            c->display, *c->display ? ": " : "", rule_id, (unsigned long long)hits,
            (unsigned long long)total);
}

/* One warning per rule whose regexes hit a PCRE2 limit since the last report. */
static void limit_report(hvd_ingest *ing, const char *display)
{
    struct limit_ctx c = {ing->log, display};

    hvd_engine_limit_report(ing->engine, limit_one, &c);
}

/*
 * The engine's loader: the stored diagnoses of a rule whose span overlaps [lo, hi] (hours
 * of event time the file's events or searches reach), newest first, at most PRIME_MAX. So
 * a cause stored before a restart still explains a failure read now, whatever the times of
 * the files read between, and a flood that goes on in a later file keeps folding into its
 * diagnosis. Cost: one indexed query per call, one more per diagnosis for its entities.
 */
static int load(void *ud, const char *rule_id, hvd_time lo, hvd_time hi, hvd_error *err)
{
    hvd_ingest *ing = ud;
    hvd_diagnosis_filter f;
    struct prime p;
    /* What the engine emitted is stored first: the store answers as if it had been all along. */
    int rc = prime_start(ing, &p, 1, err);

    if (rc < 0) {
        return rc;
    }
    memset(&f, 0, sizeof(f));
    f.since = lo == 0 ? -1 : lo; /* 0 does not filter */
    f.until = hi == 0 ? 1 : hi;
    f.rule = rule_id;
    f.limit = PRIME_MAX;
    rc = hvd_store_diagnoses(ing->st, &f, prime_one, &p, err);
    rc = rc < 0 ? rc : p.rc;
    if (rc == HVD_OK && p.primed) {
        hvd_log(ing->log, HVD_LOG_DEBUG, "%llu stored diagnoses given to the rule engine",
                (unsigned long long)p.primed);
    }
    return rc;
}

/* The engine's loader by join value: a rule's stored diagnoses whose entity has the value a
 * correlation search looks up, spanning into [lo, hi], newest first, at most PRIME_MAX.
 * Cost: one search of the join keys, one more per diagnosis for its entities. */
static int load_joined(void *ud, const char *rule_id, const char *entity, const char *value,
                       int host, hvd_time lo, hvd_time hi, hvd_error *err)
{
    hvd_ingest *ing = ud;
    struct prime p;
    /* Only the rule's own may be missing from both the store and the engine. */
    int rc = prime_start(ing, &p, hvd_diagbuf_holds_rule(ing->pending, rule_id), err);

    if (rc < 0) {
        return rc;
    }
    rc = hvd_store_diagnoses_joined(ing->st, rule_id, entity, value, host, lo, hi, PRIME_MAX,
                                    prime_one, &p, err);
    return rc < 0 ? rc : p.rc;
}

/* Whether the store holds a diagnosis of a rule, as the engine asks when it begins. */
static int stored(void *ud, const char *rule_id, hvd_error *err)
{
    hvd_ingest *ing = ud;

    return hvd_store_rule_stored(ing->st, rule_id, err);
}

/* After a rollback the engine may hold matches and diagnoses the store forgot: it goes,
 * and the next file gets a new one (which loads what the store holds). */
static void engine_drop(hvd_ingest *ing)
{
    if (ing->engine) {
        limit_report(ing, "");
#ifdef HVD_TESTING
        ing->dropped += hvd_engine_get_stats(ing->engine)->evicted;
#endif
    }
    hvd_engine_destroy(ing->engine);
    ing->engine = NULL;
}

/* A new engine (at create, and after any rollback): it loads what it needs from the store
 * as events come, so it holds nothing the store does not. */
static int engine_renew(hvd_ingest *ing, hvd_error *err)
{
    hvd_engine *e = NULL;
    int rc = hvd_engine_create(&e, ing->rs, on_diagnosis, ing, err);

    if (rc < 0) {
        return rc;
    }
    hvd_engine_set_loader(e, load, ing);
    rc = hvd_engine_set_joined_loader(e, load_joined, stored, err);
    if (rc < 0) {
        hvd_engine_destroy(e);
        return rc;
    }
#ifdef HVD_TESTING
    if (ing->tight) {
        hvd__engine_drop_far(e, 0, 1);
    }
#endif
    engine_drop(ing);
    ing->engine = e;
    return HVD_OK;
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
    ing->rs = rs;
    ing->log = log;
    ing->settle_every = SETTLE_EVERY;
#ifdef HVD_TESTING
    ing->fail_after = -1;
#endif
    rc = hvd_diagbuf_create(&ing->pending, DIAG_BUF_MAX, err);
    if (rc == HVD_OK) {
        rc = engine_renew(ing, err);
    }
    if (rc == HVD_OK) {
        rc = hvd_needs_create(&ing->needs, rs, err);
    }
    if (rc < 0) {
        hvd_ingest_destroy(ing);
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
    int64_t mtime; /* seconds */
    uint64_t offset;
    char head[17];   /* FNV-1a of the first min(IDENT_SPAN, offset) bytes */
    char prefix[17]; /* FNV-1a of the IDENT_SPAN bytes (or fewer) before offset */
};

/* A checkpoint to resume from, copied out of the store. */
struct resume {
    char position[512];
    uint64_t events;
    uint64_t skipped;
    uint64_t fresh;
    uint64_t repeated;
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

/* The identity of the file open at fd up to offset (UINT64_MAX: its size). Cost: an
 * fstat and up to 2 x IDENT_SPAN bytes read. */
static int identify_fd(int fd, uint64_t offset, struct identity *id)
{
    struct stat sb;
    uint64_t span;

    memset(id, 0, sizeof(*id));
    if (fstat(fd, &sb) < 0) {
        return -1;
    }
    id->dev = (uint64_t)sb.st_dev;
    id->ino = (uint64_t)sb.st_ino;
    id->size = (uint64_t)sb.st_size;
    id->mtime = (int64_t)sb.st_mtime;
    id->offset = offset == UINT64_MAX || offset > id->size ? id->size : offset;
    span = id->offset < IDENT_SPAN ? id->offset : IDENT_SPAN;
    if (hash_range(fd, 0, span, id->head) < 0 ||
        hash_range(fd, id->offset - span, span, id->prefix) < 0) {
        return -1;
    }
    return 0;
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

/* Is row the checkpoint of the file open at fd, up to row's saved offset: same device and
 * inode, and the same bytes at its start and just before the offset? */
static int row_is_file(const hvd_store_source *row, int fd, struct identity *now)
{
    if (row->inode == 0 || !row->head_hash[0] || identify_fd(fd, row->prefix_len, now) < 0) {
        return 0;
    }
    return now->dev == row->device && now->ino == row->inode && now->offset == row->prefix_len &&
           strcmp(now->head, row->head_hash) == 0 && strcmp(now->prefix, row->prefix_hash) == 0;
}

/* 1 and *out filled when display's checkpoint is a cluster.log that may be resumed (its
 * token and identity are whole; whether it is still this file is checked on the file
 * opened); 0 when it must be read from the start; < 0 on a store error. */
static int resume_point(hvd_ingest *ing, const char *display, struct resume *out,
                        hvd_store_source *row, hvd_error *err)
{
    uint64_t off;
    int rc = hvd_store_get_source(ing->st, display, row, err);

    if (rc <= 0) {
        return rc;
    }
    off = token_offset(row->position);
    if (strcmp(row->kind, "clusterlog") != 0 || off == UINT64_MAX || row->prefix_len != off ||
        strlen(row->position) >= sizeof(out->position)) {
        return 0;
    }
    memcpy(out->position, row->position, strlen(row->position) + 1);
    out->events = row->events;
    out->skipped = row->skipped;
    out->fresh = row->fresh;
    out->repeated = row->repeated;
    return 1;
}

/*
 * Whether the checkpoint stored for display is the file now at path, read as far as its
 * size: the same device and inode, size and mtime, and the same bytes at its start and
 * before its saved offset. Size and mtime alone are not trusted: a re-export copied over
 * with 'cp -p' or robocopy keeps both, and an EVTX grows in 64 KiB chunks. Returns 1, 0
 * (not known, or another file: read it), or a negative store error.
 * Cost: one open and up to 2 x IDENT_SPAN bytes read.
 */
int hvd_ingest_checkpoint_holds(hvd_store *st, const char *path, const char *display,
                                hvd_error *err)
{
    hvd_store_source row;
    struct identity now;
    int fd;
    int rc = hvd_store_get_source(st, display ? display : path, &row, err);

    if (rc <= 0) {
        return rc;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return 0;
    }
    rc = row_is_file(&row, fd, &now) && now.size == row.size && now.mtime == row.mtime;
    close(fd);
    return rc;
}

/* The checkpoint of src, read from the file it opened (opened: its fstat at open). */
static int record_source(hvd_ingest *ing, const char *display, hvd_source *src,
                         const struct stat *opened, const struct resume *from,
                         const hvd_ingest_result *res, const char *last_error, hvd_error *err)
{
    const hvd_source_stats *s = hvd_source_get_stats(src);
    hvd_store_source row;
    struct identity id;

    memset(&row, 0, sizeof(row));
    row.path = display;
    row.kind = hvd_source_kind_name(hvd_source_get_kind(src));
    row.host = s->host ? s->host : "";
    row.position = hvd_source_position(src);
    row.events = s->events + (from ? from->events : 0);
    row.skipped = s->skipped + (from ? from->skipped : 0);
    row.fresh = res->fresh + (from ? from->fresh : 0);
    row.repeated = res->repeated + (from ? from->repeated : 0);
    /* Up to where it was read: a cluster.log to its position, anything else whole. The
     * size and mtime are those at open: a file that grew while it was read looks changed
     * afterwards, and is looked at again. */
    if (identify_fd(hvd_source_fd(src), token_offset(row.position), &id) == 0) {
        row.size = opened->st_ino ? (uint64_t)opened->st_size : id.size;
        row.mtime = opened->st_ino ? (int64_t)opened->st_mtime : id.mtime;
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

/* The rule set's cluster.log prefilter, for hvd_source_options.prefilter: compiled at the
 * first call, which the reader makes only for a cluster.log. */
static const hvd_line_prefilter *ruleset_prefilter(const void *rs)
{
    return hvd_ruleset_prefilter(rs);
}

/* Opens path for reading, resuming a followed cluster.log at its checkpoint when the file
 * opened is provably the one checkpointed, grown; *resumed says which. */
static int open_source(hvd_ingest *ing, const char *path, const char *display,
                       const hvd_ingest_options *opt, hvd_source **src, struct stat *opened,
                       struct resume *from, int *resumed, hvd_error *err)
{
    hvd_source_options sopt = {0};
    hvd_store_source row;
    struct identity now;
    int rc;

    *resumed = 0;
    sopt.include_recovered = opt->include_recovered;
    sopt.host_hint = opt->host_hint;
    sopt.evtx_decoder = opt->evtx_decoder;
    sopt.needs = opt->decode_all ? NULL : ing->needs;
    if (!opt->no_prefilter) {
        sopt.prefilter = ruleset_prefilter;
        sopt.prefilter_arg = ing->rs;
    }
    if (opt->follow) {
        rc = resume_point(ing, display, from, &row, err);
        if (rc < 0) {
            return rc;
        }
        *resumed = rc;
        sopt.resume = rc ? from->position : NULL;
        sopt.tail = !opt->complete;
    }
    rc = hvd_source_open(src, path, &sopt, ing->log, err);
    if (rc == HVD_OK && *resumed &&
        !(row_is_file(&row, hvd_source_fd(*src), &now) && now.size >= row.prefix_len)) {
        hvd_source_close(*src); /* another file now, or rewritten: from the start */
        *src = NULL;
        rc = HVD_EINVAL;
        hvd_error_clear(err);
    } else if (rc < 0 && *resumed) {
        /* A checkpoint this reader no longer takes: read the file again from its start. */
        hvd_log(ing->log, HVD_LOG_WARNING, "%s: %s; reading it from the start", display, err->msg);
    }
    if (rc < 0 && *resumed) {
        *resumed = 0;
        sopt.resume = NULL;
        rc = hvd_source_open(src, path, &sopt, ing->log, err);
    }
    if (rc == HVD_OK && fstat(hvd_source_fd(*src), opened) < 0) {
        memset(opened, 0, sizeof(*opened));
    }
    return rc;
}

int hvd_ingest_file(hvd_ingest *ing, const char *path, const char *display,
                    const hvd_ingest_options *opt, hvd_ingest_result *res, hvd_error *err)
{
    hvd_ingest_options none = {0};
    hvd_source *src = NULL;
    const hvd_source_stats *stats;
    hvd_event ev;
    hvd_error rerr;
    struct resume from;
    struct stat opened;
    uint64_t skipped;
    int resumed = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    if (!opt) {
        opt = &none;
    }
    if (!display) {
        display = path;
    }
    rc = open_source(ing, path, display, opt, &src, &opened, &from, &resumed, err);
    if (rc < 0) {
        return rc;
    }
    res->resumed = resumed;
    res->kind = hvd_source_get_kind(src);
    if (!ing->engine) {
        rc = engine_renew(ing, err);
        if (rc < 0) {
            hvd_source_close(src);
            return rc;
        }
    }
    rc = hvd_store_begin(ing->st, err);
    if (rc < 0) {
        hvd_source_close(src);
        return rc;
    }
    ing->changed_file = 0;
    ing->failed = 0;
    hvd_error_clear(&rerr);
    stats = hvd_source_get_stats(src);
    skipped = stats->skipped;
    hvd_diagbuf_clear(ing->pending);
    while (!ing->failed && (rc = hvd_source_next(src, &ev, &rerr)) == 1) {
        int seen = 0;

        res->events++;
        if (ev.time > res->newest && hvd_time_has_date(ev.time)) {
            res->newest = ev.time;
        }
        ev.source_path = display;
        if ((opt->since && ev.time < opt->since) || (opt->until && ev.time > opt->until)) {
            res->outside++;
            continue;
        }
        if (stats->skipped != skipped) {
            /* Lines lost to damage lie between: what this file covers has a hole here. */
            skipped = stats->skipped;
            rc = hvd_store_seen_break(ing->st, err);
            if (rc < 0) {
                goto fail;
            }
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
            if (ing->failed) {
                *err = ing->store_err; /* the store's own error, with its code */
            }
            goto fail;
        }
        /* A long file: what it changed so far is regrouped now, so that the commit's
         * regrouping does not hold the whole file's diagnoses at once; unless the store
         * leaves that to the commit anyway, when the merged diagnoses wait too (each
         * write of one that keeps growing is a write again at the next). */
        if (res->fresh % ing->settle_every == 0) {
            int waits = hvd_store_settle_waits(ing->st, err);

            rc = waits < 0 ? waits : waits ? HVD_OK : write_pending(ing);
            rc = rc < 0 || waits ? rc : hvd_store_settle(ing->st, err);
            if (rc < 0) {
                if (ing->failed) {
                    *err = ing->store_err;
                }
                goto fail;
            }
        }
    }
    /* What the engine grew without emitting yet goes into this file's transaction, then
     * all that is held is written. */
    if (!ing->failed && hvd_engine_flush(ing->engine, err) < 0 && !ing->failed) {
        rc = err->code;
        goto fail;
    }
    if (!ing->failed) {
        (void)write_pending(ing); /* failure: ing->failed, below */
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
    res->events += res->stats.filtered; /* read, but no rule could match them */
    if (opt->follow) {
        uint64_t off = token_offset(hvd_source_position(src));
        struct stat sb;

        if (off != UINT64_MAX && fstat(hvd_source_fd(src), &sb) == 0 &&
            (uint64_t)sb.st_size > off) {
            res->pending = (uint64_t)sb.st_size - off;
        }
    }
    /* Every read leaves its row, a file of repeats too (sources says so). */
    {
        int news = res->fresh || rc < 0 || opt->follow;

        rc = record_source(ing, display, src, &opened, resumed ? &from : NULL, res,
                           rc < 0 ? rerr.msg : NULL, err);
        if (rc < 0) {
            goto fail;
        }
        ing->changed_file |= news;
    }
    rc = hvd_store_commit(ing->st, err);
    if (rc < 0) {
        goto fail_closed;
    }
    res->changed = ing->changed_file;
    ing->changed_total |= ing->changed_file;
    limit_report(ing, display);
    hvd_source_close(src);
    return rc == HVD_OK ? HVD_OK : rc;
fail:
    hvd_store_rollback(ing->st);
fail_closed:
    hvd_diagbuf_clear(ing->pending);
    engine_drop(ing);
    hvd_source_close(src);
    return rc;
}

int hvd_ingest_finish(hvd_ingest *ing, int *changed, hvd_error *err)
{
    /* Each file's commit regrouped the incidents it touched; what the engine still holds
     * is stored (and regrouped) in a transaction of its own. */
    int rc = hvd_store_begin(ing->st, err);

    if (rc == HVD_OK && !ing->engine) {
        rc = engine_renew(ing, err);
        if (rc < 0) {
            hvd_store_rollback(ing->st);
        }
    }
    if (rc == HVD_OK) {
        ing->changed_file = 0;
        ing->failed = 0;
        hvd_diagbuf_clear(ing->pending);
        rc = hvd_engine_flush(ing->engine, err);
        if (rc == HVD_OK && !ing->failed) {
            (void)write_pending(ing); /* failure: ing->failed, below */
        }
        if (rc == HVD_OK && ing->failed) {
            *err = ing->store_err;
            rc = err->code;
        }
        rc = rc == HVD_OK ? hvd_store_commit(ing->st, err) : rc;
        if (rc < 0) {
            hvd_store_rollback(ing->st);
            hvd_diagbuf_clear(ing->pending);
            engine_drop(ing);
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
    hvd_needs_destroy(ing->needs);
    hvd_diagbuf_destroy(ing->pending);
    hvd_free(ing);
}

#ifdef HVD_TESTING
void hvd__ingest_fail_store_after(hvd_ingest *ing, long n)
{
    ing->fail_after = n < 0 ? -1 : n;
}

void hvd__ingest_tight(hvd_ingest *ing)
{
    ing->tight = 1;
    ing->settle_every = 1;
    hvd__store_settle_min(ing->st, 0);
    if (ing->engine) {
        hvd__engine_drop_far(ing->engine, 0, 1);
    }
}

size_t hvd__ingest_held(const hvd_ingest *ing)
{
    return ing->engine ? hvd__engine_held(ing->engine) : 0;
}

uint64_t hvd__ingest_dropped(const hvd_ingest *ing)
{
    return ing->dropped + (ing->engine ? hvd_engine_get_stats(ing->engine)->evicted : 0);
}
#endif
