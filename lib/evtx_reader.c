/* evtx_reader: placeholder until the reader lands; every open fails cleanly. */
#include "evtx_reader.h"

#include <stddef.h>

int hvd_evtx_reader_open(hvd_evtx_reader **out, const char *path, const hvd_source_options *opt,
                         const hvd_logger *log, hvd_error *err)
{
    (void)opt;
    (void)log;
    *out = NULL;
    return hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "reader not built yet");
}

int hvd_evtx_reader_next(hvd_evtx_reader *r, hvd_event *ev, hvd_error *err)
{
    (void)r;
    (void)ev;
    (void)err;
    return 0;
}

const char *hvd_evtx_reader_position(hvd_evtx_reader *r)
{
    (void)r;
    return "";
}

const hvd_source_stats *hvd_evtx_reader_stats(const hvd_evtx_reader *r)
{
    (void)r;
    return NULL;
}

void hvd_evtx_reader_close(hvd_evtx_reader *r)
{
    (void)r;
}
