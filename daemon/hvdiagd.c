/*
 * hvdiagd: the always-on daemon. Watches folders (uv_fs_event, plus a periodic rescan
 * because network shares drop notifications), reads each new or changed file through the
 * ingest pipeline off the loop thread, and answers JSON-line queries on a Unix socket.
 *
 * Threads: the loop thread owns the watch table, the socket and a read-only store
 * connection for queries; one libuv work item at a time owns the ingest pipeline (its own
 * store connection and rule engine), so the engine's memory of recent diagnoses carries
 * across files and correlations span files and hosts. Nothing is lost or repeated across
 * restarts: each file's diagnoses and seen-input marks commit together.
 */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include "alloc.h"
#include "config.h"
#include "ingest.h"
#include "log.h"
#include "query.h"
#include "rules.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fnmatch.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#ifdef HVD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define CLIENT_BUFFER    HVD_QUERY_MAX_REQUEST
#define CLIENT_WRITE_MAX (8u << 20) /* a client that reads nothing is dropped past this */
#define MAX_FILES        100000
#define SCAN_DEPTH       16

struct file {
    char *path;
    const hvd_watch_config *watch;
    dev_t dev;
    ino_t ino;
    off_t size;
    time_t mtime;
    uint64_t changed_ms; /* when a change was last seen */
    int pending;         /* changed since last read */
    int seen;            /* found by the current scan */
    struct file *next;
};

struct client {
    uv_pipe_t pipe;
    char buf[CLIENT_BUFFER];
    size_t len;
    struct daemon *d;
};

struct job {
    uv_work_t req;
    struct daemon *d;
    char *path;
    char *host;
    int rc;
    hvd_error err;
    hvd_ingest_result res;
};

struct daemon {
    uv_loop_t *loop;
    const char *config_path;
    hvd_config cfg;
    hvd_logger log;
    hvd_ruleset *rules;
    hvd_ruleset *next_rules; /* a reload waiting for the running job to finish */
    hvd_store *wstore;       /* used only by the work item */
    hvd_ingest *ingest;      /* used only by the work item */
    hvd_store *qstore;       /* queries, on the loop thread */
    uv_pipe_t server;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;
    uv_timer_t tick;
    uv_timer_t watchdog;
    uv_fs_event_t events[HVD_CONFIG_MAX_WATCHES];
    int nevents;
    struct file *files;
    size_t nfiles;
    int busy;
    int scan_due;
    uint64_t last_scan_ms;
    int stopping;
    uint64_t started_ms;
    uint64_t ingested;
    uint64_t events_read;
    uint64_t failures;
    char health_text[512];
};

/* --- logging: one line per message, journald level prefixes --------------------------- */

static void log_line(void *ud, int level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "<%d>%s\n", level, msg);
}

/* --- the work item: one file through the pipeline ------------------------------------- */

static void work(uv_work_t *req)
{
    struct job *j = req->data;
    struct daemon *d = j->d;
    hvd_ingest_options opt = {0};

    opt.host_hint = j->host && *j->host ? j->host : NULL;
    hvd_error_clear(&j->err);
    j->rc = hvd_ingest_file(d->ingest, j->path, NULL, &opt, &j->res, &j->err);
    if (j->rc == HVD_OK) {
        j->rc = hvd_ingest_finish(d->ingest, NULL, &j->err);
    }
}

static void schedule(struct daemon *d);
static int swap_rules(struct daemon *d);

static void work_done(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct daemon *d = j->d;

    (void)status;
    d->busy = 0;
    if (j->rc < 0) {
        d->failures++;
        hvd_log(&d->log, HVD_LOG_ERR, "%s", j->err.msg);
    } else {
        d->ingested++;
        d->events_read += j->res.events;
        hvd_log(&d->log, HVD_LOG_INFO,
                "%s: %llu events (%llu new, %llu seen before, %llu skipped)%s", j->path,
                (unsigned long long)j->res.events, (unsigned long long)j->res.fresh,
                (unsigned long long)j->res.repeated, (unsigned long long)j->res.stats.skipped,
                j->res.changed ? "; diagnoses updated" : "");
    }
    free(j->path);
    free(j->host);
    free(j);
    if (d->next_rules) {
        swap_rules(d);
    }
    if (!d->stopping) {
        schedule(d);
    } else {
        uv_stop(d->loop);
    }
}

/* --- watching ----------------------------------------------------------------------- */

static uint64_t now_ms(struct daemon *d)
{
    return uv_now(d->loop);
}

static int matches(const hvd_watch_config *w, const char *name)
{
    if (w->npatterns == 0) {
        return name[0] != '.';
    }
    for (int i = 0; i < w->npatterns; i++) {
        if (fnmatch(w->patterns[i], name, FNM_CASEFOLD) == 0) {
            return 1;
        }
    }
    return 0;
}

static struct file *file_find(struct daemon *d, const char *path)
{
    for (struct file *f = d->files; f; f = f->next) {
        if (strcmp(f->path, path) == 0) {
            return f;
        }
    }
    return NULL;
}

static void note_file(struct daemon *d, const hvd_watch_config *w, const char *path,
                      const struct stat *st)
{
    struct file *f = file_find(d, path);

    if (!f) {
        if (d->nfiles >= MAX_FILES) {
            return;
        }
        f = calloc(1, sizeof(*f));
        if (!f || !(f->path = strdup(path))) {
            free(f);
            return;
        }
        f->next = d->files;
        d->files = f;
        d->nfiles++;
        f->pending = 1;
        f->changed_ms = now_ms(d);
        hvd_log(&d->log, HVD_LOG_DEBUG, "%s: new", path);
    } else if (f->dev != st->st_dev || f->ino != st->st_ino || f->size != st->st_size ||
               f->mtime != st->st_mtime) {
        /* Grown, truncated, replaced or renamed in place: read it again; what was seen
         * before is recognised and skipped. */
        f->pending = 1;
        f->changed_ms = now_ms(d);
    }
    f->watch = w;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = st->st_size;
    f->mtime = st->st_mtime;
    f->seen = 1;
}

static void scan_dir(struct daemon *d, const hvd_watch_config *w, const char *dir, int depth)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char path[4096];
    struct stat st;

    if (!dh) {
        return;
    }
    while ((de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.' ||
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
            lstat(path, &st) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (w->recursive && depth < SCAN_DEPTH) {
                scan_dir(d, w, path, depth + 1);
            }
        } else if (S_ISREG(st.st_mode) && matches(w, de->d_name)) {
            note_file(d, w, path, &st);
        }
    }
    closedir(dh);
}

static void rescan(struct daemon *d)
{
    struct file **pf = &d->files;

    for (struct file *f = d->files; f; f = f->next) {
        f->seen = 0;
    }
    for (int i = 0; i < d->cfg.nwatches; i++) {
        scan_dir(d, &d->cfg.watches[i], d->cfg.watches[i].path, 0);
    }
    /* Files that vanished are forgotten; their checkpoints stay in the database. */
    while (*pf) {
        struct file *f = *pf;

        if (!f->seen) {
            *pf = f->next;
            free(f->path);
            free(f);
            d->nfiles--;
        } else {
            pf = &f->next;
        }
    }
    d->last_scan_ms = now_ms(d);
    d->scan_due = 0;
}

static void schedule(struct daemon *d)
{
    struct file *pick = NULL;
    struct job *j;

    if (d->busy || d->stopping) {
        return;
    }
    for (struct file *f = d->files; f; f = f->next) {
        if (f->pending && now_ms(d) - f->changed_ms >= (uint64_t)d->cfg.settle_time * 1000 &&
            (!pick || f->changed_ms < pick->changed_ms)) {
            pick = f;
        }
    }
    if (!pick) {
        return;
    }
    j = calloc(1, sizeof(*j));
    if (!j || !(j->path = strdup(pick->path))) {
        free(j);
        return;
    }
    j->host = pick->watch && pick->watch->host[0] ? strdup(pick->watch->host) : NULL;
    j->d = d;
    j->req.data = j;
    pick->pending = 0;
    d->busy = 1;
    if (uv_queue_work(d->loop, &j->req, work, work_done) != 0) {
        d->busy = 0;
        pick->pending = 1;
        free(j->path);
        free(j->host);
        free(j);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct daemon *d = t->data;

    if (d->scan_due || now_ms(d) - d->last_scan_ms >= (uint64_t)d->cfg.rescan_interval * 1000) {
        rescan(d);
    }
    schedule(d);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct daemon *d = h->data;

    (void)name;
    (void)events;
    (void)status;
    d->scan_due = 1;
}

static void start_watchers(struct daemon *d)
{
    for (int i = 0; i < d->cfg.nwatches; i++) {
        uv_fs_event_t *ev = &d->events[d->nevents];

        if (uv_fs_event_init(d->loop, ev) != 0) {
            continue;
        }
        ev->data = d;
        if (uv_fs_event_start(ev, on_fs_event, d->cfg.watches[i].path, 0) != 0) {
            hvd_log(&d->log, HVD_LOG_WARNING,
                    "%s: cannot watch for changes; relying on the rescan every %d s",
                    d->cfg.watches[i].path, d->cfg.rescan_interval);
            uv_close((uv_handle_t *)ev, NULL);
            continue;
        }
        d->nevents++;
    }
}

static void stop_watchers(struct daemon *d)
{
    for (int i = 0; i < d->nevents; i++) {
        uv_fs_event_stop(&d->events[i]);
        uv_close((uv_handle_t *)&d->events[i], NULL);
    }
    d->nevents = 0;
}

/* --- rules and reloads ---------------------------------------------------------------- */

static int swap_rules(struct daemon *d)
{
    hvd_ingest *ing = NULL;
    hvd_error err;

    if (hvd_ingest_create(&ing, d->wstore, d->next_rules, &d->log, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "reload: %s; keeping the old rules", err.msg);
        hvd_ruleset_destroy(d->next_rules);
        d->next_rules = NULL;
        return -1;
    }
    hvd_ingest_destroy(d->ingest);
    hvd_ruleset_destroy(d->rules);
    d->ingest = ing;
    d->rules = d->next_rules;
    d->next_rules = NULL;
    hvd_log(&d->log, HVD_LOG_NOTICE, "rules reloaded: %zu rules", hvd_ruleset_count(d->rules));
    return 0;
}

static void on_sighup(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    hvd_config cfg;
    hvd_ruleset *rs = NULL;
    hvd_error err;

    (void)signum;
    hvd_config_defaults(&cfg);
    if (hvd_config_load(&cfg, d->config_path, &d->log, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "reload: %s; keeping the old configuration", err.msg);
        return;
    }
    if (hvd_ruleset_load(&rs, cfg.rules, NULL, &d->log, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "reload: %s; keeping the old rules", err.msg);
        return;
    }
    /* Watches change now; database and socket only on restart. */
    stop_watchers(d);
    memcpy(d->cfg.watches, cfg.watches, sizeof(cfg.watches));
    d->cfg.nwatches = cfg.nwatches;
    d->cfg.rescan_interval = cfg.rescan_interval;
    d->cfg.settle_time = cfg.settle_time;
    d->log.min_level = cfg.log_level;
    start_watchers(d);
    d->scan_due = 1;
    hvd_ruleset_destroy(d->next_rules);
    d->next_rules = rs;
    if (!d->busy) {
        swap_rules(d);
    }
}

/* --- the query socket ----------------------------------------------------------------- */

static const char *health(void *ud)
{
    struct daemon *d = ud;

    snprintf(d->health_text, sizeof(d->health_text),
             "{\"uptime_s\":%llu,\"files_watched\":%zu,\"files_ingested\":%llu,"
             "\"events_read\":%llu,\"failures\":%llu,\"busy\":%s,\"rules\":%zu}",
             (unsigned long long)((now_ms(d) - d->started_ms) / 1000), d->nfiles,
             (unsigned long long)d->ingested, (unsigned long long)d->events_read,
             (unsigned long long)d->failures, d->busy ? "true" : "false",
             d->rules ? hvd_ruleset_count(d->rules) : (size_t)0);
    return d->health_text;
}

static void client_closed(uv_handle_t *h)
{
    free(h->data); /* the only place a struct client is freed */
}

static void client_drop(struct client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->pipe)) {
        uv_close((uv_handle_t *)&c->pipe, client_closed);
    }
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    free(w); /* request and payload are one allocation */
}

static void send_line(struct client *c, const char *text)
{
    size_t n = strlen(text);
    uv_write_t *w;
    uv_buf_t buf;

    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > CLIENT_WRITE_MAX) {
        client_drop(c); /* it does not read: it must not hold memory or others up */
        return;
    }
    w = malloc(sizeof(*w) + n + 1);
    if (!w) {
        client_drop(c);
        return;
    }
    memcpy((char *)(w + 1), text, n);
    ((char *)(w + 1))[n] = '\n';
    buf = uv_buf_init((char *)(w + 1), (unsigned)(n + 1));
    if (uv_write(w, (uv_stream_t *)&c->pipe, &buf, 1, written) != 0) {
        free(w);
        client_drop(c);
    }
}

static void answer(struct client *c, const char *line, size_t len)
{
    struct daemon *d = c->d;
    hvd_query_context q = {d->qstore, d->rules, health, d};
    char *out = hvd_query_handle(&q, line, len);

    if (!out) {
        client_drop(c);
        return;
    }
    send_line(c, out);
    hvd_free(out);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct client *c = h->data;

    (void)suggested;
    /* Reads land in the free tail of the client's line buffer: no allocation per read. */
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct client *c = s->data;
    char *nl;

    (void)buf;
    if (n < 0) {
        client_drop(c);
        return;
    }
    c->len += (size_t)n;
    while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
        size_t line = (size_t)(nl - c->buf);

        answer(c, c->buf, line);
        memmove(c->buf, nl + 1, c->len - line - 1);
        c->len -= line + 1;
        if (uv_is_closing((uv_handle_t *)&c->pipe)) {
            return;
        }
    }
    if (c->len == sizeof(c->buf)) {
        send_line(c, "{\"ok\":false,\"error\":{\"code\":\"too_large\",\"message\":\"requests are "
                     "limited to 64 KiB\"}}");
        client_drop(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct daemon *d = server->data;
    struct client *c;

    if (status < 0) {
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        return;
    }
    c->d = d;
    uv_pipe_init(d->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
        uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) != 0) {
        client_drop(c);
    }
}

/* Refuses to start over a live daemon; removes a socket file nobody listens on. */
static int claim_socket(struct daemon *d)
{
    struct sockaddr_un addr;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", d->cfg.socket);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        close(fd);
        hvd_log(&d->log, HVD_LOG_ERR, "%s: another hvdiagd is listening", d->cfg.socket);
        return -1;
    }
    if (fd >= 0) {
        close(fd);
    }
    unlink(d->cfg.socket);
    return 0;
}

/* --- start and stop ------------------------------------------------------------------- */

static void close_handle(uv_handle_t *h, void *server)
{
    if (uv_is_closing(h)) {
        return;
    }
    /* Every pipe but the server is a client, freed in its close callback. */
    uv_close(h, h->type == UV_NAMED_PIPE && h != server ? client_closed : NULL);
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;

    hvd_log(&d->log, HVD_LOG_NOTICE, "signal %d: stopping", signum);
#ifdef HVD_HAVE_SYSTEMD
    sd_notify(0, "STOPPING=1");
#endif
    d->stopping = 1;
    if (!d->busy) {
        uv_stop(d->loop); /* otherwise the running file's transaction ends first */
    }
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
#ifdef HVD_HAVE_SYSTEMD
    sd_notify(0, "WATCHDOG=1");
#endif
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvdiagd [-c FILE] [--check-config]\n"
            "  -c FILE          configuration (default %s)\n"
            "  --check-config   check the configuration and rules, print them, exit\n",
            HVD_CONF_FILE);
}

int main(int argc, char **argv)
{
    static struct daemon daemon;
    struct daemon *d = &daemon;
    int check_only = 0;
    hvd_error err;
    int status = 2;

    d->config_path = HVD_CONF_FILE;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            d->config_path = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("hvdiagd %s\n", HVD_VERSION);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    /* A client that goes away while we write must cost an EPIPE, not the daemon. */
    signal(SIGPIPE, SIG_IGN);
    xmlInitParser();
    d->log.fn = log_line;
    d->log.min_level = HVD_LOG_INFO;
    hvd_config_defaults(&d->cfg);
    if (hvd_config_load(&d->cfg, d->config_path, &d->log, &err) < 0) {
        fprintf(stderr, "<3>%s\n", err.msg);
        goto out;
    }
    d->log.min_level = d->cfg.log_level;
    if (hvd_ruleset_load(&d->rules, d->cfg.rules, NULL, &d->log, &err) < 0) {
        fprintf(stderr, "<3>%s: the rule set is invalid\n", d->cfg.rules);
        goto out;
    }
    if (check_only) {
        printf("configuration %s: valid\ndatabase %s\nrules %s (%zu rules)\nsocket %s (mode "
               "%04o)\n",
               d->config_path, d->cfg.database, d->cfg.rules, hvd_ruleset_count(d->rules),
               d->cfg.socket, d->cfg.socket_mode);
        for (int i = 0; i < d->cfg.nwatches; i++) {
            printf("watch %s: %s (%s%s)\n", d->cfg.watches[i].name, d->cfg.watches[i].path,
                   d->cfg.watches[i].kind, d->cfg.watches[i].recursive ? ", recursive" : "");
        }
        status = 0;
        goto out;
    }
    if (hvd_store_open(&d->wstore, d->cfg.database, 0, &err) < 0 ||
        hvd_store_open(&d->qstore, d->cfg.database, HVD_STORE_READONLY, &err) < 0 ||
        hvd_ingest_create(&d->ingest, d->wstore, d->rules, &d->log, &err) < 0) {
        fprintf(stderr, "<3>%s\n", err.msg);
        goto out;
    }
    d->loop = uv_default_loop();
    d->started_ms = uv_now(d->loop);
    if (claim_socket(d) < 0) {
        goto out;
    }
    uv_pipe_init(d->loop, &d->server, 0);
    d->server.data = d;
    if (uv_pipe_bind(&d->server, d->cfg.socket) != 0 ||
        chmod(d->cfg.socket, d->cfg.socket_mode) != 0 ||
        uv_listen((uv_stream_t *)&d->server, 64, on_connection) != 0) {
        fprintf(stderr, "<3>%s: cannot listen: %s\n", d->cfg.socket, strerror(errno));
        goto out;
    }
    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    uv_signal_init(d->loop, &d->sighup);
    d->sigterm.data = d->sigint.data = d->sighup.data = d;
    uv_signal_start(&d->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_stop_signal, SIGINT);
    uv_signal_start(&d->sighup, on_sighup, SIGHUP);
    uv_timer_init(d->loop, &d->tick);
    d->tick.data = d;
    uv_timer_start(&d->tick, on_tick, 0, 1000);
    uv_timer_init(d->loop, &d->watchdog);
#ifdef HVD_HAVE_SYSTEMD
    {
        uint64_t usec = 0;

        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
            uv_timer_start(&d->watchdog, on_watchdog, usec / 2000, usec / 2000);
        }
    }
#endif
    start_watchers(d);
    d->scan_due = 1;
    hvd_log(&d->log, HVD_LOG_NOTICE, "hvdiagd %s: %zu rules, %d watched folders, socket %s",
            HVD_VERSION, hvd_ruleset_count(d->rules), d->cfg.nwatches, d->cfg.socket);
#ifdef HVD_HAVE_SYSTEMD
    sd_notify(0, "READY=1");
#endif
    uv_run(d->loop, UV_RUN_DEFAULT);
    /* Stopped: close every handle (clients included) and let the close callbacks run. */
    unlink(d->cfg.socket);
    uv_walk(d->loop, close_handle, &d->server);
    uv_run(d->loop, UV_RUN_DEFAULT);
    status = uv_loop_close(d->loop) == 0 ? 0 : 1;
    hvd_log(&d->log, HVD_LOG_NOTICE, "stopped");
out:
    hvd_ingest_destroy(d->ingest);
    hvd_store_close(d->qstore);
    hvd_store_close(d->wstore);
    hvd_ruleset_destroy(d->rules);
    hvd_ruleset_destroy(d->next_rules);
    for (struct file *f = d->files; f;) {
        struct file *next = f->next;

        free(f->path);
        free(f);
        f = next;
    }
    xmlCleanupParser();
    return status;
}
