/* Suite for extract: the VM, peer host and resource in an event's message text, found by the
 * documented message texts of rules/names/, given to every rule's diagnosis, and checked on
 * every positive rule example. */
#include "extract.h"

#include "engine.h"
#include "eventxml.h"
#include "rules.h"
#include "ruletest.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define XSD HVD_TEST_SRCDIR "/rules/hvdiag-rules.xsd"

static hvd_extract_table *shipped;
static hvd_extractor *x;

static void shipped_setup(void)
{
    hvd_error err;

    hvd_error_clear(&err);
    ck_assert_msg(hvd_extract_load(&shipped, HVD_TEST_SRCDIR "/rules/names", NULL, &err) == HVD_OK,
                  "%s", err.msg);
    ck_assert_int_eq(hvd_extractor_create(&x, shipped, &err), HVD_OK);
}

static void shipped_teardown(void)
{
    hvd_extractor_destroy(x);
    hvd_extract_destroy(shipped);
}

/* The value of name among what ev's text gives, or NULL. */
static const char *found(const hvd_event *ev, const char *name)
{
    const hvd_entity *ents = NULL;
    int n = hvd_extractor_find(x, ev, &ents);

    ck_assert_int_ge(n, 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i].name, name) == 0) {
            return ents[i].value;
        }
    }
    return NULL;
}

static hvd_event event(const char *provider, uint16_t id, const char *message,
                       const hvd_field *fields, size_t nfields)
{
    hvd_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_EVTX;
    ev.provider = provider;
    ev.event_id = id;
    ev.host = "HV-NODE01.contoso.local";
    ev.message = message;
    ev.fields = fields;
    ev.nfields = nfields;
    return ev;
}

#define HA "Microsoft-Windows-Hyper-V-High-Availability"

/* 21502's three insertion strings as the EVTX reader joins them, wording of KB4558514. */
START_TEST(ha_21502_gives_vm_id_and_peer)
{
    static const char msg[] =
        "Live migration of 'Virtual Machine SQL 01' failed.\n"
        "Virtual Machine SQL 01\n"
        "Virtual machine migration operation for 'SQL 01' failed at migration source "
        "'HV-NODE01'. (Virtual machine ID 6F1A2B3C-0000-4000-8000-000000000001)\n"
        "The Virtual Machine Management Service failed to establish a connection for a Virtual "
        "Machine migration with host 'HV-NODE02.contoso.local': No credentials are available in "
        "the security package (0x8009030E).";
    hvd_event ev = event(HA, 21502, msg, NULL, 0);

    ck_assert_uint_ge(hvd_extract_count(shipped), 10);
    ck_assert_str_eq(found(&ev, "vm_name"), "SQL 01");
    ck_assert_str_eq(found(&ev, "vm_id"), "6F1A2B3C-0000-4000-8000-000000000001");
    ck_assert_str_eq(found(&ev, "peer_host"), "HV-NODE02.contoso.local");
    /* The host is the event's own; the table never sets it. */
    ck_assert_ptr_null(found(&ev, "host"));
    /* Another provider's event with the same text gives nothing from this file. */
    ev.provider = "Microsoft-Windows-Kernel-General";
    ck_assert_ptr_null(found(&ev, "vm_name"));
}
END_TEST

START_TEST(fields_and_resource_names)
{
    static const hvd_field f21145[] = {{"Parameter0", "Virtual Machine WEB01"},
                                       {"Parameter1", "HV-NODE03"}};
    static const hvd_field f1069[] = {{"ResourceName", "Virtual Machine Configuration SQL01"},
                                      {"ResourceGroup", "SQL01"}};
    static const hvd_field fip[] = {{"ResourceName", "Cluster IP Address"}};
    static const hvd_field fvmms[] = {{"VmName", "DC01"},
                                      {"VmId", "D2296854-A16F-40AC-99CB-8CE953744865"}};
    hvd_event ev = event(HA, 21145, "Virtual Machine WEB01\nHV-NODE03", f21145, 2);

    ck_assert_str_eq(found(&ev, "vm_name"), "WEB01");
    ck_assert_str_eq(found(&ev, "peer_host"), "HV-NODE03");
    /* The ids a template names: 21502 has no such fields to read. */
    ev.event_id = 21502;
    ck_assert_ptr_null(found(&ev, "peer_host"));

    ev = event("Microsoft-Windows-FailoverClustering", 1069, "", f1069, 2);
    ck_assert_str_eq(found(&ev, "vm_name"), "SQL01"); /* not "Configuration SQL01" */
    ck_assert_str_eq(found(&ev, "resource"), "Virtual Machine Configuration SQL01");
    ev = event("Microsoft-Windows-FailoverClustering", 1069, "", fip, 1);
    ck_assert_ptr_null(found(&ev, "vm_name"));
    ck_assert_str_eq(found(&ev, "resource"), "Cluster IP Address");

    ev = event("Microsoft-Windows-Hyper-V-VMMS", 18012, "", fvmms, 2);
    ck_assert_str_eq(found(&ev, "vm_name"), "DC01");
    ck_assert_str_eq(found(&ev, "vm_id"), "D2296854-A16F-40AC-99CB-8CE953744865");
    /* A template at="start" reads only the start of the message. */
    ev = event("Microsoft-Windows-Hyper-V-Worker", 3040,
               "'SQL01' could not restore: The device is not ready. (0x80070015)", NULL, 0);
    ck_assert_str_eq(found(&ev, "vm_name"), "SQL01");
    ev.message = "x 'SQL01' could not restore";
    ck_assert_ptr_null(found(&ev, "vm_name"));
}
END_TEST

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

static void write_in(const char *sub, const char *name, const char *text)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", tmp, sub);
    (void)mkdir(path, 0700); /* may exist */
    snprintf(path, sizeof(path), "%s/%s/%s", tmp, sub, name);
    ck_assert_int_eq(hvd_test_write_file(path, text, strlen(text)), 0);
}

#define NAMES_HEAD "<?xml version=\"1.0\"?>\n<names xmlns=\"urn:hvdiag:names:1\" provider=\"P\">\n"

static int load_names(const char *xml, hvd_error *err)
{
    char path[4096];
    hvd_extract_table *t = NULL;
    int rc;

    write_in("names", "n.xml", xml);
    snprintf(path, sizeof(path), "%s/names", tmp);
    hvd_error_clear(err);
    rc = hvd_extract_load(&t, path, NULL, err);
    hvd_extract_destroy(t);
    return rc;
}

START_TEST(bad_files_are_refused_with_their_line)
{
    hvd_error err;
    hvd_extract_table *t = NULL;

    ck_assert_int_eq(load_names(NAMES_HEAD "<template params=\"vm_name\"><text>a '%1'</text>"
                                           "</template></names>",
                                &err),
                     HVD_OK);
    ck_assert_int_lt(load_names(NAMES_HEAD "\n<template params=\"host\"><text>a '%1'</text>"
                                           "</template></names>",
                                &err),
                     0);
    ck_assert_uint_eq(err.line, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "host"));
    ck_assert_int_lt(load_names(NAMES_HEAD "<template params=\"vm_name vm_id\"><text>a '%1'</text>"
                                           "</template></names>",
                                &err),
                     0);
    ck_assert_ptr_nonnull(strstr(err.msg, "vm_id"));
    ck_assert_int_lt(load_names(NAMES_HEAD "<template params=\"vm_name\"><text>a '%2'</text>"
                                           "</template></names>",
                                &err),
                     0);
    ck_assert_int_lt(load_names(NAMES_HEAD "<template event-id=\"9-3\" params=\"vm_name\"><text>"
                                           "'%1'</text></template></names>",
                                &err),
                     0);
    ck_assert_int_lt(load_names(NAMES_HEAD "<template at=\"end\" params=\"vm_name\"><text>"
                                           "'%1'</text></template></names>",
                                &err),
                     0);
    ck_assert_int_lt(load_names(NAMES_HEAD "<template params=\"-\"><text>'%1'</text></template>"
                                           "</names>",
                                &err),
                     0);
    ck_assert_int_lt(load_names(NAMES_HEAD "<rule/></names>", &err), 0);
    ck_assert_int_lt(load_names("<?xml version=\"1.0\"?><!DOCTYPE n [<!ENTITY e \"x\">]>"
                                "<names xmlns=\"urn:hvdiag:names:1\" provider=\"P\"/>",
                                &err),
                     0);
    ck_assert_ptr_nonnull(strstr(err.msg, "DOCTYPE"));
    /* No folder: no names, not an error. */
    ck_assert_int_eq(hvd_extract_load(&t, "/nonexistent/names", NULL, &err), HVD_OK);
    ck_assert_uint_eq(hvd_extract_count(t), 0);
    hvd_extract_destroy(t);
}
END_TEST

/* One HA 21502 event as wevtutil prints it, for the rules below. */
#define EVENT_21502                                                                            \
    "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>"          \
    "<Provider Name=\"Microsoft-Windows-Hyper-V-High-Availability\"/><EventID>21502</EventID>" \
    "<Level>2</Level><TimeCreated SystemTime=\"2024-03-05T10:05:42.0000000Z\"/>"               \
    "<EventRecordID>1</EventRecordID><Channel>Microsoft-Windows-Hyper-V-High-Availability-"    \
    "Admin</Channel><Computer>HV-NODE01.contoso.local</Computer></System><EventData>"          \
    "<Data Name=\"Parameter0\">Live migration of 'Virtual Machine SQL01' failed.</Data>"       \
    "<Data Name=\"Parameter1\">Virtual Machine SQL01</Data>"                                   \
    "<Data Name=\"Parameter2\">Virtual machine migration operation for 'SQL01' failed at "     \
    "migration source 'HV-NODE01'. (Virtual machine ID 6F1A2B3C-0000-4000-8000-000000000001)"  \
    "</Data></EventData></Event>"

#define NAMES_HA                                                                         \
    "<?xml version=\"1.0\"?>\n<names xmlns=\"urn:hvdiag:names:1\" provider=\"Microsoft-" \
    "Windows-Hyper-V-High-Availability\"><template params=\"vm_name\"><text>Live "       \
    "migration of 'Virtual Machine %1' failed.</text></template></names>"

static void write_rule(const char *title)
{
    char xml[8192];

    snprintf(xml, sizeof(xml),
             "<?xml version=\"1.0\"?>\n<rules xmlns=\"urn:hvdiag:rules:1\">\n"
             "<rule id=\"lm-any\" severity=\"error\"><title>%s</title><match>"
             "<provider>Microsoft-Windows-Hyper-V-High-Availability</provider>"
             "<event-id>21502</event-id></match><cause>c</cause><remedy>r</remedy>"
             "<reference href=\"https://example.org/\"/><examples><positive>%s</positive>"
             "<negative><clusterlog node=\"N1\">00000844.00000d34::2024/03/05-10:05:42.000 "
             "INFO  [RCM] x</clusterlog></negative></examples></rule></rules>\n",
             title, EVENT_21502);
    write_in(".", "r.xml", xml);
}

static void collect(void *ud, const char *line)
{
    snprintf(ud, 1024, "%s", line);
}

/* Runs the examples of the rule set in tmp; the last failure is in why. */
static size_t failures(char *why)
{
    hvd_ruleset *rs = NULL;
    hvd_ruletest_result res;
    hvd_error err;

    ck_assert_msg(hvd_ruleset_load(&rs, tmp, XSD, NULL, &err) == HVD_OK, "%s", err.msg);
    why[0] = '\0';
    ck_assert_int_eq(hvd_ruletest_run(rs, collect, why, &res, &err), HVD_OK);
    hvd_ruleset_destroy(rs);
    return res.failed;
}

START_TEST(rules_get_the_names_and_must_say_them)
{
    char why[1024];

    write_in("names", "ha.xml", NAMES_HA);
    /* The rule extracts nothing itself: the table's vm_name fills its title. */
    write_rule("Live migration of {vm_name?a VM} from {host_short} failed");
    ck_assert_msg(failures(why) == 0, "%s", why);
    /* A title and cause that leave out the VM the example holds fail the examples. */
    write_rule("A live migration from {host_short} failed");
    ck_assert_uint_eq(failures(why), 1);
    ck_assert_ptr_nonnull(strstr(why, "name no VM; the example holds 'SQL01'"));
    /* And one that leaves out the host. */
    write_rule("Live migration of {vm_name} failed");
    ck_assert_uint_eq(failures(why), 1);
    ck_assert_ptr_nonnull(strstr(why, "name no host; the example holds 'HV-NODE01'"));
}
END_TEST

#define NO_ENTITY_RULE                                                     \
    "<?xml version=\"1.0\"?>\n<rules xmlns=\"urn:hvdiag:rules:1\">\n"      \
    "<rule id=\"lm-any\" severity=\"error\"><title>{vm_name?a VM} on "     \
    "{host_short}</title><match>"                                          \
    "<provider>Microsoft-Windows-Hyper-V-High-Availability</provider>"     \
    "<event-id>21502</event-id></match><cause>c</cause><remedy>r</remedy>" \
    "<reference href=\"https://example.org/\"/><examples><positive>"       \
    "<expect no-entity=\"%s\"/>%s</positive><negative><clusterlog "        \
    "node=\"N1\">00000844.00000d34::2024/03/05-10:05:42.000 INFO  [RCM] x" \
    "</clusterlog></negative></examples></rule></rules>\n"

/* <expect no-entity>: the example fails when the diagnosis has the entity. */
START_TEST(an_entity_expected_absent_fails_when_present)
{
    char why[1024];
    char xml[8192];

    write_in("names", "ha.xml", NAMES_HA);
    snprintf(xml, sizeof(xml), NO_ENTITY_RULE, "vm_name", EVENT_21502);
    write_in(".", "r.xml", xml);
    ck_assert_uint_eq(failures(why), 1);
    ck_assert_ptr_nonnull(strstr(why, "entity vm_name is 'SQL01', expected none"));
    snprintf(xml, sizeof(xml), NO_ENTITY_RULE, "group", EVENT_21502);
    write_in(".", "r.xml", xml);
    ck_assert_msg(failures(why) == 0, "%s", why);
}
END_TEST

static Suite *extract_suite(void)
{
    Suite *s = suite_create("extract");
    TCase *tc = tcase_create("shipped");
    TCase *files = tcase_create("files");

    tcase_add_checked_fixture(tc, shipped_setup, shipped_teardown);
    tcase_add_test(tc, ha_21502_gives_vm_id_and_peer);
    tcase_add_test(tc, fields_and_resource_names);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(files, tmp_setup, tmp_teardown);
    tcase_add_test(files, bad_files_are_refused_with_their_line);
    tcase_add_test(files, rules_get_the_names_and_must_say_them);
    tcase_add_test(files, an_entity_expected_absent_fails_when_present);
    suite_add_tcase(s, files);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(extract_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
