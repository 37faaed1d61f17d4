/*
 * hvdiagd jobs: each file is read by a worker process, `hvdiagd --ingest-one FILE ...`
 * spawned from this same binary. The worker does the whole ingest transaction itself
 * (SQLite in WAL mode with a busy timeout is safe across processes) and prints one JSON
 * result line on its stdout. A thread cannot be stopped safely, a process can: a worker
 * that crashes (libevtx on a hostile file) or runs past file_timeout (and is killed) rolls
 * its transaction back, and its file is quarantined: recorded in the store, reported in
 * "sources", and not read again until it changes. The daemon keeps serving throughout.
 *
 * A job owns three handles (process, stdout pipe, time limit timer); it completes when the
 * process has exited and its stdout reached EOF, and is freed when the last handle closes.
 */
#define _DEFAULT_SOURCE
#include "hvdiagd.h"

#include "ingest.h"

#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESULT_MAX 4096
#define RETRY_MS   5000

struct hvdd_job {
    struct hvdd *d;
    struct hvdd_file *f; /* NULL once the file is forgotten */
    char *path;
    struct hvdd_job *next;
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles;
    int exited;
    int eof;
    int timed_out;
    int killed_for_stop;
    int64_t status;
    int term_signal;
    uint64_t started;
    size_t used;
    char result[RESULT_MAX];
};

/* --- quarantine records, written off the loop --------------------------------------- */

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
    if (rc < 0) {
        q->rc = rc;
        return;
    }
    rc = hvd_store_begin(st, &q->err);
    if (rc == HVD_OK) {
        rc = hvd_store_get_source(st, q->path, &row, &q->err);
        if (rc == 0) {
            memset(&row, 0, sizeof(row));
            row.path = q->path;
            row.kind = "unknown";
            row.host = "";
            row.position = "";
            row.encoding = "";
            row.last_error = "";
        }
        if (rc >= 0) {
            row.quarantined = 1;
            row.quarantine_reason = q->reason;
            rc = hvd_store_put_source(st, &row, &q->err);
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

/* --- the parent side ----------------------------------------------------------------- */

static void job_closed(uv_handle_t *h)
{
    struct hvdd_job *job = h->data;
    struct hvdd *d = job->d;

    if (--job->open_handles > 0) {
        return;
    }
    for (struct hvdd_job **pp = &d->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == job) {
            *pp = job->next;
            break;
        }
    }
    free(job->path);
    free(job);
    hvdd_maybe_finish_stop(d);
}

static void job_close(struct hvdd_job *job)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&job->proc, (uv_handle_t *)&job->out,
                         (uv_handle_t *)&job->timer};

    for (size_t i = 0; i < 3; i++) {
        if (!uv_is_closing(hs[i])) {
            uv_close(hs[i], job_closed);
        }
    }
}

void hvdd_job_detach(struct hvdd_job *job)
{
    job->f = NULL;
}

static void set_error(struct hvdd_file *f, const char *msg)
{
    free(f->last_error);
    f->last_error = msg ? strdup(msg) : NULL;
}

static void quarantine(struct hvdd *d, struct hvdd_job *job, const char *reason)
{
    d->count.quarantined++;
    hvd_log(&d->log, HVD_LOG_ERR, "%s: quarantined: %s", job->path, reason);
    if (job->f) {
        job->f->state = HVDD_QUARANTINED;
        set_error(job->f, reason);
    }
    record_quarantine(d, job->path, reason);
}

/* Reads the worker's result line: {"ok":..., "events", "fresh", "error"}. */
static void take_result(struct hvdd *d, struct hvdd_job *job)
{
    json_t *r;
    struct hvdd_file *f = job->f;
    const char *error;

    job->result[job->used < RESULT_MAX ? job->used : RESULT_MAX - 1] = '\0';
    r = json_loads(job->result, JSON_DISABLE_EOF_CHECK, NULL);
    error = json_string_value(json_object_get(r, "error"));
    if (job->status == HVDD_WORKER_OK) {
        uint64_t events = (uint64_t)json_integer_value(json_object_get(r, "events"));
        uint64_t fresh = (uint64_t)json_integer_value(json_object_get(r, "fresh"));

        d->count.files_ingested++;
        d->count.events += events;
        d->count.fresh += fresh;
        hvd_log(&d->log, HVD_LOG_INFO, "%s: %" PRIu64 " events, %" PRIu64 " new", job->path, events,
                fresh);
        if (f) {
            f->state = HVDD_DONE;
            f->reads++;
            f->events = events;
            f->fresh = fresh;
            set_error(f, error);
        }
    } else if (job->status == HVDD_WORKER_BAD_FILE) {
        d->count.failed++;
        hvd_log(&d->log, HVD_LOG_WARNING, "%s: %s", job->path, error ? error : "cannot be read");
        if (f) {
            f->state = HVDD_FAILED;
            set_error(f, error ? error : "cannot be read");
        }
    } else {
        hvd_log(&d->log, HVD_LOG_WARNING, "%s: %s; trying again later", job->path,
                error ? error : "worker failed");
        if (f) {
            f->state = HVDD_RETRY;
            f->retry_at = uv_now(d->loop) + RETRY_MS;
            set_error(f, error);
        }
    }
    json_decref(r);
}

static void job_complete(struct hvdd_job *job)
{
    struct hvdd *d = job->d;
    char reason[256];

    uv_timer_stop(&job->timer);
    d->running--;
    if (job->f) {
        job->f->job = NULL;
    }
    if (job->killed_for_stop) {
        /* its transaction rolled back; the file is read again at the next start */
        hvd_log(&d->log, HVD_LOG_NOTICE, "%s: worker stopped at shutdown", job->path);
    } else if (job->timed_out) {
        d->count.timeouts++;
        snprintf(reason, sizeof(reason), "reading took longer than %" PRIu64 " ms",
                 d->cfg->file_timeout_ms);
        quarantine(d, job, reason);
    } else if (job->term_signal) {
        d->count.crashed++;
        snprintf(reason, sizeof(reason), "the reader crashed (signal %d, %s)", job->term_signal,
                 strsignal(job->term_signal));
        quarantine(d, job, reason);
    } else if (job->status != HVDD_WORKER_OK && job->status != HVDD_WORKER_BAD_FILE &&
               job->status != HVDD_WORKER_RETRY && job->status != HVDD_WORKER_BAD_RULES) {
        d->count.crashed++;
        snprintf(reason, sizeof(reason), "the reader crashed (exit status %" PRId64 ")",
                 job->status);
        quarantine(d, job, reason);
    } else {
        take_result(d, job);
    }
    job_close(job);
    hvdd_server_announce(d);
    hvdd_files_schedule(d);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    struct hvdd_job *job = p->data;

    job->exited = 1;
    job->status = status;
    job->term_signal = term_signal;
    if (job->eof) {
        job_complete(job);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct hvdd_job *job = h->data;

    (void)suggested;
    /* past the limit, keep reading into the last byte so the pipe drains */
    if (job->used >= RESULT_MAX - 1) {
        job->used = RESULT_MAX - 2;
    }
    *buf = uv_buf_init(job->result + job->used, (unsigned)(RESULT_MAX - 1 - job->used));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct hvdd_job *job = s->data;

    (void)buf;
    if (nread > 0) {
        job->used += (size_t)nread;
        return;
    }
    if (nread == 0) {
        return;
    }
    uv_read_stop(s);
    job->eof = 1;
    if (job->exited) {
        job_complete(job);
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct hvdd_job *job = t->data;

    /* during a stop, the time limit is just the end of the grace period */
    if (job->d->stopping) {
        job->killed_for_stop = 1;
    } else {
        job->timed_out = 1;
    }
    uv_process_kill(&job->proc, SIGKILL);
}

int hvdd_job_start(struct hvdd *d, struct hvdd_file *f)
{
    struct hvdd_job *job = calloc(1, sizeof(*job));
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    char level[8];
    char *args[16];
    int n = 0;
    int rc;

    if (!job || !(job->path = strdup(f->path))) {
        free(job);
        return UV_ENOMEM;
    }
    job->d = d;
    job->f = f;
    snprintf(level, sizeof(level), "%d", d->log.min_level);
    args[n++] = d->exe;
    args[n++] = "--ingest-one";
    args[n++] = job->path;
    args[n++] = "--db";
    args[n++] = d->cfg->database;
    args[n++] = "--rules";
    args[n++] = d->cfg->rules;
    args[n++] = "--log-level";
    args[n++] = level;
    if (f->host) {
        args[n++] = "--host";
        args[n++] = f->host;
    }
    if (f->kind != HVD_SOURCE_UNKNOWN) {
        args[n++] = "--kind";
        args[n++] = (char *)hvd_source_kind_name(f->kind);
    }
    args[n] = NULL;

    uv_pipe_init(d->loop, &job->out, 0);
    job->out.data = job;
    uv_timer_init(d->loop, &job->timer);
    job->timer.data = job;
    memset(&opt, 0, sizeof(opt));
    memset(stdio, 0, sizeof(stdio));
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&job->out;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    opt.file = d->exe;
    opt.args = args;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = on_exit_cb;
    job->proc.data = job;
    job->open_handles = 3;
    job->next = d->jobs;
    d->jobs = job;
    rc = uv_spawn(d->loop, &job->proc, &opt);
    if (rc < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "%s: cannot start a worker: %s", f->path, uv_strerror(rc));
        /* the process handle is initialised even when the spawn fails */
        job->f = NULL;
        job_close(job);
        return rc;
    }
    uv_read_start((uv_stream_t *)&job->out, on_alloc, on_read);
    uv_timer_start(&job->timer, on_timeout, d->cfg->file_timeout_ms, 0);
    job->started = uv_now(d->loop);
    d->running++;
    f->job = job;
    f->state = HVDD_RUNNING;
    f->read = f->seen;
    f->read_valid = 1;
    hvd_log(&d->log, HVD_LOG_DEBUG, "%s: worker %d started (%s)", f->path, job->proc.pid,
            hvdd_change_name(f->change));
    return 0;
}

void hvdd_jobs_kill_all(struct hvdd *d)
{
    for (struct hvdd_job *job = d->jobs; job; job = job->next) {
        if (!job->exited) {
            job->killed_for_stop = 1;
            uv_process_kill(&job->proc, SIGKILL);
        }
    }
}

/* --- the worker side ----------------------------------------------------------------- */

struct worker_args {
    const char *path;
    const char *db;
    const char *rules;
    const char *host;
    hvd_source_kind kind;
    int level;
};

static void worker_log(void *ud, int level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "<%d>hvdiagd worker: %s\n", level, msg);
}

#ifdef HVD_DAEMON_TEST_HOOKS
/* Test builds only: make the worker crash or hang on chosen files. */
static void test_hooks(const char *path)
{
    const char *crash = getenv("HVD_TEST_CRASH_ON");
    const char *hang = getenv("HVD_TEST_HANG_ON");

    if (crash && *crash && strstr(path, crash)) {
        raise(SIGSEGV);
    }
    if (hang && *hang && strstr(path, hang)) {
        for (;;) {
            pause();
        }
    }
}
#endif

/*
 * The seam to the pipeline: one file through source -> seen-filter -> engine -> store, its
 * diagnoses and checkpoint in one transaction, then the incidents regrouped. Returns a
 * HVDD_WORKER_* exit code and fills *res.
 */
static int ingest_one(const struct worker_args *a, const hvd_logger *log, hvd_ingest_result *res,
                      hvd_error *err)
{
    hvd_ruleset *rs = NULL;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_options opt;
    int code;

    memset(&opt, 0, sizeof(opt));
    opt.host_hint = a->host;
    if (a->kind != HVD_SOURCE_UNKNOWN) {
        hvd_error derr;
        hvd_source_kind k = hvd_source_detect(a->path, &derr);

        if (k != a->kind) {
            hvd_error_set(err, HVD_EUNSUPPORTED, a->path, 0, "not a %s file (found %s)",
                          hvd_source_kind_name(a->kind), hvd_source_kind_name(k));
            return HVDD_WORKER_BAD_FILE;
        }
    }
    if (hvd_ruleset_load(&rs, a->rules, NULL, log, err) < 0) {
        code = HVDD_WORKER_BAD_RULES;
        goto out;
    }
    code = HVDD_WORKER_RETRY;
    if (hvd_store_open(&st, a->db, 0, err) < 0 || hvd_ingest_create(&ing, st, rs, log, err) < 0) {
        goto out;
    }
#ifdef HVD_DAEMON_TEST_HOOKS
    test_hooks(a->path);
#endif
    if (hvd_ingest_file(ing, a->path, a->path, &opt, res, err) < 0) {
        code = err->code == HVD_ESTORE || err->code == HVD_ENOMEM ? HVDD_WORKER_RETRY
                                                                  : HVDD_WORKER_BAD_FILE;
        goto out;
    }
    if (hvd_ingest_finish(ing, NULL, err) < 0) {
        goto out;
    }
    code = HVDD_WORKER_OK;
out:
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    hvd_ruleset_destroy(rs);
    return code;
}

int hvdd_worker_main(int argc, char **argv)
{
    struct worker_args a;
    hvd_logger log = {worker_log, NULL, HVD_LOG_INFO};
    hvd_ingest_result res;
    hvd_error err;
    json_t *out;
    int code;

    memset(&a, 0, sizeof(a));
    memset(&res, 0, sizeof(res));
    a.level = HVD_LOG_INFO;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ingest-one") == 0) {
            a.path = argv[i + 1];
        } else if (strcmp(argv[i], "--db") == 0) {
            a.db = argv[i + 1];
        } else if (strcmp(argv[i], "--rules") == 0) {
            a.rules = argv[i + 1];
        } else if (strcmp(argv[i], "--host") == 0) {
            a.host = argv[i + 1];
        } else if (strcmp(argv[i], "--kind") == 0) {
            a.kind = strcmp(argv[i + 1], "evtx") == 0         ? HVD_SOURCE_EVTX
                     : strcmp(argv[i + 1], "clusterlog") == 0 ? HVD_SOURCE_CLUSTERLOG
                                                              : HVD_SOURCE_UNKNOWN;
        } else if (strcmp(argv[i], "--log-level") == 0) {
            a.level = (int)strtol(argv[i + 1], NULL, 10);
        } else {
            fprintf(stderr, "hvdiagd --ingest-one: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!a.path || !a.db || !a.rules) {
        fprintf(stderr, "usage: hvdiagd --ingest-one FILE --db DB --rules DIR [--host H] "
                        "[--kind evtx|clusterlog] [--log-level N]\n");
        return 2;
    }
    log.min_level = a.level;
    hvd_error_clear(&err);
    code = ingest_one(&a, &log, &res, &err);
    out = json_object();
    json_object_set_new(out, "ok", json_boolean(code == HVDD_WORKER_OK));
    json_object_set_new(out, "events", json_integer((json_int_t)res.events));
    json_object_set_new(out, "fresh", json_integer((json_int_t)res.fresh));
    json_object_set_new(out, "repeated", json_integer((json_int_t)res.repeated));
    json_object_set_new(out, "changed", json_boolean(res.changed));
    if (code != HVDD_WORKER_OK) {
        json_object_set_new(out, "error", json_string(err.msg));
    }
    json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(out);
    return code;
}
