/*
 * libFuzzer target for names tables (an XML file of rules/names/, format in rules/FORMAT.md):
 * the input is one table file, loaded as 'hvdiag analyze' loads the rule set's tables. When
 * it loads, real Hyper-V and Failover Clustering message texts are searched for names as
 * events of each provider the shipped tables know: every entity found has a name and a
 * non-empty value.
 */
#include "extract.h"
#include "fuzz_util.h"

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

static const char *const providers[] = {
    "Microsoft-Windows-Hyper-V-High-Availability", "Microsoft-Windows-Hyper-V-VMMS",
    "Microsoft-Windows-Hyper-V-Worker", "Microsoft-Windows-FailoverClustering", "P"};

static const char *const texts[] = {
    "Live migration of 'Virtual Machine SQL01' failed.",
    ("Virtual machine migration operation for 'SQL01' failed at migration source 'HV-NODE01'. "
     "(Virtual machine ID 4A6C5E1B-3F7D-4C8A-9B2E-1D0F6A7C8B9E)\nFailed to establish a "
     "connection with host 'HV-NODE02': No credentials are available in the security package "
     "(0x8009030E)."),
    "'SQL01' failed to start. (Virtual machine ID 4A6C5E1B-3F7D-4C8A-9B2E-1D0F6A7C8B9E)",
    ("Cluster resource 'Virtual Machine APP07' of type 'Virtual Machine' in clustered role "
     "'APP07' failed."),
    "",
    "'",
    "%1",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    hvd_extract_table *t = NULL;
    hvd_extractor *x = NULL;
    const char *names[16];
    hvd_error err;

    if (!ready) {
        xmlInitParser();
        ready = 1;
    }
    hvd_fuzz_write("n.xml", data, size);
    if (hvd_extract_load(&t, hvd_fuzz_tmpdir(), NULL, &err) != HVD_OK) {
        return 0;
    }
    (void)hvd_extract_entities(t, names, sizeof(names) / sizeof(names[0]));
    if (hvd_extractor_create(&x, t, &err) == HVD_OK) {
        for (size_t p = 0; p < sizeof(providers) / sizeof(providers[0]); p++) {
            for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                const hvd_entity *found = NULL;
                hvd_event ev;
                int n;

                memset(&ev, 0, sizeof(ev));
                ev.kind = HVD_SOURCE_EVTX;
                ev.provider = providers[p];
                ev.event_id = (uint16_t)(21500 + i);
                ev.channel = "System";
                ev.message = texts[i];
                n = hvd_extractor_find(x, &ev, &found);
                for (int k = 0; k < n; k++) {
                    if (!found[k].name || !found[k].value || !found[k].value[0]) {
                        abort();
                    }
                }
            }
        }
    }
    hvd_extractor_destroy(x);
    hvd_extract_destroy(t);
    return 0;
}
