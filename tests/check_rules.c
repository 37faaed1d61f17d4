/* Suite for the rule loader: valid sets load; every kind of bad file is refused with
 * file:line, and hostile XML never expands an entity. */
#include "rules.h"
#include "ruletest.h"

#include "testutil.h"

#include <check.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XSD HVD_TEST_SRCDIR "/rules/hvdiag-rules.xsd"

static char *tmp;

static void tmp_setup(void)
{
    tmp = hvd_test_tmpdir();
}

static void tmp_teardown(void)
{
    hvd_test_rmtree(tmp);
    free(tmp);
}

/* Collects every error line the loader logs. */
struct lines {
    char text[8192];
    int n;
};

static void collect(void *ud, int level, const char *msg)
{
    struct lines *l = ud;
    size_t used = strlen(l->text);

    (void)level;
    snprintf(l->text + used, sizeof(l->text) - used, "%s\n", msg);
    l->n++;
}

static const char good_rule[] =
    "  <rule id=\"r-%d\" severity=\"error\">\n"
    "    <title>t {host}</title>\n"
    "    <match><provider>P</provider><event-id>%d</event-id></match>\n"
    "    <cause>c</cause><remedy>r</remedy>\n"
    "    <reference href=\"https://example.invalid/\"/>\n"
    "    <examples><positive><Event "
    "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></positive>\n"
    "      <negative><Event "
    "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></negative></examples>\n"
    "  </rule>\n";

/* Writes a rule file made of a prologue, the body and the closing tag. */
static char *write_rules(const char *name, const char *prologue, const char *body)
{
    char *path = hvd_test_path(tmp, name);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s<rules xmlns=\"urn:hvdiag:rules:1\">\n%s</rules>\n", prologue, body);
    fclose(f);
    return path;
}

static int load_dir_flags(struct lines *out, unsigned flags, hvd_error *err)
{
    hvd_logger log = {collect, out, 3};
    hvd_ruleset *rs = NULL;
    int rc = hvd_ruleset_load_flags(&rs, tmp, XSD, flags, &log, err);

    if (rc == HVD_OK) {
        ck_assert_ptr_nonnull(rs);
        rc = (int)hvd_ruleset_count(rs);
        hvd_ruleset_destroy(rs);
    } else {
        ck_assert_ptr_null(rs);
    }
    return rc;
}

/* Loads tmp as a whole set; loading it for matching only must accept or refuse it alike,
 * with the same problems. */
static int load_dir(struct lines *out, hvd_error *err)
{
    struct lines lean = {.n = 0};
    hvd_error lean_err;
    size_t before = strlen(out->text); /* out may hold the lines of earlier loads */
    int rc = load_dir_flags(out, 0, err);

    ck_assert_int_eq(load_dir_flags(&lean, HVD_RULESET_MATCH_ONLY, &lean_err), rc);
    ck_assert_str_eq(lean.text, out->text + before);
    if (rc < 0) {
        ck_assert_str_eq(lean_err.msg, err->msg);
    }
    return rc;
}

START_TEST(the_shipped_rules_load)
{
    hvd_ruleset *rs = NULL;
    hvd_error err;
    size_t correlations = 0;

    ck_assert_msg(hvd_ruleset_load(&rs, HVD_TEST_SRCDIR "/rules", NULL, NULL, &err) == HVD_OK, "%s",
                  err.msg);
    ck_assert_uint_ge(hvd_ruleset_count(rs), 60);
    for (size_t i = 0; i < hvd_ruleset_count(rs); i++) {
        const hvd_rule_info *r = hvd_ruleset_rule(rs, i);

        correlations += (size_t)r->correlation;
        ck_assert_uint_ge(r->nreferences, 1);
        ck_assert_uint_ge(r->nexamples, 2);
    }
    ck_assert_uint_ge(correlations, 4);
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(match_only_keeps_the_rules_but_not_the_examples_to_run)
{
    hvd_ruleset *full = NULL;
    hvd_ruleset *lean = NULL;
    hvd_ruletest_result res;
    hvd_error err;

    ck_assert_msg(hvd_ruleset_load(&full, HVD_TEST_SRCDIR "/rules", NULL, NULL, &err) == HVD_OK,
                  "%s", err.msg);
    ck_assert_msg(hvd_ruleset_load_flags(&lean, HVD_TEST_SRCDIR "/rules", NULL,
                                         HVD_RULESET_MATCH_ONLY, NULL, &err) == HVD_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(hvd_ruleset_count(lean), hvd_ruleset_count(full));
    for (size_t i = 0; i < hvd_ruleset_count(full); i++) {
        const hvd_rule_info *a = hvd_ruleset_rule(full, i);
        const hvd_rule_info *b = hvd_ruleset_rule(lean, i);

        ck_assert_str_eq(a->id, b->id);
        ck_assert_uint_eq(a->nexamples, b->nexamples);
    }
    /* Running the examples of a set loaded without them would prove nothing: refused. */
    ck_assert_int_eq(hvd_ruletest_run(lean, NULL, NULL, &res, &err), HVD_EINVAL);
    ck_assert_msg(strstr(err.msg, "HVD_RULESET_MATCH_ONLY") != NULL, "%s", err.msg);
    hvd_ruleset_destroy(lean);
    hvd_ruleset_destroy(full);
}
END_TEST

START_TEST(a_file_over_8_mib_is_refused_unparsed)
{
    struct lines l = {.n = 0};
    hvd_error err;
    char *path = hvd_test_path(tmp, "big.xml");
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "<rules xmlns=\"urn:hvdiag:rules:1\">\n<!--");
    for (int i = 0; i < (8 << 20) / 64; i++) {
        fprintf(f, "%063d\n", 0);
    }
    fprintf(f, "-->\n</rules>\n");
    fclose(f);
    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_msg(strstr(l.text, "big.xml: larger than 8388608 bytes") != NULL, "%s", l.text);
    free(path);
}
END_TEST

START_TEST(valid_files_load_in_name_order)
{
    char body[2048];
    struct lines l = {.n = 0};
    hvd_error err;
    char *a;
    char *b;

    snprintf(body, sizeof(body), good_rule, 1, 1);
    a = write_rules("b.xml", "", body);
    snprintf(body, sizeof(body), good_rule, 2, 2);
    b = write_rules("a.xml", "", body);
    ck_assert_int_eq(load_dir(&l, &err), 2);
    ck_assert_int_eq(l.n, 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(schema_errors_name_file_and_line)
{
    struct lines l = {.n = 0};
    hvd_error err;
    char *path = write_rules("bad.xml", "",
                             "  <rule id=\"r-1\" severity=\"error\">\n"
                             "    <title>t</title>\n"
                             "    <match><provider>P</provider><EventIdd>1</EventIdd></match>\n"
                             "  </rule>\n");
    char want[4200];

    ck_assert_int_lt(load_dir(&l, &err), 0);
    snprintf(want, sizeof(want), "%s:4:", path);
    ck_assert_msg(strstr(l.text, want) != NULL, "%s", l.text);
    ck_assert_ptr_nonnull(strstr(l.text, "EventIdd"));
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.xml:4:"));
    free(path);
}
END_TEST

START_TEST(bad_regex_and_unknown_entity_and_duplicate_id_are_all_reported)
{
    struct lines l = {.n = 0};
    hvd_error err;
    char body[8192];
    char one[1024];
    char *path;

    snprintf(one, sizeof(one), good_rule, 1, 1);
    snprintf(body, sizeof(body),
             "%s%s"
             "  <rule id=\"r-2\" severity=\"error\">\n"
             "    <title>t {nosuch}</title>\n"
             "    <match><provider>P</provider><message>(unclosed</message></match>\n"
             "    <cause>c</cause><remedy>r</remedy>\n"
             "    <reference href=\"https://example.invalid/\"/>\n"
             "    <examples><positive><Event "
             "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></positive>\n"
             "      <negative><Event "
             "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></negative>"
             "</examples>\n"
             "  </rule>\n",
             one, one);
    path = write_rules("many.xml", "", body);
    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_msg(strstr(l.text, "duplicate rule id 'r-1'") != NULL, "%s", l.text);
    ck_assert_msg(strstr(l.text, "many.xml:20: regex error at offset") != NULL, "%s", l.text);
    ck_assert_msg(strstr(l.text, "unknown entity {nosuch}") != NULL, "%s", l.text);
    ck_assert_int_ge(l.n, 3);
    free(path);
}
END_TEST

START_TEST(external_entities_are_refused_unread)
{
    struct lines l = {.n = 0};
    hvd_error err;
    char *path = write_rules("xxe.xml",
                             "<?xml version=\"1.0\"?>\n"
                             "<!DOCTYPE rules [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n",
                             "  <rule id=\"r-1\" severity=\"error\"><title>&xxe;</title></rule>\n");

    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "xxe.xml:2: DOCTYPE and entity declarations"));
    ck_assert_ptr_null(strstr(l.text, "root:"));
    free(path);
}
END_TEST

START_TEST(entity_bombs_are_refused_quickly)
{
    struct lines l = {.n = 0};
    hvd_error err;
    clock_t start = clock();
    char *path =
        write_rules("lol.xml",
                    "<?xml version=\"1.0\"?>\n<!DOCTYPE r [\n <!ENTITY a \"aaaaaaaaaaaaaaaa\">\n"
                    " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
                    " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
                    " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
                    " <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n]>\n",
                    "<rule id=\"r\" severity=\"error\"><title>&e;&e;&e;&e;</title></rule>\n");

    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "DOCTYPE"));
    ck_assert_double_lt((double)(clock() - start) / CLOCKS_PER_SEC, 2.0);
    free(path);
}
END_TEST

/* Writes text to dir/name converted from UTF-8 into 'encoding' (iconv), with a BOM first
 * when bom is non-NULL. */
static char *write_encoded(const char *name, const char *text, const char *encoding,
                           const char *bom, size_t bom_len)
{
    char out[4096];
    char *in = (char *)text;
    size_t in_left = strlen(text);
    char *o = out + bom_len;
    size_t o_left = sizeof(out) - bom_len;
    iconv_t cd = iconv_open(encoding, "UTF-8");
    char *path = hvd_test_path(tmp, name);

    ck_assert_msg(cd != (iconv_t)-1, "iconv cannot write %s", encoding);
    memcpy(out, bom, bom_len);
    ck_assert_int_ne((long)iconv(cd, &in, &in_left, &o, &o_left), -1L);
    iconv_close(cd);
    ck_assert_int_eq(hvd_test_write_file(path, out, sizeof(out) - o_left), 0);
    return path;
}

/* The DOCTYPE check runs in the parser after decoding: no encoding can hide one. */
START_TEST(doctype_is_refused_in_every_encoding)
{
    static const struct {
        const char *name;
        const char *decl;
        const char *encoding;
        const char *bom;
        size_t bom_len;
    } cases[] = {
        {"utf8.xml", "UTF-8", "UTF-8", "", 0},
        {"utf8bom.xml", "UTF-8", "UTF-8", "\xEF\xBB\xBF", 3},
        {"utf16le.xml", "UTF-16", "UTF-16LE", "\xFF\xFE", 2},
        {"utf16be.xml", "UTF-16", "UTF-16BE", "\xFE\xFF", 2},
        {"ebcdic.xml", "IBM037", "IBM037", "", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        char want[600];
        struct lines l = {.n = 0};
        hvd_error err;
        char *path;

        snprintf(text, sizeof(text),
                 "<?xml version=\"1.0\" encoding=\"%s\"?>\n"
                 "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                 "<rules xmlns=\"urn:hvdiag:rules:1\"><rule id=\"x\">&xxe;</rule></rules>\n",
                 cases[i].decl);
        path =
            write_encoded(cases[i].name, text, cases[i].encoding, cases[i].bom, cases[i].bom_len);
        ck_assert_int_lt(load_dir(&l, &err), 0);
        snprintf(want, sizeof(want), "%s:2: DOCTYPE and entity declarations", cases[i].name);
        ck_assert_msg(strstr(err.msg, want) != NULL, "%s: %s", cases[i].name, err.msg);
        ck_assert_ptr_null(strstr(l.text, "root:"));
        remove(path);
        free(path);
    }
}
END_TEST

START_TEST(rule_files_are_utf8)
{
    char text[2048];
    char one[1024];
    struct lines l = {.n = 0};
    hvd_error err;
    char *path;

    snprintf(one, sizeof(one), good_rule, 1, 1);
    snprintf(text, sizeof(text),
             "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n"
             "<rules xmlns=\"urn:hvdiag:rules:1\">\n%s</rules>\n",
             one);
    path = write_encoded("utf16.xml", text, "UTF-16LE", "\xFF\xFE", 2);
    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_msg(strstr(err.msg, "utf16.xml: not UTF-8") != NULL, "%s", err.msg);
    remove(path);
    free(path);
    /* The same rule in UTF-8 loads. */
    snprintf(text, sizeof(text), "<rules xmlns=\"urn:hvdiag:rules:1\">\n%s</rules>\n", one);
    path = write_encoded("utf8.xml", text, "UTF-8", "", 0);
    ck_assert_msg(load_dir(&l, &err) == 1, "%s", err.msg);
    free(path);
}
END_TEST

/* A rule with the given threshold and quiet period, for the duration tests. */
static const char timed_rule[] =
    "  <rule id=\"r-t\" severity=\"error\">\n"
    "    <title>t</title>\n"
    "    <match><provider>P</provider><event-id>%s</event-id></match>\n"
    "    <threshold count=\"%s\" window=\"%s\"/>\n"
    "    <quiet period=\"%s\"/>\n"
    "    <cause>c</cause><remedy>r</remedy>\n"
    "    <reference href=\"https://example.invalid/\"/>\n"
    "    <examples><positive><Event "
    "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></positive>\n"
    "      <negative><Event "
    "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></negative></examples>\n"
    "  </rule>\n";

/* Durations, counts and id ranges: the largest allowed values load; anything past them,
 * or anything that would wrap, is refused with file:line, by the schema or the loader. */
START_TEST(durations_counts_and_ids_are_bounded)
{
    static const struct {
        const char *ids;
        const char *count;
        const char *window;
        const char *period;
        const char *want; /* NULL: loads */
        int line;
    } cases[] = {
        {"1", "2", "10m", "1h30m", NULL, 0},
        {"1-65535", "1000", "366d", "8784h", NULL, 0},
        {"0 7 9-10", "1", "527040m", "31622400s", NULL, 0},
        {"1", "2", "10m", "367d", "bad period '367d': longer than the maximum of 366d", 6},
        {"1", "2", "366d1s", "1h", "bad window '366d1s': longer than the maximum of 366d", 5},
        {"1", "2", "10m", "300d1700h", "longer than the maximum of 366d", 6},
        {"1", "2", "10m", "100000000d", "period", 6},
        {"1", "2", "10m", "99999999999999999999999s", "period", 6},
        {"1", "2", "10m", "10675199d", "period", 6},
        {"1", "2", "10m", "-1h", "period", 6},
        {"1", "2", "10m", "1h-", "period", 6},
        {"1", "1001", "10m", "1h", "1001", 5},
        {"1", "99999999999999999999", "10m", "1h", "count", 5},
        {"65536", "2", "10m", "1h", "65536", 4},
        {"5-4", "2", "10m", "1h", "5-4", 4},
        {"1,2", "2", "10m", "1h", "1,2", 4},
        {"4294967297", "2", "10m", "1h", "4294967297", 4},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[4096];
        char want[600];
        struct lines l = {.n = 0};
        hvd_error err;
        char *path;
        int rc;

        snprintf(body, sizeof(body), timed_rule, cases[i].ids, cases[i].count, cases[i].window,
                 cases[i].period);
        path = write_rules("t.xml", "", body);
        rc = load_dir(&l, &err);
        if (!cases[i].want) {
            ck_assert_msg(rc == 1, "case %zu: %s", i, err.msg);
        } else {
            ck_assert_msg(rc < 0, "case %zu loaded", i);
            snprintf(want, sizeof(want), "t.xml:%d:", cases[i].line);
            ck_assert_msg(strstr(err.msg, want) != NULL, "case %zu: %s", i, err.msg);
            ck_assert_msg(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
        }
        remove(path);
        free(path);
    }
}
END_TEST

START_TEST(rule_info_lists_references_and_texts)
{
    hvd_ruleset *rs = NULL;
    hvd_error err;
    const hvd_rule_info *r;
    char *path = write_rules("refs.xml", "",
                             "  <rule id=\"r-refs\" severity=\"warning\" confidence=\"low\">\n"
                             "    <title>t</title>\n"
                             "    <match><provider>P</provider><event-id>1</event-id></match>\n"
                             "    <cause>the cause</cause><remedy>step 1\nstep 2</remedy>\n"
                             "    <reference href=\"https://a.invalid/\">KB1</reference>\n"
                             "    <reference href=\"https://b.invalid/\"/>\n"
                             "    <examples><positive><Event "
                             "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/>"
                             "</positive>\n      <negative><Event "
                             "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/>"
                             "</negative></examples>\n"
                             "  </rule>\n");

    ck_assert_msg(hvd_ruleset_load(&rs, tmp, XSD, NULL, &err) == HVD_OK, "%s", err.msg);
    ck_assert_uint_eq(hvd_ruleset_count(rs), 1);
    r = hvd_ruleset_rule(rs, 0);
    ck_assert_str_eq(r->id, "r-refs");
    ck_assert_int_eq(r->severity, HVD_SEVERITY_WARNING);
    ck_assert_str_eq(r->confidence, "low");
    ck_assert_int_eq(r->line, 2);
    ck_assert_uint_eq(r->nreferences, 2);
    ck_assert_str_eq(r->references[0], "https://a.invalid/");
    ck_assert_str_eq(r->reference_labels[0], "KB1");
    ck_assert_str_eq(r->references[1], "https://b.invalid/");
    ck_assert_str_eq(r->cause, "the cause");
    ck_assert_ptr_nonnull(strstr(r->remedy, "step 2"));
    ck_assert_ptr_null(hvd_ruleset_rule(rs, 1));
    hvd_ruleset_destroy(rs);
    free(path);
}
END_TEST

static const char corr_fmt[] =
    "  <correlation id=\"%s\" severity=\"error\" window=\"1h\">\n"
    "    <title>%s</title>\n"
    "    <member role=\"%s\" rule=\"%s\"/>\n"
    "    <member role=\"%s\" rule=\"%s\"/>\n"
    "    <cause>c</cause><remedy>r</remedy>\n"
    "    <reference href=\"https://example.invalid/\"/>\n"
    "    <examples><positive><Event "
    "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></positive>\n"
    "      <negative><Event "
    "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></negative></examples>\n"
    "  </correlation>\n";

START_TEST(correlations_of_correlations_resolve_in_any_file_order)
{
    char body[8192];
    char r1[2048];
    char r2[2048];
    char outer[2048];
    char inner[2048];
    struct lines l = {.n = 0};
    hvd_error err;
    char *path;

    snprintf(r1, sizeof(r1), good_rule, 1, 1);
    snprintf(r2, sizeof(r2), good_rule, 2, 2);
    /* The outer one comes first and names an entity only the inner one has. */
    snprintf(outer, sizeof(outer), corr_fmt, "c-outer", "{inner.first.host_short}", "inner",
             "c-inner", "again", "r-1");
    snprintf(inner, sizeof(inner), corr_fmt, "c-inner", "{first.host}", "first", "r-1", "second",
             "r-2");
    snprintf(body, sizeof(body), "%s%s%s%s", outer, r1, r2, inner);
    path = write_rules("nested.xml", "", body);
    ck_assert_int_eq(load_dir(&l, &err), 4);
    ck_assert_int_eq(l.n, 0);
    free(path);
}
END_TEST

START_TEST(correlation_cycles_are_refused)
{
    char body[8192];
    char r1[2048];
    char x[2048];
    char y[2048];
    struct lines l = {.n = 0};
    hvd_error err;
    char *path;

    snprintf(r1, sizeof(r1), good_rule, 1, 1);
    snprintf(x, sizeof(x), corr_fmt, "c-x", "x", "a", "c-y", "b", "r-1");
    snprintf(y, sizeof(y), corr_fmt, "c-y", "y", "a", "c-x", "b", "r-1");
    snprintf(body, sizeof(body), "%s%s%s", r1, x, y);
    path = write_rules("cycle.xml", "", body);
    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_msg(strstr(l.text, "its members form a cycle") != NULL, "%s", l.text);
    free(path);
}
END_TEST

/* gather="true" on a later member loads; on the first, which gives the correlation its
 * unprefixed entities, it is refused at its line. */
START_TEST(only_a_later_member_may_gather)
{
    char body[8192];
    char r1[2048];
    char r2[2048];
    char c[2048];
    struct lines l = {.n = 0};
    hvd_error err;
    char *path;

    snprintf(r1, sizeof(r1), good_rule, 1, 1);
    snprintf(r2, sizeof(r2), good_rule, 2, 2);
    snprintf(c, sizeof(c), corr_fmt, "c-gather", "{host} and {b.host}", "a", "r-1",
             "b\" gather=\"true", "r-2");
    snprintf(body, sizeof(body), "%s%s%s", r1, r2, c);
    path = write_rules("gather.xml", "", body);
    ck_assert_int_eq(load_dir(&l, &err), 3);
    ck_assert_int_eq(l.n, 0);
    free(path);
    snprintf(c, sizeof(c), corr_fmt, "c-gather", "{host} and {b.host}", "a\" gather=\"true", "r-1",
             "b", "r-2");
    snprintf(body, sizeof(body), "%s%s%s", r1, r2, c);
    path = write_rules("gather.xml", "", body);
    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_msg(strstr(l.text, "gather.xml:20: the first member cannot gather") != NULL, "%s",
                  l.text);
    free(path);
}
END_TEST

START_TEST(not_well_formed_and_empty_folder)
{
    struct lines l = {.n = 0};
    hvd_error err;
    char *path;

    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "no rule files"));
    path = hvd_test_path(tmp, "broken.xml");
    ck_assert_int_eq(hvd_test_write_file(path, "<rules xmlns=\"urn:hvdiag:rules:1\">\n<rule", 40),
                     0);
    memset(&l, 0, sizeof(l));
    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_msg(strstr(err.msg, "broken.xml:") != NULL, "%s", err.msg);
    free(path);
}
END_TEST

START_TEST(a_rule_that_meets_every_event_is_refused)
{
    struct lines l = {.n = 0};
    hvd_error err;
    char *path = write_rules(
        "wide.xml", "",
        "  <rule id=\"r-1\" severity=\"error\">\n"
        "    <title>t</title>\n"
        "    <match><level>error</level></match>\n"
        "    <cause>c</cause><remedy>r</remedy>\n"
        "    <reference href=\"https://example.invalid/\"/>\n"
        "    <examples><positive><Event "
        "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></positive>\n"
        "      <negative><Event "
        "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"/></negative></examples>\n"
        "  </rule>\n");

    ck_assert_int_lt(load_dir(&l, &err), 0);
    ck_assert_msg(strstr(l.text, "would meet every event") != NULL, "%s", l.text);
    free(path);
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("load");

    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, the_shipped_rules_load);
    tcase_add_test(tc, match_only_keeps_the_rules_but_not_the_examples_to_run);
    tcase_add_test(tc, valid_files_load_in_name_order);
    tcase_add_test(tc, a_file_over_8_mib_is_refused_unparsed);
    tcase_add_test(tc, schema_errors_name_file_and_line);
    tcase_add_test(tc, bad_regex_and_unknown_entity_and_duplicate_id_are_all_reported);
    tcase_add_test(tc, external_entities_are_refused_unread);
    tcase_add_test(tc, entity_bombs_are_refused_quickly);
    tcase_add_test(tc, doctype_is_refused_in_every_encoding);
    tcase_add_test(tc, rule_files_are_utf8);
    tcase_add_test(tc, durations_counts_and_ids_are_bounded);
    tcase_add_test(tc, rule_info_lists_references_and_texts);
    tcase_add_test(tc, correlations_of_correlations_resolve_in_any_file_order);
    tcase_add_test(tc, correlation_cycles_are_refused);
    tcase_add_test(tc, only_a_later_member_may_gather);
    tcase_add_test(tc, not_well_formed_and_empty_folder);
    tcase_add_test(tc, a_rule_that_meets_every_event_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rules_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
