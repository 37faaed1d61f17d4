/*
 * libFuzzer target for EVTX files through hvdiag's reader (libevtx underneath). The input
 * is written to a private temporary file, because the reader opens files by path (libevtx
 * reads them itself, and records go through a reading process for large files). The file is
 * read through with and without recovered records; then read again from the position token
 * taken halfway, which must be accepted and give exactly the events that followed.
 */
#include "evtx_reader.h"
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libevtx leaks on some malformed records (inside libevtx_file_open_read and
 * libevtx_file_get_record_by_index): not hvdiag's leaks, and the reader is contained
 * elsewhere. Only allocations made inside libevtx and its helper libraries are ignored. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libevtx_\nleak:libfwevt_\nleak:libfdata_\nleak:libcdata_\nleak:libbfio_\n";
}

/* A huge allocation asked for by a hostile file fails instead of taking the machine. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

/* Reads to the end; returns the number of events (stopping early at stop_at, when it is not
 * 0, with the position taken there in token) or -1 on an error. */
static long drain(hvd_evtx_reader *r, long stop_at, char *token, size_t cap, uint64_t *ids)
{
    hvd_event ev;
    hvd_error err;
    long n = 0;
    int rc;

    while ((rc = hvd_evtx_reader_next(r, &ev, &err)) == 1) {
        if (strlen(ev.message) + strlen(ev.host) + strlen(ev.provider) == (size_t)-1) {
            abort();
        }
        if (ids && n < 64) {
            ids[n] = ev.record_id;
        }
        n++;
        if (stop_at && n == stop_at) {
            snprintf(token, cap, "%s", hvd_evtx_reader_position(r));
            return n;
        }
    }
    return rc == 0 ? n : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = hvd_fuzz_write("fuzz.evtx", data, size);
    hvd_source_options opt = {0};
    hvd_evtx_reader *r = NULL;
    hvd_error err;
    char token[64] = "";
    uint64_t ids[64];
    uint64_t again[64];
    long total;
    long rest;

    for (int recovered = 0; recovered <= 1; recovered++) {
        opt.include_recovered = recovered;
        opt.resume = NULL;
        if (hvd_evtx_reader_open(&r, path, &opt, NULL, &err) < 0) {
            return 0;
        }
        total = drain(r, 0, NULL, 0, ids);
        hvd_evtx_reader_close(r);
        if (total < 2) {
            continue;
        }
        if (hvd_evtx_reader_open(&r, path, &opt, NULL, &err) < 0) {
            abort(); /* opened once, must open again */
        }
        drain(r, total / 2, token, sizeof(token), NULL);
        hvd_evtx_reader_close(r);
        opt.resume = token;
        if (hvd_evtx_reader_open(&r, path, &opt, NULL, &err) < 0) {
            abort(); /* a token the reader wrote must be accepted */
        }
        rest = drain(r, 0, NULL, 0, again);
        hvd_evtx_reader_close(r);
        if (rest != total - total / 2) {
            abort(); /* resuming gives exactly the events after the token */
        }
        for (long i = 0; i < rest && total / 2 + i < 64; i++) {
            if (again[i] != ids[total / 2 + i]) {
                abort();
            }
        }
    }
    return 0;
}
