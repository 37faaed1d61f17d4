/* clusterlog_reader: placeholder until the reader lands; every open fails cleanly. */
#include "clusterlog_reader.h"

#include <stddef.h>

int hvd_clusterlog_reader_open(hvd_clusterlog_reader **out, const char *path,
                               const hvd_source_options *opt, const hvd_logger *log, hvd_error *err)
{
    (void)opt;
    (void)log;
    *out = NULL;
    return hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "reader not built yet");
}

int hvd_clusterlog_reader_open_mem(hvd_clusterlog_reader **out, const char *name, const void *data,
                                   size_t len, const hvd_source_options *opt, const hvd_logger *log,
                                   hvd_error *err)
{
    (void)data;
    (void)len;
    return hvd_clusterlog_reader_open(out, name, opt, log, err);
}

int hvd_clusterlog_reader_next(hvd_clusterlog_reader *r, hvd_event *ev, hvd_error *err)
{
    (void)r;
    (void)ev;
    (void)err;
    return 0;
}

const char *hvd_clusterlog_reader_position(hvd_clusterlog_reader *r)
{
    (void)r;
    return "";
}

const hvd_source_stats *hvd_clusterlog_reader_stats(const hvd_clusterlog_reader *r)
{
    (void)r;
    return NULL;
}

void hvd_clusterlog_reader_close(hvd_clusterlog_reader *r)
{
    (void)r;
}
