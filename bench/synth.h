/*
 * Synthetic diagnoses for the benches that need a large store (bench-query,
 * bench-incidents): bursts over SYNTH_HOSTS hosts with SYNTH_VMS_PER_HOST VMs each and
 * SYNTH_RULES rules, each one to four diagnoses of one subject within an hour (by host,
 * VM name, VM id or both), one or two evidence events each, a few running for days, and
 * now and then a correlation naming two of them. The same seed gives the same diagnoses.
 */
#ifndef HVD_BENCH_SYNTH_H
#define HVD_BENCH_SYNTH_H

#include "hvtime.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

#define SYNTH_HOSTS        64
#define SYNTH_VMS_PER_HOST 20
#define SYNTH_RULES        70
#define SYNTH_RECENT       64 /* signature diagnoses remembered for synth_grow_recent() */
#define SYNTH_MINUTE       (60 * HVD_TICKS_PER_SECOND)
#define SYNTH_DAY          (24 * 60 * SYNTH_MINUTE)
#define SYNTH_EPOCH        (INT64_C(1704067200) * HVD_TICKS_PER_SECOND) /* 2024-01-01 */

typedef struct synth {
    uint64_t rng;
    uint64_t serial;               /* diagnoses made; makes keys unique */
    char recent[SYNTH_RECENT][96]; /* keys */
    char recent_rule[SYNTH_RECENT][32];
    hvd_time recent_first[SYNTH_RECENT];
    size_t nrecent; /* signature diagnoses made, the last SYNTH_RECENT of them kept */
} synth;

void synth_init(synth *g, uint64_t seed);
/* A number in [0, n) (splitmix64). */
uint64_t synth_below(synth *g, uint64_t n);
/* Puts one burst starting at 'at' into st (in the caller's transaction). Returns HVD_OK or
 * the store's error. */
int synth_burst(hvd_store *st, synth *g, hvd_time at, hvd_error *err);
/* Grows one of the recent signature diagnoses: same key, last time 'at', a higher count. */
int synth_grow_recent(hvd_store *st, synth *g, hvd_time at, hvd_error *err);
/* Seconds on the monotonic clock. */
double synth_now(void);

#endif
