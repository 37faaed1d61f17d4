/* Small helpers over hvd_event, shared by every stage that reads events. */
#include "event.h"

#include <string.h>

const char *hvd_event_field(const hvd_event *ev, const char *name)
{
    for (size_t i = 0; i < ev->nfields; i++) {
        if (strcmp(ev->fields[i].name, name) == 0) {
            return ev->fields[i].value;
        }
    }
    return NULL;
}

const char *hvd_source_kind_name(hvd_source_kind kind)
{
    switch (kind) {
    case HVD_SOURCE_EVTX:
        return "evtx";
    case HVD_SOURCE_CLUSTERLOG:
        return "clusterlog";
    default:
        return "unknown";
    }
}
