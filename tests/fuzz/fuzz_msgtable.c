/*
 * libFuzzer target for message tables (an XML file of rules/messages/, format in rules/FORMAT.md):
 * the input is one table file, loaded as 'hvdiag analyze' loads the rule set's tables. When it
 * loads, each template's literal, alone and followed by quoted names, and a few real
 * cluster.log texts in English, German and French are matched as [System] and [Operational]
 * lines and as forwarded events of a template's provider and id; what matches must name an
 * event the table holds and fields with names and values.
 */
#include "fuzz_util.h"
#include "msgtable.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const lines[] = {
    "Cluster node 'N1' was removed from the active failover cluster membership.",
    "The Cluster service is shutting down because quorum was lost, since communication "
    "was lost between this node and other nodes.",
    "Der Clusterknoten \"KNOTEN01\" wurde aus der aktiven Failoverclustermitgliedschaft "
    "entfernt.",
    "Échec de la ressource de cluster « Machine virtuelle WEB03 » de type « Virtual Machine » "
    "dans le rôle en cluster « WEB03 ».",
    "Clustered role 'R' is moving from cluster node 'A' to cluster node 'B'.",
    "",
    "'",
    "%1 %2 %%",
};

/* Checks one answer: the event must be one of the table's, its fields named. */
static void check(const hvd_msgtable *t, int rc, const hvd_msgtable_match *mm)
{
    size_t i;

    if (rc < 0) {
        return; /* out of memory */
    }
    if (rc != 1) {
        if (rc != 0) {
            abort();
        }
        return;
    }
    for (i = 0; i < hvd_msgtable_count(t); i++) {
        const char *provider;
        uint16_t id;

        hvd_msgtable_entry(t, i, &provider, &id);
        if (id == mm->event_id && strcmp(provider, mm->provider) == 0) {
            break;
        }
    }
    if (i == hvd_msgtable_count(t) || (mm->nfields && !mm->fields)) {
        abort();
    }
    for (i = 0; i < mm->nfields; i++) {
        if (!mm->fields[i].name || !mm->fields[i].value) {
            abort();
        }
    }
}

/* text as a [System] and an [Operational] line, and (k < count) as a forwarded event of
 * template k's provider and id carrying only its rendered text. */
static void try_line(const hvd_msgtable *t, hvd_msgmatcher *m, const char *text, size_t k)
{
    static const char *const channels[] = {"System", "Operational"};
    static const hvd_field own[] = {{"pid", "00000844"}, {"tag", "System"}};
    hvd_msgtable_match mm;
    hvd_event ev;

    for (size_t c = 0; c < 2; c++) {
        memset(&ev, 0, sizeof(ev));
        ev.kind = HVD_SOURCE_CLUSTERLOG;
        ev.channel = channels[c];
        ev.message = text;
        ev.fields = own;
        ev.nfields = 2;
        check(t, hvd_msgmatcher_match(m, &ev, &mm), &mm);
    }
    if (k < hvd_msgtable_count(t)) {
        memset(&ev, 0, sizeof(ev));
        ev.kind = HVD_SOURCE_EVTX;
        ev.channel = "ForwardedEvents";
        ev.message = text;
        hvd_msgtable_entry(t, k, &ev.provider, &ev.event_id);
        check(t, hvd_msgmatcher_match(m, &ev, &mm), &mm);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    hvd_msgtable *t = NULL;
    hvd_msgmatcher *m = NULL;
    hvd_error err;
    char line[512];

    if (!ready) {
        xmlInitParser();
        ready = 1;
    }
    hvd_fuzz_write("m.xml", data, size);
    if (hvd_msgtable_load(&t, hvd_fuzz_tmpdir(), NULL, &err) != HVD_OK) {
        return 0;
    }
    if (hvd_msgmatcher_create(&m, t, &err) == HVD_OK) {
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
            try_line(t, m, lines[i], i);
        }
        for (size_t i = 0; i < hvd_msgtable_count(t) && i < 64; i++) {
            const char *lit = hvd_msgtable_literal(t, i);

            try_line(t, m, lit, i);
            snprintf(line, sizeof(line), "%s 'A' 'B' \"C\" « D ».", lit);
            try_line(t, m, line, i);
        }
    }
    hvd_msgmatcher_destroy(m);
    hvd_msgtable_destroy(t);
    return 0;
}
