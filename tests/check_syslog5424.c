/*
 * syslog5424: message format (PRI, header fields, structured data escaping, the BOM and
 * the size bound), target and facility parsing, and delivery to a real rsyslogd over UDP,
 * TCP (octet counting, reconnect after the receiver restarts) and a private unix socket.
 * rsyslogd runs with a private configuration that writes each message's RFC 5424 fields to
 * a file; without rsyslogd the delivery tests are not run and the suite exits 77 (skipped)
 * after the format tests passed.
 */
#define _DEFAULT_SOURCE
#include "syslog5424.h"

#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T_2026 ((hvd_time)1772704801 * 10000000 + 1234567) /* 2026-03-05T10:00:01.1234567Z */

static const char *const SD =
    "[hvdiag@32473 incident=\"12\" revision=\"3\" rule=\"lm\\\"spn\\]x\\\\y\" "
    "host=\"HV01\" vm=\"web01\" severity=\"critical\"]";

static hvd_syslog_msg sample_msg(void)
{
    hvd_syslog_msg m;

    memset(&m, 0, sizeof(m));
    m.severity = HVD_SEVERITY_CRITICAL;
    m.msgid = "incident-new";
    m.incident = 12;
    m.revision = 3;
    m.rule = "lm\"spn]x\\y";
    m.host = "HV01";
    m.vm = "web01";
    m.title = "Live migration failed: caf\xC3\xA9";
    m.time = T_2026;
    return m;
}

static hvd_syslog_config sample_cfg(const char *target)
{
    hvd_syslog_config c;

    memset(&c, 0, sizeof(c));
    c.target = target;
    c.facility = 19; /* local3 */
    c.hostname = "collector";
    c.procid = 4242;
    return c;
}

/* --- format ------------------------------------------------------------------------- */

START_TEST(format_has_every_rfc5424_field)
{
    hvd_syslog_config c = sample_cfg("udp://127.0.0.1:514");
    hvd_syslog_msg m = sample_msg();
    char out[HVD_SYSLOG_MAX_MESSAGE + 1];
    char want[1024];
    size_t n = hvd_syslog_format(&c, &m, out, sizeof(out));

    snprintf(want, sizeof(want),
             "<154>1 2026-03-05T10:00:01.123456Z collector hvdiagd 4242 incident-new %s "
             "\xEF\xBB\xBFLive migration failed: caf\xC3\xA9",
             SD);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(n, strlen(want));
}
END_TEST

START_TEST(format_leaves_out_empty_parameters_and_uses_nil_values)
{
    hvd_syslog_config c = sample_cfg("udp://127.0.0.1:514");
    hvd_syslog_msg m = sample_msg();
    char out[HVD_SYSLOG_MAX_MESSAGE + 1];

    c.hostname = NULL;
    c.procid = 0;
    c.facility = 3;
    m.severity = HVD_SEVERITY_WARNING;
    m.msgid = NULL;
    m.vm = "";
    m.host = NULL;
    m.title = NULL;
    hvd_syslog_format(&c, &m, out, sizeof(out));
    ck_assert_str_eq(out, "<28>1 2026-03-05T10:00:01.123456Z - hvdiagd - - [hvdiag@32473 "
                          "incident=\"12\" revision=\"3\" rule=\"lm\\\"spn\\]x\\\\y\" "
                          "severity=\"warning\"]");
}
END_TEST

START_TEST(format_keeps_header_fields_printable_and_text_clean)
{
    hvd_syslog_config c = sample_cfg("udp://127.0.0.1:514");
    hvd_syslog_msg m = sample_msg();
    char out[HVD_SYSLOG_MAX_MESSAGE + 1];

    c.hostname = "bad host\n";
    m.msgid = "a b";
    m.vm = "vm\n1";
    m.title = "two\nlines \xFF end";
    hvd_syslog_format(&c, &m, out, sizeof(out));
    ck_assert_ptr_nonnull(strstr(out, " bad_host_ hvdiagd 4242 a_b ["));
    ck_assert_ptr_nonnull(strstr(out, " vm=\"vm\\\\n1\" "));
    ck_assert_ptr_nonnull(strstr(out, "] \xEF\xBB\xBFtwo\\nlines \xEF\xBF\xBD end"));
    ck_assert_ptr_null(strchr(out, '\n'));
}
END_TEST

START_TEST(format_cuts_a_long_title_at_a_whole_character)
{
    hvd_syslog_config c = sample_cfg("udp://127.0.0.1:514");
    hvd_syslog_msg m = sample_msg();
    char out[HVD_SYSLOG_MAX_MESSAGE + 1];
    char title[3 * HVD_SYSLOG_MAX_MESSAGE];
    size_t n;

    for (size_t i = 0; i + 2 < sizeof(title); i += 2) {
        title[i] = '\xC3';
        title[i + 1] = '\xA9'; /* é, two bytes */
        title[i + 2] = '\0';
    }
    m.title = title;
    n = hvd_syslog_format(&c, &m, out, sizeof(out));
    ck_assert_uint_le(n, HVD_SYSLOG_MAX_MESSAGE);
    ck_assert_uint_ge(n, HVD_SYSLOG_MAX_MESSAGE - 1);
    ck_assert_uint_eq(strlen(out), n);
    /* the last character is whole */
    ck_assert_int_eq((unsigned char)out[n - 1], 0xA9);
    ck_assert_int_eq((unsigned char)out[n - 2], 0xC3);
}
END_TEST

START_TEST(format_maps_severities_and_facilities)
{
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_CRITICAL), 2);
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_ERROR), 3);
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_WARNING), 4);
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_INFO), 6);
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_NONE), 6);
    ck_assert_int_eq(hvd_syslog_facility_parse("daemon"), 3);
    ck_assert_int_eq(hvd_syslog_facility_parse("local7"), 23);
    ck_assert_int_eq(hvd_syslog_facility_parse("16"), 16);
    ck_assert_int_eq(hvd_syslog_facility_parse("24"), -1);
    ck_assert_int_eq(hvd_syslog_facility_parse("local8"), -1);
    ck_assert_int_eq(hvd_syslog_facility_parse(""), -1);
    ck_assert_str_eq(hvd_syslog_facility_name(16), "local0");
}
END_TEST

START_TEST(target_parse_takes_the_three_forms_and_refuses_the_rest)
{
    hvd_syslog_target t;
    hvd_error err;
    static const char *const bad[] = {
        "udp://127.0.0.1",
        "udp://:514",
        "udp://host:0",
        "tcp://host:65536",
        "tcp://host:5x",
        "unix:dev/log",
        "http://h:1",
        "udp://::1:514",
        "udp://[::1]514",
        "tcp://a b:1",
        "udp://host:",
        "",
        "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };

    ck_assert_int_eq(hvd_syslog_target_parse("udp://127.0.0.1:514", &t, &err), HVD_OK);
    ck_assert_int_eq(t.transport, HVD_SYSLOG_UDP);
    ck_assert_str_eq(t.host, "127.0.0.1");
    ck_assert_str_eq(t.port, "514");
    ck_assert_int_eq(hvd_syslog_target_parse("tcp://[::1]:6514", &t, &err), HVD_OK);
    ck_assert_int_eq(t.transport, HVD_SYSLOG_TCP);
    ck_assert_str_eq(t.host, "::1");
    ck_assert_str_eq(t.port, "6514");
    ck_assert_int_eq(hvd_syslog_target_parse("unix:/dev/log", &t, &err), HVD_OK);
    ck_assert_int_eq(t.transport, HVD_SYSLOG_UNIX);
    ck_assert_str_eq(t.path, "/dev/log");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hvd_error_clear(&err);
        ck_assert_msg(hvd_syslog_target_parse(bad[i], &t, &err) == HVD_EINVAL, "accepted '%s'",
                      bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "'"));
    }
}
END_TEST

START_TEST(open_refuses_a_name_that_does_not_resolve)
{
    hvd_syslog_config c = sample_cfg("udp://no-such-host.invalid:514");
    hvd_syslog *s = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_syslog_open(&s, &c, &err), HVD_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err.msg, "no-such-host.invalid"));
}
END_TEST

START_TEST(send_to_a_missing_receiver_fails_and_recovers)
{
    char *dir = hvd_test_tmpdir();
    char *path = hvd_test_path(dir, "none.sock");
    char target[256];
    hvd_syslog_config c;
    hvd_syslog_msg m = sample_msg();
    hvd_syslog *s = NULL;
    hvd_error err;
    int fd;
    struct sockaddr_un sa;
    char got[HVD_SYSLOG_MAX_MESSAGE + 1];
    ssize_t n;

    snprintf(target, sizeof(target), "unix:%s", path);
    c = sample_cfg(target);
    ck_assert_int_eq(hvd_syslog_open(&s, &c, &err), HVD_OK); /* not there yet: no error */
    ck_assert_int_eq(hvd_syslog_send(s, &m, &err), HVD_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    /* the receiver appears: the next send connects */
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(hvd_syslog_send(s, &m, &err), HVD_OK);
    n = recv(fd, got, sizeof(got) - 1, 0);
    ck_assert_int_gt(n, 0);
    got[n] = '\0';
    ck_assert_ptr_nonnull(strstr(got, SD));
    close(fd);
    hvd_syslog_close(s);
    hvd_test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* --- rsyslogd ----------------------------------------------------------------------- */

static const char *rsyslogd_path(void)
{
    static const char *const where[] = {"/usr/sbin/rsyslogd", "/sbin/rsyslogd",
                                        "/usr/local/sbin/rsyslogd"};

    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        if (access(where[i], X_OK) == 0) {
            return where[i];
        }
    }
    return NULL;
}

/* One rsyslogd: its folder, ports and pid. Killed at exit, whatever the outcome. */
struct rs {
    char *dir;
    char *out;  /* what it received, one line per message */
    char *sock; /* its unix socket */
    int udp_port;
    int tcp_port;
    pid_t pid;
};

static struct rs *running_rs;

static void rs_kill(void)
{
    if (running_rs && running_rs->pid > 0) {
        kill(running_rs->pid, SIGTERM);
        waitpid(running_rs->pid, NULL, 0);
        running_rs->pid = 0;
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};

    nanosleep(&ts, NULL);
}

/* A loopback port nobody uses now (type: SOCK_DGRAM or SOCK_STREAM). */
static int free_port(int type)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, type, 0);
    int port;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* Starts rsyslogd on rs's ports and socket, and waits (with a deadline) until its TCP
 * port takes connections and its unix socket exists. */
static void rs_start(struct rs *rs)
{
    char conf[2048];
    char *conf_path = hvd_test_path(rs->dir, "rsyslog.conf");
    char *pid_path = hvd_test_path(rs->dir, "rsyslogd.pid");
    char *log_path = hvd_test_path(rs->dir, "rsyslogd.log");
    uint64_t deadline;
    int up = 0;

    snprintf(conf, sizeof(conf),
             "global(workDirectory=\"%s\")\n"
             "module(load=\"imudp\")\n"
             "input(type=\"imudp\" address=\"127.0.0.1\" port=\"%d\")\n"
             "module(load=\"imtcp\")\n"
             "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\")\n"
             "module(load=\"imuxsock\" SysSock.Use=\"off\")\n"
             "input(type=\"imuxsock\" Socket=\"%s\" UseSpecialParser=\"off\" "
             "ParseHostname=\"on\" UseSysTimeStamp=\"off\" IgnoreTimestamp=\"off\")\n"
             "template(name=\"fields\" type=\"string\" string=\"%%inputname%%|%%pri%%|"
             "%%timereported:::date-rfc3339%%|%%hostname%%|%%app-name%%|%%procid%%|%%msgid%%|"
             "%%structured-data%%|%%msg%%\\n\")\n"
             "action(type=\"omfile\" file=\"%s\" template=\"fields\")\n",
             rs->dir, rs->udp_port, rs->tcp_port, rs->sock, rs->out);
    ck_assert_int_eq(hvd_test_write_file(conf_path, conf, strlen(conf)), 0);
    rs->pid = fork();
    ck_assert_int_ge(rs->pid, 0);
    if (rs->pid == 0) {
        FILE *log = freopen(log_path, "w", stdout);

        (void)log;
        dup2(1, 2);
        execl(rsyslogd_path(), "rsyslogd", "-n", "-f", conf_path, "-i", pid_path, (char *)NULL);
        _exit(127);
    }
    running_rs = rs;
    deadline = now_ms() + 20000;
    while (!up && now_ms() < deadline) {
        struct sockaddr_in sa;
        struct stat st;
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons((uint16_t)rs->tcp_port);
        up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && stat(rs->sock, &st) == 0;
        close(fd);
        if (!up) {
            ck_assert_msg(waitpid(rs->pid, NULL, WNOHANG) == 0, "rsyslogd exited; see %s",
                          log_path);
            nap();
        }
    }
    ck_assert_msg(up, "rsyslogd did not listen within 20 s; see %s", log_path);
    free(conf_path);
    free(pid_path);
    free(log_path);
}

static struct rs *rs_new(void)
{
    struct rs *rs = calloc(1, sizeof(*rs));

    rs->dir = hvd_test_tmpdir();
    rs->out = hvd_test_path(rs->dir, "received.log");
    rs->sock = hvd_test_path(rs->dir, "log.sock");
    rs->udp_port = free_port(SOCK_DGRAM);
    rs->tcp_port = free_port(SOCK_STREAM);
    atexit(rs_kill);
    rs_start(rs);
    return rs;
}

static void rs_free(struct rs *rs)
{
    rs_kill();
    running_rs = NULL;
    hvd_test_rmtree(rs->dir);
    free(rs->dir);
    free(rs->out);
    free(rs->sock);
    free(rs);
}

/* Lines of rs->out containing needle, counted; 0 when none or no file yet. */
static int count_lines(const struct rs *rs, const char *needle, char *first, size_t cap)
{
    char *text = hvd_test_read_file(rs->out, NULL);
    int n = 0;
    char *save = NULL;

    if (!text) {
        return 0;
    }
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, needle)) {
            if (n++ == 0 && first) {
                snprintf(first, cap, "%s", line);
            }
        }
    }
    free(text);
    return n;
}

/* Sends m until its title shows in rsyslogd's output (a datagram sent before the input was
 * ready is lost, as UDP is), with a deadline. Fills line with the first such line. */
static void deliver(struct rs *rs, hvd_syslog *s, const hvd_syslog_msg *m, char *line, size_t cap)
{
    uint64_t deadline = now_ms() + 20000;
    uint64_t resend = 0;
    hvd_error err;

    while (now_ms() < deadline) {
        if (count_lines(rs, m->title, line, cap) > 0) {
            return;
        }
        if (now_ms() >= resend) {
            int rc = hvd_syslog_send(s, m, &err);

            if (rc == HVD_OK) {
                resend = now_ms() + 1000;
            } else {
                hvd_syslog_wait(s, 50);
            }
        }
        nap();
    }
    ck_abort_msg("'%s' did not reach rsyslogd within 20 s", m->title);
}

/* The fields rsyslogd parsed out of the sample message, after "inputname|". */
static void check_fields(const char *line, const char *input)
{
    char want[2048];

    snprintf(want, sizeof(want),
             "%s|154|2026-03-05T10:00:01.123456Z|collector|hvdiagd|4242|incident-new|%s|"
             "\xEF\xBB\xBFLive migration failed: caf\xC3\xA9",
             input, SD);
    ck_assert_str_eq(line, want);
}

static void send_sample(const char *scheme, const char *input)
{
    struct rs *rs = rs_new();
    char target[256];
    char line[4096];
    hvd_syslog_config c;
    hvd_syslog_msg m = sample_msg();
    hvd_syslog *s = NULL;
    hvd_error err;

    if (strcmp(scheme, "unix") == 0) {
        snprintf(target, sizeof(target), "unix:%s", rs->sock);
    } else {
        snprintf(target, sizeof(target), "%s://127.0.0.1:%d", scheme,
                 strcmp(scheme, "udp") == 0 ? rs->udp_port : rs->tcp_port);
    }
    c = sample_cfg(target);
    ck_assert_int_eq(hvd_syslog_open(&s, &c, &err), HVD_OK);
    deliver(rs, s, &m, line, sizeof(line));
    check_fields(line, input);
    hvd_syslog_close(s);
    rs_free(rs);
}

START_TEST(rsyslog_receives_rfc5424_over_udp)
{
    send_sample("udp", "imudp");
}
END_TEST

START_TEST(rsyslog_receives_rfc5424_over_unix_socket)
{
    send_sample("unix", "imuxsock");
}
END_TEST

START_TEST(rsyslog_receives_rfc5424_over_tcp)
{
    send_sample("tcp", "imtcp");
}
END_TEST

/* Octet counting keeps messages apart in one stream, long ones included, and a receiver
 * that restarts gets the connection made again. */
START_TEST(rsyslog_tcp_frames_messages_and_reconnects)
{
    struct rs *rs = rs_new();
    char target[256];
    char line[4096];
    char title[64];
    char longer[1500];
    hvd_syslog_config c;
    hvd_syslog_msg m = sample_msg();
    hvd_syslog *s = NULL;
    hvd_error err;
    uint64_t deadline;
    int rc;

    snprintf(target, sizeof(target), "tcp://127.0.0.1:%d", rs->tcp_port);
    c = sample_cfg(target);
    ck_assert_int_eq(hvd_syslog_open(&s, &c, &err), HVD_OK);
    deadline = now_ms() + 20000;
    for (int i = 0; i < 50 && now_ms() < deadline;) {
        snprintf(title, sizeof(title), "burst message %03d", i);
        m.title = title;
        m.revision = i;
        rc = hvd_syslog_send(s, &m, &err);
        ck_assert_msg(rc == HVD_OK || rc == HVD_EAGAIN, "%s", err.msg);
        if (rc == HVD_OK) {
            i++;
        } else {
            hvd_syslog_wait(s, 100);
        }
    }
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer, "long one ", 9);
    m.title = longer;
    deliver(rs, s, &m, line, sizeof(line));
    for (int i = 0; i < 50; i++) {
        snprintf(title, sizeof(title), "burst message %03d", i);
        ck_assert_msg(count_lines(rs, title, NULL, 0) == 1, "%s arrived %d times", title,
                      count_lines(rs, title, NULL, 0));
    }
    ck_assert_ptr_nonnull(strstr(line, longer));
    ck_assert_int_eq(strncmp(line, "imtcp|154|", 10), 0);

    /* the receiver restarts on the same port: sends fail for a while, then go through */
    rs_kill();
    rs_start(rs);
    m.title = "after the restart";
    deliver(rs, s, &m, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "revision=\""));
    hvd_syslog_close(s);
    rs_free(rs);
}
END_TEST

static Suite *syslog_suite(int with_rsyslog)
{
    Suite *s = suite_create("syslog5424");
    TCase *tc = tcase_create("format");

    tcase_add_test(tc, format_has_every_rfc5424_field);
    tcase_add_test(tc, format_leaves_out_empty_parameters_and_uses_nil_values);
    tcase_add_test(tc, format_keeps_header_fields_printable_and_text_clean);
    tcase_add_test(tc, format_cuts_a_long_title_at_a_whole_character);
    tcase_add_test(tc, format_maps_severities_and_facilities);
    tcase_add_test(tc, target_parse_takes_the_three_forms_and_refuses_the_rest);
    tcase_add_test(tc, open_refuses_a_name_that_does_not_resolve);
    tcase_add_test(tc, send_to_a_missing_receiver_fails_and_recovers);
    suite_add_tcase(s, tc);
    if (with_rsyslog) {
        tc = tcase_create("rsyslog");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, rsyslog_receives_rfc5424_over_udp);
        tcase_add_test(tc, rsyslog_receives_rfc5424_over_unix_socket);
        tcase_add_test(tc, rsyslog_receives_rfc5424_over_tcp);
        tcase_add_test(tc, rsyslog_tcp_frames_messages_and_reconnects);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    int with_rsyslog = rsyslogd_path() != NULL;
    SRunner *sr = srunner_create(syslog_suite(with_rsyslog));
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed) {
        return EXIT_FAILURE;
    }
    if (!with_rsyslog) {
        printf("rsyslogd not found: delivery to rsyslog not tested (skipped)\n");
        return 77;
    }
    return EXIT_SUCCESS;
}
