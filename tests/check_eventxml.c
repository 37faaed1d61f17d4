/* Suite for eventxml: Windows event XML, as wevtutil and libevtx print it, into hvd_event. */
#include "eventxml.h"

#include "hvtime.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char full[] =
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>\n"
    "  <System>\n"
    "    <Provider Name='Microsoft-Windows-FailoverClustering' "
    "Guid='{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}'/>\n"
    "    <EventID Qualifiers='16384'>1069</EventID>\n"
    "    <Version>1</Version><Level>2</Level><Task>3</Task><Opcode>0</Opcode>\n"
    "    <Keywords>0x8080000000000000</Keywords>\n"
    "    <TimeCreated SystemTime='2024-03-05T10:00:01.123456789Z'/>\n"
    "    <EventRecordID>4242</EventRecordID>\n"
    "    <Correlation ActivityID='{11111111-2222-3333-4444-555555555555}'/>\n"
    "    <Execution ProcessID='2468' ThreadID='4321'/>\n"
    "    <Channel>System</Channel>\n"
    "    <Computer>HV-NODE01.contoso.local</Computer>\n"
    "    <Security UserID='S-1-5-18'/>\n"
    "  </System>\n"
    "  <EventData>\n"
    "    <Data Name='ResourceName'>Virtual Machine SQL01</Data>\n"
    "    <Data Name='ResourceGroup'>SQL01</Data>\n"
    "    <Data Name='ErrorCode'>0x80004005</Data>\n"
    "    <Data Name='Note'>r&amp;d &lt;x&gt; caf\xc3\xa9</Data>\n"
    "  </EventData>\n"
    "</Event>\n";

START_TEST(system_block_and_named_data)
{
    hvd_eventxml *px = NULL;
    hvd_event ev;
    hvd_error err;
    char t[40];

    ck_assert_int_eq(hvd_eventxml_create(&px, &err), HVD_OK);
    memset(&ev, 0, sizeof(ev));
    ck_assert_int_eq(hvd_eventxml_parse(px, "full", full, strlen(full), &ev, &err), HVD_OK);
    ck_assert_str_eq(ev.provider, "Microsoft-Windows-FailoverClustering");
    ck_assert_str_eq(ev.provider_guid, "{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}");
    ck_assert_uint_eq(ev.event_id, 1069);
    ck_assert_uint_eq(ev.qualifiers, 16384);
    ck_assert_uint_eq(ev.version, 1);
    ck_assert_uint_eq(ev.level, 2);
    ck_assert_uint_eq(ev.task, 3);
    ck_assert_uint_eq(ev.keywords, UINT64_C(0x8080000000000000));
    ck_assert_uint_eq(ev.event_record_id, 4242);
    ck_assert_str_eq(ev.channel, "System");
    ck_assert_str_eq(ev.host, "HV-NODE01.contoso.local");
    ck_assert_str_eq(ev.user_sid, "S-1-5-18");
    ck_assert_str_eq(hvd_time_format(ev.time, t, sizeof(t)), "2024-03-05T10:00:01.1234567Z");
    ck_assert_uint_eq(ev.nfields, 4);
    ck_assert_str_eq(hvd_event_field(&ev, "ResourceName"), "Virtual Machine SQL01");
    ck_assert_str_eq(hvd_event_field(&ev, "ErrorCode"), "0x80004005");
    ck_assert_str_eq(hvd_event_field(&ev, "Note"), "r&d <x> caf\xc3\xa9");
    ck_assert_ptr_null(hvd_event_field(&ev, "Missing"));
    ck_assert_str_eq(ev.message, "Virtual Machine SQL01\nSQL01\n0x80004005\nr&d <x> caf\xc3\xa9");
    hvd_eventxml_destroy(px);
}
END_TEST

START_TEST(unnamed_data_userdata_and_rendered_message)
{
    static const char unnamed[] =
        "<Events><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='disk'/><EventID Qualifiers='49156'>153</EventID><Level>3</Level>"
        "<TimeCreated SystemTime='2024-03-05 10:00:01'/><Channel>System</Channel>"
        "<Computer>H1</Computer></System><EventData><Data>\\Device\\Harddisk1\\DR1</Data>"
        "<Data>0x3a0</Data><Binary>0F01</Binary></EventData></Event>"
        "<Event><System><EventID>2</EventID></System><EventData><Data Name='x'>no</Data>"
        "</EventData></Event></Events>";
    static const char userdata[] =
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Microsoft-Windows-Hyper-V-VMMS'/><EventID>18304</EventID>"
        "<Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel></System>"
        "<UserData><VmlEventLog xmlns='http://www.microsoft.com/Windows/Virtualization/Events'"
        " Kind='a'><VmName>SQL01</VmName><VmId>6F1A2B3C-0000-4000-8000-000000000001</VmId>"
        "</VmlEventLog><Other><Ignored>1</Ignored></Other></UserData>"
        "<RenderingInfo Culture='en-US'><Message>'SQL01' started successfully.</Message>"
        "</RenderingInfo></Event>";
    hvd_eventxml *px = NULL;
    hvd_event ev;
    hvd_error err;
    char t[40];

    ck_assert_int_eq(hvd_eventxml_create(&px, &err), HVD_OK);
    ck_assert_int_eq(hvd_eventxml_parse(px, "u", unnamed, strlen(unnamed), &ev, &err), HVD_OK);
    ck_assert_uint_eq(ev.event_id, 153);
    ck_assert_uint_eq(ev.qualifiers, 49156);
    ck_assert_str_eq(hvd_time_format(ev.time, t, sizeof(t)), "2024-03-05T10:00:01.0000000Z");
    ck_assert_uint_eq(ev.nfields, 3);
    ck_assert_str_eq(hvd_event_field(&ev, "Data0"), "\\Device\\Harddisk1\\DR1");
    ck_assert_str_eq(hvd_event_field(&ev, "Data1"), "0x3a0");
    ck_assert_str_eq(hvd_event_field(&ev, "Binary2"), "0F01");
    ck_assert_ptr_null(hvd_event_field(&ev, "x")); /* the second <Event> is not read */

    ck_assert_int_eq(hvd_eventxml_parse(px, "ud", userdata, strlen(userdata), &ev, &err), HVD_OK);
    ck_assert_uint_eq(ev.nfields, 3);
    ck_assert_str_eq(hvd_event_field(&ev, "Kind"), "a");
    ck_assert_str_eq(hvd_event_field(&ev, "VmName"), "SQL01");
    ck_assert_str_eq(hvd_event_field(&ev, "VmId"), "6F1A2B3C-0000-4000-8000-000000000001");
    ck_assert_ptr_null(hvd_event_field(&ev, "Ignored"));
    ck_assert_str_eq(ev.message, "'SQL01' started successfully.");
    ck_assert_str_eq(ev.host, "");
    hvd_eventxml_destroy(px);
}
END_TEST

START_TEST(bad_input_is_an_error_naming_the_input)
{
    static const char *const bad[] = {
        "",
        "not xml",
        "<Event><System><EventID>x</EventID></System></Event>",
        "<Event><System></System></Event>",
        "<Other/>",
        "<Event><System><EventID>1</EventID><TimeCreated SystemTime='yesterday'/></System>"
        "</Event>",
        "<Event><System><EventID>1</EventID></System><EventData><Data>&xxe;</Data></EventData>"
        "</Event>",
        "<!DOCTYPE e [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
        "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><Event><System><EventID>1</EventID>"
        "</System><EventData><Data>&c;</Data></EventData></Event>",
    };
    hvd_eventxml *px = NULL;
    hvd_event ev;
    hvd_error err;

    ck_assert_int_eq(hvd_eventxml_create(&px, &err), HVD_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hvd_error_clear(&err);
        ck_assert_msg(hvd_eventxml_parse(px, "case.xml", bad[i], strlen(bad[i]), &ev, &err) < 0,
                      "case %zu parsed", i);
        ck_assert_msg(strncmp(err.msg, "case.xml: ", 10) == 0, "case %zu: %s", i, err.msg);
    }
    hvd_eventxml_destroy(px);
}
END_TEST

START_TEST(control_characters_are_scrubbed_not_fatal)
{
    char xml[] = "<Event><System><EventID>7</EventID></System><EventData><Data Name='a'>x\001y"
                 "</Data></EventData></Event>";
    hvd_eventxml *px = NULL;
    hvd_event ev;
    hvd_error err;

    ck_assert_int_eq(hvd_eventxml_create(&px, &err), HVD_OK);
    ck_assert_int_lt(hvd_eventxml_parse(px, "c", xml, strlen(xml), &ev, &err), 0);
    hvd_eventxml_scrub(xml, strlen(xml));
    ck_assert_int_eq(hvd_eventxml_parse(px, "c", xml, strlen(xml), &ev, &err), HVD_OK);
    ck_assert_str_eq(hvd_event_field(&ev, "a"), "x y");
    hvd_eventxml_destroy(px);
}
END_TEST

START_TEST(huge_value_is_bounded)
{
    size_t n = 6u << 20;
    char *xml = malloc(n + 200);
    hvd_eventxml *px = NULL;
    hvd_event ev;
    hvd_error err;
    size_t len;

    ck_assert_ptr_nonnull(xml);
    len = (size_t)snprintf(xml, 200,
                           "<Event><System><EventID>1</EventID></System><EventData>"
                           "<Data Name='big'>");
    memset(xml + len, 'a', n);
    len += n;
    memcpy(xml + len, "</Data></EventData></Event>", 28);
    len += 27;
    ck_assert_int_eq(hvd_eventxml_create(&px, &err), HVD_OK);
    ck_assert_int_lt(hvd_eventxml_parse(px, "big", xml, len, &ev, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
    hvd_eventxml_destroy(px);
    free(xml);
}
END_TEST

START_TEST(unnamed_element_of_any_length_keeps_its_whole_name)
{
    /* An element name far longer than any scratch buffer, without a Name attribute. */
    char elem[301];
    char want[310];
    char xml[1024];
    hvd_eventxml *px = NULL;
    hvd_event ev;
    hvd_error err;
    int n;

    memset(elem, 'B', sizeof(elem) - 1);
    elem[sizeof(elem) - 1] = '\0';
    n = snprintf(xml, sizeof(xml),
                 "<Event><System><EventID>1</EventID></System><EventData><Data>d</Data>"
                 "<%s>v</%s><%s/></EventData></Event>",
                 elem, elem, elem);
    ck_assert_int_lt(n, (int)sizeof(xml));
    ck_assert_int_eq(hvd_eventxml_create(&px, &err), HVD_OK);
    ck_assert_int_eq(hvd_eventxml_parse(px, "long", xml, (size_t)n, &ev, &err), HVD_OK);
    ck_assert_uint_eq(ev.nfields, 3);
    ck_assert_str_eq(hvd_event_field(&ev, "Data0"), "d");
    snprintf(want, sizeof(want), "%s1", elem);
    ck_assert_str_eq(hvd_event_field(&ev, want), "v");
    snprintf(want, sizeof(want), "%s2", elem);
    ck_assert_str_eq(hvd_event_field(&ev, want), "");
    ck_assert_str_eq(ev.fields[2].name, want);
    hvd_eventxml_destroy(px);
}
END_TEST

static Suite *eventxml_suite(void)
{
    Suite *s = suite_create("eventxml");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, system_block_and_named_data);
    tcase_add_test(tc, unnamed_data_userdata_and_rendered_message);
    tcase_add_test(tc, bad_input_is_an_error_naming_the_input);
    tcase_add_test(tc, control_characters_are_scrubbed_not_fatal);
    tcase_add_test(tc, huge_value_is_bounded);
    tcase_add_test(tc, unnamed_element_of_any_length_keeps_its_whole_name);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(eventxml_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
