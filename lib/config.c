/* config: INI via inih; the reader wrapper counts lines so every error can name its line. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct parse {
    hvd_config *cfg;
    const char *path;
    FILE *f;
    int line;
    int errors;
    const hvd_logger *log;
    hvd_error *err;
    hvd_watch_config *watch; /* the [watch NAME] section being read */
};

void hvd_config_defaults(hvd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->database, sizeof(cfg->database), "/var/lib/hvdiag/hvdiag.db");
    snprintf(cfg->rules, sizeof(cfg->rules), "%s", HVD_RULES_DIR);
    snprintf(cfg->socket, sizeof(cfg->socket), "/run/hvdiag/hvdiag.sock");
    cfg->socket_mode = 0660;
    cfg->log_level = HVD_LOG_INFO;
    cfg->rescan_interval = 30;
    cfg->settle_time = 2;
}

static void bad(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad(struct parse *p, const char *fmt, ...)
{
    char msg[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->errors++ == 0) {
        hvd_error_set(p->err, HVD_ECONFIG, p->path, (uint64_t)p->line, "%s", msg);
    }
    hvd_log(p->log, HVD_LOG_ERR, "%s:%d: %s", p->path, p->line, msg);
}

static int copy(struct parse *p, char *dst, size_t cap, const char *name, const char *value)
{
    if (strlen(value) >= cap) {
        bad(p, "%s: value too long (%s)", name, value);
        return 0;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 1;
}

static int number(struct parse *p, const char *name, const char *value, int base, long lo, long hi,
                  long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, base);
    if (errno || end == value || *end || v < lo || v > hi) {
        bad(p, "%s: '%s' is not a valid number here", name, value);
        return 0;
    }
    *out = v;
    return 1;
}

static int boolean(struct parse *p, const char *name, const char *value, int *out)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
        strcmp(value, "1") == 0) {
        *out = 1;
    } else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
               strcmp(value, "0") == 0) {
        *out = 0;
    } else {
        bad(p, "%s: '%s' is not yes or no", name, value);
    }
    return 1;
}

static int daemon_key(struct parse *p, const char *name, const char *value)
{
    hvd_config *c = p->cfg;
    long v;

    if (strcmp(name, "database") == 0) {
        return copy(p, c->database, sizeof(c->database), name, value);
    }
    if (strcmp(name, "rules") == 0) {
        return copy(p, c->rules, sizeof(c->rules), name, value);
    }
    if (strcmp(name, "socket") == 0) {
        return copy(p, c->socket, sizeof(c->socket), name, value);
    }
    if (strcmp(name, "socket_mode") == 0) {
        if (number(p, name, value, 8, 0, 0777, &v)) {
            c->socket_mode = (unsigned)v;
        }
        return 1;
    }
    if (strcmp(name, "log_level") == 0) {
        int level = hvd_log_level_parse(value);

        if (level < 0) {
            bad(p, "log_level: '%s' is not error, warning, notice, info or debug%s", value, "");
        } else {
            c->log_level = level;
        }
        return 1;
    }
    if (strcmp(name, "rescan_interval") == 0) {
        if (number(p, name, value, 10, 1, 86400, &v)) {
            c->rescan_interval = (int)v;
        }
        return 1;
    }
    if (strcmp(name, "settle_time") == 0) {
        if (number(p, name, value, 10, 0, 3600, &v)) {
            c->settle_time = (int)v;
        }
        return 1;
    }
    bad(p, "unknown key '%s' in [daemon]%s", name, "");
    return 1;
}

static int watch_key(struct parse *p, const char *name, const char *value)
{
    hvd_watch_config *w = p->watch;

    if (strcmp(name, "path") == 0) {
        return copy(p, w->path, sizeof(w->path), name, value);
    }
    if (strcmp(name, "pattern") == 0) {
        char buf[1024];
        char *save = NULL;

        snprintf(buf, sizeof(buf), "%s", value);
        w->npatterns = 0;
        for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            if (w->npatterns == HVD_CONFIG_MAX_PATTERNS) {
                bad(p, "pattern: more than 8 patterns%s%s", "", "");
                break;
            }
            copy(p, w->patterns[w->npatterns++], sizeof(w->patterns[0]), name, t);
        }
        return 1;
    }
    if (strcmp(name, "kind") == 0) {
        if (strcmp(value, "evtx") != 0 && strcmp(value, "clusterlog") != 0 &&
            strcmp(value, "auto") != 0) {
            bad(p, "kind: '%s' is not evtx, clusterlog or auto%s", value, "");
            return 1;
        }
        return copy(p, w->kind, sizeof(w->kind), name, value);
    }
    if (strcmp(name, "recursive") == 0) {
        return boolean(p, name, value, &w->recursive);
    }
    if (strcmp(name, "host") == 0) {
        return copy(p, w->host, sizeof(w->host), name, value);
    }
    bad(p, "unknown key '%s' in [watch %s]", name, w->name);
    return 1;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;

    if (strcmp(section, "daemon") == 0) {
        return daemon_key(p, name, value);
    }
    if (strncmp(section, "watch ", 6) == 0 && section[6]) {
        if (!p->watch || strcmp(p->watch->name, section + 6) != 0) {
            if (p->cfg->nwatches == HVD_CONFIG_MAX_WATCHES) {
                bad(p, "more than 64 [watch] sections%s%s", "", "");
                return 1;
            }
            p->watch = &p->cfg->watches[p->cfg->nwatches++];
            memset(p->watch, 0, sizeof(*p->watch));
            snprintf(p->watch->name, sizeof(p->watch->name), "%s", section + 6);
            snprintf(p->watch->kind, sizeof(p->watch->kind), "auto");
        }
        return watch_key(p, name, value);
    }
    bad(p, "unknown section [%s]%s", section, "");
    return 1;
}

/* fgets that counts lines, so handlers know where they are. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    char *r = fgets(str, num, p->f);

    if (r) {
        p->line++;
    }
    return r;
}

int hvd_config_load(hvd_config *cfg, const char *path, const hvd_logger *log, hvd_error *err)
{
    struct parse p = {cfg, path, NULL, 0, 0, log, err, NULL};
    int rc;

    p.f = fopen(path, "r");
    if (!p.f) {
        return hvd_error_set_cause(err, HVD_ECONFIG, errno, path, 0, "cannot open: %s",
                                   strerror(errno));
    }
    rc = ini_parse_stream(read_line, &p, on_entry, &p);
    fclose(p.f);
    if (rc > 0 && rc != p.line) {
        p.line = rc;
    }
    if (rc > 0) {
        bad(&p, "syntax error (expected [section] or key = value)%s%s", "", "");
    }
    for (int i = 0; i < cfg->nwatches; i++) {
        if (!cfg->watches[i].path[0]) {
            p.line = 0;
            bad(&p, "[watch %s] has no path%s", cfg->watches[i].name, "");
        }
    }
    return p.errors ? HVD_ECONFIG : HVD_OK;
}
