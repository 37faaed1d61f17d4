/*
 * hvdiagd: the always-on daemon. It watches folders where Hyper-V hosts drop exports
 * (.evtx from wevtutil epl, <node>_cluster.log from Get-ClusterLog), has each new or
 * changed file read by a worker process (hvdiagd_workers.c), and answers questions on a Unix
 * socket (hvdiagd_server.c). This file: arguments, configuration, signals, logging to
 * stderr with journald's "<N>" prefixes, sd_notify, start and stop.
 *
 *   hvdiagd [-c PATH]                  run (PATH defaults to HVD_CONF_FILE)
 *   hvdiagd --check-config [-c PATH]   print the parsed configuration or its errors
 *   hvdiagd --ingest-one FILE ...      the worker (started by the daemon itself)
 *
 * SIGHUP reloads the configuration and the rule set; either one broken keeps the old
 * ones. SIGTERM/SIGINT stop accepting work, give running workers a grace period to commit
 * (then kill them: their transaction rolls back), close every handle and exit 0.
 */
#define _DEFAULT_SOURCE
#include "hvdiagd.h"

#include "alloc.h"
#include "output.h"

#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HVD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
static int sd_notify(int unset, const char *state)
{
    (void)unset;
    (void)state;
    return 0;
}
#endif

#define GRACE_MAX_MS 30000

void hvdd_log_line(void *ud, int level, const char *msg)
{
    char line[1100];
    size_t n = 0;

    (void)ud;
    /* one message, one line: journald reads the level from the prefix */
    for (const char *p = msg; *p && n < sizeof(line) - 1; p++) {
        line[n++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
    }
    line[n] = '\0';
    fprintf(stderr, "<%d>hvdiagd: %s\n", level, line);
}

/* libxml2 prints some problems (an unreadable schema) straight to stderr; the rule loader
 * reports the same failure through the logger, so the raw text is dropped. */
static void xml_quiet(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    (void)fmt;
}

static void check_log(void *ud, int level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "%s: %s\n", hvd_log_level_name(level), msg);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvdiagd [-c PATH]\n"
            "       hvdiagd --check-config [-c PATH]\n"
            "\n"
            "Watches folders of Hyper-V exports, diagnoses them as they arrive and answers\n"
            "questions on a Unix socket (see 'hvdiag query').\n"
            "  -c PATH          configuration file (default %s)\n"
            "  --check-config   print the parsed configuration, or its errors (exit 2)\n",
            HVD_CONF_FILE);
}

/* --- stop ---------------------------------------------------------------------------- */

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

/* The last step of a stop: once no worker runs and no client is left, close the rest. */
void hvdd_maybe_finish_stop(struct hvdd *d)
{
    if (!d->stopping || d->workers || d->clients) {
        return;
    }
    uv_timer_stop(&d->grace_timer);
    uv_walk(d->loop, close_any, NULL);
}

static void on_grace(uv_timer_t *t)
{
    struct hvdd *d = t->data;

    hvd_log(&d->log, HVD_LOG_WARNING, "workers still running after the grace period; killing them");
    hvdd_workers_kill_busy(d);
}

static void begin_stop(struct hvdd *d, const char *why)
{
    uint64_t grace =
        d->cfg->file_timeout_ms < GRACE_MAX_MS ? d->cfg->file_timeout_ms : GRACE_MAX_MS;

    if (d->stopping) {
        return;
    }
    d->stopping = 1;
    sd_notify(0, "STOPPING=1");
    hvd_log(&d->log, HVD_LOG_NOTICE, "%s: stopping (%u workers running)", why, d->running);
    uv_timer_stop(&d->watchdog_timer);
    hvdd_files_stop(d);
    hvdd_outputs_stop(d);
    hvdd_server_stop(d);
    hvdd_metrics_stop(d);
    hvdd_workers_retire(d);
    if (d->running) {
        uv_timer_start(&d->grace_timer, on_grace, grace, 0);
    }
    hvdd_maybe_finish_stop(d);
}

/* --- reload -------------------------------------------------------------------------- */

static void swap_str(char **a, char **b)
{
    char *t = *a;

    *a = *b;
    *b = t;
}

static void reload(struct hvdd *d)
{
    hvd_config *cfg = NULL;
    hvd_ruleset *rs = NULL;
    hvd_error err;

    hvd_log(&d->log, HVD_LOG_NOTICE, "reloading %s", d->conf_path);
    if (hvd_config_load(&cfg, d->conf_path, &d->log, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "%s: the new configuration is invalid; keeping the old one",
                d->conf_path);
        return;
    }
    if (hvd_ruleset_load_flags(&rs, cfg->rules, NULL, HVD_RULESET_MATCH_ONLY, &d->log, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR,
                "%s: the rule set is invalid (%s); keeping the old configuration and rules",
                cfg->rules, err.msg);
        hvd_config_destroy(cfg);
        return;
    }
    if (strcmp(cfg->database, d->cfg->database) != 0 || strcmp(cfg->socket, d->cfg->socket) != 0 ||
        cfg->socket_mode != d->cfg->socket_mode) {
        hvd_log(&d->log, HVD_LOG_WARNING,
                "database and socket changes take effect at the next start");
        swap_str(&cfg->database, &d->cfg->database);
        swap_str(&cfg->socket, &d->cfg->socket);
        cfg->socket_mode = d->cfg->socket_mode;
    }
    if ((cfg->metrics_listen != NULL) != (d->cfg->metrics_listen != NULL) ||
        (cfg->metrics_listen && strcmp(cfg->metrics_listen, d->cfg->metrics_listen) != 0)) {
        hvd_log(&d->log, HVD_LOG_WARNING, "metrics_listen changes take effect at the next start");
    }
    hvd_config_destroy(d->cfg);
    d->cfg = cfg;
    hvd_ruleset_destroy(d->rules);
    d->rules = rs;
    d->log.min_level = cfg->log_level;
    hvdd_workers_retire(d); /* new workers load the new rules */
    hvdd_files_apply_config(d);
    hvdd_metrics_apply_config(d);
    hvd_log(&d->log, HVD_LOG_NOTICE, "reloaded: %zu watches, %zu rules", cfg->nwatches,
            hvd_ruleset_count(rs));
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct hvdd *d = h->data;

    if (signum == SIGHUP) {
        if (!d->stopping) {
            reload(d);
            hvdd_outputs_reopen(d);
        }
        return;
    }
    begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    sd_notify(0, "WATCHDOG=1");
}

static void start_watchdog(struct hvdd *d)
{
    uv_timer_init(d->loop, &d->watchdog_timer);
    d->watchdog_timer.data = d;
#ifdef HVD_HAVE_SYSTEMD
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
        uv_timer_start(&d->watchdog_timer, on_watchdog, usec / 2000, usec / 2000);
    }
#else
    (void)on_watchdog;
#endif
}

/* --- main ---------------------------------------------------------------------------- */

static int run(struct hvdd *d)
{
    uv_loop_t loop;
    hvd_error err;
    size_t exe_len = sizeof(d->exe);
    int rc;

    if (uv_exepath(d->exe, &exe_len) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "cannot find this program's path");
        return 1;
    }
    if (hvd_ruleset_load_flags(&d->rules, d->cfg->rules, NULL, HVD_RULESET_MATCH_ONLY, &d->log,
                               &err) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "%s: the rule set is invalid: %s", d->cfg->rules, err.msg);
        return 1;
    }
    if (hvd_store_open(&d->store, d->cfg->database, 0, &err) < 0) {
        hvd_log(&d->log, HVD_LOG_ERR, "%s", err.msg);
        return 1;
    }
    uv_loop_init(&loop);
    d->loop = &loop;
    d->started_ms = uv_now(&loop);
    uv_timer_init(&loop, &d->grace_timer);
    d->grace_timer.data = d;
    uv_signal_init(&loop, &d->sig_hup);
    uv_signal_init(&loop, &d->sig_term);
    uv_signal_init(&loop, &d->sig_int);
    d->sig_hup.data = d->sig_term.data = d->sig_int.data = d;
    uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    start_watchdog(d);
    hvdd_files_init(d);
    if (hvdd_server_start(d) < 0) {
        d->exit_code = 1;
        /* a stop with nothing running closes every handle */
        begin_stop(d, "cannot listen");
    } else if (hvdd_metrics_start(d) < 0) {
        d->exit_code = 1;
        begin_stop(d, "cannot serve metrics");
    } else {
        hvdd_outputs_start(d);
        hvdd_files_start(d);
        hvd_log(&d->log, HVD_LOG_NOTICE, "started: %zu watches, %zu rules, %u workers",
                d->cfg->nwatches, hvd_ruleset_count(d->rules), d->cfg->workers);
        sd_notify(0, "READY=1");
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    while ((rc = uv_loop_close(&loop)) == UV_EBUSY) {
        uv_walk(&loop, close_any, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    hvdd_files_free(d);
    hvdd_outputs_free(d);
    hvdd_metrics_free(d);
    d->loop = NULL;
    return d->exit_code;
}

int main(int argc, char **argv)
{
    struct hvdd d;
    const char *conf = HVD_CONF_FILE;
    int check = 0;
    int rc;
    hvd_error err;

    if (argc > 1 && (strcmp(argv[1], "--worker") == 0 || strcmp(argv[1], "--ingest-one") == 0)) {
        xmlInitParser();
        xmlSetGenericErrorFunc(NULL, xml_quiet);
        rc = hvdd_worker_main(argc, argv);
        xmlCleanupParser();
        return rc;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            conf = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("hvdiagd %s\n", HVD_VERSION);
            return 0;
        } else {
            fprintf(stderr, "hvdiagd: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    memset(&d, 0, sizeof(d));
    d.log.fn = hvdd_log_line;
    d.log.min_level = HVD_LOG_INFO;
    d.conf_path = (char *)conf;
    if (check) {
        char *text;

        xmlInitParser();
        xmlSetGenericErrorFunc(NULL, xml_quiet);
        /* errors go to stderr one per line as "file:line: message" */
        d.log.fn = check_log;
        d.log.min_level = HVD_LOG_DEBUG;
        if (hvd_config_load(&d.cfg, conf, &d.log, &err) < 0) {
            fprintf(stderr, "hvdiagd: %s: the configuration is invalid\n", conf);
            xmlCleanupParser();
            return 2;
        }
        /* outputs that cannot work here (unwritable file, missing program, bad address) */
        if (hvd_output_check_config(d.cfg, &d.log, &err) < 0 ||
            hvdd_metrics_check(d.cfg, &d.log) < 0) {
            fprintf(stderr, "hvdiagd: %s: the configuration is invalid\n", conf);
            hvd_config_destroy(d.cfg);
            xmlCleanupParser();
            return 2;
        }
        /* the rule set is part of what the daemon needs to start */
        if (hvd_ruleset_load_flags(&d.rules, d.cfg->rules, NULL, HVD_RULESET_MATCH_ONLY, &d.log,
                                   &err) < 0) {
            fprintf(stderr, "hvdiagd: %s: the rule set is invalid\n", d.cfg->rules);
            hvd_config_destroy(d.cfg);
            xmlCleanupParser();
            return 2;
        }
        text = hvd_config_describe(d.cfg);
        printf("configuration %s: valid (%zu rules)\n", conf, hvd_ruleset_count(d.rules));
        fputs(text ? text : "", stdout);
        hvd_free(text);
        hvd_ruleset_destroy(d.rules);
        hvd_config_destroy(d.cfg);
        xmlCleanupParser();
        return 0;
    }
    if (hvd_config_load(&d.cfg, conf, &d.log, &err) < 0) {
        hvd_log(&d.log, HVD_LOG_ERR, "%s: the configuration is invalid; not starting", conf);
        return 2;
    }
    d.log.min_level = d.cfg->log_level;
    signal(SIGPIPE, SIG_IGN);
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, xml_quiet);
    rc = run(&d);
    hvd_store_close(d.store);
    hvd_ruleset_destroy(d.rules);
    hvd_config_destroy(d.cfg);
    free(d.health_text);
    xmlCleanupParser();
    if (rc == 0) {
        hvd_log(&d.log, HVD_LOG_NOTICE, "stopped");
    }
    return rc;
}
