/*
 * source: the read stage's front door. Detects a file's kind from its first bytes and
 * forwards every call to the matching reader. Knows nothing of either format beyond the
 * EVTX file signature.
 */
#include "source.h"

#include "alloc.h"
#include "clusterlog_reader.h"
#include "evtx_reader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct hvd_source {
    hvd_source_kind kind;
    char *path;
    hvd_evtx_reader *evtx;
    hvd_clusterlog_reader *clog;
};

hvd_source_kind hvd_source_detect_head(const void *head, size_t len)
{
    const unsigned char *h = head;

    if (len > HVD_SOURCE_DETECT_HEAD) {
        len = HVD_SOURCE_DETECT_HEAD;
    }
    if (len >= 8 && memcmp(h, "ElfFile", 8) == 0) {
        return HVD_SOURCE_EVTX;
    }
    if (len == 0) {
        return HVD_SOURCE_UNKNOWN;
    }
    /* Text: UTF-16LE has NULs at odd offsets only; other binary data has them anywhere. */
    if (len >= 2 && h[0] == 0xFF && h[1] == 0xFE) {
        return HVD_SOURCE_CLUSTERLOG;
    }
    for (size_t i = 0; i < len; i += 2) {
        if (h[i] == 0) {
            return HVD_SOURCE_UNKNOWN;
        }
    }
    return HVD_SOURCE_CLUSTERLOG;
}

hvd_source_kind hvd_source_detect(const char *path, hvd_error *err)
{
    unsigned char head[HVD_SOURCE_DETECT_HEAD];
    hvd_source_kind kind;
    size_t n;
    FILE *f;

    f = fopen(path, "rb");
    if (!f) {
        hvd_error_set_cause(err, errno == ENOENT ? HVD_ENOENT : HVD_EIO, errno, path, 0,
                            "cannot open: %s", strerror(errno));
        return HVD_SOURCE_UNKNOWN;
    }
    n = fread(head, 1, sizeof(head), f);
    fclose(f);
    kind = hvd_source_detect_head(head, n);
    if (kind == HVD_SOURCE_UNKNOWN) {
        hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "%s",
                      n == 0 ? "empty file" : "neither an EVTX file nor a text log");
    }
    return kind;
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
        rc = hvd_evtx_reader_open(&s->evtx, path, opt, log, err);
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
    return hvd_clusterlog_reader_next(s->clog, ev, err);
}

const char *hvd_source_position(hvd_source *s)
{
    if (s->evtx) {
        return hvd_evtx_reader_position(s->evtx);
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
    return hvd_clusterlog_reader_stats(s->clog);
}

void hvd_source_close(hvd_source *s)
{
    if (!s) {
        return;
    }
    hvd_evtx_reader_close(s->evtx);
    hvd_clusterlog_reader_close(s->clog);
    hvd_free(s->path);
    hvd_free(s);
}
