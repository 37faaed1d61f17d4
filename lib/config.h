/*
 * config: hvdiagd's INI configuration file, parsed with inih. Unknown sections and keys and
 * bad values are errors naming file:line; every one is reported, not just the first.
 *
 *   [daemon]                 database, rules, socket, socket_mode, log_level,
 *                            rescan_interval, settle_time
 *   [watch NAME]             path, pattern (globs, space separated), kind (evtx,
 *                            clusterlog, auto), recursive (yes/no), host
 */
#ifndef HVD_CONFIG_H
#define HVD_CONFIG_H

#include "error.h"
#include "log.h"

#define HVD_CONFIG_MAX_WATCHES  64
#define HVD_CONFIG_MAX_PATTERNS 8

typedef struct hvd_watch_config {
    char name[64];
    char path[1024];
    char patterns[HVD_CONFIG_MAX_PATTERNS][128];
    int npatterns; /* 0: every file */
    char kind[16]; /* "evtx", "clusterlog", "auto" */
    int recursive;
    char host[256];
} hvd_watch_config;

typedef struct hvd_config {
    char database[1024];
    char rules[1024];
    char socket[108];
    unsigned socket_mode;
    int log_level;       /* HVD_LOG_* */
    int rescan_interval; /* seconds */
    int settle_time;     /* seconds a file must stay unchanged before it is read */
    hvd_watch_config watches[HVD_CONFIG_MAX_WATCHES];
    int nwatches;
} hvd_config;

/* Defaults: /var/lib/hvdiag/hvdiag.db, the installed rules, /run/hvdiag/hvdiag.sock, 0660,
 * info, 30 s rescan, 2 s settle. */
void hvd_config_defaults(hvd_config *cfg);

/* Reads path over the defaults. Every problem is logged at error level as file:line; the
 * first is in err. Returns HVD_OK or HVD_ECONFIG. */
int hvd_config_load(hvd_config *cfg, const char *path, const hvd_logger *log, hvd_error *err);

#endif
