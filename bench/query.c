/*
 * bench-query: what 'hvdiag query' costs on a large store. A store of N synthetic diagnoses
 * (default 1,000,000: bursts over 64 hosts with 20 VMs each, 70 rules, one or two evidence
 * events each, a few long-running diagnoses and correlations, grouped into incidents) is
 * made through the store API in one transaction, or reused when --keep names a store that
 * holds N diagnoses already. Then each question runs as its own process, as a user runs
 * it, RUNS times; the median minus the median of 'hvdiag --version' (process start) is
 * what the question costs. Where valgrind runs, each is also counted in instructions
 * (callgrind, once), which load on a shared machine does not change.
 * usage: hvdiag-bench-query [--keep STORE] [--diagnoses N] [--runs R] HVDIAG
 */
#define _DEFAULT_SOURCE
#include "store.h"
#include "synth.h"

#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS_MAX  101
#define TARGET_MS 5.0 /* above process start */

extern char **environ;

/* Makes a store of n diagnoses at path (a new file). One transaction: its commit groups
 * all of them into incidents in one pass. */
static int fill(const char *path, uint64_t n, hvd_error *err)
{
    synth g;
    hvd_store *st = NULL;
    double t0 = synth_now();
    double t1;
    int rc = hvd_store_open(&st, path, 0, err);

    synth_init(&g, 42);
    rc = rc == HVD_OK ? hvd_store_begin(st, err) : rc;
    while (rc == HVD_OK && g.serial < n) {
        /* about one diagnosis a minute: two years of a 1,280-VM estate at 1,000,000 */
        rc = synth_burst(st, &g, SYNTH_EPOCH + (hvd_time)g.serial * SYNTH_MINUTE, err);
    }
    t1 = synth_now();
    rc = rc == HVD_OK ? hvd_store_commit(st, err) : rc;
    hvd_store_close(st);
    if (rc == HVD_OK) {
        printf("  made %" PRIu64 " diagnoses in %.1f s (%.1f s of it grouping and writing at"
               " commit)\n",
               g.serial, synth_now() - t0, synth_now() - t1);
    }
    return rc;
}

/* Opens the store at path, making it first when it is missing or holds other than about n
 * diagnoses (a burst may overshoot by a few). */
static int prepare(const char *path, uint64_t n, hvd_store **st, hvd_error *err)
{
    hvd_store_counts c;
    struct stat sb;
    char tmp[4096];
    int rc;

    if (stat(path, &sb) == 0) {
        /* opened for writing: a store kept by an older build is migrated once */
        rc = hvd_store_open(st, path, 0, err);
        rc = rc == HVD_OK ? hvd_store_get_counts(*st, &c, err) : rc;
        if (rc == HVD_OK && (uint64_t)c.diagnoses >= n && (uint64_t)c.diagnoses < n + 8) {
            printf("  reusing %s\n", path);
            return HVD_OK;
        }
        hvd_store_close(*st);
        *st = NULL;
        fprintf(stderr, "bench-query: %s is not a store of %" PRIu64 " diagnoses; remaking it\n",
                path, n);
    }
    /* Made under another name and renamed, so an interrupted run leaves nothing to reuse. */
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp)) {
        return hvd_error_set(err, HVD_EINVAL, path, 0, "path too long");
    }
    unlink(tmp);
    rc = fill(tmp, n, err);
    if (rc == HVD_OK && rename(tmp, path) != 0) {
        rc = hvd_error_set(err, HVD_EIO, path, 0, "cannot rename the new store");
    }
    return rc == HVD_OK ? hvd_store_open(st, path, HVD_STORE_READONLY, err) : rc;
}

struct timing {
    double wall; /* ms, start to exit */
    double cpu;  /* ms, user + system */
};

/* Runs argv once as a process, output to /dev/null. Returns 0, or -1 when it could not run
 * or failed. */
static int run_once(char *const argv[], struct timing *t)
{
    posix_spawn_file_actions_t fa;
    struct rusage ru;
    pid_t pid;
    int status = 0;
    double t0 = synth_now();
    int ok;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    ok = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0 &&
         wait4(pid, &status, 0, &ru) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    posix_spawn_file_actions_destroy(&fa);
    t->wall = (synth_now() - t0) * 1000.0;
    t->cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
             (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
    return ok ? 0 : -1;
}

static int by_value(const void *x, const void *y)
{
    double a = *(const double *)x;
    double b = *(const double *)y;

    return (a > b) - (a < b);
}

/* The medians of runs of argv (wall and CPU, apart), or -1 in wall. One unmeasured run
 * first warms the caches. */
static struct timing median(char *const argv[], int runs)
{
    double wall[RUNS_MAX];
    double cpu[RUNS_MAX];
    struct timing t = {-1, -1};

    if (run_once(argv, &t) < 0) {
        t.wall = -1;
        return t;
    }
    for (int i = 0; i < runs; i++) {
        if (run_once(argv, &t) < 0) {
            t.wall = -1;
            return t;
        }
        wall[i] = t.wall;
        cpu[i] = t.cpu;
    }
    qsort(wall, (size_t)runs, sizeof(wall[0]), by_value);
    qsort(cpu, (size_t)runs, sizeof(cpu[0]), by_value);
    t.wall = wall[runs / 2];
    t.cpu = cpu[runs / 2];
    return t;
}

/* Millions of instructions argv runs (callgrind's count: load on a shared machine does not
 * change it, unlike times), or -1 when valgrind cannot run it. */
static double instructions(char *const argv[])
{
    char file[64];
    char opt[96];
    char line[256];
    char *vg[24] = {"valgrind", "--tool=callgrind", opt};
    posix_spawn_file_actions_t fa;
    unsigned long long total = 0;
    pid_t pid;
    int status = 0;
    int ok;
    FILE *in;

    snprintf(file, sizeof(file), "/tmp/hvdiag-bench-query-%ld.cg", (long)getpid());
    snprintf(opt, sizeof(opt), "--callgrind-out-file=%s", file);
    for (size_t i = 0; argv[i] && i + 4 < sizeof(vg) / sizeof(vg[0]); i++) {
        vg[i + 3] = argv[i];
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    ok = posix_spawnp(&pid, "valgrind", &fa, NULL, vg, environ) == 0 &&
         waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    posix_spawn_file_actions_destroy(&fa);
    in = ok ? fopen(file, "r") : NULL;
    while (in && fgets(line, sizeof(line), in)) {
        if (strncmp(line, "totals: ", 8) == 0) {
            total = strtoull(line + 8, NULL, 10);
        }
    }
    if (in) {
        fclose(in);
    }
    unlink(file);
    return total ? (double)total / 1e6 : -1;
}

static int first_incident(void *ud, const hvd_incident *in)
{
    *(int64_t *)ud = in->id;
    return 1;
}

int main(int argc, char **argv)
{
    const char *keep = getenv("HVDIAG_BENCH_STORE");
    const char *hvdiag = NULL;
    uint64_t n = 1000000;
    int runs = 20;
    char path[4096];
    char incident[32];
    hvd_incident_filter f;
    hvd_store *st = NULL;
    hvd_error err;
    int64_t inc = 0;
    struct timing base;
    double base_ir;
    int missed = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc) {
            keep = argv[++i];
        } else if (strcmp(argv[i], "--diagnoses") == 0 && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = (int)strtol(argv[++i], NULL, 10);
        } else if (argv[i][0] != '-' && !hvdiag) {
            hvdiag = argv[i];
        } else {
            hvdiag = NULL;
            break;
        }
    }
    if (!hvdiag || n == 0 || runs < 1 || runs > RUNS_MAX - 1) {
        fprintf(stderr, "usage: hvdiag-bench-query [--keep STORE] [--diagnoses N] [--runs R]"
                        " HVDIAG\n(or HVDIAG_BENCH_STORE=STORE: kept and reused)\n");
        return 2;
    }
    if (keep) {
        snprintf(path, sizeof(path), "%s", keep);
    } else {
        snprintf(path, sizeof(path), "/tmp/hvdiag-bench-query-%ld.db", (long)getpid());
    }
    rc = prepare(path, n, &st, &err);
    memset(&f, 0, sizeof(f));
    f.vm = "vm-07-03";
    f.limit = 1;
    rc = rc == HVD_OK ? hvd_store_incidents(st, &f, first_incident, &inc, &err) : rc;
    hvd_store_close(st);
    if (rc < 0 || inc == 0) {
        fprintf(stderr, "bench-query: %s\n", rc < 0 ? err.msg : "no incident of vm-07-03");
        return 1;
    }
    snprintf(incident, sizeof(incident), "%" PRId64, inc);
    {
        char *version[] = {(char *)hvdiag, "--version", NULL};
        /* Each question: a name for the table, then the arguments after '--db STORE'. */
        static const struct {
            const char *name;
            const char *args[8];
        } q[] = {
            {"query --vm (present)", {"--vm", "vm-07-03"}},
            {"query --vm (absent)", {"--vm", "vm-absent"}},
            {"query --host (present)", {"--host", "HV07"}},
            {"query --host (absent)", {"--host", "HV99"}},
            {"query --host FQDN", {"--host", "HV07.corp.example"}},
            {"query --rule (present)", {"--rule", "hyperv.rule-07"}},
            {"query --rule (absent)", {"--rule", "hyperv.rule-99"}},
            {"query --host --rule", {"--host", "HV07", "--rule", "hyperv.rule-07"}},
            {"query --since/--until (a day)",
             {"--since", "2025-01-01T00:00:00Z", "--until", "2025-01-02T00:00:00Z"}},
            {"query --host --since/--until (a day)",
             {"--host", "HV07", "--since", "2025-01-01T00:00:00Z", "--until",
              "2025-01-02T00:00:00Z"}},
            {"query --rule --since/--until (a day)",
             {"--rule", "hyperv.rule-07", "--since", "2025-01-01T00:00:00Z", "--until",
              "2025-01-02T00:00:00Z"}},
            {"query --rule --until (early)",
             {"--rule", "hyperv.rule-07", "--until", "2024-03-01T00:00:00Z"}},
            {"query --host --rule --until (early)",
             {"--host", "HV07", "--rule", "hyperv.rule-07", "--until", "2024-06-01T00:00:00Z"}},
            {"query --host --since (last weeks)",
             {"--host", "HV07", "--since", "2025-11-01T00:00:00Z"}},
            {"query incident N", {"incident", "@"}},
            {"query diagnoses --vm (present)", {"diagnoses", "--vm", "vm-07-03"}},
            {"query diagnoses --vm (absent)", {"diagnoses", "--vm", "vm-absent"}},
            {"query diagnoses --host (present)", {"diagnoses", "--host", "HV07"}},
            {"query diagnoses --rule (present)", {"diagnoses", "--rule", "hyperv.rule-07"}},
            {"query diagnoses --host --rule",
             {"diagnoses", "--host", "HV07", "--rule", "hyperv.rule-07"}},
            {"query diagnoses --rule --since/--until",
             {"diagnoses", "--rule", "hyperv.rule-07", "--since", "2025-01-01T00:00:00Z", "--until",
              "2025-01-02T00:00:00Z"}},
        };

        base = median(version, runs);
        base_ir = instructions(version);
        if (base.wall < 0) {
            fprintf(stderr, "bench-query: %s --version failed\n", hvdiag);
            rc = -1;
        }
        printf("store of %" PRIu64 " diagnoses; median of %d runs; process start"
               " (hvdiag --version) %.2f ms, %.2f ms CPU, %.1f M instructions\n",
               n, runs, base.wall, base.cpu, base_ir);
        printf("  %-40s %9s %10s %9s %10s %9s\n", "question", "wall ms", "above", "CPU ms", "above",
               "M instr.");
        for (size_t i = 0; rc == 0 && i < sizeof(q) / sizeof(q[0]); i++) {
            char *args[16] = {(char *)hvdiag, "query", "--db", path};
            size_t k = 4;
            struct timing t;
            char irs[32];
            double ir;

            for (size_t j = 0; j < 8 && q[i].args[j]; j++) {
                /* "@" stands for the incident found above */
                args[k++] = strcmp(q[i].args[j], "@") == 0 ? incident : (char *)q[i].args[j];
            }
            args[k] = NULL;
            t = median(args, runs);
            if (t.wall < 0) {
                fprintf(stderr, "bench-query: %s failed\n", q[i].name);
                rc = -1;
                break;
            }
            /* above start; "-" without valgrind */
            ir = base_ir > 0 ? instructions(args) : -1;
            missed += t.wall - base.wall > TARGET_MS;
            if (ir > 0) {
                snprintf(irs, sizeof(irs), "%+.1f", ir - base_ir);
            }
            printf("  %-40s %9.2f %+10.2f %9.2f %+10.2f %9s  %s\n", q[i].name, t.wall,
                   t.wall - base.wall, t.cpu, t.cpu - base.cpu, ir > 0 ? irs : "-",
                   t.wall - base.wall > TARGET_MS ? "OVER 5 ms" : "ok");
        }
    }
    if (!keep) {
        unlink(path);
    }
    if (rc == 0) {
        printf("questions over %.0f ms above process start: %d\n", TARGET_MS, missed);
    }
    return rc == 0 ? 0 : 1;
}
