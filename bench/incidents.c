/*
 * bench-incidents: what one small file's commit costs as the store grows. A store is filled
 * with N synthetic diagnoses (bursts over many hosts and VMs, spread over days in
 * proportion to N, a few long-running ones and correlations) through the store API; then
 * FILES small files are committed one by one, each a few new diagnoses at the newest times
 * plus updates of recent ones, as hvdiagd does after each file. Each N runs in its own
 * child process; the result is the ratio of the per-file times for the two sizes.
 * usage: hvdiag-bench-incidents [SMALL_N [LARGE_N]]   (defaults 1000 and 100000)
 */
#define _DEFAULT_SOURCE
#include "store.h"

#include "hvtime.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOSTS        64
#define VMS_PER_HOST 20
#define FILES        40 /* small files timed per size */
#define FILE_NEW     20 /* new diagnoses per small file */
#define FILE_UPDATES 5  /* recent diagnoses that grow in each small file */
#define MINUTE       (60 * HVD_TICKS_PER_SECOND)
#define DAY          (24 * 60 * MINUTE)
#define EPOCH        (INT64_C(1704067200) * HVD_TICKS_PER_SECOND) /* 2024-01-01 */

struct gen {
    uint64_t rng;
    uint64_t serial;    /* makes keys unique */
    hvd_time span;      /* the filled store covers [EPOCH, EPOCH + span) */
    char (*recent)[96]; /* keys of the latest diagnoses, for updates */
    hvd_time *recent_first;
    size_t nrecent;
};

static uint64_t next(struct gen *g)
{
    uint64_t z = (g->rng += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t below(struct gen *g, uint64_t n)
{
    return next(g) % n;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One burst: 1-4 diagnoses of one subject within an hour, sometimes with a correlation
 * naming two of them. */
static int burst(hvd_store *st, struct gen *g, hvd_time at, hvd_error *err)
{
    static const char *const refs[] = {"https://example.invalid/kb"};
    unsigned host = (unsigned)below(g, HOSTS);
    unsigned vm = (unsigned)below(g, VMS_PER_HOST);
    unsigned shape = (unsigned)below(g, 10); /* 0-2 host, 3-5 name, 6-7 id, 8-9 both */
    unsigned n = 1 + (unsigned)below(g, 4);
    char keys[5][96];
    char host_name[32];
    char vm_name[32];
    char vm_id[48];
    int rc = HVD_OK;

    snprintf(host_name, sizeof(host_name), "HV%02u.corp.example", host);
    snprintf(vm_name, sizeof(vm_name), "vm-%02u-%02u", host, vm);
    snprintf(vm_id, sizeof(vm_id), "6f1c%04x-0000-4000-8000-%012x", host, vm);
    for (unsigned i = 0; rc == HVD_OK && i <= n; i++) {
        hvd_entity ents[3];
        hvd_evidence ev;
        hvd_diagnosis d;
        const char *related[2];
        size_t ne = 0;
        int correlation = i == n;

        if (correlation && (n < 2 || below(g, 10) != 0)) {
            break;
        }
        memset(&d, 0, sizeof(d));
        memset(&ev, 0, sizeof(ev));
        ents[ne++] = (hvd_entity){HVD_ENTITY_HOST, host_name};
        if (shape >= 3 && shape != 6 && shape != 7) {
            ents[ne++] = (hvd_entity){HVD_ENTITY_VM_NAME, vm_name};
        }
        if (shape >= 6) {
            ents[ne++] = (hvd_entity){HVD_ENTITY_VM_ID, vm_id};
        }
        snprintf(keys[i], sizeof(keys[i]), "rule-%u|%s|%" PRIu64, (unsigned)below(g, 70),
                 ne > 1 ? vm_name : host_name, g->serial++);
        d.key = keys[i];
        d.kind = correlation ? HVD_DIAGNOSIS_CORRELATION : HVD_DIAGNOSIS_SIGNATURE;
        d.rule_id = "rule";
        d.title = "Synthetic diagnosis";
        d.severity = (hvd_severity)(1 + below(g, 4));
        d.confidence = "high";
        d.cause = "cause";
        d.remedy = "remedy";
        d.references = refs;
        d.nreferences = 1;
        d.entities = ents;
        d.nentities = ne;
        d.first_time = at + (hvd_time)below(g, 60) * MINUTE;
        /* Most end within minutes; a few recur for days. */
        d.last_time = d.first_time + (below(g, 50) ? (hvd_time)below(g, 30) * MINUTE
                                                   : (hvd_time)(1 + below(g, 5)) * DAY);
        d.count = 1 + below(g, 5);
        if (correlation) {
            related[0] = keys[0];
            related[1] = keys[1];
            d.related = related;
            d.nrelated = 2;
        }
        ev.kind = HVD_SOURCE_EVTX;
        ev.source_path = "synthetic.evtx";
        ev.record_id = g->serial;
        ev.event_record_id = g->serial;
        ev.time = d.first_time;
        ev.host = host_name;
        ev.provider = "Microsoft-Windows-Hyper-V-Worker";
        ev.channel = "Microsoft-Windows-Hyper-V-Worker-Admin";
        ev.component = "";
        ev.event_id = 18590;
        ev.level = 2;
        ev.message = "synthetic evidence";
        d.evidence = &ev;
        d.nevidence = 1;
        rc = hvd_store_put_diagnosis(st, &d, NULL, err);
        if (rc == HVD_OK && !correlation) {
            size_t k = g->nrecent++ % 64;

            memcpy(g->recent[k], keys[i], sizeof(g->recent[k]));
            g->recent_first[k] = d.first_time;
        }
    }
    return rc;
}

/* Grows one of the recent diagnoses: same key, later last time, higher count. */
static int grow_recent(hvd_store *st, struct gen *g, hvd_time at, hvd_error *err)
{
    size_t k = (size_t)below(g, g->nrecent < 64 ? g->nrecent : 64);
    hvd_diagnosis d;

    memset(&d, 0, sizeof(d));
    d.key = g->recent[k];
    d.kind = HVD_DIAGNOSIS_SIGNATURE;
    d.rule_id = "rule";
    d.title = "Synthetic diagnosis";
    d.severity = HVD_SEVERITY_ERROR;
    d.confidence = "high";
    d.cause = "cause";
    d.remedy = "remedy";
    d.first_time = g->recent_first[k];
    d.last_time = at;
    d.count = 1000 + g->serial++;
    return hvd_store_put_diagnosis(st, &d, NULL, err);
}

/* Fills a store with n diagnoses, then times FILES small commits; returns ms per file
 * (median) or a negative number on failure. */
static double run(uint64_t n, double *fill_secs)
{
    char db[] = "/tmp/hvdiag-bench-incidents-XXXXXX";
    int fd = mkstemp(db);
    struct gen g;
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
    memset(&g, 0, sizeof(g));
    g.rng = 42;
    g.recent = calloc(64, sizeof(*g.recent));
    g.recent_first = calloc(64, sizeof(*g.recent_first));
    /* Five minutes of span per diagnosis: with ~1300 VM and 64 host subjects, a subject
     * sees a burst every few days whatever n is. */
    g.span = (hvd_time)n * 5 * MINUTE;
    rc = g.recent && g.recent_first ? hvd_store_open(&st, db, 0, &err) : HVD_ENOMEM;
    t0 = now();
    while (rc == HVD_OK && made < n) {
        uint64_t batch = made + 5000 < n ? made + 5000 : n;

        rc = hvd_store_begin(st, &err);
        while (rc == HVD_OK && made < batch) {
            rc = burst(st, &g, EPOCH + (hvd_time)made * 5 * MINUTE, &err);
            made = g.serial;
        }
        rc = rc == HVD_OK ? hvd_store_commit(st, &err) : rc;
    }
    *fill_secs = now() - t0;
    if (rc == HVD_OK) {
        rc = hvd_store_get_counts(st, &c, &err);
    }
    if (rc == HVD_OK) {
        printf("  %" PRId64 " diagnoses in %" PRId64 " incidents, filled in %.1f s\n", c.diagnoses,
               c.incidents, *fill_secs);
    }
    for (int f = 0; rc == HVD_OK && f < FILES; f++) {
        hvd_time at = EPOCH + g.span + (hvd_time)f * 10 * MINUTE;
        uint64_t stop = g.serial + FILE_NEW;
        double t1 = now();

        rc = hvd_store_begin(st, &err);
        while (rc == HVD_OK && g.serial < stop) {
            rc = burst(st, &g, at, &err);
        }
        for (int u = 0; rc == HVD_OK && u < FILE_UPDATES; u++) {
            rc = grow_recent(st, &g, at + 30 * MINUTE, &err);
        }
        rc = rc == HVD_OK ? hvd_store_commit(st, &err) : rc;
        times[f] = (now() - t1) * 1000.0;
    }
    if (rc < 0) {
        fprintf(stderr, "bench-incidents: %s\n", err.msg);
    }
    hvd_store_close(st);
    unlink(db);
    free(g.recent);
    free(g.recent_first);
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
