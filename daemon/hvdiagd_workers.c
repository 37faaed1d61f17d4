/*
 * hvdiagd workers: files are read in worker processes, `hvdiagd --worker ...`, spawned from
 * this same binary. A worker loads the rule set, opens the store and keeps one ingest
 * pipeline (so one engine: correlations join diagnoses from every file it has read, across
 * hosts), then reads requests on stdin, one JSON line per file, and answers each with one
 * JSON result line on stdout after the file's transaction committed. SQLite in WAL mode
 * with a busy timeout is safe across processes.
 *
 * Why processes: a thread cannot be stopped safely, a process can. A worker that crashes
 * (libevtx on a hostile file) or runs past file_timeout (and is killed) loses only its
 * open transaction, which rolls back; its file is quarantined (recorded in the store,
 * reported in "sources", not read again until it changes) and the next file gets a fresh
 * worker. The daemon keeps serving throughout. A worker that dies takes its correlation
 * memory with it, as a restart of the daemon does.
 *
 * Workers get PR_SET_PDEATHSIG, so a daemon killed with -9 does not leave one writing.
 * After a reload the workers are retired (stdin closed: they exit after their current file)
 * and new ones load the new rules. At most cfg->workers run; each reads one file at a time.
 *
 * A worker owns four handles (process, stdin, stdout, time-limit timer); it is finalised
 * when the process has exited and its stdout reached EOF, and freed when the last handle
 * closes.
 */
#define _GNU_SOURCE
#include "hvdiagd.h"

#include "ingest.h"

#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define RESULT_MAX  8192
#define REQUEST_MAX 8192
#define RETRY_MS    5000

struct hvdd_worker {
    struct hvdd *d;
    struct hvdd_worker *next;
    uv_process_t proc;
    uv_pipe_t in;
    uv_pipe_t out;
    uv_timer_t timer;
    int open_handles;
    int spawned;
    int exited;
    int eof;
    int retiring;
    int64_t status;
    int term_signal;
    /* the file it reads now; path NULL when idle */
    char *path;
    struct hvdd_file *f; /* NULL once the file is forgotten */
    int timed_out;
    int killed_for_stop;
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

/* --- the parent side ----------------------------------------------------------------- */

static void worker_closed(uv_handle_t *h)
{
    struct hvdd_worker *w = h->data;
    struct hvdd *d = w->d;

    if (--w->open_handles > 0) {
        return;
    }
    for (struct hvdd_worker **pp = &d->workers; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    free(w->path);
    free(w);
    hvdd_maybe_finish_stop(d);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        uv_close(h, worker_closed);
    }
}

static void close_all(struct hvdd_worker *w)
{
    close_handle((uv_handle_t *)&w->proc);
    close_handle((uv_handle_t *)&w->in);
    close_handle((uv_handle_t *)&w->out);
    close_handle((uv_handle_t *)&w->timer);
}

/* Closes its stdin: it finishes the current file, then exits. */
static void retire(struct hvdd_worker *w)
{
    w->retiring = 1;
    close_handle((uv_handle_t *)&w->in);
}

void hvdd_worker_detach(struct hvdd_worker *w)
{
    w->f = NULL;
}

static void set_error(struct hvdd_file *f, const char *msg)
{
    free(f->last_error);
    f->last_error = msg ? strdup(msg) : NULL;
}

/* The current file is finished, whatever the outcome: the worker is idle again. */
static void file_finished(struct hvdd_worker *w)
{
    struct hvdd *d = w->d;

    uv_timer_stop(&w->timer);
    if (w->f) {
        w->f->worker = NULL;
    }
    free(w->path);
    w->path = NULL;
    w->f = NULL;
    w->timed_out = 0;
    d->running--;
}

static void quarantine(struct hvdd_worker *w, const char *reason)
{
    struct hvdd *d = w->d;

    d->count.quarantined++;
    hvd_log(&d->log, HVD_LOG_ERR, "%s: quarantined: %s", w->path, reason);
    if (w->f) {
        w->f->state = HVDD_QUARANTINED;
        set_error(w->f, reason);
    }
    record_quarantine(d, w->path, reason);
}

static void retry_later(struct hvdd_worker *w, const char *why)
{
    struct hvdd *d = w->d;

    hvd_log(&d->log, HVD_LOG_WARNING, "%s: %s; trying again later", w->path, why);
    if (w->f) {
        w->f->state = HVDD_RETRY;
        w->f->retry_at = uv_now(d->loop) + RETRY_MS;
        set_error(w->f, why);
    }
}

/* One result line: {"class":"ok"|"file"|"retry", "events", "fresh", "error"}. */
static void take_result(struct hvdd_worker *w, const char *line)
{
    struct hvdd *d = w->d;
    json_t *r = json_loads(line, 0, NULL);
    const char *cls = json_string_value(json_object_get(r, "class"));
    const char *error = json_string_value(json_object_get(r, "error"));
    struct hvdd_file *f = w->f;

    if (!cls) {
        cls = "retry";
        error = "the worker answered something else than a result";
    }
    if (strcmp(cls, "ok") == 0) {
        uint64_t events = (uint64_t)json_integer_value(json_object_get(r, "events"));
        uint64_t fresh = (uint64_t)json_integer_value(json_object_get(r, "fresh"));

        d->count.files_ingested++;
        d->count.events += events;
        d->count.fresh += fresh;
        hvd_log(&d->log, HVD_LOG_INFO, "%s: %" PRIu64 " events, %" PRIu64 " new", w->path, events,
                fresh);
        if (f) {
            f->state = HVDD_DONE;
            if (json_integer_value(json_object_get(r, "pending")) > 0) {
                f->retry_at = uv_now(d->loop) + HVDD_COMPLETE_MS;
                f->complete_next = 1; /* done, but for a line still open */
            }
            f->reads++;
            f->events = events;
            f->fresh = fresh;
            set_error(f, error);
        }
    } else if (strcmp(cls, "file") == 0) {
        d->count.failed++;
        hvd_log(&d->log, HVD_LOG_WARNING, "%s: %s", w->path, error ? error : "cannot be read");
        if (f) {
            f->state = HVDD_FAILED;
            set_error(f, error ? error : "cannot be read");
        }
    } else {
        retry_later(w, error ? error : "the worker could not finish");
    }
    json_decref(r);
    file_finished(w);
}

/* Process gone and stdout drained: settle the file it was reading, if any. */
static void finalize(struct hvdd_worker *w)
{
    struct hvdd *d = w->d;
    char reason[256];

    if (w->path) {
        if (w->killed_for_stop) {
            /* its transaction rolled back; the file is read again at the next start */
            hvd_log(&d->log, HVD_LOG_NOTICE, "%s: worker stopped at shutdown", w->path);
        } else if (w->timed_out) {
            d->count.timeouts++;
            snprintf(reason, sizeof(reason), "reading took longer than %" PRIu64 " ms",
                     d->cfg->file_timeout_ms);
            quarantine(w, reason);
        } else if (!w->term_signal &&
                   (w->status == HVDD_WORKER_BAD_RULES || w->status == HVDD_WORKER_RETRY)) {
            retry_later(w, w->status == HVDD_WORKER_BAD_RULES ? "the worker cannot load the rules"
                                                              : "the worker cannot open the store");
        } else {
            d->count.crashed++;
            if (w->term_signal) {
                snprintf(reason, sizeof(reason), "the reader crashed (signal %d, %s)",
                         w->term_signal, strsignal(w->term_signal));
            } else {
                snprintf(reason, sizeof(reason), "the reader crashed (exit status %" PRId64 ")",
                         w->status);
            }
            quarantine(w, reason);
        }
        file_finished(w);
    } else if (!w->retiring && !d->stopping && (w->term_signal || w->status != 0)) {
        hvd_log(&d->log, HVD_LOG_WARNING, "idle worker %d ended (status %" PRId64 ", signal %d)",
                w->proc.pid, w->status, w->term_signal);
    }
    w->retiring = 1;
    close_all(w);
    hvdd_server_announce(d);
    hvdd_files_schedule(d);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    struct hvdd_worker *w = p->data;

    w->exited = 1;
    w->status = status;
    w->term_signal = term_signal;
    if (w->eof) {
        finalize(w);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct hvdd_worker *w = h->data;

    (void)suggested;
    /* a line longer than the buffer is cut: keep reading so the pipe drains */
    if (w->used >= RESULT_MAX - 1) {
        w->used = RESULT_MAX - 2;
    }
    *buf = uv_buf_init(w->result + w->used, (unsigned)(RESULT_MAX - 1 - w->used));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct hvdd_worker *w = s->data;
    char *nl;
    int done = 0;

    (void)buf;
    if (nread < 0) {
        uv_read_stop(s);
        w->eof = 1;
        if (w->exited) {
            finalize(w);
        }
        return;
    }
    w->used += (size_t)nread;
    while ((nl = memchr(w->result, '\n', w->used)) != NULL) {
        size_t len = (size_t)(nl - w->result);

        *nl = '\0';
        if (w->path) {
            take_result(w, w->result);
            done++;
        }
        memmove(w->result, nl + 1, w->used - len - 1);
        w->used -= len + 1;
    }
    if (done) {
        hvdd_server_announce(w->d);
        hvdd_files_schedule(w->d);
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct hvdd_worker *w = t->data;

    /* during a stop, the time limit is just the end of the grace period */
    if (w->d->stopping) {
        w->killed_for_stop = 1;
    } else {
        w->timed_out = 1;
    }
    uv_process_kill(&w->proc, SIGKILL);
}

static struct hvdd_worker *worker_spawn(struct hvdd *d)
{
    struct hvdd_worker *w = calloc(1, sizeof(*w));
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    char level[16];
    char parent[32];
    char *args[16];
    int n = 0;
    int rc;

    if (!w) {
        return NULL;
    }
    w->d = d;
    snprintf(level, sizeof(level), "%d", d->log.min_level);
    snprintf(parent, sizeof(parent), "%ld", (long)getpid());
    args[n++] = d->exe;
    args[n++] = "--worker";
    args[n++] = "--db";
    args[n++] = d->cfg->database;
    args[n++] = "--rules";
    args[n++] = d->cfg->rules;
    args[n++] = "--log-level";
    args[n++] = level;
    args[n++] = "--parent";
    args[n++] = parent;
    args[n++] = "--evtx-reader";
    args[n++] = (char *)hvd_evtx_decoder_name((hvd_evtx_decoder)d->cfg->evtx_decoder);
    args[n] = NULL;

    uv_pipe_init(d->loop, &w->in, 0);
    w->in.data = w;
    uv_pipe_init(d->loop, &w->out, 0);
    w->out.data = w;
    uv_timer_init(d->loop, &w->timer);
    w->timer.data = w;
    w->proc.data = w;
    w->open_handles = 4;
    memset(&opt, 0, sizeof(opt));
    memset(stdio, 0, sizeof(stdio));
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&w->in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&w->out;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    opt.file = d->exe;
    opt.args = args;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = on_exit_cb;
    w->next = d->workers;
    d->workers = w;
    rc = uv_spawn(d->loop, &w->proc, &opt);
    if (rc < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "cannot start a worker: %s", uv_strerror(rc));
        /* the process handle is initialised even when the spawn fails */
        w->retiring = 1;
        close_all(w);
        return NULL;
    }
    w->spawned = 1;
    uv_read_start((uv_stream_t *)&w->out, on_alloc, on_read);
    hvd_log(&d->log, HVD_LOG_DEBUG, "worker %d started", w->proc.pid);
    return w;
}

/* A write request and its payload: one allocation, freed in the write callback. */
struct wreq {
    uv_write_t req;
    char data[];
};

static void on_written(uv_write_t *req, int status)
{
    (void)status; /* a worker that died is seen by its exit callback */
    free(req);
}

int hvdd_worker_assign(struct hvdd *d, struct hvdd_file *f)
{
    struct hvdd_worker *w = NULL;
    unsigned alive = 0;
    json_t *req;
    char *text;
    struct wreq *wr;
    size_t len;
    uv_buf_t b;

    for (struct hvdd_worker *it = d->workers; it; it = it->next) {
        if (it->retiring || it->exited) {
            continue;
        }
        alive++;
        if (!it->path && !w) {
            w = it;
        }
    }
    if (!w && alive < d->cfg->workers) {
        w = worker_spawn(d);
    }
    if (!w) {
        return -1;
    }
    /* follow: a cluster.log is read on from its checkpoint; complete: its writer is done */
    req = json_pack("{s:s,s:b,s:b}", "path", f->path, "follow", 1, "complete",
                    f->complete_next && f->read_valid && f->read.ino == f->seen.ino &&
                        f->read.size == f->seen.size && f->read.mtime_ns == f->seen.mtime_ns);
    f->complete_next = 0;
    if (f->host) {
        json_object_set_new(req, "host", json_string(f->host));
    }
    if (f->kind != HVD_SOURCE_UNKNOWN) {
        json_object_set_new(req, "kind", json_string(hvd_source_kind_name(f->kind)));
    }
    text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    len = text ? strlen(text) : 0;
    wr = text && len < REQUEST_MAX ? malloc(sizeof(*wr) + len + 1) : NULL;
    if (!wr || !(w->path = strdup(f->path))) {
        free(text);
        free(wr);
        return -1;
    }
    memcpy(wr->data, text, len);
    wr->data[len] = '\n';
    free(text);
    b = uv_buf_init(wr->data, (unsigned)(len + 1));
    if (uv_write(&wr->req, (uv_stream_t *)&w->in, &b, 1, on_written) < 0) {
        free(wr);
        free(w->path);
        w->path = NULL;
        retire(w);
        return -1;
    }
    w->f = f;
    w->killed_for_stop = 0;
    w->timed_out = 0;
    uv_timer_start(&w->timer, on_timeout, d->cfg->file_timeout_ms, 0);
    d->running++;
    f->worker = w;
    f->state = HVDD_RUNNING;
    f->read = f->seen;
    f->read_valid = 1;
    hvd_log(&d->log, HVD_LOG_DEBUG, "%s: to worker %d (%s)", f->path, w->proc.pid,
            hvdd_change_name(f->change));
    return 0;
}

void hvdd_workers_retire(struct hvdd *d)
{
    for (struct hvdd_worker *w = d->workers; w; w = w->next) {
        if (!w->retiring) {
            retire(w);
        }
    }
}

void hvdd_workers_kill_busy(struct hvdd *d)
{
    for (struct hvdd_worker *w = d->workers; w; w = w->next) {
        if (!w->exited && w->path) {
            w->killed_for_stop = 1;
            uv_process_kill(&w->proc, SIGKILL);
        }
    }
}

/* --- the worker side ----------------------------------------------------------------- */

struct worker_args {
    const char *path; /* --ingest-one */
    const char *db;
    const char *rules;
    const char *host;
    hvd_source_kind kind;
    hvd_evtx_decoder evtx_decoder;
    int level;
    long parent;
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

static hvd_source_kind kind_parse(const char *s)
{
    if (s && strcmp(s, "evtx") == 0) {
        return HVD_SOURCE_EVTX;
    }
    if (s && strcmp(s, "clusterlog") == 0) {
        return HVD_SOURCE_CLUSTERLOG;
    }
    return HVD_SOURCE_UNKNOWN;
}

/*
 * The seam to the pipeline: one file through source -> seen-filter -> engine -> store, its
 * diagnoses and checkpoint in one transaction, then the incidents regrouped. Returns
 * "ok", "file" (the file cannot be read) or "retry" (the store failed), and fills *res.
 */
static const char *ingest_one(hvd_ingest *ing, const char *path, const char *host,
                              hvd_source_kind kind, const struct worker_args *a, const json_t *req,
                              hvd_ingest_result *res, hvd_error *err)
{
    hvd_ingest_options opt;

    memset(&opt, 0, sizeof(opt));
    memset(res, 0, sizeof(*res));
    opt.evtx_decoder = a->evtx_decoder;
    opt.host_hint = host;
    opt.follow = json_is_true(json_object_get(req, "follow"));
    opt.complete = json_is_true(json_object_get(req, "complete"));
    if (kind != HVD_SOURCE_UNKNOWN) {
        hvd_error derr;
        hvd_source_kind k = hvd_source_detect(path, &derr);

        if (k != kind) {
            hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "not a %s file (found %s)",
                          hvd_source_kind_name(kind), hvd_source_kind_name(k));
            return "file";
        }
    }
#ifdef HVD_DAEMON_TEST_HOOKS
    test_hooks(path);
#endif
    if (hvd_ingest_file(ing, path, path, &opt, res, err) < 0) {
        return err->code == HVD_ESTORE || err->code == HVD_ENOMEM ? "retry" : "file";
    }
    if (hvd_ingest_finish(ing, NULL, err) < 0) {
        return "retry";
    }
    return "ok";
}

static void print_result(const char *cls, const hvd_ingest_result *res, const hvd_error *err)
{
    json_t *out = json_object();

    json_object_set_new(out, "class", json_string(cls));
    json_object_set_new(out, "events", json_integer((json_int_t)res->events));
    json_object_set_new(out, "fresh", json_integer((json_int_t)res->fresh));
    json_object_set_new(out, "repeated", json_integer((json_int_t)res->repeated));
    json_object_set_new(out, "changed", json_boolean(res->changed));
    json_object_set_new(out, "resumed", json_boolean(res->resumed));
    json_object_set_new(out, "pending", json_integer((json_int_t)res->pending));
    if (strcmp(cls, "ok") != 0) {
        json_object_set_new(out, "error", json_string(err->msg));
    }
    json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(out);
}

static int parse_args(int argc, char **argv, struct worker_args *a)
{
    memset(a, 0, sizeof(*a));
    a->level = HVD_LOG_INFO;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--worker") == 0) {
            continue;
        }
        if (!v) {
            fprintf(stderr, "hvdiagd: %s needs a value\n", argv[i]);
            return -1;
        }
        if (strcmp(argv[i], "--ingest-one") == 0) {
            a->path = v;
        } else if (strcmp(argv[i], "--db") == 0) {
            a->db = v;
        } else if (strcmp(argv[i], "--rules") == 0) {
            a->rules = v;
        } else if (strcmp(argv[i], "--host") == 0) {
            a->host = v;
        } else if (strcmp(argv[i], "--kind") == 0) {
            a->kind = kind_parse(v);
        } else if (strcmp(argv[i], "--log-level") == 0) {
            a->level = (int)strtol(v, NULL, 10);
        } else if (strcmp(argv[i], "--evtx-reader") == 0) {
            if (hvd_evtx_decoder_parse(v, &a->evtx_decoder) < 0) {
                fprintf(stderr, "hvdiagd: --evtx-reader: '%s' is not libevtx or native\n", v);
                return -1;
            }
        } else if (strcmp(argv[i], "--parent") == 0) {
            a->parent = strtol(v, NULL, 10);
        } else {
            fprintf(stderr, "hvdiagd: unknown worker option '%s'\n", argv[i]);
            return -1;
        }
        i++;
    }
    if (!a->db || !a->rules) {
        fprintf(stderr, "usage: hvdiagd --worker --db DB --rules DIR [--log-level N]\n"
                        "       hvdiagd --ingest-one FILE --db DB --rules DIR [--host H] "
                        "[--kind evtx|clusterlog]\n");
        return -1;
    }
    return 0;
}

int hvdd_worker_main(int argc, char **argv)
{
    struct worker_args a;
    hvd_logger log = {worker_log, NULL, HVD_LOG_INFO};
    hvd_ruleset *rs = NULL;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_error err;
    char line[REQUEST_MAX];
    const char *cls = "ok";
    int code = HVDD_WORKER_OK;

    if (parse_args(argc, argv, &a) < 0) {
        return 2;
    }
    if (a.parent) {
        /* die with the daemon: a kill -9 of it must not leave a writer behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != (pid_t)a.parent) {
            return HVDD_WORKER_RETRY;
        }
    }
    log.min_level = a.level;
    memset(&res, 0, sizeof(res));
    hvd_error_clear(&err);
    if (hvd_ruleset_load(&rs, a.rules, NULL, &log, &err) < 0) {
        code = HVDD_WORKER_BAD_RULES;
        goto out;
    }
    if (hvd_store_open(&st, a.db, 0, &err) < 0 || hvd_ingest_create(&ing, st, rs, &log, &err) < 0) {
        code = HVDD_WORKER_RETRY;
        goto out;
    }
    if (a.path) {
        cls = ingest_one(ing, a.path, a.host, a.kind, &a, NULL, &res, &err);
        print_result(cls, &res, &err);
        code = strcmp(cls, "ok") == 0     ? HVDD_WORKER_OK
               : strcmp(cls, "file") == 0 ? HVDD_WORKER_BAD_FILE
                                          : HVDD_WORKER_RETRY;
        goto out;
    }
    while (fgets(line, sizeof(line), stdin)) {
        json_t *req = json_loads(line, 0, NULL);
        const char *path = json_string_value(json_object_get(req, "path"));

        hvd_error_clear(&err);
        if (!path) {
            memset(&res, 0, sizeof(res));
            hvd_error_set(&err, HVD_EPROTO, NULL, 0, "a request needs a \"path\"");
            print_result("file", &res, &err);
        } else {
            cls = ingest_one(ing, path, json_string_value(json_object_get(req, "host")),
                             kind_parse(json_string_value(json_object_get(req, "kind"))), &a, req,
                             &res, &err);
            print_result(cls, &res, &err);
        }
        json_decref(req);
    }
out:
    if (code != HVDD_WORKER_OK) {
        hvd_log(&log, HVD_LOG_ERR, "%s", err.msg);
    }
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    hvd_ruleset_destroy(rs);
    return code;
}
