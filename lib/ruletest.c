/* ruletest: every rule's examples through the engine, one fresh engine per example. */
#include "ruletest.h"

#include "alloc.h"
#include "clusterlog_reader.h"
#include "engine.h"
#include "engine_internal.h"
#include "eventxml.h"
#include "extract.h"
#include "msgtable.h"
#include "rules_internal.h"
#include "template.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_HELD 8 /* VMs and hosts of one example kept for the naming check */

/* The VMs and hosts an example's events hold: its diagnosis must name one of each. */
struct held {
    char vm[MAX_HELD][128];
    size_t nvm;
    char host[MAX_HELD][128];
    size_t nhost;
};

struct seen {
    const hvd__rule *rule;
    int made;
    int matched_expects; /* a diagnosis of the rule met every expect line */
    const hvd__example *ex;
    char title[1024]; /* the rule's last diagnosis, for the naming check */
    char cause[4096];
    char why[300];
};

/* What reads an example's events besides the engine: the names table, and the message
 * table that turns a cluster.log [System] line back into its event first. */
struct namers {
    hvd_extractor *names;
    hvd_msgmatcher *messages;
};

static int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

/* A rendered text that still holds a {name} means a template the values cannot fill. */
static int placeholder_left(struct seen *s, const hvd_diagnosis *d)
{
    const char *const texts[][2] = {
        {"title", d->title}, {"cause", d->cause}, {"remedy", d->remedy}};

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *left = hvd_template_leftover(texts[i][1]);

        if (left) {
            snprintf(s->why, sizeof(s->why), "the %s keeps a placeholder: '%.40s'", texts[i][0],
                     left);
            return 1;
        }
    }
    return 0;
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; hay && n > 0 && *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void held_add(char list[][128], size_t *n, const char *v, size_t len)
{
    len = len < 127 ? len : 127;
    if (len == 0 || *n == MAX_HELD) {
        return;
    }
    for (size_t i = 0; i < *n; i++) {
        if (strlen(list[i]) == len && strncasecmp(list[i], v, len) == 0) {
            return;
        }
    }
    memcpy(list[*n], v, len);
    list[*n][len] = '\0';
    (*n)++;
}

/* Adds the host and the VMs ev holds (as the names table reads it) to h. */
static int held_note(struct held *h, struct namers *nm, const hvd_event *ev)
{
    hvd_msgtable_match mm;
    hvd_event rendered;
    const hvd_entity *ents = NULL;
    int n;

    if (ev->host && *ev->host) {
        held_add(h->host, &h->nhost, ev->host, strcspn(ev->host, "."));
    }
    n = nm->messages ? hvd_msgmatcher_match(nm->messages, ev, &mm) : 0;
    if (n < 0) {
        return n;
    }
    if (n == 1) {
        rendered = *ev;
        rendered.provider = mm.provider;
        rendered.event_id = mm.event_id;
        rendered.fields = mm.fields;
        rendered.nfields = mm.nfields;
        ev = &rendered;
    }
    n = nm->names ? hvd_extractor_find(nm->names, ev, &ents) : 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i].name, HVD_ENTITY_VM_NAME) == 0) {
            held_add(h->vm, &h->nvm, ents[i].value, strlen(ents[i].value));
        }
    }
    return n < 0 ? n : 0;
}

/* A positive example's diagnosis names (in its title or cause) a VM and a host the example
 * holds, when it holds any: "VM  cannot migrate" with the name in the evidence is a defect. */
static int names_missing(const struct seen *s, const struct held *h, char *why, size_t cap)
{
    int vm = h->nvm == 0;
    int host = h->nhost == 0;

    for (size_t i = 0; i < h->nvm && !vm; i++) {
        vm = ci_contains(s->title, h->vm[i]) || ci_contains(s->cause, h->vm[i]);
    }
    for (size_t i = 0; i < h->nhost && !host; i++) {
        host = ci_contains(s->title, h->host[i]) || ci_contains(s->cause, h->host[i]);
    }
    if (!vm) {
        snprintf(why, cap, "the title and cause name no VM; the example holds '%s'", h->vm[0]);
        return 1;
    }
    if (!host) {
        snprintf(why, cap, "the title and cause name no host; the example holds '%s'", h->host[0]);
        return 1;
    }
    return 0;
}

static int on_diagnosis(void *ud, const hvd_diagnosis *d)
{
    struct seen *s = ud;
    const hvd__example *ex = s->ex;

    if (strcmp(d->rule_id, s->rule->info.id) != 0) {
        return HVD_OK;
    }
    s->made = 1;
    snprintf(s->title, sizeof(s->title), "%s", d->title ? d->title : "");
    snprintf(s->cause, sizeof(s->cause), "%s", d->cause ? d->cause : "");
    if (s->ex->positive && placeholder_left(s, d)) {
        return HVD_OK;
    }
    for (size_t i = 0; i < ex->nexpects; i++) {
        const hvd__expect *x = &ex->expects[i];

        if (x->entity) {
            const char *v = hvd_diagnosis_entity(d, x->entity);

            if (!v || strcmp(v, x->value) != 0) {
                snprintf(s->why, sizeof(s->why), "entity %s is '%s', expected '%s'", x->entity,
                         v ? v : "(none)", x->value);
                return HVD_OK;
            }
        }
        if (x->no_entity) {
            const char *v = hvd_diagnosis_entity(d, x->no_entity);

            if (v && v[0]) {
                snprintf(s->why, sizeof(s->why), "entity %s is '%s', expected none", x->no_entity,
                         v);
                return HVD_OK;
            }
        }
        if (x->remedy_contains && !contains(d->remedy, x->remedy_contains)) {
            snprintf(s->why, sizeof(s->why), "remedy lacks '%s'", x->remedy_contains);
            return HVD_OK;
        }
        if (x->cause_contains && !contains(d->cause, x->cause_contains)) {
            snprintf(s->why, sizeof(s->why), "cause lacks '%s'", x->cause_contains);
            return HVD_OK;
        }
        if (x->title_contains && !contains(d->title, x->title_contains)) {
            snprintf(s->why, sizeof(s->why), "title lacks '%s'", x->title_contains);
            return HVD_OK;
        }
        if (x->count && d->count != (uint64_t)x->count) {
            snprintf(s->why, sizeof(s->why), "count %llu, expected %ld",
                     (unsigned long long)d->count, x->count);
            return HVD_OK;
        }
    }
    s->matched_expects = 1;
    return HVD_OK;
}

/* Feeds one example's events; returns HVD_OK or an error with why set. */
static int feed_example(hvd_engine *e, hvd_eventxml *px, struct namers *nm, struct held *held,
                        const hvd__rule *r, const hvd__example *ex, char *why, size_t cap)
{
    hvd_error err;

    for (size_t i = 0; i < ex->nevents; i++) {
        const hvd__example_event *xe = &ex->events[i];
        hvd_event ev;

        hvd_error_clear(&err);
        if (!xe->clusterlog) {
            memset(&ev, 0, sizeof(ev));
            ev.kind = HVD_SOURCE_EVTX;
            ev.source_path = r->info.file;
            ev.line = (uint64_t)ex->line;
            if (hvd_eventxml_parse(px, r->info.file, xe->text, strlen(xe->text), &ev, &err) < 0 ||
                held_note(held, nm, &ev) < 0 || hvd_engine_feed(e, &ev, &err) < 0) {
                snprintf(why, cap, "event %zu: %s", i + 1, err.msg);
                return -1;
            }
        } else {
            hvd_source_options opt = {.host_hint = xe->node};
            hvd_clusterlog_reader *cr = NULL;
            int rc;

            if (hvd_clusterlog_reader_open_mem(&cr, r->info.file, xe->text, strlen(xe->text), &opt,
                                               NULL, &err) < 0) {
                snprintf(why, cap, "cluster.log lines: %s", err.msg);
                return -1;
            }
            while ((rc = hvd_clusterlog_reader_next(cr, &ev, &err)) == 1) {
                if (held_note(held, nm, &ev) < 0 || hvd_engine_feed(e, &ev, &err) < 0) {
                    break;
                }
            }
            if (hvd_clusterlog_reader_stats(cr)->events == 0) {
                snprintf(why, cap, "cluster.log lines: no line parsed");
                hvd_clusterlog_reader_close(cr);
                return -1;
            }
            hvd_clusterlog_reader_close(cr);
        }
    }
    return hvd_engine_flush(e, &err);
}

int hvd_ruletest_run(const hvd_ruleset *rs, hvd_ruletest_report report, void *ud,
                     hvd_ruletest_result *result, hvd_error *err)
{
    hvd_eventxml *px = NULL;
    struct namers nm = {NULL, NULL};
    char line[1800];
    int rc;

    memset(result, 0, sizeof(*result));
    if (rs->match_only) {
        return hvd_error_set(err, HVD_EINVAL, NULL, 0,
                             "rule set loaded with HVD_RULESET_MATCH_ONLY: no examples to run");
    }
    rc = hvd_eventxml_create(&px, err);
    if (rc == HVD_OK && hvd_extract_count(rs->names) > 0) {
        rc = hvd_extractor_create(&nm.names, rs->names, err);
    }
    if (rc == HVD_OK && hvd_msgtable_count(rs->messages) > 0) {
        rc = hvd_msgmatcher_create(&nm.messages, rs->messages, err);
    }
    if (rc < 0) {
        goto out;
    }
    for (size_t i = 0; i < rs->nrules; i++) {
        const hvd__rule *r = &rs->rules[i];

        for (size_t k = 0; k < r->nexamples; k++) {
            const hvd__example *ex = &r->examples[k];
            struct seen s = {.rule = r, .ex = ex};
            struct held held;
            hvd_engine *e = NULL;
            char why[1024] = "";
            int ok;

            memset(&held, 0, sizeof(held));
            rc = hvd_engine_create(&e, rs, on_diagnosis, &s, err);
            if (rc < 0) {
                goto out;
            }
            hvd__engine_match_disabled(e, 1);
            if (feed_example(e, px, &nm, &held, r, ex, why, sizeof(why)) < 0) {
                ok = 0;
            } else if (ex->positive) {
                ok = s.made && s.matched_expects;
                if (!s.made) {
                    snprintf(why, sizeof(why), "positive example made no diagnosis");
                } else if (!ok) {
                    snprintf(why, sizeof(why), "%s", s.why);
                } else if (names_missing(&s, &held, why, sizeof(why))) {
                    ok = 0;
                }
            } else {
                ok = !s.made;
                if (!ok) {
                    snprintf(why, sizeof(why), "negative example made a diagnosis");
                }
            }
            hvd_engine_destroy(e);
            if (ok) {
                result->passed++;
            } else {
                result->failed++;
                snprintf(line, sizeof(line), "%s:%d: rule '%s': %s", r->info.file, ex->line,
                         r->info.id, why);
                if (report) {
                    report(ud, line);
                }
            }
        }
    }
    rc = HVD_OK;
out:
    hvd_msgmatcher_destroy(nm.messages);
    hvd_extractor_destroy(nm.names);
    hvd_eventxml_destroy(px);
    return rc;
}
