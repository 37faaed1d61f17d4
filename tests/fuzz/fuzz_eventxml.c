/*
 * libFuzzer target for event XML (one EVTX record rendered as XML, or a rule example): the
 * input is parsed as it is, then again after hvd_eventxml_scrub(), as the EVTX reader does.
 */
#include "eventxml.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

static hvd_eventxml *px; /* one parser, reused as the EVTX reader reuses it */

static void touch(const hvd_event *ev)
{
    size_t n = strlen(ev->provider) + strlen(ev->provider_guid) + strlen(ev->channel) +
               strlen(ev->host) + strlen(ev->user_sid) + strlen(ev->message);

    for (size_t i = 0; i < ev->nfields; i++) {
        n += strlen(ev->fields[i].name) + strlen(ev->fields[i].value);
        if (hvd_event_field(ev, ev->fields[i].name) == NULL) {
            abort(); /* every field is found by its name */
        }
    }
    if (n == (size_t)-1) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hvd_event ev;
    hvd_error err;
    char *copy;

    if (!px && hvd_eventxml_create(&px, &err) < 0) {
        abort();
    }
    copy = malloc(size + 1);
    if (!copy) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    memset(&ev, 0, sizeof(ev));
    if (hvd_eventxml_parse(px, "fuzz.xml", copy, size, &ev, &err) == HVD_OK) {
        touch(&ev);
    }
    hvd_eventxml_scrub(copy, size);
    memset(&ev, 0, sizeof(ev));
    if (hvd_eventxml_parse(px, "fuzz.xml", copy, size, &ev, &err) == HVD_OK) {
        touch(&ev);
    }
    free(copy);
    return 0;
}
