/* Suite for msgtable: cluster.log [System] lines back to the events they were rendered from. */
#include "msgtable.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hvd_msgtable *shipped;
static hvd_msgmatcher *matcher;

static void shipped_setup(void)
{
    hvd_error err;

    hvd_error_clear(&err);
    ck_assert_int_eq(hvd_msgtable_load(&shipped, HVD_TEST_SRCDIR "/rules/messages", NULL, &err),
                     HVD_OK);
    ck_assert_int_eq(hvd_msgmatcher_create(&matcher, shipped, &err), HVD_OK);
}

static void shipped_teardown(void)
{
    hvd_msgmatcher_destroy(matcher);
    hvd_msgtable_destroy(shipped);
}

static int match(const char *channel, const char *message, hvd_msgtable_match *mm)
{
    static const hvd_field own[] = {{"pid", "00000844"}, {"tag", "System"}};
    hvd_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_CLUSTERLOG;
    ev.channel = channel;
    ev.message = message;
    ev.fields = own;
    ev.nfields = 2;
    return hvd_msgmatcher_match(matcher, &ev, mm);
}

static const char *field(const hvd_msgtable_match *mm, const char *name)
{
    for (size_t i = 0; i < mm->nfields; i++) {
        if (strcmp(mm->fields[i].name, name) == 0) {
            return mm->fields[i].value;
        }
    }
    return NULL;
}

START_TEST(system_lines_become_their_events)
{
    hvd_msgtable_match mm;

    ck_assert_uint_ge(hvd_msgtable_count(shipped), 30);
    ck_assert_int_eq(match("System",
                           "Cluster node 'ze-2016-v1' was removed from the active failover "
                           "cluster membership. The Cluster service on this node may have "
                           "stopped.",
                           &mm),
                     1);
    ck_assert_str_eq(mm.provider, "Microsoft-Windows-FailoverClustering");
    ck_assert_uint_eq(mm.event_id, 1135);
    ck_assert_uint_eq(mm.level, 1);
    ck_assert_str_eq(field(&mm, "NodeName"), "ze-2016-v1");
    ck_assert_str_eq(field(&mm, "pid"), "00000844"); /* the line's own fields stay */

    /* Cut after the first sentence, line breaks inside, any case. */
    ck_assert_int_eq(
        match("system", "The Cluster service is shutting down because quorum\nwas lost.", &mm), 1);
    ck_assert_uint_eq(mm.event_id, 1177);
}
END_TEST

START_TEST(the_most_specific_template_wins)
{
    hvd_msgtable_match mm;

    ck_assert_int_eq(match("System",
                           "Cluster resource 'Virtual Machine SQL01' of type 'Virtual Machine' in "
                           "clustered role 'SQL01' failed. The error code was '0x80004005' "
                           "('Unspecified error').",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1069);
    ck_assert_str_eq(field(&mm, "ResourceName"), "Virtual Machine SQL01");
    ck_assert_str_eq(field(&mm, "ResourceGroup"), "SQL01");
    ck_assert_str_eq(field(&mm, "ResourceType"), "Virtual Machine");
    ck_assert_str_eq(field(&mm, "ErrorCode"), "0x80004005");
    ck_assert_str_eq(field(&mm, "ErrorText"), "Unspecified error");

    ck_assert_int_eq(match("System",
                           "Cluster resource 'IP Address 10.0.0.5' in clustered role 'FS' failed.",
                           &mm),
                     1);
    ck_assert_str_eq(field(&mm, "ResourceName"), "IP Address 10.0.0.5");
    ck_assert_ptr_null(field(&mm, "ErrorCode"));

    ck_assert_int_eq(match("System", "Node drain failed on Cluster node HV-NODE03.", &mm), 1);
    ck_assert_str_eq(field(&mm, "NodeName"), "HV-NODE03");
}
END_TEST

/* The real WS2016 [Operational] lines of zeroch/FailoverDetector's cluster.log. */
START_TEST(operational_lines_become_their_events)
{
    hvd_msgtable_match mm;

    ck_assert_int_eq(match("Operational",
                           "Clustered role 'ag1023' is moving from cluster node 'ze-2016-v1' to "
                           "cluster node 'ze-2016-v2'.",
                           &mm),
                     1);
    ck_assert_str_eq(mm.channel, "Operational");
    ck_assert_uint_eq(mm.event_id, 1641);
    ck_assert_str_eq(field(&mm, "ResourceGroup"), "ag1023");
    ck_assert_str_eq(field(&mm, "SourceNode"), "ze-2016-v1");
    ck_assert_str_eq(field(&mm, "TargetNode"), "ze-2016-v2");

    ck_assert_int_eq(match("Operational",
                           "The Cluster service is attempting to fail over the clustered role "
                           "'ag1023' from node 'ze-2016-v1' to node 'ze-2016-v2'.",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1153);
    ck_assert_int_eq(match("Operational",
                           "Group 'ag1023' has transitioned from state 'Pending' to state "
                           "'Online'.",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1674);
    ck_assert_str_eq(field(&mm, "NewState"), "Online");
    ck_assert_int_eq(
        match("Operational",
              "Microsoft Failover Cluster Virtual Adapter (NetFT) has missed more than "
              "40 percent of consecutive heartbeats.",
              &mm),
        1);
    ck_assert_uint_eq(mm.event_id, 1650);
    ck_assert_uint_eq(mm.level, 3);
    ck_assert_int_eq(match("Operational",
                           "Cluster has lost the UDP connection from local endpoint "
                           "10.135.4.221:~3343~ connected to remote endpoint 10.135.4.222:~3343~.",
                           &mm),
                     1);
    ck_assert_str_eq(field(&mm, "RemoteEndpoint"), "10.135.4.222:~3343~");
    /* An Operational text on a [System] line is not taken for the System event. */
    ck_assert_int_eq(match("System", "Clustered role 'ag1023' is moving to cluster node 'x'.", &mm),
                     0);
}
END_TEST

START_TEST(other_lines_are_left_alone)
{
    hvd_msgtable_match mm;
    hvd_event ev;

    ck_assert_int_eq(
        match("System", "Clustered role 'ag1023' is moving from cluster node 'a'.", &mm), 0);
    ck_assert_int_eq(match("System", "Something else. Cluster network 'X' is down.", &mm), 0);
    ck_assert_int_eq(match("RCM", "Cluster network 'X' is down.", &mm), 0);
    ck_assert_int_eq(match("", "Cluster network 'X' is down.", &mm), 0);
    /* An EVTX event already says what it is. */
    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_EVTX;
    ev.channel = "System";
    ev.message = "Cluster network 'X' is down.";
    ck_assert_int_eq(hvd_msgmatcher_match(matcher, &ev, &mm), 0);
}
END_TEST

/* Writes one message file into a fresh folder and loads it. */
static int load_one(const char *xml, hvd_error *err)
{
    char *dir = hvd_test_tmpdir();
    char path[4096];
    hvd_msgtable *t = NULL;
    int rc;

    snprintf(path, sizeof(path), "%s/m.xml", dir);
    ck_assert_int_eq(hvd_test_write_file(path, xml, strlen(xml)), 0);
    hvd_error_clear(err);
    rc = hvd_msgtable_load(&t, dir, NULL, err);
    hvd_msgtable_destroy(t);
    hvd_test_rmtree(dir);
    free(dir);
    return rc;
}

#define HEAD                                                                             \
    "<?xml version=\"1.0\"?>\n<messages xmlns=\"urn:hvdiag:messages:1\" provider=\"P\" " \
    "channel=\"System\">\n"

START_TEST(bad_files_are_refused_with_their_line)
{
    hvd_error err;
    hvd_msgtable *t = NULL;

    ck_assert_int_eq(load_one(HEAD "<message id=\"1\" level=\"error\" params=\"A\">"
                                   "<text>x '%1' y</text></message></messages>",
                              &err),
                     HVD_OK);
    ck_assert_int_lt(load_one(HEAD "\n<message id=\"1\" level=\"error\" params=\"A\">"
                                   "<text>x '%2' y</text></message></messages>",
                              &err),
                     0);
    ck_assert_uint_eq(err.line, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "%2"));
    ck_assert_int_lt(
        load_one(HEAD "<message id=\"70000\" level=\"error\"><text>x</text></message></messages>",
                 &err),
        0);
    ck_assert_int_lt(
        load_one(HEAD "<message id=\"1\" level=\"loud\"><text>x</text></message></messages>", &err),
        0);
    ck_assert_int_lt(load_one(HEAD "<message id=\"1\" level=\"error\"/></messages>", &err), 0);
    ck_assert_int_lt(load_one(HEAD "<rule/></messages>", &err), 0);
    ck_assert_int_lt(load_one("<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY e \"x\">]>"
                              "<messages xmlns=\"urn:hvdiag:messages:1\" provider=\"P\" "
                              "channel=\"S\"/>",
                              &err),
                     0);
    ck_assert_ptr_nonnull(strstr(err.msg, "DOCTYPE"));
    ck_assert_int_lt(load_one("<messages", &err), 0);
    /* No folder: nothing to recognise, not an error. */
    ck_assert_int_eq(hvd_msgtable_load(&t, "/nonexistent/messages", NULL, &err), HVD_OK);
    ck_assert_uint_eq(hvd_msgtable_count(t), 0);
    hvd_msgtable_destroy(t);
}
END_TEST

static Suite *msgtable_suite(void)
{
    Suite *s = suite_create("msgtable");
    TCase *tc = tcase_create("shipped");
    TCase *bad = tcase_create("files");

    tcase_add_checked_fixture(tc, shipped_setup, shipped_teardown);
    tcase_add_test(tc, system_lines_become_their_events);
    tcase_add_test(tc, the_most_specific_template_wins);
    tcase_add_test(tc, operational_lines_become_their_events);
    tcase_add_test(tc, other_lines_are_left_alone);
    suite_add_tcase(s, tc);
    tcase_add_test(bad, bad_files_are_refused_with_their_line);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(msgtable_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
