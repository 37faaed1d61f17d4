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

static json_t *fail(const char *code, const char *message)
{
    json_t *o = json_object();

    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_pack("{s:s,s:s}", "code", code, "message", message));
    return o;
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

    hvd_time_format(t, buf, sizeof(buf));
    return json_stringn_nocheck(buf, strlen(buf)); /* ASCII */
}

/* A string member of a row: s as json_string() makes it (NULL when s is NULL or not
 * UTF-8), with ASCII, most of what a store holds, taken without jansson's per-character
 * UTF-8 check. O(length). */
static json_t *text_json(const char *s)
{
    size_t n = 0;

    if (!s) {
        return NULL;
    }
    while (s[n] && (unsigned char)s[n] < 0x80) {
        n++;
    }
    return s[n] ? json_string(s) : json_stringn_nocheck(s, n);
}

/* Sets member key, a literal of this file (so valid UTF-8), taking v. Rows set a dozen
 * members each: jansson's check of the key is skipped. */
static int put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new_nocheck(o, key, v);
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
 * diagnoses, newest first by first time, then id), "s:PATH" (sources, by path),
 * "n:CORRELATION:SEVERITY:TIME:EXPLAINS:KEY" (an incident's diagnoses, in the order shown) and
 * "e:TIME:RECORD:LINE:PATH" (a diagnosis's evidence, oldest first). "offset" still works
 * for incidents and diagnoses and gives "next_offset".
 */
struct page {
    json_t *list;
    const hvd_query_context *sink; /* rows go to its callbacks, not list; or NULL */
    long long limit;               /* rows wanted; the store is asked for one more */
    size_t max_bytes;              /* 0, or end the page early once its rows take this much JSON */
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
    if (pg->max_bytes && !pg->sink) {
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

    if (kind == 'i' || kind == 'd') {
        snprintf(buf, sizeof(buf), "%c:%" PRId64 ":%" PRId64, kind, pg->time, pg->id);
        return json_string(buf);
    }
    if (!pg->key) {
        return NULL; /* page_mark() ran out of memory */
    }
    if (kind != 's') {
        return json_string(pg->key); /* made whole by the listing */
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
    json_t *o;

    if (pg->sink) {
        if ((long long)pg->n < pg->limit) {
            pg->sink->incident_row(pg->sink->row_ud, in);
        }
        return page_mark(pg, in->first_time, in->id, NULL);
    }
    o = json_object();
    put(o, "id", json_integer(in->id));
    put(o, "severity", text_json(hvd_severity_name(in->severity)));
    put(o, "subject_kind", text_json(in->subject_kind));
    put(o, "subject", text_json(in->subject));
    put(o, "hosts", text_json(in->hosts));
    put(o, "first_time", time_json(in->first_time));
    put(o, "last_time", time_json(in->last_time));
    put(o, "title", text_json(in->title));
    put(o, "remedy", text_json(in->remedy));
    put(o, "diagnoses", json_integer(in->diagnoses));
    json_array_append_new(pg->list, o);
    return page_mark(pg, in->first_time, in->id, NULL);
}

/* The filters incidents and diagnoses share. Returns NULL, or a failure response. */
static json_t *parse_filter(const json_t *req, char kind, hvd_incident_filter *f, long long *limit,
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
static json_t *page(struct page *pg, const char *name, char kind, long long offset)
{
    json_t *res = ok();

    if ((long long)pg->n > pg->limit) {
        json_t *cursor = cursor_json(pg, kind);

        if (!cursor) {
            json_decref(res);
            page_free(pg);
            return NULL;
        }
        if (!pg->sink) {
            json_array_remove(pg->list, json_array_size(pg->list) - 1);
        }
        json_object_set_new(res, "next_cursor", cursor);
        if (kind == 'i' || kind == 'd') {
            json_object_set_new(res, "next_offset", json_integer(offset + pg->limit));
        }
    }
    if (!pg->sink) {
        json_object_set(res, name, pg->list);
    }
    page_free(pg);
    return res;
}

static json_t *op_incidents(const hvd_query_context *q, const json_t *req)
{
    hvd_incident_filter f;
    struct page pg = {0};
    long long offset;
    json_t *bad = parse_filter(req, 'i', &f, &pg.limit, &offset);
    hvd_error err;

    if (bad) {
        return bad;
    }
    pg.max_bytes = q->max_answer;
    pg.list = json_array();
    pg.sink = q->incident_row ? q : NULL;
    if (hvd_store_incidents(q->store, &f, add_incident, &pg, &err) < 0) {
        page_free(&pg);
        return fail("internal", err.msg);
    }
    return page(&pg, "incidents", 'i', offset);
}

/* The cursor text of an evidence event: "e:TIME:RECORD:LINE:PATH". Caller frees with
 * hvd_free(); NULL when out of memory. */
static char *evidence_cursor(const hvd_evidence *e)
{
    int n = snprintf(NULL, 0, "e:%" PRId64 ":%" PRIu64 ":%" PRIu64 ":%s", e->time, e->record_id,
                     e->line, e->source_path);
    char *text = n > 0 ? hvd_malloc((size_t)n + 1) : NULL;

    if (text) {
        snprintf(text, (size_t)n + 1, "e:%" PRId64 ":%" PRIu64 ":%" PRIu64 ":%s", e->time,
                 e->record_id, e->line, e->source_path);
    }
    return text;
}

/* Parses an "e:" cursor; *path is borrowed from c. Returns 0, or -1 when malformed. */
static int parse_evidence_cursor(const char *c, hvd_evidence_cursor *out)
{
    char *end = NULL;
    unsigned long long v;

    if (strncmp(c, "e:", 2) != 0) {
        return -1;
    }
    errno = 0;
    out->time = strtoll(c + 2, &end, 10);
    if (errno || end == c + 2 || *end != ':') {
        return -1;
    }
    c = end + 1;
    v = strtoull(c, &end, 10);
    if (errno || end == c || *end != ':' || *c == '-') {
        return -1;
    }
    out->record_id = v;
    c = end + 1;
    v = strtoull(c, &end, 10);
    if (errno || end == c || *end != ':' || *c == '-') {
        return -1;
    }
    out->line = v;
    out->source_path = end + 1;
    return 0;
}

struct evidence_page {
    json_t *list;
    size_t keep;  /* rows wanted; one more is read to tell whether there is more */
    size_t n;     /* rows seen */
    char *cursor; /* of the keep-th row; hvd_malloc'd */
    int nomem;
};

static const char *nz(const char *s)
{
    return s ? s : "";
}

static int add_evidence(void *ud, const hvd_evidence *e)
{
    struct evidence_page *ep = ud;
    json_t *o;

    if (++ep->n > ep->keep) {
        return 1; /* there is more; that is all this row says */
    }
    o = json_object();
    put(o, "time", time_json(e->time));
    put(o, "host", text_json(e->host));
    put(o, "source", text_json(e->source_path));
    put(o, "kind", text_json(hvd_source_kind_name(e->kind)));
    if (e->kind == HVD_SOURCE_EVTX) {
        put(o, "provider", text_json(e->provider));
        put(o, "channel", text_json(e->channel));
        put(o, "event_id", json_integer(e->event_id));
        put(o, "record_id", json_integer((json_int_t)e->event_record_id));
    } else {
        put(o, "line", json_integer((json_int_t)e->line));
        put(o, "component", text_json(e->component));
    }
    put(o, "level", json_integer(e->level));
    put(o, "message", text_json(e->message));
    /* RenderingInfo of a forwarded event (the message is then the sender's rendering), in
     * the shape 'hvdiag dump' gives it. */
    if (*nz(e->level_text) || *nz(e->task_text) || *nz(e->opcode_text) || *nz(e->channel_text)) {
        put(o, "rendering",
            json_pack("{s:s,s:s,s:s,s:s}", "level", nz(e->level_text), "task", nz(e->task_text),
                      "opcode", nz(e->opcode_text), "channel", nz(e->channel_text)));
    }
    json_array_append_new(ep->list, o);
    if (ep->n == ep->keep) {
        ep->cursor = evidence_cursor(e);
        ep->nomem = ep->cursor == NULL;
    }
    return 0;
}

struct diag_ctx {
    hvd_store *store;
    json_t *list;
    long long evidence; /* with at most this many evidence events each (0: none) */
    struct page *pg;    /* paged listings: the cursor's row */
    char kind;          /* the listing's cursor kind */
    int failed;         /* a nested read failed: err says why */
    hvd_error err;
};

/* The cursor text of an incident's diagnosis: "n:CORRELATION:SEVERITY:TIME:EXPLAINS:KEY"
 * (EXPLAINS: a correlation's count, else 0). Caller frees with hvd_free(); NULL when out of
 * memory. */
static char *incident_diag_cursor(const hvd_stored_diagnosis *d)
{
    int corr = strcmp(d->kind, "correlation") == 0;
    uint64_t explains = corr ? d->count : 0;
    int n = snprintf(NULL, 0, "n:%d:%d:%" PRId64 ":%" PRIu64 ":%s", corr, (int)d->severity,
                     d->first_time, explains, d->key);
    char *text = n > 0 ? hvd_malloc((size_t)n + 1) : NULL;

    if (text) {
        snprintf(text, (size_t)n + 1, "n:%d:%d:%" PRId64 ":%" PRIu64 ":%s", corr, (int)d->severity,
                 d->first_time, explains, d->key);
    }
    return text;
}

/* Parses an "n:" cursor; out->key is borrowed from c. Returns 0, or -1 when malformed. */
static int parse_incident_cursor(const char *c, hvd_incident_diag_cursor *out)
{
    char *end = NULL;
    long v;

    if (strncmp(c, "n:", 2) != 0 || (c[2] != '0' && c[2] != '1') || c[3] != ':') {
        return -1;
    }
    out->correlation = c[2] == '1';
    c += 4;
    errno = 0;
    v = strtol(c, &end, 10);
    if (errno || end == c || *end != ':' || v < 0 || v > HVD_SEVERITY_CRITICAL) {
        return -1;
    }
    out->severity = (hvd_severity)v;
    c = end + 1;
    out->first_time = strtoll(c, &end, 10);
    if (errno || end == c || *end != ':') {
        return -1;
    }
    c = end + 1;
    out->explains = strtoll(c, &end, 10);
    if (errno || end == c || *end != ':' || out->explains < 0) {
        return -1;
    }
    out->key = end + 1;
    return 0;
}

/* Adds a diagnosis's first c->evidence events, and when it has more, "evidence_more" (how
 * many) and "evidence_cursor" (where the "evidence" request goes on). */
static int add_diagnosis_evidence(struct diag_ctx *c, json_t *o, int64_t id)
{
    struct evidence_page ep = {0};
    int64_t total = 0;
    int rc;

    ep.list = json_array();
    ep.keep = (size_t)c->evidence;
    rc = hvd_store_diagnosis_evidence_page(c->store, id, NULL, c->evidence + 1, add_evidence, &ep,
                                           &c->err);
    if (rc == HVD_OK && ep.n > ep.keep) {
        rc = hvd_store_evidence_count(c->store, id, &total, &c->err);
    }
    json_object_set_new(o, "evidence", ep.list);
    if (rc == HVD_OK && ep.n > ep.keep && ep.cursor) {
        json_object_set_new(o, "evidence_more", json_integer(total - (int64_t)ep.keep));
        json_object_set_new(o, "evidence_cursor", json_string(ep.cursor));
    }
    hvd_free(ep.cursor);
    if (rc == HVD_OK && ep.nomem) {
        rc = hvd_error_set(&c->err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    return rc;
}

static int add_diagnosis(void *ud, const hvd_stored_diagnosis *d)
{
    struct diag_ctx *c = ud;
    json_t *o;
    json_t *refs;
    char *key = NULL;
    int rc;

    if (c->pg && c->pg->sink) { /* a listing's rows, without evidence */
        if ((long long)c->pg->n < c->pg->limit) {
            c->pg->sink->diagnosis_row(c->pg->sink->row_ud, d);
        }
        return page_mark(c->pg, d->first_time, d->id, NULL);
    }
    o = json_object();
    refs = json_array();
    for (const char *p = d->references; p && *p;) {
        size_t n = strcspn(p, "\n");

        json_array_append_new(refs, json_stringn(p, n));
        p += n + (p[n] == '\n');
    }
    put(o, "id", json_integer(d->id));
    put(o, "incident", json_integer(d->incident));
    put(o, "rule", text_json(d->rule_id));
    put(o, "kind", text_json(d->kind));
    put(o, "root_cause", json_boolean(d->root));
    put(o, "severity", text_json(hvd_severity_name(d->severity)));
    put(o, "confidence", text_json(d->confidence));
    put(o, "title", text_json(d->title));
    put(o, "host", text_json(d->host));
    put(o, "vm_name", text_json(d->vm_name));
    put(o, "vm_id", text_json(d->vm_id));
    put(o, "first_time", time_json(d->first_time));
    put(o, "last_time", time_json(d->last_time));
    put(o, "count", json_integer((json_int_t)d->count));
    put(o, "cause", text_json(d->cause));
    put(o, "remedy", text_json(d->remedy));
    put(o, "references", refs);
    json_array_append_new(c->list, o);
    if (c->pg && (long long)c->pg->n >= c->pg->limit) {
        /* the row after the page: it only says there is more */
        return page_mark(c->pg, d->first_time, d->id, NULL);
    }
    if (c->evidence > 0 && add_diagnosis_evidence(c, o, d->id) < 0) {
        c->failed = 1;
        return 1;
    }
    if (!c->pg) {
        return 0;
    }
    if (c->kind == 'n') {
        key = incident_diag_cursor(d);
        if (!key) {
            return -1;
        }
    }
    rc = page_mark(c->pg, d->first_time, d->id, key);
    hvd_free(key);
    return rc;
}

/* One incident: its diagnoses root cause first, in pages ("limit", default 50; "cursor"
 * "n:..."), each with its first "evidence" events (default HVD_QUERY_EVIDENCE; 0: none)
 * and, when it has more, "evidence_more" and "evidence_cursor" for the "evidence" request. */
static json_t *op_incident(const hvd_query_context *q, const json_t *req)
{
    const json_t *id = json_object_get(req, "id");
    struct page pg = {0};
    struct diag_ctx c = {0};
    hvd_incident_diag_cursor after;
    const char *cursor = NULL;
    long long evidence = HVD_QUERY_EVIDENCE;
    json_t *res;
    json_t *next = NULL;

    pg.limit = 50;
    if (!json_is_integer(id)) {
        return fail("bad_request", "id must be an integer");
    }
    if (opt_integer(req, "limit", &pg.limit) < 0 || opt_integer(req, "evidence", &evidence) < 0 ||
        opt_string(req, "cursor", &cursor) < 0 ||
        (cursor && parse_incident_cursor(cursor, &after) < 0)) {
        return fail("bad_request", "limit, evidence or cursor has the wrong form");
    }
    if (pg.limit == 0 || pg.limit > HVD_QUERY_MAX_PAGE) {
        pg.limit = pg.limit ? HVD_QUERY_MAX_PAGE : 50;
    }
    if (evidence > HVD_QUERY_MAX_PAGE) {
        evidence = HVD_QUERY_MAX_PAGE;
    }
    pg.max_bytes = q->max_answer;
    pg.list = json_array();
    c.store = q->store;
    c.list = pg.list;
    c.evidence = evidence;
    c.pg = &pg;
    c.kind = 'n';
    if (hvd_store_incident_diagnoses_page(q->store, json_integer_value(id), cursor ? &after : NULL,
                                          pg.limit + 1, add_diagnosis, &c, &c.err) < 0 ||
        c.failed) {
        page_free(&pg);
        return fail("internal", c.err.msg);
    }
    if (json_array_size(pg.list) == 0 && !cursor) {
        page_free(&pg);
        return fail("not_found", "no such incident");
    }
    if ((long long)json_array_size(pg.list) > pg.limit) {
        next = cursor_json(&pg, 'n');
        if (!next) {
            page_free(&pg);
            return NULL;
        }
        json_array_remove(pg.list, json_array_size(pg.list) - 1);
    }
    res = ok();
    json_object_set_new(res, "id", json_integer(json_integer_value(id)));
    json_object_set(res, "diagnoses", pg.list);
    if (next) {
        json_object_set_new(res, "next_cursor", next);
    }
    page_free(&pg);
    return res;
}

/* A diagnosis's evidence events, oldest first, in pages ("limit", default 50; "cursor"
 * "e:..." as "evidence_cursor" or "next_cursor" gave it). */
static json_t *op_evidence(const hvd_query_context *q, const json_t *req)
{
    const json_t *id = json_object_get(req, "diagnosis");
    struct evidence_page ep = {0};
    hvd_evidence_cursor after;
    const char *cursor = NULL;
    long long limit = 50;
    json_t *res;
    hvd_error err;

    if (!json_is_integer(id)) {
        return fail("bad_request", "diagnosis must be an integer");
    }
    if (opt_integer(req, "limit", &limit) < 0 || opt_string(req, "cursor", &cursor) < 0 ||
        (cursor && parse_evidence_cursor(cursor, &after) < 0)) {
        return fail("bad_request", "limit or cursor has the wrong form");
    }
    if (limit == 0 || limit > HVD_QUERY_MAX_PAGE) {
        limit = limit ? HVD_QUERY_MAX_PAGE : 50;
    }
    ep.list = json_array();
    ep.keep = (size_t)limit;
    if (hvd_store_diagnosis_evidence_page(q->store, json_integer_value(id), cursor ? &after : NULL,
                                          limit + 1, add_evidence, &ep, &err) < 0) {
        json_decref(ep.list);
        hvd_free(ep.cursor);
        return fail("internal", err.msg);
    }
    if (ep.nomem) {
        json_decref(ep.list);
        return NULL;
    }
    res = ok();
    json_object_set_new(res, "diagnosis", json_integer(json_integer_value(id)));
    json_object_set_new(res, "evidence", ep.list);
    if (ep.n > ep.keep && ep.cursor) {
        json_object_set_new(res, "next_cursor", json_string(ep.cursor));
    }
    hvd_free(ep.cursor);
    return res;
}

/* Single diagnoses, filtered like incidents, newest first, without their evidence. */
static json_t *op_diagnoses(const hvd_query_context *q, const json_t *req)
{
    hvd_diagnosis_filter f;
    struct page pg = {0};
    long long offset;
    json_t *bad = parse_filter(req, 'd', &f, &pg.limit, &offset);
    struct diag_ctx c = {0};

    if (bad) {
        return bad;
    }
    pg.max_bytes = q->max_answer;
    pg.list = json_array();
    c.store = q->store;
    c.list = pg.list;
    c.pg = &pg;
    c.kind = 'd';
    pg.sink = q->diagnosis_row ? q : NULL;
    if (hvd_store_diagnoses(q->store, &f, add_diagnosis, &c, &c.err) < 0) {
        page_free(&pg);
        return fail("internal", c.err.msg);
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

static json_t *op_sources(const hvd_query_context *q, const json_t *req)
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

static json_t *op_rules(const hvd_query_context *q)
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
    return res;
}

static json_t *op_health(const hvd_query_context *q)
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
    return res;
}

json_t *hvd_query_answer(const hvd_query_context *q, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req;
    const char *op;
    json_t *out;

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
        out = ok();
    } else if (strcmp(op, "incidents") == 0) {
        out = op_incidents(q, req);
    } else if (strcmp(op, "diagnoses") == 0) {
        out = op_diagnoses(q, req);
    } else if (strcmp(op, "incident") == 0) {
        out = op_incident(q, req);
    } else if (strcmp(op, "evidence") == 0) {
        out = op_evidence(q, req);
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

char *hvd_query_handle(const hvd_query_context *q, const char *line, size_t len)
{
    json_t *answer = hvd_query_answer(q, line, len);

    return answer ? dump(answer) : NULL;
}
