/* Small helpers over hvd_diagnosis. */
#include "diagnosis.h"

#include <string.h>

static const char *const severity_names[] = {"benign", "info", "warning", "error", "critical"};

const char *hvd_severity_name(hvd_severity s)
{
    if ((int)s < 0 || (size_t)s >= sizeof(severity_names) / sizeof(severity_names[0])) {
        return "unknown";
    }
    return severity_names[s];
}

int hvd_severity_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(severity_names) / sizeof(severity_names[0]); i++) {
        if (strcmp(severity_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *hvd_diagnosis_entity(const hvd_diagnosis *d, const char *name)
{
    for (size_t i = 0; i < d->nentities; i++) {
        if (strcmp(d->entities[i].name, name) == 0) {
            return d->entities[i].value;
        }
    }
    return NULL;
}
