/*
 * hvdiagd outputs: every incident change reaches every configured output at least once.
 *
 * Workers write incidents; triggers in the store append each change to the outbox in the
 * same transaction (store.h, "outbox"). Here each output has a cursor in the store: the
 * last outbox row it delivered. Per output, one batch at a time: read the rows after the
 * cursor (at most HVD_OUTPUT_BATCH_MAX), hand them to the output (output.h), and write the
 * cursor forward to the last record it took before reading the next batch. So a kill -9 at
 * any moment repeats at most that output's last batch, and a receiver drops the repeats by
 * their stable id. An output that fails keeps its batch and is retried after a pause that
 * doubles from 1 s to retry_max; the others and the reading of files go on. Memory stays
 * bounded: at most one batch per output is held; the outbox waits on disk.
 *
 * Store work (cursors, reads, pruning) runs off the loop in uv_queue_work with a store
 * handle of its own, one job at a time: a worker holding the write lock for a long file
 * makes a cursor write wait (busy timeout), never the loop. Deliveries run on the loop:
 * outputs do not block (output.h). A one-second timer retries, and every few seconds
 * looks for rows nobody announced.
 *
 * Which outputs run is decided at start: changes to [outputs] take effect at the next
 * start (SIGHUP reopens the JSON file, and the hook's limits apply to its next runs).
 */
#define _GNU_SOURCE
#include "hvdiagd.h"

#include "output.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUTPUTS 4
#define TICK_MS     1000
#define POLL_TICKS  5  /* every 5 ticks, look for rows written without an announcement */
#define PRUNE_TICKS 60 /* and prune this often, whatever else happens */
#define BACKOFF_MIN 1000
#define ERROR_MAX   512

struct hvdd_out {
    struct hvdd_outputs *set;
    hvd_output out;
    const char *name;
    int64_t cursor;         /* the durable one: last row delivered and written down */
    int64_t ack;            /* delivered up to here, not yet written (0: nothing) */
    hvd_output_batch batch; /* read, not yet delivered */
    int more;               /* rows may wait after the cursor */
    int delivering;
    int in_deliver;  /* inside ops->deliver(): its done callback may come before it returns */
    int was_failing; /* failing before that delivery */
    int in_job;
    uint64_t retry_at; /* loop ms of the next try after a failure; 0: none */
    uint64_t backoff_ms;
    uint64_t delivered; /* records taken since start */
    uint64_t failures;  /* failed deliveries since start */
    int64_t pending;    /* rows after the cursor, at the last look */
    int failing;
    char last_error[ERROR_MAX];
};

struct slot {
    struct hvdd_out *o;
    char name[16];
    int64_t ack;    /* write this cursor first (0: none) */
    int read;       /* then read a batch after the cursor */
    unsigned kicks; /* set->kicks when the job started */
    int rc;
    char error[ERROR_MAX];
    int64_t cursor; /* out: the cursor after the job */
    int64_t end;    /* out: the outbox's end */
    hvd_output_batch batch;
};

struct job {
    uv_work_t req;
    struct hvdd_outputs *set;
    int attach; /* first job: set up the cursors of these outputs */
    int prune;  /* prune the outbox even without a cursor write */
    size_t n;
    struct slot s[MAX_OUTPUTS];
    int rc; /* the store could not be opened or attached */
    char error[ERROR_MAX];
};

struct hvdd_outputs {
    struct hvdd *d;
    char *database;
    hvd_store *st; /* used only inside jobs, one at a time */
    struct hvdd_out o[MAX_OUTPUTS];
    size_t n;
    int attached;
    int job_running;
    int stopping;
    int prune_due;
    unsigned kicks; /* announcements of new rows: one during a read keeps 'more' */
    unsigned ticks;
    uv_timer_t timer;
    int timer_open;
};

static void pump(struct hvdd_outputs *set);
static int start_job(struct hvdd_outputs *set);

/* --- store work, off the loop ------------------------------------------------------------ */

static int add_record(void *ud, const hvd_outbox_record *r)
{
    return hvd_output_batch_add(ud, r) < 0;
}

static void slot_error(struct slot *s, const hvd_error *err)
{
    snprintf(s->error, sizeof(s->error), "%s", err->msg);
}

static void job_work(uv_work_t *req)
{
    struct job *j = req->data;
    struct hvdd_outputs *set = j->set;
    const char *names[MAX_OUTPUTS];
    int pruned = j->attach || j->prune;
    hvd_error err;

    if (!set->st && hvd_store_open(&set->st, set->database, 0, &err) < 0) {
        j->rc = err.code;
        snprintf(j->error, sizeof(j->error), "%s", err.msg);
        return;
    }
    if (j->attach) {
        for (size_t i = 0; i < j->n; i++) {
            names[i] = j->s[i].name;
        }
        if (hvd_store_outbox_attach(set->st, names, j->n, &err) < 0) {
            j->rc = err.code;
            snprintf(j->error, sizeof(j->error), "%s", err.msg);
            return;
        }
    }
    for (size_t i = 0; i < j->n; i++) {
        struct slot *s = &j->s[i];

        s->rc = HVD_OK;
        if (s->ack && (s->rc = hvd_store_outbox_ack(set->st, s->name, s->ack, &err)) < 0) {
            slot_error(s, &err);
            continue;
        }
        pruned |= s->ack != 0;
        s->rc = hvd_store_outbox_cursor(set->st, s->name, &s->cursor, &err);
        if (s->rc == HVD_OK) {
            s->rc = hvd_store_outbox_end(set->st, &s->end, &err);
        }
        if (s->rc == HVD_OK && s->read) {
            s->rc = hvd_store_outbox_read(set->st, s->cursor, HVD_OUTPUT_BATCH_MAX, add_record,
                                          &s->batch, &err);
        }
        if (s->rc < 0) {
            slot_error(s, &err);
        }
    }
    /* Rows every cursor passed; a failure here only delays it to the next ack. */
    if (pruned) {
        hvd_store_outbox_prune(set->st, NULL, &err);
    }
}

static void job_free(struct job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        hvd_output_batch_free(&j->s[i].batch);
    }
    free(j);
}

static void job_done(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct hvdd_outputs *set = j->set;
    struct hvdd *d = set->d;
    uint64_t now = uv_now(d->loop);

    set->job_running = 0;
    for (size_t i = 0; i < j->n; i++) {
        j->s[i].o->in_job = 0;
    }
    if (set->stopping || status < 0) {
        job_free(j);
        return;
    }
    if (j->rc < 0) {
        /* the next tick tries again */
        hvd_log(&d->log, HVD_LOG_WARNING, "outputs: %s", j->error);
        job_free(j);
        return;
    }
    if (j->attach) {
        set->attached = 1;
    }
    for (size_t i = 0; i < j->n; i++) {
        struct slot *s = &j->s[i];
        struct hvdd_out *o = s->o;

        if (s->rc < 0) {
            /* the cursor write waits for the next tick; nothing new is delivered meanwhile */
            hvd_log(&d->log, HVD_LOG_WARNING, "output %s: %s", o->name, s->error);
            snprintf(o->last_error, sizeof(o->last_error), "%s", s->error);
            o->retry_at = now + BACKOFF_MIN;
            continue;
        }
        o->cursor = s->cursor;
        if (o->ack <= o->cursor) {
            o->ack = 0;
        }
        o->pending = s->end - s->cursor;
        if (s->read) {
            o->batch = s->batch;
            hvd_output_batch_init(&s->batch);
            o->more = o->batch.n > 0 || s->kicks != set->kicks;
        }
        if (!o->failing) {
            o->retry_at = 0; /* a cursor write that had failed went through */
        }
    }
    job_free(j);
    pump(set);
}

/* Starts a job for what the outputs need from the store; 1 when one started. */
static int start_job(struct hvdd_outputs *set)
{
    struct hvdd *d = set->d;
    uint64_t now = uv_now(d->loop);
    struct job *j;
    size_t n = 0;

    if (set->job_running || set->stopping) {
        return 0;
    }
    j = calloc(1, sizeof(*j));
    if (!j) {
        return 0;
    }
    j->set = set;
    j->attach = !set->attached;
    j->prune = set->prune_due;
    for (size_t i = 0; i < set->n; i++) {
        struct hvdd_out *o = &set->o[i];
        struct slot *s = &j->s[n];
        int want_ack = o->ack > o->cursor;
        int want_read = o->batch.n == 0 && !o->delivering && (o->more || j->attach);

        if (!j->attach && !want_ack && !want_read) {
            continue;
        }
        if (o->retry_at && now < o->retry_at && want_ack) {
            continue; /* a cursor write failed: wait for the pause to end */
        }
        s->o = o;
        snprintf(s->name, sizeof(s->name), "%s", o->name);
        s->ack = want_ack ? o->ack : 0;
        s->read = want_read;
        s->kicks = set->kicks;
        hvd_output_batch_init(&s->batch);
        o->in_job = 1;
        n++;
    }
    if (n == 0 && !j->attach && !j->prune) {
        free(j);
        return 0;
    }
    j->n = n;
    j->req.data = j;
    if (uv_queue_work(d->loop, &j->req, job_work, job_done) < 0) {
        for (size_t i = 0; i < n; i++) {
            j->s[i].o->in_job = 0;
        }
        free(j);
        return 0;
    }
    set->job_running = 1;
    set->prune_due = 0;
    return 1;
}

/* --- deliveries, on the loop ------------------------------------------------------------- */

/* After a delivery: a failing output waits a pause that doubles up to retry_max. */
static void settle(struct hvdd_out *o, int was_failing)
{
    struct hvdd *d = o->set->d;

    if (o->failing) {
        o->backoff_ms = o->backoff_ms ? o->backoff_ms * 2 : BACKOFF_MIN;
        if (o->backoff_ms > d->cfg->retry_max_ms) {
            o->backoff_ms = d->cfg->retry_max_ms;
        }
        o->retry_at = uv_now(d->loop) + o->backoff_ms;
        hvd_log(&d->log, was_failing ? HVD_LOG_INFO : HVD_LOG_WARNING,
                "output %s: %s; %zu records wait, next try in %" PRIu64 " ms", o->name,
                o->last_error, o->batch.n, o->backoff_ms);
    } else if (was_failing) {
        hvd_log(&d->log, HVD_LOG_NOTICE, "output %s: delivering again", o->name);
    }
}

static void on_delivered(void *ud, size_t delivered, int rc, const char *error)
{
    struct hvdd_out *o = ud;
    int was_failing = o->failing;

    o->delivering = 0;
    if (delivered > o->batch.n) {
        delivered = o->batch.n;
    }
    if (delivered) {
        o->ack = o->batch.rec[delivered - 1].seq;
        o->delivered += delivered;
        hvd_output_batch_shift(&o->batch, delivered);
    }
    if (rc < 0) {
        o->failures++;
        o->failing = 1;
        snprintf(o->last_error, sizeof(o->last_error), "%s", error ? error : hvd_strerror(rc));
    } else {
        o->failing = 0;
        o->backoff_ms = 0;
        o->retry_at = 0;
        o->more = 1;
    }
    if (o->in_deliver) {
        o->was_failing = was_failing; /* deliver() settles once the call returns */
        return;
    }
    settle(o, was_failing);
    pump(o->set);
}

/* What each output can do now: deliver its batch once its last cursor write is done, or
 * ask the store for the next step. */
static void pump(struct hvdd_outputs *set)
{
    uint64_t now;

    if (set->stopping) {
        return;
    }
    now = uv_now(set->d->loop);
    for (size_t i = 0; set->attached && i < set->n; i++) {
        struct hvdd_out *o = &set->o[i];

        if (o->delivering || o->in_job || o->batch.n == 0 || o->ack > o->cursor ||
            (o->retry_at && now < o->retry_at)) {
            continue;
        }
        o->delivering = 1;
        o->in_deliver = 1;
        o->out.ops->deliver(o->out.impl, o->batch.rec, o->batch.n, on_delivered, o);
        o->in_deliver = 0;
        if (!o->delivering) {
            settle(o, o->was_failing);
        }
    }
    start_job(set);
}

static void on_tick(uv_timer_t *t)
{
    struct hvdd_outputs *set = t->data;

    if (++set->ticks % POLL_TICKS == 0) {
        for (size_t i = 0; i < set->n; i++) {
            set->o[i].more = 1;
        }
    }
    if (set->ticks % PRUNE_TICKS == 0) {
        set->prune_due = 1;
    }
    pump(set);
}

/* --- the set ------------------------------------------------------------------------------- */

static int add_output(struct hvdd_outputs *set, const hvd_output *out)
{
    struct hvdd_out *o;

    if (set->n >= MAX_OUTPUTS) {
        return -1;
    }
    o = &set->o[set->n++];
    memset(o, 0, sizeof(*o));
    o->set = set;
    o->out = *out;
    o->name = out->ops->name;
    hvd_output_batch_init(&o->batch);
    return 0;
}

int hvdd_outputs_start(struct hvdd *d)
{
    struct hvdd_outputs *set = calloc(1, sizeof(*set));
    const hvd_config *c = d->cfg;
    const char *names[MAX_OUTPUTS];
    hvd_output out;
    hvd_error err;

    if (!set || !(set->database = strdup(c->database))) {
        free(set);
        hvd_log(&d->log, HVD_LOG_ERR, "outputs: out of memory");
        return -1;
    }
    set->d = d;
    d->outputs = set;
    if (c->journald == HVD_CONFIG_ON ||
        (c->journald == HVD_CONFIG_AUTO && hvd_output_journald_available())) {
        if (hvd_output_journald_open(&out, &d->log, &err) == HVD_OK) {
            add_output(set, &out);
        } else {
            hvd_log(&d->log, HVD_LOG_ERR, "output journald: %s", err.msg);
        }
    }
    if (c->json_file) {
        if (hvd_output_file_open(&out, c->json_file, &d->log, &err) == HVD_OK) {
            add_output(set, &out);
        } else {
            hvd_log(&d->log, HVD_LOG_ERR, "output file: %s", err.msg);
        }
    }
    if (c->syslog_target) {
        if (hvd_output_syslog_open(&out, c, &err) == HVD_OK) {
            add_output(set, &out);
        } else {
            hvd_log(&d->log, HVD_LOG_ERR, "output syslog: %s", err.msg);
        }
    }
    if (c->on_incident) {
        if (hvdd_hook_open(&out, d, &err) == HVD_OK) {
            add_output(set, &out);
        } else {
            hvd_log(&d->log, HVD_LOG_ERR, "output hook: %s", err.msg);
        }
    }
    for (size_t i = 0; i < set->n; i++) {
        const char *target =
            set->o[i].out.ops->target ? set->o[i].out.ops->target(set->o[i].out.impl) : NULL;

        hvd_log(&d->log, HVD_LOG_INFO, "output %s: %s", set->o[i].name, target ? target : "on");
    }
    uv_timer_init(d->loop, &set->timer);
    set->timer.data = set;
    set->timer_open = 1;
    uv_timer_start(&set->timer, on_tick, TICK_MS, TICK_MS);
    /* Cursors before any worker starts: a new output must not miss the first changes. The
     * store is free now (our workers are not started yet), so this does not wait. */
    for (size_t i = 0; i < set->n; i++) {
        names[i] = set->o[i].name;
    }
    if (hvd_store_outbox_attach(d->store, names, set->n, &err) == HVD_OK) {
        set->attached = 1;
        for (size_t i = 0; i < set->n; i++) {
            set->o[i].more = 1;
        }
    } else {
        hvd_log(&d->log, HVD_LOG_WARNING, "outputs: %s; trying again", err.msg);
    }
    start_job(set);
    return 0;
}

void hvdd_outputs_kick(struct hvdd *d)
{
    struct hvdd_outputs *set = d->outputs;

    if (!set) {
        return;
    }
    set->kicks++;
    for (size_t i = 0; i < set->n; i++) {
        set->o[i].more = 1;
    }
    pump(set);
}

void hvdd_outputs_reopen(struct hvdd *d)
{
    struct hvdd_outputs *set = d->outputs;

    for (size_t i = 0; set && i < set->n; i++) {
        if (set->o[i].out.ops->reopen) {
            set->o[i].out.ops->reopen(set->o[i].out.impl);
        }
    }
}

void hvdd_outputs_stop(struct hvdd *d)
{
    struct hvdd_outputs *set = d->outputs;

    if (!set || set->stopping) {
        return;
    }
    set->stopping = 1;
    if (set->timer_open) {
        uv_close((uv_handle_t *)&set->timer, NULL);
        set->timer_open = 0;
    }
    for (size_t i = 0; i < set->n; i++) {
        set->o[i].out.ops->close(set->o[i].out.impl);
        set->o[i].out.impl = NULL;
        hvd_output_batch_free(&set->o[i].batch);
    }
}

void hvdd_outputs_free(struct hvdd *d)
{
    struct hvdd_outputs *set = d->outputs;

    if (!set) {
        return;
    }
    hvdd_outputs_stop(d);
    hvd_store_close(set->st);
    free(set->database);
    free(set);
    d->outputs = NULL;
}

json_t *hvdd_outputs_health(struct hvdd *d)
{
    struct hvdd_outputs *set = d->outputs;
    json_t *all = json_object();

    for (size_t i = 0; set && all && i < set->n; i++) {
        const struct hvdd_out *o = &set->o[i];
        const char *target =
            o->out.impl && o->out.ops->target ? o->out.ops->target(o->out.impl) : NULL;
        const char *state = o->failing                 ? "retrying"
                            : o->retry_at              ? "waiting"
                            : o->batch.n || o->pending ? "delivering"
                                                       : "idle";

        json_object_set_new(all, o->name,
                            json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "target",
                                      target ? target : "", "state", state, "delivered",
                                      (json_int_t)o->delivered, "pending",
                                      (json_int_t)(o->pending > 0 ? o->pending : 0), "failures",
                                      (json_int_t)o->failures, "cursor", (json_int_t)o->cursor,
                                      "last_error", o->last_error));
    }
    return all;
}
