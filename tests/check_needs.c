/*
 * Suite for needs (what a rule set can match) and the EVTX reader that uses it: keys as the
 * engine reads them (providers, channels, event ids), rules that never meet EVTX events,
 * unkeyed and disabled rules, message-table entries, and records decoded to System only with
 * the same System values as a whole decode. The same-database check over the samples and the
 * corpus is the needs_filter_same_digest_* tests.
 */
#include "needs.h"
#include "rules.h"
#include "source.h"

#include "testutil.h"

#include <check.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVTXGEN HVD_TEST_BINDIR "/evtxgen"
#define XSD     HVD_TEST_SRCDIR "/rules/hvdiag-rules.xsd"

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

#define EVENT(rid, text)                                                                        \
    "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>"           \
    "<Provider Name=\"Microsoft-Windows-Hyper-V-VMMS\"/><EventID>100</EventID><Level>2</Level>" \
    "<TimeCreated SystemTime=\"2024-03-05T10:00:00.0000000Z\"/><EventRecordID>" rid             \
    "</EventRecordID><Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel>"                   \
    "<Computer>HV-NODE01</Computer></System><EventData><Data Name=\"Parameter0\">" text         \
    "</Data></EventData></Event>"

/* One rule with the given <match> body and attributes; examples are only for the schema. */
static void rule(FILE *f, const char *id, const char *attrs, const char *match)
{
    fprintf(f,
            "<rule id=\"%s\" severity=\"warning\" %s><title>t</title><match>%s</match>"
            "<cause>c</cause><remedy>r</remedy><reference href=\"https://example.invalid/\"/>"
            "<examples><positive>" EVENT("1", "odd") "</positive><negative>" EVENT(
                "2", "fine") "</negative></examples></rule>\n",
            id, attrs, match);
}

/* Writes rules.xml with the base rules (and the unkeyed one when asked), loads it. */
static hvd_ruleset *load(int with_unkeyed)
{
    char *path = hvd_test_path(tmp, "rules.xml");
    FILE *f = fopen(path, "w");
    hvd_ruleset *rs = NULL;
    hvd_error err;

    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rules xmlns=\"urn:hvdiag:rules:1\">\n");
    rule(f, "vmms-ids", "",
         "<provider>Microsoft-Windows-Hyper-V-VMMS</provider><event-id>100-102 200</event-id>"
         "<channel>Microsoft-Windows-Hyper-V-VMMS-Admin</channel>");
    rule(f, "two-providers", "",
         "<any><provider>Provider-X</provider><provider>Provider-Y</provider></any>"
         "<message op=\"regex\">odd</message>");
    rule(f, "channel-only-ids", "", "<event-id>4096</event-id><channel>System</channel>");
    rule(f, "clusterlog-only", "",
         "<source>clusterlog</source><message op=\"regex\">odd</message>");
    rule(f, "component-only", "", "<component>RCM</component><message op=\"regex\">odd</message>");
    rule(f, "disabled-id", "enabled=\"false\"", "<event-id>7</event-id>");
    if (with_unkeyed) {
        rule(f, "unkeyed", "", "<message op=\"regex\">odd</message>");
    }
    fprintf(f, "</rules>\n");
    fclose(f);
    ck_assert_msg(hvd_ruleset_load(&rs, tmp, XSD, NULL, &err) == HVD_OK, "%s", err.msg);
    free(path);
    return rs;
}

START_TEST(keys_are_read_as_the_engine_reads_them)
{
    hvd_ruleset *rs = load(0);
    hvd_needs *n = NULL;
    hvd_error err;
    const char *vmms = "Microsoft-Windows-Hyper-V-VMMS";
    const char *admin = "Microsoft-Windows-Hyper-V-VMMS-Admin";

    ck_assert_int_eq(hvd_needs_create(&n, rs, &err), HVD_OK);
    ck_assert_int_eq(hvd_needs_everything(n), 0);
    /* provider case-insensitive, id ranges, channel spelled either way */
    ck_assert_int_eq(hvd_needs_evtx(n, vmms, admin, 101), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, "microsoft-windows-hyper-v-vmms", admin, 100), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, vmms, "Microsoft-Windows-Hyper-V-VMMS/Admin", 200), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, vmms, admin, 103), 0);
    ck_assert_int_eq(hvd_needs_evtx(n, vmms, "System", 101), 0);
    /* any id of either listed provider */
    ck_assert_int_eq(hvd_needs_evtx(n, "Provider-X", "Application", 1), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, "provider-y", "", 65535), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, "Provider-Z", "Application", 1), 0);
    /* no provider: the id and the channel */
    ck_assert_int_eq(hvd_needs_evtx(n, "Anything", "system", 4096), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, "Anything", "Application", 4096), 0);
    ck_assert_int_eq(hvd_needs_evtx(n, NULL, NULL, 4096), 0);
    /* a disabled rule needs nothing; cluster.log rules never meet EVTX events */
    ck_assert_int_eq(hvd_needs_evtx(n, "Anything", "System", 7), 0);
    for (size_t i = 0; i < hvd_ruleset_count(rs); i++) {
        ck_assert_int_eq(hvd_needs_unkeyed(rs, i), 0);
    }
    ck_assert_int_eq(hvd_needs_unkeyed(rs, hvd_ruleset_count(rs)), 0);
    hvd_needs_destroy(n);
    hvd_ruleset_destroy(rs);
}
END_TEST

/* Through a memo, answers are the set's own: asked in turn, again and again, in every
 * spelling (so that slots are shared and replaced), and for names too long for a slot. */
START_TEST(the_memo_answers_as_the_set)
{
    static const char *const providers[] = {"Microsoft-Windows-Hyper-V-VMMS",
                                            "microsoft-windows-hyper-v-vmms",
                                            "Provider-X",
                                            "provider-y",
                                            "Provider-Z",
                                            "Anything",
                                            "",
                                            NULL};
    static const char *const channels[] = {"Microsoft-Windows-Hyper-V-VMMS-Admin",
                                           "Microsoft-Windows-Hyper-V-VMMS/Admin",
                                           "System",
                                           "system",
                                           "Application",
                                           "",
                                           NULL};
    static const uint16_t ids[] = {1, 7, 100, 101, 103, 200, 4096, 65535};
    char long_name[300];
    hvd_ruleset *rs = load(0);
    hvd_needs *n = NULL;
    hvd_needs_memo *memo = calloc(1, sizeof(*memo));
    hvd_error err;
    size_t asked = 0;

    ck_assert_ptr_nonnull(memo);
    ck_assert_int_eq(hvd_needs_create(&n, rs, &err), HVD_OK);
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    for (int round = 0; round < 3; round++) {
        for (size_t p = 0; p < sizeof(providers) / sizeof(*providers); p++) {
            for (size_t c = 0; c < sizeof(channels) / sizeof(*channels); c++) {
                for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
                    ck_assert_int_eq(
                        hvd_needs_evtx_memo(n, memo, providers[p], channels[c], ids[i]),
                        hvd_needs_evtx(n, providers[p], channels[c], ids[i]));
                    asked++;
                }
            }
        }
        ck_assert_int_eq(hvd_needs_evtx_memo(n, memo, long_name, "System", 7),
                         hvd_needs_evtx(n, long_name, "System", 7));
        ck_assert_int_eq(hvd_needs_evtx_memo(n, memo, "Provider-X", long_name, 1), 1);
    }
    ck_assert_uint_gt(asked, HVD_NEEDS_MEMO_SLOTS);
    hvd_needs_destroy(n);
    hvd_ruleset_destroy(rs);
    free(memo);
}
END_TEST

START_TEST(an_unkeyed_rule_needs_every_event)
{
    hvd_ruleset *rs = load(1);
    hvd_needs *n = NULL;
    hvd_error err;
    size_t unkeyed = 0;

    ck_assert_int_eq(hvd_needs_create(&n, rs, &err), HVD_OK);
    ck_assert_int_eq(hvd_needs_everything(n), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, "Provider-Z", "Application", 1), 1);
    for (size_t i = 0; i < hvd_ruleset_count(rs); i++) {
        if (hvd_needs_unkeyed(rs, i)) {
            ck_assert_str_eq(hvd_ruleset_rule(rs, i)->id, "unkeyed");
            unkeyed++;
        }
    }
    ck_assert_int_eq(unkeyed, 1);
    hvd_needs_destroy(n);
    hvd_ruleset_destroy(rs);
}
END_TEST

/* The shipped message table: its providers and ids are needed (a forwarded event with only
 * its rendered text gets its fields from it). */
START_TEST(message_table_entries_are_needed)
{
    hvd_ruleset *rs = NULL;
    hvd_needs *n = NULL;
    hvd_error err;

    ck_assert_msg(hvd_ruleset_load(&rs, HVD_TEST_SRCDIR "/rules", NULL, NULL, &err) == HVD_OK, "%s",
                  err.msg);
    ck_assert_int_eq(hvd_needs_create(&n, rs, &err), HVD_OK);
    ck_assert_int_eq(hvd_needs_everything(n), 0); /* the shipped rules are keyed */
    ck_assert_int_eq(hvd_needs_evtx(n, "Microsoft-Windows-FailoverClustering", "System", 1135), 1);
    ck_assert_int_eq(hvd_needs_evtx(n, "Microsoft-Windows-Kernel-General", "System", 16), 0);
    hvd_needs_destroy(n);
    hvd_ruleset_destroy(rs);
}
END_TEST

/* One record needed, one not, in a template file and a forwarded one: the second comes
 * with System only, its System values those of a whole decode. */
START_TEST(unneeded_records_are_decoded_to_system_only)
{
    static const char xml[] = "<Events>" EVENT(
        "1",
        "odd") "<Event "
               "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider "
               "Name=\"Microsoft-Windows-Kernel-General\" "
               "Guid=\"{A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D}\"/><EventID>16</EventID><Level>4</"
               "Level><Task>0</Task><Keywords>0x8000000000000000</Keywords><TimeCreated "
               "SystemTime=\"2024-03-05T10:00:01.0000000Z\"/><EventRecordID>2</"
               "EventRecordID><Channel>"
               "System</Channel><Computer>HV-NODE02</Computer><Security UserID=\"S-1-5-18\"/></"
               "System><EventData><Data "
               "Name=\"HiveName\">Amcache.hve</Data></EventData><RenderingInfo "
               "Culture=\"en-US\"><Message>The access history was cleared.</Message><Level>"
               "Information</Level></RenderingInfo></Event></Events>";
    char *in = hvd_test_path(tmp, "two.xml");
    hvd_ruleset *rs = load(0);
    hvd_needs *n = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_test_write_file(in, xml, strlen(xml)), 0);
    ck_assert_int_eq(hvd_needs_create(&n, rs, &err), HVD_OK);
    for (int fwd = 0; fwd < 2; fwd++) {
        char *out = hvd_test_path(tmp, fwd ? "fwd.evtx" : "tmpl.evtx");
        char *argv[] = {EVTXGEN, fwd ? "--forwarded" : in, fwd ? in : out, fwd ? out : NULL, NULL};
        hvd_source_options whole = {.evtx_decoder = HVD_EVTX_NATIVE};
        hvd_source_options filtered = {.evtx_decoder = HVD_EVTX_NATIVE, .needs = n};
        hvd_source *a = NULL;
        hvd_source *b = NULL;
        hvd_event ea;
        hvd_event eb;

        ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
        ck_assert_int_eq(hvd_source_open(&a, out, &whole, NULL, &err), HVD_OK);
        ck_assert_int_eq(hvd_source_open(&b, out, &filtered, NULL, &err), HVD_OK);
        /* needed: whole either way */
        ck_assert_int_eq(hvd_source_next(b, &eb, &err), 1);
        ck_assert_int_eq(eb.system_only, 0);
        ck_assert_str_eq(hvd_event_field(&eb, "Parameter0"), "odd");
        ck_assert_int_eq(hvd_source_next(a, &ea, &err), 1);
        /* not needed: System only */
        ck_assert_int_eq(hvd_source_next(a, &ea, &err), 1);
        ck_assert_int_eq(hvd_source_next(b, &eb, &err), 1);
        ck_assert_int_eq(ea.system_only, 0);
        ck_assert_int_eq(ea.nfields, 1);
        ck_assert_str_eq(ea.message, fwd ? "The access history was cleared." : "Amcache.hve");
        ck_assert_str_eq(ea.level_text, fwd ? "Information" : "");
        ck_assert_int_eq(eb.system_only, 1);
        ck_assert_int_eq(eb.nfields, 0);
        ck_assert_str_eq(eb.message, "");
        ck_assert_str_eq(eb.provider, ea.provider);
        ck_assert_str_eq(eb.provider_guid, ea.provider_guid);
        ck_assert_str_eq(eb.channel, ea.channel);
        ck_assert_str_eq(eb.host, ea.host);
        ck_assert_str_eq(eb.user_sid, ea.user_sid);
        ck_assert_int_eq(eb.event_id, 16);
        ck_assert_int_eq(eb.level, ea.level);
        ck_assert_int_eq(eb.keywords, ea.keywords);
        ck_assert_int_eq(eb.time, ea.time);
        ck_assert_int_eq(eb.event_record_id, 2);
        ck_assert_int_eq(eb.record_id, ea.record_id);
        ck_assert_int_eq(hvd_source_next(b, &eb, &err), 0);
        ck_assert_int_eq(hvd_source_get_stats(b)->system_only, 1);
        ck_assert_int_eq(hvd_source_get_stats(b)->events, 2);
        ck_assert_int_eq(hvd_source_get_stats(a)->system_only, 0);
        hvd_source_close(a);
        hvd_source_close(b);
        free(out);
    }
    hvd_needs_destroy(n);
    hvd_ruleset_destroy(rs);
    free(in);
}
END_TEST

static Suite *needs_suite(void)
{
    Suite *s = suite_create("needs");
    TCase *tc = tcase_create("keys");

    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, keys_are_read_as_the_engine_reads_them);
    tcase_add_test(tc, the_memo_answers_as_the_set);
    tcase_add_test(tc, an_unkeyed_rule_needs_every_event);
    tcase_add_test(tc, message_table_entries_are_needed);
    suite_add_tcase(s, tc);
    tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, unneeded_records_are_decoded_to_system_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(needs_suite());
    int failed;

    xmlInitParser();
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
