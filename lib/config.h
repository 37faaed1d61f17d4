/*
 * config: hvdiagd's configuration file (INI, read with inih). One [daemon] section and one
 * [watch NAME] section per watched folder:
 *
 *   [daemon]
 *   database = /var/lib/hvdiag/hvdiag.db
 *   rules = /usr/share/hvdiag/rules        ; a folder of rule XML files
 *   socket = /run/hvdiag/hvdiag.sock
 *   socket_mode = 0660                     ; octal
 *   log_level = info                       ; error, warning, notice, info, debug
 *   rescan_interval = 30s                  ; durations: 250ms, 30s, 5m, 1h; bare: seconds
 *   settle_time = 2s                       ; a file's size must hold still this long
 *   file_timeout = 5m                      ; time limit for reading one file
 *   workers = 1                            ; worker processes reading files at once (1..64);
 *                                          ; correlations join diagnoses of one worker
 *   worker_memory_limit = 1G               ; sizes: 512K, 256M, 1G, bare: bytes; 0: none
 *   worker_cpu_limit = 0                   ; CPU time for one file; 0: file_timeout
 *   worker_max_files = 1000                ; a worker is replaced after this many; 0: never
 *   worker_max_rss = 512M                  ; ... or once its resident size passes this; 0: never
 *   max_clients = 1024                     ; socket connections at once
 *   max_clients_per_uid = 64               ; of them, by one peer user (SO_PEERCRED)
 *   client_idle_timeout = 5m               ; a client that neither asks nor reads is closed
 *   client_queue_limit = 256k              ; unsent bytes per client before it waits
 *   client_output_budget = 32M             ; unsent bytes held for all clients together
 *   evtx_reader = native                   ; EVTX decoder: native or libevtx
 *   metrics_listen = 127.0.0.1:9464        ; Prometheus /metrics (ADDRESS:PORT, [V6]:PORT,
 *                                          ; or PORT for 127.0.0.1); off unless set
 *   metrics_textfile = /var/lib/prometheus/node-exporter/hvdiag.prom ; off unless set
 *   syslog_target = udp://127.0.0.1:514    ; or tcp://HOST:PORT, unix:/dev/log; off unless set
 *   syslog_facility = daemon               ; kern ... local7, or 0 to 23
 *
 *   [outputs]                              ; where incident changes are pushed
 *   journald = auto                        ; auto (when journald runs), yes, no
 *   json_file = /var/log/hvdiag/incidents.json  ; JSON lines (ECS names); none by default
 *   on_incident = /usr/local/bin/page      ; run per change, JSON on stdin; none by default
 *   on_incident_timeout = 30s              ; the hook is killed past this
 *   on_incident_max_running = 4            ; hook runs at once (1..64)
 *   retry_max = 5m                         ; longest pause between retries of an output
 *
 *   [watch exports]
 *   path = /srv/hyperv/exports             ; absolute folder
 *   pattern = *.evtx *_cluster.log         ; globs on the file name, several allowed
 *   kind = auto                            ; evtx, clusterlog or auto
 *   recursive = no                         ; yes/no, true/false, on/off, 1/0
 *   host = HV-NODE01                       ; optional host hint
 *
 * Unknown sections or keys, repeated keys, bad values and lines inih cannot parse are
 * errors naming "file:line". Lines are limited to HVD_CONFIG_MAX_LINE bytes.
 */
#ifndef HVD_CONFIG_H
#define HVD_CONFIG_H

#include "error.h"
#include "event.h"
#include "log.h"

#include <stddef.h>
#include <stdint.h>

/* inih's line buffer (INI_MAX_LINE in Debian's build), newline included. */
#define HVD_CONFIG_MAX_LINE     200
#define HVD_CONFIG_MAX_WATCHES  256
#define HVD_CONFIG_MAX_PATTERNS 32

typedef struct hvd_config_watch {
    char *name;           /* the NAME of [watch NAME] */
    char *path;           /* folder */
    char **patterns;      /* npatterns globs, matched against the file name */
    size_t npatterns;     /* at least 1 ("*.evtx *.log" when not given) */
    hvd_source_kind kind; /* HVD_SOURCE_UNKNOWN for auto */
    int recursive;
    char *host;    /* host hint; NULL when not given */
    unsigned line; /* line of the section header */
} hvd_config_watch;

enum { HVD_CONFIG_AUTO = 0, HVD_CONFIG_ON = 1, HVD_CONFIG_OFF = 2 };

/* A parsed configuration. Every string is owned by the config. */
typedef struct hvd_config {
    char *file; /* where it was read from ("<string>" for hvd_config_parse_string) */
    char *database;
    char *rules;
    char *socket;
    unsigned socket_mode;
    int log_level; /* HVD_LOG_* */
    uint64_t rescan_ms;
    uint64_t settle_ms;
    uint64_t file_timeout_ms;
    unsigned workers;
    uint64_t worker_memory_limit; /* bytes; 0: no limit */
    uint64_t worker_cpu_ms;       /* CPU time for one file; 0: file_timeout_ms */
    uint64_t worker_max_files;    /* files before a worker is replaced; 0: never */
    uint64_t worker_max_rss;      /* bytes of resident memory before it is; 0: never */
    unsigned max_clients;
    unsigned max_clients_per_uid;
    uint64_t client_idle_ms;
    uint64_t client_queue_limit;   /* bytes */
    uint64_t client_output_budget; /* bytes */
    int evtx_decoder;             /* evtx_reader: an hvd_evtx_decoder (source.h); 0 = the default */
    char *metrics_listen;         /* "ADDRESS:PORT" as given; NULL: no HTTP endpoint */
    char metrics_address[48];     /* its numeric address, IPv6 without brackets */
    unsigned metrics_port;        /* 1 to 65535 */
    unsigned metrics_listen_line; /* its line, for errors found when listening */
    char *metrics_textfile;       /* absolute path ending in .prom; NULL: none */
    unsigned metrics_textfile_line;
    /* [outputs] */
    int journald;              /* HVD_CONFIG_AUTO, _ON or _OFF */
    char *json_file;           /* NULL: none */
    char *on_incident;         /* NULL: none */
    uint64_t hook_timeout_ms;  /* on_incident_timeout */
    unsigned hook_max_running; /* on_incident_max_running */
    uint64_t retry_max_ms;     /* retry_max */
    unsigned journald_line;    /* lines of those keys, for --check-config; 0: not set */
    unsigned json_file_line;
    unsigned on_incident_line;
    char *syslog_target; /* as hvd_syslog_target_parse() reads it; NULL: none */
    unsigned syslog_target_line;
    int syslog_facility; /* 0 to 23 */
    hvd_config_watch *watches;
    size_t nwatches;
} hvd_config;

/*
 * Reads the configuration at path. Every problem is logged at error level as
 * "file:line: message" and the first is in err; any problem rejects the whole file. On
 * success *out owns the config until hvd_config_destroy(). log may be NULL.
 */
int hvd_config_load(hvd_config **out, const char *path, const hvd_logger *log, hvd_error *err);

/* As hvd_config_load() for text in memory; name is used in messages (NULL: "<string>"). */
int hvd_config_parse_string(hvd_config **out, const char *text, const char *name,
                            const hvd_logger *log, hvd_error *err);

void hvd_config_destroy(hvd_config *c); /* NULL-safe */

/* A human-readable summary, several lines; caller frees with hvd_free(). NULL when out of
 * memory. */
char *hvd_config_describe(const hvd_config *c);

/* Parses a duration ("250ms", "30s", "5m", "1h", bare number = seconds) into
 * milliseconds. Returns 0, or -1 for anything else. */
int hvd_config_parse_duration(const char *s, uint64_t *ms);

/* Parses a size ("512K", "256m", "1G", "1T", binary units in either case, optional "iB"/"B";
 * bare number = bytes) into bytes. Returns 0, or -1 for anything else or an overflow. */
int hvd_config_parse_size(const char *s, uint64_t *bytes);

#endif
