/*
 * evtx_native: an exported .evtx file, read chunk by chunk with hvdiag's own decoder.
 *
 * File: a 4 KiB header ("ElfFile\0", header block size at 40 = offset of chunk 0, number of
 * chunks at 42, flags at 120, CRC-32 of bytes 0-119 at 124), then 64 KiB chunks. Chunk:
 * "ElfChnk\0", first/last record numbers at 8/16, header size 128 at 40, offset of the last
 * record at 44, free-space offset at 48, CRC-32 of the records at 52, CRC-32 of bytes 0-119
 * and 128-511 at 124; records from 512. Record: "**\0\0", size, id, written time, BinXML,
 * size again.
 *
 * Records are numbered as libevtx numbers them, so a position token ("evtx:next=N") means
 * the same record with either reader: the records of each chunk in file order, a chunk's
 * list ending at its first damaged record header; a chunk at or past the header's chunk
 * count (unless the file is dirty) or with a bad signature holds recovered records only;
 * then, after every live record, the recovered ones (record headers found in chunk slack
 * after the list), returned only when asked for.
 *
 * Damage: a checksum mismatch marks the file corrupted and is logged with the chunk's
 * offset, and the chunk's records are still read (each is bounds-checked; libevtx does the
 * same). A record that does not decode is skipped, counted and logged with its index and
 * file offset. Only whole chunks are read: a partial last chunk (a file still being copied)
 * is left for a later read, as libevtx does.
 *
 * Memory: one 64 KiB chunk buffer, the record list of one chunk, the decoder's per-chunk
 * template cache; nothing grows with the file.
 */
#include "evtx_native.h"

#include "alloc.h"
#include "evtx_binxml.h"

#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_SIZE   65536u
#define CHUNK_HEAD   512u
#define REC_HEAD     24u
#define REC_MIN      (REC_HEAD + 4u)
#define MAX_RECS     ((CHUNK_SIZE - CHUNK_HEAD) / REC_MIN + 1)
#define WARN_RECORDS 5 /* records named one by one in the log; the rest are summed up */
#define WARN_CHUNKS  5

enum phase { PH_LIVE, PH_RECOVERED, PH_DONE };

struct hvd_evtx_native {
    int fd;
    char *path;
    const hvd_logger *log;
    hvd_binxml *bx;
    uint8_t *buf; /* the current chunk */

    uint64_t first_chunk; /* file offset of chunk 0 */
    uint64_t nchunks;     /* whole chunks in the file */
    uint16_t hdr_chunks;  /* chunks the file header counts */
    int include_recovered;

    enum phase phase;
    uint64_t chunk; /* index of the chunk in buf */
    int loaded;
    uint32_t live[MAX_RECS]; /* chunk offsets of its live records */
    uint32_t nlive;
    uint32_t recov[MAX_RECS]; /* and of its recovered ones */
    uint32_t nrecov;
    uint32_t at;       /* next entry of live[] or recov[] */
    uint64_t base;     /* index of the first record of this chunk's list */
    uint64_t counted;  /* live (or, in PH_RECOVERED, recovered) records of chunks before */
    uint64_t nrecords; /* live records in the file, known after PH_LIVE */
    uint64_t next;     /* next index to return */
    int warned_chunks;

    hvd_source_stats stats;
    char position[48];
    int summarized;
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int parse_resume(const char *token, uint64_t *next)
{
    char *end;
    long v;

    if (strncmp(token, "evtx:next=", 10) != 0) {
        return -1;
    }
    errno = 0;
    v = strtol(token + 10, &end, 10);
    if (errno || *end || v < 0 || v > INT32_MAX) {
        return -1;
    }
    *next = (uint64_t)v;
    return 0;
}

static void chunk_warning(hvd_evtx_native *r, const char *why)
{
    uint64_t off = r->first_chunk + r->chunk * CHUNK_SIZE;

    r->stats.corrupted = 1;
    if (++r->warned_chunks <= WARN_CHUNKS) {
        hvd_log(r->log, HVD_LOG_WARNING, "%s: chunk %" PRIu64 " (file offset %" PRIu64 "): %s",
                r->path, r->chunk, off, why);
    }
}

static void skipped(hvd_evtx_native *r, uint64_t index, uint32_t rec, const char *why)
{
    uint64_t off = r->first_chunk + r->chunk * CHUNK_SIZE + rec;

    if (r->stats.skipped == 0) {
        r->stats.first_skipped = index;
    }
    r->stats.skipped++;
    if (r->stats.skipped <= WARN_RECORDS) {
        hvd_log(r->log, HVD_LOG_WARNING,
                "%s: record %" PRIu64 " (file offset %" PRIu64 "): %s; skipped", r->path, index,
                off, why);
    }
}

/* A record header at chunk offset o that holds together: signature, size within the chunk,
 * the size repeated at its end. Returns the size, or 0. */
static uint32_t record_at(const uint8_t *c, uint32_t o)
{
    uint32_t size;

    if (o + REC_MIN > CHUNK_SIZE || memcmp(c + o, "**\0\0", 4) != 0) {
        return 0;
    }
    size = rd32(c + o + 4);
    if (size < REC_MIN || size > CHUNK_SIZE - o || rd32(c + o + size - 4) != size) {
        return 0;
    }
    return size;
}

/* Finds records in the slack [o, end of chunk): headers that hold together and whose BinXML
 * starts with a fragment header. Cost: O(bytes / 8). */
static void scan_slack(hvd_evtx_native *r, uint32_t o)
{
    const uint8_t *c = r->buf;

    o = (o + 7) & ~7u;
    while (o + REC_MIN <= CHUNK_SIZE && r->nrecov < MAX_RECS) {
        uint32_t size = record_at(c, o);

        if (size && size > REC_MIN && c[o + REC_HEAD] == 0x0F) {
            r->recov[r->nrecov++] = o;
            o += (size + 7) & ~7u;
        } else {
            o += 8;
        }
    }
}

/*
 * Reads chunk r->chunk into buf and lists its records. Returns 1, or 0 when the file ended
 * before it (it shrank). Cost: O(chunk) for the checksums and the slack scan.
 */
static int load_chunk(hvd_evtx_native *r, int check)
{
    uint64_t off = r->first_chunk + r->chunk * CHUNK_SIZE;
    const uint8_t *c = r->buf;
    ssize_t got;
    uint32_t last;
    uint32_t free_at;
    uint32_t o = CHUNK_HEAD;
    int live = r->chunk < r->hdr_chunks || r->stats.dirty;
    int sane;

    r->nlive = r->nrecov = r->at = 0;
    r->loaded = 1;
    do {
        got = pread(r->fd, r->buf, CHUNK_SIZE, (off_t)off);
    } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)CHUNK_SIZE) {
        return 0;
    }
    hvd_binxml_set_chunk(r->bx, r->buf, CHUNK_SIZE);
    if (memcmp(c, "ElfChnk\0", 8) != 0) {
        int zero = 1;

        for (size_t i = 0; i < CHUNK_SIZE && zero; i += 8) {
            zero = rd64(c + i) == 0;
        }
        if (zero) {
            return 1; /* never used */
        }
        if (check) {
            chunk_warning(r, "bad chunk signature; its records count as recovered");
        }
        scan_slack(r, CHUNK_HEAD);
        return 1;
    }
    last = rd32(c + 44);
    free_at = rd32(c + 48);
    sane = rd32(c + 40) == 128 && free_at >= CHUNK_HEAD && free_at <= CHUNK_SIZE;
    if (!sane) {
        if (check) {
            chunk_warning(r, "bad chunk header; its records count as recovered");
        }
        scan_slack(r, CHUNK_HEAD);
        return 1;
    }
    if (check) {
        uint32_t crc = libdeflate_crc32(0, c, 120);

        crc = libdeflate_crc32(crc, c + 128, CHUNK_HEAD - 128);
        if (crc != rd32(c + 124)) {
            chunk_warning(r, "chunk header checksum mismatch; reading its records with care");
        } else if (libdeflate_crc32(0, c + CHUNK_HEAD, free_at - CHUNK_HEAD) != rd32(c + 52)) {
            chunk_warning(r, "record checksum mismatch; reading its records with care");
        }
    }
    while (o <= last && r->nlive < MAX_RECS) {
        uint32_t size = record_at(c, o);

        if (!size) {
            break;
        }
        if (live) {
            r->live[r->nlive++] = o;
        } else {
            r->recov[r->nrecov++] = o;
        }
        o += size;
    }
    if (check && live && r->nlive != rd64(c + 16) - rd64(c + 8) + 1) {
        chunk_warning(r, "record count differs from the chunk header");
    }
    scan_slack(r, o);
    return 1;
}

int hvd_evtx_native_open(hvd_evtx_native **out, const char *path, const hvd_source_options *opt,
                         const hvd_logger *log, hvd_error *err)
{
    hvd_evtx_native *r = NULL;
    uint8_t head[128];
    struct stat sb;
    ssize_t got;
    int rc;

    *out = NULL;
    r = hvd_calloc(1, sizeof(*r));
    if (!r) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a reader");
    }
    r->fd = -1;
    r->log = log;
    r->include_recovered = opt && opt->include_recovered;
    r->path = hvd_strdup(path);
    r->buf = hvd_malloc(CHUNK_SIZE);
    r->stats.encoding = "";
    r->stats.host = "";
    if (!r->path || !r->buf) {
        rc = hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a reader");
        goto fail;
    }
    rc = hvd_binxml_create(&r->bx, err);
    if (rc < 0) {
        goto fail;
    }
    hvd_binxml_set_needs(r->bx, opt ? opt->needs : NULL);
    if (opt && opt->resume && *opt->resume && parse_resume(opt->resume, &r->next) < 0) {
        rc = hvd_error_set(err, HVD_EINVAL, path, 0, "bad resume position '%s'", opt->resume);
        goto fail;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = hvd_error_set_cause(err, errno == ENOENT ? HVD_ENOENT : HVD_EIO, errno, path, 0,
                                 "cannot open: %s", strerror(errno));
        goto fail;
    }
    do {
        got = pread(r->fd, head, sizeof(head), 0);
    } while (got < 0 && errno == EINTR);
    if (fstat(r->fd, &sb) < 0 || got != (ssize_t)sizeof(head) ||
        memcmp(head, "ElfFile\0", 8) != 0) {
        rc = hvd_error_set(err, HVD_ECORRUPT, path, 0, "cannot open as EVTX: no file header");
        goto fail;
    }
    r->first_chunk = rd16(head + 40);
    r->hdr_chunks = rd16(head + 42);
    r->stats.dirty = (rd32(head + 120) & 1) != 0;
    if (r->first_chunk == 0) {
        r->first_chunk = 4096;
    }
    if ((uint64_t)sb.st_size > r->first_chunk) {
        uint64_t partial = ((uint64_t)sb.st_size - r->first_chunk) % CHUNK_SIZE;

        r->nchunks = ((uint64_t)sb.st_size - r->first_chunk) / CHUNK_SIZE;
        /* A file still being copied: its last chunk is read once it is whole. */
        if (partial && !(opt && opt->tail)) {
            r->stats.corrupted = 1;
            hvd_log(log, HVD_LOG_WARNING,
                    "%s: the last chunk (file offset %" PRIu64 ") has %" PRIu64
                    " of 65536 bytes; its records are not read",
                    path, r->first_chunk + r->nchunks * CHUNK_SIZE, partial);
        }
    }
    if (libdeflate_crc32(0, head, 120) != rd32(head + 124)) {
        r->stats.corrupted = 1;
        hvd_log(log, HVD_LOG_WARNING, "%s: file header checksum mismatch; reading what it can",
                path);
    }
    *out = r;
    return HVD_OK;
fail:
    hvd_evtx_native_close(r);
    return rc;
}

/* Decodes the record at chunk offset o into ev: 1, or 0 when it was skipped. */
static int decode(hvd_evtx_native *r, uint32_t o, uint64_t index, int recovered, hvd_event *ev)
{
    const uint8_t *c = r->buf;
    uint32_t size = rd32(c + o + 4);
    char why[256];

    memset(ev, 0, sizeof(*ev));
    if (hvd_binxml_decode(r->bx, o + REC_HEAD, size - REC_MIN, ev, why, sizeof(why)) < 0) {
        if (!recovered) {
            skipped(r, index, o, why);
        }
        return 0;
    }
    ev->kind = HVD_SOURCE_EVTX;
    ev->source_path = r->path;
    ev->record_id = rd64(c + o + 8);
    ev->index = recovered ? index - r->nrecords : index;
    ev->recovered = recovered;
    ev->xml = NULL;
    r->stats.events++;
    r->stats.system_only += (uint64_t)ev->system_only;
    return 1;
}

int hvd_evtx_native_next(hvd_evtx_native *r, hvd_event *ev, hvd_error *err)
{
    (void)err;
    while (r->phase != PH_DONE) {
        int recovered = r->phase == PH_RECOVERED;
        uint32_t n;

        if (!r->loaded) {
            if (r->chunk >= r->nchunks || !load_chunk(r, !recovered)) {
                if (recovered) {
                    r->phase = PH_DONE;
                    break;
                }
                r->nrecords = r->counted;
                r->stats.records = r->nrecords;
                r->phase = r->include_recovered ? PH_RECOVERED : PH_DONE;
                r->chunk = 0;
                r->loaded = 0;
                r->counted = 0;
                if (r->next < r->nrecords) {
                    r->next = r->nrecords;
                }
                continue;
            }
            n = recovered ? r->nrecov : r->nlive;
            r->base = (recovered ? r->nrecords : 0) + r->counted;
            r->counted += n;
            if (!recovered) {
                r->stats.records = r->counted;
                r->stats.recovered += r->nrecov;
            }
            r->at =
                r->next > r->base ? (uint32_t)(r->next - r->base < n ? r->next - r->base : n) : 0;
        }
        n = recovered ? r->nrecov : r->nlive;
        if (r->at >= n) {
            r->loaded = 0;
            r->chunk++;
            continue;
        }
        {
            uint32_t o = recovered ? r->recov[r->at] : r->live[r->at];
            uint64_t index = r->base + r->at;

            r->at++;
            r->next = index + 1;
            if (decode(r, o, index, recovered, ev)) {
                return 1;
            }
        }
    }
    if (r->stats.skipped > WARN_RECORDS && !r->summarized) {
        hvd_log(r->log, HVD_LOG_WARNING, "%s: %" PRIu64 " of %" PRIu64 " records could not be read",
                r->path, r->stats.skipped, r->nrecords);
    }
    r->summarized = 1;
    return 0;
}

const char *hvd_evtx_native_position(hvd_evtx_native *r)
{
    snprintf(r->position, sizeof(r->position), "evtx:next=%" PRIu64, r->next);
    return r->position;
}

const hvd_source_stats *hvd_evtx_native_stats(const hvd_evtx_native *r)
{
    return &r->stats;
}

void hvd_evtx_native_close(hvd_evtx_native *r)
{
    if (!r) {
        return;
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    hvd_binxml_destroy(r->bx);
    hvd_free(r->buf);
    hvd_free(r->path);
    hvd_free(r);
}
