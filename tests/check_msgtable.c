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

/* A German and a French node write their [System] lines in their language: the localized
 * texts of the shipped table (Microsoft's German and French pages) give the same events.
 * The lines are written as Windows writes them: compounds joined where the page splits them,
 * the quotes of the language. */
START_TEST(localized_lines_become_their_events)
{
    hvd_msgtable_match mm;

    ck_assert_int_eq(match("System",
                           "Der Clusterknoten \"KNOTEN01\" wurde aus der aktiven "
                           "Failoverclustermitgliedschaft entfernt. Der Clusterdienst auf diesem "
                           "Knoten wurde möglicherweise beendet.",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1135);
    ck_assert_uint_eq(mm.level, 1);
    ck_assert_str_eq(mm.lang, "de");
    ck_assert_str_eq(field(&mm, "NodeName"), "KNOTEN01");

    /* French quotes with no-break spaces inside, a typographic apostrophe. */
    ck_assert_int_eq(match("System",
                           "Le nœud de cluster «\xC2\xA0NOEUD02\xC2\xA0» a été supprimé de "
                           "l'appartenance au cluster de basculement actif.",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1135);
    ck_assert_str_eq(mm.lang, "fr");
    ck_assert_str_eq(field(&mm, "NodeName"), "NOEUD02");

    /* The most specific text wins in every language. */
    ck_assert_int_eq(match("System",
                           "Fehler bei der Clusterressource „Virtueller Computer ERP05“ vom Typ "
                           "„Virtual Machine“ in der Clusterrolle „ERP05“. Fehlercode: "
                           "„0x80070020“ („Der Prozess kann nicht auf die Datei zugreifen.“).",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1069);
    ck_assert_str_eq(field(&mm, "ResourceName"), "Virtueller Computer ERP05");
    ck_assert_str_eq(field(&mm, "ResourceType"), "Virtual Machine");
    ck_assert_str_eq(field(&mm, "ResourceGroup"), "ERP05");
    ck_assert_str_eq(field(&mm, "ErrorCode"), "0x80070020");
    ck_assert_str_eq(field(&mm, "ErrorText"), "Der Prozess kann nicht auf die Datei zugreifen.");
    ck_assert_int_eq(match("System",
                           "ÉCHEC DE LA RESSOURCE DE CLUSTER « Machine virtuelle WEB03 » dans le "
                           "rôle en cluster « WEB03 ».",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1069);
    ck_assert_str_eq(field(&mm, "ResourceName"), "Machine virtuelle WEB03");
    ck_assert_str_eq(field(&mm, "ResourceGroup"), "WEB03");
    ck_assert_ptr_null(field(&mm, "ResourceType"));

    ck_assert_int_eq(match("System",
                           "Der Clusterdienst wird heruntergefahren, weil das Quorum verloren "
                           "gegangen ist.",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 1177);
    ck_assert_int_eq(match("System",
                           "Volume partagé de cluster « Volume1 » (« Disque de cluster 2 ») est "
                           "passé à l’état suspendu en raison de « STATUS_IO_TIMEOUT(c00000b5) ».",
                           &mm),
                     1);
    ck_assert_uint_eq(mm.event_id, 5120);
    ck_assert_str_eq(field(&mm, "VolumeName"), "Volume1");
    ck_assert_str_eq(field(&mm, "ResourceName"), "Disque de cluster 2");
    ck_assert_str_eq(field(&mm, "ErrorCode"), "STATUS_IO_TIMEOUT(c00000b5)");

    /* A forwarded event of a German host carries only its rendered text: its provider and
     * id pick the texts, the German one gives the fields back. */
    {
        hvd_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.kind = HVD_SOURCE_EVTX;
        ev.provider = "Microsoft-Windows-FailoverClustering";
        ev.event_id = 1254;
        ev.channel = "ForwardedEvents";
        ev.message = "Die Clusterrolle \"ERP05\" hat den Failoverschwellenwert überschritten.";
        ck_assert_int_eq(hvd_msgmatcher_match(matcher, &ev, &mm), 1);
        ck_assert_uint_eq(mm.event_id, 1254);
        ck_assert_str_eq(field(&mm, "ResourceGroup"), "ERP05");
    }

    /* English lines still match their English texts, with no language. */
    ck_assert_int_eq(match("System",
                           "Cluster node 'HV-NODE01' was removed from the active failover cluster "
                           "membership.",
                           &mm),
                     1);
    ck_assert_ptr_null(mm.lang);
}
END_TEST

/* A line in another language, or in the wrong section, or of an event with no localized
 * text, is no event: nothing is guessed. */
START_TEST(lines_in_other_languages_are_left_alone)
{
    hvd_msgtable_match mm;

    /* Italian and Spanish: no text of theirs is shipped. */
    ck_assert_int_eq(match("System",
                           "Il nodo del cluster 'NODO01' è stato rimosso dall'appartenenza al "
                           "cluster di failover attivo.",
                           &mm),
                     0);
    ck_assert_int_eq(match("System",
                           "El nodo de clúster 'NODO01' se quitó de la pertenencia al clúster de "
                           "conmutación por error activo.",
                           &mm),
                     0);
    /* A German [System] text in the Operational section. */
    ck_assert_int_eq(match("Operational",
                           "Der Clusterknoten \"KNOTEN01\" wurde aus der aktiven "
                           "Failoverclustermitgliedschaft entfernt.",
                           &mm),
                     0);
    /* German words of one event, French of another: half a text is no text. */
    ck_assert_int_eq(match("System", "Der Clusterknoten \"KNOTEN01\" a été supprimé.", &mm), 0);
    /* A German event that has no German text here (Operational 1641). */
    ck_assert_int_eq(match("System",
                           "Die Clusterrolle \"ERP05\" wird von Clusterknoten \"KNOTEN01\" auf "
                           "Clusterknoten \"KNOTEN02\" verschoben.",
                           &mm),
                     0);
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

/* A localized text may put the insertion points in another order: each is still the field
 * its number names. */
START_TEST(localized_insertion_points_keep_their_names)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<messages xmlns=\"urn:hvdiag:messages:1\" provider=\"P\" channel=\"System\">\n"
        "<message id=\"7\" level=\"error\" params=\"Role Node\">\n"
        "<text>Role '%1' failed on node '%2'.</text>\n"
        "<text xml:lang=\"de\">Auf dem Knoten \"%2\" ist die Rolle \"%1\" ausgefallen.</text>\n"
        "</message></messages>\n";
    char *dir = hvd_test_tmpdir();
    char path[4096];
    hvd_msgtable *t = NULL;
    hvd_msgmatcher *m = NULL;
    hvd_msgtable_match mm;
    hvd_event ev;
    hvd_error err;

    snprintf(path, sizeof(path), "%s/m.xml", dir);
    ck_assert_int_eq(hvd_test_write_file(path, xml, strlen(xml)), 0);
    ck_assert_int_eq(hvd_msgtable_load(&t, dir, NULL, &err), HVD_OK);
    ck_assert_uint_eq(hvd_msgtable_count(t), 2);
    /* The German text's literal is a word no English text holds. */
    ck_assert_str_eq(hvd_msgtable_literal(t, 1), "ausgefallen.");
    ck_assert_int_eq(hvd_msgmatcher_create(&m, t, &err), HVD_OK);
    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_CLUSTERLOG;
    ev.channel = "System";
    ev.message = "Auf dem Knoten „K2“ ist die Rolle „VM7“ ausgefallen.";
    ck_assert_int_eq(hvd_msgmatcher_match(m, &ev, &mm), 1);
    ck_assert_str_eq(mm.lang, "de");
    ck_assert_str_eq(mm.fields[0].name, "Role");
    ck_assert_str_eq(mm.fields[0].value, "VM7");
    ck_assert_str_eq(mm.fields[1].name, "Node");
    ck_assert_str_eq(mm.fields[1].value, "K2");
    hvd_msgmatcher_destroy(m);
    hvd_msgtable_destroy(t);
    hvd_test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(bad_localized_texts_are_refused)
{
    hvd_error err;

#define MSG(texts)                                                                           \
    HEAD "<message id=\"1\" level=\"error\" params=\"A B\"><text>x '%1' y '%2'</text>" texts \
         "</message></messages>"
    ck_assert_int_eq(load_one(MSG("<text xml:lang=\"de\">zuerst '%2' danach '%1'</text>"), &err),
                     HVD_OK);
    /* A word too short for the prefilter to pick its lines out. */
    ck_assert_int_lt(load_one(MSG("<text xml:lang=\"de\">y '%2' x '%1'</text>"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "shorter"));
    /* An insertion point left out, or one the English text does not use. */
    ck_assert_int_lt(load_one(MSG("<text xml:lang=\"de\">nur '%1' hier</text>"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "%2"));
    ck_assert_int_lt(load_one(HEAD
                              "<message id=\"1\" level=\"error\" params=\"A B\"><text>x '%1'</text>"
                              "<text xml:lang=\"fr\">x « %1 » « %2 »</text></message></messages>",
                              &err),
                     0);
    ck_assert_ptr_nonnull(strstr(err.msg, "%2"));
    ck_assert_int_lt(load_one(MSG("<text xml:lang=\"d e\">y '%2' x '%1'</text>"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "language tag"));
    ck_assert_int_lt(load_one(MSG("<text>z '%1' '%2'</text>"), &err), 0); /* two English */
    ck_assert_int_lt(load_one(MSG("<text xml:lang=\"de\">'%2' '%1'</text>"), &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "ASCII"));
    ck_assert_int_lt(load_one(MSG("<text xml:lang=\"de\"/>"), &err), 0);
    ck_assert_int_lt(load_one(MSG("<texte>x</texte>"), &err), 0);
#undef MSG
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
    tcase_add_test(tc, localized_lines_become_their_events);
    tcase_add_test(tc, lines_in_other_languages_are_left_alone);
    suite_add_tcase(s, tc);
    tcase_add_test(bad, bad_files_are_refused_with_their_line);
    tcase_add_test(bad, localized_insertion_points_keep_their_names);
    tcase_add_test(bad, bad_localized_texts_are_refused);
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
