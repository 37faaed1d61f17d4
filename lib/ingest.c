/*
 * ingest: one file through the whole data flow. The engine's diagnoses go straight to the
 * store inside the file's transaction; a store failure stops the file and rolls it back.
 */
#include "ingest.h"

#include "alloc.h"
#include "engine.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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
    *out = ing;
    return HVD_OK;
}

static int record_source(hvd_ingest *ing, const char *path, const char *display, hvd_source *src,
                         const char *last_error, hvd_error *err)
{
    const hvd_source_stats *s = hvd_source_get_stats(src);
    hvd_store_source row;
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
    row.events = s->events;
    row.skipped = s->skipped;
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
    rc = hvd_source_open(&src, path, &sopt, ing->log, err);
    if (rc < 0) {
        return rc;
    }
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
    if (res->fresh || rc < 0) {
        rc = record_source(ing, path, display, src, rc < 0 ? rerr.msg : NULL, err);
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
