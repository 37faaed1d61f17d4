/*
 * libFuzzer target for the cluster.log surface: the input is a whole file, read from memory
 * as it is (so seeds are plain cluster.log files), once as a complete file and once tailed;
 * the input's length picks whether a host hint is given. In each mode the position token
 * taken before the first event, halfway and at the end must be accepted on resume and give
 * exactly the events that followed it. Then once more with a prefilter (a few literals for
 * every line, a few more for [System] and [Operational] events): it counts the same events,
 * each event it returns is the one read without it, and it returns every event whose
 * message holds one of its literals.
 */
#include "clusterlog_reader.h"
#include "fuzz_util.h"
#include "prefilter.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static const char *const line_lits[] = {"heartbeat", "[RCM]", "failed", "0x8007"};
static const char *const tagged_lits[] = {"quorum", "witness", "Knoten"};
static const char *const tags[] = {"System", "Operational"};

static const hvd_line_prefilter *the_prefilter(const void *arg)
{
    static hvd_line_prefilter lp;
    static hvd_prefilter *lines, *tagged;

    (void)arg;
    if (!lines) {
        if (hvd_prefilter_create(&lines, line_lits, sizeof(line_lits) / sizeof(line_lits[0]),
                                 NULL) < 0 ||
            hvd_prefilter_create(&tagged, tagged_lits, sizeof(tagged_lits) / sizeof(tagged_lits[0]),
                                 NULL) < 0) {
            abort();
        }
        lp.lines = lines;
        lp.tagged = tagged;
        lp.tags = tags;
        lp.ntags = sizeof(tags) / sizeof(tags[0]);
    }
    return &lp;
}

struct seen_event {
    uint64_t line;
    hvd_time time;
    uint64_t hash;
    int must; /* its message holds a literal: the prefilter must return it */
};

static uint64_t text_hash(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return (h ^ 0xff) * 1099511628211u;
}

/* Whether msg holds one of the literals, ASCII case ignored. Cost: O(len * literals). */
static int holds_any(const char *msg, const char *const *lits, size_t n)
{
    for (const char *p = msg; *p; p++) {
        for (size_t i = 0; i < n; i++) {
            if (strncasecmp(p, lits[i], strlen(lits[i])) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* Reads every event into *out (malloc'd); returns how many, or SIZE_MAX when not opened. */
static size_t collect(const uint8_t *data, size_t size, const hvd_source_options *opt,
                      struct seen_event **out, uint64_t *counted)
{
    hvd_clusterlog_reader *r = NULL;
    hvd_event ev;
    hvd_error err;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    if (hvd_clusterlog_reader_open_mem(&r, "fuzz_cluster.log", data, size, opt, NULL, &err) < 0) {
        return SIZE_MAX;
    }
    while ((rc = hvd_clusterlog_reader_next(r, &ev, &err)) > 0) {
        int tagged = 0;

        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            *out = realloc(*out, cap * sizeof(**out));
            if (!*out) {
                abort();
            }
        }
        for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
            tagged |= strcasecmp(ev.channel, tags[i]) == 0;
        }
        (*out)[n].line = ev.line;
        (*out)[n].time = ev.time;
        (*out)[n].hash = text_hash(
            text_hash(text_hash(1469598103934665603u, ev.message), ev.channel), ev.component);
        (*out)[n].must =
            holds_any(ev.message, line_lits, sizeof(line_lits) / sizeof(line_lits[0])) ||
            (tagged &&
             holds_any(ev.message, tagged_lits, sizeof(tagged_lits) / sizeof(tagged_lits[0])));
        n++;
    }
    if (rc < 0) {
        abort();
    }
    *counted = hvd_clusterlog_reader_stats(r)->events;
    hvd_clusterlog_reader_close(r);
    return n;
}

static void prefilter_mode(const uint8_t *data, size_t size, const hvd_source_options *base)
{
    hvd_source_options opt = *base;
    struct seen_event *all = NULL, *some = NULL;
    uint64_t n_all_counted = 0, n_some_counted = 0;
    size_t n_all, n_some, j = 0;

    n_all = collect(data, size, &opt, &all, &n_all_counted);
    opt.prefilter = the_prefilter;
    n_some = collect(data, size, &opt, &some, &n_some_counted);
    if (n_all == SIZE_MAX || n_some == SIZE_MAX) {
        if (n_all != n_some) {
            abort(); /* opened once, must open again */
        }
        return;
    }
    if (n_all_counted != n_some_counted) {
        abort(); /* passed over, an event still counts */
    }
    /* some is a subsequence of all, holding every event that must be there. */
    for (size_t i = 0; i < n_all; i++) {
        if (j < n_some && some[j].line == all[i].line) {
            if (some[j].time != all[i].time || some[j].hash != all[i].hash) {
                abort(); /* read whole, as without a prefilter */
            }
            j++;
        } else if (all[i].must) {
            abort(); /* the prefilter lost an event holding one of its literals */
        }
    }
    if (j != n_some) {
        abort(); /* an event the full read did not give */
    }
    free(all);
    free(some);
    one_mode(data, size, &opt); /* resuming, with the prefilter */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hvd_source_options opt = {0};

    opt.host_hint = size % 3 == 0 ? "FUZZ-NODE" : NULL;
    for (int tail = 0; tail <= 1; tail++) {
        opt.tail = tail;
        one_mode(data, size, &opt);
        prefilter_mode(data, size, &opt);
    }
    return 0;
}
