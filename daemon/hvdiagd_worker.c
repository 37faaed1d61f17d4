/*
 * hvdiagd worker: the process that reads files, `hvdiagd --worker ...` (started by the
 * daemon, hvdiagd_workers.c) or `hvdiagd --ingest-one FILE ...` (one file, by hand). It
 * loads the rule set, opens the store and keeps one ingest pipeline (so one engine:
 * correlations join diagnoses from every file it has read, across hosts), then reads
 * requests on stdin, one JSON line per file, and answers each with one JSON result line on
 * stdout after the file's transaction committed:
 *
 *   {"path":P,"follow":B,"complete":B[,"host":H][,"kind":K]}
 *   {"class":"ok"|"file"|"retry"|"memory","events":N,"fresh":N,"kind":K,"newest":T,...
 *    [,"error":E]}        (T: the latest event time read, hvd_time ticks; 0 if none)
 *
 * Before anything is read the worker limits itself: data memory to --memory-limit bytes
 * (an allocation sized from a hostile file fails, and libevtx reports that record as
 * unreadable, instead of the collector going into OOM), and each file to --cpu-limit ms of
 * CPU time (past it SIGXCPU ends the worker and the daemon quarantines the file). The
 * read-ahead child of the EVTX reader inherits both. "memory" says the pipeline itself ran
 * out of memory under the limit; the daemon then replaces the worker.
 *
 * A new worker primes its engine from the store (hvd_ingest_create), the same way after a
 * daemon restart, a crash of the previous worker or its replacement after
 * worker_max_files files: results do not depend on which worker read what.
 */
#define _GNU_SOURCE
#include "hvdiagd.h"

#include "ingest.h"
#include "reslimit.h"
#include "source.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define REQUEST_MAX 8192

struct worker_args {
    const char *path; /* --ingest-one */
    const char *db;
    const char *rules;
    const char *host;
    hvd_source_kind kind;
    int level;
    long parent;
    uint64_t memory_limit; /* bytes; 0: none */
    uint64_t cpu_ms;       /* per file; 0: none */
    hvd_evtx_decoder evtx_decoder;
};

static void worker_log(void *ud, int level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "<%d>hvdiagd worker: %s\n", level, msg);
}

#ifdef HVD_DAEMON_TEST_HOOKS
/* Test builds only: make the worker crash, hang, spin or run out of memory on chosen
 * files. Returns -1 for "out of memory" (err filled), else 0. */
static int test_hooks(const char *path, hvd_error *err)
{
    const char *crash = getenv("HVD_TEST_CRASH_ON");
    const char *hang = getenv("HVD_TEST_HANG_ON");
    const char *spin = getenv("HVD_TEST_SPIN_ON");
    const char *oom = getenv("HVD_TEST_NOMEM_ON");

    if (crash && *crash && strstr(path, crash)) {
        raise(SIGSEGV);
    }
    if (hang && *hang && strstr(path, hang)) {
        for (;;) {
            pause();
        }
    }
    if (spin && *spin && strstr(path, spin)) {
        volatile uint64_t n = 0;

        for (;;) {
            n++;
        }
    }
    if (oom && *oom && strstr(path, oom)) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "out of memory (test hook)");
    }
    return 0;
}
#endif

static hvd_source_kind kind_parse(const char *s)
{
    if (s && strcmp(s, "evtx") == 0) {
        return HVD_SOURCE_EVTX;
    }
    if (s && strcmp(s, "clusterlog") == 0) {
        return HVD_SOURCE_CLUSTERLOG;
    }
    return HVD_SOURCE_UNKNOWN;
}

/* The class of a failed file: what the daemon does next depends on it. */
static const char *failure_class(const hvd_error *err)
{
    if (err->code == HVD_ENOMEM) {
        return "memory";
    }
    return err->code == HVD_ESTORE ? "retry" : "file";
}

/*
 * The seam to the pipeline: one file through source -> seen-filter -> engine -> store, its
 * diagnoses and checkpoint in one transaction, then the incidents regrouped. Returns
 * "ok", "file" (the file cannot be read), "retry" (the store failed) or "memory" (out of
 * memory under the limit), and fills *res.
 */
static const char *ingest_one(hvd_ingest *ing, const struct worker_args *a, const char *path,
                              const char *host, hvd_source_kind kind, const json_t *req,
                              hvd_ingest_result *res, hvd_error *err)
{
    hvd_ingest_options opt;

    memset(&opt, 0, sizeof(opt));
    memset(res, 0, sizeof(*res));
    opt.host_hint = host;
    opt.evtx_decoder = a->evtx_decoder;
    opt.follow = json_is_true(json_object_get(req, "follow"));
    opt.complete = json_is_true(json_object_get(req, "complete"));
    if (kind != HVD_SOURCE_UNKNOWN) {
        hvd_error derr;
        hvd_source_kind k = hvd_source_detect(path, NULL, &derr);

        if (k != kind) {
            hvd_error_set(err, HVD_EUNSUPPORTED, path, 0, "not a %s file (found %s)",
                          hvd_source_kind_name(kind), hvd_source_kind_name(k));
            return "file";
        }
    }
#ifdef HVD_DAEMON_TEST_HOOKS
    if (test_hooks(path, err) < 0) {
        return failure_class(err);
    }
#endif
    if (hvd_ingest_file(ing, path, path, &opt, res, err) < 0) {
        return failure_class(err);
    }
    if (hvd_ingest_finish(ing, NULL, err) < 0) {
        return err->code == HVD_ENOMEM ? "memory" : "retry";
    }
    return "ok";
}

static void print_result(const char *cls, const hvd_ingest_result *res, const hvd_error *err)
{
    json_t *out = json_object();

    json_object_set_new(out, "class", json_string(cls));
    json_object_set_new(out, "events", json_integer((json_int_t)res->events));
    json_object_set_new(out, "fresh", json_integer((json_int_t)res->fresh));
    json_object_set_new(out, "repeated", json_integer((json_int_t)res->repeated));
    json_object_set_new(out, "changed", json_boolean(res->changed));
    json_object_set_new(out, "resumed", json_boolean(res->resumed));
    json_object_set_new(out, "pending", json_integer((json_int_t)res->pending));
    json_object_set_new(out, "skipped", json_integer((json_int_t)res->stats.skipped));
    json_object_set_new(out, "kind", json_string(hvd_source_kind_name(res->kind)));
    json_object_set_new(out, "newest", json_integer((json_int_t)res->newest));
    if (strcmp(cls, "ok") != 0) {
        json_object_set_new(out, "error", json_string(err->msg));
    }
    json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(out);
}

static int parse_u64(const char *v, uint64_t *out)
{
    char *end = NULL;
    unsigned long long n;

    if (*v < '0' || *v > '9') {
        return -1;
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || *end) {
        return -1;
    }
    *out = (uint64_t)n;
    return 0;
}

/* The numeric options; -1 for an unknown option or a bad value. */
static int option_value(const char *opt, const char *v, struct worker_args *a)
{
    uint64_t n;

    if (strcmp(opt, "--log-level") == 0 && parse_u64(v, &n) == 0 && n <= HVD_LOG_DEBUG) {
        a->level = (int)n;
    } else if (strcmp(opt, "--parent") == 0 && parse_u64(v, &n) == 0 && n <= INT32_MAX) {
        a->parent = (long)n;
    } else if (strcmp(opt, "--memory-limit") == 0 && parse_u64(v, &n) == 0) {
        a->memory_limit = n;
    } else if (strcmp(opt, "--cpu-limit") == 0 && parse_u64(v, &n) == 0) {
        a->cpu_ms = n;
    } else if (strcmp(opt, "--evtx-reader") == 0 &&
               hvd_evtx_decoder_parse(v, &a->evtx_decoder) == 0) {
        return 0;
    } else {
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct worker_args *a)
{
    memset(a, 0, sizeof(*a));
    a->level = HVD_LOG_INFO;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--worker") == 0) {
            continue;
        }
        if (!v) {
            fprintf(stderr, "hvdiagd: %s needs a value\n", argv[i]);
            return -1;
        }
        if (strcmp(argv[i], "--ingest-one") == 0) {
            a->path = v;
        } else if (strcmp(argv[i], "--db") == 0) {
            a->db = v;
        } else if (strcmp(argv[i], "--rules") == 0) {
            a->rules = v;
        } else if (strcmp(argv[i], "--host") == 0) {
            a->host = v;
        } else if (strcmp(argv[i], "--kind") == 0) {
            a->kind = kind_parse(v);
        } else if (option_value(argv[i], v, a) < 0) {
            fprintf(stderr, "hvdiagd: bad worker option '%s %s'\n", argv[i], v);
            return -1;
        }
        i++;
    }
    if (!a->db || !a->rules) {
        fprintf(stderr, "usage: hvdiagd --worker --db DB --rules DIR [--log-level N]\n"
                        "         [--memory-limit BYTES] [--cpu-limit MS]\n"
                        "       hvdiagd --ingest-one FILE --db DB --rules DIR [--host H] "
                        "[--kind evtx|clusterlog]\n");
        return -1;
    }
    return 0;
}

/* Limits this process before it reads anything; a limit that cannot be set is logged. */
static void apply_limits(const struct worker_args *a, const hvd_logger *log)
{
    hvd_error err;
    int rc;
    FILE *oom;

    /* when memory runs out anyway (MemoryMax= of the unit), the kernel kills a worker
     * rather than the daemon: raising one's own score needs no privilege */
    oom = fopen("/proc/self/oom_score_adj", "w");
    if (oom) {
        fputs("500\n", oom);
        fclose(oom);
    }

    hvd_error_clear(&err);
    rc = hvd_reslimit_memory(a->memory_limit, &err);
    if (rc == HVD_EUNSUPPORTED) {
        /* the daemon gave the allocator its limit through ASAN_OPTIONS */
        hvd_log(log, HVD_LOG_DEBUG,
                "sanitizer build: memory limited by the allocator options, not setrlimit");
    } else if (rc < 0) {
        hvd_log(log, HVD_LOG_WARNING, "%s; reading without a memory limit", err.msg);
    }
}

/* The CPU budget of the next file; a failure is logged, the file is read anyway. */
static void cpu_budget(const struct worker_args *a, const hvd_logger *log)
{
    hvd_error err;

    if (a->cpu_ms && hvd_reslimit_cpu_budget(a->cpu_ms, &err) < 0) {
        hvd_log(log, HVD_LOG_WARNING, "%s", err.msg);
    }
}

int hvdd_worker_main(int argc, char **argv)
{
    struct worker_args a;
    hvd_logger log = {worker_log, NULL, HVD_LOG_INFO};
    hvd_ruleset *rs = NULL;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_error err;
    char line[REQUEST_MAX];
    const char *cls = "ok";
    int code = HVDD_WORKER_OK;

    if (parse_args(argc, argv, &a) < 0) {
        return 2;
    }
    if (a.parent) {
        /* die with the daemon: a kill -9 of it must not leave a writer behind */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != (pid_t)a.parent) {
            return HVDD_WORKER_RETRY;
        }
    }
    log.min_level = a.level;
    apply_limits(&a, &log);
    memset(&res, 0, sizeof(res));
    hvd_error_clear(&err);
    if (hvd_ruleset_load_flags(&rs, a.rules, NULL, HVD_RULESET_MATCH_ONLY, &log, &err) < 0) {
        code = HVDD_WORKER_BAD_RULES;
        goto out;
    }
    if (hvd_store_open(&st, a.db, 0, &err) < 0 || hvd_ingest_create(&ing, st, rs, &log, &err) < 0) {
        code = HVDD_WORKER_RETRY;
        goto out;
    }
    if (a.path) {
        cpu_budget(&a, &log);
        cls = ingest_one(ing, &a, a.path, a.host, a.kind, NULL, &res, &err);
        print_result(cls, &res, &err);
        code = strcmp(cls, "ok") == 0     ? HVDD_WORKER_OK
               : strcmp(cls, "file") == 0 ? HVDD_WORKER_BAD_FILE
                                          : HVDD_WORKER_RETRY;
        goto out;
    }
    while (fgets(line, sizeof(line), stdin)) {
        json_t *req = json_loads(line, 0, NULL);
        const char *path = json_string_value(json_object_get(req, "path"));

        hvd_error_clear(&err);
        if (!path) {
            memset(&res, 0, sizeof(res));
            hvd_error_set(&err, HVD_EPROTO, NULL, 0, "a request needs a \"path\"");
            print_result("file", &res, &err);
        } else {
            cpu_budget(&a, &log);
            cls = ingest_one(ing, &a, path, json_string_value(json_object_get(req, "host")),
                             kind_parse(json_string_value(json_object_get(req, "kind"))), req, &res,
                             &err);
            print_result(cls, &res, &err);
        }
        json_decref(req);
    }
out:
    if (code != HVDD_WORKER_OK) {
        hvd_log(&log, HVD_LOG_ERR, "%s", err.msg);
    }
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    hvd_ruleset_destroy(rs);
    return code;
}
