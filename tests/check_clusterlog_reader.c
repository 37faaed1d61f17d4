/*
 * Suite for clusterlog_reader. Data-shaped cases: tests/data/clusterlog/<case>.log beside
 * <case>.expected.jsonl (one object per event, then {"stats": ...}); each case is also read
 * as UTF-16LE with a BOM and as UTF-8 with a BOM, made here with iconv.
 */
#include "alloc.h"
#include "clusterlog_reader.h"
#include "hvtime.h"
#include "text.h"

#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <iconv.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASEDIR HVD_TEST_DATADIR "/clusterlog"

/* An event copied out of the reader. */
typedef struct ev_copy {
    uint64_t line, offset;
    hvd_time time;
    char *host, *channel, *level_word, *component, *pid, *tid, *message, *comp_arg;
    int level;
} ev_copy;

typedef struct ev_list {
    ev_copy *v;
    size_t n, cap;
} ev_list;

static char *dup_or_empty(const char *s)
{
    char *d = strdup(s ? s : "");
    ck_assert_ptr_nonnull(d);
    return d;
}

static void list_add(ev_list *l, const hvd_event *ev)
{
    ev_copy *c;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        ck_assert_ptr_nonnull(l->v);
    }
    c = &l->v[l->n++];
    ck_assert_int_eq(ev->kind, HVD_SOURCE_CLUSTERLOG);
    ck_assert_str_eq(ev->provider, "cluster.log");
    c->line = ev->line;
    c->offset = ev->byte_offset;
    c->time = ev->time;
    c->level = ev->level;
    c->host = dup_or_empty(ev->host);
    c->channel = dup_or_empty(ev->channel);
    c->level_word = dup_or_empty(ev->level_word);
    c->component = dup_or_empty(ev->component);
    c->pid = dup_or_empty(hvd_event_field(ev, "pid"));
    c->tid = dup_or_empty(hvd_event_field(ev, "tid"));
    c->comp_arg = dup_or_empty(hvd_event_field(ev, "component_arg"));
    c->message = dup_or_empty(ev->message);
    /* The fields repeat the typed members. */
    ck_assert_str_eq(hvd_event_field(ev, "component"), ev->component);
    ck_assert_str_eq(hvd_event_field(ev, "level"), ev->level_word);
    ck_assert_str_eq(hvd_event_field(ev, "tag"), ev->channel);
    ck_assert_uint_eq((uint32_t)strtoul(c->pid, NULL, 16), ev->pid);
}

static void list_free(ev_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        ev_copy *c = &l->v[i];
        free(c->host);
        free(c->channel);
        free(c->level_word);
        free(c->component);
        free(c->pid);
        free(c->tid);
        free(c->message);
        free(c->comp_arg);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Reads every event left in r into l; returns the last next() code (0 or negative). */
static int drain(hvd_clusterlog_reader *r, ev_list *l, size_t max)
{
    hvd_event ev;
    hvd_error err;
    int rc;

    while (l->n < max && (rc = hvd_clusterlog_reader_next(r, &ev, &err)) > 0) {
        list_add(l, &ev);
    }
    return l->n >= max ? 0 : rc;
}

/* The same text in another encoding, with a BOM; caller frees. */
static char *recode(const char *data, size_t len, const char *to, size_t *out_len)
{
    size_t bom = 0;
    hvd_text_encoding enc = hvd_text_detect(data, len, &bom);
    const char *from = enc == HVD_TEXT_WINDOWS1252 ? "CP1252" : "UTF-8";
    iconv_t cd = iconv_open(to, from);
    size_t cap = len * 4 + 8;
    char *out = malloc(cap);
    char *in = (char *)data + bom;
    size_t inleft = len - bom;
    char *op = out;
    size_t outleft = cap;

    ck_assert(cd != (iconv_t)-1);
    ck_assert_ptr_nonnull(out);
    if (strcmp(to, "UTF-16LE") == 0) {
        memcpy(op, "\xFF\xFE", 2);
    } else {
        memcpy(op, "\xEF\xBB\xBF", 3);
    }
    op += strcmp(to, "UTF-16LE") == 0 ? 2 : 3;
    outleft -= (size_t)(op - out);
    ck_assert_uint_ne(iconv(cd, &in, &inleft, &op, &outleft), (size_t)-1);
    iconv_close(cd);
    *out_len = (size_t)(op - out);
    return out;
}

static void check_against_expected(const char *name, const ev_list *l, const hvd_source_stats *st,
                                   json_t *exp, int offsets, uint64_t offset_shift,
                                   const char *encoding)
{
    size_t nexp = json_array_size(exp) - 1;
    json_t *stats = json_object_get(json_array_get(exp, nexp), "stats");

    ck_assert_msg(l->n == nexp, "%s (%s): %zu events, expected %zu", name, encoding, l->n, nexp);
    for (size_t i = 0; i < nexp; i++) {
        json_t *o = json_array_get(exp, i);
        const ev_copy *c = &l->v[i];
        hvd_time t;
        json_t *arg = json_object_get(o, "component_arg");

        ck_assert_int_eq(hvd_time_parse(json_string_value(json_object_get(o, "time")), &t), 0);
        ck_assert_msg(c->line == (uint64_t)json_integer_value(json_object_get(o, "line")),
                      "%s event %zu: line %llu", name, i, (unsigned long long)c->line);
        if (offsets) {
            ck_assert_uint_eq(c->offset,
                              json_integer_value(json_object_get(o, "offset")) + offset_shift);
        }
        ck_assert_msg(c->time == t, "%s line %llu: time differs", name,
                      (unsigned long long)c->line);
        ck_assert_str_eq(c->host, json_string_value(json_object_get(o, "host")));
        ck_assert_str_eq(c->channel, json_string_value(json_object_get(o, "channel")));
        ck_assert_int_eq(c->level, json_integer_value(json_object_get(o, "level")));
        ck_assert_str_eq(c->level_word, json_string_value(json_object_get(o, "level_word")));
        ck_assert_str_eq(c->component, json_string_value(json_object_get(o, "component")));
        ck_assert_str_eq(c->pid, json_string_value(json_object_get(o, "pid")));
        ck_assert_str_eq(c->tid, json_string_value(json_object_get(o, "tid")));
        ck_assert_str_eq(c->message, json_string_value(json_object_get(o, "message")));
        ck_assert_str_eq(c->comp_arg, arg ? json_string_value(arg) : "");
    }
    ck_assert_uint_eq(st->events, json_integer_value(json_object_get(stats, "events")));
    ck_assert_uint_eq(st->skipped, json_integer_value(json_object_get(stats, "skipped")));
    ck_assert_uint_eq(st->first_skipped,
                      json_integer_value(json_object_get(stats, "first_skipped")));
    ck_assert_str_eq(st->host, json_string_value(json_object_get(stats, "host")));
    ck_assert_str_eq(st->encoding, encoding);
    ck_assert_uint_eq(st->bad_bytes, 0);
}

static json_t *load_expected(const char *logpath)
{
    size_t n = strlen(logpath);
    char *p = malloc(n + 32);
    FILE *f;
    char line[8192];
    json_t *arr = json_array();

    ck_assert_ptr_nonnull(p);
    memcpy(p, logpath, n - 4);
    memcpy(p + n - 4, ".expected.jsonl", 16);
    f = fopen(p, "r");
    ck_assert_msg(f != NULL, "missing %s", p);
    while (fgets(line, sizeof(line), f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        ck_assert_msg(o != NULL, "%s:%d: %s", p, je.line, je.text);
        json_array_append_new(arr, o);
    }
    fclose(f);
    free(p);
    return arr;
}

static void read_mem(const char *name, const void *data, size_t len, const hvd_source_options *opt,
                     ev_list *l, hvd_clusterlog_reader **keep)
{
    hvd_clusterlog_reader *r = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_clusterlog_reader_open_mem(&r, name, data, len, opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(drain(r, l, (size_t)-1), 0);
    *keep = r;
}

START_TEST(cases_match_expected_in_every_encoding)
{
    DIR *d = opendir(CASEDIR);
    struct dirent *de;
    int cases = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        char *path;
        json_t *exp;
        hvd_clusterlog_reader *r = NULL;
        hvd_error err;
        ev_list l = {0}, l16 = {0}, lbom = {0};
        char *data, *u16, *u8bom;
        size_t len, len16, lenbom;
        const char *enc;

        if (n < 5 || strcmp(de->d_name + n - 4, ".log") != 0) {
            continue;
        }
        cases++;
        path = hvd_test_path(CASEDIR, de->d_name);
        exp = load_expected(path);

        /* The file as committed. */
        ck_assert_int_eq(hvd_clusterlog_reader_open(&r, path, NULL, NULL, &err), HVD_OK);
        ck_assert_int_eq(drain(r, &l, (size_t)-1), 0);
        enc = json_string_value(json_object_get(
            json_object_get(json_array_get(exp, json_array_size(exp) - 1), "stats"), "encoding"));
        check_against_expected(de->d_name, &l, hvd_clusterlog_reader_stats(r), exp, 1, 0, enc);
        hvd_clusterlog_reader_close(r);

        /* UTF-16LE with a BOM: the same events; offsets even and growing. */
        data = hvd_test_read_file(path, &len);
        ck_assert_ptr_nonnull(data);
        u16 = recode(data, len, "UTF-16LE", &len16);
        read_mem(path, u16, len16, NULL, &l16, &r);
        check_against_expected(de->d_name, &l16, hvd_clusterlog_reader_stats(r), exp, 0, 0,
                               "utf-16le");
        for (size_t i = 0; i < l16.n; i++) {
            ck_assert_uint_eq(l16.v[i].offset % 2, 0);
            ck_assert(i == 0 || l16.v[i].offset > l16.v[i - 1].offset);
            /* The offset points at the line's first character in UTF-16. */
            ck_assert_int_ne(u16[l16.v[i].offset], 0);
            ck_assert_int_eq(u16[l16.v[i].offset + 1], 0);
            ck_assert(l16.v[i].offset == 2 || u16[l16.v[i].offset - 2] == '\n');
        }
        hvd_clusterlog_reader_close(r);

        /* UTF-8 with a BOM: offsets move by the BOM's 3 bytes. */
        u8bom = recode(data, len, "UTF-8", &lenbom);
        read_mem(path, u8bom, lenbom, NULL, &lbom, &r);
        /* Offsets carry over only from UTF-8; a Windows-1252 "é" grows by a byte. */
        check_against_expected(de->d_name, &lbom, hvd_clusterlog_reader_stats(r), exp,
                               strcmp(enc, "utf-8") == 0, 3, "utf-8");
        hvd_clusterlog_reader_close(r);

        list_free(&l);
        list_free(&l16);
        list_free(&lbom);
        free(u16);
        free(u8bom);
        free(data);
        json_decref(exp);
        free(path);
    }
    closedir(d);
    ck_assert_int_ge(cases, 6);
}
END_TEST

START_TEST(local_time_header_converts_to_utc)
{
    static const char log[] =
        "[=== Cluster ===]\r\n"
        "UTC = localtime + time zone offset;the time zone offset of this machine is 60\r\n"
        "The logs were generated using local time\r\n"
        "[=== Cluster Logs ===]\r\n"
        "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] half past midnight local\r\n";
    static const char utc_log[] =
        "[=== Cluster ===]\r\n"
        "UTC= localtime + time zone offset; with daylight savings, the time zone offset of this "
        "machine is 420 minutes, or 7 hours\r\n"
        "The logs were generated using Coordinated Universal Time (UTC). 'Get-ClusterLog "
        "-UseLocalTime' will generate in local time.\r\n"
        "[=== Cluster Logs ===]\r\n"
        "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] already UTC\r\n";
    ev_list l = {0};
    hvd_clusterlog_reader *r;
    hvd_time want;

    read_mem("lt.log", log, sizeof(log) - 1, NULL, &l, &r);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_int_eq(hvd_time_parse("2024-03-01T01:30:00.5Z", &want), 0);
    ck_assert_int_eq(l.v[0].time, want);
    /* The token carries the offset and the local-time flag. */
    ck_assert_ptr_nonnull(strstr(hvd_clusterlog_reader_position(r), ";tz=60;"));
    ck_assert_ptr_nonnull(strstr(hvd_clusterlog_reader_position(r), ";lt=1;"));
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    read_mem("utc.log", utc_log, sizeof(utc_log) - 1, NULL, &l, &r);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_int_eq(hvd_time_parse("2024-03-01T00:30:00.5Z", &want), 0);
    ck_assert_int_eq(l.v[0].time, want);
    ck_assert_ptr_nonnull(strstr(hvd_clusterlog_reader_position(r), ";tz=420;"));
    ck_assert_ptr_nonnull(strstr(hvd_clusterlog_reader_position(r), ";lt=0;"));
    hvd_clusterlog_reader_close(r);
    list_free(&l);
}
END_TEST

START_TEST(host_from_header_then_hint_then_file_name)
{
    static const char with_node[] = "[=== Cluster ===]\n"
                                    "Current node: name (HV-NODE07) id (7)\n"
                                    "[=== Cluster Logs ===]\n"
                                    "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] x\n";
    static const char plain[] = "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] x\n";
    hvd_source_options opt = {0};
    ev_list l = {0};
    hvd_clusterlog_reader *r;

    opt.host_hint = "HINTED";
    read_mem("/x/HV-NODE02_cluster.log", with_node, sizeof(with_node) - 1, &opt, &l, &r);
    ck_assert_str_eq(l.v[0].host, "HV-NODE07");
    ck_assert_str_eq(hvd_clusterlog_reader_stats(r)->host, "HV-NODE07");
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    read_mem("/x/HV-NODE02_cluster.log", plain, sizeof(plain) - 1, &opt, &l, &r);
    ck_assert_str_eq(l.v[0].host, "HINTED");
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    read_mem("/x/hv-node02_CLUSTER.LOG", plain, sizeof(plain) - 1, NULL, &l, &r);
    ck_assert_str_eq(l.v[0].host, "hv-node02");
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    read_mem("/x/cluster.log", plain, sizeof(plain) - 1, NULL, &l, &r);
    ck_assert_str_eq(l.v[0].host, "");
    hvd_clusterlog_reader_close(r);
    list_free(&l);
}
END_TEST

typedef struct captured {
    int warnings;
    char last[600];
} captured;

static void capture(void *ud, int level, const char *msg)
{
    captured *c = ud;

    if (level == HVD_LOG_WARNING) {
        c->warnings++;
        snprintf(c->last, sizeof(c->last), "%s", msg);
    }
}

START_TEST(unparsable_lines_are_counted_and_reported)
{
    static const char log[] = "garbage before any event\n"
                              "\n"
                              "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] first\n"
                              "wrapped text of the first event\n"
                              "00000001.00000002::2024/13/01-00:30:00.500 INFO  [RCM] bad month\n"
                              "orphan after a broken line\n"
                              "00000001.00000002::2024/03/01-00:30:01.000 WARN  [RCM] second\n";
    captured cap = {0};
    hvd_logger lg = {capture, &cap, HVD_LOG_DEBUG};
    hvd_clusterlog_reader *r = NULL;
    hvd_error err;
    ev_list l = {0};
    hvd_event ev;

    ck_assert_int_eq(
        hvd_clusterlog_reader_open_mem(&r, "bad.log", log, sizeof(log) - 1, NULL, &lg, &err),
        HVD_OK);
    while (hvd_clusterlog_reader_next(r, &ev, &err) > 0) {
        list_add(&l, &ev);
    }
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.v[0].message, "first\nwrapped text of the first event");
    ck_assert_uint_eq(l.v[1].line, 7);
    ck_assert_uint_eq(hvd_clusterlog_reader_stats(r)->skipped, 3);
    ck_assert_uint_eq(hvd_clusterlog_reader_stats(r)->first_skipped, 1);
    ck_assert_int_eq(cap.warnings, 1);
    ck_assert_ptr_nonnull(strstr(cap.last, "bad.log"));
    ck_assert_ptr_nonnull(strstr(cap.last, "3 lines"));
    ck_assert_ptr_nonnull(strstr(cap.last, "line 1"));
    hvd_clusterlog_reader_close(r);
    list_free(&l);
}
END_TEST

START_TEST(truncated_utf16_and_garbage_do_not_crash)
{
    char *path = hvd_test_path(CASEDIR, "ws2016.log");
    size_t len, len16;
    char *data = hvd_test_read_file(path, &len);
    char *u16 = recode(data, len, "UTF-16LE", &len16);
    unsigned char *junk = malloc(70000);
    uint32_t seed = 12345;
    hvd_clusterlog_reader *r;
    ev_list l = {0};
    captured cap = {0};
    hvd_logger lg = {capture, &cap, HVD_LOG_WARNING};
    hvd_error err;
    hvd_event ev;
    int rc;

    /* Odd length, then a high surrogate and one stray byte at the end. */
    memcpy(u16 + len16, "\x3D\xD8\x41", 3);
    read_mem(path, u16, len16 + 3, NULL, &l, &r);
    ck_assert_uint_ge(l.n, 6);
    ck_assert_uint_ge(hvd_clusterlog_reader_stats(r)->bad_bytes, 1);
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    /* Cut in the middle of a code unit, anywhere. */
    for (size_t cut = 1; cut < len16; cut += 37) {
        read_mem(path, u16, cut, NULL, &l, &r);
        hvd_clusterlog_reader_close(r);
        list_free(&l);
    }

    ck_assert_ptr_nonnull(junk);
    for (size_t i = 0; i < 70000; i++) {
        seed = seed * 1103515245u + 12345u;
        junk[i] = (unsigned char)(seed >> 16);
    }
    ck_assert_int_eq(hvd_clusterlog_reader_open_mem(&r, "junk.bin", junk, 70000, NULL, &lg, &err),
                     HVD_OK);
    while ((rc = hvd_clusterlog_reader_next(r, &ev, &err)) > 0) {
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(hvd_clusterlog_reader_stats(r)->events, 0);
    ck_assert_uint_gt(hvd_clusterlog_reader_stats(r)->skipped, 0);
    ck_assert_ptr_nonnull(strstr(cap.last, "junk.bin"));
    hvd_clusterlog_reader_close(r);
    free(junk);
    free(u16);
    free(data);
    free(path);
}
END_TEST

static void check_resume_everywhere(const char *name, const void *data, size_t len)
{
    ev_list all = {0};
    hvd_clusterlog_reader *r;

    read_mem(name, data, len, NULL, &all, &r);
    hvd_clusterlog_reader_close(r);
    ck_assert_uint_ge(all.n, 2);
    for (size_t k = 0; k <= all.n; k++) {
        ev_list head = {0}, rest = {0};
        hvd_source_options opt = {0};
        char *token;
        hvd_error err;

        ck_assert_int_eq(hvd_clusterlog_reader_open_mem(&r, name, data, len, NULL, NULL, &err),
                         HVD_OK);
        drain(r, &head, k);
        token = strdup(hvd_clusterlog_reader_position(r));
        ck_assert_ptr_nonnull(token);
        hvd_clusterlog_reader_close(r);

        opt.resume = token;
        ck_assert_int_eq(hvd_clusterlog_reader_open_mem(&r, name, data, len, &opt, NULL, &err),
                         HVD_OK);
        ck_assert_int_eq(drain(r, &rest, (size_t)-1), 0);
        ck_assert_msg(k + rest.n == all.n, "%s after %zu events (%s): %zu more, expected %zu", name,
                      k, token, rest.n, all.n - k);
        for (size_t i = 0; i < rest.n; i++) {
            const ev_copy *a = &all.v[k + i], *b = &rest.v[i];
            ck_assert_uint_eq(a->line, b->line);
            ck_assert_uint_eq(a->offset, b->offset);
            ck_assert_int_eq(a->time, b->time);
            ck_assert_str_eq(a->host, b->host);
            ck_assert_str_eq(a->channel, b->channel);
            ck_assert_str_eq(a->message, b->message);
        }
        hvd_clusterlog_reader_close(r);
        list_free(&head);
        list_free(&rest);
        free(token);
    }
    list_free(&all);
}

START_TEST(resume_from_any_position_gives_exactly_the_rest)
{
    static const char *cases[] = {"ws2016.log", "ws2019_localtime.log", "HV-NODE02_cluster.log",
                                  "win1252.log"};
    static const char odd_host[] = "[=== Cluster ===]\n"
                                   "Current node: name (node;with=odd%chars) id (1)\n"
                                   "[=== Cluster Logs ===]\n"
                                   "21:00:00.000 INFO  [RCM] no date yet\n"
                                   "00000001.00000002::2024/03/01-23:59:59.000 INFO  [RCM] a\n"
                                   "continued\n"
                                   "00:00:01.000 INFO  [RCM] next day by the clock\n"
                                   "00:00:02.000 INFO  [RCM] and on\n";

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = hvd_test_path(CASEDIR, cases[i]);
        size_t len, len16;
        char *data = hvd_test_read_file(path, &len);
        char *u16 = recode(data, len, "UTF-16LE", &len16);

        check_resume_everywhere(path, data, len);
        check_resume_everywhere(path, u16, len16);
        free(u16);
        free(data);
        free(path);
    }
    check_resume_everywhere("odd.log", odd_host, sizeof(odd_host) - 1);
}
END_TEST

/* ---- property: every position token the reader writes is read back ---- */

static uint32_t prng(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

static void gen_add(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (n < cap - *len) {
        memcpy(buf + *len, s, n);
        *len += n;
    }
}

/* A cluster.log-like text from the parts the reader cares about, with hostile values:
 * time-zone offsets in minutes and hours (in and out of range), local time, odd host names,
 * dates from every era, clock roll-overs, continuations, CRLF, invalid bytes. */
static size_t gen_text(uint32_t *st, char *buf, size_t cap)
{
    static const char *const parts[] = {
        "[=== Cluster ===]",
        "[=== Cluster Logs ===]",
        "[=== System ===]",
        "[=== Resources ===]",
        "The logs were generated using local time",
        "Current node: name (NODE;x=%1 \xC3\xA9) id (2)",
        "continued text \xFF\xFE\x80",
        "21:00:00.000 INFO  [RCM] no date yet",
        "",
    };
    static const char *const levels[] = {"INFO ", "ERR  ", "WARN ", "DBG  ", "XYZ  "};
    size_t len = 0;
    int lines = (int)(prng(st) % 40);

    for (int i = 0; i < lines; i++) {
        char line[256];
        uint32_t pick = prng(st) % 12;

        if (pick < 4) {
            static const int years[] = {1500, 1601, 1969, 1970, 2024, 9999, 2024, 2024};
            snprintf(line, sizeof(line),
                     "%08x.%08x::%04d/%02u/%02u-%02u:%02u:%02u.%03u %s[RCM] event %d",
                     prng(st) % 5000, prng(st) % 5000, years[prng(st) % 8], 1 + prng(st) % 12,
                     1 + prng(st) % 31, prng(st) % 24, prng(st) % 60, prng(st) % 61,
                     prng(st) % 1000, levels[prng(st) % 5], i);
        } else if (pick < 6) {
            snprintf(line, sizeof(line), "%02u:%02u:%02u.%03u %s[NM] excerpt %d", prng(st) % 24,
                     prng(st) % 60, prng(st) % 60, prng(st) % 1000, levels[prng(st) % 4], i);
        } else if (pick == 6) {
            static const char *const units[] = {"minutes", "hours", "hour", "", "parsecs"};
            snprintf(line, sizeof(line), "The time zone offset of this machine is %d %s",
                     (int)(prng(st) % 3001) - 1500 + (prng(st) % 2 ? 0 : (int)(prng(st) % 30)),
                     units[prng(st) % 5]);
        } else {
            snprintf(line, sizeof(line), "%s",
                     parts[prng(st) % (sizeof(parts) / sizeof(parts[0]))]);
        }
        gen_add(buf, cap, &len, line);
        gen_add(buf, cap, &len, prng(st) % 4 ? "\n" : "\r\n");
    }
    return len;
}

/* Reads data through once, taking the position token before the first event and after each
 * one; every token must be accepted on resume and give exactly the events that followed it. */
static void check_tokens_round_trip(const char *name, const void *data, size_t len, int tail)
{
    hvd_source_options opt = {0};
    hvd_clusterlog_reader *r = NULL;
    ev_list all = {0};
    char **tokens = NULL;
    hvd_error err;
    hvd_event ev;
    int rc;

    opt.tail = tail;
    ck_assert_int_eq(hvd_clusterlog_reader_open_mem(&r, name, data, len, &opt, NULL, &err), HVD_OK);
    for (;;) {
        tokens = realloc(tokens, (all.n + 1) * sizeof(*tokens));
        ck_assert_ptr_nonnull(tokens);
        tokens[all.n] = strdup(hvd_clusterlog_reader_position(r));
        ck_assert_ptr_nonnull(tokens[all.n]);
        rc = hvd_clusterlog_reader_next(r, &ev, &err);
        if (rc <= 0) {
            break;
        }
        list_add(&all, &ev);
    }
    ck_assert_msg(rc == 0, "%s: %s", name, err.msg);
    hvd_clusterlog_reader_close(r);
    for (size_t k = 0; k <= all.n; k++) {
        ev_list rest = {0};

        opt.resume = tokens[k];
        rc = hvd_clusterlog_reader_open_mem(&r, name, data, len, &opt, NULL, &err);
        ck_assert_msg(rc == HVD_OK, "%s (%zu bytes, tail %d): token %zu refused: %s", name, len,
                      tail, k, err.msg);
        ck_assert_int_eq(drain(r, &rest, (size_t)-1), 0);
        ck_assert_msg(k + rest.n == all.n, "%s after %zu events (%s): %zu more, expected %zu", name,
                      k, tokens[k], rest.n, all.n - k);
        for (size_t i = 0; i < rest.n; i++) {
            const ev_copy *a = &all.v[k + i], *b = &rest.v[i];
            ck_assert_uint_eq(a->line, b->line);
            ck_assert_uint_eq(a->offset, b->offset);
            ck_assert_int_eq(a->time, b->time);
            ck_assert_int_eq(a->level, b->level);
            ck_assert_str_eq(a->host, b->host);
            ck_assert_str_eq(a->channel, b->channel);
            ck_assert_str_eq(a->component, b->component);
            ck_assert_str_eq(a->message, b->message);
        }
        hvd_clusterlog_reader_close(r);
        list_free(&rest);
        free(tokens[k]);
    }
    free(tokens);
    list_free(&all);
}

/* The property over many generated inputs: random bytes, generated text in UTF-8 (with and
 * without BOM), UTF-16LE (with and without BOM) and Windows-1252, each also cut at a random
 * length (odd lengths included), read in complete and in tail mode. */
START_TEST(every_token_the_reader_writes_is_read_back)
{
    static const char *const encodings[] = {"UTF-8", "UTF-16LE", "CP1252"};
    uint32_t st = 20240305u;
    char text[8192];
    size_t rounds = 400;

    for (size_t round = 0; round < rounds; round++) {
        size_t len = 0;
        size_t cut;
        char *data;
        int kind = (int)(prng(&st) % 4);

        if (kind == 0) {
            len = prng(&st) % 2048;
            for (size_t i = 0; i < len; i++) {
                text[i] = (char)prng(&st);
            }
            data = malloc(len + 1);
            ck_assert_ptr_nonnull(data);
            memcpy(data, text, len);
        } else {
            const char *to = encodings[prng(&st) % 3];
            int bom = (int)(prng(&st) % 2);
            iconv_t cd = iconv_open(to, "UTF-8");
            char *in = text;
            size_t inleft = gen_text(&st, text, sizeof(text));
            size_t cap = inleft * 2 + 8;
            char *out;
            size_t outleft;

            ck_assert(cd != (iconv_t)-1);
            data = malloc(cap);
            ck_assert_ptr_nonnull(data);
            out = data;
            if (bom && strcmp(to, "UTF-16LE") == 0) {
                memcpy(out, "\xFF\xFE", 2);
                out += 2;
            } else if (bom && strcmp(to, "UTF-8") == 0) {
                memcpy(out, "\xEF\xBB\xBF", 3);
                out += 3;
            }
            outleft = cap - (size_t)(out - data);
            /* Bytes the target cannot hold are dropped one at a time: still hostile text. */
            while (inleft > 0 && iconv(cd, &in, &inleft, &out, &outleft) == (size_t)-1) {
                ck_assert_int_ne(errno, E2BIG);
                in++;
                inleft--;
            }
            iconv_close(cd);
            len = (size_t)(out - data);
        }
        check_tokens_round_trip("gen.log", data, len, (int)(round % 2));
        cut = len ? prng(&st) % len : 0;
        check_tokens_round_trip("cut.log", data, cut, (int)(prng(&st) % 2));
        free(data);
    }
}
END_TEST

/* The two findings the property test generalises, as files. */
START_TEST(tz_in_hours_and_odd_utf16_tokens_are_read_back)
{
    static const char *const files[] = {"tz-hours_cluster.log", "utf16-odd_cluster.log"};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = hvd_test_path(CASEDIR "/tokens", files[i]);
        size_t len;
        char *data = hvd_test_read_file(path, &len);

        ck_assert_msg(data != NULL, "missing %s", path);
        check_tokens_round_trip(path, data, len, 0);
        check_tokens_round_trip(path, data, len, 1);
        free(data);
        free(path);
    }
}
END_TEST

START_TEST(date_less_lines_take_the_last_date)
{
    static const char log[] = "21:00:00.000 INFO  [RCM] no date yet\n"
                              "00000001.00000002::2024/03/01-23:59:59.000 INFO  [RCM] a\n"
                              "00:00:01.250 WARN  [RCM] next day by the clock\n"
                              "12:00:00.000 not a level word, so a continuation\n";
    ev_list l = {0};
    hvd_clusterlog_reader *r;
    hvd_time want;

    read_mem("excerpt.log", log, sizeof(log) - 1, NULL, &l, &r);
    ck_assert_uint_eq(l.n, 3);
    /* No date before it: its time of day, the date unknown (hvtime.h), never 1970. */
    ck_assert_int_eq(l.v[0].time, 21 * 3600 * HVD_TICKS_PER_SECOND);
    ck_assert_int_eq(hvd_time_has_date(l.v[0].time), 0);
    ck_assert_str_eq(l.v[0].pid, "");
    ck_assert_int_eq(hvd_time_parse("2024-03-02T00:00:01.25Z", &want), 0);
    ck_assert_int_eq(l.v[2].time, want);
    ck_assert_int_eq(l.v[2].level, HVD_LEVEL_WARNING);
    ck_assert_str_eq(l.v[2].message,
                     "next day by the clock\n12:00:00.000 not a level word, so a continuation");
    hvd_clusterlog_reader_close(r);
    list_free(&l);
}
END_TEST

START_TEST(tail_leaves_an_unterminated_line_for_later)
{
    char *dir = hvd_test_tmpdir();
    char *path = hvd_test_path(dir, "HV-NODE09_cluster.log");
    static const char part1[] = "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] one\r\n"
                                "00000001.00000002::2024/03/01-00:30:01.500 INFO  [RCM] tw";
    static const char part2[] = "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] one\r\n"
                                "00000001.00000002::2024/03/01-00:30:01.500 INFO  [RCM] two\r\n"
                                "00000001.00000002::2024/03/01-00:30:02.500 ERR   [RCM] three\r\n";
    hvd_source_options opt = {0};
    hvd_clusterlog_reader *r = NULL;
    hvd_error err;
    ev_list l = {0};
    char *token;

    opt.tail = 1;
    ck_assert_int_eq(hvd_test_write_file(path, part1, sizeof(part1) - 1), 0);
    ck_assert_int_eq(hvd_clusterlog_reader_open(&r, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(drain(r, &l, (size_t)-1), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.v[0].message, "one");
    ck_assert_str_eq(l.v[0].host, "HV-NODE09");
    token = strdup(hvd_clusterlog_reader_position(r));
    ck_assert_ptr_nonnull(strstr(token, "off=60;line=1;"));
    ck_assert_ptr_nonnull(strstr(token, "host=HV-NODE09;"));
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    /* The writer finishes the line and adds one: resume reads exactly those. */
    ck_assert_int_eq(hvd_test_write_file(path, part2, sizeof(part2) - 1), 0);
    opt.resume = token;
    ck_assert_int_eq(hvd_clusterlog_reader_open(&r, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(drain(r, &l, (size_t)-1), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.v[0].message, "two");
    ck_assert_uint_eq(l.v[0].line, 2);
    ck_assert_uint_eq(l.v[0].offset, 60);
    ck_assert_str_eq(l.v[1].message, "three");
    ck_assert_uint_eq(l.v[1].line, 3);
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    /* The same reader, kept open, picks up what is appended after an end. */
    opt.resume = NULL;
    ck_assert_int_eq(hvd_test_write_file(path, part1, sizeof(part1) - 1), 0);
    ck_assert_int_eq(hvd_clusterlog_reader_open(&r, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(drain(r, &l, (size_t)-1), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_int_eq(hvd_test_write_file(path, part2, sizeof(part2) - 1), 0);
    ck_assert_int_eq(drain(r, &l, (size_t)-1), 0);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[1].message, "two");
    hvd_clusterlog_reader_close(r);
    list_free(&l);

    free(token);
    hvd_test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

START_TEST(bad_resume_tokens_are_refused)
{
    static const char *bad[] = {"",
                                "clog:",
                                "clog:off=x;enc=utf-8",
                                "clog:off=3",
                                "clog:off=1;enc=ebcdic",
                                "clog:off=3;enc=utf-16le",
                                "clog:off=1;enc=utf-8;host=%zz",
                                "evtx:off=1;enc=utf-8"};
    static const char log[] = "00000001.00000002::2024/03/01-00:30:00.500 INFO  [RCM] one\n";

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hvd_source_options opt = {0};
        hvd_clusterlog_reader *r = NULL;
        hvd_error err;
        int rc;

        opt.resume = bad[i];
        rc = hvd_clusterlog_reader_open_mem(&r, "tok.log", log, sizeof(log) - 1, &opt, NULL, &err);
        if (bad[i][0] == '\0') {
            ck_assert_int_eq(rc, HVD_OK); /* empty means from the start */
        } else {
            ck_assert_msg(rc == HVD_EINVAL, "token '%s' accepted", bad[i]);
            ck_assert_ptr_nonnull(strstr(err.msg, "tok.log"));
            ck_assert_ptr_null(r);
        }
        hvd_clusterlog_reader_close(r);
    }
}
END_TEST

START_TEST(corpus_files_read_with_sensible_counts)
{
    static const struct {
        const char *file;
        uint64_t events, skipped, first_skipped;
        int dated;
    } want[] = {
        {"jadarnel27_joshthecoder.com__2020-05-21-prevent-unexpected-failovers-when-patching-"
         "ags.excerpt.log",
         185, 0, 0, 0},
        {"zeroch_FailoverDetector__Cluster_Log_Information", 92, 2, 1, 1},
        {"zeroch_FailoverDetector__TestCase_0.txt", 8, 0, 0, 1},
    };

    if (!hvd_test_have_corpus()) {
        printf("corpus absent at %s: skipping corpus reads\n", HVD_CORPUS_DIR);
        return;
    }
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char *dir = hvd_test_path(HVD_CORPUS_DIR, "clusterlog");
        char *path = hvd_test_path(dir, want[i].file);
        hvd_clusterlog_reader *r = NULL;
        const hvd_source_stats *st;
        hvd_error err;
        ev_list l = {0};
        hvd_time lo, hi;

        ck_assert_int_eq(hvd_clusterlog_reader_open(&r, path, NULL, NULL, &err), HVD_OK);
        ck_assert_int_eq(drain(r, &l, (size_t)-1), 0);
        st = hvd_clusterlog_reader_stats(r);
        ck_assert_msg(st->events == want[i].events, "%s: %llu events", want[i].file,
                      (unsigned long long)st->events);
        ck_assert_uint_eq(st->skipped, want[i].skipped);
        ck_assert_uint_eq(st->first_skipped, want[i].first_skipped);
        ck_assert_str_eq(st->encoding, "utf-8");
        ck_assert_int_eq(hvd_time_parse("2017-10-23T00:00:00Z", &lo), 0);
        ck_assert_int_eq(hvd_time_parse("2017-10-24T00:00:00Z", &hi), 0);
        for (size_t k = 0; k < l.n; k++) {
            ck_assert(l.v[k].level_word[0] != '\0');
            if (want[i].dated) {
                ck_assert(l.v[k].time >= lo && l.v[k].time < hi);
            } else {
                /* the excerpt has no dates: times of day, the date unknown */
                ck_assert(l.v[k].time >= 0 && !hvd_time_has_date(l.v[k].time));
            }
        }
        hvd_clusterlog_reader_close(r);
        list_free(&l);
        free(path);
        free(dir);
    }
}
END_TEST

START_TEST(text_is_known_by_its_lines)
{
    static const char *const yes[] = {
        "00000d8c.00000e68::2011/06/09-11:52:03.171 INFO  [NM] Received request\r\n",
        "[System] 00000844.00000d34::2017/10/23-21:20:11.225 DBG   Cluster node 'N1' was removed",
        "[=== Cluster ===]\r\nUTC = localtime + time zone offset; with time zone offset (minutes) "
        "of -120\r\n",
        "21:16:17.256 INFO  [ACCEPT] 0.0.0.0:~3343~: Accepted inbound connection\n",
        "Copied from the log:\n21:16:17.288 DBG   [NETFTAPI] Signaled NetftRemoteReachable\n",
    };
    static const char *const no[] = {
        "hello\n",
        "Exported from HV-NODE01 at 10:00:01.123 INFO\n",
        "rcm::RcmApi::MoveGroup failed\n",
        "0000844.00000d34::2017/10/23-21:20:11.225 one hex digit short\n",
        "[=== Cluster\n",
        "",
    };
    unsigned char wide[512];
    const char *line = yes[0];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        ck_assert_msg(hvd_clusterlog_looks_like(yes[i], strlen(yes[i])), "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        ck_assert_msg(!hvd_clusterlog_looks_like(no[i], strlen(no[i])), "%s", no[i]);
    }
    /* UTF-16LE, with and without its BOM. */
    wide[n++] = 0xFF;
    wide[n++] = 0xFE;
    for (const char *p = line; *p; p++) {
        wide[n++] = (unsigned char)*p;
        wide[n++] = 0;
    }
    ck_assert(hvd_clusterlog_looks_like(wide, n));
    ck_assert(hvd_clusterlog_looks_like(wide + 2, n - 2));
    /* Cut inside the line prefix: not enough to tell. */
    ck_assert(!hvd_clusterlog_looks_like(line, 24));
}
END_TEST

START_TEST(every_allocation_failure_is_clean)
{
    char *path = hvd_test_path(CASEDIR, "ws2016.log");
    size_t len;
    char *data = hvd_test_read_file(path, &len);
    unsigned long n;
    int done = 0;

    ck_assert_ptr_nonnull(data);
    for (n = 1; !done && n < 500; n++) {
        hvd_clusterlog_reader *r = NULL;
        hvd_error err;
        hvd_event ev;
        int rc;

        hvd_alloc_fail_after(n);
        rc = hvd_clusterlog_reader_open_mem(&r, path, data, len, NULL, NULL, &err);
        if (rc == HVD_OK) {
            while ((rc = hvd_clusterlog_reader_next(r, &ev, &err)) > 0) {
            }
        }
        hvd_clusterlog_reader_close(r);
        hvd_alloc_fail_after(0);
        if (rc == 0) {
            done = 1;
        } else {
            ck_assert_msg(rc == HVD_ENOMEM, "failure %lu gave %d (%s)", n, rc, err.msg);
        }
    }
    ck_assert_msg(done, "still failing after %lu allocations", n);
    ck_assert_uint_gt(n, 3);
    free(data);
    free(path);
}
END_TEST

static Suite *clusterlog_reader_suite(void)
{
    Suite *s = suite_create("clusterlog_reader");
    TCase *tc = tcase_create("cases");

    tcase_add_test(tc, cases_match_expected_in_every_encoding);
    tcase_add_test(tc, local_time_header_converts_to_utc);
    tcase_add_test(tc, host_from_header_then_hint_then_file_name);
    tcase_add_test(tc, date_less_lines_take_the_last_date);
    suite_add_tcase(s, tc);

    tc = tcase_create("damage");
    tcase_add_test(tc, unparsable_lines_are_counted_and_reported);
    tcase_add_test(tc, truncated_utf16_and_garbage_do_not_crash);
    tcase_add_test(tc, bad_resume_tokens_are_refused);
    tcase_add_test(tc, text_is_known_by_its_lines);
    tcase_add_test(tc, every_allocation_failure_is_clean);
    suite_add_tcase(s, tc);

    tc = tcase_create("position");
    tcase_add_test(tc, resume_from_any_position_gives_exactly_the_rest);
    tcase_add_test(tc, tail_leaves_an_unterminated_line_for_later);
    tcase_add_test(tc, every_token_the_reader_writes_is_read_back);
    tcase_add_test(tc, tz_in_hours_and_odd_utf16_tokens_are_read_back);
    suite_add_tcase(s, tc);

    tc = tcase_create("corpus");
    tcase_add_test(tc, corpus_files_read_with_sensible_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(clusterlog_reader_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
