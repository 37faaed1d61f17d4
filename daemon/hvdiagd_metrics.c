/*
 * hvdiagd metrics: the daemon's counters in the Prometheus text exposition format (0.0.4),
 * served on GET /metrics by libmicrohttpd (metrics_listen) and written as a node_exporter
 * textfile (metrics_textfile, replaced atomically: a temporary file, then rename).
 *
 * Threads: every counter lives on the loop thread. Once a second a loop timer renders the
 * whole exposition into a new buffer and swaps it in under a mutex; libmicrohttpd's own
 * thread only copies the last rendered buffer under that mutex. Nothing else is shared,
 * so a scrape never reads a counter the loop is writing, and a stalled loop serves
 * numbers at most as old as the stall (hvdiag_rendered_timestamp_seconds says when).
 *
 * The HTTP side is bounded so a rude client cannot hurt the daemon: one thread polls all
 * connections, at most MAX_CONNECTIONS at once (MAX_PER_IP from one address), each closed
 * after IDLE_SECONDS without progress, requests limited to REQUEST_BYTES of headers. Only
 * GET and HEAD of /metrics are answered (200); other paths get 404, other methods 405.
 *
 * Counts that need the store (diagnoses and incidents by severity) are read again only
 * after the store changed (hvdd_metrics_changed), at most once a tick: O(diagnoses +
 * incidents) each time, one GROUP BY scan of both tables.
 */
#define _GNU_SOURCE
#include "hvdiagd.h"

#include "alloc.h"
#include "buf.h"
#include "source.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS         1000
#define TEXTFILE_MS     10000 /* the textfile is rewritten this often, and after changes */
#define MAX_CONNECTIONS 32
#define MAX_PER_IP      8
#define IDLE_SECONDS    10
#define REQUEST_BYTES   16384
#define TEXT_MAX        (4 * 1024 * 1024)
#define CONTENT_TYPE    "text/plain; version=0.0.4; charset=utf-8"

struct hvdd_metrics {
    struct hvdd *d;
    uv_timer_t timer;
    struct MHD_Daemon *mhd;
    int timer_on;
    int64_t started; /* wall clock at start, hvd_time ticks */
    int recount;     /* the store changed since the severity counts were read */
    int64_t diagnoses[HVD_STORE_SEVERITIES];
    int64_t incidents[HVD_STORE_SEVERITIES];
    uint64_t textfile_errors;
    int textfile_failing; /* the last write failed (logged once until it works again) */
    uint64_t textfile_at; /* loop ms of the last write */
    char *textfile_last;  /* what it holds, to rewrite only after a change or TEXTFILE_MS */
    pthread_mutex_t lock; /* guards text and len: the HTTP thread reads them */
    char *text;
    size_t len;
};

/* --- rendering (loop thread) ----------------------------------------------------------- */

static void family(hvd_buf *b, const char *name, const char *type, const char *help)
{
    hvd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(hvd_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    family(b, name, type, help);
    hvd_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* A label value escaped as the format wants: backslash, double quote and newline. */
static void label_value(hvd_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            hvd_buf_addc(b, '\\');
            hvd_buf_addc(b, *v);
        } else if (*v == '\n') {
            hvd_buf_adds(b, "\\n");
        } else {
            hvd_buf_addc(b, *v);
        }
    }
}

static int64_t wall_ticks(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 10000000 + ts.tv_nsec / 100;
}

static const hvd_source_kind kinds[] = {HVD_SOURCE_EVTX, HVD_SOURCE_CLUSTERLOG};

static void by_kind(hvd_buf *b, const char *name, const char *help, const uint64_t *v)
{
    family(b, name, "counter", help);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        hvd_buf_printf(b, "%s{kind=\"%s\"} %" PRIu64 "\n", name, hvd_source_kind_name(kinds[i]),
                       v[kinds[i]]);
    }
}

static void by_severity(hvd_buf *b, const char *name, const char *type, const char *help,
                        const int64_t *v)
{
    family(b, name, type, help);
    for (int s = HVD_SEVERITY_NONE; s <= HVD_SEVERITY_CRITICAL; s++) {
        hvd_buf_printf(b, "%s{severity=\"%s\"} %" PRId64 "\n", name,
                       hvd_severity_name((hvd_severity)s), v[s]);
    }
}

/* The whole exposition; caller frees with hvd_free(). NULL when out of memory. With
 * with_lag, the read lag against the clock now (the textfile leaves it to PromQL: it is
 * read later than it is written). Cost: O(files) for the quarantine count. */
static char *render(struct hvdd_metrics *m, int with_lag)
{
    struct hvdd *d = m->d;
    const struct hvdd_counters *c = &d->count;
    hvd_buf b;
    size_t quarantined = 0;
    size_t followers;
    uint64_t diag_new[HVD_STORE_SEVERITIES];
    int64_t signed_new[HVD_STORE_SEVERITIES];
    int64_t now = wall_ticks();

    for (size_t i = 0; i < d->nfiles; i++) {
        quarantined += d->files[i]->state == HVDD_QUARANTINED;
    }
    followers = hvdd_server_followers(d);
    memcpy(diag_new, c->diagnoses_by_severity, sizeof(diag_new));
    for (int s = 0; s < HVD_STORE_SEVERITIES; s++) {
        signed_new[s] = (int64_t)diag_new[s];
    }
    hvd_buf_init(&b, TEXT_MAX);
    family(&b, "hvdiag_build_info", "gauge", "hvdiagd version and EVTX decoder, always 1.");
    hvd_buf_adds(&b, "hvdiag_build_info{version=\"");
    label_value(&b, HVD_VERSION);
    hvd_buf_adds(&b, "\",evtx_reader=\"");
    label_value(&b, hvd_evtx_decoder_name((hvd_evtx_decoder)d->cfg->evtx_decoder));
    hvd_buf_adds(&b, "\"} 1\n");
    family(&b, "hvdiag_start_time_seconds", "gauge", "When hvdiagd started, Unix time.");
    hvd_buf_printf(&b, "hvdiag_start_time_seconds %" PRId64 "\n", m->started / 10000000);
    family(&b, "hvdiag_rendered_timestamp_seconds", "gauge",
           "When these numbers were taken, Unix time.");
    hvd_buf_printf(&b, "hvdiag_rendered_timestamp_seconds %" PRId64 ".%03d\n", now / 10000000,
                   (int)(now % 10000000 / 10000));
    one(&b, "hvdiag_rules", "gauge", "Rules in the loaded rule set.",
        d->rules ? hvd_ruleset_count(d->rules) : 0);

    one(&b, "hvdiag_files_read_total", "counter", "Files read and committed.", c->files_ingested);
    one(&b, "hvdiag_files_failed_total", "counter",
        "Reads that found a file unreadable (retried when it changes).", c->failed);
    one(&b, "hvdiag_files_quarantined_total", "counter",
        "Files quarantined: their worker crashed, ran out of time or out of memory.",
        c->quarantined);
    one(&b, "hvdiag_files_watched", "gauge", "Files in the watched folders.", d->nfiles);
    one(&b, "hvdiag_files_in_quarantine", "gauge", "Watched files now in quarantine.", quarantined);
    one(&b, "hvdiag_queue_files", "gauge", "Files waiting for a worker.", hvdd_files_due(d));

    by_kind(&b, "hvdiag_events_read_total", "Events read from files, by source kind.",
            c->kind_events);
    by_kind(&b, "hvdiag_events_new_total", "Events read that were not seen before.", c->kind_fresh);
    by_kind(&b, "hvdiag_events_skipped_total",
            "EVTX records or cluster.log lines that could not be read.", c->kind_skipped);
    family(&b, "hvdiag_newest_event_timestamp_seconds", "gauge",
           "Time of the latest event read since start, by source kind, Unix time.");
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        int64_t t = c->kind_newest[kinds[i]];

        if (t > 0) {
            hvd_buf_printf(&b, "hvdiag_newest_event_timestamp_seconds{kind=\"%s\"} %" PRId64 "\n",
                           hvd_source_kind_name(kinds[i]), t / 10000000);
        }
    }
    if (with_lag) {
        family(&b, "hvdiag_read_lag_seconds", "gauge",
               "Now minus the time of the latest event read, by source kind.");
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            int64_t t = c->kind_newest[kinds[i]];

            if (t > 0) {
                int64_t lag = now > t ? (now - t) / 10000 : 0; /* ms; a clock ahead is 0 */

                hvd_buf_printf(&b,
                               "hvdiag_read_lag_seconds{kind=\"%s\"} %" PRId64 ".%03" PRId64 "\n",
                               hvd_source_kind_name(kinds[i]), lag / 1000, lag % 1000);
            }
        }
    }

    by_severity(&b, "hvdiag_diagnoses_new_total", "counter",
                "Diagnoses stored since start, by severity.", signed_new);
    by_severity(&b, "hvdiag_diagnoses", "gauge", "Diagnoses in the database, by severity.",
                m->diagnoses);
    by_severity(&b, "hvdiag_incidents", "gauge", "Incidents in the database, by severity.",
                m->incidents);

    one(&b, "hvdiag_workers", "gauge", "Worker processes allowed at once.", d->cfg->workers);
    one(&b, "hvdiag_workers_busy", "gauge", "Workers reading a file now.", d->running);
    one(&b, "hvdiag_workers_replaced_total", "counter",
        "Workers replaced after worker_max_files, worker_max_rss or running out of memory.",
        c->workers_replaced);
    one(&b, "hvdiag_worker_out_of_memory_total", "counter",
        "File reads that ran out of memory under worker_memory_limit.", c->out_of_memory);
    one(&b, "hvdiag_worker_crashes_total", "counter", "Workers that died reading a file.",
        c->crashed);
    one(&b, "hvdiag_worker_timeouts_total", "counter",
        "File reads stopped at file_timeout or worker_cpu_limit.", c->timeouts);

    one(&b, "hvdiag_socket_clients", "gauge", "Clients connected to the query socket.",
        d->nclients);
    one(&b, "hvdiag_socket_followers", "gauge", "Of them, following new diagnoses.", followers);
    one(&b, "hvdiag_socket_clients_refused_total", "counter",
        "Clients turned away: too many, or stopping.", c->clients_refused);
    one(&b, "hvdiag_socket_clients_dropped_total", "counter",
        "Clients closed by the daemon: idle, errors.", c->clients_dropped);
    one(&b, "hvdiag_metrics_textfile_errors_total", "counter", "Failed writes of metrics_textfile.",
        m->textfile_errors);
    return hvd_buf_take(&b);
}

/* --- the textfile ------------------------------------------------------------------- */

/* Writes text to path through path.tmp and rename(): node_exporter reads *.prom only and
 * never sees half a file. Returns 0, or an errno value. */
static int write_textfile(const char *path, const char *text)
{
    char tmp[4096];
    size_t len = strlen(text);
    size_t done = 0;
    int fd;
    int e = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return ENAMETOOLONG;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return errno;
    }
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            e = n < 0 ? errno : EIO;
            break;
        }
        done += (size_t)n;
    }
    if (close(fd) < 0 && !e) {
        e = errno;
    }
    if (!e && rename(tmp, path) < 0) {
        e = errno;
    }
    if (e) {
        unlink(tmp);
    }
    return e;
}

static void textfile_tick(struct hvdd_metrics *m)
{
    struct hvdd *d = m->d;
    const char *path = d->cfg->metrics_textfile;
    uint64_t now = uv_now(d->loop);
    char *text;
    int e;

    if (!path) {
        return;
    }
    text = render(m, 0);
    if (!text) {
        return;
    }
    /* the timestamp line changes every tick; compare what follows it */
    if (m->textfile_last && now - m->textfile_at < TEXTFILE_MS && !m->textfile_failing) {
        const char *a = strstr(text, "# HELP hvdiag_rules");
        const char *b = strstr(m->textfile_last, "# HELP hvdiag_rules");

        if (a && b && strcmp(a, b) == 0) {
            hvd_free(text);
            return;
        }
    }
    e = write_textfile(path, text);
    m->textfile_at = now;
    if (e) {
        m->textfile_errors++;
        if (!m->textfile_failing) {
            hvd_log(&d->log, HVD_LOG_ERR, "%s: cannot write the metrics textfile: %s", path,
                    strerror(e));
        }
        m->textfile_failing = 1;
        hvd_free(text);
        return;
    }
    if (m->textfile_failing) {
        hvd_log(&d->log, HVD_LOG_NOTICE, "%s: metrics textfile written again", path);
    }
    m->textfile_failing = 0;
    hvd_free(m->textfile_last);
    m->textfile_last = text;
}

/* --- the tick ------------------------------------------------------------------------ */

static void publish(struct hvdd_metrics *m)
{
    char *text = render(m, 1);
    char *old;

    if (!text) {
        return; /* out of memory: the last rendering stays */
    }
    pthread_mutex_lock(&m->lock);
    old = m->text;
    m->text = text;
    m->len = strlen(text);
    pthread_mutex_unlock(&m->lock);
    hvd_free(old);
}

static void recount(struct hvdd_metrics *m)
{
    hvd_error err;

    if (!m->recount || !m->d->store) {
        return;
    }
    m->recount = 0;
    if (hvd_store_severity_counts(m->d->store, m->diagnoses, m->incidents, &err) < 0) {
        hvd_log(&m->d->log, HVD_LOG_WARNING, "metrics: %s", err.msg);
        m->recount = 1;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct hvdd_metrics *m = t->data;

    recount(m);
    if (m->mhd) {
        publish(m);
    }
    textfile_tick(m);
}

void hvdd_metrics_changed(struct hvdd *d)
{
    if (d->metrics) {
        d->metrics->recount = 1;
    }
}

/* --- HTTP (libmicrohttpd's thread) -------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Runs on libmicrohttpd's thread: touches nothing of the daemon but text under the lock. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    struct hvdd_metrics *m = cls;
    struct MHD_Response *r;
    enum MHD_Result rc;

    (void)version;
    (void)upload_data;
    (void)upload_size;
    (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "405 only GET and HEAD are answered\n",
                     "GET, HEAD");
    }
    if (strcmp(url, "/metrics") != 0) {
        return reply(c, MHD_HTTP_NOT_FOUND, "404 not found: the metrics are at /metrics\n", NULL);
    }
    pthread_mutex_lock(&m->lock);
    r = MHD_create_response_from_buffer(m->len, m->text, MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&m->lock);
    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* A listening socket on the configured address: made here, not by libmicrohttpd, so a
 * failure says why (the address is taken, not ours). Returns the fd, or -1 after logging. */
static int listen_socket(const hvd_config *cfg, const hvd_logger *log)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int v6 = strchr(cfg->metrics_address, ':') != NULL;
    int fd;
    int one_ = 1;
    int e;

    memset(&ss, 0, sizeof(ss));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)cfg->metrics_port);
        inet_pton(AF_INET6, cfg->metrics_address, &a->sin6_addr);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)cfg->metrics_port);
        inet_pton(AF_INET, cfg->metrics_address, &a->sin_addr);
        len = sizeof(*a);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = errno;
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_));
    if (v6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one_, sizeof(one_));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
        e = errno;
        close(fd);
        goto fail;
    }
    return fd;
fail:
    hvd_log(log, HVD_LOG_ERR, "%s:%u: metrics_listen: cannot listen on %s: %s", cfg->file,
            cfg->metrics_listen_line, cfg->metrics_listen, strerror(e));
    return -1;
}

/* --- start and stop ----------------------------------------------------------------- */

int hvdd_metrics_check(const hvd_config *cfg, const hvd_logger *log)
{
    char dir[4096];
    const char *slash;
    struct stat st;

    if (!cfg->metrics_textfile) {
        return 0;
    }
    slash = strrchr(cfg->metrics_textfile, '/');
    if ((size_t)(slash - cfg->metrics_textfile) >= sizeof(dir)) {
        hvd_log(log, HVD_LOG_ERR, "%s:%u: metrics_textfile: the path is too long", cfg->file,
                cfg->metrics_textfile_line);
        return -1;
    }
    memcpy(dir, cfg->metrics_textfile, (size_t)(slash - cfg->metrics_textfile));
    dir[slash - cfg->metrics_textfile] = '\0';
    if (!dir[0]) {
        memcpy(dir, "/", 2);
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        hvd_log(log, HVD_LOG_ERR, "%s:%u: metrics_textfile: %s is not a folder", cfg->file,
                cfg->metrics_textfile_line, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        hvd_log(log, HVD_LOG_ERR, "%s:%u: metrics_textfile: cannot write in %s: %s", cfg->file,
                cfg->metrics_textfile_line, dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void arm(struct hvdd_metrics *m)
{
    int want = m->mhd || m->d->cfg->metrics_textfile;

    if (want && !m->timer_on) {
        uv_timer_start(&m->timer, on_tick, TICK_MS, TICK_MS);
    } else if (!want && m->timer_on) {
        uv_timer_stop(&m->timer);
    }
    m->timer_on = want;
}

int hvdd_metrics_start(struct hvdd *d)
{
    const hvd_config *cfg = d->cfg;
    struct hvdd_metrics *m;
    int fd;

    m = calloc(1, sizeof(*m));
    if (!m) {
        hvd_log(&d->log, HVD_LOG_ERR, "metrics: out of memory");
        return -1;
    }
    m->d = d;
    m->started = wall_ticks() - (int64_t)(uv_now(d->loop) - d->started_ms) * 10000;
    m->recount = 1;
    pthread_mutex_init(&m->lock, NULL);
    uv_timer_init(d->loop, &m->timer);
    m->timer.data = m;
    d->metrics = m;
    if (hvdd_metrics_check(cfg, &d->log) < 0) {
        return -1;
    }
    recount(m);
    publish(m);
    textfile_tick(m);
    if (cfg->metrics_textfile && m->textfile_failing) {
        return -1; /* logged: the first write must work */
    }
    if (cfg->metrics_listen) {
        fd = listen_socket(cfg, &d->log);
        if (fd < 0) {
            return -1;
        }
        m->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_request, m,
                                  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                  (unsigned)MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)IDLE_SECONDS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                  (size_t)REQUEST_BYTES, MHD_OPTION_END);
        if (!m->mhd) {
            close(fd);
            hvd_log(&d->log, HVD_LOG_ERR, "%s:%u: metrics_listen: cannot serve HTTP on %s",
                    cfg->file, cfg->metrics_listen_line, cfg->metrics_listen);
            return -1;
        }
        hvd_log(&d->log, HVD_LOG_INFO, "metrics on http://%s/metrics", cfg->metrics_listen);
    }
    arm(m);
    return 0;
}

void hvdd_metrics_apply_config(struct hvdd *d)
{
    if (!d->metrics) {
        return;
    }
    if (d->cfg->metrics_textfile && hvdd_metrics_check(d->cfg, &d->log) < 0) {
        d->metrics->textfile_failing = 1; /* logged; counted at each failed write */
    }
    hvd_free(d->metrics->textfile_last);
    d->metrics->textfile_last = NULL; /* a new path is written at the next tick */
    arm(d->metrics);
}

void hvdd_metrics_stop(struct hvdd *d)
{
    struct hvdd_metrics *m = d->metrics;

    if (!m) {
        return;
    }
    if (m->mhd) {
        MHD_stop_daemon(m->mhd); /* joins its thread and closes the listening socket */
        m->mhd = NULL;
    }
    uv_timer_stop(&m->timer);
    m->timer_on = 0;
}

void hvdd_metrics_free(struct hvdd *d)
{
    struct hvdd_metrics *m = d->metrics;

    if (!m) {
        return;
    }
    hvdd_metrics_stop(d);
    pthread_mutex_destroy(&m->lock);
    hvd_free(m->text);
    hvd_free(m->textfile_last);
    free(m);
    d->metrics = NULL;
}
