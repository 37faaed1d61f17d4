/*
 * query: JSON request in, JSON response out (jansson), reading the store. Every failure,
 * from malformed JSON to a database error, becomes an {"ok":false} response: a caller can
 * always send the answer back to its client.
 */
#include "query.h"

#include "alloc.h"
#include "hvtime.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * Paging. A listing answers at most HVD_QUERY_MAX_PAGE rows and, when more follow, a
 * "next_cursor": an opaque string naming the last row sent, which the next request passes
 * back as "cursor". The store continues right after that row with an index search, so
 * walking n rows costs O(n log n) whatever the page size, and rows added meanwhile neither
 * shift nor repeat the rest. Cursors: "i:TIME:ID" and "d:TIME:ID" (incidents and
 * diagnoses, newest first by first time, then id), "s:PATH" (sources, by path).
 * "offset" still works and gives "next_offset".
 */
struct page {
    json_t *list;
    long long limit;  /* rows wanted; the store is asked for one more */
    size_t max_bytes; /* 0, or end the page early once its rows take this much JSON */
    size_t bytes;
    size_t n;
    hvd_time time; /* the limit-th row, for the cursor */
    int64_t id;
    char *key; /* hvd_strdup'd; a source's path */
};

static void page_free(struct page *pg)
{
    json_decref(pg->list);
    hvd_free(pg->key);
}

/* Counts the row just appended to the page and notes it when it ends the page: the
 * limit-th row, or the one that brings the page to max_bytes. Returns 1 to stop the walk
 * (the row after the page's end, which only says there is more, was fetched), 0 to go
 * on, -1 when out of memory. Measuring a row serializes it: O(row), once more. */
static int page_mark(struct page *pg, hvd_time t, int64_t id, const char *key)
{
    pg->n++;
    if ((long long)pg->n > pg->limit) {
        return 1;
    }
    if (pg->max_bytes) {
        pg->bytes += json_dumpb(json_array_get(pg->list, pg->n - 1), NULL, 0, JSON_COMPACT) + 1;
        if (pg->bytes >= pg->max_bytes) {
            pg->limit = (long long)pg->n;
        }
    }
    if ((long long)pg->n != pg->limit) {
        return 0;
    }
    pg->time = t;
    pg->id = id;
    if (key) {
        pg->key = hvd_strdup(key);
        return pg->key ? 0 : -1;
    }
    return 0;
}

/* Reads "cursor" of the given kind ('i', 'd' or 's') into f or *path. Returns 0 when
 * absent or valid, -1 when malformed. *path is borrowed from req. */
static int parse_cursor(const json_t *req, char kind, hvd_incident_filter *f, const char **path)
{
    const char *c = NULL;
    char *end = NULL;
    long long t;
    long long id;

    if (opt_string(req, "cursor", &c) < 0) {
        return -1;
    }
    if (!c) {
        return 0;
    }
    if (c[0] != kind || c[1] != ':') {
        return -1;
    }
    if (kind == 's') {
        *path = c + 2;
        return 0;
    }
    errno = 0;
    t = strtoll(c + 2, &end, 10);
    if (errno || end == c + 2 || *end != ':') {
        return -1;
    }
    f->after = 1;
    f->after_time = t;
    c = end + 1;
    id = strtoll(c, &end, 10);
    if (errno || end == c || *end) {
        return -1;
    }
    f->after_id = id;
    return 0;
}

/* The "next_cursor" member for a page that has more, or NULL. */
static json_t *cursor_json(const struct page *pg, char kind)
{
    char buf[64];
    char *text;
    size_t n;
    json_t *o;

    if (kind != 's') {
        snprintf(buf, sizeof(buf), "%c:%" PRId64 ":%" PRId64, kind, pg->time, pg->id);
        return json_string(buf);
    }
    if (!pg->key) {
        return NULL; /* page_mark() ran out of memory */
    }
    n = strlen(pg->key) + 3;
    text = hvd_malloc(n);
    if (!text) {
        return NULL;
    }
    snprintf(text, n, "s:%s", pg->key);
    o = json_string(text);
    hvd_free(text);
    return o;
}

static int add_incident(void *ud, const hvd_incident *in)
{
    struct page *pg = ud;
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
    json_array_append_new(pg->list, o);
    return page_mark(pg, in->first_time, in->id, NULL);
}

/* The filters incidents and diagnoses share. Returns NULL, or a failure response. */
static char *parse_filter(const json_t *req, char kind, hvd_incident_filter *f, long long *limit,
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
    if (parse_cursor(req, kind, f, NULL) < 0) {
        return fail("bad_request", "cursor is not one this listing gave");
    }
    f->min_severity = HVD_SEVERITY_INFO;
    if (sev && (f->min_severity = hvd_severity_parse(sev)) < 0) {
        return fail("bad_request", "unknown severity");
    }
    if ((since && hvd_time_parse(since, &f->since) < 0) ||
        (until && hvd_time_parse(until, &f->until) < 0)) {
        return fail("bad_request", "since/until must be ISO-8601 times");
    }
    if (*limit == 0 || *limit > HVD_QUERY_MAX_PAGE) {
        *limit = *limit ? HVD_QUERY_MAX_PAGE : 50;
    }
    f->limit = *limit + 1; /* one more tells whether there is a next page */
    f->offset = *offset;
    return NULL;
}

/* Moves the page's rows into res under name, with next_cursor and next_offset when the
 * extra row says there is more. */
static char *page(struct page *pg, const char *name, char kind, long long offset)
{
    json_t *res = ok();

    if ((long long)json_array_size(pg->list) > pg->limit) {
        json_t *cursor = cursor_json(pg, kind);

        if (!cursor) {
            json_decref(res);
            page_free(pg);
            return NULL;
        }
        json_array_remove(pg->list, json_array_size(pg->list) - 1);
        json_object_set_new(res, "next_cursor", cursor);
        if (kind != 's') {
            json_object_set_new(res, "next_offset", json_integer(offset + pg->limit));
        }
    }
    json_object_set(res, name, pg->list);
    page_free(pg);
    return dump(res);
}

static char *op_incidents(const hvd_query_context *q, const json_t *req)
{
    hvd_incident_filter f;
    struct page pg = {0};
    long long offset;
    char *bad = parse_filter(req, 'i', &f, &pg.limit, &offset);
    hvd_error err;

    if (bad) {
        return bad;
    }
    pg.max_bytes = q->max_answer;
    pg.list = json_array();
    if (hvd_store_incidents(q->store, &f, add_incident, &pg, &err) < 0) {
        page_free(&pg);
        return fail("internal", err.msg);
    }
    return page(&pg, "incidents", 'i', offset);
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
    int evidence;    /* with each diagnosis's evidence events */
    struct page *pg; /* paged listings: the cursor's row */
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
    return c->pg ? page_mark(c->pg, d->first_time, d->id, NULL) : 0;
}

static char *op_incident(const hvd_query_context *q, const json_t *req)
{
    const json_t *id = json_object_get(req, "id");
    struct diag_ctx c = {q->store, NULL, 1, NULL};
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
    struct page pg = {0};
    long long offset;
    char *bad = parse_filter(req, 'd', &f, &pg.limit, &offset);
    struct diag_ctx c = {q->store, NULL, 0, &pg};
    hvd_error err;

    if (bad) {
        return bad;
    }
    pg.max_bytes = q->max_answer;
    pg.list = json_array();
    c.list = pg.list;
    if (hvd_store_diagnoses(q->store, &f, add_diagnosis, &c, &err) < 0) {
        page_free(&pg);
        return fail("internal", err.msg);
    }
    return page(&pg, "diagnoses", 'd', offset);
}

static int add_source(void *ud, const hvd_store_source *s)
{
    struct page *pg = ud;
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
    json_array_append_new(pg->list, o);
    return page_mark(pg, 0, 0, s->path);
}

static char *op_sources(const hvd_query_context *q, const json_t *req)
{
    struct page pg = {0};
    const char *after = NULL;
    hvd_incident_filter none;
    hvd_error err;

    pg.limit = HVD_QUERY_MAX_PAGE;
    if (opt_integer(req, "limit", &pg.limit) < 0 || parse_cursor(req, 's', &none, &after) < 0) {
        return fail("bad_request", "limit or cursor has the wrong form");
    }
    if (pg.limit == 0 || pg.limit > HVD_QUERY_MAX_PAGE) {
        pg.limit = HVD_QUERY_MAX_PAGE;
    }
    pg.max_bytes = q->max_answer;
    pg.list = json_array();
    if (hvd_store_sources_page(q->store, after, pg.limit + 1, add_source, &pg, &err) < 0) {
        page_free(&pg);
        return fail("internal", err.msg);
    }
    return page(&pg, "sources", 's', 0);
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
    /* What 'incidents' lists by default (info and up); benign ones apart, as
     * '--severity benign' lists them. */
    json_object_set_new(res, "incidents", json_integer(c.incidents - c.benign_incidents));
    json_object_set_new(res, "benign_incidents", json_integer(c.benign_incidents));
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
        out = op_sources(q, req);
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
