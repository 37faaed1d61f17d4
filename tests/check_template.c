/* Suite for template: rule texts rendered with and without values, and the load-time check. */
#include "template.h"

#include "error.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Values: vm=SQL01, peer=HV-NODE02, empty="" (set but empty); others unknown. */
static int value(void *ud, const char *name, size_t len, hvd_buf *out)
{
    static const char *const vals[][2] = {
        {"vm", "SQL01"}, {"peer", "HV-NODE02"}, {"empty", ""}, {"role.node", "N1"}};

    (void)ud;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        if (strlen(vals[i][0]) == len && strncmp(vals[i][0], name, len) == 0) {
            return hvd_buf_adds(out, vals[i][1]) < 0 ? HVD_ENOMEM : *vals[i][1] != '\0';
        }
    }
    return 0;
}

static int known(void *ud, const char *name, size_t len)
{
    (void)ud;
    return (len == 2 && strncmp(name, "vm", 2) == 0) || (len == 4 && !strncmp(name, "peer", 4)) ||
           (len == 7 && !strncmp(name, "missing", 7)) || (len == 5 && !strncmp(name, "empty", 5));
}

static void expect(const char *tmpl, const char *want)
{
    hvd_buf b;

    hvd_buf_init(&b, 4096);
    ck_assert_int_eq(hvd_template_render(tmpl, value, NULL, &b), HVD_OK);
    ck_assert_str_eq(hvd_buf_str(&b), want);
    hvd_buf_free(&b);
}

START_TEST(values_fallbacks_and_conditional_text)
{
    expect("VM {vm} on {missing}.", "VM SQL01 on .");
    expect("to {peer?the destination}", "to HV-NODE02");
    expect("to {missing?the destination}", "to the destination");
    expect("to {empty?the destination}", "to the destination");
    expect("the destination{peer?+ {peer}} refused", "the destination HV-NODE02 refused");
    expect("the destination{missing?+ {missing}} refused", "the destination refused");
    expect("failed{empty?+ with {empty}}.", "failed.");
    expect("{vm?+VM {vm}{peer?+ to {peer}}}", "VM SQL01 to HV-NODE02");
    expect("{vm?+VM {vm}{missing?+ to {missing}}}", "VM SQL01");
    expect("node {role.node}", "node N1");
    expect("GUID {{6B29FC40-CA47}} and }}", "GUID {6B29FC40-CA47} and }");
    expect(NULL, "");
}
END_TEST

static const char *check(const char *tmpl)
{
    static char msg[200];

    return hvd_template_check(tmpl, known, NULL, msg, sizeof(msg)) < 0 ? msg : NULL;
}

START_TEST(check_refuses_what_renders_wrongly)
{
    ck_assert_ptr_null(check("VM {vm} to {peer?the destination}{missing?+ ({missing})}"));
    ck_assert_ptr_null(check("{{literal}} {vm?+a {peer?+b {vm}}}"));
    /* The old mistake: a fallback holding a placeholder printed "failed0x8007010b}". */
    ck_assert_ptr_nonnull(strstr(check("failed{vm? with {vm}}"), "fallback"));
    ck_assert_ptr_nonnull(strstr(check("VM {vmname}"), "unknown entity {vmname}"));
    ck_assert_ptr_nonnull(strstr(check("x {nope?+ {vm}}"), "unknown entity {nope}"));
    ck_assert_ptr_nonnull(strstr(check("x {vm?+ {nope}}"), "unknown entity {nope}"));
    ck_assert_ptr_nonnull(strstr(check("brace } alone"), "'}' without '{'"));
    ck_assert_ptr_nonnull(strstr(check("brace { alone"), "'{'"));
    ck_assert_ptr_nonnull(strstr(check("open {vm"), "'{'"));
    ck_assert_ptr_nonnull(strstr(check("open {vm?+ text"), "closing"));
    ck_assert_ptr_nonnull(strstr(check("{vm?+{vm?+{vm?+{vm?+{vm?+{vm?+x}}}}}}"), "deeply"));
}
END_TEST

START_TEST(leftovers_are_found_but_not_guids)
{
    ck_assert_ptr_null(hvd_template_leftover("VM SQL01 {6B29FC40-CA47-101B} ok"));
    ck_assert_ptr_null(hvd_template_leftover(NULL));
    ck_assert_str_eq(hvd_template_leftover("node id {node_id}1"), "{node_id}1");
    ck_assert_str_eq(hvd_template_leftover("x {a.b?y"), "{a.b?y");
}
END_TEST

static Suite *template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("render");

    tcase_add_test(tc, values_fallbacks_and_conditional_text);
    tcase_add_test(tc, check_refuses_what_renders_wrongly);
    tcase_add_test(tc, leftovers_are_found_but_not_guids);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(template_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
