/* Synthetic diagnoses for the benches: see synth.h. */
#define _DEFAULT_SOURCE
#include "synth.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CAUSE  "The synthetic cause of this diagnosis, a sentence or two long."
#define REMEDY "What to do about it.\nA second line of the remedy."

void synth_init(synth *g, uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    g->rng = seed;
}

static uint64_t next(synth *g)
{
    uint64_t z = (g->rng += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t synth_below(synth *g, uint64_t n)
{
    return next(g) % n;
}

double synth_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The title of a diagnosis of rule into buf. */
static void title_of(const char *rule, char *buf, size_t size)
{
    snprintf(buf, size, "Synthetic diagnosis of rule %s", rule);
}

static void remember(synth *g, const hvd_diagnosis *d)
{
    size_t k = g->nrecent++ % SYNTH_RECENT;

    snprintf(g->recent[k], sizeof(g->recent[k]), "%s", d->key);
    snprintf(g->recent_rule[k], sizeof(g->recent_rule[k]), "%s", d->rule_id);
    g->recent_first[k] = d->first_time;
}

int synth_burst(hvd_store *st, synth *g, hvd_time at, hvd_error *err)
{
    static const char *const refs[] = {"https://example.invalid/kb"};
    unsigned host = (unsigned)synth_below(g, SYNTH_HOSTS);
    unsigned vm = (unsigned)synth_below(g, SYNTH_VMS_PER_HOST);
    unsigned shape = (unsigned)synth_below(g, 10); /* 0-2 host, 3-5 name, 6-7 id, 8-9 both */
    unsigned n = 1 + (unsigned)synth_below(g, 4);
    char keys[5][96];
    char host_name[32];
    char vm_name[32];
    char vm_id[48];
    char rule[32];
    char title[64];
    int rc = HVD_OK;

    snprintf(host_name, sizeof(host_name), "HV%02u.corp.example", host);
    snprintf(vm_name, sizeof(vm_name), "vm-%02u-%02u", host, vm);
    snprintf(vm_id, sizeof(vm_id), "6f1c%04x-0000-4000-8000-%012x", host, vm);
    for (unsigned i = 0; rc == HVD_OK && i <= n; i++) {
        hvd_entity ents[3];
        hvd_evidence ev[2];
        hvd_diagnosis d;
        const char *related[2];
        size_t ne = 0;
        int correlation = i == n;
        unsigned r = (unsigned)synth_below(g, SYNTH_RULES);

        if (correlation && (n < 2 || synth_below(g, 10) != 0)) {
            break;
        }
        memset(&d, 0, sizeof(d));
        memset(ev, 0, sizeof(ev));
        ents[ne++] = (hvd_entity){HVD_ENTITY_HOST, host_name};
        if (shape >= 3 && shape != 6 && shape != 7) {
            ents[ne++] = (hvd_entity){HVD_ENTITY_VM_NAME, vm_name};
        }
        if (shape >= 6) {
            ents[ne++] = (hvd_entity){HVD_ENTITY_VM_ID, vm_id};
        }
        snprintf(rule, sizeof(rule), correlation ? "corr.storage-%02u" : "hyperv.rule-%02u",
                 correlation ? r % 5 : r);
        title_of(rule, title, sizeof(title));
        snprintf(keys[i], sizeof(keys[i]), "%s|%s|%" PRIu64, rule, ne > 1 ? vm_name : host_name,
                 g->serial++);
        d.key = keys[i];
        d.kind = correlation ? HVD_DIAGNOSIS_CORRELATION : HVD_DIAGNOSIS_SIGNATURE;
        d.rule_id = rule;
        d.title = title;
        d.severity = (hvd_severity)(1 + synth_below(g, 4));
        d.confidence = "high";
        d.cause = CAUSE;
        d.remedy = REMEDY;
        d.references = refs;
        d.nreferences = 1;
        d.entities = ents;
        d.nentities = ne;
        d.first_time = at + (hvd_time)synth_below(g, 60) * SYNTH_MINUTE;
        /* Most end within minutes; a few recur for days. */
        d.last_time =
            d.first_time + (synth_below(g, 50) ? (hvd_time)synth_below(g, 30) * SYNTH_MINUTE
                                               : (hvd_time)(1 + synth_below(g, 5)) * SYNTH_DAY);
        d.count = 1 + synth_below(g, 5);
        if (correlation) {
            related[0] = keys[0];
            related[1] = keys[1];
            d.related = related;
            d.nrelated = 2;
        }
        for (size_t e = 0; e < 2; e++) {
            ev[e].kind = HVD_SOURCE_EVTX;
            ev[e].source_path = "/var/lib/hvdiag/in/HV-System.evtx";
            ev[e].record_id = g->serial * 2 + e;
            ev[e].event_record_id = g->serial * 2 + e;
            ev[e].time = e ? d.last_time : d.first_time;
            ev[e].host = host_name;
            ev[e].provider = "Microsoft-Windows-Hyper-V-Worker";
            ev[e].channel = "Microsoft-Windows-Hyper-V-Worker-Admin";
            ev[e].component = "";
            ev[e].event_id = 18590;
            ev[e].level = 2;
            ev[e].message = "'vm' has encountered a fatal error. The guest operating system "
                            "reported that it failed with the following error codes.";
        }
        d.evidence = ev;
        d.nevidence = d.count > 1 ? 2 : 1;
        rc = hvd_store_put_diagnosis(st, &d, NULL, err);
        if (rc == HVD_OK && !correlation) {
            remember(g, &d);
        }
    }
    return rc;
}

int synth_grow_recent(hvd_store *st, synth *g, hvd_time at, hvd_error *err)
{
    size_t k;
    char title[64];
    hvd_diagnosis d;

    if (g->nrecent == 0) {
        return HVD_OK;
    }
    k = (size_t)synth_below(g, g->nrecent < SYNTH_RECENT ? g->nrecent : SYNTH_RECENT);
    title_of(g->recent_rule[k], title, sizeof(title));
    memset(&d, 0, sizeof(d));
    d.key = g->recent[k];
    d.kind = HVD_DIAGNOSIS_SIGNATURE;
    d.rule_id = g->recent_rule[k];
    d.title = title;
    d.severity = HVD_SEVERITY_ERROR;
    d.confidence = "high";
    d.cause = CAUSE;
    d.remedy = REMEDY;
    d.first_time = g->recent_first[k];
    d.last_time = at;
    d.count = 1000 + g->serial++;
    return hvd_store_put_diagnosis(st, &d, NULL, err);
}
