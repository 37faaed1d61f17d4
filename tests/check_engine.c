/* Suite for the engine: index, error codes, time grouping, correlation, bounds, and the
 * mission's cross-host case through real EVTX files. */
#include "engine.h"

#include "eventxml.h"
#include "hvtime.h"
#include "rules.h"
#include "source.h"
#include "testutil.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEST_RULES HVD_TEST_DATADIR "/rules"

struct got {
    char keys[64][256];
    char rules[64][64];
    char remedy[64][1024];
    char title[64][256];
    int severity[64];
    uint64_t count[64];
    hvd_time first[64];
    hvd_time last[64];
    size_t nevidence[64]; /* evidence handed over for the key, summed */
    size_t emits[64];     /* emit calls for the key */
    size_t longest_excerpt;
    size_t n;     /* distinct keys */
    size_t calls; /* emit calls */
};

static int on_diag(void *ud, const hvd_diagnosis *d)
{
    struct got *g = ud;

    g->calls++;
    for (size_t i = 0; i < d->nevidence; i++) {
        size_t len = strlen(d->evidence[i].message);

        g->longest_excerpt = len > g->longest_excerpt ? len : g->longest_excerpt;
    }
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->keys[i], d->key) == 0) {
            g->count[i] = d->count;
            g->first[i] = d->first_time;
            g->last[i] = d->last_time;
            g->nevidence[i] += d->nevidence;
            g->emits[i]++;
            /* as the store does: the latest texts */
            snprintf(g->remedy[i], sizeof(g->remedy[0]), "%s", d->remedy);
            snprintf(g->title[i], sizeof(g->title[0]), "%s", d->title);
            return HVD_OK;
        }
    }
    if (g->n < 64) {
        snprintf(g->keys[g->n], sizeof(g->keys[0]), "%s", d->key);
        snprintf(g->rules[g->n], sizeof(g->rules[0]), "%s", d->rule_id);
        snprintf(g->remedy[g->n], sizeof(g->remedy[0]), "%s", d->remedy);
        snprintf(g->title[g->n], sizeof(g->title[0]), "%s", d->title);
        g->severity[g->n] = (int)d->severity;
        g->count[g->n] = d->count;
        g->first[g->n] = d->first_time;
        g->last[g->n] = d->last_time;
        g->nevidence[g->n] = d->nevidence;
        g->emits[g->n] = 1;
        g->n++;
    }
    return HVD_OK;
}

static size_t count_rule(const struct got *g, const char *rule)
{
    size_t n = 0;

    for (size_t i = 0; i < g->n; i++) {
        n += strcmp(g->rules[i], rule) == 0;
    }
    return n;
}

/* Index of the first diagnosis of rule, or -1. */
static int find_rule(const struct got *g, const char *rule)
{
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->rules[i], rule) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static hvd_ruleset *load(const char *dir)
{
    hvd_ruleset *rs = NULL;
    hvd_error err;

    ck_assert_msg(
        hvd_ruleset_load(&rs, dir, HVD_TEST_SRCDIR "/rules/hvdiag-rules.xsd", NULL, &err) == HVD_OK,
        "%s", err.msg);
    return rs;
}

/* A minimal EVTX-kind event. */
static hvd_event make(const char *provider, uint16_t id, const char *host, hvd_time t,
                      const char *message, hvd_field *f)
{
    hvd_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_EVTX;
    ev.source_path = "test";
    ev.provider = provider;
    ev.provider_guid = "";
    ev.channel = "";
    ev.host = host;
    ev.user_sid = "";
    ev.event_id = id;
    ev.level = 2;
    ev.time = t;
    ev.message = message;
    f->name = "Data0";
    f->value = message;
    ev.fields = f;
    ev.nfields = 1;
    return ev;
}

#define MIN    (60 * HVD_TICKS_PER_SECOND)
#define EVT_NS "http://schemas.microsoft.com/win/2004/08/events/event"

START_TEST(events_meet_only_their_candidate_rules)
{
    hvd_ruleset *rs = load(HVD_TEST_SRCDIR "/rules");
    struct got g = {.n = 0};
    hvd_engine *e = NULL;
    hvd_field f;
    hvd_event ev;
    uint64_t before;

    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    ev = make("Microsoft-Windows-Kernel-General", 1, "h", 0, "nothing", &f);
    ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
    /* Only the few message-regex rules for every EVTX event may run. */
    before = hvd_engine_get_stats(e)->candidates;
    ck_assert_uint_le(before, 5);
    /* A VMMS event meets the VMMS rules (and the live-migration rules that key on VMMS or
     * High-Availability plus an error code), not the cluster or cluster.log ones. */
    ev = make("Microsoft-Windows-Hyper-V-VMMS", 14050, "HV-NODE02", 0,
              "Microsoft Virtual System Migration Service", &f);
    ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
    ck_assert_uint_le(hvd_engine_get_stats(e)->candidates - before, hvd_ruleset_count(rs) / 2);
    ck_assert_uint_eq(count_rule(&g, "hv-spn-register-failed"), 1);
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
}
END_TEST

struct shared_run {
    const hvd_ruleset *rs;
    struct got g;
    int rc;
};

/* One engine on the shared rule set: every event meets the message-regex rules. */
static void *run_on_shared_rules(void *arg)
{
    struct shared_run *run = arg;
    hvd_engine *e = NULL;
    hvd_field f;
    hvd_event ev;

    run->rc = hvd_engine_create(&e, run->rs, on_diag, &run->g, NULL);
    for (int i = 0; i < 50 && run->rc == HVD_OK; i++) {
        ev = make("Microsoft-Windows-Hyper-V-VMMS", 14050, "HV-NODE02", (hvd_time)i * MIN,
                  "Microsoft Virtual System Migration Service", &f);
        run->rc = hvd_engine_feed(e, &ev, NULL);
    }
    hvd_engine_destroy(e);
    return NULL;
}

/* Regexes are JIT-compiled at their first match: engines in several threads sharing one
 * rule set race to it, and all find the same. */
START_TEST(engines_in_threads_share_one_rule_set)
{
    hvd_ruleset *rs = load(HVD_TEST_SRCDIR "/rules");
    static struct shared_run runs[4];
    pthread_t th[4];

    for (int i = 0; i < 4; i++) {
        memset(&runs[i], 0, sizeof(runs[i]));
        runs[i].rs = rs;
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_on_shared_rules, &runs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(runs[i].rc, HVD_OK);
        ck_assert_uint_eq(count_rule(&runs[i].g, "hv-spn-register-failed"), 1);
        ck_assert_uint_eq(runs[i].g.n, runs[0].g.n);
    }
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(error_codes_match_in_every_spelling)
{
    static const char *const spellings[] = {
        "failed (0x80090303)",    "failed (0x80090303).",    "failed: 80090303",
        "failed with 2148074243", "failed with -2146893053",
    };
    hvd_ruleset *rs = load(TEST_RULES);

    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        struct got g = {.n = 0};
        hvd_engine *e = NULL;
        hvd_field f;
        hvd_event ev = make("Test-Provider", 100, "h1", 0, spellings[i], &f);

        ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
        ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
        ck_assert_msg(count_rule(&g, "t-code") == 1, "'%s'", spellings[i]);
        hvd_engine_destroy(e);
    }
    {
        struct got g = {.n = 0};
        hvd_engine *e = NULL;
        hvd_field f;
        hvd_event ev = make("Test-Provider", 101, "h1", 0, "socket error 10013", &f);

        ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
        ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
        ck_assert_uint_eq(count_rule(&g, "t-win32"), 1);
        hvd_engine_destroy(e);
    }
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(threshold_and_quiet_are_judged_by_event_time)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g = {.n = 0};
    hvd_engine *e = NULL;
    hvd_field f;
    hvd_event ev;

    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    /* Three events 20 minutes apart: never 3 within 10 minutes. */
    for (int i = 0; i < 3; i++) {
        ev = make("Test-Provider", 200, "h1", i * 20 * MIN, "", &f);
        hvd_engine_feed(e, &ev, NULL);
    }
    ck_assert_uint_eq(g.n, 0);
    /* Out of order, within 10 minutes: one diagnosis. */
    ev = make("Test-Provider", 200, "h1", 9 * MIN, "", &f);
    hvd_engine_feed(e, &ev, NULL);
    ev = make("Test-Provider", 200, "h1", 5 * MIN, "", &f);
    hvd_engine_feed(e, &ev, NULL);
    ck_assert_uint_eq(count_rule(&g, "t-flood"), 1);
    /* Made once 3 lie within 10 minutes (0, 5, 9); it counts every match of its hour. */
    ck_assert_uint_eq(g.count[0], 5);
    ck_assert_int_eq(g.first[0], 0);
    ck_assert_int_eq(g.last[0], 40 * MIN);
    /* A flood within the quiet hour folds into it: same key, the count grows. */
    for (int i = 0; i < 1000; i++) {
        ev = make("Test-Provider", 200, "h1", 10 * MIN + i * HVD_TICKS_PER_SECOND, "", &f);
        hvd_engine_feed(e, &ev, NULL);
    }
    /* Growth past its evidence may wait for the flush. */
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    ck_assert_uint_eq(count_rule(&g, "t-flood"), 1);
    ck_assert_uint_eq(g.count[0], 1005);
    /* The next hour is the next quiet period: its matches wait for the threshold again. */
    for (int i = 0; i < 2; i++) {
        ev = make("Test-Provider", 200, "h1", 61 * MIN + i * MIN, "", &f);
        hvd_engine_feed(e, &ev, NULL);
    }
    ck_assert_uint_eq(count_rule(&g, "t-flood"), 1);
    ev = make("Test-Provider", 200, "h1", 59 * MIN, "", &f);
    hvd_engine_feed(e, &ev, NULL);
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    ck_assert_uint_eq(count_rule(&g, "t-flood"), 1);
    ck_assert_uint_eq(g.count[0], 1006);
    ev = make("Test-Provider", 200, "h1", 70 * MIN, "", &f);
    hvd_engine_feed(e, &ev, NULL);
    ck_assert_uint_eq(count_rule(&g, "t-flood"), 2);
    ck_assert_uint_eq(g.count[1], 3);
    /* Another host is another group. */
    for (int i = 0; i < 3; i++) {
        ev = make("Test-Provider", 200, "h2", i * MIN, "", &f);
        hvd_engine_feed(e, &ev, NULL);
    }
    ck_assert_uint_eq(count_rule(&g, "t-flood"), 3);
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
}
END_TEST

/* The pair for t-corr: a cause on B, a failure on A naming B by its short name. */
static void feed_pair(hvd_engine *e, int cause_first, hvd_time shift)
{
    hvd_field f1;
    hvd_field f2;
    hvd_event cause = make("Test-Provider", 300, "B.example.local", shift, "", &f1);
    hvd_event failure = make("Test-Provider", 100, "A.example.local", shift + 30 * MIN,
                             "with host 'b' (0x80090303)", &f2);

    ck_assert_int_eq(hvd_engine_feed(e, cause_first ? &cause : &failure, NULL), HVD_OK);
    ck_assert_int_eq(hvd_engine_feed(e, cause_first ? &failure : &cause, NULL), HVD_OK);
}

START_TEST(correlation_is_found_in_either_order_and_reported_once)
{
    hvd_ruleset *rs = load(TEST_RULES);

    for (int order = 0; order < 2; order++) {
        struct got g = {.n = 0};
        hvd_engine *e = NULL;

        ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
        feed_pair(e, order, 0);
        ck_assert_uint_eq(count_rule(&g, "t-corr"), 1);
        for (size_t i = 0; i < g.n; i++) {
            if (strcmp(g.rules[i], "t-corr") == 0) {
                ck_assert_str_eq(g.remedy[i], "fix B");
            }
        }
        /* The same events again add nothing new. */
        feed_pair(e, order, 0);
        ck_assert_uint_eq(count_rule(&g, "t-corr"), 1);
        /* Outside the one-hour window of each other: no correlation. */
        {
            hvd_field f;
            hvd_event far = make("Test-Provider", 300, "B.example.local", 600 * MIN, "", &f);

            hvd_engine_feed(e, &far, NULL);
        }
        ck_assert_uint_eq(count_rule(&g, "t-corr"), 1);
        hvd_engine_destroy(e);
    }
    hvd_ruleset_destroy(rs);
}
END_TEST

/* The cause (event 0, id 300 on B) and three failures naming it (id 100), fed in order[],
 * event i at minute i, then flushed. */
static void feed_gathering(hvd_engine *e, const int order[4], const char *const hosts[4])
{
    for (int k = 0; k < 4; k++) {
        hvd_field f;
        int ev = order[k];
        hvd_event x = make("Test-Provider", ev == 0 ? 300 : 100, hosts[ev], ev * MIN,
                           ev == 0 ? "" : "with host 'b' (0x80090303)", &f);

        ck_assert_int_eq(hvd_engine_feed(e, &x, NULL), HVD_OK);
    }
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
}

/* A gathering role: the cause and three failures that name it make one diagnosis naming
 * every failure's host, with the same key, title, count and span in any order. */
START_TEST(a_gathering_role_makes_one_diagnosis_in_any_order)
{
    hvd_ruleset *rs = load(TEST_RULES);
    const char *hosts[4] = {"B.example.local", "D.example.local", "A.example.local",
                            "C.example.local"};
    char key[256] = "";

    for (int p = 0; p < 256; p++) {
        int order[4] = {p & 3, p >> 2 & 3, p >> 4 & 3, p >> 6 & 3};
        int seen = 1 << order[0] | 1 << order[1] | 1 << order[2] | 1 << order[3];
        struct got g = {.n = 0};
        hvd_engine *e = NULL;
        size_t calls;
        int i;

        if (seen != 15) {
            continue; /* not a permutation of the four events */
        }
        ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
        feed_gathering(e, order, hosts);
        ck_assert_uint_eq(count_rule(&g, "t-gather"), 1);
        i = find_rule(&g, "t-gather");
        ck_assert_str_eq(g.title[i], "B explains A, C and D");
        ck_assert_str_eq(g.remedy[i],
                         "fix B for A.example.local, C.example.local and D.example.local");
        ck_assert_uint_eq(g.count[i], 4);
        ck_assert_int_eq(g.first[i], 0);
        ck_assert_int_eq(g.last[i], 3 * MIN);
        if (!key[0]) {
            snprintf(key, sizeof(key), "%s", g.keys[i]);
        }
        ck_assert_str_eq(g.keys[i], key);
        /* Each pairing still makes its own t-corr, which does not gather. */
        ck_assert_uint_eq(count_rule(&g, "t-corr"), 3);
        /* The same events again report nothing new. */
        calls = g.emits[i];
        feed_gathering(e, order, hosts);
        ck_assert_uint_eq(g.emits[i], calls);
        ck_assert_uint_eq(count_rule(&g, "t-gather"), 1);
        hvd_engine_destroy(e);
    }
    ck_assert_ptr_nonnull(strstr(key, "|*"));
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(state_stays_bounded_with_many_groups)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g = {.n = 0};
    hvd_engine *e = NULL;
    char host[32];
    hvd_field f;

    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    for (int i = 0; i < 120000; i++) {
        hvd_event ev;

        snprintf(host, sizeof(host), "h%d", i);
        ev = make("Test-Provider", 200, host, (hvd_time)i * HVD_TICKS_PER_SECOND, "", &f);
        ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
    }
    ck_assert_uint_le(hvd_engine_get_stats(e)->groups, 100000);
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(spn_missing_on_destination_from_real_evtx_files)
{
    char *tmp = hvd_test_tmpdir();
    char *out = hvd_test_path(tmp, "vmms-ha.evtx");
    char *argv[] = {HVD_TEST_BINDIR "/evtxgen", HVD_TEST_DATADIR "/evtx/vmms-ha.xml", out, NULL};
    hvd_ruleset *rs = load(HVD_TEST_SRCDIR "/rules");
    struct got g = {.n = 0};
    hvd_engine *e = NULL;
    hvd_source *src = NULL;
    hvd_event ev;
    hvd_error err;
    int found = 0;

    ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    ck_assert_int_eq(hvd_source_open(&src, out, NULL, NULL, &err), HVD_OK);
    while (hvd_source_next(src, &ev, &err) == 1) {
        ck_assert_int_eq(hvd_engine_feed(e, &ev, &err), HVD_OK);
    }
    hvd_source_close(src);
    ck_assert_uint_eq(count_rule(&g, "hv-spn-register-failed"), 2);
    ck_assert_uint_eq(count_rule(&g, "lm-target-unknown"), 1);
    for (size_t i = 0; i < g.n; i++) {
        if (strcmp(g.rules[i], "lm-spn-missing-on-destination") == 0) {
            found++;
            ck_assert_msg(strstr(g.remedy[i], "setspn -S \"Microsoft Virtual System Migration "
                                              "Service/HV-NODE02\" HV-NODE02") != NULL,
                          "%s", g.remedy[i]);
        }
    }
    ck_assert_int_eq(found, 1);
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
    hvd_test_rmtree(tmp);
    free(out);
    free(tmp);
}
END_TEST

/* Feeds one event to a fresh engine over the synthetic rules; fills *g. */
static void feed_one(hvd_ruleset *rs, const hvd_event *ev, struct got *g, hvd_engine_stats *st)
{
    hvd_engine *e = NULL;

    memset(g, 0, sizeof(*g));
    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, g, NULL), HVD_OK);
    ck_assert_int_eq(hvd_engine_feed(e, ev, NULL), HVD_OK);
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    if (st) {
        *st = *hvd_engine_get_stats(e);
    }
    hvd_engine_destroy(e);
}

/* A regex runs only on a subject holding one of its required literals: the rule matches
 * whatever the literal's case when the pattern ignores case, and not once a literal is
 * missing, in the message and in a field alike. */
START_TEST(guarded_regexes_match_as_their_patterns_do)
{
    static const struct {
        const char *provider;
        const char *message;
        const char *rule;
        int match;
    } cases[] = {
        {"Microsoft-Windows-Hyper-V-VMMS",
         "VMMS disabled the listener for Virtual Machine migration connections.",
         "lm-listener-disabled", 1},
        {"Microsoft-Windows-Hyper-V-VMMS",
         "VMMS DISABLED THE LISTENER FOR VIRTUAL MACHINE MIGRATION CONNECTIONS.",
         "lm-listener-disabled", 1},
        {"Microsoft-Windows-Hyper-V-VMMS",
         "VMMS disabled the listener for Virtual Machine connections.", "lm-listener-disabled", 0},
        {"Microsoft-Windows-Hyper-V-VMMS",
         "'VM7' failed to start the virtual machine 'VM7' because one of the Hyper-V components "
         "is not running.",
         "vm-start-hv-component-not-running", 1},
        {"Microsoft-Windows-Hyper-V-VMMS",
         "'VM7' failed to start the virtual machine 'VM7' because one of the Hyper-V parts is "
         "not running.",
         "vm-start-hv-component-not-running", 0},
        {"Microsoft-Windows-Hyper-V-VMMS", "A VM is in \"UNSUPPORTED cluster CONFIGURATION\".",
         "scvmm-unsupported-cluster-config", 1},
        {"Microsoft-Windows-Hyper-V-VMMS", "A VM is in an unsupported configuration.",
         "scvmm-unsupported-cluster-config", 0},
    };
    hvd_ruleset *rs = load(HVD_TEST_SRCDIR "/rules");
    struct got g;
    hvd_field f;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hvd_event ev = make(cases[i].provider, 1, "HV1.contoso.local", 0, cases[i].message, &f);

        feed_one(rs, &ev, &g, NULL);
        ck_assert_msg((find_rule(&g, cases[i].rule) >= 0) == cases[i].match, "%s: %s",
                      cases[i].rule, cases[i].message);
    }
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(index_gives_an_event_only_its_candidates)
{
    hvd_ruleset *rs = load(TEST_RULES);
    hvd_engine_stats st;
    struct got g;
    hvd_field f[2] = {{"VmName", "SQL01"}, {"Data0", ""}};
    hvd_event ev = make("Match-Provider", 10, "h", 0, "", f);

    /* (provider, id) filed: only m-field-equals is tried, whatever the set's size. */
    f[0].name = "VmName"; /* make() filled f[0] with the message */
    f[0].value = "SQL01";
    ev.nfields = 2;
    feed_one(rs, &ev, &g, &st);
    ck_assert_uint_eq(st.candidates, 1);
    ck_assert_uint_eq(st.matches, 1);
    ck_assert_int_ge(find_rule(&g, "m-field-equals"), 0);
    /* Provider case does not matter for the index. */
    ev.provider = "MATCH-provider";
    feed_one(rs, &ev, &g, &st);
    ck_assert_uint_eq(st.candidates, 1);
    /* An unknown provider meets no rule and evaluates no predicate. */
    ev.provider = "Other-Provider";
    feed_one(rs, &ev, &g, &st);
    ck_assert_uint_eq(st.candidates, 0);
    ck_assert_uint_eq(st.predicates, 0);
    /* cluster.log: the component's rules plus the regex-only fallback for cluster.log. */
    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_CLUSTERLOG;
    ev.source_path = "cl";
    ev.host = "HV-NODE01";
    ev.provider = "cluster.log";
    ev.channel = "";
    ev.component = "RES";
    ev.level_word = "ERR";
    ev.level = 2;
    ev.message = "Physical Disk <Cluster Disk 7>: Online failed";
    feed_one(rs, &ev, &g, &st);
    ck_assert_uint_eq(st.candidates, 2);
    ck_assert_int_ge(find_rule(&g, "m-cl-component"), 0);
    ck_assert_str_eq(g.title[find_rule(&g, "m-cl-component")], "Cluster Disk 7 on HV-NODE01");
    ev.component = "NM";
    feed_one(rs, &ev, &g, &st);
    ck_assert_uint_eq(st.candidates, 1); /* the fallback only */
    ck_assert_uint_eq(g.n, 0);
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(channel_names_compare_normalised)
{
    static const struct {
        const char *channel;
        int match;
    } cases[] = {
        {"Microsoft-Windows-Hyper-V-VMMS-Admin", 1},
        {"Microsoft-Windows-Hyper-V-VMMS/Admin", 1},
        {"microsoft-windows-hyper-v-vmms-admin", 1},
        {"Microsoft-Windows-Hyper-V-VMMS-Operational", 0},
        {"Microsoft-Windows-Hyper-V-VMMS", 0},
    };
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g;
    hvd_field f;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hvd_event ev = make("Test-Provider", 5, "h", 0, "", &f);

        ev.channel = cases[i].channel;
        feed_one(rs, &ev, &g, NULL);
        ck_assert_msg((find_rule(&g, "t-channel") >= 0) == cases[i].match, "%s", cases[i].channel);
    }
    /* The rule writes '-Operational', the event '/Operational'. */
    {
        hvd_event ev = make("Match-Provider", 60, "h", 0, "", &f);

        ev.channel = "Microsoft-Windows-FailoverClustering/Operational";
        feed_one(rs, &ev, &g, NULL);
        ck_assert_int_ge(find_rule(&g, "m-channel-slash"), 0);
    }
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(entities_templates_and_evidence)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g;
    hvd_field f[2] = {{"VmName", "SQL01"}, {"Data0", ""}};
    char longmsg[1000];
    hvd_event ev;
    int i;

    /* 'é' is 2 bytes: 299 of them cross the 300-byte excerpt inside a character. */
    memcpy(longmsg, "vm 6F1B2C3D-0000-4000-8000-00000000ABCD ", 40);
    for (i = 40; i + 2 < (int)sizeof(longmsg); i += 2) {
        longmsg[i] = (char)0xC3;
        longmsg[i + 1] = (char)0xA9;
    }
    longmsg[i] = '\0';
    ev = make("Match-Provider", 30, "hv-node03.contoso.local", 0, longmsg, f);
    f[0].name = "VmName";
    f[0].value = "SQL01";
    f[1].value = longmsg;
    ev.nfields = 2;
    feed_one(rs, &ev, &g, NULL);
    i = find_rule(&g, "m-extract");
    ck_assert_int_ge(i, 0);
    /* field, regex on the message, a value template with _short, a fallback, '{{'. */
    ck_assert_str_eq(g.title[i],
                     "SQL01 6F1B2C3D-0000-4000-8000-00000000ABCD SQL01 fallback {GUID}");
    ck_assert_uint_eq(g.nevidence[i], 1);
    ck_assert_uint_le(g.longest_excerpt, 300);
    ck_assert_uint_ge(g.longest_excerpt, 299);
    ck_assert_int_eq(g.longest_excerpt % 2, 0); /* 40 ASCII bytes, then whole characters */
    /* The key names the rule and the first time; the same input gives the same key. */
    {
        char key[256];

        snprintf(key, sizeof(key), "%s", g.keys[i]);
        ck_assert_ptr_nonnull(strstr(key, "m-extract"));
        ck_assert_ptr_nonnull(strstr(key, "1970-01-01T00:00:00"));
        feed_one(rs, &ev, &g, NULL);
        ck_assert_str_eq(g.keys[find_rule(&g, "m-extract")], key);
    }
    /* Named captures from <message>, host_short upper case. */
    f[0].name = "Data0";
    f[0].value = "Live migration of 'VM 7' failed.";
    ev = make("Match-Provider", 14, "hv-node03.contoso.local", 0, f[0].value, f);
    feed_one(rs, &ev, &g, NULL);
    ck_assert_str_eq(g.title[find_rule(&g, "m-message-regex")], "VM 7 on HV-NODE03");
    hvd_ruleset_destroy(rs);
}
END_TEST

/* A fallback chain of <entity>: an alternative that renders empty (a template over an
 * entity the event lacks, an empty field, an empty capture) keeps the value before it. */
START_TEST(empty_entity_alternatives_keep_the_earlier_value)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g;
    hvd_field f[3];
    hvd_event ev = make("Match-Provider", 32, "hv-node01", 0, "code=", &f[2]);

    f[0].name = "Status";
    f[0].value = "1460";
    f[1].name = "Empty";
    f[1].value = "";
    ev.fields = f;
    ev.nfields = 3;
    feed_one(rs, &ev, &g, NULL);
    ck_assert_int_ge(find_rule(&g, "m-entity-chain"), 0);
    ck_assert_str_eq(g.title[find_rule(&g, "m-entity-chain")], "status 1460");
    /* A later alternative that does yield a value still replaces it. */
    f[1].name = "Hr";
    f[1].value = "0x80090322";
    feed_one(rs, &ev, &g, NULL);
    ck_assert_str_eq(g.title[find_rule(&g, "m-entity-chain")], "status 0x80090322");
    /* No alternative yields a value: the entity is missing, the fallback text shows. */
    ev.nfields = 0;
    feed_one(rs, &ev, &g, NULL);
    ck_assert_str_eq(g.title[find_rule(&g, "m-entity-chain")], "status none");
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(growth_past_the_evidence_is_emitted_at_the_flush)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g;
    hvd_field f[1] = {{"VmName", "SQL01"}};
    hvd_engine *e = NULL;
    hvd_event ev;
    int i;

    memset(&g, 0, sizeof(g));
    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    /* Thirty matches in time order within one quiet period: the diagnosis is emitted when
     * made, then once more by the flush, with the rest of its twenty evidence events. */
    for (int k = 0; k < 30; k++) {
        ev =
            make("Match-Provider", 30, "hv-node03.contoso.local", k * HVD_TICKS_PER_SECOND, "x", f);
        ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
    }
    i = find_rule(&g, "m-extract");
    ck_assert_int_ge(i, 0);
    ck_assert_uint_eq(g.calls, 1);
    ck_assert_uint_eq(g.count[i], 1);
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    ck_assert_uint_eq(g.calls, 2);
    ck_assert_uint_eq(g.count[i], 30);
    ck_assert_int_eq(g.last[i], 29 * HVD_TICKS_PER_SECOND);
    ck_assert_uint_eq(g.nevidence[i], 20);
    /* Nothing grew since: a second flush emits nothing. */
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    ck_assert_uint_eq(g.calls, 2);
    /* A match older than the latest evidence (a file read out of order) may be among the
     * earliest: its event goes too, the store keeping the earliest. */
    ev =
        make("Match-Provider", 30, "hv-node03.contoso.local", 5 * HVD_TICKS_PER_SECOND + 1, "x", f);
    ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    ck_assert_uint_eq(g.calls, 3);
    ck_assert_uint_eq(g.count[i], 31);
    ck_assert_uint_eq(g.nevidence[i], 21);
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(benign_rules_say_none_and_disabled_rules_never_match)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g;
    hvd_field f;
    hvd_event ev = make("Match-Provider", 40, "h", 0, "", &f);

    feed_one(rs, &ev, &g, NULL);
    ck_assert_int_ge(find_rule(&g, "m-benign"), 0);
    ck_assert_int_eq(g.severity[find_rule(&g, "m-benign")], HVD_SEVERITY_NONE);
    ev.event_id = 41;
    feed_one(rs, &ev, &g, NULL);
    ck_assert_uint_eq(g.n, 0);
    hvd_ruleset_destroy(rs);
}
END_TEST

struct limits {
    int calls;
    char rule[64];
    uint64_t hits;
};

static void on_limit(void *ud, const char *rule_id, uint64_t hits, uint64_t total)
{
    struct limits *l = ud;

    l->calls++;
    snprintf(l->rule, sizeof(l->rule), "%s", rule_id);
    l->hits = hits;
    ck_assert_uint_ge(total, hits);
}

START_TEST(catastrophic_regex_stops_at_the_match_limit)
{
    hvd_ruleset *rs = load(TEST_RULES);
    hvd_engine_stats st;
    struct got g;
    hvd_field f;
    char msg[64];
    clock_t start = clock();
    hvd_event ev;

    /* ^(a+)+$ on a's then 'b' backtracks 2^n ways without a limit. */
    memset(msg, 'a', 40);
    msg[40] = 'b';
    msg[41] = '\0';
    ev = make("Match-Provider", 70, "h", 0, msg, &f);
    feed_one(rs, &ev, &g, &st);
    ck_assert_uint_eq(g.n, 0);
    ck_assert_double_lt((double)(clock() - start) / CLOCKS_PER_SEC, 5.0);
    /* Stopped, not silently "no match": counted, and reported per rule. */
    ck_assert_uint_eq(st.limit_hits, 1);
    {
        struct limits l = {0, "", 0};
        hvd_engine *e = NULL;

        ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
        }
        hvd_engine_limit_report(e, on_limit, &l);
        ck_assert_int_eq(l.calls, 1);
        ck_assert_str_eq(l.rule, "m-backtrack");
        ck_assert_uint_eq(l.hits, 3);
        /* Reported once: a second report without new hits says nothing. */
        hvd_engine_limit_report(e, on_limit, &l);
        ck_assert_int_eq(l.calls, 1);
        hvd_engine_destroy(e);
    }
    hvd_ruleset_destroy(rs);
}
END_TEST

/* The state an event meets does not depend on events far from it in time: one event four
 * weeks later (and thousands more after it) changes nothing for an event read next. */
START_TEST(state_is_judged_by_the_event_not_by_the_newest_seen)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g = {.n = 0};
    hvd_engine *e = NULL;
    hvd_field f1;
    hvd_field f2;
    hvd_field f3;
    hvd_event cause = make("Test-Provider", 300, "B.example.local", 0, "", &f1);
    hvd_event failure =
        make("Test-Provider", 100, "A.example.local", 30 * MIN, "with host 'b' (0x80090303)", &f2);
    hvd_event far;
    int q;

    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    ck_assert_int_eq(hvd_engine_feed(e, &cause, NULL), HVD_OK);
    for (int i = 0; i < 20000; i++) {
        far = make("Match-Provider", 50, "h9", (28 * 24 * 60 + i % 5) * MIN, "", &f3);
        ck_assert_int_eq(hvd_engine_feed(e, &far, NULL), HVD_OK);
    }
    ck_assert_int_eq(hvd_engine_feed(e, &failure, NULL), HVD_OK);
    ck_assert_uint_eq(count_rule(&g, "t-corr"), 1);
    /* A repeat inside the quiet period of an old diagnosis still folds into it. */
    far = make("Match-Provider", 50, "h1", 0, "", &f3);
    ck_assert_int_eq(hvd_engine_feed(e, &far, NULL), HVD_OK);
    for (int i = 0; i < 20000; i++) {
        hvd_event late = make("Match-Provider", 50, "h8", (60 * 24 * 60 + i % 5) * MIN, "", &f3);

        ck_assert_int_eq(hvd_engine_feed(e, &late, NULL), HVD_OK);
    }
    far = make("Match-Provider", 50, "h1", 5 * MIN, "", &f3);
    ck_assert_int_eq(hvd_engine_feed(e, &far, NULL), HVD_OK);
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    q = -1;
    for (size_t i = 0; i < g.n; i++) {
        if (strcmp(g.rules[i], "m-quiet") == 0 && g.first[i] == 0) {
            ck_assert_int_eq(q, -1);
            q = (int)i;
        }
    }
    ck_assert_int_ge(q, 0);
    ck_assert_uint_eq(g.count[q], 2);
    ck_assert_uint_eq(hvd_engine_get_stats(e)->evicted, 0);
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
}
END_TEST

START_TEST(quiet_period_holds_when_files_come_out_of_order)
{
    hvd_ruleset *rs = load(TEST_RULES);
    struct got g = {.n = 0};
    hvd_engine *e = NULL;
    hvd_field f;
    hvd_event ev;
    static const int minutes[] = {100, 0, 105, 3, 200, 98, 1};
    int a;
    int b;

    /* m-quiet folds the matches of each 10 minutes. Two files: one from minute 100, one from
     * minute 0, read interleaved; then a third much later. */
    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    for (size_t i = 0; i < sizeof(minutes) / sizeof(minutes[0]); i++) {
        ev = make("Match-Provider", 50, "h1", minutes[i] * MIN, "", &f);
        ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
    }
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    ck_assert_uint_eq(count_rule(&g, "m-quiet"), 4); /* 90-100, 100-110, 0-10, 200-210 */
    a = find_rule(&g, "m-quiet");
    b = a + 1;
    ck_assert_uint_eq(g.count[a], 2); /* 100, 105 */
    ck_assert_int_eq(g.first[a], 100 * MIN);
    ck_assert_int_eq(g.last[a], 105 * MIN);
    ck_assert_uint_eq(g.nevidence[a], 2);
    ck_assert_uint_eq(g.count[b], 3); /* 0, 3, 1 */
    ck_assert_int_eq(g.first[b], 0);
    ck_assert_int_eq(g.last[b], 3 * MIN);
    ck_assert_ptr_nonnull(strstr(g.keys[b], "1970-01-01T00:00:00"));
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
}
END_TEST

/* Rules with the longest durations the loader allows, for the extreme-time test. */
static const char longest_rules[] =
    "<rules xmlns=\"urn:hvdiag:rules:1\">\n"
    "  <rule id=\"x-quiet\" severity=\"error\">\n"
    "    <title>q {host}</title>\n"
    "    <match><provider>X</provider><event-id>1</event-id></match>\n"
    "    <quiet period=\"366d\" group-by=\"host\"/>\n"
    "    <cause>c</cause><remedy>r</remedy><reference href=\"https://example.invalid/\"/>\n"
    "    <examples><positive><Event xmlns=\"" EVT_NS "\"/></positive>"
    "<negative><Event xmlns=\"" EVT_NS "\"/></negative></examples>\n"
    "  </rule>\n"
    "  <rule id=\"x-thr\" severity=\"error\">\n"
    "    <title>t {host}</title>\n"
    "    <match><provider>X</provider><event-id>2</event-id></match>\n"
    "    <threshold count=\"2\" window=\"366d\" group-by=\"host\"/>\n"
    "    <quiet period=\"8784h\" group-by=\"host\"/>\n"
    "    <cause>c</cause><remedy>r</remedy><reference href=\"https://example.invalid/\"/>\n"
    "    <examples><positive><Event xmlns=\"" EVT_NS "\"/></positive>"
    "<negative><Event xmlns=\"" EVT_NS "\"/></negative></examples>\n"
    "  </rule>\n"
    "  <correlation id=\"x-corr\" severity=\"critical\" window=\"366d\">\n"
    "    <title>c {a.host}</title>\n"
    "    <member role=\"a\" rule=\"x-quiet\"/>\n"
    "    <member role=\"b\" rule=\"x-thr\"/>\n"
    "    <join left=\"a.host\" right=\"b.host\" compare=\"host\"/>\n"
    "    <cause>c</cause><remedy>r</remedy><reference href=\"https://example.invalid/\"/>\n"
    "    <examples><positive><Event xmlns=\"" EVT_NS "\"/></positive>"
    "<negative><Event xmlns=\"" EVT_NS "\"/></negative></examples>\n"
    "  </correlation>\n"
    "</rules>\n";

/* Event times come from input and may be anywhere in int64; with the longest durations the
 * loader allows, no sum or difference wraps (UBSan aborts on signed overflow), and the
 * results stay right: matches at both ends of time never fold into each other. */
START_TEST(extreme_event_times_with_the_longest_durations)
{
    static const hvd_time times[] = {INT64_MAX,     INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 0,
                                     INT64_MAX - 2, -1,        INT64_MIN + 2};
    char *dir = hvd_test_tmpdir();
    char *path = hvd_test_path(dir, "longest.xml");
    hvd_ruleset *rs;
    struct got g = {.n = 0};
    hvd_engine *e = NULL;
    hvd_field f;
    hvd_event ev;
    int i;

    ck_assert_int_eq(hvd_test_write_file(path, longest_rules, strlen(longest_rules)), 0);
    rs = load(dir);
    ck_assert_int_eq(hvd_engine_create(&e, rs, on_diag, &g, NULL), HVD_OK);
    for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
        for (uint16_t id = 1; id <= 2; id++) {
            ev = make("X", id, "h1", times[k], "", &f);
            ck_assert_int_eq(hvd_engine_feed(e, &ev, NULL), HVD_OK);
        }
    }
    ck_assert_int_eq(hvd_engine_flush(e, NULL), HVD_OK);
    /* x-quiet: one diagnosis per 366-day period aligned on 1970: one at each end of time
     * (the bottom period's start saturates), and -1 and 0 in two periods. */
    ck_assert_uint_eq(count_rule(&g, "x-quiet"), 4);
    i = find_rule(&g, "x-quiet");
    ck_assert_int_eq(g.first[i], INT64_MAX - 2);
    ck_assert_int_eq(g.last[i], INT64_MAX);
    ck_assert_uint_eq(g.count[i], 3);
    /* x-thr: two matches within 366d in one period, at each end of time; -1 and 0 are one
     * match each in their periods. */
    ck_assert_uint_eq(count_rule(&g, "x-thr"), 2);
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
    hvd_test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* --- a storm: many cluster roles failing at once -------------------------------------- */

#define STORM_ROLES 200

/* An event read from a file, with its strings copied (readers lend theirs). */
struct owned_event {
    hvd_event ev;
    hvd_field *fields;
    char **strings;
    size_t nstrings;
};

static const char *own(struct owned_event *o, const char *s)
{
    if (!s) {
        return NULL;
    }
    o->strings[o->nstrings] = strdup(s);
    ck_assert_ptr_nonnull(o->strings[o->nstrings]);
    return o->strings[o->nstrings++];
}

static void owned_copy(struct owned_event *o, const hvd_event *ev)
{
    o->ev = *ev;
    o->nstrings = 0;
    o->strings = calloc(10 + 2 * ev->nfields, sizeof(*o->strings));
    o->fields = calloc(ev->nfields + 1, sizeof(*o->fields));
    ck_assert(o->strings && o->fields);
    o->ev.source_path = own(o, ev->source_path);
    o->ev.host = own(o, ev->host);
    o->ev.provider = own(o, ev->provider);
    o->ev.provider_guid = own(o, ev->provider_guid);
    o->ev.channel = own(o, ev->channel);
    o->ev.user_sid = own(o, ev->user_sid);
    o->ev.component = own(o, ev->component);
    o->ev.level_word = own(o, ev->level_word);
    o->ev.message = own(o, ev->message);
    o->ev.xml = NULL;
    for (size_t i = 0; i < ev->nfields; i++) {
        o->fields[i].name = own(o, ev->fields[i].name);
        o->fields[i].value = own(o, ev->fields[i].value);
    }
    o->ev.fields = o->fields;
}

static void owned_free(struct owned_event *o)
{
    for (size_t i = 0; i < o->nstrings; i++) {
        free(o->strings[i]);
    }
    free(o->strings);
    free(o->fields);
}

/* The storm (stormgen), through evtxgen and the EVTX reader; *n events, caller frees. */
static struct owned_event *storm_events(int roles, size_t *n)
{
    char *tmp = hvd_test_tmpdir();
    char *xml = hvd_test_path(tmp, "storm.xml");
    char *evtx = hvd_test_path(tmp, "storm.evtx");
    char count[16];
    char *gen[] = {HVD_TEST_BINDIR "/stormgen", count, xml, NULL};
    char *conv[] = {HVD_TEST_BINDIR "/evtxgen", xml, evtx, NULL};
    struct owned_event *evs = NULL;
    size_t cap = 0;
    hvd_source *src = NULL;
    hvd_event ev;
    hvd_error err;

    snprintf(count, sizeof(count), "%d", roles);
    ck_assert_int_eq(hvd_test_run(gen, NULL), 0);
    ck_assert_int_eq(hvd_test_run(conv, NULL), 0);
    ck_assert_msg(hvd_source_open(&src, evtx, NULL, NULL, &err) == HVD_OK, "%s", err.msg);
    *n = 0;
    while (hvd_source_next(src, &ev, &err) == 1) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            evs = realloc(evs, cap * sizeof(*evs));
            ck_assert_ptr_nonnull(evs);
        }
        owned_copy(&evs[(*n)++], &ev);
    }
    hvd_source_close(src);
    hvd_test_rmtree(tmp);
    free(xml);
    free(evtx);
    free(tmp);
    return evs;
}

/* One diagnosis as last emitted, with how often it was. */
struct storm_diag {
    char *key;
    char *rule;
    char *group; /* entity "group", or "" */
    char *host;  /* entity "host", or "" */
    char *related[3];
    size_t nrelated;
    int correlation;
    hvd_time first;
    hvd_time last;
    uint64_t count;
    unsigned calls;
};

struct storm_got {
    struct storm_diag *v;
    size_t n;
    size_t cap;
};

static const char *entity_of(const hvd_diagnosis *d, const char *name)
{
    for (size_t i = 0; i < d->nentities; i++) {
        if (strcmp(d->entities[i].name, name) == 0) {
            return d->entities[i].value;
        }
    }
    return "";
}

static struct storm_diag *storm_find(const struct storm_got *g, const char *key)
{
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->v[i].key, key) == 0) {
            return &g->v[i];
        }
    }
    return NULL;
}

static int on_storm(void *ud, const hvd_diagnosis *d)
{
    struct storm_got *g = ud;
    struct storm_diag *sd = storm_find(g, d->key);

    if (!sd) {
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 256;
            g->v = realloc(g->v, g->cap * sizeof(*g->v));
            ck_assert_ptr_nonnull(g->v);
        }
        sd = &g->v[g->n++];
        memset(sd, 0, sizeof(*sd));
        sd->key = strdup(d->key);
        sd->rule = strdup(d->rule_id);
        sd->group = strdup(entity_of(d, "group"));
        sd->host = strdup(entity_of(d, "host"));
        sd->correlation = d->kind == HVD_DIAGNOSIS_CORRELATION;
        ck_assert_uint_le(d->nrelated, 3);
        for (size_t i = 0; i < d->nrelated; i++) {
            sd->related[i] = strdup(d->related[i]);
        }
        sd->nrelated = d->nrelated;
    }
    sd->first = d->first_time;
    sd->last = d->last_time;
    sd->count = d->count;
    sd->calls++;
    return HVD_OK;
}

static void storm_got_free(struct storm_got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->v[i].key);
        free(g->v[i].rule);
        free(g->v[i].group);
        free(g->v[i].host);
        for (size_t k = 0; k < g->v[i].nrelated; k++) {
            free(g->v[i].related[k]);
        }
    }
    free(g->v);
    memset(g, 0, sizeof(*g));
}

/* Feeds the events in the order given by order[] (NULL: as read), twice when again. */
static void storm_feed(const hvd_ruleset *rs, const struct owned_event *evs, size_t n,
                       const size_t *order, int again, struct storm_got *g)
{
    hvd_engine *e = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_engine_create(&e, rs, on_storm, g, NULL), HVD_OK);
    for (int pass = 0; pass < 1 + again; pass++) {
        for (size_t i = 0; i < n; i++) {
            const hvd_event *ev = &evs[order ? order[i] : i].ev;

            ck_assert_msg(hvd_engine_feed(e, ev, &err) == HVD_OK, "%s", err.msg);
        }
    }
    ck_assert_msg(hvd_engine_flush(e, &err) == HVD_OK, "%s", err.msg);
    hvd_engine_destroy(e);
}

static size_t storm_count(const struct storm_got *g, const char *rule)
{
    size_t n = 0;

    for (size_t i = 0; i < g->n; i++) {
        n += strcmp(g->v[i].rule, rule) == 0;
    }
    return n;
}

/* The expected diagnoses: per role its three signatures and five correlations, each
 * correlation naming diagnoses of its own role (same group) or host; the roles are VMs', so
 * their 1205 and 1254 are also tied to the VM's resource (vm-role-online-failed,
 * vm-role-terminal). */
static void storm_check(const struct storm_got *g)
{
    size_t correlations = 0;

    ck_assert_uint_eq(storm_count(g, "fc-node-removed"), 4);
    ck_assert_uint_eq(storm_count(g, "fc-resource-failed"), STORM_ROLES);
    ck_assert_uint_eq(storm_count(g, "fc-role-online-failed"), STORM_ROLES);
    ck_assert_uint_eq(storm_count(g, "fc-role-terminal"), STORM_ROLES);
    ck_assert_uint_eq(storm_count(g, "role-failure-escalation"), STORM_ROLES);
    ck_assert_uint_eq(storm_count(g, "resource-failed-after-node-removed"), STORM_ROLES);
    ck_assert_uint_eq(storm_count(g, "role-failed-after-node-removed"), STORM_ROLES);
    ck_assert_uint_eq(storm_count(g, "vm-role-online-failed"), STORM_ROLES);
    ck_assert_uint_eq(storm_count(g, "vm-role-terminal"), STORM_ROLES);
    for (size_t i = 0; i < g->n; i++) {
        const struct storm_diag *d = &g->v[i];
        const struct storm_diag *m[3] = {NULL, NULL, NULL};

        if (!d->correlation) {
            continue;
        }
        correlations++;
        for (size_t k = 0; k < d->nrelated; k++) {
            m[k] = storm_find(g, d->related[k]);
            ck_assert_msg(m[k] && !m[k]->correlation, "%s: member %s", d->key, d->related[k]);
        }
        if (strcmp(d->rule, "role-failure-escalation") == 0) {
            ck_assert_uint_eq(d->nrelated, 3);
            ck_assert_str_eq(m[0]->rule, "fc-resource-failed");
            ck_assert_str_eq(m[1]->rule, "fc-role-online-failed");
            ck_assert_str_eq(m[2]->rule, "fc-role-terminal");
            ck_assert_str_eq(m[0]->group, m[1]->group);
            ck_assert_str_eq(m[1]->group, m[2]->group);
        } else if (strncmp(d->rule, "vm-role-", 8) == 0) {
            ck_assert_uint_eq(d->nrelated, 2);
            ck_assert_str_eq(m[0]->rule, "fc-resource-failed");
            ck_assert_str_eq(m[1]->rule, strcmp(d->rule, "vm-role-terminal") == 0
                                             ? "fc-role-terminal"
                                             : "fc-role-online-failed");
            ck_assert_str_eq(m[0]->group, m[1]->group);
        } else {
            ck_assert_uint_eq(d->nrelated, 2);
            ck_assert_str_eq(m[1]->rule, "fc-node-removed");
            ck_assert_str_eq(m[0]->host, m[1]->host);
        }
        /* The span of a correlation is its members' span. */
        for (size_t k = 0; k < d->nrelated; k++) {
            ck_assert_int_le(d->first, m[k]->first);
            ck_assert_int_ge(d->last, m[k]->last);
        }
    }
    ck_assert_uint_eq(correlations, 5 * STORM_ROLES);
}

/* Both runs made the same diagnoses with the same spans and counts. */
static void storm_same(const struct storm_got *a, const struct storm_got *b)
{
    ck_assert_uint_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct storm_diag *x = &a->v[i];
        const struct storm_diag *y = storm_find(b, x->key);

        ck_assert_msg(y != NULL, "%s made in one order only", x->key);
        ck_assert_int_eq(x->first, y->first);
        ck_assert_int_eq(x->last, y->last);
        ck_assert_uint_eq(x->count, y->count);
    }
}

START_TEST(storm_of_failing_roles_gives_each_correlation_once_in_any_order)
{
    hvd_ruleset *rs = load(HVD_TEST_SRCDIR "/rules");
    struct storm_got in_time = {NULL, 0, 0};
    struct storm_got reversed = {NULL, 0, 0};
    struct storm_got shuffled = {NULL, 0, 0};
    struct storm_got twice = {NULL, 0, 0};
    size_t n = 0;
    struct owned_event *evs = storm_events(STORM_ROLES, &n);
    size_t *order = calloc(n, sizeof(*order));
    uint64_t rng = 42;

    ck_assert_uint_eq(n, 4 + 4 * STORM_ROLES);
    ck_assert_ptr_nonnull(order);

    /* In time order, every combination is complete when its last member comes, and no
     * member grows after: each correlation is emitted exactly once. */
    storm_feed(rs, evs, n, NULL, 0, &in_time);
    storm_check(&in_time);
    for (size_t i = 0; i < in_time.n; i++) {
        if (in_time.v[i].correlation && strcmp(in_time.v[i].rule, "role-failure-escalation") == 0) {
            ck_assert_msg(in_time.v[i].calls == 1, "%s emitted %u times", in_time.v[i].key,
                          in_time.v[i].calls);
        }
    }

    for (size_t i = 0; i < n; i++) {
        order[i] = n - 1 - i;
    }
    storm_feed(rs, evs, n, order, 0, &reversed);
    storm_check(&reversed);
    storm_same(&in_time, &reversed);

    for (size_t i = n - 1; i > 0; i--) {
        size_t j;
        size_t t;

        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        j = (size_t)(rng >> 33) % (i + 1);
        t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    storm_feed(rs, evs, n, order, 0, &shuffled);
    storm_check(&shuffled);
    storm_same(&in_time, &shuffled);

    /* The same events again (a re-export read twice): signatures count them, spans stay,
     * and no correlation is emitted again. */
    storm_feed(rs, evs, n, NULL, 1, &twice);
    storm_check(&twice);
    for (size_t i = 0; i < twice.n; i++) {
        const struct storm_diag *once = storm_find(&in_time, twice.v[i].key);

        ck_assert_ptr_nonnull(once);
        ck_assert_int_eq(twice.v[i].first, once->first);
        ck_assert_int_eq(twice.v[i].last, once->last);
        if (twice.v[i].correlation) {
            ck_assert_uint_eq(twice.v[i].calls, once->calls);
        } else {
            ck_assert_uint_eq(twice.v[i].count, 2 * once->count);
        }
    }

    storm_got_free(&in_time);
    storm_got_free(&reversed);
    storm_got_free(&shuffled);
    storm_got_free(&twice);
    for (size_t i = 0; i < n; i++) {
        owned_free(&evs[i]);
    }
    free(evs);
    free(order);
    hvd_ruleset_destroy(rs);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("match");
    TCase *storm;

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, events_meet_only_their_candidate_rules);
    tcase_add_test(tc, engines_in_threads_share_one_rule_set);
    tcase_add_test(tc, index_gives_an_event_only_its_candidates);
    tcase_add_test(tc, guarded_regexes_match_as_their_patterns_do);
    tcase_add_test(tc, channel_names_compare_normalised);
    tcase_add_test(tc, entities_templates_and_evidence);
    tcase_add_test(tc, empty_entity_alternatives_keep_the_earlier_value);
    tcase_add_test(tc, growth_past_the_evidence_is_emitted_at_the_flush);
    tcase_add_test(tc, benign_rules_say_none_and_disabled_rules_never_match);
    tcase_add_test(tc, catastrophic_regex_stops_at_the_match_limit);
    tcase_add_test(tc, quiet_period_holds_when_files_come_out_of_order);
    tcase_add_test(tc, extreme_event_times_with_the_longest_durations);
    tcase_add_test(tc, state_is_judged_by_the_event_not_by_the_newest_seen);
    tcase_add_test(tc, error_codes_match_in_every_spelling);
    tcase_add_test(tc, threshold_and_quiet_are_judged_by_event_time);
    tcase_add_test(tc, correlation_is_found_in_either_order_and_reported_once);
    tcase_add_test(tc, a_gathering_role_makes_one_diagnosis_in_any_order);
    tcase_add_test(tc, state_stays_bounded_with_many_groups);
    tcase_add_test(tc, spn_missing_on_destination_from_real_evtx_files);
    suite_add_tcase(s, tc);
    storm = tcase_create("storm");
    tcase_set_timeout(storm, 300);
    tcase_add_test(storm, storm_of_failing_roles_gives_each_correlation_once_in_any_order);
    suite_add_tcase(s, storm);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(engine_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
