/* Logging through a handle: lib/ never prints, it hands lines to the caller's logger. */
#ifndef HVD_LOG_H
#define HVD_LOG_H

/* Levels use syslog numbers, so hvdiagd can prefix "<N>" for journald. */
enum {
    HVD_LOG_ERR = 3,
    HVD_LOG_WARNING = 4,
    HVD_LOG_NOTICE = 5,
    HVD_LOG_INFO = 6,
    HVD_LOG_DEBUG = 7,
};

typedef struct hvd_logger {
    void (*fn)(void *ud, int level, const char *msg);
    void *ud;
    int min_level; /* lines with level > min_level are dropped */
} hvd_logger;

/* Formats and hands one line to log->fn. log may be NULL (the line is discarded). */
void hvd_log(const hvd_logger *log, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when a line at 'level' would reach the logger; guards costly formatting. */
int hvd_log_enabled(const hvd_logger *log, int level);

/* Name of a level ("error", "warning", ...) and the reverse; -1 for an unknown name. */
const char *hvd_log_level_name(int level);
int hvd_log_level_parse(const char *name);

#endif
