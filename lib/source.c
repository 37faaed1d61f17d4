/*
 * source: the read stage's front door. Detects a file's kind from its first bytes and
 * forwards every call to the matching reader. Knows nothing of either format beyond the
 * EVTX file signature.
 */
#include "source.h"

#include "alloc.h"
#include "clusterlog_reader.h"
#include "evtx_native.h"
#include "evtx_reader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct hvd_source {
    hvd_source_kind kind;
    char *path;
    hvd_evtx_reader *evtx;
    hvd_evtx_native *native;
    hvd_clusterlog_reader *clog;
};

int hvd_evtx_decoder_parse(const char *name, hvd_evtx_decoder *out)
{
    if (strcmp(name, "libevtx") == 0) {
        *out = HVD_EVTX_LIBEVTX;
    } else if (strcmp(name, "native") == 0) {
        *out = HVD_EVTX_NATIVE;
    } else {
        return -1;
    }
    return 0;
}

const char *hvd_evtx_decoder_name(hvd_evtx_decoder d)
{
    if (d == HVD_EVTX_DEFAULT) {
        d = HVD_EVTX_DECODER_DEFAULT;
    }
    return d == HVD_EVTX_NATIVE ? "native" : "libevtx";
}

hvd_source_kind hvd_source_detect(const char *path, hvd_error *err)
{
    unsigned char head[512];
    size_t n;
    size_t nul = 0;
    FILE *f;

    f = fopen(path, "rb");
    if (!f) {
        hvd_error_set_cause(err, errno == ENOENT ? HVD_ENOENT : HVD_EIO, errno, path, 0,
                            "cannot open: %s", strerror(errno));
        return HVD_SOURCE_UNKNOWN;
    }
    n = fread(head, 1, sizeof(head), f);
    fclose(f);
    if (n >= 8 && memcmp(head, "ElfFile", 8) == 0) {
        return HVD_SOURCE_EVTX;
    }
    if (n == 0) {
        hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "empty file");
        return HVD_SOURCE_UNKNOWN;
    }
    /* Text: UTF-16LE has NULs at odd offsets only; other binary data has them anywhere. */
    if (n >= 2 && head[0] == 0xFF && head[1] == 0xFE) {
        return HVD_SOURCE_CLUSTERLOG;
    }
    for (size_t i = 0; i < n; i++) {
        if (head[i] == 0 && (i % 2 == 0)) {
            nul++;
        }
    }
    if (nul == 0) {
        return HVD_SOURCE_CLUSTERLOG;
    }
    hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "neither an EVTX file nor a text log");
    return HVD_SOURCE_UNKNOWN;
}

int hvd_source_open(hvd_source **out, const char *path, const hvd_source_options *opt,
                    const hvd_logger *log, hvd_error *err)
{
    hvd_source *s = NULL;
    hvd_source_options none = {0};
    int rc;

    *out = NULL;
    if (!opt) {
        opt = &none;
    }
    s = hvd_calloc(1, sizeof(*s));
    if (!s) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a source");
    }
    s->path = hvd_strdup(path);
    if (!s->path) {
        rc = hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a source");
        goto fail;
    }
    s->kind = hvd_source_detect(path, err);
    switch (s->kind) {
    case HVD_SOURCE_EVTX:
        if ((opt->evtx_decoder == HVD_EVTX_DEFAULT ? HVD_EVTX_DECODER_DEFAULT
                                                   : opt->evtx_decoder) == HVD_EVTX_NATIVE) {
            rc = hvd_evtx_native_open(&s->native, path, opt, log, err);
        } else {
            rc = hvd_evtx_reader_open(&s->evtx, path, opt, log, err);
        }
        break;
    case HVD_SOURCE_CLUSTERLOG:
        rc = hvd_clusterlog_reader_open(&s->clog, path, opt, log, err);
        break;
    default:
        rc = err ? err->code : HVD_EUNSUPPORTED;
        break;
    }
    if (rc < 0) {
        goto fail;
    }
    *out = s;
    return HVD_OK;
fail:
    hvd_source_close(s);
    return rc;
}

int hvd_source_next(hvd_source *s, hvd_event *ev, hvd_error *err)
{
    if (s->evtx) {
        return hvd_evtx_reader_next(s->evtx, ev, err);
    }
    if (s->native) {
        return hvd_evtx_native_next(s->native, ev, err);
    }
    return hvd_clusterlog_reader_next(s->clog, ev, err);
}

const char *hvd_source_position(hvd_source *s)
{
    if (s->evtx) {
        return hvd_evtx_reader_position(s->evtx);
    }
    if (s->native) {
        return hvd_evtx_native_position(s->native);
    }
    return hvd_clusterlog_reader_position(s->clog);
}

hvd_source_kind hvd_source_get_kind(const hvd_source *s)
{
    return s->kind;
}

const char *hvd_source_path(const hvd_source *s)
{
    return s->path;
}

const hvd_source_stats *hvd_source_get_stats(const hvd_source *s)
{
    if (s->evtx) {
        return hvd_evtx_reader_stats(s->evtx);
    }
    if (s->native) {
        return hvd_evtx_native_stats(s->native);
    }
    return hvd_clusterlog_reader_stats(s->clog);
}

void hvd_source_close(hvd_source *s)
{
    if (!s) {
        return;
    }
    hvd_evtx_reader_close(s->evtx);
    hvd_evtx_native_close(s->native);
    hvd_clusterlog_reader_close(s->clog);
    hvd_free(s->path);
    hvd_free(s);
}
