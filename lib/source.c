/*
 * source: the read stage's front door. Detects a file's kind from its first bytes and
 * forwards every call to the matching reader. Knows nothing of either format beyond the
 * EVTX file signature.
 *
 * The source also holds a descriptor of the file its reader opened, so what was read can be
 * identified (fstat, hashes) even when the path is renamed over during the read.
 */
#include "source.h"

#include "alloc.h"
#include "clusterlog_reader.h"
#include "evtx_native.h"
#include "evtx_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPEN_TRIES 4 /* the path replaced between our open and the reader's: try again */

struct hvd_source {
    hvd_source_kind kind;
    char *path;
    int fd; /* the file the reader opened, for its identity; -1 if none */
    hvd_evtx_reader *evtx;
    hvd_evtx_native *native;
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

hvd_source_kind hvd_source_detect(const char *path, hvd_source_head *head, hvd_error *err)
{
    hvd_source_head own;
    hvd_source_kind kind;
    size_t n;
    FILE *f;

    if (!head) {
        head = &own;
    }
    head->len = 0;

    f = fopen(path, "rb");
    if (!f) {
        hvd_error_set_cause(err, errno == ENOENT ? HVD_ENOENT : HVD_EIO, errno, path, 0,
                            "cannot open: %s", strerror(errno));
        return HVD_SOURCE_UNKNOWN;
    }
    n = head->len = fread(head->bytes, 1, sizeof(head->bytes), f);
    fclose(f);
    kind = hvd_source_detect_head(head->bytes, n);
    if (kind == HVD_SOURCE_UNKNOWN) {
        hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "%s",
                      n == 0 ? "empty file" : "neither an EVTX file nor a text log");
    }
    return kind;
}

/* Opens the reader for path; fd is a descriptor of path opened just before. Returns 1 when
 * the path still names fd's file after the reader opened it (so the reader has that file),
 * 0 when it was replaced meanwhile, or a negative code. */
static int open_reader(hvd_source *s, const char *path, int fd, const hvd_source_options *opt,
                       const hvd_logger *log, hvd_error *err)
{
    struct stat before;
    struct stat after;
    int rc;

    s->kind = hvd_source_detect(path, NULL, err);
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
        return rc;
    }
    if (fstat(fd, &before) == 0 && stat(path, &after) == 0 &&
        (before.st_dev != after.st_dev || before.st_ino != after.st_ino)) {
        hvd_evtx_reader_close(s->evtx);
        hvd_clusterlog_reader_close(s->clog);
        s->evtx = NULL;
        s->clog = NULL;
        return 0;
    }
    return 1;
}

int hvd_source_open(hvd_source **out, const char *path, const hvd_source_options *opt,
                    const hvd_logger *log, hvd_error *err)
{
    hvd_source *s = NULL;
    hvd_source_options none = {0};
    int rc = 0;

    *out = NULL;
    if (!opt) {
        opt = &none;
    }
    s = hvd_calloc(1, sizeof(*s));
    if (!s) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a source");
    }
    s->fd = -1;
    s->path = hvd_strdup(path);
    if (!s->path) {
        rc = hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a source");
        goto fail;
    }
    for (int i = 0; rc == 0 && i < OPEN_TRIES; i++) {
        if (s->fd >= 0) {
            close(s->fd);
        }
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) {
            rc = hvd_error_set_cause(err, errno == ENOENT ? HVD_ENOENT : HVD_EIO, errno, path, 0,
                                     "cannot open: %s", strerror(errno));
            break;
        }
        rc = open_reader(s, path, s->fd, opt, log, err);
    }
    if (rc == 0) {
        rc = hvd_error_set(err, HVD_EIO, path, 0, "replaced while being opened, again and again");
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

int hvd_source_fd(const hvd_source *s)
{
    return s->fd;
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
    if (s->fd >= 0) {
        close(s->fd);
    }
    hvd_free(s->path);
    hvd_free(s);
}
