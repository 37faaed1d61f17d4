/*
 * hvdiagd internals, shared by its files:
 *   hvdiagd.c         main, configuration, signals, logging, systemd, start and stop
 *   hvdiagd_files.c   watched folders, the file table, change classification, scheduling,
 *                     and every change of a file's state (hvdd_file_report), quarantine
 *   hvdiagd_workers.c worker processes seen from the daemon: spawn with limits, one file
 *                     at a time, time limit, reap, replace after worker_max_files files
 *                     or past worker_max_rss
 *   hvdiagd_worker.c  the worker's own side (--worker, --ingest-one)
 *   hvdiagd_server.c  the Unix socket: clients, requests, follow
 *   hvdiagd_outputs.c incident changes from the store's outbox to each output (journald,
 *                     JSON file, hook), with cursors, retries and health
 *   hvdiagd_hook.c    the on_incident output: a program run per change
 * Everything runs on the loop thread except the worker processes and the quarantine
 * writes (uv_queue_work).
 */
#ifndef HVDIAGD_H
#define HVDIAGD_H

#include "config.h"
#include "log.h"
#include "rules.h"
#include "store.h"

#include <stdint.h>
#include <uv.h>

/* Worker exit codes; anything else (and any signal) while reading a file is a crash. */
enum {
    HVDD_WORKER_OK = 0,
    HVDD_WORKER_BAD_FILE = 3,  /* --ingest-one: the file cannot be read */
    HVDD_WORKER_RETRY = 4,     /* the database cannot be opened: retried later */
    HVDD_WORKER_BAD_RULES = 5, /* the rule set did not load: retried later */
};

/* What the last observation of a file said about it. */
enum hvdd_change {
    HVDD_NEW,
    HVDD_GROWN,     /* same inode, larger */
    HVDD_TRUNCATED, /* same inode, smaller (copytruncate) */
    HVDD_REPLACED,  /* new inode at the path, or its first bytes changed */
    HVDD_RENAMED,   /* an inode seen before under another path (rotation by rename) */
    HVDD_MODIFIED,  /* same inode and size, new mtime, same first bytes */
};

enum hvdd_state {
    HVDD_SETTLING,    /* changed; waiting for its size to hold still */
    HVDD_DUE,         /* waiting for a worker */
    HVDD_RUNNING,     /* a worker reads it */
    HVDD_DONE,        /* read; nothing to do until it changes */
    HVDD_FAILED,      /* could not be read; retried when it changes */
    HVDD_RETRY,       /* database or rules trouble; retried at retry_at */
    HVDD_QUARANTINED, /* its worker crashed or ran out of time; not retried until it changes */
};

struct hvdd_identity {
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
    int64_t mtime_ns;
    uint64_t head_hash; /* FNV-1a of the first 4 KiB */
};

struct hvdd_worker;

/* How reading a file ended, as a worker reports it (hvdd_file_report). */
enum hvdd_outcome {
    HVDD_OUT_READ,     /* read and committed */
    HVDD_OUT_BAD_FILE, /* cannot be read: failed until it changes */
    HVDD_OUT_RETRY,    /* store or rules trouble: read again after a pause */
    HVDD_OUT_MEMORY,   /* out of memory under worker_memory_limit: one more try, then quarantine */
    HVDD_OUT_CRASHED,  /* the worker died reading it: quarantined */
    HVDD_OUT_TIMEOUT,  /* past file_timeout or its CPU limit: quarantined */
    HVDD_OUT_STOPPED,  /* killed at shutdown: its transaction rolled back */
};

struct hvdd_report {
    enum hvdd_outcome outcome;
    uint64_t events;      /* READ: events read */
    uint64_t fresh;       /* READ: not seen before */
    uint64_t skipped;     /* READ: records that could not be read */
    int pending;          /* READ: a last line still open */
    hvd_source_kind kind; /* READ: what the file is (HVD_SOURCE_UNKNOWN if not said) */
    int64_t newest;       /* READ: the latest event time read (hvd_time); 0 if none */
    const char *error;    /* what went wrong (READ: a warning); NULL if nothing */
};

/* What a worker is given: one file. Strings borrowed for the call. */
struct hvdd_job {
    const char *path;
    const char *host; /* NULL: none */
    hvd_source_kind kind;
    int complete; /* a cluster.log whose writer is done: read its last line too */
};

/* One file in a watched folder. Owned by the table in struct hvdd. */
struct hvdd_file {
    char *path;
    char *host; /* host hint of its watch, or NULL */
    hvd_source_kind kind;
    struct hvdd_identity seen; /* last observed */
    struct hvdd_identity read; /* when last handed to a worker */
    int read_valid;
    uint64_t stable_since; /* loop ms when the observed identity last changed */
    uint64_t retry_at;
    enum hvdd_state state;
    enum hvdd_change change;
    unsigned gen;     /* scan generation that last saw it */
    unsigned changes; /* how many changes were classified */
    uint64_t reads;
    uint64_t events;
    uint64_t fresh;
    char *last_error;
    struct hvdd_worker *worker; /* while RUNNING */
    int complete_next;          /* its last line had no newline: read it whole next time */
    unsigned memory_strikes;    /* reads in a row that ran out of memory */
};

/* A cluster.log whose last line has no newline yet gets it read this long after the file
 * last changed: by then its writer is done with it. */
#define HVDD_COMPLETE_MS 30000

struct hvdd_dirwatch {
    uv_fs_event_t handle;
    struct hvdd *d;
    char *path;
    unsigned gen;
    struct hvdd_dirwatch *next;
};

#define HVDD_KINDS 3

struct hvdd_counters {
    uint64_t files_ingested;
    uint64_t events;
    uint64_t fresh;
    uint64_t diagnoses;
    uint64_t quarantined;
    uint64_t failed;
    uint64_t crashed;
    uint64_t timeouts;
    uint64_t out_of_memory;
    uint64_t workers_replaced;
    uint64_t clients_dropped;   /* closed by the daemon: timed out, errors */
    uint64_t clients_refused;   /* turned away at connect: too many, or stopping */
    uint64_t clients_timed_out; /* of the dropped: idle, or not reading */
    /* by source kind (index hvd_source_kind: unknown, evtx, clusterlog) */
    uint64_t kind_events[HVDD_KINDS];
    uint64_t kind_fresh[HVDD_KINDS];
    uint64_t kind_skipped[HVDD_KINDS];
    int64_t kind_newest[HVDD_KINDS];   /* the latest event time read since start; 0 if none */
    uint64_t diagnoses_by_severity[5]; /* new since start, by hvd_severity */
};

struct hvdd_client;
struct hvdd_outputs;
struct hvdd_metrics;

struct hvdd {
    uv_loop_t *loop;
    char *conf_path;
    hvd_config *cfg;
    hvd_logger log;
    hvd_store *store;   /* read side for queries, follow and startup */
    hvd_ruleset *rules; /* validated set, for "rules" queries */
    char exe[4096];     /* this binary, for the workers */
    uint64_t started_ms;
    int stopping;
    int exit_code;

    /* files */
    struct hvdd_file **files;
    size_t nfiles;
    size_t cap_files;
    unsigned gen;
    struct hvdd_dirwatch *dirs;
    uv_timer_t rescan_timer; /* periodic fallback */
    uv_timer_t soon_timer;   /* a notification or a settling file: scan shortly */
    int scanning;

    /* workers */
    unsigned running;
    struct hvdd_worker *workers; /* worker processes, until their handles close */
    uv_timer_t grace_timer;

    /* socket */
    uv_pipe_t server;
    int server_open;
    struct hvdd_client *clients;
    size_t nclients;
    int64_t last_diagnosis;  /* highest diagnosis id counted as new */
    size_t out_bytes;        /* bytes in write requests of all clients, not yet done */
    int out_blocked;         /* a client waits for out_bytes to fall below the budget */
    uv_timer_t client_timer; /* idle clients */
    uv_idle_t round;         /* clients whose requests wait for their turn */
    int client_timer_init;
    char *health_text;

    uv_signal_t sig_hup;
    uv_signal_t sig_term;
    uv_signal_t sig_int;
    uv_timer_t watchdog_timer;

    struct hvdd_counters count;
    struct hvdd_outputs *outputs; /* NULL until started */
    struct hvdd_metrics *metrics; /* NULL unless metrics_listen or metrics_textfile is set */
};

/* hvdiagd.c */
void hvdd_log_line(void *ud, int level, const char *msg);
void hvdd_maybe_finish_stop(struct hvdd *d);

/* hvdiagd_files.c */
hvd_source_kind hvdd_kind_parse(const char *name); /* "evtx", "clusterlog"; else unknown */
void hvdd_files_init(struct hvdd *d);              /* timers, before anything may stop */
int hvdd_files_start(struct hvdd *d);
void hvdd_files_apply_config(struct hvdd *d); /* after a reload */
void hvdd_files_scan(struct hvdd *d);
void hvdd_files_arm_soon(struct hvdd *d, uint64_t ms); /* a scan within ms */
void hvdd_files_schedule(struct hvdd *d);
void hvdd_files_stop(struct hvdd *d);
void hvdd_files_free(struct hvdd *d);
size_t hvdd_files_due(const struct hvdd *d);
const char *hvdd_state_name(enum hvdd_state s);
const char *hvdd_change_name(enum hvdd_change c);
void hvdd_file_remove(struct hvdd *d, struct hvdd_file *f);
/*
 * The one way a read changes a file's state: how it ended, from the worker that read it.
 * f is NULL when the file was forgotten while it was read (path still names it: a
 * quarantine is recorded all the same). Updates the counters, logs, records a quarantine
 * in the store (off the loop), and leaves f ready for scheduling.
 */
void hvdd_file_report(struct hvdd *d, struct hvdd_file *f, const char *path,
                      const struct hvdd_report *r);

/* hvdiagd_workers.c */
/* Hands job to an idle worker (starting one if fewer than cfg->workers run); f is handed
 * back in the worker's hvdd_file_report() (NULL there once detached). Returns the worker,
 * or NULL when every worker is busy or none could start: f is then untouched. */
struct hvdd_worker *hvdd_worker_assign(struct hvdd *d, struct hvdd_file *f,
                                       const struct hvdd_job *job);
int hvdd_worker_pid(const struct hvdd_worker *w);
void hvdd_worker_detach(struct hvdd_worker *w); /* its file was forgotten */
void hvdd_workers_retire(struct hvdd *d);       /* they exit after their current file */
void hvdd_workers_kill_busy(struct hvdd *d);    /* end of the grace period at stop */

/* hvdiagd_worker.c */
int hvdd_worker_main(int argc, char **argv); /* hvdiagd --worker / --ingest-one */

/* hvdiagd_server.c */
int hvdd_server_start(struct hvdd *d);
void hvdd_server_stop(struct hvdd *d);
void hvdd_server_announce(struct hvdd *d); /* new diagnoses: count them, feed followers */
int64_t hvdd_server_last_diagnosis(struct hvdd *d);
size_t hvdd_server_followers(const struct hvdd *d); /* O(clients) */

/* hvdiagd_metrics.c: Prometheus metrics over HTTP (metrics_listen) and as a node_exporter
 * textfile (metrics_textfile). */
/* Checks what the configuration cannot: the textfile's folder is writable. Returns 0, or
 * -1 after logging "file:line: ..." errors. */
int hvdd_metrics_check(const hvd_config *cfg, const hvd_logger *log);
/* Listens and starts writing; nothing when neither key is set. Returns 0, or -1 after
 * logging (the address is taken, ...). */
int hvdd_metrics_start(struct hvdd *d);
void hvdd_metrics_changed(struct hvdd *d);      /* the store changed: count by severity again */
void hvdd_metrics_apply_config(struct hvdd *d); /* after a reload: the textfile path */
void hvdd_metrics_stop(struct hvdd *d);         /* at stop: the HTTP thread ends */
void hvdd_metrics_free(struct hvdd *d);         /* after the loop closed */

/* hvdiagd_outputs.c */
/* Opens the configured outputs and starts delivering (loop running or about to). */
int hvdd_outputs_start(struct hvdd *d);
void hvdd_outputs_kick(struct hvdd *d);   /* the outbox may have grown */
void hvdd_outputs_reopen(struct hvdd *d); /* SIGHUP */
void hvdd_outputs_stop(struct hvdd *d);   /* closes its handles; deliveries stop */
void hvdd_outputs_free(struct hvdd *d);   /* after the loop ended */
/* Each output's state for "health": {"file": {...}, ...}. Caller owns the reference. */
struct json_t;
struct json_t *hvdd_outputs_health(struct hvdd *d);

/* hvdiagd_hook.c */
/* The on_incident output, on d's loop: see hvdiagd_hook.c. */
struct hvd_output;
int hvdd_hook_open(struct hvd_output *out, struct hvdd *d, hvd_error *err);

#endif
