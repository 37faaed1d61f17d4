/*
 * Suite for the cluster.log prefilter: the literals compiled from the rule set never lose a
 * match. A file holding every cluster.log line of every rule's positive examples and the
 * sample [System] lines (message-table texts), among routine noise, and its UTF-16LE copy,
 * give the same database with the prefilter on and off (hvd_store_dump(), less the count
 * of lines marked seen, which counts only lines given to the engine). Real SQLite files,
 * the shipped rules.
 */
#include "ingest.h"
#include "prefilter.h"
#include "rules_internal.h"
#include "store.h"

#include "testutil.h"

#include <check.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;
static hvd_ruleset *rules;

static void setup(void)
{
    hvd_error err;

    tmp = hvd_test_tmpdir();
    ck_assert_msg(hvd_ruleset_load(&rules, HVD_TEST_SRCDIR "/rules", NULL, NULL, &err) == HVD_OK,
                  "%s", err.msg);
}

static void teardown(void)
{
    hvd_ruleset_destroy(rules);
    hvd_test_rmtree(tmp);
    free(tmp);
}

/* A growing string. */
struct text {
    char *s;
    size_t n, cap;
};

static void add(struct text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        t->cap = (t->n + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        ck_assert_ptr_nonnull(t->s);
    }
    memcpy(t->s + t->n, s, n);
    t->n += n;
    t->s[t->n] = '\0';
}

static void adds(struct text *t, const char *s)
{
    add(t, s, strlen(s));
}

static int keep_line(void *ud, const char *line)
{
    /* The count of lines marked seen counts the lines the engine was given. */
    if (strncmp(line, "clog_lines", 10) != 0) {
        adds(ud, line);
        adds(ud, "\n");
    }
    return 0;
}

/* Reads path into a new database; returns its dump and the number of diagnoses. */
static char *read_into_store(const char *path, const char *db, int no_prefilter, size_t *ndiag)
{
    hvd_ingest_options opt = {0};
    hvd_ingest_result res;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_error err;
    struct text dump = {0};
    hvd_store_counts counts;

    opt.no_prefilter = no_prefilter;
    ck_assert_msg(hvd_store_open(&st, db, 0, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_ingest_create(&ing, st, rules, NULL, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_ingest_file(ing, path, "HV-NODE01_cluster.log", &opt, &res, &err) == HVD_OK,
                  "%s", err.msg);
    ck_assert_msg(hvd_ingest_finish(ing, NULL, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_store_dump(st, keep_line, &dump, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_store_get_counts(st, &counts, &err) == HVD_OK, "%s", err.msg);
    *ndiag = (size_t)counts.diagnoses;
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    adds(&dump, "");
    return dump.s;
}

/* Reads path with the prefilter on and off and checks both give the same database; returns
 * the number of diagnoses. */
static size_t same_on_and_off(const char *path, const char *name)
{
    char *db_on = hvd_test_path(tmp, name);
    char *db_off;
    char *on, *off;
    size_t n_on, n_off;
    struct text t = {0};

    adds(&t, name);
    adds(&t, "-off");
    db_off = hvd_test_path(tmp, t.s);
    on = read_into_store(path, db_on, 0, &n_on);
    off = read_into_store(path, db_off, 1, &n_off);
    ck_assert_uint_eq(n_on, n_off);
    if (strcmp(on, off) != 0) {
        fprintf(stderr, "--- prefilter on\n%s--- prefilter off\n%s", on, off);
    }
    ck_assert_msg(strcmp(on, off) == 0, "%s: the prefilter changed the database", path);
    free(on);
    free(off);
    free(t.s);
    free(db_on);
    free(db_off);
    return n_on;
}

/* The date and time of the first dated line of a block ("YYYY/MM/DD-HH:MM:SS.mmm"). */
static int block_time(const char *block, char out[24])
{
    const char *p = strstr(block, "::");
    const char *nl = strchr(block, '\n');

    if (!p || (nl && p > nl) || strlen(p) < 25) {
        return 0;
    }
    memcpy(out, p + 2, 23);
    out[23] = '\0';
    return 1;
}

/* Routine lines no rule matches, at time t (so they widen no range the block's own lines
 * do not: see the seen filter in store.h). */
static void noise(struct text *f, const char *t, int k)
{
    static const char *const lines[] = {
        "INFO  [RCM] rcm::RcmResource::HandleMonitorReply: NOTIFY_RESOURCE_STATE_CHANGE for "
        "'Virtual Machine VM",
        "DBG   [RHS] Resource Virtual Machine VM",
        "INFO  [GUM] Node 1: executing request locally, gumId:",
        "DBG   [NETFTAPI] received NsiParameterNotification for fe80::",
    };
    char line[512];

    for (int i = 0; i < 40; i++) {
        snprintf(line, sizeof(line), "00000f20.00001a34::%s %s%d (routine)\n", t,
                 lines[(i + k) % 4], i + k);
        adds(f, line);
    }
}

/* Adds a block of lines: noise at its first time, then the block, ending in a newline. */
static void block(struct text *f, const char *text, int k)
{
    char t[24];
    const char *p = text;

    while (*p == '\n' || *p == ' ') {
        p++;
    }
    if (block_time(p, t)) {
        noise(f, t, k);
    }
    /* Example lines are indented in the rule files: the reader takes them as written there,
     * and so does this file (leading blanks kept). */
    adds(f, p);
    if (f->n && f->s[f->n - 1] != '\n') {
        adds(f, "\n");
    }
}

/* Every cluster.log line of every positive example of every rule, each block after noise. */
static size_t example_lines(struct text *f)
{
    size_t blocks = 0;

    for (size_t r = 0; r < rules->nrules; r++) {
        const hvd__rule *rule = &rules->rules[r];

        for (size_t e = 0; e < rule->nexamples; e++) {
            const hvd__example *ex = &rule->examples[e];

            for (size_t i = 0; ex->positive && i < ex->nevents; i++) {
                if (ex->events[i].clusterlog) {
                    block(f, ex->events[i].text, (int)blocks++);
                }
            }
        }
    }
    return blocks;
}

/* The [System] lines of the samples: rendered events the message table knows, in English,
 * German and French (localized texts). */
static size_t system_lines(struct text *f)
{
    static const char *const files[] = {
        HVD_TEST_SRCDIR "/samples/node-removal/HV-NODE01_cluster.log",
        HVD_TEST_SRCDIR "/samples/node-removal/HV-NODE02_cluster.log",
        HVD_TEST_SRCDIR "/samples/node-removal-de/KNOTEN01_cluster.log",
        HVD_TEST_SRCDIR "/samples/node-removal-de/KNOTEN02_cluster.log",
        HVD_TEST_SRCDIR "/samples/csv-pause-fr/NOEUD01_cluster.log",
        HVD_TEST_SRCDIR "/samples/csv-pause-fr/NOEUD02_cluster.log",
    };
    size_t n = 0;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *data = hvd_test_read_file(files[i], NULL);
        char *save = NULL;

        ck_assert_msg(data != NULL, "%s missing", files[i]);
        for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            if (strncmp(l, "[System] ", 9) == 0) {
                block(f, l, (int)n++);
            }
        }
        free(data);
    }
    return n;
}

/* The UTF-8 text (characters of the BMP) as UTF-16LE with a BOM. */
static void write_utf16(const char *path, const struct text *f)
{
    unsigned char *w = malloc(2 * f->n + 2);
    const unsigned char *u = (const unsigned char *)f->s;
    size_t n = 2;

    ck_assert_ptr_nonnull(w);
    w[0] = 0xFF;
    w[1] = 0xFE;
    for (size_t i = 0; i < f->n;) {
        unsigned c = u[i];

        if (c >= 0xE0) {
            ck_assert_msg(c < 0xF0 && i + 2 < f->n, "the generated file is of the BMP");
            c = ((c & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
            i += 3;
        } else if (c >= 0xC0) {
            ck_assert(i + 1 < f->n);
            c = ((c & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu);
            i += 2;
        } else {
            i++;
        }
        w[n++] = (unsigned char)(c & 0xFF);
        w[n++] = (unsigned char)(c >> 8);
    }
    ck_assert_int_eq(hvd_test_write_file(path, w, n), 0);
    free(w);
}

/* f with "[Verbose] " before every line that starts with a pid ("0000..."). */
static void tagged_copy(const struct text *f, struct text *out)
{
    const char *p = f->s;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        size_t hex = 0;

        while (hex < n && strchr("0123456789abcdefABCDEF", p[hex]) && p[hex]) {
            hex++;
        }
        if (hex == 8 && p[8] == '.') {
            adds(out, "[Verbose] ");
        }
        add(out, p, n);
        p += n;
    }
}

START_TEST(prefilter_is_compiled_from_the_shipped_rules)
{
    const hvd_line_prefilter *lp = hvd_ruleset_prefilter(rules);

    /* Otherwise every test below compares a read with itself. */
    ck_assert_ptr_nonnull(lp);
    ck_assert_uint_gt(hvd_prefilter_count(lp->lines), 10);
    /* The message table's texts are looked for in [System] and [Operational] lines only. */
    ck_assert_ptr_nonnull(lp->tagged);
    ck_assert_uint_gt(hvd_prefilter_count(lp->tagged), 50);
    ck_assert_uint_eq(lp->ntags, 2);
}
END_TEST

START_TEST(prefilter_keeps_every_example_and_message_table_match)
{
    struct text f = {0};
    char *path = hvd_test_path(tmp, "all_cluster.log");
    char *path16 = hvd_test_path(tmp, "all16_cluster.log");
    char *pathv = hvd_test_path(tmp, "verbose_cluster.log");
    struct text v = {0};
    size_t blocks = example_lines(&f);
    size_t n;

    ck_assert_uint_gt(blocks, 10);
    ck_assert_uint_gt(system_lines(&f), 3);
    ck_assert_int_eq(hvd_test_write_file(path, f.s, f.n), 0);
    n = same_on_and_off(path, "utf8.db");
    ck_assert_uint_gt(n, 10); /* the examples made diagnoses: the comparison means something */
    write_utf16(path16, &f);
    ck_assert_uint_eq(same_on_and_off(path16, "utf16.db"), n);
    /* Every event line tagged as a verbose channel's (WS2019 S2D logs): the tagged lines
     * the prefilter passes over take the same short way as untagged ones. */
    tagged_copy(&f, &v);
    ck_assert_int_eq(hvd_test_write_file(pathv, v.s, v.n), 0);
    ck_assert_uint_eq(same_on_and_off(pathv, "verbose.db"), n);
    free(f.s);
    free(v.s);
    free(path);
    free(path16);
    free(pathv);
}
END_TEST

/* The [System] lines of the samples with every word of the message after the first on a
 * line of its own (but names in quotes): a message-table literal in a continuation line of a tagged
 * event makes the event read whole, as it does in its first line. The same lines tagged [Verbose]
 * (no table's channel) and untagged are no events of the table either way. */
START_TEST(prefilter_finds_table_literals_in_continuation_lines)
{
    struct text flat = {0}, wrapped = {0}, other = {0};
    char *path = hvd_test_path(tmp, "flat_cluster.log");
    char *wpath = hvd_test_path(tmp, "wrapped_cluster.log");
    char *opath = hvd_test_path(tmp, "other_cluster.log");
    char *wpath16 = hvd_test_path(tmp, "wrapped16_cluster.log");
    size_t lines = system_lines(&flat);
    size_t n, words = 0;
    int tokens = 0, quotes = 0; /* names in quotes stay whole */
    char *p, *ls;

    ck_assert_uint_gt(lines, 3);
    ls = NULL;
    add(&wrapped, flat.s, flat.n);
    ls = wrapped.s;
    for (p = wrapped.s; *p; p++) {
        /* Tokens: the tag, the prefix, the level, the first word; then every space breaks. */
        if (*p == '\n') {
            ls = p + 1;
            tokens = quotes = 0;
            continue;
        }
        if (*p != ' ' && (p == ls || p[-1] == ' ')) {
            tokens++;
        }
        quotes += *p == '\'' || *p == '"';
        if (*p == ' ' && tokens >= 4 && quotes % 2 == 0 && strncmp(ls, "[System] ", 9) == 0 &&
            p[1] != ' ' && p[1] != '\n' && p[1] != '\0') {
            *p = '\n'; /* what follows continues the event: ls stays */
            words++;
        }
    }
    ck_assert_uint_gt(words, 10 * lines);
    ck_assert_int_eq(hvd_test_write_file(path, flat.s, flat.n), 0);
    ck_assert_int_eq(hvd_test_write_file(wpath, wrapped.s, wrapped.n), 0);
    n = same_on_and_off(path, "flat.db");
    ck_assert_uint_gt(n, 3);
    ck_assert_uint_eq(same_on_and_off(wpath, "wrapped.db"), n);
    write_utf16(wpath16, &wrapped);
    ck_assert_uint_eq(same_on_and_off(wpath16, "wrapped16.db"), n);
    for (p = flat.s; (p = strstr(p, "[System] ")) != NULL; p += 9) {
        memcpy(p, (p - flat.s) % 2 ? "[Trace]  " : "         ", 9);
    }
    add(&other, flat.s, flat.n);
    ck_assert_int_eq(hvd_test_write_file(opath, other.s, other.n), 0);
    ck_assert_uint_lt(same_on_and_off(opath, "other.db"), n);
    free(flat.s);
    free(wrapped.s);
    free(other.s);
    free(path);
    free(wpath);
    free(wpath16);
    free(opath);
}
END_TEST

/* A literal in a continuation line makes the whole event read, from its first line. */
START_TEST(prefilter_finds_a_literal_in_a_continuation_line)
{
    struct text f = {0};
    char *path = hvd_test_path(tmp, "cont_cluster.log");
    char *on;
    size_t n;
    hvd_store *st = NULL;
    hvd_error err;
    char *db;

    noise(&f, "2024/03/09-02:00:00.000", 0);
    adds(&f, "00000f20.00001a34::2024/03/09-02:00:01.123 INFO  [IM] got event:\n"
             "  LocalEndpoint 10.0.0.14:~3343~ has missed two consecutive heartbeats from "
             "10.0.0.13:~3343~\n");
    noise(&f, "2024/03/09-02:00:02.000", 1);
    ck_assert_int_eq(hvd_test_write_file(path, f.s, f.n), 0);
    n = same_on_and_off(path, "cont.db");
    ck_assert_uint_eq(n, 1);
    db = hvd_test_path(tmp, "cont.db");
    ck_assert_msg(hvd_store_open(&st, db, 0, &err) == HVD_OK, "%s", err.msg);
    {
        struct text d = {0};

        ck_assert_msg(hvd_store_dump(st, keep_line, &d, &err) == HVD_OK, "%s", err.msg);
        on = d.s;
    }
    ck_assert_ptr_nonnull(strstr(on, "cl-missed-hb"));
    ck_assert_ptr_nonnull(strstr(on, "10.0.0.13:~3343~"));
    hvd_store_close(st);
    free(on);
    free(db);
    free(f.s);
    free(path);
}
END_TEST

/* A line longer than one read holds its literal past the first read. */
START_TEST(prefilter_reads_a_line_longer_than_a_read)
{
    struct text f = {0};
    char *path = hvd_test_path(tmp, "long_cluster.log");
    char *pad = malloc(300 * 1024);

    ck_assert_ptr_nonnull(pad);
    memset(pad, 'x', 300 * 1024);
    noise(&f, "2024/03/09-02:00:00.000", 0);
    adds(&f, "00000f20.00001a34::2024/03/09-02:00:01.123 DBG   [NETFTAPI] ");
    add(&f, pad, 40 * 1024);
    adds(&f, " Signaled NetftRemoteUnreachable event ");
    add(&f, pad, 300 * 1024);
    adds(&f, "\n");
    noise(&f, "2024/03/09-02:00:02.000", 1);
    ck_assert_int_eq(hvd_test_write_file(path, f.s, f.n), 0);
    ck_assert_uint_eq(same_on_and_off(path, "long.db"), 1);
    free(pad);
    free(f.s);
    free(path);
}
END_TEST

static Suite *prefilter_suite(void)
{
    Suite *s = suite_create("prefilter");
    TCase *tc = tcase_create("equivalence");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, prefilter_is_compiled_from_the_shipped_rules);
    tcase_add_test(tc, prefilter_keeps_every_example_and_message_table_match);
    tcase_add_test(tc, prefilter_finds_a_literal_in_a_continuation_line);
    tcase_add_test(tc, prefilter_finds_table_literals_in_continuation_lines);
    tcase_add_test(tc, prefilter_reads_a_line_longer_than_a_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    xmlInitParser();
    sr = srunner_create(prefilter_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
