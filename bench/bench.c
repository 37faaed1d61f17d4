/*
 * bench: hvdiag's throughput against its baselines, measured in one run on the same files.
 *   1. bare libevtx iteration: every record, its identifier, event id and XML (what the
 *      reader needs), nothing else;
 *   2. the whole pipeline (reader, rule engine, store) over the same EVTX file, with the
 *      libevtx reader and with hvdiag's own decoder;
 *   2b. hvdiag's own decoder alone: every record into an hvd_event, nothing else;
 *   3. the whole pipeline over a cluster.log file, against grep -E -f with the shipped
 *      rules' cluster.log patterns on the same file.
 * Each phase runs in its own child process, so its peak RSS is its own.
 * usage: bench EVTX CLUSTERLOG RULES_DIR PATTERNS_FILE
 *        bench --bare|--decoder FILE...   (one loop over the files, for bench/evtx.sh)
 *        bench --run PROGRAM ARG...       (seconds and peak RSS of one command)
 */
#define _DEFAULT_SOURCE
#include "ingest.h"
#include "rules.h"
#include "source.h"
#include "store.h"

#include <inttypes.h>
#include <libevtx.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t bare_libevtx(const char *path)
{
    libevtx_file_t *f = NULL;
    uint8_t *xml = malloc(1 << 20);
    int n = 0;
    uint64_t ok = 0;

    if (!xml || libevtx_file_initialize(&f, NULL) != 1 ||
        libevtx_file_open(f, path, LIBEVTX_OPEN_READ, NULL) != 1 ||
        libevtx_file_get_number_of_records(f, &n, NULL) != 1) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        libevtx_record_t *r = NULL;
        uint64_t id;
        uint32_t eid;

        if (libevtx_file_get_record_by_index(f, i, &r, NULL) != 1) {
            continue;
        }
        libevtx_record_get_identifier(r, &id, NULL);
        libevtx_record_get_event_identifier(r, &eid, NULL);
        if (libevtx_record_get_utf8_xml_string(r, xml, 1 << 20, NULL) == 1) {
            ok++;
        }
        libevtx_record_free(&r, NULL);
    }
    libevtx_file_close(f, NULL);
    libevtx_file_free(&f, NULL);
    free(xml);
    return ok;
}

/* hvd_source with the given EVTX decoder: every event, nothing done with it. */
static uint64_t decoder_only(const char *path, hvd_evtx_decoder d)
{
    hvd_source_options opt = {0};
    hvd_source *src = NULL;
    hvd_event ev;
    hvd_error err;
    uint64_t n = 0;
    uint64_t sum = 0;

    opt.evtx_decoder = d;
    if (hvd_source_open(&src, path, &opt, NULL, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 0;
    }
    while (hvd_source_next(src, &ev, &err) == 1) {
        sum += ev.event_id + ev.nfields; /* touch what a consumer reads */
        n++;
    }
    hvd_source_close(src);
    return sum ? n : 0;
}

static uint64_t pipeline(const char *path, const char *rules, hvd_evtx_decoder d)
{
    hvd_ingest_options opt = {0};
    char db[] = "/tmp/hvdiag-bench-XXXXXX";
    int fd = mkstemp(db);
    hvd_ruleset *rs = NULL;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_error err;

    if (fd < 0) {
        return 0;
    }
    close(fd);
    unlink(db);
    xmlInitParser();
    opt.evtx_decoder = d;
    if (hvd_ruleset_load(&rs, rules, NULL, NULL, &err) < 0 ||
        hvd_store_open(&st, db, 0, &err) < 0 || hvd_ingest_create(&ing, st, rs, NULL, &err) < 0 ||
        hvd_ingest_file(ing, path, NULL, &opt, &res, &err) < 0 ||
        hvd_ingest_finish(ing, NULL, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 0;
    }
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    hvd_ruleset_destroy(rs);
    unlink(db);
    return res.events;
}

/* Runs one phase in a child; returns its item count, seconds and peak RSS (KiB). */
static int phase(const char *name, int which, char **argv, uint64_t *items, double *secs, long *rss)
{
    int pipefd[2];
    pid_t pid;
    int status;
    struct rusage ru;
    double t0 = now();

    if (pipe(pipefd) < 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        uint64_t n = 0;

        close(pipefd[0]);
        if (which == 0) {
            n = bare_libevtx(argv[1]);
        } else if (which == 1) {
            n = pipeline(argv[1], argv[3], HVD_EVTX_LIBEVTX);
        } else if (which == 2) {
            n = pipeline(argv[2], argv[3], HVD_EVTX_DEFAULT);
        } else if (which == 4) {
            n = decoder_only(argv[1], HVD_EVTX_NATIVE);
        } else if (which == 5) {
            n = pipeline(argv[1], argv[3], HVD_EVTX_NATIVE);
        } else {
            char cmd[8192];

            snprintf(cmd, sizeof(cmd), "grep -E -c -f '%s' '%s' | cat > /dev/null; wc -l < '%s'",
                     argv[4], argv[2], argv[2]);
            {
                FILE *p = popen(cmd, "r");

                if (p && fscanf(p, "%" SCNu64, &n) != 1) {
                    n = 0;
                }
                if (p) {
                    pclose(p);
                }
            }
        }
        if (write(pipefd[1], &n, sizeof(n)) != (ssize_t)sizeof(n)) {
            _exit(1);
        }
        _exit(0);
    }
    close(pipefd[1]);
    if (read(pipefd[0], items, sizeof(*items)) != (ssize_t)sizeof(*items)) {
        *items = 0;
    }
    close(pipefd[0]);
    wait4(pid, &status, 0, &ru);
    *secs = now() - t0;
    *rss = ru.ru_maxrss;
    printf("%-34s %10" PRIu64 " items %8.2f s %10.0f items/s  peak RSS %6ld MiB\n", name, *items,
           *secs, *secs > 0 ? (double)*items / *secs : 0.0, *rss / 1024);
    fflush(stdout);
    return 0;
}

/* bench --bare|--decoder FILE...: one loop over several files (bench/evtx.sh), printed as
 * "records seconds peak-RSS-KiB". */
static int over_files(int argc, char **argv)
{
    int bare = strcmp(argv[1], "--bare") == 0;
    uint64_t n = 0;
    double t0 = now();
    struct rusage ru;

    for (int i = 2; i < argc; i++) {
        n += bare ? bare_libevtx(argv[i]) : decoder_only(argv[i], HVD_EVTX_NATIVE);
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("%" PRIu64 " %.3f %ld\n", n, now() - t0, ru.ru_maxrss);
    return 0;
}

/* bench --run CMD ARG...: runs a command (output to /dev/null), printed as "seconds
 * peak-RSS-KiB exit-status". */
static int run_command(char **argv)
{
    double t0 = now();
    struct rusage ru;
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) {
            _exit(127);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
        return 1;
    }
    printf("%.3f %ld %d\n", now() - t0, ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n[6];
    double s[6];
    long rss[6];

    if (argc > 2 && (strcmp(argv[1], "--bare") == 0 || strcmp(argv[1], "--decoder") == 0)) {
        return over_files(argc, argv);
    }
    if (argc > 2 && strcmp(argv[1], "--run") == 0) {
        return run_command(argv + 2);
    }
    if (argc != 5) {
        fprintf(stderr, "usage: bench EVTX CLUSTERLOG RULES_DIR PATTERNS_FILE\n");
        return 2;
    }
    phase("bare libevtx (records)", 0, argv, &n[0], &s[0], &rss[0]);
    phase("hvdiag pipeline, EVTX, libevtx", 1, argv, &n[1], &s[1], &rss[1]);
    phase("native decoder alone (records)", 4, argv, &n[4], &s[4], &rss[4]);
    phase("hvdiag pipeline, EVTX, native", 5, argv, &n[5], &s[5], &rss[5]);
    phase("grep -E -f patterns (lines)", 3, argv, &n[3], &s[3], &rss[3]);
    phase("hvdiag pipeline, cluster.log (lines)", 2, argv, &n[2], &s[2], &rss[2]);
    if (s[0] > 0 && s[1] > 0 && n[0] && n[3]) {
        printf("EVTX: pipeline (libevtx) speed / bare libevtx speed = %.2f\n",
               ((double)n[1] / s[1]) / ((double)n[0] / s[0]));
        printf("EVTX: native decoder alone speed / bare libevtx speed = %.2f\n",
               ((double)n[4] / s[4]) / ((double)n[0] / s[0]));
        printf("EVTX: pipeline (native) speed / bare libevtx speed = %.2f\n",
               ((double)n[5] / s[5]) / ((double)n[0] / s[0]));
        printf("cluster.log: pipeline speed / grep speed = %.2f\n",
               ((double)n[2] / s[2]) / ((double)n[3] / s[3]));
    }
    return 0;
}
