/*
 * hvdiagd server: the query socket. A Unix stream socket; each request is one JSON line,
 * each response one JSON line (`socat - UNIX-CONNECT:/run/hvdiag/hvdiag.sock` works).
 *
 * Each client reads into its own 64 KiB line buffer: the alloc callback hands out the free
 * tail, so reads never allocate; a full buffer without a newline gets a "too_large" error
 * and the client is dropped.
 *
 * Output is bounded without dropping anyone who reads. Before the next message for a
 * client is made, two limits are checked: what the kernel has not yet taken from this
 * client (uv_stream_get_write_queue_size) against client_queue_limit, and the bytes held
 * in write requests of all clients together (out_bytes) against client_output_budget.
 * Over either, the client waits: its requests stay unread in its buffer (reading stops,
 * so the kernel pushes back on the sender) and a follower's feed pauses. Write callbacks
 * resume it. A client holding no output always gets its next message, so those that do
 * not read cannot starve those that do. Memory for output thus stays under the budget
 * plus one message per client, and messages are small: a listing answers in pages of
 * about ANSWER_BYTES (lib/query), a follower's batch is FOLLOW_BYTES. A client that makes
 * no progress (sends nothing, takes nothing) for client_idle_timeout is closed; a
 * follower waiting for diagnoses with nothing pending is not idle.
 *
 * Followers pull: each has a diagnosis id cursor and, while under the limits, reads the
 * next batch after it from the store (hvd_store_diagnoses_after, by id), so a burst of
 * thousands of diagnoses reaches every reading follower, each exactly once, at the pace
 * it reads.
 *
 * Connections are capped in all (max_clients) and per peer uid (SO_PEERCRED,
 * max_clients_per_uid); a refused client gets a "busy" error. "health" reports clients,
 * refusals, drops and the output held.
 *
 * Requests go through handle_request(): "follow" and "sources" (the store's rows plus the
 * daemon's file table, paged by path) are answered here, everything else by lib/query
 * (hvd_query_handle) with the daemon's counters added to "health".
 */
#define _GNU_SOURCE /* struct ucred */
#include "hvdiagd.h"

#include "alloc.h"
#include "hvtime.h"
#include "query.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_BYTES (HVD_QUERY_MAX_REQUEST + 2) /* the request, "\r\n" */
#define FOLLOW_BATCH   256                         /* diagnoses per store read */
#define FOLLOW_BYTES   (64 * 1024)                 /* and about this many bytes */
#define ANSWER_BYTES   (128 * 1024)                /* rows in one page of a listing */
#define TURN_REQUESTS  2 /* answered per client and loop round, so none waits on a flood */

struct hvdd_client {
    uv_pipe_t pipe;
    struct hvdd *d;
    struct hvdd_client *prev;
    struct hvdd_client *next;
    size_t used;
    size_t queued;      /* bytes in this client's write requests, not yet done */
    size_t last_unsent; /* write queue size at the last look, to see progress */
    uint64_t active_ms; /* loop time of the last progress: a request read, bytes taken */
    uid_t uid;
    int following;
    int64_t follow_after; /* the last diagnosis id sent to this follower */
    int behind;           /* a follower whose feed waits for room */
    int paused;           /* requests wait for room */
    int turn;             /* requests wait for the next round (on_round) */
    int reading;
    int dropping;
    char buf[LINE_MAX_BYTES];
};

/* A write request and its payload: one allocation, freed in the write callback. */
struct wreq {
    uv_write_t req;
    struct hvdd_client *c;
    size_t len;
    size_t cap;
    char data[];
};

static void client_process(struct hvdd_client *c);
static void follow_pump(struct hvdd_client *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_round(uv_idle_t *h);

static void client_closed(uv_handle_t *h)
{
    struct hvdd_client *c = h->data;
    struct hvdd *d = c->d;

    if (c->prev) {
        c->prev->next = c->next;
    } else {
        d->clients = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    d->nclients--;
    free(c); /* the only place a client is freed */
    hvdd_maybe_finish_stop(d);
}

static void client_drop(struct hvdd_client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->pipe)) {
        uv_close((uv_handle_t *)&c->pipe, client_closed);
    }
}

static int client_gone(const struct hvdd_client *c)
{
    return c->dropping || uv_is_closing((const uv_handle_t *)&c->pipe);
}

/* Is there room for another message to c? Its own unsent bytes must be under the queue
 * limit, and the clients' together under the budget, except for a client holding nothing:
 * it always gets its next message, so clients that do not read cannot starve those that
 * do. Sets d->out_blocked when the budget says no. */
static int client_room(struct hvdd_client *c)
{
    struct hvdd *d = c->d;

    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >= d->cfg->client_queue_limit) {
        return 0;
    }
    if (c->queued > 0 && d->out_bytes >= d->cfg->client_output_budget) {
        d->out_blocked = 1;
        return 0;
    }
    return 1;
}

/* Reads from c unless its buffered requests wait (for room or for their turn). */
static void client_read_more(struct hvdd_client *c)
{
    int want = !c->paused && !c->turn && !client_gone(c);

    if (want && !c->reading) {
        c->reading = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        c->reading = 0;
    }
}

/* Lets a waiting client go on: its buffered requests, then reading; a follower's feed. */
static void client_resume(struct hvdd_client *c)
{
    if (client_gone(c)) {
        return;
    }
    if (c->paused && client_room(c)) {
        c->paused = 0;
        client_process(c);
        client_read_more(c);
    }
    if (c->following && c->behind && !client_gone(c)) {
        follow_pump(c);
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct hvdd_client *c = w->c;
    struct hvdd *d = c->d;

    c->queued -= w->len;
    d->out_bytes -= w->len;
    free(w);
    if (status < 0) {
        client_drop(c); /* the peer is gone, or the handle is closing */
        return;
    }
    c->active_ms = uv_now(d->loop);
    client_resume(c);
    if (d->out_blocked && d->out_bytes < d->cfg->client_output_budget) {
        /* O(clients), only when the budget was reached: everyone who waited may go on. */
        d->out_blocked = 0;
        for (struct hvdd_client *o = d->clients; o; o = o->next) {
            if (o != c && (o->paused || o->behind)) {
                client_resume(o);
            }
        }
    }
}

/* A write request with room for cap payload bytes; NULL when out of memory. */
static struct wreq *wreq_new(struct hvdd_client *c, size_t cap)
{
    struct wreq *w = malloc(sizeof(*w) + cap);

    if (w) {
        w->c = c;
        w->len = 0;
        w->cap = cap;
    }
    return w;
}

/* Appends text + "\n", growing w. Returns w (perhaps moved), or NULL when out of memory
 * (w is freed). */
static struct wreq *wreq_line(struct wreq *w, const char *text, size_t len)
{
    if (len + 1 > w->cap - w->len) {
        size_t cap = w->cap * 2 > w->len + len + 1 ? w->cap * 2 : w->len + len + 1;
        struct wreq *grown = realloc(w, sizeof(*w) + cap);

        if (!grown) {
            free(w);
            return NULL;
        }
        w = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->len, text, len);
    w->data[w->len + len] = '\n';
    w->len += len + 1;
    return w;
}

/* Queues w (taking ownership). Returns 0, or -1 when the client was dropped. */
static int wreq_send(struct wreq *w)
{
    struct hvdd_client *c = w->c;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);

    if (client_gone(c)) {
        free(w);
        return -1;
    }
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
        free(w);
        client_drop(c);
        return -1;
    }
    c->queued += w->len;
    c->d->out_bytes += w->len;
    return 0;
}

/* Queues text + "\n". The caller checked client_room() before making the message: one
 * message may pass the limits, the next waits. Returns 0, or -1 when the client was
 * dropped. */
static int client_send(struct hvdd_client *c, const char *text, size_t len)
{
    struct wreq *w;

    if (client_gone(c)) {
        return -1;
    }
    w = wreq_new(c, len + 1);
    w = w ? wreq_line(w, text, len) : NULL;
    if (!w) {
        c->d->count.clients_dropped++;
        client_drop(c);
        return -1;
    }
    return wreq_send(w);
}

static void send_json(struct hvdd_client *c, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (text) {
        client_send(c, text, strlen(text));
    }
    free(text);
    json_decref(o);
}

static json_t *error_json(const char *code, const char *message)
{
    return json_pack("{s:b,s:{s:s,s:s}}", "ok", 0, "error", "code", code, "message", message);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct hvdd_client *c = req->data;

    (void)status;
    free(req);
    client_drop(c);
}

/* Sends a last error, then closes once it is written. */
static void client_fail(struct hvdd_client *c, const char *code, const char *message)
{
    uv_shutdown_t *req;

    send_json(c, error_json(code, message));
    if (client_gone(c)) {
        return;
    }
    c->dropping = 1;
    c->following = 0;
    client_read_more(c);
    req = malloc(sizeof(*req));
    if (!req) {
        client_drop(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->pipe, on_shutdown) < 0) {
        free(req);
        client_drop(c);
    }
}

/* --- requests ------------------------------------------------------------------------ */

size_t hvdd_server_followers(const struct hvdd *d)
{
    size_t n = 0;

    for (const struct hvdd_client *c = d->clients; c; c = c->next) {
        n += c->following && !client_gone(c);
    }
    return n;
}

/* The daemon's members of a "health" answer, beside the store's counts. */
static const char *health_extra(void *ud)
{
    struct hvdd *d = ud;
    json_t *o = json_object();
    size_t quarantined = 0;
    size_t followers = 0;
    size_t due = hvdd_files_due(d);

    for (struct hvdd_client *c = d->clients; c; c = c->next) {
        followers += c->following;
    }

    for (size_t i = 0; i < d->nfiles; i++) {
        quarantined += d->files[i]->state == HVDD_QUARANTINED;
    }
#define SET_INT(name, v) json_object_set_new(o, name, json_integer((json_int_t)(v)))
    SET_INT("uptime_s", (uv_now(d->loop) - d->started_ms) / 1000);
    SET_INT("files_watched", d->nfiles);
    SET_INT("files_quarantined", quarantined);
    SET_INT("queue", due);
    SET_INT("running", d->running);
    json_object_set_new(o, "busy", json_boolean(d->running > 0 || due > 0));
    SET_INT("workers", d->cfg->workers);
    SET_INT("clients", d->nclients);
    SET_INT("followers", followers);
    SET_INT("rules", d->rules ? hvd_ruleset_count(d->rules) : 0);
    SET_INT("files_ingested", d->count.files_ingested);
    SET_INT("events_read", d->count.events);
    SET_INT("new_events", d->count.fresh);
    SET_INT("new_diagnoses", d->count.diagnoses);
    SET_INT("quarantined", d->count.quarantined);
    SET_INT("failures", d->count.failed);
    SET_INT("crashes", d->count.crashed);
    SET_INT("timeouts", d->count.timeouts);
    SET_INT("out_of_memory", d->count.out_of_memory);
    SET_INT("workers_replaced", d->count.workers_replaced);
    SET_INT("clients_dropped", d->count.clients_dropped);
    SET_INT("clients_refused", d->count.clients_refused);
    SET_INT("clients_timed_out", d->count.clients_timed_out);
    SET_INT("output_bytes", d->out_bytes);
    SET_INT("output_budget", d->cfg->client_output_budget);
#undef SET_INT
    json_object_set_new(o, "outputs", hvdd_outputs_health(d));
    free(d->health_text);
    d->health_text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return d->health_text;
}

static int by_path(const void *a, const void *b)
{
    const struct hvdd_file *const *x = a;
    const struct hvdd_file *const *y = b;

    return strcmp((*x)->path, (*y)->path);
}

static json_t *file_json(const struct hvdd_file *f)
{
    json_t *o = json_object();

    json_object_set_new(o, "path", json_string(f->path));
    json_object_set_new(o, "state", json_string(hvdd_state_name(f->state)));
    json_object_set_new(o, "change", json_string(hvdd_change_name(f->change)));
    json_object_set_new(o, "changes", json_integer(f->changes));
    json_object_set_new(o, "size", json_integer((json_int_t)f->seen.size));
    json_object_set_new(o, "inode", json_integer((json_int_t)f->seen.ino));
    json_object_set_new(o, "reads", json_integer((json_int_t)f->reads));
    json_object_set_new(o, "events", json_integer((json_int_t)f->events));
    json_object_set_new(o, "new_events", json_integer((json_int_t)f->fresh));
    if (f->last_error) {
        json_object_set_new(o, "error", json_string(f->last_error));
    }
    return o;
}

/* Drops the rows of list whose "path" sorts after end. */
static void trim_after(json_t *list, const char *end)
{
    while (json_array_size(list) > 0) {
        const char *p = json_string_value(
            json_object_get(json_array_get(list, json_array_size(list) - 1), "path"));

        if (p && strcmp(p, end) <= 0) {
            break;
        }
        json_array_remove(list, json_array_size(list) - 1);
    }
}

/*
 * Adds the daemon's file table to a "sources" answer, paged by path like the store's rows:
 * "files" holds the files after the request's cursor, at most its limit and about
 * ANSWER_BYTES. When either list
 * has more, the page ends at the smaller of the two last paths, both lists are cut there
 * and "next_cursor" names it, so every row of both arrives exactly once over the pages.
 * Cost: O(f log f) per page for f watched files (they are gathered and sorted each time),
 * which for 10,000 files and pages of 1,000 stays far below the store's own work.
 */
static int add_files_page(struct hvdd *d, const json_t *req, json_t *res)
{
    const char *cursor = json_string_value(json_object_get(req, "cursor"));
    const char *after = cursor && strncmp(cursor, "s:", 2) == 0 ? cursor + 2 : NULL;
    json_int_t limit = json_integer_value(json_object_get(req, "limit"));
    const char *store_end = json_string_value(json_object_get(res, "next_cursor"));
    struct hvdd_file **pick;
    json_t *files;
    size_t n = 0;
    size_t taken = 0;
    size_t bytes = 0;
    int more = 0;
    const char *end = NULL;

    if (limit <= 0 || limit > HVD_QUERY_MAX_PAGE) {
        limit = HVD_QUERY_MAX_PAGE;
    }
    pick = malloc((d->nfiles ? d->nfiles : 1) * sizeof(*pick));
    files = json_array();
    if (!pick || !files) {
        free(pick);
        json_decref(files);
        return -1;
    }
    for (size_t i = 0; i < d->nfiles; i++) {
        if (!after || strcmp(d->files[i]->path, after) > 0) {
            pick[n++] = d->files[i];
        }
    }
    qsort(pick, n, sizeof(*pick), by_path);
    for (size_t i = 0; i < n; i++) {
        json_t *o;

        if (i == (size_t)limit || bytes >= ANSWER_BYTES) {
            more = 1;
            break;
        }
        o = file_json(pick[i]);
        bytes += json_dumpb(o, NULL, 0, JSON_COMPACT) + 1;
        json_array_append_new(files, o);
        taken++;
    }
    if (store_end) {
        end = store_end + 2; /* "s:" + the store page's last path */
    }
    if (more && (!end || strcmp(pick[taken - 1]->path, end) < 0)) {
        end = pick[taken - 1]->path;
    }
    if (end) {
        char *next = malloc(strlen(end) + 3);

        if (!next) {
            free(pick);
            json_decref(files);
            return -1;
        }
        memcpy(next, "s:", 2);
        memcpy(next + 2, end, strlen(end) + 1);
        trim_after(json_object_get(res, "sources"), next + 2);
        trim_after(files, next + 2);
        json_object_set_new(res, "next_cursor", json_string(next));
        free(next);
    }
    json_object_set_new(res, "files", files);
    free(pick);
    return 0;
}

/* Answers one request line; caller frees the result with hvd_free(). NULL: no memory. */
static char *handle_request(struct hvdd *d, struct hvdd_client *c, const char *line, size_t len)
{
    hvd_query_context q;
    json_t *req = json_loadb(line, len, 0, NULL);
    const char *op = json_string_value(json_object_get(req, "op"));
    char *answer;

    memset(&q, 0, sizeof(q));
    q.store = d->store;
    q.rules = d->rules;
    q.health = health_extra;
    q.ud = d;
    q.max_answer = ANSWER_BYTES;
    if (op && strcmp(op, "follow") == 0) {
        json_decref(req);
        if (!c->following) {
            c->following = 1;
            c->follow_after = d->last_diagnosis;
        }
        return hvd_strdup("{\"ok\":true,\"following\":true}");
    }
    answer = hvd_query_handle(&q, line, len);
    if (answer && op && strcmp(op, "sources") == 0) {
        json_t *res = json_loads(answer, 0, NULL);
        char *text = NULL;

        if (json_is_object(res) && json_is_true(json_object_get(res, "ok"))) {
            if (add_files_page(d, req, res) == 0) {
                text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
            }
            hvd_free(answer);
            answer = text ? hvd_strdup(text) : NULL;
            free(text);
        }
        json_decref(res);
    }
    json_decref(req);
    return answer;
}

/* --- clients ------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct hvdd_client *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf + c->used, (unsigned)(sizeof(c->buf) - c->used));
}

/* Answers up to TURN_REQUESTS complete request lines in c's buffer while there is room
 * for the answers. Without room the rest waits for a write callback (paused); past its
 * turn, for the next loop round (on_round), so a client that pipelines thousands of
 * requests delays the others by one round. The caller then calls client_read_more(). */
static void client_process(struct hvdd_client *c)
{
    size_t start = 0;
    int handled = 0;

    c->turn = 0;
    for (;;) {
        char *nl = memchr(c->buf + start, '\n', c->used - start);
        size_t len;
        char *answer;

        if (!nl) {
            break;
        }
        if (!client_room(c)) {
            c->paused = 1;
            break;
        }
        if (handled++ == TURN_REQUESTS) {
            c->turn = 1;
            uv_idle_start(&c->d->round, on_round);
            break;
        }
        len = (size_t)(nl - (c->buf + start));
        if (len && c->buf[start + len - 1] == '\r') {
            len--;
        }
        if (len > HVD_QUERY_MAX_REQUEST) {
            client_fail(c, "too_large", "requests are limited to 64 KiB");
            return;
        }
        if (len) {
            answer = handle_request(c->d, c, c->buf + start, len);
            if (!answer) {
                client_fail(c, "internal", "out of memory");
                return;
            }
            if (client_send(c, answer, strlen(answer)) < 0) {
                hvd_free(answer);
                return;
            }
            hvd_free(answer);
        }
        start = (size_t)(nl - c->buf) + 1;
    }
    if (start) {
        memmove(c->buf, c->buf + start, c->used - start);
        c->used -= start;
    }
    if (!c->paused && !c->turn && c->used == sizeof(c->buf)) {
        client_fail(c, "too_large", "requests are limited to 64 KiB");
    }
}

/* One round: every client whose requests wait for their turn gets the next ones answered.
 * O(clients) a round, while any waits. */
static void on_round(uv_idle_t *h)
{
    struct hvdd *d = h->data;
    int more = 0;

    for (struct hvdd_client *c = d->clients; c; c = c->next) {
        if (c->turn && !client_gone(c)) {
            client_process(c);
            client_read_more(c);
            more |= c->turn;
        }
    }
    if (!more) {
        uv_idle_stop(h);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct hvdd_client *c = s->data;

    (void)buf;
    if (nread < 0) {
        client_drop(c);
        return;
    }
    if (nread == 0) {
        return;
    }
    c->used += (size_t)nread;
    c->active_ms = uv_now(c->d->loop);
    if (!c->turn) {
        client_process(c);
    }
    client_read_more(c);
}

/* The peer's uid, or (uid_t)-1 when the socket does not say. */
static uid_t peer_uid(uv_pipe_t *p)
{
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (uv_fileno((uv_handle_t *)p, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        return (uid_t)-1;
    }
    return cred.uid;
}

/* Why a new client must be refused, or NULL. O(clients) for the per-uid count: at most
 * max_clients per connection, cheap next to the accept itself. */
static const char *refusal(struct hvdd *d, const struct hvdd_client *c)
{
    size_t same = 0;

    if (d->stopping) {
        return "the daemon is stopping";
    }
    if (d->nclients > d->cfg->max_clients) {
        return "too many clients";
    }
    for (const struct hvdd_client *o = d->clients; o; o = o->next) {
        same += o->uid == c->uid && !client_gone(o);
    }
    if (same > d->cfg->max_clients_per_uid) {
        return "too many clients of this user";
    }
    return NULL;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct hvdd *d = server->data;
    struct hvdd_client *c;
    const char *why;

    if (status < 0) {
        hvd_log(&d->log, HVD_LOG_WARNING, "socket: %s", uv_strerror(status));
        return;
    }
    c = malloc(sizeof(*c));
    if (!c) {
        return;
    }
    memset(c, 0, offsetof(struct hvdd_client, buf));
    c->d = d;
    c->active_ms = uv_now(d->loop);
    uv_pipe_init(d->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = d->clients;
    if (d->clients) {
        d->clients->prev = c;
    }
    d->clients = c;
    d->nclients++;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        client_drop(c);
        return;
    }
    c->uid = peer_uid(&c->pipe);
    why = refusal(d, c);
    if (why) {
        d->count.clients_refused++;
        hvd_log(&d->log, HVD_LOG_DEBUG, "refusing a client (uid %ld): %s", (long)c->uid, why);
        client_fail(c, "busy", why);
        return;
    }
    client_read_more(c);
}

/*
 * Idle clients. Progress is a request read or output taken by the peer (a write done, or
 * the unsent queue shrinking). A client without progress for client_idle_timeout is
 * closed, unless it waits on the daemon: a follower with nothing pending, or a client
 * whose output waits for the shared budget. The sweep is O(clients) a tick; ticks are a
 * quarter of the timeout, at most every 5 s.
 */
static void arm_client_timer(struct hvdd *d);

static void on_client_timer(uv_timer_t *t)
{
    struct hvdd *d = t->data;
    uint64_t now = uv_now(d->loop);

    for (struct hvdd_client *c = d->clients; c; c = c->next) {
        size_t unsent = uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);

        if (client_gone(c)) {
            continue;
        }
        if (unsent != c->last_unsent) {
            c->last_unsent = unsent;
            c->active_ms = now;
        }
        if ((c->queued == 0 && (c->following || c->paused)) || c->turn) {
            c->active_ms = now; /* waiting on the daemon, not idle */
        }
        if (now - c->active_ms >= d->cfg->client_idle_ms) {
            hvd_log(&d->log, HVD_LOG_NOTICE,
                    "closing a client idle for %llu ms (%zu bytes waiting to be read)",
                    (unsigned long long)(now - c->active_ms), c->queued);
            d->count.clients_timed_out++;
            d->count.clients_dropped++;
            client_drop(c);
        }
    }
    arm_client_timer(d);
}

static void arm_client_timer(struct hvdd *d)
{
    uint64_t tick = d->cfg->client_idle_ms / 4;

    if (d->stopping) {
        return;
    }
    tick = tick < 25 ? 25 : tick > 5000 ? 5000 : tick;
    uv_timer_start(&d->client_timer, on_client_timer, tick, 0);
}

/* --- follow -------------------------------------------------------------------------- */

static int max_id(void *ud, const hvd_stored_diagnosis *dg)
{
    *(int64_t *)ud = dg->id;
    return 0;
}

int64_t hvdd_server_last_diagnosis(struct hvdd *d)
{
    int64_t id = 0;
    hvd_error err;

    if (hvd_store_diagnoses_after(d->store, 0, max_id, &id, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_WARNING, "%s", err.msg);
    }
    return id;
}

struct batch {
    struct wreq *w;
    int64_t last;
    size_t n;
    int failed;
};

static int add_line(void *ud, const hvd_stored_diagnosis *dg)
{
    struct batch *b = ud;
    char t1[40];
    char t2[40];
    json_t *o;
    char *text;

    o = json_pack("{s:s,s:{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}}", "event", "diagnosis",
                  "diagnosis", "id", (json_int_t)dg->id, "rule", dg->rule_id, "kind", dg->kind,
                  "severity", hvd_severity_name(dg->severity), "title", dg->title, "host", dg->host,
                  "vm_name", dg->vm_name, "vm_id", dg->vm_id, "first_time",
                  hvd_time_format(dg->first_time, t1, sizeof(t1)), "last_time",
                  hvd_time_format(dg->last_time, t2, sizeof(t2)), "remedy", dg->remedy, "count",
                  (json_int_t)dg->count);
    text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) {
        b->failed = 1;
        return 1;
    }
    b->w = wreq_line(b->w, text, strlen(text));
    free(text);
    if (!b->w) {
        b->failed = 1;
        return 1;
    }
    b->last = dg->id;
    return ++b->n >= FOLLOW_BATCH || b->w->len >= FOLLOW_BYTES;
}

/*
 * Feeds a follower from its cursor while it has room: each round reads the next batch of
 * diagnoses after c->follow_after by id (an index range scan, O(log n + batch)) and queues
 * it as one write. Without room the follower is marked behind and on_written calls this
 * again as the peer reads, so memory holds at most its queue limit of announcements.
 */
static void follow_pump(struct hvdd_client *c)
{
    struct hvdd *d = c->d;
    hvd_error err;

    while (c->following && !client_gone(c)) {
        struct batch b = {NULL, c->follow_after, 0, 0};

        if (!client_room(c)) {
            c->behind = 1;
            return;
        }
        b.w = wreq_new(c, FOLLOW_BYTES + 4096);
        if (!b.w) {
            b.failed = 1;
        } else if (hvd_store_diagnoses_after(d->store, c->follow_after, add_line, &b, &err) < 0) {
            hvd_log(&d->log, HVD_LOG_WARNING, "follow: %s", err.msg);
            free(b.w);
            c->behind = 1; /* tried again at the next announcement */
            return;
        }
        if (b.failed) {
            free(b.w);
            hvd_log(&d->log, HVD_LOG_WARNING, "follow: out of memory; closing a follower");
            d->count.clients_dropped++;
            client_drop(c);
            return;
        }
        c->behind = 0;
        if (b.n == 0) {
            free(b.w);
            return;
        }
        c->follow_after = b.last;
        if (wreq_send(b.w) < 0) {
            return;
        }
    }
}

static int count_new(void *ud, const hvd_stored_diagnosis *dg)
{
    struct hvdd *d = ud;

    d->last_diagnosis = dg->id;
    d->count.diagnoses++;
    if (dg->severity >= HVD_SEVERITY_NONE && dg->severity <= HVD_SEVERITY_CRITICAL) {
        d->count.diagnoses_by_severity[dg->severity]++;
    }
    return 0;
}

void hvdd_server_announce(struct hvdd *d)
{
    hvd_error err;

    if (!d->store) {
        return;
    }
    if (hvd_store_diagnoses_after(d->store, d->last_diagnosis, count_new, d, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_WARNING, "follow: %s", err.msg);
    }
    hvdd_metrics_changed(d);
    for (struct hvdd_client *c = d->clients; c; c = c->next) {
        if (c->following) {
            follow_pump(c); /* may drop c; it is freed only in its close callback */
        }
    }
    hvdd_outputs_kick(d);
}

/* --- the listening socket ------------------------------------------------------------ */

/* 1 when something accepts connections at path, 0 when not (a stale file), -1 on error. */
static int socket_in_use(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        return 1;
    }
    return errno == ECONNREFUSED || errno == ENOENT ? 0 : -1;
}

int hvdd_server_start(struct hvdd *d)
{
    const char *path = d->cfg->socket;
    struct stat st;
    mode_t old_mask;
    int rc;

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            hvd_log(&d->log, HVD_LOG_ERR, "%s: exists and is not a socket; not touching it", path);
            return -1;
        }
        rc = socket_in_use(path);
        if (rc != 0) {
            hvd_log(&d->log, HVD_LOG_ERR, "%s: %s", path,
                    rc > 0 ? "another hvdiagd is listening there" : "cannot check the socket");
            return -1;
        }
        hvd_log(&d->log, HVD_LOG_NOTICE, "%s: removing a stale socket", path);
        unlink(path);
    }
    uv_timer_init(d->loop, &d->client_timer);
    d->client_timer.data = d;
    uv_idle_init(d->loop, &d->round);
    d->round.data = d;
    d->client_timer_init = 1;
    uv_pipe_init(d->loop, &d->server, 0);
    d->server.data = d;
    /* The socket is born with its final mode: bind() applies the umask, so set it around
     * the call (the loop has no other thread creating files yet). A chmod() afterwards
     * would leave a moment in which anyone could connect. */
    old_mask = umask(~(mode_t)d->cfg->socket_mode & 0777);
    rc = uv_pipe_bind(&d->server, path);
    umask(old_mask);
    if (rc == 0) {
        d->server_open = 1; /* ours to unlink */
        rc = uv_listen((uv_stream_t *)&d->server, 128, on_connection);
    }
    if (rc < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "%s: cannot listen: %s", path, uv_strerror(rc));
        return -1;
    }
    d->last_diagnosis = hvdd_server_last_diagnosis(d);
    arm_client_timer(d);
    hvd_log(&d->log, HVD_LOG_INFO, "listening on %s", path);
    return 0;
}

static void server_closed(uv_handle_t *h)
{
    struct hvdd *d = h->data;

    hvdd_maybe_finish_stop(d);
}

void hvdd_server_stop(struct hvdd *d)
{
    if (d->client_timer_init) {
        uv_timer_stop(&d->client_timer);
        uv_idle_stop(&d->round);
    }
    if (d->server_open) {
        d->server_open = 0;
        uv_close((uv_handle_t *)&d->server, server_closed);
        unlink(d->cfg->socket);
    }
    for (struct hvdd_client *c = d->clients; c; c = c->next) {
        client_drop(c);
    }
}
