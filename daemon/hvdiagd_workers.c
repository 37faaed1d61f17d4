/*
 * hvdiagd workers, seen from the daemon: files are read in worker processes, `hvdiagd
 * --worker ...` (hvdiagd_worker.c), spawned from this same binary. Each gets one request
 * line per file on stdin and answers with one result line on stdout after the file's
 * transaction committed; this file turns results and deaths into hvdd_file_report() calls
 * and never touches a file's state itself. SQLite in WAL mode with a busy timeout is safe
 * across processes.
 *
 * Why processes: a thread cannot be stopped safely, a process can. A worker that crashes
 * (libevtx on a hostile file) or runs past file_timeout (and is killed) loses only its
 * open transaction, which rolls back; its file is quarantined (recorded in the store,
 * reported in "sources", not read again until it changes) and the next file gets a fresh
 * worker. The daemon keeps serving throughout. A worker that dies takes its correlation
 * memory with it, as a restart of the daemon does.
 *
 * Containment: a worker runs under worker_memory_limit (RLIMIT_DATA, which its EVTX
 * read-ahead child inherits; in sanitizer builds the allocator options in ASAN_OPTIONS
 * instead) and a CPU budget per file (RLIMIT_CPU, worker_cpu_limit or file_timeout). It is
 * replaced after worker_max_files files or once its resident size passes worker_max_rss
 * (libevtx leaks on malformed records, and a long-lived worker would accumulate that); the
 * new one primes its engine from the store as after a restart. A worker that runs out of
 * memory is replaced too.
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

#include "reslimit.h"
#include "source.h"

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
#define ENV_MAX     1024 /* environment entries handed to a worker */

extern char **environ;

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
    uint64_t files; /* files it has read */
    size_t used;
    char result[RESULT_MAX];
};

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

int hvdd_worker_pid(const struct hvdd_worker *w)
{
    return w->proc.pid;
}

/* The current file is finished, whatever the outcome: the worker is idle again. */
static void file_finished(struct hvdd_worker *w, const struct hvdd_report *r)
{
    struct hvdd *d = w->d;

    uv_timer_stop(&w->timer);
    hvdd_file_report(d, w->f, w->path, r);
    free(w->path);
    w->path = NULL;
    w->f = NULL;
    w->timed_out = 0;
    w->files++;
    d->running--;
}

/* After a file: replaced when it read its share of files or grew past worker_max_rss. */
static void maybe_replace(struct hvdd_worker *w, int out_of_memory)
{
    struct hvdd *d = w->d;
    uint64_t rss = 0;
    char why[128];

    if (w->retiring) {
        return;
    }
    if (out_of_memory) {
        snprintf(why, sizeof(why), "it ran out of memory");
    } else if (d->cfg->worker_max_files && w->files >= d->cfg->worker_max_files) {
        snprintf(why, sizeof(why), "%" PRIu64 " files", w->files);
    } else if (d->cfg->worker_max_rss &&
               (rss = hvd_reslimit_rss(w->proc.pid)) > d->cfg->worker_max_rss) {
        snprintf(why, sizeof(why), "resident size %" PRIu64 " MiB after %" PRIu64 " files",
                 rss >> 20, w->files);
    } else {
        return;
    }
    d->count.workers_replaced++;
    hvd_log(&d->log, HVD_LOG_INFO, "worker %d replaced: %s", w->proc.pid, why);
    retire(w);
}

/* One result line: {"class":"ok"|"file"|"retry"|"memory", "events", "fresh", "error"}. */
static void take_result(struct hvdd_worker *w, const char *line)
{
    json_t *r = json_loads(line, 0, NULL);
    const char *cls = json_string_value(json_object_get(r, "class"));
    struct hvdd_report rep;

    memset(&rep, 0, sizeof(rep));
    rep.error = json_string_value(json_object_get(r, "error"));
    if (!cls) {
        rep.outcome = HVDD_OUT_RETRY;
        rep.error = "the worker answered something else than a result";
    } else if (strcmp(cls, "ok") == 0) {
        rep.outcome = HVDD_OUT_READ;
        rep.events = (uint64_t)json_integer_value(json_object_get(r, "events"));
        rep.fresh = (uint64_t)json_integer_value(json_object_get(r, "fresh"));
        rep.skipped = (uint64_t)json_integer_value(json_object_get(r, "skipped"));
        rep.kind = hvdd_kind_parse(json_string_value(json_object_get(r, "kind")));
        rep.newest = (int64_t)json_integer_value(json_object_get(r, "newest"));
        rep.pending = json_integer_value(json_object_get(r, "pending")) > 0;
    } else if (strcmp(cls, "file") == 0) {
        rep.outcome = HVDD_OUT_BAD_FILE;
    } else if (strcmp(cls, "memory") == 0) {
        rep.outcome = HVDD_OUT_MEMORY;
    } else {
        rep.outcome = HVDD_OUT_RETRY;
    }
    file_finished(w, &rep);
    json_decref(r);
    maybe_replace(w, rep.outcome == HVDD_OUT_MEMORY);
}

/* Why a worker died while reading, as a report. */
static void death_report(const struct hvdd_worker *w, struct hvdd_report *rep, char *why,
                         size_t size)
{
    const hvd_config *c = w->d->cfg;

    memset(rep, 0, sizeof(*rep));
    rep->error = why;
    if (w->killed_for_stop) {
        rep->outcome = HVDD_OUT_STOPPED;
        snprintf(why, size, "stopped at shutdown");
    } else if (w->timed_out) {
        rep->outcome = HVDD_OUT_TIMEOUT;
        snprintf(why, size, "reading took longer than %" PRIu64 " ms", c->file_timeout_ms);
    } else if (w->term_signal == SIGXCPU) {
        rep->outcome = HVDD_OUT_TIMEOUT;
        snprintf(why, size, "reading used more than %" PRIu64 " ms of CPU time",
                 c->worker_cpu_ms ? c->worker_cpu_ms : c->file_timeout_ms);
    } else if (!w->term_signal &&
               (w->status == HVDD_WORKER_BAD_RULES || w->status == HVDD_WORKER_RETRY)) {
        rep->outcome = HVDD_OUT_RETRY;
        snprintf(why, size, "%s",
                 w->status == HVDD_WORKER_BAD_RULES ? "the worker cannot load the rules"
                                                    : "the worker cannot open the store");
    } else if (w->term_signal == SIGKILL) {
        /* not ours: the kernel's OOM killer, or the unit's MemoryMax= */
        rep->outcome = HVDD_OUT_CRASHED;
        snprintf(why, size, "the reader was killed (signal 9: out of memory?)");
    } else if (w->term_signal) {
        rep->outcome = HVDD_OUT_CRASHED;
        snprintf(why, size, "the reader crashed (signal %d, %s)", w->term_signal,
                 strsignal(w->term_signal));
    } else {
        rep->outcome = HVDD_OUT_CRASHED;
        snprintf(why, size, "the reader crashed (exit status %" PRId64 ")", w->status);
    }
}

/* Process gone and stdout drained: settle the file it was reading, if any. */
static void finalize(struct hvdd_worker *w)
{
    struct hvdd *d = w->d;
    char why[256];
    struct hvdd_report rep;

    if (w->path) {
        death_report(w, &rep, why, sizeof(why));
        file_finished(w, &rep);
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

/*
 * Sanitizer builds: this environment with ASAN_OPTIONS replaced by 'sanitizer' (the
 * allocator limits that stand in for setrlimit there). Caller frees the array (the strings
 * are borrowed); NULL when out of memory, and the worker then inherits ours.
 */
static char **worker_env(char *sanitizer)
{
    char **env = calloc(ENV_MAX + 2, sizeof(*env));
    size_t n = 0;

    if (!env) {
        return NULL;
    }
    for (char **e = environ; *e && n < ENV_MAX; e++) {
        if (strncmp(*e, "ASAN_OPTIONS=", 13) != 0) {
            env[n++] = *e;
        }
    }
    env[n++] = sanitizer;
    env[n] = NULL;
    return env;
}

static struct hvdd_worker *worker_spawn(struct hvdd *d)
{
    struct hvdd_worker *w = calloc(1, sizeof(*w));
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    char level[16];
    char parent[32];
    char memory[32];
    char cpu[32];
    char sanitizer[1024];
    char *args[20];
    char **env = NULL;
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
    snprintf(memory, sizeof(memory), "%" PRIu64, d->cfg->worker_memory_limit);
    args[n++] = "--memory-limit";
    args[n++] = memory;
    snprintf(cpu, sizeof(cpu), "%" PRIu64,
             d->cfg->worker_cpu_ms ? d->cfg->worker_cpu_ms : d->cfg->file_timeout_ms);
    args[n++] = "--cpu-limit";
    args[n++] = cpu;
    args[n++] = "--evtx-reader";
    args[n++] = (char *)hvd_evtx_decoder_name((hvd_evtx_decoder)d->cfg->evtx_decoder);
    args[n] = NULL;
    if (hvd_reslimit_sanitizer_options(d->cfg->worker_memory_limit, getenv("ASAN_OPTIONS"),
                                       sanitizer, sizeof(sanitizer)) == HVD_OK) {
        env = worker_env(sanitizer);
    }

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
    opt.env = env; /* NULL: this process's environment */
    w->next = d->workers;
    d->workers = w;
    rc = uv_spawn(d->loop, &w->proc, &opt);
    free(env);
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

struct hvdd_worker *hvdd_worker_assign(struct hvdd *d, struct hvdd_file *f,
                                       const struct hvdd_job *job)
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
        return NULL;
    }
    /* follow: a cluster.log is read on from its checkpoint */
    req = json_pack("{s:s,s:b,s:b}", "path", job->path, "follow", 1, "complete", job->complete);
    if (req && job->host) {
        json_object_set_new(req, "host", json_string(job->host));
    }
    if (req && job->kind != HVD_SOURCE_UNKNOWN) {
        json_object_set_new(req, "kind", json_string(hvd_source_kind_name(job->kind)));
    }
    text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    len = text ? strlen(text) : 0;
    wr = text && len < REQUEST_MAX ? malloc(sizeof(*wr) + len + 1) : NULL;
    if (!wr || !(w->path = strdup(job->path))) {
        free(text);
        free(wr);
        return NULL;
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
        return NULL;
    }
    w->f = f;
    w->killed_for_stop = 0;
    w->timed_out = 0;
    uv_timer_start(&w->timer, on_timeout, d->cfg->file_timeout_ms, 0);
    d->running++;
    return w;
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
