/*
 * libFuzzer target for the cluster.log surface: the input is a whole file, read from memory
 * as it is (so seeds are plain cluster.log files), once as a complete file and once tailed;
 * the input's length picks whether a host hint is given. In each mode the position token
 * taken before the first event, halfway and at the end must be accepted on resume and give
 * exactly the events that followed it.
 */
#include "clusterlog_reader.h"
#include "fuzz_util.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Reads up to stop_at events (all when 0); *token gets the position after them. */
static uint64_t drain(hvd_clusterlog_reader *r, uint64_t stop_at, char **token)
{
    hvd_event ev;
    hvd_error err;
    uint64_t n = 0;
    int rc = 1;

    while ((!stop_at || n < stop_at) && (rc = hvd_clusterlog_reader_next(r, &ev, &err)) > 0) {
        /* Touch every string the contract promises. */
        if (strlen(ev.message) + strlen(ev.host) + strlen(ev.component) + strlen(ev.channel) +
                strlen(ev.level_word) ==
            (size_t)-1) {
            abort();
        }
        n++;
    }
    if (rc < 0) {
        abort(); /* a memory reader only fails when memory runs out */
    }
    if (token) {
        *token = strdup(hvd_clusterlog_reader_position(r));
    }
    return n;
}

static void one_mode(const uint8_t *data, size_t size, const hvd_source_options *base)
{
    hvd_source_options opt = *base;
    hvd_clusterlog_reader *r = NULL;
    hvd_error err;
    uint64_t total;

    if (hvd_clusterlog_reader_open_mem(&r, "fuzz_cluster.log", data, size, &opt, NULL, &err) < 0) {
        return;
    }
    total = drain(r, 0, NULL);
    hvd_clusterlog_reader_close(r);
    for (int k = 0; k < 3; k++) {
        uint64_t at = k == 0 ? 0 : k == 1 ? total / 2 : total;
        char *token = NULL;

        opt.resume = NULL;
        if (hvd_clusterlog_reader_open_mem(&r, "fuzz_cluster.log", data, size, &opt, NULL, &err) <
            0) {
            abort(); /* opened once, must open again */
        }
        if (at) {
            drain(r, at, &token);
        } else {
            token = strdup(hvd_clusterlog_reader_position(r));
        }
        hvd_clusterlog_reader_close(r);
        if (!token) {
            return;
        }
        opt.resume = token;
        if (hvd_clusterlog_reader_open_mem(&r, "fuzz_cluster.log", data, size, &opt, NULL, &err) <
            0) {
            abort(); /* a token the reader wrote must be accepted */
        }
        if (drain(r, 0, NULL) != total - at) {
            abort(); /* and give exactly the events after it */
        }
        hvd_clusterlog_reader_close(r);
        free(token);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hvd_source_options opt = {0};

    opt.host_hint = size % 3 == 0 ? "FUZZ-NODE" : NULL;
    for (int tail = 0; tail <= 1; tail++) {
        opt.tail = tail;
        one_mode(data, size, &opt);
    }
    return 0;
}
