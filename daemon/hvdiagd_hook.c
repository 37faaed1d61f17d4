/*
 * The on_incident output: the configured program, run once per incident change, without a
 * shell. It gets the change as one JSON line on stdin (hvd_output_json(), the same
 * document as the JSON file) and HVDIAG_* variables in its environment
 * (hvd_output_hook_env()); its stdout is discarded, the first STDERR_MAX bytes of its
 * stderr are logged with its exit status. A run that outlives on_incident_timeout is
 * killed with its process group. A batch runs its records in order, at most
 * on_incident_max_running at once; after a failure no new run starts, and the batch ends
 * when the running ones have: the records from the first up to the first failure count as
 * delivered, the rest are retried later (a record after the failure that did succeed runs
 * again then: receivers drop it by HVDIAG_ID).
 *
 * Its stdin is not a pipe but an in-memory file (memfd) that holds the whole document
 * before the program starts: a daemon killed at any moment never leaves a run reading half
 * a change, and the program may read at its own pace or seek.
 *
 * A run owns three handles (process, stderr, timer) and is freed when the last one
 * closes; the hook itself is freed after close() once no run is left. Nothing here blocks
 * the loop: the spawn returns at once and the stderr pipe is non-blocking.
 */
#define _GNU_SOURCE
#include "hvdiagd.h"

#include "alloc.h"
#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define STDERR_MAX  4096
#define ENV_MAX     512 /* entries of the daemon's environment handed on */
#define DRAIN_MS    500 /* after the exit, how long stderr may stay open (a grandchild) */
#define MAX_RUNNING 64

extern char **environ;

struct hook;

struct run {
    struct hook *h;
    struct run *next; /* in h->runs until its handles closed */
    size_t index;     /* of the record in the batch */
    uv_process_t proc;
    uv_pipe_t err;
    uv_timer_t timer;
    int open_handles;
    int exited;
    int eof;
    int timed_out;
    int finished;
    int64_t status;
    int term_signal;
    size_t used;
    char text[STDERR_MAX + 1];
    char sink[1024]; /* stderr past STDERR_MAX: read and dropped */
};

struct hook {
    struct hvdd *d;
    char *program;
    /* the batch being delivered */
    const hvd_outbox_record *recs;
    size_t n;
    size_t next;     /* the next record to start */
    size_t running;  /* runs not yet finished */
    size_t ok_count; /* records that succeeded, in batch order */
    unsigned char ok[HVD_OUTPUT_BATCH_MAX];
    int failed;
    char error[512];
    hvd_output_done_fn done;
    void *ud;
    int closing;
    size_t alive;     /* runs whose handles are not all closed */
    struct run *runs; /* those runs */
};

static void hook_start_more(struct hook *h);

static void hook_maybe_free(struct hook *h)
{
    if (h->closing && h->alive == 0) {
        free(h->program);
        free(h);
    }
}

static void run_closed(uv_handle_t *handle)
{
    struct run *r = handle->data;
    struct hook *h = r->h;

    if (--r->open_handles > 0) {
        return;
    }
    for (struct run **pp = &h->runs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    free(r);
    h->alive--;
    hook_maybe_free(h);
}

static void close_handle(uv_handle_t *handle)
{
    if (!uv_is_closing(handle)) {
        uv_close(handle, run_closed);
    }
}

static void run_close(struct run *r)
{
    close_handle((uv_handle_t *)&r->proc);
    close_handle((uv_handle_t *)&r->err);
    close_handle((uv_handle_t *)&r->timer);
}

/* The stderr text as one line for the log. */
static const char *stderr_text(struct run *r)
{
    for (size_t i = 0; i < r->used; i++) {
        if (r->text[i] == '\n' || r->text[i] == '\r' || r->text[i] == '\0') {
            r->text[i] = ' ';
        }
    }
    while (r->used && r->text[r->used - 1] == ' ') {
        r->used--;
    }
    r->text[r->used] = '\0';
    return r->text;
}

/* The batch is over when nothing runs and nothing more will start. */
static void hook_maybe_done(struct hook *h)
{
    size_t delivered = 0;
    hvd_output_done_fn done = h->done;

    if (h->running || (!h->failed && h->next < h->n) || !done) {
        return;
    }
    while (delivered < h->n && h->ok[delivered]) {
        delivered++;
    }
    h->done = NULL;
    done(h->ud, delivered, delivered == h->n ? HVD_OK : HVD_EIO,
         delivered == h->n ? NULL : h->error);
}

/* The run is over: exited, and stderr drained or given up on. */
static void run_finish(struct run *r)
{
    struct hook *h = r->h;
    struct hvdd *d = h->d;
    char id[48];
    char why[160];
    int ok = r->exited && !r->timed_out && r->term_signal == 0 && r->status == 0;

    if (r->finished) {
        return;
    }
    r->finished = 1;
    run_close(r);
    if (h->closing) {
        return;
    }
    hvd_output_record_id(&h->recs[r->index], id, sizeof(id));
    if (r->timed_out) {
        snprintf(why, sizeof(why), "killed after %" PRIu64 " ms", d->cfg->hook_timeout_ms);
    } else if (r->term_signal) {
        snprintf(why, sizeof(why), "killed by signal %d", r->term_signal);
    } else {
        snprintf(why, sizeof(why), "exit status %" PRId64, r->status);
    }
    hvd_log(&d->log, ok ? HVD_LOG_INFO : HVD_LOG_WARNING, "hook %s for %s: %s%s%s", h->program, id,
            why, r->used ? "; stderr: " : "", r->used ? stderr_text(r) : "");
    h->running--;
    if (ok) {
        h->ok[r->index] = 1;
    } else if (!h->failed) {
        h->failed = 1;
        snprintf(h->error, sizeof(h->error), "%s for %s: %s", h->program, id, why);
    }
    hook_start_more(h);
    hook_maybe_done(h);
}

/* Before the exit: the time limit (kill the process group). After: the end of the drain. */
static void on_timer(uv_timer_t *t)
{
    struct run *r = t->data;

    if (r->exited) {
        run_finish(r);
        return;
    }
    r->timed_out = 1;
    /* detached: the hook leads its own process group, children included */
    uv_kill(-r->proc.pid, SIGKILL);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    struct run *r = p->data;

    r->exited = 1;
    r->status = status;
    r->term_signal = term_signal;
    uv_timer_stop(&r->timer);
    if (r->eof) {
        run_finish(r);
        return;
    }
    /* a grandchild may hold stderr open: wait a little, then stop reading */
    uv_timer_start(&r->timer, on_timer, DRAIN_MS, 0);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct run *r = handle->data;

    (void)suggested;
    if (r->used < STDERR_MAX) {
        *buf = uv_buf_init(r->text + r->used, (unsigned)(STDERR_MAX - r->used));
    } else {
        *buf = uv_buf_init(r->sink, sizeof(r->sink));
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct run *r = s->data;

    if (nread < 0) {
        uv_read_stop(s);
        r->eof = 1;
        if (r->exited) {
            run_finish(r);
        }
        return;
    }
    if (buf->base == r->text + r->used) {
        r->used += (size_t)nread;
    }
}

/* The change as a file the run reads from its start: an in-memory file holding the whole
 * JSON line. Returns its descriptor (close-on-exec; the spawn dups it to stdin) or -1. */
static int input_file(const hvd_outbox_record *rec)
{
    hvd_buf json;
    size_t off = 0;
    int fd = -1;

    hvd_buf_init(&json, 1 << 20);
    if (hvd_output_json(rec, &json) != HVD_OK || hvd_buf_addc(&json, '\n') != HVD_OK) {
        goto fail;
    }
    fd = memfd_create("hvdiag-incident", MFD_CLOEXEC);
    if (fd < 0) {
        goto fail;
    }
    while (off < json.len) {
        ssize_t n = write(fd, json.data + off, json.len - off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto fail;
        }
        off += (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        goto fail;
    }
    hvd_buf_free(&json);
    return fd;

fail:
    if (fd >= 0) {
        close(fd);
    }
    hvd_buf_free(&json);
    return -1;
}

/* The environment of a run: ours without HVDIAG_*, then the record's. Pointers into
 * environ and text; caller frees the array. */
static char **run_env(const hvd_outbox_record *rec, hvd_buf *text)
{
    const char *fields[HVD_OUTPUT_JOURNAL_FIELDS];
    char **env = calloc(ENV_MAX + HVD_OUTPUT_JOURNAL_FIELDS + 1, sizeof(*env));
    size_t n = 0;
    int nf;

    if (!env) {
        return NULL;
    }
    for (char **e = environ; *e && n < ENV_MAX; e++) {
        if (strncmp(*e, "HVDIAG_", 7) != 0) {
            env[n++] = *e;
        }
    }
    nf = hvd_output_hook_env(rec, text, fields, HVD_OUTPUT_JOURNAL_FIELDS);
    if (nf < 0) {
        free(env);
        return NULL;
    }
    for (int i = 0; i < nf; i++) {
        env[n++] = (char *)fields[i];
    }
    env[n] = NULL;
    return env;
}

/* Starts the run of record i. Returns 0, or -1 with h->error set. */
static int run_start(struct hook *h, size_t i)
{
    struct hvdd *d = h->d;
    struct run *r = calloc(1, sizeof(*r));
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    char *args[2];
    char **env = NULL;
    hvd_buf envtext;
    int in = -1;
    int rc;

    if (!r) {
        snprintf(h->error, sizeof(h->error), "%s: out of memory", h->program);
        return -1;
    }
    r->h = h;
    r->index = i;
    hvd_buf_init(&envtext, 64 * 1024);
    in = input_file(&h->recs[i]);
    env = in >= 0 ? run_env(&h->recs[i], &envtext) : NULL;
    if (!env) {
        snprintf(h->error, sizeof(h->error), "%s: cannot build its input", h->program);
        if (in >= 0) {
            close(in);
        }
        hvd_buf_free(&envtext);
        free(r);
        return -1;
    }
    uv_pipe_init(d->loop, &r->err, 0);
    uv_timer_init(d->loop, &r->timer);
    r->err.data = r->timer.data = r->proc.data = r;
    r->open_handles = 3;
    r->next = h->runs;
    h->runs = r;
    h->alive++;
    memset(&opt, 0, sizeof(opt));
    memset(stdio, 0, sizeof(stdio));
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = in;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&r->err;
    args[0] = h->program;
    args[1] = NULL;
    opt.file = h->program;
    opt.args = args;
    opt.env = env;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = on_exit_cb;
    opt.flags = UV_PROCESS_DETACHED; /* its own process group, killed as one */
    rc = uv_spawn(d->loop, &r->proc, &opt);
    close(in); /* the child holds its own copy */
    free(env);
    hvd_buf_free(&envtext);
    if (rc < 0) {
        snprintf(h->error, sizeof(h->error), "%s: cannot run: %s", h->program, uv_strerror(rc));
        r->finished = 1;
        run_close(r); /* the process handle is initialised even when the spawn fails */
        return -1;
    }
    h->running++;
    uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
    uv_timer_start(&r->timer, on_timer, d->cfg->hook_timeout_ms, 0);
    return 0;
}

static void hook_start_more(struct hook *h)
{
    unsigned limit = h->d->cfg->hook_max_running;

    if (limit == 0 || limit > MAX_RUNNING) {
        limit = MAX_RUNNING;
    }
    while (!h->failed && !h->closing && h->next < h->n && h->running < limit) {
        if (run_start(h, h->next) < 0) {
            h->failed = 1;
            break;
        }
        h->next++;
    }
}

static void hook_deliver(void *impl, const hvd_outbox_record *recs, size_t n,
                         hvd_output_done_fn done, void *ud)
{
    struct hook *h = impl;

    h->recs = recs;
    h->n = n < HVD_OUTPUT_BATCH_MAX ? n : HVD_OUTPUT_BATCH_MAX;
    h->next = 0;
    h->running = 0;
    h->failed = 0;
    h->error[0] = '\0';
    memset(h->ok, 0, sizeof(h->ok));
    h->done = done;
    h->ud = ud;
    hook_start_more(h);
    hook_maybe_done(h);
}

static void hook_close(void *impl)
{
    struct hook *h = impl;

    h->closing = 1;
    h->done = NULL;
    /* stop: runs still going are killed; each is freed when its handles have closed */
    for (struct run *r = h->runs; r; r = r->next) {
        if (!r->exited && r->proc.pid > 0) {
            uv_kill(-r->proc.pid, SIGKILL);
        }
        r->finished = 1;
        run_close(r);
    }
    hook_maybe_free(h);
}

static const char *hook_target(const void *impl)
{
    const struct hook *h = impl;

    return h->program;
}

static const hvd_output_ops hook_ops = {
    .name = "hook",
    .deliver = hook_deliver,
    .reopen = NULL,
    .close = hook_close,
    .target = hook_target,
};

int hvdd_hook_open(hvd_output *out, struct hvdd *d, hvd_error *err)
{
    struct hook *h = calloc(1, sizeof(*h));

    out->ops = NULL;
    out->impl = NULL;
    if (!h || !(h->program = strdup(d->cfg->on_incident))) {
        free(h);
        return hvd_error_set(err, HVD_ENOMEM, d->cfg->on_incident, 0, "out of memory");
    }
    h->d = d;
    out->ops = &hook_ops;
    out->impl = h;
    return HVD_OK;
}
