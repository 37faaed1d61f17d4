/* eventxml: placeholder until the parser lands; every parse fails cleanly. */
#include "eventxml.h"

#include "alloc.h"

struct hvd_eventxml {
    int unused;
};

int hvd_eventxml_create(hvd_eventxml **out, hvd_error *err)
{
    *out = hvd_calloc(1, sizeof(**out));
    if (!*out) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate an XML event parser");
    }
    return HVD_OK;
}

void hvd_eventxml_destroy(hvd_eventxml *px)
{
    hvd_free(px);
}

int hvd_eventxml_parse(hvd_eventxml *px, const char *name, const char *xml, size_t len,
                       hvd_event *ev, hvd_error *err)
{
    (void)px;
    (void)xml;
    (void)len;
    (void)ev;
    return hvd_error_set(err, HVD_EUNSUPPORTED, name, 0, "event XML parser not built yet");
}
