/* hvd_log: formats a line and passes it to the caller's logger; NULL discards. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hvd_log_enabled(const hvd_logger *log, int level)
{
    return log && log->fn && level <= log->min_level;
}

void hvd_log(const hvd_logger *log, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!hvd_log_enabled(log, level)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log->fn(log->ud, level, line);
}

static const struct {
    int level;
    const char *name;
} level_names[] = {
    {HVD_LOG_ERR, "error"}, {HVD_LOG_WARNING, "warning"}, {HVD_LOG_NOTICE, "notice"},
    {HVD_LOG_INFO, "info"}, {HVD_LOG_DEBUG, "debug"},
};

const char *hvd_log_level_name(int level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (level_names[i].level == level) {
            return level_names[i].name;
        }
    }
    return "unknown";
}

int hvd_log_level_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(level_names[i].name, name) == 0) {
            return level_names[i].level;
        }
    }
    return -1;
}
