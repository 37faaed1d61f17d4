/*
 * hvdiagd, end to end: the real binary with a temp configuration, temp watched folder,
 * temp database and temp socket; requests over a real Unix socket; real signals. Every
 * wait has a deadline (poll with a timeout, or re-ask until a condition holds), never a
 * fixed sleep. The daemon gets PR_SET_PDEATHSIG, so a failed test does not leave it behind.
 *
 * Helpers: dm_* drive one daemon (start, stop, ask, wait for a condition), conn_* are one
 * client connection. New cases (diagnoses exactly once, kill -9 during a big ingest) are
 * dm_start + dm_drop + dm_wait on "health"/"sources"/"incidents" answers.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "reslimit.h"
#include "store.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <inttypes.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DAEMON_BIN       HVD_TEST_BINDIR "/hvdiagd"
#define HVDIAG_BIN       HVD_TEST_BINDIR "/hvdiag"
#define FIXTURE(name)    HVD_TEST_DATADIR "/daemon/" name
#define EVTX_FIXTURE(n)  HVD_TEST_DATADIR "/evtx/" n
#define SAMPLE(name)     HVD_TEST_SRCDIR "/samples/" name
#define START_TIMEOUT_MS 30000
#define WAIT_MS          30000

/* --- time ---------------------------------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(int ms)
{
    poll(NULL, 0, ms); /* the pause between two tries of a deadline loop */
}

/* --- one client connection ----------------------------------------------------------- */

struct conn {
    int fd;
    char *buf;
    size_t used;
    size_t cap;
};

static int conn_open(struct conn *c, const char *sock)
{
    struct sockaddr_un sa;

    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c->fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static void conn_send(struct conn *c, const char *data, size_t len)
{
    long long deadline = now_ms() + WAIT_MS;
    size_t done = 0;

    while (done < len) {
        struct pollfd p = {c->fd, POLLOUT, 0};
        ssize_t n;

        ck_assert_msg(now_ms() < deadline, "send timed out");
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        n = send(c->fd, data + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        done += (size_t)n;
    }
}

/* One line (without "\n"), caller frees; NULL at EOF or after timeout_ms. */
static char *conn_line(struct conn *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    for (;;) {
        char *nl = c->used ? memchr(c->buf, '\n', c->used) : NULL;
        struct pollfd p = {c->fd, POLLIN, 0};
        long long left;
        ssize_t n;

        if (nl) {
            size_t len = (size_t)(nl - c->buf);
            char *line = strndup(c->buf, len);

            memmove(c->buf, nl + 1, c->used - len - 1);
            c->used -= len + 1;
            return line;
        }
        left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)(left < 1000 ? left : 1000)) < 0) {
            return NULL;
        }
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) {
            continue;
        }
        if (c->cap - c->used < 65536) {
            c->cap = c->cap * 2 + 65536;
            c->buf = realloc(c->buf, c->cap);
            ck_assert_ptr_nonnull(c->buf);
        }
        n = recv(c->fd, c->buf + c->used, c->cap - c->used, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            return NULL;
        }
        c->used += (size_t)n;
    }
}

/* True when the peer closed the connection within timeout_ms (pending lines skipped). */
static int conn_closed_by_peer(struct conn *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    while (now_ms() < deadline) {
        char *line = conn_line(c, (int)(deadline - now_ms()));

        if (!line) {
            return now_ms() < deadline;
        }
        free(line);
    }
    return 0;
}

/* The next answer on c, parsed; 'what' names the request in a failure. */
static json_t *conn_answer(struct conn *c, const char *what)
{
    char *line = conn_line(c, WAIT_MS);
    json_t *o;

    ck_assert_msg(line != NULL, "no answer to %s", what);
    o = json_loads(line, 0, NULL);
    ck_assert_msg(o != NULL, "not JSON: %s", line);
    free(line);
    return o;
}

static json_t *conn_ask(struct conn *c, const char *request)
{
    conn_send(c, request, strlen(request));
    conn_send(c, "\n", 1);
    return conn_answer(c, request);
}

static const char *error_code(const json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "error"), "code"));
}

/* The answer to request on c (NULL: the next answer, to what was sent) is the error code. */
static void conn_expect_error(struct conn *c, const char *request, const char *code)
{
    json_t *o = request ? conn_ask(c, request) : conn_answer(c, "what was sent");

    ck_assert_str_eq(error_code(o), code);
    json_decref(o);
}

/* --- one daemon ---------------------------------------------------------------------- */

struct dm {
    char *dir;
    char *conf;
    char *sock;
    char *db;
    char *watch;
    char *log;
    pid_t pid;
};

static void dm_init(struct dm *m)
{
    memset(m, 0, sizeof(*m));
    m->dir = hvd_test_tmpdir();
    m->conf = hvd_test_path(m->dir, "hvdiag.conf");
    m->sock = hvd_test_path(m->dir, "hvdiag.sock");
    m->db = hvd_test_path(m->dir, "hvdiag.db");
    m->watch = hvd_test_path(m->dir, "watch");
    m->log = hvd_test_path(m->dir, "hvdiagd.log");
    ck_assert_int_eq(mkdir(m->watch, 0755), 0);
}

/* True when text has a line starting with the first len bytes of key ("workers "). */
static int has_key(const char *text, const char *key, size_t len)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A configuration for this daemon; extra lines ("key = value\n"...) go in [daemon] and
 * replace the test defaults for the keys they set. */
static void dm_config(struct dm *m, const char *extra)
{
    static const char *const defaults[] = {
        "log_level = debug\n",  "settle_time = 100ms\n", "rescan_interval = 1s\n",
        "file_timeout = 60s\n", "workers = 2\n",
    };
    char text[4096];
    size_t n;

    if (!extra) {
        extra = "";
    }
    n = (size_t)snprintf(text, sizeof(text),
                         "[daemon]\ndatabase = %s\nrules = %s/rules\nsocket = %s\n", m->db,
                         HVD_TEST_SRCDIR, m->sock);
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        size_t key = strcspn(defaults[i], " ");

        if (!has_key(extra, defaults[i], key)) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", defaults[i]);
        }
    }
    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "%s\n[watch w]\npath = %s\npattern = *.log *.evtx\n", extra, m->watch);
    ck_assert_uint_lt(n, sizeof(text));
    ck_assert_int_eq(hvd_test_write_file(m->conf, text, n), 0);
}

static pid_t spawn(const char *bin, const char *conf, const char *log, const char *env)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        if (env) {
            putenv((char *)env);
        }
        execl(bin, bin, "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int try_wait(pid_t pid, int timeout_ms, int *status)
{
    long long deadline = now_ms() + timeout_ms;

    do {
        pid_t r = waitpid(pid, status, WNOHANG);

        if (r == pid) {
            return 1;
        }
        nap(20);
    } while (now_ms() < deadline);
    return 0;
}

static char *dm_log_text(const struct dm *m)
{
    char *text = hvd_test_read_file(m->log, NULL);

    return text ? text : strdup("");
}

/* Starts bin (NULL: hvdiagd) with env ("NAME=value" or NULL); returns once it answers. */
static void dm_start_bin(struct dm *m, const char *bin, const char *env)
{
    long long deadline = now_ms() + START_TIMEOUT_MS;
    int status;

    m->pid = spawn(bin ? bin : DAEMON_BIN, m->conf, m->log, env);
    for (;;) {
        struct conn c;

        if (conn_open(&c, m->sock) == 0) {
            conn_close(&c);
            return;
        }
        if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
            char *log = dm_log_text(m);

            m->pid = 0;
            ck_abort_msg("hvdiagd exited at start (status %d):\n%s", status, log);
        }
        if (now_ms() > deadline) {
            ck_abort_msg("hvdiagd did not start listening in time");
        }
        nap(20);
    }
}

static void dm_start(struct dm *m)
{
    dm_start_bin(m, NULL, NULL);
}

/* SIGTERM and wait; returns the exit status, or -1 when it did not exit normally. */
static int dm_stop(struct dm *m)
{
    int status = 0;

    ck_assert_int_gt(m->pid, 0);
    kill(m->pid, SIGTERM);
    if (!try_wait(m->pid, WAIT_MS, &status)) {
        kill(m->pid, SIGKILL);
        waitpid(m->pid, &status, 0);
        m->pid = 0;
        return -1;
    }
    m->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void dm_free(struct dm *m)
{
    if (m->pid > 0) {
        kill(m->pid, SIGKILL);
        waitpid(m->pid, NULL, 0);
    }
    hvd_test_rmtree(m->dir);
    free(m->dir);
    free(m->conf);
    free(m->sock);
    free(m->db);
    free(m->watch);
    free(m->log);
}

/* A daemon in a directory of its own with configuration extra (as dm_config()), started
 * as dm_start_bin() does; undone by dm_down(). */
static void dm_up(struct dm *m, const char *extra, const char *bin, const char *env)
{
    dm_init(m);
    dm_config(m, extra);
    dm_start_bin(m, bin, env);
}

/* Stops the daemon, which must exit 0, and removes its directory. */
static void dm_down(struct dm *m)
{
    ck_assert_int_eq(dm_stop(m), 0);
    dm_free(m);
}

static json_t *dm_ask(const struct dm *m, const char *request)
{
    struct conn c;
    json_t *o;

    ck_assert_msg(conn_open(&c, m->sock) == 0, "cannot connect to %s", m->sock);
    o = conn_ask(&c, request);
    conn_close(&c);
    return o;
}

typedef int (*dm_pred)(const json_t *answer, const void *ud);

/* Asks until pred holds (returns that answer) or the deadline passes (fails the test). */
static json_t *dm_wait(const struct dm *m, const char *request, dm_pred pred, const void *ud,
                       const char *what)
{
    long long deadline = now_ms() + WAIT_MS;

    for (;;) {
        json_t *o = dm_ask(m, request);
        char *text;
        char *log;

        if (pred(o, ud)) {
            return o;
        }
        if (now_ms() > deadline) {
            text = json_dumps(o, JSON_COMPACT);
            log = dm_log_text(m);
            ck_abort_msg("timed out waiting for %s; last answer %s\nlog:\n%s", what, text, log);
        }
        json_decref(o);
        nap(50);
    }
}

static void dm_wait_log(const struct dm *m, const char *needle)
{
    long long deadline = now_ms() + WAIT_MS;

    for (;;) {
        char *log = dm_log_text(m);
        int found = strstr(log, needle) != NULL;

        if (found) {
            free(log);
            return;
        }
        if (now_ms() > deadline) {
            ck_abort_msg("'%s' never appeared in the log:\n%s", needle, log);
        }
        free(log);
        nap(50);
    }
}

/* Copies a fixture into the watched folder through a temp name (an atomic drop). */
static char *dm_drop(const struct dm *m, const char *fixture, const char *name)
{
    size_t len;
    char *data = hvd_test_read_file(fixture, &len);
    char *tmp = hvd_test_path(m->dir, "drop.tmp");
    char *path = hvd_test_path(m->watch, name);

    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(hvd_test_write_file(tmp, data, len), 0);
    ck_assert_int_eq(rename(tmp, path), 0);
    free(data);
    free(tmp);
    return path;
}

static json_int_t counter(const json_t *health, const char *name)
{
    return json_integer_value(json_object_get(health, name));
}

/* The daemon's file-table entry for path in a "sources" answer, or NULL. */
static const json_t *file_entry(const json_t *sources, const char *path)
{
    const json_t *files = json_object_get(sources, "files");
    size_t i;
    const json_t *f;

    json_array_foreach(files, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "path")), path) == 0) {
            return f;
        }
    }
    return NULL;
}

struct want_file {
    const char *path;
    const char *state;  /* NULL: any */
    const char *change; /* NULL: any */
    json_int_t min_reads;
    json_int_t size; /* 0: any */
};

/* The entry of path in a sources answer has an error that says why. */
static void assert_file_error(const json_t *sources, const char *path, const char *why)
{
    const char *error = json_string_value(json_object_get(file_entry(sources, path), "error"));

    ck_assert_msg(error && strstr(error, why), "%s: error %s, want \"%s\"", path,
                  error ? error : "(none)", why);
}

static int file_is(const json_t *o, const void *ud)
{
    const struct want_file *w = ud;
    const json_t *f = file_entry(o, w->path);

    return f &&
           (!w->state || strcmp(json_string_value(json_object_get(f, "state")), w->state) == 0) &&
           (!w->change ||
            strcmp(json_string_value(json_object_get(f, "change")), w->change) == 0) &&
           json_integer_value(json_object_get(f, "reads")) >= w->min_reads &&
           (!w->size || json_integer_value(json_object_get(f, "size")) == w->size);
}

static int file_absent(const json_t *o, const void *ud)
{
    return json_is_true(json_object_get(o, "ok")) && file_entry(o, ud) == NULL;
}

struct want_counter {
    const char *name;
    json_int_t min;
};

static int counter_at_least(const json_t *o, const void *ud)
{
    const struct want_counter *w = ud;

    return counter(o, w->name) >= w->min;
}

/* A file dropped after a bad one is read as usual. */
static void dm_next_file_read(const struct dm *m)
{
    char *ok = dm_drop(m, FIXTURE("HV-NODE02_cluster.log"), "HV-NODE02_cluster.log");
    struct want_file good = {ok, "done", NULL, 1, 0};

    json_decref(dm_wait(m, "{\"op\":\"sources\"}", file_is, &good, "the next file read"));
    free(ok);
}

/* --- configuration check ------------------------------------------------------------- */

START_TEST(daemon_check_config_prints_summary_or_file_line_errors)
{
    struct dm m;
    char *out;
    char *err;
    char *text;
    char want[512];
    char *argv[] = {DAEMON_BIN, "--check-config", "-c", NULL, NULL};
    static const char bad[] = "[daemon]\nworkers = 2\nworkers_max = 3\n[watch w]\npath = x\n";

    dm_init(&m);
    dm_config(&m, NULL);
    out = hvd_test_path(m.dir, "out");
    err = hvd_test_path(m.dir, "err");
    argv[3] = m.conf;
    ck_assert_int_eq(hvd_test_run_io(argv, out, err), 0);
    text = hvd_test_read_file(out, NULL);
    ck_assert_ptr_nonnull(strstr(text, "[watch w]\npath = "));
    ck_assert_ptr_nonnull(strstr(text, "settle_time = 100ms\n"));
    free(text);

    ck_assert_int_eq(hvd_test_write_file(m.conf, bad, sizeof(bad) - 1), 0);
    ck_assert_int_eq(hvd_test_run_io(argv, out, err), 2);
    text = hvd_test_read_file(err, NULL);
    snprintf(want, sizeof(want), "%s:3: unknown key 'workers_max' in [daemon]", m.conf);
    ck_assert_msg(strstr(text, want) != NULL, "stderr: %s", text);
    snprintf(want, sizeof(want), "%s:5: path: 'x' is not an absolute path", m.conf);
    ck_assert_msg(strstr(text, want) != NULL, "stderr: %s", text);
    free(text);
    free(out);
    free(err);
    dm_free(&m);
}
END_TEST

/* --- the socket ---------------------------------------------------------------------- */

START_TEST(daemon_answers_ping_and_health)
{
    struct dm m;
    json_t *o;
    struct stat st;

    dm_up(&m, "socket_mode = 0600", NULL, NULL);
    ck_assert_int_eq(stat(m.sock, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    o = dm_ask(&m, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    ck_assert(json_is_integer(json_object_get(o, "uptime_s")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "files_watched")), 0);
    ck_assert_int_eq(counter(o, "files_ingested"), 0);
    ck_assert_int_eq(counter(o, "quarantined"), 0);
    json_decref(o);
    o = dm_ask(&m, "{\"op\":\"rules\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    ck_assert_int_gt(json_array_size(json_object_get(o, "rules")), 0);
    json_decref(o);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_bad_requests_get_json_errors_and_others_go_on)
{
    struct dm m;
    struct conn a;
    struct conn b;
    struct conn big;
    json_t *o;
    size_t n = 70 * 1024;
    char *junk = malloc(n + 1);

    dm_up(&m, NULL, NULL, NULL);
    ck_assert_int_eq(conn_open(&a, m.sock), 0);
    ck_assert_int_eq(conn_open(&b, m.sock), 0);

    conn_expect_error(&b, "hello there", "bad_request");
    conn_expect_error(&b, "[1,2]", "bad_request");
    conn_expect_error(&b, "{\"op\":\"fly\"}", "unknown_op");
    /* the same connection still works after errors */
    o = conn_ask(&b, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);

    /* more than 64 KiB without a newline: an error, then the connection is closed */
    memset(junk, 'x', n);
    ck_assert_int_eq(conn_open(&big, m.sock), 0);
    conn_send(&big, junk, n);
    conn_expect_error(&big, NULL, "too_large");
    ck_assert(conn_closed_by_peer(&big, WAIT_MS));
    conn_close(&big);

    /* over 64 KiB with a newline at the end: the same */
    ck_assert_int_eq(conn_open(&big, m.sock), 0);
    junk[n] = '\n';
    conn_send(&big, junk, n + 1);
    conn_expect_error(&big, NULL, "too_large");
    conn_close(&big);

    /* two requests in one write, and one split across two writes */
    conn_send(&a, "{\"op\":\"ping\"}\n{\"op\":\"pi", 23);
    conn_send(&a, "ng\"}\n", 5);
    for (int i = 0; i < 2; i++) {
        char *line = conn_line(&a, WAIT_MS);

        ck_assert_ptr_nonnull(line);
        ck_assert_str_eq(line, "{\"ok\":true}");
        free(line);
    }
    conn_close(&a);
    conn_close(&b);
    free(junk);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_client_that_never_reads_is_dropped_not_waited_for)
{
    struct dm m;
    struct conn slow;
    struct conn other;
    struct want_counter dropped = {"clients_dropped", 1};
    char req[] = "{\"op\":\"health\"}\n{\"op\":\"health\"}\n{\"op\":\"health\"}\n";
    json_t *o;
    long long deadline;
    int closed = 0;
    int sends = 0;

    dm_up(&m, "client_idle_timeout = 1s\nclient_queue_limit = 16k", NULL, NULL);
    ck_assert_int_eq(conn_open(&slow, m.sock), 0);
    ck_assert_int_eq(conn_open(&other, m.sock), 0);
    /* the slow client sends and sends and never reads: its answers pile up */
    deadline = now_ms() + WAIT_MS;
    while (!closed && now_ms() < deadline) {
        ssize_t n = send(slow.fd, req, sizeof(req) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            closed = 1; /* dropped by the daemon */
        } else if (n < 0) {
            struct pollfd p = {slow.fd, POLLOUT, 0};

            poll(&p, 1, 100);
        }
        /* meanwhile the other client is answered */
        if (++sends % 5 == 0) {
            o = conn_ask(&other, "{\"op\":\"ping\"}");
            ck_assert(json_is_true(json_object_get(o, "ok")));
            json_decref(o);
        }
    }
    o = dm_wait(&m, "{\"op\":\"health\"}", counter_at_least, &dropped, "the slow client dropped");
    json_decref(o);
    o = conn_ask(&other, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    conn_close(&slow);
    conn_close(&other);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_serves_fifty_clients_at_once)
{
    struct dm m;
    struct conn c[50];

    dm_up(&m, NULL, NULL, NULL);
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(conn_open(&c[i], m.sock), 0);
    }
    for (int i = 0; i < 50; i++) {
        conn_send(&c[i], "{\"op\":\"health\"}\n", 16);
    }
    for (int i = 49; i >= 0; i--) {
        char *line = conn_line(&c[i], WAIT_MS);
        json_t *o;

        ck_assert_msg(line != NULL, "client %d got no answer", i);
        o = json_loads(line, 0, NULL);
        ck_assert(json_is_true(json_object_get(o, "ok")));
        ck_assert_int_ge(json_integer_value(json_object_get(o, "clients")), 50);
        json_decref(o);
        free(line);
    }
    for (int i = 0; i < 50; i++) {
        conn_close(&c[i]);
    }
    dm_down(&m);
}
END_TEST

/* --- limits on clients ----------------------------------------------------------------- */

/* A cluster.log of n lines, each a failed VM start of its own VM: n diagnoses. */
static void write_burst(const char *path, int n)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs("[=== Cluster ===]\nCurrent node: name (HV-NODE01) id (1)\n[=== Cluster Logs ===]\n", f);
    for (int i = 0; i < n; i++) {
        int secs = i * 7;

        fprintf(f,
                "00000f20.00001a34::2024/03/%02d-%02d:%02d:%02d.%03d ERR   [RHS] Online for "
                "resource Virtual Machine VM%05d failed.\n",
                1 + secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60, i % 1000, i);
    }
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(daemon_reading_follower_gets_every_diagnosis_of_a_burst_once)
{
    enum { N = 5000 };
    struct dm m;
    struct conn follow;
    char *tmp;
    char *path;
    json_t *o;
    char *seen = calloc(N + 1, 1);
    int got = 0;
    long long deadline;

    dm_init(&m);
    /* small limits, so the feed waits for the follower many times over */
    dm_config(&m, "client_queue_limit = 8k\nclient_output_budget = 64k\n"
                  "client_idle_timeout = 2s");
    dm_start(&m);
    ck_assert_int_eq(conn_open(&follow, m.sock), 0);
    o = conn_ask(&follow, "{\"op\":\"follow\"}");
    ck_assert(json_is_true(json_object_get(o, "following")));
    json_decref(o);
    tmp = hvd_test_path(m.dir, "burst.tmp");
    path = hvd_test_path(m.watch, "HV-NODE01_cluster.log");
    write_burst(tmp, N);
    ck_assert_int_eq(rename(tmp, path), 0);

    deadline = now_ms() + 300000;
    while (got < N) {
        char *line = conn_line(&follow, 1000);
        json_int_t id;

        ck_assert_msg(now_ms() < deadline, "only %d of %d diagnoses arrived", got, N);
        if (!line) {
            /* nothing yet: the file is still being read, or the follower was dropped */
            ck_assert_msg(!conn_closed_by_peer(&follow, 1), "the follower was dropped after %d",
                          got);
            continue;
        }
        o = json_loads(line, 0, NULL);
        ck_assert_msg(o != NULL, "not JSON: %s", line);
        ck_assert_str_eq(json_string_value(json_object_get(o, "event")), "diagnosis");
        id = json_integer_value(json_object_get(json_object_get(o, "diagnosis"), "id"));
        ck_assert_msg(id >= 1 && id <= N, "diagnosis id %lld", (long long)id);
        ck_assert_msg(!seen[id], "diagnosis %lld arrived twice", (long long)id);
        seen[id] = 1;
        got++;
        json_decref(o);
        free(line);
    }
    /* and nothing more */
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "diagnoses"), N);
    ck_assert_int_eq(counter(o, "new_diagnoses"), N);
    ck_assert_int_eq(counter(o, "clients_dropped"), 0);
    json_decref(o);
    o = conn_ask(&follow, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    conn_close(&follow);
    free(seen);
    free(tmp);
    free(path);
    dm_down(&m);
}
END_TEST

/* n source rows in the daemon's database before it starts: "/archive/src-00042.log"... */
static void put_sources(const struct dm *m, int n)
{
    hvd_store *st = NULL;
    hvd_error err;

    ck_assert_msg(hvd_store_open(&st, m->db, 0, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(hvd_store_begin(st, &err), 0);
    for (int i = 0; i < n; i++) {
        char path[64];
        hvd_store_source src;

        snprintf(path, sizeof(path), "/archive/src-%05d.log", i);
        memset(&src, 0, sizeof(src));
        src.path = path;
        src.kind = "clusterlog";
        src.host = "HV-NODE01";
        src.position = "";
        src.encoding = "utf-8";
        src.last_error = "";
        src.head_hash = "";
        src.prefix_hash = "";
        src.warnings = "";
        src.events = (uint64_t)i;
        ck_assert_msg(hvd_store_put_source(st, &src, &err) == 0, "%s", err.msg);
    }
    ck_assert_int_eq(hvd_store_commit(st, &err), 0);
    hvd_store_close(st);
}

/* Runs hvdiag with args; returns its stdout (caller frees). */
static char *run_hvdiag(const struct dm *m, char *const args[])
{
    char *out = hvd_test_path(m->dir, "hvdiag.out");
    char *argv[16] = {HVDIAG_BIN};
    size_t n = 1;
    char *text;

    for (; args[n - 1] && n < 15; n++) {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    ck_assert_int_eq(hvd_test_run(argv, out), 0);
    text = hvd_test_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    free(out);
    return text;
}

static int not_busy(const json_t *o, const void *ud)
{
    (void)ud;
    return json_is_false(json_object_get(o, "busy"));
}

START_TEST(daemon_sources_of_ten_thousand_files_arrive_whole_through_the_cli)
{
    enum { N = 10000, FILES = 1100 };
    struct dm m;
    json_t *o;
    json_t *list;
    size_t i;
    const json_t *row;
    char *text;
    char *seen = calloc(N, 1);
    size_t lines = 0;
    struct want_counter watched = {"files_watched", FILES};
    size_t archived = 0;

    dm_init(&m);
    dm_config(&m, NULL);
    put_sources(&m, N);
    /* and a file table longer than one page: empty files, quickly read */
    for (int k = 0; k < FILES; k++) {
        char name[32];
        char *p;

        snprintf(name, sizeof(name), "empty-%04d.log", k);
        p = hvd_test_path(m.watch, name);
        ck_assert_int_eq(hvd_test_write_file(p, "", 0), 0);
        free(p);
    }
    dm_start(&m);
    o = dm_wait(&m, "{\"op\":\"health\"}", counter_at_least, &watched, "the files listed");
    json_decref(o);
    o = dm_wait(&m, "{\"op\":\"health\"}", not_busy, NULL, "the files read");
    json_decref(o);
    /* one page of the socket's answer is a page, with a cursor */
    o = dm_ask(&m, "{\"op\":\"sources\"}");
    ck_assert_uint_le(json_array_size(json_object_get(o, "sources")), 1000);
    ck_assert(json_is_string(json_object_get(o, "next_cursor")));
    json_decref(o);

    {
        char *args[] = {"query", "sources", "--json", "--socket", m.sock, NULL};

        text = run_hvdiag(&m, args);
    }
    o = json_loads(text, 0, NULL);
    ck_assert_msg(o != NULL, "not JSON: %.200s", text);
    ck_assert(json_is_true(json_object_get(o, "ok")));
    list = json_object_get(o, "sources");
    ck_assert_uint_ge(json_array_size(list), N);
    json_array_foreach(list, i, row)
    {
        const char *p = json_string_value(json_object_get(row, "path"));
        int k;

        if (strncmp(p, "/archive/", 9) != 0) {
            continue; /* one of the empty files */
        }
        archived++;
        ck_assert_int_eq(sscanf(p, "/archive/src-%d.log", &k), 1);
        ck_assert_msg(!seen[k], "%s twice", p);
        seen[k] = 1;
        ck_assert_int_eq(json_integer_value(json_object_get(row, "events")), k);
    }
    ck_assert_uint_eq(archived, N);
    /* the daemon's file table, paged alongside: every file once */
    list = json_object_get(o, "files");
    ck_assert_uint_eq(json_array_size(list), FILES);
    json_array_foreach(list, i, row)
    {
        const char *p = json_string_value(json_object_get(row, "path"));

        ck_assert_ptr_nonnull(strstr(p, "/empty-"));
        ck_assert(
            i == 0 ||
            strcmp(json_string_value(json_object_get(json_array_get(list, i - 1), "path")), p) < 0);
    }
    ck_assert_ptr_null(json_object_get(o, "next_cursor"));
    json_decref(o);
    free(text);

    /* the table: one line per source */
    {
        char *args[] = {"query", "sources", "--socket", m.sock, NULL};

        text = run_hvdiag(&m, args);
    }
    for (const char *p = text; (p = strstr(p, "/archive/src-")) != NULL; p++) {
        lines++;
    }
    ck_assert_uint_eq(lines, N);
    free(text);
    free(seen);
    dm_down(&m);
}
END_TEST

static long rss_kib(pid_t pid)
{
    char path[64];
    char *text;
    const char *p;
    long kib = -1;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    text = hvd_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    p = strstr(text, "VmRSS:");
    ck_assert_ptr_nonnull(p);
    kib = strtol(p + 6, NULL, 10);
    free(text);
    return kib;
}

START_TEST(daemon_clients_that_never_read_leave_memory_bounded)
{
    enum { CLIENTS = 200, REQUESTS = 2000 };
    struct dm m;
    struct conn *c = calloc(CLIENTS, sizeof(*c));
    struct conn good;
    char req[] = "{\"op\":\"rules\"}\n"; /* some 20 KB to answer */
    json_t *o;
    long before;
    long after;
    long long deadline;

    static char env[512];
    const char *asan = getenv("ASAN_OPTIONS");

    /* Under AddressSanitizer freed memory sits in its quarantine (256 MB by default) and
     * counts as resident: keep it small, so RSS shows what the daemon holds. */
    snprintf(env, sizeof(env), "ASAN_OPTIONS=%s%squarantine_size_mb=1", asan ? asan : "",
             asan && *asan ? ":" : "");
    dm_up(&m,
          "max_clients_per_uid = 1000\nclient_output_budget = 4M\n"
          "client_queue_limit = 64k\nclient_idle_timeout = 10m",
          NULL, env);
    o = dm_ask(&m, "{\"op\":\"rules\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    before = rss_kib(m.pid);
    for (int i = 0; i < CLIENTS; i++) {
        ck_assert_int_eq(conn_open(&c[i], m.sock), 0);
        for (int k = 0; k < REQUESTS; k++) {
            /* never reads; stops sending when the daemon stops reading */
            if (send(c[i].fd, req, sizeof(req) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                break;
            }
        }
    }
    /* the daemon has seen them all, answered what fits and still answers others */
    ck_assert_int_eq(conn_open(&good, m.sock), 0);
    deadline = now_ms() + WAIT_MS;
    for (;;) {
        o = conn_ask(&good, "{\"op\":\"health\"}");
        if (counter(o, "clients") >= CLIENTS + 1 &&
            counter(o, "output_bytes") >= counter(o, "output_budget")) {
            break;
        }
        ck_assert_msg(now_ms() < deadline, "the clients' answers never filled the budget");
        json_decref(o);
        nap(50);
    }
    ck_assert_int_eq(counter(o, "clients_dropped"), 0);
    json_decref(o);
    o = conn_ask(&good, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    after = rss_kib(m.pid);
    /* 200 clients × 2000 answers of 20 KB would be 8 GB (and were 1 MiB a client before
     * the budget: 200 MB); held: the 4 MB budget, at most one answer per client beyond it
     * (4 MB), the clients' 64 KiB read buffers (13 MB), plus allocator slack */
    ck_assert_msg(after - before < 48 * 1024, "RSS grew from %ld to %ld KiB", before, after);
    /* and the flood still gets answers: the daemon reads on as they read */
    {
        char *line = conn_line(&c[0], WAIT_MS);

        ck_assert_ptr_nonnull(line);
        ck_assert_ptr_nonnull(strstr(line, "\"rules\""));
        free(line);
    }
    for (int i = 0; i < CLIENTS; i++) {
        conn_close(&c[i]);
    }
    conn_close(&good);
    free(c);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_idle_client_is_closed_but_a_waiting_follower_is_not)
{
    struct dm m;
    struct conn follower;
    struct conn idle;
    struct pollfd p;
    json_t *o;

    dm_up(&m, "client_idle_timeout = 300ms", NULL, NULL);
    ck_assert_int_eq(conn_open(&follower, m.sock), 0);
    o = conn_ask(&follower, "{\"op\":\"follow\"}");
    ck_assert(json_is_true(json_object_get(o, "following")));
    json_decref(o);
    ck_assert_int_eq(conn_open(&idle, m.sock), 0);
    ck_assert(conn_closed_by_peer(&idle, WAIT_MS));
    conn_close(&idle);
    /* the follower, older than the idle client, is still connected */
    p.fd = follower.fd;
    p.events = POLLIN;
    p.revents = 0;
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_ge(counter(o, "clients_timed_out"), 1);
    ck_assert_int_eq(counter(o, "followers"), 1);
    json_decref(o);
    o = conn_ask(&follower, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    conn_close(&follower);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_caps_connections_per_user_and_counts_refusals)
{
    struct dm m;
    struct conn c[4];
    json_t *o;

    dm_up(&m, "max_clients_per_uid = 3", NULL, NULL);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(conn_open(&c[i], m.sock), 0);
        o = conn_ask(&c[i], "{\"op\":\"ping\"}");
        ck_assert(json_is_true(json_object_get(o, "ok")));
        json_decref(o);
    }
    ck_assert_int_eq(conn_open(&c[3], m.sock), 0);
    conn_expect_error(&c[3], NULL, "busy");
    ck_assert(conn_closed_by_peer(&c[3], WAIT_MS));
    conn_close(&c[3]);
    o = conn_ask(&c[0], "{\"op\":\"health\"}");
    ck_assert_int_ge(counter(o, "clients_refused"), 1);
    json_decref(o);
    for (int i = 0; i < 3; i++) {
        conn_close(&c[i]);
    }
    dm_down(&m);
}
END_TEST

START_TEST(daemon_socket_has_its_mode_when_it_appears)
{
    struct dm m;
    int fd;
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    long long deadline;
    int seen = 0;
    mode_t old;

    dm_init(&m);
    dm_config(&m, "socket_mode = 0600");
    fd = inotify_init1(IN_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(inotify_add_watch(fd, m.dir, IN_CREATE), 0);
    /* with umask 0 a socket created before its chmod would be 0777 for a moment */
    old = umask(0);
    m.pid = spawn(DAEMON_BIN, m.conf, m.log, NULL);
    umask(old);
    deadline = now_ms() + START_TIMEOUT_MS;
    while (!seen) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;

        ck_assert_msg(now_ms() < deadline, "the socket never appeared");
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        n = read(fd, ev, sizeof(ev));
        ck_assert_int_gt(n, 0);
        for (char *q = ev; q < ev + n;) {
            const struct inotify_event *e = (const struct inotify_event *)q;

            if (e->len && strcmp(e->name, "hvdiag.sock") == 0) {
                struct stat st;

                ck_assert_int_eq(lstat(m.sock, &st), 0);
                ck_assert_msg((st.st_mode & 0777) == 0600, "the socket appeared as %04o",
                              (unsigned)(st.st_mode & 0777));
                seen = 1;
            }
            q += sizeof(*e) + e->len;
        }
    }
    close(fd);
    {
        long long until = now_ms() + START_TIMEOUT_MS;
        struct conn c;

        while (conn_open(&c, m.sock) < 0) {
            ck_assert(now_ms() < until);
            nap(20);
        }
        conn_close(&c);
    }
    dm_down(&m);
}
END_TEST

/* --- watching ------------------------------------------------------------------------ */

START_TEST(daemon_reads_a_dropped_file_and_tells_followers)
{
    struct dm m;
    struct conn follow;
    struct want_file done = {NULL, "done", "new", 1, 0};
    json_t *o;
    const json_t *f;
    char *path;
    char *line;
    int diagnoses = 0;

    dm_up(&m, NULL, NULL, NULL);
    ck_assert_int_eq(conn_open(&follow, m.sock), 0);
    o = conn_ask(&follow, "{\"op\":\"follow\"}");
    ck_assert(json_is_true(json_object_get(o, "following")));
    json_decref(o);

    path = dm_drop(&m, FIXTURE("HV-NODE02_cluster.log"), "HV-NODE02_cluster.log");
    done.path = path;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &done, "the dropped file read");
    f = file_entry(o, path);
    ck_assert_int_eq(json_integer_value(json_object_get(f, "events")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(f, "size")), 1100);
    /* the store's row for it */
    f = json_array_get(json_object_get(o, "sources"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(f, "path")), path);
    ck_assert_str_eq(json_string_value(json_object_get(f, "host")), "HV-NODE02");
    json_decref(o);

    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "files_ingested"), 1);
    ck_assert_int_eq(counter(o, "events_read"), 4);
    ck_assert_int_ge(counter(o, "new_diagnoses"), 1);
    /* every diagnosis in the store was made while this daemon ran */
    ck_assert_int_eq(counter(o, "new_diagnoses"), counter(o, "diagnoses"));
    ck_assert(json_is_false(json_object_get(o, "busy")));
    diagnoses = (int)counter(o, "new_diagnoses");
    json_decref(o);

    /* the follower got one line per new diagnosis */
    for (int i = 0; i < diagnoses; i++) {
        line = conn_line(&follow, WAIT_MS);
        ck_assert_ptr_nonnull(line);
        o = json_loads(line, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(o, "event")), "diagnosis");
        ck_assert(json_is_string(json_object_get(json_object_get(o, "diagnosis"), "rule")));
        json_decref(o);
        free(line);
    }
    conn_close(&follow);
    free(path);
    dm_down(&m);
}
END_TEST

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "ab");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(daemon_classifies_grown_truncated_renamed_replaced)
{
    struct dm m;
    struct want_file w = {NULL, "done", NULL, 1, 0};
    json_t *o;
    const json_t *f;
    char *path;
    char *moved;
    char *tmp;
    struct stat st;

    dm_up(&m, NULL, NULL, NULL);
    path = dm_drop(&m, FIXTURE("ws2022_cluster.log"), "NODE7_cluster.log");
    moved = hvd_test_path(m.watch, "NODE7_cluster.log.1.log");
    w.path = path;
    w.change = "new";
    json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "new"));

    /* grown: appended in place */
    append(path, "00001320.00002cf8::2024/08/09-07:56:35.251 WARN  [NETWORK] Lost connection "
                 "to node sqlnode03\n");
    w.change = "grown";
    w.min_reads = 2;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "grown");
    f = file_entry(o, path);
    ck_assert_int_eq(json_integer_value(json_object_get(f, "new_events")), 1);
    json_decref(o);

    /* truncated: same inode, smaller (copytruncate) */
    ck_assert_int_eq(truncate(path, 100), 0);
    w.change = "truncated";
    w.min_reads = 3;
    json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "truncated"));

    /* renamed: the inode shows up under another matching name; not read again */
    ck_assert_int_eq(rename(path, moved), 0);
    w.path = moved;
    w.change = "renamed";
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "renamed");
    ck_assert_ptr_null(file_entry(o, path));
    ck_assert_int_eq(json_integer_value(json_object_get(file_entry(o, moved), "reads")), 3);
    json_decref(o);

    /* replaced: a new inode at the path (written aside, renamed over it) */
    tmp = hvd_test_path(m.dir, "new.tmp");
    ck_assert_int_eq(hvd_test_write_file(tmp, "[=== Cluster ===]\n", 18), 0);
    ck_assert_int_eq(rename(tmp, moved), 0);
    ck_assert_int_eq(stat(moved, &st), 0);
    w.change = "replaced";
    w.min_reads = 4;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "replaced");
    ck_assert_int_eq(json_integer_value(json_object_get(file_entry(o, moved), "inode")),
                     (json_int_t)st.st_ino);
    json_decref(o);

    /* gone: forgotten */
    ck_assert_int_eq(unlink(moved), 0);
    json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_absent, moved, "forgotten"));

    free(tmp);
    free(path);
    free(moved);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_rotation_by_rename_is_renamed_plus_replaced)
{
    struct dm m;
    struct want_file w = {NULL, "done", "new", 1, 0};
    json_t *o;
    char *path;
    char *rotated;

    dm_up(&m, NULL, NULL, NULL);
    path = dm_drop(&m, FIXTURE("ws2008r2_cluster.log"), "cluster.log");
    rotated = hvd_test_path(m.watch, "cluster.1.log");
    w.path = path;
    json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "new"));
    /* rotate: cluster.log -> cluster.1.log, then a fresh cluster.log */
    ck_assert_int_eq(rename(path, rotated), 0);
    free(dm_drop(&m, FIXTURE("ws2012r2_cluster.log"), "cluster.log"));
    /* a new entry (the old one moved with its inode): "replaced" when one scan saw both
     * steps, "new" when a scan fell between the rename and the new file */
    w.change = NULL;
    w.size = 843;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "the new cluster.log read");
    {
        const char *c = json_string_value(json_object_get(file_entry(o, path), "change"));

        ck_assert_msg(strcmp(c, "replaced") == 0 || strcmp(c, "new") == 0, "change %s", c);
        ck_assert_int_eq(json_integer_value(json_object_get(file_entry(o, path), "size")), 843);
    }
    json_decref(o);
    w.path = rotated;
    w.size = 0;
    w.change = "renamed";
    w.min_reads = 1;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "the rotated file");
    ck_assert_int_eq(json_integer_value(json_object_get(file_entry(o, rotated), "reads")), 1);
    json_decref(o);
    free(path);
    free(rotated);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_restart_does_not_read_unchanged_files_again)
{
    struct dm m;
    struct want_file w = {NULL, "done", NULL, 1, 0};
    struct want_file again = {NULL, "done", "new", 0, 0};
    json_t *o;
    char *path;

    dm_up(&m, NULL, NULL, NULL);
    path = dm_drop(&m, FIXTURE("HV-NODE02_cluster.log"), "HV-NODE02_cluster.log");
    w.path = path;
    json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_is, &w, "read"));
    ck_assert_int_eq(dm_stop(&m), 0);

    dm_start(&m);
    again.path = path;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &again, "known again");
    ck_assert_int_eq(json_integer_value(json_object_get(file_entry(o, path), "reads")), 0);
    json_decref(o);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "files_ingested"), 0);
    json_decref(o);
    free(path);
    dm_down(&m);
}
END_TEST

/* --- signals ------------------------------------------------------------------------- */

START_TEST(daemon_sighup_with_broken_config_or_rules_keeps_serving)
{
    struct dm m;
    json_t *o;
    char *badrules;
    char *badxml;
    char extra[512];
    static const char broken[] = "[daemon]\nworkers = many\n";

    dm_up(&m, NULL, NULL, NULL);

    ck_assert_int_eq(hvd_test_write_file(m.conf, broken, sizeof(broken) - 1), 0);
    kill(m.pid, SIGHUP);
    dm_wait_log(&m, "the new configuration is invalid; keeping the old one");
    o = dm_ask(&m, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);

    /* a valid configuration pointing at a broken rule set */
    badrules = hvd_test_path(m.dir, "badrules");
    badxml = hvd_test_path(badrules, "bad.xml");
    ck_assert_int_eq(mkdir(badrules, 0755), 0);
    ck_assert_int_eq(hvd_test_write_file(badxml, "<rules><rule", 12), 0);
    dm_config(&m, NULL);
    {
        /* rewrite with rules = badrules */
        char *text = hvd_test_read_file(m.conf, NULL);
        char *at = strstr(text, "rules = ");
        char *eol = strchr(at, '\n');
        FILE *f = fopen(m.conf, "w");

        snprintf(extra, sizeof(extra), "rules = %s", badrules);
        fwrite(text, 1, (size_t)(at - text), f);
        fputs(extra, f);
        fputs(eol, f);
        fclose(f);
        free(text);
    }
    kill(m.pid, SIGHUP);
    dm_wait_log(&m, "the rule set is invalid");
    o = dm_ask(&m, "{\"op\":\"rules\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    ck_assert_int_gt(json_array_size(json_object_get(o, "rules")), 0);
    json_decref(o);

    /* and a good one is taken */
    dm_config(&m, "workers = 3");
    kill(m.pid, SIGHUP);
    dm_wait_log(&m, "reloaded:");
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "workers")), 3);
    json_decref(o);
    free(badxml);
    free(badrules);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_sigterm_exits_zero_and_removes_the_socket)
{
    struct dm m;
    struct dm second;
    struct conn c;
    struct sockaddr_un sa;
    int fd;
    int status;

    dm_init(&m);
    dm_config(&m, NULL);
    /* a stale socket file from a daemon that died is removed at start */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m.sock);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    dm_start(&m);

    /* a second daemon on the same socket refuses to start; the first goes on */
    dm_init(&second);
    free(second.conf);
    second.conf = strdup(m.conf);
    second.pid = spawn(DAEMON_BIN, second.conf, second.log, NULL);
    ck_assert(try_wait(second.pid, WAIT_MS, &status));
    second.pid = 0;
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    {
        char *log = dm_log_text(&second);

        ck_assert_msg(strstr(log, "another hvdiagd is listening") != NULL, "%s", log);
        free(log);
    }
    dm_free(&second);

    /* a connected client does not hold the stop up */
    ck_assert_int_eq(conn_open(&c, m.sock), 0);
    ck_assert_int_eq(dm_stop(&m), 0);
    ck_assert_int_eq(access(m.sock, F_OK), -1);
    ck_assert(conn_closed_by_peer(&c, WAIT_MS));
    conn_close(&c);
    {
        char *log = dm_log_text(&m);

        ck_assert_ptr_nonnull(strstr(log, "<5>hvdiagd: stopped"));
        free(log);
    }
    dm_free(&m);
}
END_TEST

/* --- workers that crash or hang ------------------------------------------------------ */

START_TEST(daemon_crashing_worker_quarantines_its_file)
{
    struct dm m;
    struct want_file q = {NULL, "quarantined", NULL, 0, 0};
    struct want_file good = {NULL, "done", NULL, 1, 0};
    struct want_counter crashed2 = {"crashes", 2};
    json_t *o;
    const json_t *s;
    size_t i;
    int stored = 0;
    char *bad;
    char *ok;

    dm_up(&m, NULL, HVD_TEST_HOOKS_BIN, "HVD_TEST_CRASH_ON=crashme");
    bad = dm_drop(&m, FIXTURE("ws2022_cluster.log"), "crashme_cluster.log");
    ok = dm_drop(&m, FIXTURE("HV-NODE02_cluster.log"), "HV-NODE02_cluster.log");
    q.path = bad;
    good.path = ok;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &q, "quarantine");
    assert_file_error(o, bad, "crashed");
    json_decref(o);
    json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_is, &good, "the good file read"));
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "crashes"), 1);
    ck_assert_int_eq(counter(o, "quarantined"), 1);
    ck_assert_int_eq(counter(o, "files_ingested"), 1);
    json_decref(o);

    /* recorded in the store too */
    for (long long deadline = now_ms() + WAIT_MS; !stored && now_ms() < deadline; nap(50)) {
        o = dm_ask(&m, "{\"op\":\"sources\"}");
        json_array_foreach(json_object_get(o, "sources"), i, s)
        {
            if (strcmp(json_string_value(json_object_get(s, "path")), bad) == 0 &&
                json_is_true(json_object_get(s, "quarantined"))) {
                stored = 1;
            }
        }
        json_decref(o);
    }
    ck_assert(stored);

    /* not read again until it changes; then it is (and crashes again) */
    free(dm_drop(&m, FIXTURE("ws2008r2_cluster.log"), "other_cluster.log"));
    good.path = NULL;
    {
        char *other = hvd_test_path(m.watch, "other_cluster.log");

        good.path = other;
        json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_is, &good, "another file read"));
        free(other);
    }
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "crashes"), 1);
    json_decref(o);
    append(bad, "000033dc.00003288::2024/08/09-07:56:57.301 WARN  [QUORUM] more\n");
    json_decref(dm_wait(&m, "{\"op\":\"health\"}", counter_at_least, &crashed2, "a second crash"));
    o = dm_ask(&m, "{\"op\":\"ping\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    json_decref(o);
    free(bad);
    free(ok);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_hanging_worker_is_killed_at_the_time_limit)
{
    struct dm m;
    struct want_file q = {NULL, "quarantined", NULL, 0, 0};
    json_t *o;
    char *bad;

    dm_up(&m, "file_timeout = 1s", HVD_TEST_HOOKS_BIN, "HVD_TEST_HANG_ON=hangme");
    bad = dm_drop(&m, FIXTURE("ws2022_cluster.log"), "hangme_cluster.log");
    q.path = bad;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &q, "quarantine after the time limit");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(file_entry(o, bad), "error")),
                                 "longer than 1000 ms"));
    json_decref(o);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "timeouts"), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "running")), 0);
    json_decref(o);
    free(bad);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_sigterm_during_a_hanging_worker_kills_it_after_grace)
{
    struct dm m;
    struct want_file running = {NULL, "running", NULL, 0, 0};
    char *bad;

    dm_up(&m, "file_timeout = 3s", HVD_TEST_HOOKS_BIN, "HVD_TEST_HANG_ON=hangme");
    bad = dm_drop(&m, FIXTURE("ws2022_cluster.log"), "hangme_cluster.log");
    running.path = bad;
    json_decref(dm_wait(&m, "{\"op\":\"sources\"}", file_is, &running, "the worker running"));
    ck_assert_int_eq(dm_stop(&m), 0);
    {
        char *log = dm_log_text(&m);

        ck_assert_ptr_nonnull(strstr(log, "worker stopped at shutdown"));
        free(log);
    }
    free(bad);
    dm_free(&m);
}
END_TEST

/* --- containment: limits and replaced workers ---------------------------------------- */

/* The processes below root (its children, theirs...), from the ppid field of /proc/N/stat.
 * Fills pids (at most cap) and returns how many. Cost: one pass over /proc per level. */
static size_t descendants(pid_t root, pid_t *pids, size_t cap)
{
    pid_t all[4096][2];
    size_t nall = 0;
    size_t n = 0;
    DIR *dp = opendir("/proc");
    struct dirent *de;

    ck_assert_ptr_nonnull(dp);
    while ((de = readdir(dp)) != NULL && nall < 4096) {
        char path[64];
        char buf[512];
        char *close_paren;
        char *text;
        char *end = NULL;
        long pid = strtol(de->d_name, &end, 10);
        int ppid = 0;

        if (pid <= 0 || *end) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        text = hvd_test_read_file(path, NULL);
        if (!text) {
            continue;
        }
        snprintf(buf, sizeof(buf), "%s", text);
        free(text);
        /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
        close_paren = strrchr(buf, ')');
        if (close_paren && sscanf(close_paren + 1, " %*c %d", &ppid) == 1) {
            all[nall][0] = (pid_t)pid;
            all[nall][1] = ppid;
            nall++;
        }
    }
    closedir(dp);
    for (int grew = 1; grew;) {
        grew = 0;
        for (size_t i = 0; i < nall; i++) {
            int parent_known = all[i][1] == root;
            int known = 0;

            for (size_t j = 0; j < n && !parent_known; j++) {
                parent_known = pids[j] == all[i][1];
            }
            for (size_t j = 0; j < n && !known; j++) {
                known = pids[j] == all[i][0];
            }
            if (parent_known && !known && n < cap) {
                pids[n++] = all[i][0];
                grew = 1;
            }
        }
    }
    return n;
}

/* Resident memory of the daemon and every process below it, in bytes. */
static uint64_t tree_rss(pid_t root)
{
    pid_t pids[256];
    size_t n = descendants(root, pids, 256);
    uint64_t total = hvd_reslimit_rss(root);

    for (size_t i = 0; i < n; i++) {
        total += hvd_reslimit_rss(pids[i]);
    }
    return total;
}

/* True when process pid runs under a data memory limit of 'bytes': its RLIMIT_DATA, or in
 * a sanitizer build its allocator options. */
static int runs_limited(pid_t pid, uint64_t bytes)
{
    char path[64];
    char want[64];
    size_t len = 0;
    char *text;
    int found = 0;

    if (hvd_reslimit_sanitized()) {
        snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
        snprintf(want, sizeof(want), "max_allocation_size_mb=%" PRIu64, bytes >> 20);
        text = hvd_test_read_file(path, &len);
        for (size_t i = 0; text && i < len; i += strlen(text + i) + 1) {
            found |= strncmp(text + i, "ASAN_OPTIONS=", 13) == 0 && strstr(text + i, want);
        }
    } else {
        snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
        snprintf(want, sizeof(want), "%" PRIu64, bytes);
        text = hvd_test_read_file(path, NULL);
        for (char *line = text; line && *line;
             line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
            if (strncmp(line, "Max data size", 13) == 0) {
                found = strstr(line, want) != NULL;
            }
        }
    }
    free(text);
    return found;
}

/* The store's row for path in a "sources" answer, or NULL. */
static const json_t *source_row(const json_t *sources, const char *path)
{
    size_t i;
    const json_t *s;

    json_array_foreach(json_object_get(sources, "sources"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "path")), path) == 0) {
            return s;
        }
    }
    return NULL;
}

/* Asks "sources" until path is done or quarantined; the daemon must answer "health" all
 * along, and the resident memory of it and its workers is sampled into *max_rss. */
static json_t *wait_settled_watching_memory(const struct dm *m, const char *path, uint64_t *max_rss,
                                            uint64_t bound)
{
    long long deadline = now_ms() + 4 * WAIT_MS;

    for (;;) {
        json_t *h = dm_ask(m, "{\"op\":\"health\"}");
        json_t *o;
        const json_t *f;
        uint64_t rss = tree_rss(m->pid);

        ck_assert(json_is_true(json_object_get(h, "ok")));
        json_decref(h);
        if (rss > *max_rss) {
            *max_rss = rss;
        }
        if (rss > bound) {
            kill(m->pid, SIGKILL); /* before the machine suffers */
            ck_abort_msg("hvdiagd and its workers hold %" PRIu64 " MiB, more than %" PRIu64 " MiB",
                         rss >> 20, bound >> 20);
        }
        o = dm_ask(m, "{\"op\":\"sources\"}");
        f = file_entry(o, path);
        if (f && (strcmp(json_string_value(json_object_get(f, "state")), "quarantined") == 0 ||
                  json_integer_value(json_object_get(f, "reads")) > 0)) {
            return o;
        }
        json_decref(o);
        ck_assert_msg(now_ms() < deadline, "%s was never read nor quarantined", path);
        nap(50);
    }
}

START_TEST(daemon_hostile_evtx_is_read_within_the_worker_memory_limit)
{
    struct dm m;
    struct want_file good = {NULL, "done", NULL, 1, 0};
    const uint64_t limit = 512ull << 20;
    /* the daemon, one worker at its limit, its read-ahead child, and room for sanitizers */
    const uint64_t bound = limit + (512ull << 20);
    uint64_t max_rss = 0;
    pid_t workers[16];
    size_t nworkers;
    size_t limited = 0;
    json_t *o;
    const json_t *row;
    char *bad;
    char *ok;

    if (!hvd_reslimit_sanitized()) {
        /* a safety net for this machine should the daemon forget its limits */
        struct rlimit rl = {8ull << 30, 8ull << 30};

        ck_assert_int_eq(setrlimit(RLIMIT_DATA, &rl), 0);
    }
    dm_up(&m, "worker_memory_limit = 512M\nworker_max_rss = 0\n", NULL, NULL);
    /* libevtx allocates 8 GiB from a count in one of its records */
    bad = dm_drop(&m, EVTX_FIXTURE("evtx-libevtx-8GiB-calloc-memory-exhaustion.evtx"),
                  "hostile.evtx");
    o = wait_settled_watching_memory(&m, bad, &max_rss, bound);
    ck_assert_str_eq(json_string_value(json_object_get(file_entry(o, bad), "state")), "done");
    row = source_row(o, bad);
    ck_assert_ptr_nonnull(row);
    ck_assert_int_ge(json_integer_value(json_object_get(row, "skipped")), 1);
    ck_assert_int_gt(json_integer_value(json_object_get(row, "events")), 0);
    json_decref(o);

    /* the next file is read as usual, by a worker under the same limit */
    ok = dm_drop(&m,
                 SAMPLE("live-migration-spn/HV-NODE02/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
                 "n2.evtx");
    good.path = ok;
    json_decref(wait_settled_watching_memory(&m, ok, &max_rss, bound));
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &good, "the normal file read");
    ck_assert_int_gt(json_integer_value(json_object_get(file_entry(o, ok), "events")), 0);
    json_decref(o);
    nworkers = descendants(m.pid, workers, 16);
    for (size_t i = 0; i < nworkers; i++) {
        limited += runs_limited(workers[i], limit);
    }
    ck_assert_msg(nworkers > 0 && limited == nworkers, "%zu of %zu workers limited", limited,
                  nworkers);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "crashes"), 0);
    ck_assert_int_eq(counter(o, "quarantined"), 0);
    ck_assert_int_eq(counter(o, "files_ingested"), 2);
    json_decref(o);
    ck_assert_msg(max_rss < bound, "%" PRIu64 " MiB", max_rss >> 20);
    fprintf(stderr, "hostile evtx: daemon and workers peaked at %" PRIu64 " MiB\n", max_rss >> 20);
    free(bad);
    free(ok);
    dm_down(&m);
}
END_TEST

START_TEST(daemon_worker_past_its_cpu_limit_is_ended_and_its_file_quarantined)
{
    struct dm m;
    struct want_file q = {NULL, "quarantined", NULL, 0, 0};
    json_t *o;
    char *bad;

    dm_up(&m, "worker_cpu_limit = 1s\nfile_timeout = 10m\n", HVD_TEST_HOOKS_BIN,
          "HVD_TEST_SPIN_ON=spinme");
    bad = dm_drop(&m, FIXTURE("ws2022_cluster.log"), "spinme_cluster.log");
    q.path = bad;
    /* a busy machine gives the spinning worker a fraction of a core: allow for it */
    for (long long deadline = now_ms() + 6 * WAIT_MS;; nap(100)) {
        o = dm_ask(&m, "{\"op\":\"sources\"}");
        if (file_is(o, &q)) {
            break;
        }
        json_decref(o);
        ck_assert_msg(now_ms() < deadline, "the spinning worker was never ended");
    }
    assert_file_error(o, bad, "of CPU time");
    json_decref(o);
    dm_next_file_read(&m);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "timeouts"), 1);
    ck_assert_int_eq(counter(o, "crashes"), 0);
    json_decref(o);
    free(bad);
    dm_down(&m);
}
END_TEST

/* Exports of two incidents, in time order: a live migration whose cause is on the other
 * host (a correlation across files), then an unplanned failover. */
static const char *const incident_files[][2] = {
    {SAMPLE("live-migration-spn/HV-NODE02/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
     "lm-n2.evtx"},
    {SAMPLE("live-migration-spn/HV-NODE01/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
     "lm-n1.evtx"},
    {SAMPLE("unplanned-failover/HV-NODE01/Microsoft-Windows-Hyper-V-Config-Admin.evtx"),
     "uf-n1-config.evtx"},
    {SAMPLE("unplanned-failover/HV-NODE02/System.evtx"), "uf-n2-system.evtx"},
    {SAMPLE("unplanned-failover/HV-NODE02_cluster.log"), "HV-NODE02_cluster.log"},
};

static size_t count_in(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* Lines "hvdiagd: worker PID started" in a daemon log. */
static size_t worker_starts(const char *log)
{
    size_t n = 0;

    for (const char *p = strstr(log, "hvdiagd: worker "); p;
         p = strstr(p + 1, "hvdiagd: worker ")) {
        const char *q = p + strlen("hvdiagd: worker ");

        while (*q >= '0' && *q <= '9') {
            q++;
        }
        n += strncmp(q, " started\n", 9) == 0;
    }
    return n;
}

/* Runs a fresh daemon over the incident files, dropped one at a time; returns the digest of
 * its database and the number of diagnoses in *ndiag. */
static void incident_run(struct dm *m, const char *extra, char digest[HVD_STORE_DIGEST_SIZE],
                         int64_t *ndiag)
{
    size_t nfiles = sizeof(incident_files) / sizeof(incident_files[0]);
    char *side;
    hvd_store *st = NULL;
    hvd_store_counts counts;
    hvd_error err;

    unlink(m->db);
    side = hvd_test_path(m->dir, "hvdiag.db-wal");
    unlink(side);
    free(side);
    side = hvd_test_path(m->dir, "hvdiag.db-shm");
    unlink(side);
    free(side);
    ck_assert_int_eq(hvd_test_write_file(m->log, "", 0), 0);
    for (size_t i = 0; i < nfiles; i++) {
        side = hvd_test_path(m->watch, incident_files[i][1]);
        unlink(side);
        free(side);
    }
    dm_config(m, extra);
    dm_start(m);
    for (size_t i = 0; i < nfiles; i++) {
        struct want_counter read = {"files_ingested", (json_int_t)(i + 1)};

        free(dm_drop(m, incident_files[i][0], incident_files[i][1]));
        json_decref(dm_wait(m, "{\"op\":\"health\"}", counter_at_least, &read, "a file read"));
    }
    ck_assert_int_eq(dm_stop(m), 0);
    ck_assert_msg(hvd_store_open(&st, m->db, 0, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_store_digest(st, digest, &err) == HVD_OK, "%s", err.msg);
    ck_assert_int_eq(hvd_store_get_counts(st, &counts, &err), HVD_OK);
    *ndiag = counts.diagnoses;
    hvd_store_close(st);
}

START_TEST(daemon_worker_replaced_after_max_files_gives_the_same_database)
{
    struct dm m;
    char one_worker[HVD_STORE_DIGEST_SIZE];
    char replaced[HVD_STORE_DIGEST_SIZE];
    int64_t n1 = 0;
    int64_t n2 = 0;
    char *log;

    dm_init(&m);
    incident_run(&m, "workers = 1\nworker_max_files = 0\nworker_max_rss = 0\n", one_worker, &n1);
    log = dm_log_text(&m);
    ck_assert_uint_eq(worker_starts(log), 1);
    ck_assert_uint_eq(count_in(log, "replaced"), 0);
    free(log);

    incident_run(&m, "workers = 1\nworker_max_files = 1\nworker_max_rss = 0\n", replaced, &n2);
    log = dm_log_text(&m);
    /* every file by a fresh worker, each primed from the store */
    ck_assert_uint_eq(count_in(log, "replaced: 1 files"), 5);
    ck_assert_uint_eq(worker_starts(log), 5);
    free(log);
    ck_assert_int_gt(n1, 0);
    ck_assert_int_eq(n1, n2);
    ck_assert_str_eq(one_worker, replaced);
    dm_free(&m);
}
END_TEST

START_TEST(daemon_worker_past_max_rss_is_replaced)
{
    struct dm m;
    struct want_counter read = {"files_ingested", 2};
    char *log;

    dm_init(&m);
    /* any worker holds more than 1 MiB once it has loaded the rules */
    dm_config(&m, "worker_max_rss = 1M\nworker_max_files = 0\n");
    dm_start(&m);
    free(dm_drop(&m, EVTX_FIXTURE("evtx-libevtx-leak-1.evtx"), "leak.evtx"));
    free(dm_drop(&m, FIXTURE("HV-NODE02_cluster.log"), "HV-NODE02_cluster.log"));
    json_decref(dm_wait(&m, "{\"op\":\"health\"}", counter_at_least, &read, "both files read"));
    dm_wait_log(&m, "replaced: resident size");
    ck_assert_int_eq(dm_stop(&m), 0);
    log = dm_log_text(&m);
    ck_assert_uint_ge(worker_starts(log), 2);
    free(log);
    dm_free(&m);
}
END_TEST

START_TEST(daemon_read_out_of_memory_is_retried_by_a_fresh_worker_then_quarantined)
{
    struct dm m;
    struct want_file q = {NULL, "quarantined", NULL, 0, 0};
    json_t *o;
    char *log;
    char *bad;

    dm_up(&m, NULL, HVD_TEST_HOOKS_BIN, "HVD_TEST_NOMEM_ON=nomem");
    bad = dm_drop(&m, FIXTURE("ws2022_cluster.log"), "nomem_cluster.log");
    q.path = bad;
    o = dm_wait(&m, "{\"op\":\"sources\"}", file_is, &q, "quarantine after two tries");
    assert_file_error(o, bad, "out of memory");
    json_decref(o);
    dm_next_file_read(&m);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "quarantined"), 1);
    ck_assert_int_eq(counter(o, "crashes"), 0);
    json_decref(o);
    ck_assert_int_eq(dm_stop(&m), 0);
    log = dm_log_text(&m);
    /* each try by a worker of its own: the one that ran out is replaced */
    ck_assert_uint_eq(count_in(log, "replaced: it ran out of memory"), 2);
    ck_assert_uint_eq(worker_starts(log), 3);
    free(log);
    free(bad);
    dm_free(&m);
}
END_TEST

/* A settled file: read ("done") or given up ("quarantined"). */
static int file_settled(const json_t *o, const void *ud)
{
    const json_t *f = file_entry(o, ud);
    const char *state = f ? json_string_value(json_object_get(f, "state")) : NULL;

    return state && (strcmp(state, "done") == 0 || strcmp(state, "quarantined") == 0);
}

START_TEST(daemon_reads_a_storm_of_failing_roles_within_the_file_timeout)
{
    enum { ROLES = 1600, STORM_MS = 400000 };
    struct dm m;
    char *xml;
    char *evtx;
    char *path;
    char count[16];
    char *gen[] = {HVD_TEST_BINDIR "/stormgen", count, NULL, NULL, NULL};
    char *conv[] = {HVD_TEST_BINDIR "/evtxgen", NULL, NULL, NULL};
    long long deadline;
    json_t *o;
    const json_t *f;

    dm_init(&m);
    xml = hvd_test_path(m.dir, "storm.xml");
    evtx = hvd_test_path(m.dir, "storm.evtx");
    snprintf(count, sizeof(count), "%d", ROLES);
    gen[2] = xml;
    conv[1] = xml;
    conv[2] = evtx;
    ck_assert_int_eq(hvd_test_run(gen, NULL), 0);
    ck_assert_int_eq(hvd_test_run(conv, NULL), 0);
    /* The shipped file_timeout: a worker that took longer would be ended and the file
     * quarantined. */
    dm_config(&m, "file_timeout = 5m\nworkers = 1\n");
    dm_start(&m);
    path = dm_drop(&m, evtx, "storm.evtx");
    /* The deadline only bounds a broken run; the daemon's own limit is the file_timeout. */
    deadline = now_ms() + STORM_MS;
    for (o = dm_ask(&m, "{\"op\":\"sources\"}"); !file_settled(o, path);
         o = dm_ask(&m, "{\"op\":\"sources\"}")) {
        ck_assert_msg(now_ms() < deadline, "the storm file was neither read nor quarantined");
        json_decref(o);
        nap(100);
    }
    f = file_entry(o, path);
    ck_assert_msg(strcmp(json_string_value(json_object_get(f, "state")), "done") == 0,
                  "storm file %s: %s", json_string_value(json_object_get(f, "state")),
                  json_string_value(json_object_get(f, "error")));
    ck_assert_int_eq(json_integer_value(json_object_get(f, "events")), 4 + 4 * ROLES);
    json_decref(o);
    o = dm_ask(&m, "{\"op\":\"health\"}");
    ck_assert_int_eq(counter(o, "quarantined"), 0);
    ck_assert_int_eq(counter(o, "files_ingested"), 1);
    /* four 1135s; per role three signatures and five correlations (see stormgen) */
    ck_assert_int_eq(counter(o, "diagnoses"), 4 + 8 * ROLES);
    json_decref(o);
    ck_assert_int_eq(dm_stop(&m), 0);
    free(xml);
    free(evtx);
    free(path);
    dm_free(&m);
}
END_TEST

static Suite *daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *cfg = tcase_create("config");
    TCase *sock = tcase_create("socket");
    TCase *watch = tcase_create("watch");
    TCase *sig = tcase_create("signals");
    TCase *work = tcase_create("workers");
    TCase *storm = tcase_create("storm");

    tcase_add_test(cfg, daemon_check_config_prints_summary_or_file_line_errors);
    tcase_add_test(sock, daemon_answers_ping_and_health);
    tcase_add_test(sock, daemon_bad_requests_get_json_errors_and_others_go_on);
    tcase_add_test(sock, daemon_client_that_never_reads_is_dropped_not_waited_for);
    tcase_add_test(sock, daemon_serves_fifty_clients_at_once);
    tcase_add_test(sock, daemon_reading_follower_gets_every_diagnosis_of_a_burst_once);
    tcase_add_test(sock, daemon_sources_of_ten_thousand_files_arrive_whole_through_the_cli);
    tcase_add_test(sock, daemon_clients_that_never_read_leave_memory_bounded);
    tcase_add_test(sock, daemon_idle_client_is_closed_but_a_waiting_follower_is_not);
    tcase_add_test(sock, daemon_caps_connections_per_user_and_counts_refusals);
    tcase_add_test(sock, daemon_socket_has_its_mode_when_it_appears);
    tcase_add_test(watch, daemon_reads_a_dropped_file_and_tells_followers);
    tcase_add_test(watch, daemon_classifies_grown_truncated_renamed_replaced);
    tcase_add_test(watch, daemon_rotation_by_rename_is_renamed_plus_replaced);
    tcase_add_test(watch, daemon_restart_does_not_read_unchanged_files_again);
    tcase_add_test(sig, daemon_sighup_with_broken_config_or_rules_keeps_serving);
    tcase_add_test(sig, daemon_sigterm_exits_zero_and_removes_the_socket);
    tcase_add_test(work, daemon_crashing_worker_quarantines_its_file);
    tcase_add_test(work, daemon_hanging_worker_is_killed_at_the_time_limit);
    tcase_add_test(work, daemon_sigterm_during_a_hanging_worker_kills_it_after_grace);
    tcase_add_test(work, daemon_hostile_evtx_is_read_within_the_worker_memory_limit);
    tcase_add_test(work, daemon_worker_past_its_cpu_limit_is_ended_and_its_file_quarantined);
    tcase_add_test(work, daemon_worker_replaced_after_max_files_gives_the_same_database);
    tcase_add_test(work, daemon_worker_past_max_rss_is_replaced);
    tcase_add_test(work, daemon_read_out_of_memory_is_retried_by_a_fresh_worker_then_quarantined);
    TCase *all[] = {cfg, sock, watch, sig, work};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_set_timeout(all[i], 180);
        suite_add_tcase(s, all[i]);
    }
    /* Its own ctest test (tests/storm.cmake): a long read under sanitizers. */
    tcase_set_tags(storm, "storm");
    tcase_set_timeout(storm, 420);
    tcase_add_test(storm, daemon_reads_a_storm_of_failing_roles_within_the_file_timeout);
    suite_add_tcase(s, storm);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(daemon_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
