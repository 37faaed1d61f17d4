/*
 * bench-storm: what correlation costs when many cluster roles fail at once, and what
 * priming an engine with stored diagnoses costs.
 *
 * 1. For each N, DIR/storm-N.evtx (N roles failing, made by stormgen) and
 *    DIR/control-N.evtx (as many events that no rule matches) are each read into a fresh
 *    store (reader, rule engine, store: what a daemon worker does with a file), in a child
 *    process, REPEAT times; the least CPU time (user + system) of each is shown, with
 *    storm minus control (what matching and correlating cost) and its growth per doubling
 *    of N. Linear work grows 2x per doubling. The repetitions go round the sizes (every
 *    file once, then again), so a spell of other work on the machine slows one round of
 *    all sizes rather than every run of one size.
 * 2. An engine is given 5,000, 10,000 and 20,000 stored diagnoses newest first, as the
 *    store's loader gives them after a restart: of one signature that fired every minute
 *    (one group, a quiet period each), and as many correlation members on one host (all
 *    filed under one join value). Growth per doubling.
 *
 * Prints a verdict line per target: storm minus control grows at most 2.2x per doubling,
 * and the largest storm is read in under 2 s of CPU.
 * usage: hvdiag-bench-storm DIR RULES_DIR N...   (N ascending, each twice the one before)
 */
#define _DEFAULT_SOURCE
#include "engine.h"
#include "hvtime.h"
#include "ingest.h"
#include "rules.h"
#include "store.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPEAT      9
#define MAX_SIZES   16
#define MAX_GROWTH  2.2
#define MAX_SECONDS 2.0
#define MINUTE      (60 * HVD_TICKS_PER_SECOND)
#define EPOCH       (INT64_C(1709949600) * HVD_TICKS_PER_SECOND) /* 2024-03-09 02:00 */

static double cpu_of(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

/* Reads path into a fresh store; returns the number of diagnoses stored, or -1. */
static long read_one(const char *path, const char *rules)
{
    hvd_ingest_options opt = {0};
    char db[] = "/tmp/hvdiag-bench-storm-XXXXXX";
    int fd = mkstemp(db);
    hvd_ruleset *rs = NULL;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_store_counts counts = {0};
    hvd_error err;
    long n = -1;

    if (fd < 0) {
        return -1;
    }
    close(fd);
    unlink(db);
    xmlInitParser();
    if (hvd_ruleset_load(&rs, rules, NULL, NULL, &err) < 0 ||
        hvd_store_open(&st, db, 0, &err) < 0 || hvd_ingest_create(&ing, st, rs, NULL, &err) < 0 ||
        hvd_ingest_file(ing, path, NULL, &opt, &res, &err) < 0 ||
        hvd_ingest_finish(ing, NULL, &err) < 0 || hvd_store_get_counts(st, &counts, &err) < 0) {
        fprintf(stderr, "bench-storm: %s\n", err.msg);
    } else {
        n = (long)counts.diagnoses;
    }
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    hvd_ruleset_destroy(rs);
    unlink(db);
    return n;
}

static int drop(void *ud, const hvd_diagnosis *d)
{
    (void)ud;
    (void)d;
    return HVD_OK;
}

/* Primes a new engine with k stored diagnoses, newest first: of one signature that fired
 * every minute (members 0), or k correlation members on one host (members 1). Returns the
 * CPU time priming took in microseconds (loading the rules left out), or -1. */
static int prime_many(const char *rules, long k, int members)
{
    hvd_ruleset *rs = NULL;
    hvd_engine *e = NULL;
    hvd_error err;
    char key[128];
    char group[32];
    struct timespec t0;
    struct timespec t1;
    int rc = 0;

    xmlInitParser();
    if (hvd_ruleset_load(&rs, rules, NULL, NULL, &err) < 0 ||
        hvd_engine_create(&e, rs, drop, NULL, &err) < 0) {
        fprintf(stderr, "bench-storm: %s\n", err.msg);
        hvd_ruleset_destroy(rs);
        return -1;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (long i = k - 1; i >= 0 && rc == 0; i--) {
        hvd_time t = EPOCH + i * MINUTE;
        hvd_entity host[] = {{"host", "HV-NODE01.contoso.local"}};
        hvd_entity role[] = {{"host", "HV-NODE01.contoso.local"}, {"group", group}};

        if (!members) {
            /* cl-log-begin is quiet for a minute: one group, a period a minute. */
            snprintf(key, sizeof(key), "cl-log-begin\x1fhv-node01.contoso.local\x1f@%ld", i);
            rc = hvd_engine_prime(e, "cl-log-begin", key, host, 1, t, t, 1, &err);
        } else {
            snprintf(group, sizeof(group), "VM%06ld", i);
            snprintf(key, sizeof(key), "fc-resource-failed\x1f%s\x1f@%ld", group, i);
            rc = hvd_engine_prime(e, "fc-resource-failed", key, role, 2, t, t, 1, &err);
        }
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    if (rc < 0) {
        fprintf(stderr, "bench-storm: %s\n", err.msg);
    }
    hvd_engine_destroy(e);
    hvd_ruleset_destroy(rs);
    return rc < 0 ? -1 : (long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
}

/* Runs one job in a child; returns its result (or -1) and the child's CPU seconds. */
static long child(const char *path, const char *rules, long prime, int members, double *cpu)
{
    struct rusage ru;
    int fds[2];
    long n = -1;
    int status;
    pid_t pid;

    if (pipe(fds) < 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        n = path ? read_one(path, rules) : prime_many(rules, prime, members);
        _exit(write(fds[1], &n, sizeof(n)) == (ssize_t)sizeof(n) ? 0 : 1);
    }
    close(fds[1]);
    if (pid < 0 || read(fds[0], &n, sizeof(n)) != (ssize_t)sizeof(n)) {
        n = -1;
    }
    close(fds[0]);
    if (pid > 0) {
        wait4(pid, &status, 0, &ru);
        *cpu = cpu_of(&ru);
    }
    return n;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The least CPU time of REPEAT runs (what other work on the machine adds to a run is
 * never negative): of the whole child reading a file, of priming alone. *result is the
 * last run's result. */
static double least(const char *path, const char *rules, long prime, int members, long *result)
{
    double t[REPEAT];

    for (int i = 0; i < REPEAT; i++) {
        t[i] = 0;
        *result = child(path, rules, prime, members, &t[i]);
        if (*result < 0) {
            return -1;
        }
        if (!path) {
            t[i] = (double)*result / 1e6; /* priming's own time */
        }
    }
    qsort(t, REPEAT, sizeof(t[0]), by_value);
    return t[0];
}

int main(int argc, char **argv)
{
    long sizes[MAX_SIZES];
    double storm[MAX_SIZES];
    double control[MAX_SIZES];
    long diags[MAX_SIZES];
    double growth = 0;
    int n = argc - 3;
    int ok = 1;
    char path[4096];

    if (argc < 4 || n > MAX_SIZES) {
        fprintf(stderr, "usage: hvdiag-bench-storm DIR RULES_DIR N...\n");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        sizes[i] = strtol(argv[3 + i], NULL, 10);
        storm[i] = control[i] = -1;
    }
    for (int r = 0; r < REPEAT; r++) {
        for (int i = 0; i < n; i++) {
            double t = 0;

            snprintf(path, sizeof(path), "%s/storm-%ld.evtx", argv[1], sizes[i]);
            diags[i] = child(path, argv[2], 0, 0, &t);
            if (diags[i] < 0) {
                fprintf(stderr, "bench-storm: cannot read %s\n", path);
                return 1;
            }
            storm[i] = storm[i] < 0 || t < storm[i] ? t : storm[i];
            snprintf(path, sizeof(path), "%s/control-%ld.evtx", argv[1], sizes[i]);
            if (child(path, argv[2], 0, 0, &t) < 0) {
                fprintf(stderr, "bench-storm: cannot read %s\n", path);
                return 1;
            }
            control[i] = control[i] < 0 || t < control[i] ? t : control[i];
        }
    }
    printf("%6s %10s %12s %12s %14s %8s\n", "roles", "diagnoses", "storm CPU s", "control s",
           "storm-control", "growth");
    for (int i = 0; i < n; i++) {
        printf("%6ld %10ld %12.3f %12.3f %14.3f", sizes[i], diags[i], storm[i], control[i],
               storm[i] - control[i]);
        if (i > 0 && storm[i - 1] - control[i - 1] > 0) {
            double g = (storm[i] - control[i]) / (storm[i - 1] - control[i - 1]);

            growth = g > growth ? g : growth;
            printf(" %7.2fx", g);
        }
        printf("\n");
    }
    fflush(stdout);
    if (n > 1) {
        printf("storm: largest growth per doubling %.2fx (target <= %.1fx): %s\n", growth,
               MAX_GROWTH, growth <= MAX_GROWTH ? "ok" : "MISSED");
    }
    printf("storm: %ld roles read in %.3f s CPU (target < %.0f s): %s\n", sizes[n - 1],
           storm[n - 1], MAX_SECONDS, storm[n - 1] < MAX_SECONDS ? "ok" : "MISSED");
    ok = growth <= MAX_GROWTH && storm[n - 1] < MAX_SECONDS;

    printf("\n%8s %20s %8s %20s %8s\n", "primed", "one signature CPU s", "growth", "members CPU s",
           "growth");
    {
        double last[2] = {0, 0};

        for (long k = 5000; k <= 20000; k *= 2) {
            printf("%8ld", k);
            for (int members = 0; members < 2; members++) {
                long r = 0;
                double t = least(NULL, argv[2], k, members, &r);

                if (t < 0) {
                    return 1;
                }
                printf(" %20.3f", t);
                if (last[members] > 0) {
                    printf(" %7.2fx", t / last[members]);
                } else {
                    printf(" %8s", "");
                }
                last[members] = t;
            }
            printf("\n");
            fflush(stdout);
        }
    }
    return ok ? 0 : 1;
}
