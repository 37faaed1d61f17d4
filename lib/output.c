/*
 * output: the shared part of the outputs (see output.h). Batches own one allocation of
 * strings per record; the JSON document, journald fields and hook environment are built
 * from a record alone, so every output says the same thing about a change.
 */
#include "output.h"

#include "syslog5424.h"

#include "alloc.h"
#include "hvtime.h"
#include "syslog5424.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD_MAX 4096 /* bytes of one journald field or environment value */

/* --- batch -------------------------------------------------------------------------------- */

void hvd_output_batch_init(hvd_output_batch *b)
{
    memset(b, 0, sizeof(*b));
}

void hvd_output_batch_free(hvd_output_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        hvd_free(b->text[i]);
    }
    hvd_output_batch_init(b);
}

/* The string fields of a record, for copying them in one go. */
static const char **string_slot(hvd_outbox_record *r, size_t i)
{
    const char **slots[] = {&r->change, &r->subject_kind, &r->subject, &r->hosts,
                            &r->title,  &r->remedy,       &r->rule,    &r->root_key,
                            &r->host,   &r->vm_name,      &r->vm_id};

    return i < sizeof(slots) / sizeof(slots[0]) ? slots[i] : NULL;
}

int hvd_output_batch_add(hvd_output_batch *b, const hvd_outbox_record *r)
{
    hvd_outbox_record *c;
    const char **slot;
    size_t total = 0;
    char *text;
    char *at;

    if (b->n >= HVD_OUTPUT_BATCH_MAX) {
        return HVD_ELIMIT;
    }
    c = &b->rec[b->n];
    *c = *r;
    for (size_t i = 0; (slot = string_slot(c, i)) != NULL; i++) {
        total += strlen(*slot ? *slot : "") + 1;
    }
    text = hvd_malloc(total);
    if (!text) {
        return HVD_ENOMEM;
    }
    at = text;
    for (size_t i = 0; (slot = string_slot(c, i)) != NULL; i++) {
        size_t len = strlen(*slot ? *slot : "");

        memcpy(at, *slot ? *slot : "", len + 1);
        *slot = at;
        at += len + 1;
    }
    b->text[b->n++] = text;
    return HVD_OK;
}

void hvd_output_batch_shift(hvd_output_batch *b, size_t k)
{
    if (k > b->n) {
        k = b->n;
    }
    for (size_t i = 0; i < k; i++) {
        hvd_free(b->text[i]);
    }
    memmove(b->rec, b->rec + k, (b->n - k) * sizeof(b->rec[0]));
    memmove(b->text, b->text + k, (b->n - k) * sizeof(b->text[0]));
    b->n -= k;
}

/* --- what a record says ------------------------------------------------------------------- */

char *hvd_output_record_id(const hvd_outbox_record *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "%" PRId64 "-%" PRId64, r->incident, r->revision);
    return buf;
}

int hvd_output_is_notable(const hvd_outbox_record *r)
{
    return strcmp(r->change, "new") == 0 || strcmp(r->change, "severity") == 0;
}

static const char *severity_name(int s)
{
    return s < 0 ? "" : hvd_severity_name((hvd_severity)s);
}

/* The VM a record is about: its name, else its id, else "". */
static const char *record_vm(const hvd_outbox_record *r)
{
    if (r->vm_name[0]) {
        return r->vm_name;
    }
    if (r->vm_id[0]) {
        return r->vm_id;
    }
    return strcmp(r->subject_kind, "vm") == 0 ? r->subject : "";
}

/* The host a record is about: the root cause's, else the first of the incident's. */
static void record_host(const hvd_outbox_record *r, char *buf, size_t cap)
{
    const char *h = r->host[0] ? r->host : r->hosts;
    size_t n = strcspn(h, ",");

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(buf, h, n);
    buf[n] = '\0';
}

static int set_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, json_string(v ? v : ""));
}

static int set_time(json_t *o, const char *key, hvd_time t)
{
    char tbuf[64];

    return set_str(o, key, hvd_time_format(t, tbuf, sizeof(tbuf)));
}

/* A JSON array of the comma-separated names in list. */
static json_t *name_list(const char *list)
{
    json_t *a = json_array();

    for (const char *p = list; a && *p;) {
        size_t n = strcspn(p, ",");

        if (n) {
            json_array_append_new(a, json_stringn(p, n));
        }
        p += n;
        p += *p == ',';
    }
    return a;
}

int hvd_output_json(const hvd_outbox_record *r, hvd_buf *out)
{
    json_t *o = json_object();
    json_t *ev = json_object();
    json_t *host = json_object();
    json_t *rule = json_object();
    json_t *log = json_object();
    json_t *hv = json_object();
    json_t *inc = json_object();
    json_t *vm = json_object();
    char id[48];
    char action[32];
    char hname[256];
    char *text = NULL;
    int rc = HVD_ENOMEM;

    if (!o || !ev || !host || !rule || !log || !hv || !inc || !vm) {
        goto out;
    }
    hvd_output_record_id(r, id, sizeof(id));
    snprintf(action, sizeof(action), "incident-%s", r->change);
    record_host(r, hname, sizeof(hname));
    set_time(o, "@timestamp", r->changed_at);
    set_str(ev, "kind", "alert");
    set_str(ev, "id", id);
    set_str(ev, "action", action);
    json_object_set_new(ev, "severity", json_integer(r->severity));
    set_time(ev, "start", r->first_time);
    set_time(ev, "end", r->last_time);
    set_str(ev, "dataset", "hvdiag.incident");
    set_str(host, "name", hname);
    set_str(rule, "id", r->rule);
    set_str(rule, "name", r->title);
    set_str(log, "level", severity_name(r->severity));

    json_object_set_new(inc, "id", json_integer(r->incident));
    json_object_set_new(inc, "revision", json_integer(r->revision));
    set_str(inc, "change", r->change);
    set_str(inc, "severity", severity_name(r->severity));
    if (r->previous_severity >= 0) {
        set_str(inc, "previous_severity", severity_name(r->previous_severity));
    }
    set_str(inc, "subject_kind", r->subject_kind);
    set_str(inc, "subject", r->subject);
    json_object_set_new(inc, "hosts", name_list(r->hosts));
    json_object_set_new(inc, "diagnoses", json_integer(r->diagnoses));
    set_str(inc, "root_cause", r->root_key);
    set_str(inc, "remedy", r->remedy);
    set_str(vm, "name", r->vm_name);
    set_str(vm, "id", r->vm_id);
    set_str(hv, "id", id);
    json_object_set_new(hv, "incident", inc);
    json_object_set_new(hv, "vm", vm);
    inc = vm = NULL;

    json_object_set_new(o, "event", ev);
    json_object_set_new(o, "host", host);
    json_object_set_new(o, "rule", rule);
    set_str(o, "message", r->title);
    json_object_set_new(o, "log", log);
    json_object_set_new(o, "hvdiag", hv);
    ev = host = rule = log = hv = NULL;

    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        goto out;
    }
    hvd_buf_reset(out);
    rc = hvd_buf_adds(out, text);
out:
    free(text);
    json_decref(o);
    json_decref(ev);
    json_decref(host);
    json_decref(rule);
    json_decref(log);
    json_decref(hv);
    json_decref(inc);
    json_decref(vm);
    return rc;
}

/* Appends "NAME=value\0" to text with value cut at FIELD_MAX bytes and line breaks made
 * spaces; records its offset. Offsets, not pointers: text may move while it grows. */
static int add_field(hvd_buf *text, size_t *offs, size_t *n, size_t max, const char *name,
                     const char *value)
{
    size_t len = strnlen(value, FIELD_MAX);
    int rc;

    if (*n >= max) {
        return HVD_ELIMIT;
    }
    offs[(*n)++] = text->len;
    rc = hvd_buf_printf(text, "%s=", name);
    for (size_t i = 0; rc == HVD_OK && i < len; i++) {
        rc = hvd_buf_addc(text, value[i] == '\n' || value[i] == '\r' ? ' ' : value[i]);
    }
    return rc == HVD_OK ? hvd_buf_addc(text, '\0') : rc;
}

/* The fields both journald and the hook get; title_name names the title's field. */
static int common_fields(const hvd_outbox_record *r, hvd_buf *text, const char **out, size_t max,
                         int journal)
{
    size_t offs[HVD_OUTPUT_JOURNAL_FIELDS];
    size_t n = 0;
    char num[48];
    char hname[256];
    int rc = HVD_OK;

    if (max > HVD_OUTPUT_JOURNAL_FIELDS) {
        max = HVD_OUTPUT_JOURNAL_FIELDS;
    }
    hvd_buf_reset(text);
    record_host(r, hname, sizeof(hname));
    if (journal) {
        rc = add_field(text, offs, &n, max, "MESSAGE", r->title);
        snprintf(num, sizeof(num), "%d", hvd_syslog_severity(r->severity));
        if (rc == HVD_OK) {
            rc = add_field(text, offs, &n, max, "PRIORITY", num);
        }
        if (rc == HVD_OK) {
            rc = add_field(text, offs, &n, max, "SYSLOG_IDENTIFIER", "hvdiagd");
        }
    } else {
        rc = add_field(text, offs, &n, max, "HVDIAG_TITLE", r->title);
    }
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_ID", hvd_output_record_id(r, num, sizeof(num)));
    }
    snprintf(num, sizeof(num), "%" PRId64, r->incident);
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_INCIDENT", num);
    }
    snprintf(num, sizeof(num), "%" PRId64, r->revision);
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_REVISION", num);
    }
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_CHANGE", r->change);
    }
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_SEVERITY", severity_name(r->severity));
    }
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_RULE", r->rule);
    }
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_HOST", hname);
    }
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_VM", record_vm(r));
    }
    if (rc == HVD_OK) {
        rc = add_field(text, offs, &n, max, "HVDIAG_SUBJECT", r->subject);
    }
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = text->data + offs[i];
    }
    return (int)n;
}

int hvd_output_journal_fields(const hvd_outbox_record *r, hvd_buf *text, const char **fields,
                              size_t max)
{
    return common_fields(r, text, fields, max, 1);
}

int hvd_output_hook_env(const hvd_outbox_record *r, hvd_buf *text, const char **env, size_t max)
{
    return common_fields(r, text, env, max, 0);
}

/* --- configuration ------------------------------------------------------------------------- */

static void config_problem(const hvd_config *c, unsigned line, const hvd_logger *log,
                           hvd_error *err, int *errors, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void config_problem(const hvd_config *c, unsigned line, const hvd_logger *log,
                           hvd_error *err, int *errors, const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (*errors == 0) {
        hvd_error_set(err, HVD_ECONFIG, c->file, line, "%s", msg);
    }
    (*errors)++;
    hvd_log(log, HVD_LOG_ERR, "%s:%u: %s", c->file, line, msg);
}

/* Whether this user may append to path, or create it in its folder. */
static int file_writable(const char *path, char *why, size_t cap)
{
    struct stat sb;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;

    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            snprintf(why, cap, "not a regular file");
            return 0;
        }
        if (access(path, W_OK) < 0) {
            snprintf(why, cap, "cannot write it: %s", strerror(errno));
            return 0;
        }
        return 1;
    }
    if (errno != ENOENT) {
        snprintf(why, cap, "%s", strerror(errno));
        return 0;
    }
    if (n >= sizeof(dir)) {
        snprintf(why, cap, "path too long");
        return 0;
    }
    memcpy(dir, path, n);
    dir[n ? n : 1] = '\0';
    if (n == 0) {
        dir[0] = '/';
    }
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, cap, "folder %s does not exist", dir);
        return 0;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        snprintf(why, cap, "cannot create it in %s: %s", dir, strerror(errno));
        return 0;
    }
    return 1;
}

int hvd_output_check_config(const hvd_config *c, const hvd_logger *log, hvd_error *err)
{
    struct stat sb;
    char why[512];
    int errors = 0;

    if (c->json_file && !file_writable(c->json_file, why, sizeof(why))) {
        config_problem(c, c->json_file_line, log, err, &errors, "json_file: %s: %s", c->json_file,
                       why);
    }
    if (c->on_incident) {
        if (stat(c->on_incident, &sb) < 0) {
            config_problem(c, c->on_incident_line, log, err, &errors, "on_incident: %s: %s",
                           c->on_incident, strerror(errno));
        } else if (!S_ISREG(sb.st_mode)) {
            config_problem(c, c->on_incident_line, log, err, &errors,
                           "on_incident: %s: not a regular file", c->on_incident);
        } else if (access(c->on_incident, X_OK) < 0) {
            config_problem(c, c->on_incident_line, log, err, &errors,
                           "on_incident: %s: not executable by this user", c->on_incident);
        }
    }
    if (c->syslog_target) {
        hvd_output o;
        hvd_error serr;

        if (hvd_output_syslog_open(&o, c, &serr) < 0) {
            config_problem(c, c->syslog_target_line, log, err, &errors, "syslog_target: %s",
                           serr.msg);
        } else {
            o.ops->close(o.impl);
        }
    }
    if (c->journald == HVD_CONFIG_ON && !hvd_output_journald_available()) {
        config_problem(c, c->journald_line, log, err, &errors,
                       "journald: yes, but systemd-journald does not run here "
                       "(no /run/systemd/journal/socket)");
    }
    return errors ? HVD_ECONFIG : HVD_OK;
}
