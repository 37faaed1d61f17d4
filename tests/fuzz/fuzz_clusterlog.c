/*
 * libFuzzer target for the cluster.log surface: the input is a whole file, read from memory.
 * The first byte picks the options (tail mode, a host hint); after a first pass the reader
 * is reopened from the position token taken halfway, which must not fail.
 */
#include "clusterlog_reader.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t drain(hvd_clusterlog_reader *r, uint64_t stop_at, char **token)
{
    hvd_event ev;
    hvd_error err;
    uint64_t n = 0;

    while (hvd_clusterlog_reader_next(r, &ev, &err) > 0) {
        /* Touch every string the contract promises. */
        if (strlen(ev.message) + strlen(ev.host) + strlen(ev.component) + strlen(ev.channel) +
                strlen(ev.level_word) ==
            (size_t)-1) {
            abort();
        }
        n++;
        if (token && n == stop_at) {
            *token = strdup(hvd_clusterlog_reader_position(r));
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hvd_source_options opt = {0};
    hvd_clusterlog_reader *r = NULL;
    hvd_error err;
    char *token = NULL;
    uint64_t total;

    if (size < 1) {
        return 0;
    }
    opt.tail = data[0] & 1;
    opt.host_hint = (data[0] & 2) ? "FUZZ-NODE" : NULL;
    data++;
    size--;
    if (hvd_clusterlog_reader_open_mem(&r, "fuzz_cluster.log", data, size, &opt, NULL, &err) < 0) {
        return 0;
    }
    total = drain(r, 0, NULL);
    hvd_clusterlog_reader_close(r);

    r = NULL;
    if (hvd_clusterlog_reader_open_mem(&r, "fuzz_cluster.log", data, size, &opt, NULL, &err) < 0) {
        abort(); /* opened once, must open again */
    }
    drain(r, total / 2 ? total / 2 : 1, &token);
    hvd_clusterlog_reader_close(r);
    if (token) {
        opt.resume = token;
        r = NULL;
        if (hvd_clusterlog_reader_open_mem(&r, "fuzz_cluster.log", data, size, &opt, NULL, &err) <
            0) {
            abort(); /* a token the reader wrote must be accepted */
        }
        if (drain(r, 0, NULL) > total) {
            abort();
        }
        hvd_clusterlog_reader_close(r);
        free(token);
    }
    return 0;
}
