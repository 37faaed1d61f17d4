/*
 * hvdiagd server: the query socket. A Unix stream socket; each request is one JSON line,
 * each response one JSON line (`socat - UNIX-CONNECT:/run/hvdiag/hvdiag.sock` works).
 *
 * Each client reads into its own 64 KiB line buffer: the alloc callback hands out the free
 * tail, so reads never allocate; a full buffer without a newline gets a "too_large" error
 * and the client is dropped. Responses are queued per client; a client whose queue passes
 * WRITE_QUEUE_MAX (it does not read) is dropped, so it never holds up the others.
 *
 * Requests go through handle_request(): "follow" and "sources" (the store's rows plus the
 * daemon's file table) are answered here, everything else by lib/query (hvd_query_handle)
 * with the daemon's counters added to "health". Followers get one
 * {"event":"diagnosis",...} line per diagnosis the workers add: after each worker the
 * store is asked for diagnosis ids above the last one announced.
 */
#define _DEFAULT_SOURCE
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

#define LINE_MAX_BYTES  (HVD_QUERY_MAX_REQUEST + 2) /* the request, "\r\n" */
#define WRITE_QUEUE_MAX (1024 * 1024)
#define MAX_CLIENTS     1024

struct hvdd_client {
    uv_pipe_t pipe;
    struct hvdd *d;
    struct hvdd_client *prev;
    struct hvdd_client *next;
    size_t used;
    size_t queued; /* bytes written but not yet confirmed */
    int following;
    int dropping;
    char buf[LINE_MAX_BYTES];
};

/* A write request and its payload: one allocation, freed in the write callback. */
struct wreq {
    uv_write_t req;
    struct hvdd_client *c;
    size_t len;
    char data[];
};

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

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;

    (void)status;
    w->c->queued -= w->len;
    free(w);
}

/* Queues text + "\n". Returns 0, or -1 when the client was dropped. */
static int client_send(struct hvdd_client *c, const char *text, size_t len)
{
    struct wreq *w;
    uv_buf_t b;

    if (uv_is_closing((uv_handle_t *)&c->pipe) || c->dropping) {
        return -1;
    }
    if (c->queued + len + 1 > WRITE_QUEUE_MAX) {
        hvd_log(&c->d->log, HVD_LOG_NOTICE,
                "dropping a client that does not read (%zu bytes waiting)", c->queued);
        c->d->count.clients_dropped++;
        client_drop(c);
        return -1;
    }
    w = malloc(sizeof(*w) + len + 1);
    if (!w) {
        client_drop(c);
        return -1;
    }
    memcpy(w->data, text, len);
    w->data[len] = '\n';
    w->len = len + 1;
    w->c = c;
    b = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
        free(w);
        client_drop(c);
        return -1;
    }
    c->queued += w->len;
    return 0;
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
    if (uv_is_closing((uv_handle_t *)&c->pipe)) {
        return;
    }
    c->dropping = 1;
    uv_read_stop((uv_stream_t *)&c->pipe);
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
    SET_INT("clients_dropped", d->count.clients_dropped);
#undef SET_INT
    free(d->health_text);
    d->health_text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return d->health_text;
}

static json_t *files_json(struct hvdd *d)
{
    json_t *list = json_array();

    for (size_t i = 0; i < d->nfiles; i++) {
        const struct hvdd_file *f = d->files[i];
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
        json_array_append_new(list, o);
    }
    return list;
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
    if (op && strcmp(op, "follow") == 0) {
        json_decref(req);
        c->following = 1;
        return hvd_strdup("{\"ok\":true,\"following\":true}");
    }
    answer = hvd_query_handle(&q, line, len);
    if (answer && op && strcmp(op, "sources") == 0) {
        json_t *res = json_loads(answer, 0, NULL);
        char *text;

        if (json_is_object(res) && json_is_true(json_object_get(res, "ok"))) {
            json_object_set_new(res, "files", files_json(d));
            text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (text) {
                hvd_free(answer);
                answer = hvd_strdup(text);
                free(text);
            }
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct hvdd_client *c = s->data;
    size_t start = 0;

    (void)buf;
    if (nread < 0) {
        client_drop(c);
        return;
    }
    c->used += (size_t)nread;
    for (;;) {
        char *nl = memchr(c->buf + start, '\n', c->used - start);
        size_t len;
        char *answer;

        if (!nl) {
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
    if (c->used == sizeof(c->buf)) {
        client_fail(c, "too_large", "requests are limited to 64 KiB");
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct hvdd *d = server->data;
    struct hvdd_client *c;

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
    if (d->nclients > MAX_CLIENTS || d->stopping) {
        client_fail(c, "busy", d->stopping ? "the daemon is stopping" : "too many clients");
        return;
    }
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
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

static int announce_one(void *ud, const hvd_stored_diagnosis *dg)
{
    struct hvdd *d = ud;
    char t1[40];
    char t2[40];
    json_t *o;
    char *text;

    d->last_diagnosis = dg->id;
    d->count.diagnoses++;
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
        return 0;
    }
    for (struct hvdd_client *c = d->clients, *next; c; c = next) {
        next = c->next; /* client_send may drop c; it is freed only in its close callback */
        if (c->following) {
            client_send(c, text, strlen(text));
        }
    }
    free(text);
    return 0;
}

void hvdd_server_announce(struct hvdd *d)
{
    hvd_error err;

    if (!d->store) {
        return;
    }
    if (hvd_store_diagnoses_after(d->store, d->last_diagnosis, announce_one, d, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_WARNING, "follow: %s", err.msg);
    }
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
    uv_pipe_init(d->loop, &d->server, 0);
    d->server.data = d;
    rc = uv_pipe_bind(&d->server, path);
    if (rc == 0) {
        d->server_open = 1; /* ours to unlink */
        if (chmod(path, d->cfg->socket_mode) < 0) {
            hvd_log(&d->log, HVD_LOG_WARNING, "%s: cannot set mode %04o: %s", path,
                    d->cfg->socket_mode, strerror(errno));
        }
        rc = uv_listen((uv_stream_t *)&d->server, 128, on_connection);
    }
    if (rc < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "%s: cannot listen: %s", path, uv_strerror(rc));
        return -1;
    }
    d->last_diagnosis = hvdd_server_last_diagnosis(d);
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
    if (d->server_open) {
        d->server_open = 0;
        uv_close((uv_handle_t *)&d->server, server_closed);
        unlink(d->cfg->socket);
    }
    for (struct hvdd_client *c = d->clients; c; c = c->next) {
        client_drop(c);
    }
}
