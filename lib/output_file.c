/*
 * output_file: incident changes as JSON lines appended to a file that Filebeat, Fluent Bit
 * or Vector tail (see output.h). The file is ours only between two batches: log rotation
 * renames it (logrotate "create": a new inode appears at the path, or none yet) or copies
 * and truncates it ("copytruncate": the same inode, shorter). So before each batch the
 * path is stat()ed: another inode, or none, means reopen (creating it); a size below what
 * we last left means copytruncate, and O_APPEND already writes at the new end. A line is
 * one write(); a short write (disk full) is undone with ftruncate() to where the line
 * began, so a reader never sees half a line, and the batch stops there to be retried.
 */
#define _GNU_SOURCE
#include "output.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One JSON line; an incident's hosts are kept under 64 KiB. */
#define LINE_MAX_BYTES (1024 * 1024)

struct file_output {
    char *path;
    const hvd_logger *log;
    int fd;
    uint64_t dev;
    uint64_t ino;
    uint64_t size; /* where our last line ended */
    int reopen;    /* asked by reopen(): open again before the next batch */
    hvd_buf line;
};

/* Opens (creating) the path for appending; remembers its identity. */
static int file_open(struct file_output *f, char *why, size_t cap)
{
    struct stat sb;
    int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

    if (fd < 0 || fstat(fd, &sb) < 0) {
        snprintf(why, cap, "%s: cannot open: %s", f->path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return HVD_EIO;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(why, cap, "%s: not a regular file", f->path);
        close(fd);
        return HVD_EIO;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    f->fd = fd;
    f->dev = (uint64_t)sb.st_dev;
    f->ino = (uint64_t)sb.st_ino;
    f->size = (uint64_t)sb.st_size;
    f->reopen = 0;
    return HVD_OK;
}

/* Before a batch: the path still names our file, or it is opened again. */
static int file_ready(struct file_output *f, char *why, size_t cap)
{
    struct stat sb;

    if (f->fd < 0 || f->reopen) {
        return file_open(f, why, cap);
    }
    if (stat(f->path, &sb) < 0 || (uint64_t)sb.st_dev != f->dev || (uint64_t)sb.st_ino != f->ino) {
        hvd_log(f->log, HVD_LOG_INFO, "%s: rotated (renamed or removed); opening it again",
                f->path);
        return file_open(f, why, cap);
    }
    if ((uint64_t)sb.st_size < f->size) {
        hvd_log(f->log, HVD_LOG_INFO, "%s: truncated (copytruncate); going on at its end", f->path);
    }
    f->size = (uint64_t)sb.st_size;
    return HVD_OK;
}

/* One whole line, or nothing. */
static int write_line(struct file_output *f, const char *data, size_t len, char *why, size_t cap)
{
    struct stat sb;
    off_t start = fstat(f->fd, &sb) == 0 ? sb.st_size : -1;
    ssize_t n;

    do {
        n = write(f->fd, data, len);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) {
        f->size = start >= 0 ? (uint64_t)start + len : f->size + len;
        return HVD_OK;
    }
    snprintf(why, cap, "%s: cannot write: %s", f->path, n < 0 ? strerror(errno) : "short write");
    if (n > 0 && start >= 0 && ftruncate(f->fd, start) < 0) {
        hvd_log(f->log, HVD_LOG_WARNING, "%s: a partial line is left: %s", f->path,
                strerror(errno));
    }
    return HVD_EIO;
}

static void file_deliver(void *impl, const hvd_outbox_record *recs, size_t n,
                         hvd_output_done_fn done, void *ud)
{
    struct file_output *f = impl;
    char why[600] = "";
    size_t i = 0;
    int rc = file_ready(f, why, sizeof(why));

    for (; rc == HVD_OK && i < n; i++) {
        rc = hvd_output_json(&recs[i], &f->line);
        if (rc == HVD_OK) {
            rc = hvd_buf_addc(&f->line, '\n');
        }
        if (rc < 0) {
            snprintf(why, sizeof(why), "%s: cannot build a line: %s", f->path, hvd_strerror(rc));
            break;
        }
        rc = write_line(f, f->line.data, f->line.len, why, sizeof(why));
        if (rc < 0) {
            break;
        }
    }
    done(ud, i, rc, rc == HVD_OK ? NULL : why);
}

static void file_reopen(void *impl)
{
    struct file_output *f = impl;

    f->reopen = 1;
}

static void file_close(void *impl)
{
    struct file_output *f = impl;

    if (!f) {
        return;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    hvd_buf_free(&f->line);
    hvd_free(f->path);
    hvd_free(f);
}

static const char *file_target(const void *impl)
{
    const struct file_output *f = impl;

    return f->path;
}

static const hvd_output_ops file_ops = {
    .name = "file",
    .deliver = file_deliver,
    .reopen = file_reopen,
    .close = file_close,
    .target = file_target,
};

int hvd_output_file_open(hvd_output *out, const char *path, const hvd_logger *log, hvd_error *err)
{
    struct file_output *f = hvd_calloc(1, sizeof(*f));

    out->ops = NULL;
    out->impl = NULL;
    if (!f || !(f->path = hvd_strdup(path))) {
        hvd_free(f);
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "out of memory");
    }
    f->fd = -1;
    f->log = log;
    hvd_buf_init(&f->line, LINE_MAX_BYTES);
    out->ops = &file_ops;
    out->impl = f;
    return HVD_OK;
}
