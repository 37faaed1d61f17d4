/*
 * query: JSON request in, JSON response out (jansson), reading the store. Every failure,
 * from malformed JSON to a database error, becomes an {"ok":false} response: a caller can
 * always send the answer back to its client.
 */
#include "query.h"

#include "alloc.h"
#include "hvtime.h"

#include <jansson.h>
#include <string.h>

static char *dump(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *copy = text ? hvd_strdup(text) : NULL;

    free(text);
    json_decref(o);
    return copy;
}

static char *fail(const char *code, const char *message)
{
    json_t *o = json_object();

    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_pack("{s:s,s:s}", "code", code, "message", message));
    return dump(o);
}

static json_t *ok(void)
{
    json_t *o = json_object();

    json_object_set_new(o, "ok", json_true());
    return o;
}

static json_t *time_json(hvd_time t)
{
    char buf[40];

    return json_string(hvd_time_format(t, buf, sizeof(buf)));
}

/* Optional string member: NULL when absent; -1 when present but not a string. */
static int opt_string(const json_t *req, const char *name, const char **out)
{
    const json_t *v = json_object_get(req, name);

    *out = NULL;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int opt_integer(const json_t *req, const char *name, long long *out)
{
    const json_t *v = json_object_get(req, name);

    if (!v || json_is_null(v)) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int add_incident(void *ud, const hvd_incident *in)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(in->id));
    json_object_set_new(o, "severity", json_string(hvd_severity_name(in->severity)));
    json_object_set_new(o, "subject_kind", json_string(in->subject_kind));
    json_object_set_new(o, "subject", json_string(in->subject));
    json_object_set_new(o, "hosts", json_string(in->hosts));
    json_object_set_new(o, "first_time", time_json(in->first_time));
    json_object_set_new(o, "last_time", time_json(in->last_time));
    json_object_set_new(o, "title", json_string(in->title));
    json_object_set_new(o, "remedy", json_string(in->remedy));
    json_object_set_new(o, "diagnoses", json_integer(in->diagnoses));
    json_array_append_new(ud, o);
    return 0;
}

/* The filters incidents and diagnoses share. Returns NULL, or a failure response. */
static char *parse_filter(const json_t *req, hvd_incident_filter *f, long long *limit,
                          long long *offset)
{
    const char *sev = NULL;
    const char *since = NULL;
    const char *until = NULL;

    memset(f, 0, sizeof(*f));
    *limit = 50;
    *offset = 0;
    if (opt_string(req, "vm", &f->vm) < 0 || opt_string(req, "host", &f->host) < 0 ||
        opt_string(req, "rule", &f->rule) < 0 || opt_string(req, "severity", &sev) < 0 ||
        opt_string(req, "since", &since) < 0 || opt_string(req, "until", &until) < 0 ||
        opt_integer(req, "limit", limit) < 0 || opt_integer(req, "offset", offset) < 0) {
        return fail("bad_request", "a filter has the wrong type");
    }
    if (!f->vm && opt_string(req, "vm_id", &f->vm) < 0) {
        return fail("bad_request", "vm_id must be a string");
    }
    f->min_severity = HVD_SEVERITY_INFO;
    if (sev && (f->min_severity = hvd_severity_parse(sev)) < 0) {
        return fail("bad_request", "unknown severity");
    }
    if ((since && hvd_time_parse(since, &f->since) < 0) ||
        (until && hvd_time_parse(until, &f->until) < 0)) {
        return fail("bad_request", "since/until must be ISO-8601 times");
    }
    if (*limit == 0 || *limit > 1000) {
        *limit = *limit ? 1000 : 50;
    }
    f->limit = *limit + 1; /* one more tells whether there is a next page */
    f->offset = *offset;
    return NULL;
}

/* Moves list into res under name, with next_offset when the extra row says there is more. */
static char *page(json_t *list, const char *name, long long limit, long long offset)
{
    json_t *res = ok();

    if ((long long)json_array_size(list) > limit) {
        json_array_remove(list, json_array_size(list) - 1);
        json_object_set_new(res, "next_offset", json_integer(offset + limit));
    }
    json_object_set_new(res, name, list);
    return dump(res);
}

static char *op_incidents(const hvd_query_context *q, const json_t *req)
{
    hvd_incident_filter f;
    long long limit;
    long long offset;
    char *bad = parse_filter(req, &f, &limit, &offset);
    json_t *list;
    hvd_error err;

    if (bad) {
        return bad;
    }
    list = json_array();
    if (hvd_store_incidents(q->store, &f, add_incident, list, &err) < 0) {
        json_decref(list);
        return fail("internal", err.msg);
    }
    return page(list, "incidents", limit, offset);
}

static int add_evidence(void *ud, const hvd_evidence *e)
{
    json_t *o = json_object();

    json_object_set_new(o, "time", time_json(e->time));
    json_object_set_new(o, "host", json_string(e->host));
    json_object_set_new(o, "source", json_string(e->source_path));
    json_object_set_new(o, "kind", json_string(hvd_source_kind_name(e->kind)));
    if (e->kind == HVD_SOURCE_EVTX) {
        json_object_set_new(o, "provider", json_string(e->provider));
        json_object_set_new(o, "channel", json_string(e->channel));
        json_object_set_new(o, "event_id", json_integer(e->event_id));
        json_object_set_new(o, "record_id", json_integer((json_int_t)e->event_record_id));
    } else {
        json_object_set_new(o, "line", json_integer((json_int_t)e->line));
        json_object_set_new(o, "component", json_string(e->component));
    }
    json_object_set_new(o, "level", json_integer(e->level));
    json_object_set_new(o, "message", json_string(e->message));
    json_array_append_new(ud, o);
    return 0;
}

struct diag_ctx {
    hvd_store *store;
    json_t *list;
    int evidence; /* with each diagnosis's evidence events */
};

static int add_diagnosis(void *ud, const hvd_stored_diagnosis *d)
{
    struct diag_ctx *c = ud;
    json_t *o = json_object();
    json_t *ev = json_array();
    json_t *refs = json_array();
    hvd_error err;

    for (const char *p = d->references; p && *p;) {
        size_t n = strcspn(p, "\n");

        json_array_append_new(refs, json_stringn(p, n));
        p += n + (p[n] == '\n');
    }
    if (c->evidence) {
        hvd_store_diagnosis_evidence(c->store, d->id, add_evidence, ev, &err);
    }
    json_object_set_new(o, "id", json_integer(d->id));
    json_object_set_new(o, "incident", json_integer(d->incident));
    json_object_set_new(o, "rule", json_string(d->rule_id));
    json_object_set_new(o, "kind", json_string(d->kind));
    json_object_set_new(o, "root_cause", json_boolean(d->root));
    json_object_set_new(o, "severity", json_string(hvd_severity_name(d->severity)));
    json_object_set_new(o, "confidence", json_string(d->confidence));
    json_object_set_new(o, "title", json_string(d->title));
    json_object_set_new(o, "host", json_string(d->host));
    json_object_set_new(o, "vm_name", json_string(d->vm_name));
    json_object_set_new(o, "vm_id", json_string(d->vm_id));
    json_object_set_new(o, "first_time", time_json(d->first_time));
    json_object_set_new(o, "last_time", time_json(d->last_time));
    json_object_set_new(o, "count", json_integer((json_int_t)d->count));
    json_object_set_new(o, "cause", json_string(d->cause));
    json_object_set_new(o, "remedy", json_string(d->remedy));
    json_object_set_new(o, "references", refs);
    if (c->evidence) {
        json_object_set_new(o, "evidence", ev);
    } else {
        json_decref(ev);
    }
    json_array_append_new(c->list, o);
    return 0;
}

static char *op_incident(const hvd_query_context *q, const json_t *req)
{
    const json_t *id = json_object_get(req, "id");
    struct diag_ctx c = {q->store, NULL, 1};
    json_t *res;
    hvd_error err;

    if (!json_is_integer(id)) {
        return fail("bad_request", "id must be an integer");
    }
    c.list = json_array();
    if (hvd_store_incident_diagnoses(q->store, json_integer_value(id), add_diagnosis, &c, &err) <
        0) {
        json_decref(c.list);
        return fail("internal", err.msg);
    }
    if (json_array_size(c.list) == 0) {
        json_decref(c.list);
        return fail("not_found", "no such incident");
    }
    res = ok();
    json_object_set_new(res, "id", json_integer(json_integer_value(id)));
    json_object_set_new(res, "diagnoses", c.list);
    return dump(res);
}

/* Single diagnoses, filtered like incidents, newest first, without their evidence. */
static char *op_diagnoses(const hvd_query_context *q, const json_t *req)
{
    hvd_diagnosis_filter f;
    long long limit;
    long long offset;
    char *bad = parse_filter(req, &f, &limit, &offset);
    struct diag_ctx c = {q->store, NULL, 0};
    hvd_error err;

    if (bad) {
        return bad;
    }
    c.list = json_array();
    if (hvd_store_diagnoses(q->store, &f, add_diagnosis, &c, &err) < 0) {
        json_decref(c.list);
        return fail("internal", err.msg);
    }
    return page(c.list, "diagnoses", limit, offset);
}

static int add_source(void *ud, const hvd_store_source *s)
{
    json_t *o = json_object();

    json_object_set_new(o, "path", json_string(s->path));
    json_object_set_new(o, "kind", json_string(s->kind));
    json_object_set_new(o, "host", json_string(s->host));
    json_object_set_new(o, "position", json_string(s->position));
    json_object_set_new(o, "events", json_integer((json_int_t)s->events));
    json_object_set_new(o, "skipped", json_integer((json_int_t)s->skipped));
    json_object_set_new(o, "fresh", json_integer((json_int_t)s->fresh));
    json_object_set_new(o, "repeated", json_integer((json_int_t)s->repeated));
    /* read, and every event was stored before: a re-export or a re-run */
    json_object_set_new(o, "all_repeats", json_boolean(s->fresh == 0 && s->repeated > 0));
    json_object_set_new(o, "recovered", json_integer((json_int_t)s->recovered));
    json_object_set_new(o, "corrupted", json_boolean(s->corrupted));
    json_object_set_new(o, "dirty", json_boolean(s->dirty));
    json_object_set_new(o, "last_error", json_string(s->last_error));
    json_object_set_new(o, "quarantined", json_boolean(s->quarantined));
    json_array_append_new(ud, o);
    return 0;
}

static char *op_sources(const hvd_query_context *q)
{
    json_t *list = json_array();
    json_t *res;
    hvd_error err;

    if (hvd_store_sources(q->store, add_source, list, &err) < 0) {
        json_decref(list);
        return fail("internal", err.msg);
    }
    res = ok();
    json_object_set_new(res, "sources", list);
    return dump(res);
}

static char *op_rules(const hvd_query_context *q)
{
    json_t *list;
    json_t *res;

    if (!q->rules) {
        return fail("not_found", "no rule set is loaded here");
    }
    list = json_array();
    for (size_t i = 0; i < hvd_ruleset_count(q->rules); i++) {
        const hvd_rule_info *r = hvd_ruleset_rule(q->rules, i);

        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "id", r->id, "kind",
                                              r->correlation ? "correlation" : "rule", "severity",
                                              r->benign ? "benign" : hvd_severity_name(r->severity),
                                              "confidence", r->confidence, "enabled", r->enabled,
                                              "title", r->title));
    }
    res = ok();
    json_object_set_new(res, "rules", list);
    return dump(res);
}

static char *op_health(const hvd_query_context *q)
{
    hvd_store_counts c;
    json_t *res;
    hvd_error err;

    if (hvd_store_get_counts(q->store, &c, &err) < 0) {
        return fail("internal", err.msg);
    }
    res = ok();
    json_object_set_new(res, "sources", json_integer(c.sources));
    json_object_set_new(res, "diagnoses", json_integer(c.diagnoses));
    json_object_set_new(res, "incidents", json_integer(c.incidents));
    json_object_set_new(res, "evidence", json_integer(c.evidence));
    if (q->health) {
        const char *extra = q->health(q->ud);
        json_t *more = extra ? json_loads(extra, 0, NULL) : NULL;

        if (json_is_object(more)) {
            json_object_update(res, more);
        }
        json_decref(more);
    }
    return dump(res);
}

char *hvd_query_handle(const hvd_query_context *q, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req;
    const char *op;
    char *out;

    if (len > HVD_QUERY_MAX_REQUEST) {
        return fail("too_large", "requests are limited to 64 KiB");
    }
    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req) {
        return fail("bad_request", jerr.text);
    }
    if (!json_is_object(req) || !json_is_string(json_object_get(req, "op"))) {
        json_decref(req);
        return fail("bad_request", "a request is an object with a string member \"op\"");
    }
    op = json_string_value(json_object_get(req, "op"));
    if (strcmp(op, "ping") == 0) {
        out = dump(ok());
    } else if (strcmp(op, "incidents") == 0) {
        out = op_incidents(q, req);
    } else if (strcmp(op, "diagnoses") == 0) {
        out = op_diagnoses(q, req);
    } else if (strcmp(op, "incident") == 0) {
        out = op_incident(q, req);
    } else if (strcmp(op, "sources") == 0) {
        out = op_sources(q);
    } else if (strcmp(op, "rules") == 0) {
        out = op_rules(q);
    } else if (strcmp(op, "health") == 0) {
        out = op_health(q);
    } else {
        out = fail("unknown_op", "unknown op");
    }
    json_decref(req);
    return out;
}
