/*
 * bench-incidents: what one small file's commit costs as the store grows. A store is filled
 * with N synthetic diagnoses (synth.h: bursts over many hosts and VMs, spread over days in
 * proportion to N, a few long-running ones and correlations) through the store API; then
 * FILES small files are committed one by one, each a few new diagnoses at the newest times
 * plus updates of recent ones, as hvdiagd does after each file. Each N runs in its own
 * child process; the result is the ratio of the per-file times for the two sizes.
 * usage: hvdiag-bench-incidents [SMALL_N [LARGE_N]]   (defaults 1000 and 100000)
 */
#define _DEFAULT_SOURCE
#include "store.h"
#include "synth.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FILES        40 /* small files timed per size */
#define FILE_NEW     20 /* new diagnoses per small file */
#define FILE_UPDATES 5  /* recent diagnoses that grow in each small file */
#define MINUTE       SYNTH_MINUTE

/* Fills a store with n diagnoses, then times FILES small commits; returns ms per file
 * (median) or a negative number on failure. */
static double run(uint64_t n, double *fill_secs)
{
    char db[] = "/tmp/hvdiag-bench-incidents-XXXXXX";
    int fd = mkstemp(db);
    synth g;
    hvd_time span;
    hvd_store *st = NULL;
    hvd_error err;
    hvd_store_counts c;
    double times[FILES];
    double t0;
    uint64_t made = 0;
    int rc;

    if (fd < 0) {
        return -1;
    }
    close(fd);
    unlink(db);
    synth_init(&g, 42);
    /* Five minutes of span per diagnosis: with ~1300 VM and 64 host subjects, a subject
     * sees a burst every few days whatever n is. */
    span = (hvd_time)n * 5 * MINUTE;
    rc = hvd_store_open(&st, db, 0, &err);
    t0 = synth_now();
    while (rc == HVD_OK && made < n) {
        uint64_t batch = made + 5000 < n ? made + 5000 : n;

        rc = hvd_store_begin(st, &err);
        while (rc == HVD_OK && made < batch) {
            rc = synth_burst(st, &g, SYNTH_EPOCH + (hvd_time)made * 5 * MINUTE, &err);
            made = g.serial;
        }
        rc = rc == HVD_OK ? hvd_store_commit(st, &err) : rc;
    }
    *fill_secs = synth_now() - t0;
    if (rc == HVD_OK) {
        rc = hvd_store_get_counts(st, &c, &err);
    }
    if (rc == HVD_OK) {
        printf("  %" PRId64 " diagnoses in %" PRId64 " incidents, filled in %.1f s\n", c.diagnoses,
               c.incidents, *fill_secs);
    }
    for (int f = 0; rc == HVD_OK && f < FILES; f++) {
        hvd_time at = SYNTH_EPOCH + span + (hvd_time)f * 10 * MINUTE;
        uint64_t stop = g.serial + FILE_NEW;
        double t1 = synth_now();

        rc = hvd_store_begin(st, &err);
        while (rc == HVD_OK && g.serial < stop) {
            rc = synth_burst(st, &g, at, &err);
        }
        for (int u = 0; rc == HVD_OK && u < FILE_UPDATES; u++) {
            rc = synth_grow_recent(st, &g, at + 30 * MINUTE, &err);
        }
        rc = rc == HVD_OK ? hvd_store_commit(st, &err) : rc;
        times[f] = (synth_now() - t1) * 1000.0;
    }
    if (rc < 0) {
        fprintf(stderr, "bench-incidents: %s\n", err.msg);
    }
    hvd_store_close(st);
    unlink(db);
    if (rc < 0) {
        return -1;
    }
    /* Median: a checkpoint now and then should not decide the result. */
    for (int i = 1; i < FILES; i++) {
        for (int j = i; j > 0 && times[j - 1] > times[j]; j--) {
            double t = times[j];

            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    }
    return times[FILES / 2];
}

/* Runs one size in a child; returns ms per file or a negative number. */
static double phase(uint64_t n)
{
    int pipefd[2];
    pid_t pid;
    int status;
    struct rusage ru;
    double ms = -1;
    double fill = 0;

    if (pipe(pipefd) < 0) {
        return -1;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        ms = run(n, &fill);
        fflush(stdout);
        if (write(pipefd[1], &ms, sizeof(ms)) != (ssize_t)sizeof(ms)) {
            _exit(1);
        }
        _exit(0);
    }
    close(pipefd[1]);
    if (read(pipefd[0], &ms, sizeof(ms)) != (ssize_t)sizeof(ms)) {
        ms = -1;
    }
    close(pipefd[0]);
    wait4(pid, &status, 0, &ru);
    printf("store of %7" PRIu64 " diagnoses: %8.2f ms per small file (median of %d)"
           "  peak RSS %ld MiB\n",
           n, ms, FILES, ru.ru_maxrss / 1024);
    fflush(stdout);
    return ms;
}

int main(int argc, char **argv)
{
    uint64_t small = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
    uint64_t large = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    double a;
    double b;

    if (argc > 3 || small == 0 || large == 0) {
        fprintf(stderr, "usage: hvdiag-bench-incidents [SMALL_N [LARGE_N]]\n");
        return 2;
    }
    a = phase(small);
    b = phase(large);
    if (a <= 0 || b <= 0) {
        return 1;
    }
    printf("commit of one small file: %" PRIu64 " / %" PRIu64 " diagnoses stored = %.1fx\n", large,
           small, b / a);
    return 0;
}
