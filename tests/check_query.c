/* Suite for the query module: JSON lines in and out over a real SQLite file. */
#include "query.h"

#include "alloc.h"
#include "hvtime.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;
static hvd_store *st;

/* d: a signature of rule at time t about ents, seen once, titled by its key, with a
 * cause and remedy of one letter; the rest empty. */
static void diag_init(hvd_diagnosis *d, const char *key, const char *rule, hvd_severity sev,
                      hvd_entity *ents, size_t nents, hvd_time t)
{
    memset(d, 0, sizeof(*d));
    d->key = key;
    d->kind = HVD_DIAGNOSIS_SIGNATURE;
    d->rule_id = rule;
    d->title = key;
    d->severity = sev;
    d->confidence = "high";
    d->cause = "c";
    d->remedy = "r";
    d->entities = ents;
    d->nentities = nents;
    d->first_time = d->last_time = t;
    d->count = 1;
}

static void setup(void)
{
    char *path;
    hvd_error err;
    static const char *const refs[] = {"https://example.invalid/kb"};

    tmp = hvd_test_tmpdir();
    path = hvd_test_path(tmp, "q.db");
    ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
    free(path);
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    for (int i = 0; i < 5; i++) {
        char key[16];
        char vm[16];
        hvd_entity ents[2];
        hvd_diagnosis d;

        snprintf(key, sizeof(key), "k%d", i);
        snprintf(vm, sizeof(vm), "VM%d", i);
        ents[0] = (hvd_entity){"host", "HV1.contoso.local"};
        ents[1] = (hvd_entity){"vm_name", vm};
        diag_init(&d, key, i % 2 ? "odd" : "even", HVD_SEVERITY_ERROR, ents, 2,
                  (hvd_time)i * 86400 * HVD_TICKS_PER_SECOND);
        d.references = refs;
        d.nreferences = 1;
        ck_assert_int_eq(hvd_store_put_diagnosis(st, &d, NULL, NULL), HVD_OK);
    }
    ck_assert_int_eq(hvd_store_rebuild_incidents(st, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
}

static void teardown(void)
{
    hvd_store_close(st);
    hvd_test_rmtree(tmp);
    free(tmp);
}

/* The parsed response to a request, with a cap on the bytes of a page (0: the default). */
static json_t *ask_capped(const char *request, size_t max_answer)
{
    hvd_query_context q = {.store = st, .max_answer = max_answer};
    char *out = hvd_query_handle(&q, request, strlen(request));
    json_t *res;

    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_null(strchr(out, '\n')); /* one line */
    res = json_loads(out, 0, NULL);
    ck_assert_msg(res != NULL, "not JSON: %s", out);
    hvd_free(out);
    return res;
}

/* The parsed response to a request. */
static json_t *ask(const char *request)
{
    return ask_capped(request, 0);
}

static const char *error_code(const json_t *res)
{
    ck_assert(json_is_false(json_object_get(res, "ok")));
    return json_string_value(json_object_get(json_object_get(res, "error"), "code"));
}

/* The request is refused with this error code. */
static void expect_error(const char *request, const char *code)
{
    json_t *res = ask(request);

    ck_assert_msg(strcmp(error_code(res), code) == 0, "%s: %s, want %s", request, error_code(res),
                  code);
    json_decref(res);
}

/* How many rows the answer to request lists under 'list' ("incidents", "diagnoses"...). */
static size_t rows_of(const char *request, const char *list)
{
    json_t *res = ask(request);
    size_t n;

    ck_assert_msg(json_is_true(json_object_get(res, "ok")), "%s refused", request);
    n = json_array_size(json_object_get(res, list));
    json_decref(res);
    return n;
}

START_TEST(bad_requests_get_json_errors)
{
    static const struct {
        const char *request;
        const char *code;
    } cases[] = {
        {"", "bad_request"},
        {"{", "bad_request"},
        {"[1,2]", "bad_request"},
        {"{\"op\":1}", "bad_request"},
        {"{\"op\":\"launch\"}", "unknown_op"},
        {"{\"op\":\"incidents\",\"limit\":\"ten\"}", "bad_request"},
        {"{\"op\":\"incidents\",\"severity\":\"dire\"}", "bad_request"},
        {"{\"op\":\"incidents\",\"since\":\"yesterday\"}", "bad_request"},
        {"{\"op\":\"incident\"}", "bad_request"},
        {"{\"op\":\"incident\",\"id\":999}", "not_found"},
        {"{\"op\":\"rules\"}", "not_found"},
        {"{\"op\":\"ping\",\"op\":\"ping\"}", "bad_request"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_error(cases[i].request, cases[i].code);
    }
}
END_TEST

START_TEST(oversized_requests_are_refused)
{
    size_t n = HVD_QUERY_MAX_REQUEST + 10;
    char *big = malloc(n + 1);
    hvd_query_context q = {.store = st};
    char *out;

    memset(big, ' ', n);
    big[n] = '\0';
    out = hvd_query_handle(&q, big, n);
    ck_assert_ptr_nonnull(strstr(out, "too_large"));
    hvd_free(out);
    free(big);
}
END_TEST

START_TEST(incidents_page_and_filter)
{
    json_t *res = ask("{\"op\":\"incidents\",\"limit\":2}");
    json_t *list = json_object_get(res, "incidents");

    ck_assert(json_is_true(json_object_get(res, "ok")));
    ck_assert_uint_eq(json_array_size(list), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "next_offset")), 2);
    /* Newest first. */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "subject")), "VM4");
    json_decref(res);
    res = ask("{\"op\":\"incidents\",\"limit\":2,\"offset\":4}");
    ck_assert_uint_eq(json_array_size(json_object_get(res, "incidents")), 1);
    ck_assert_ptr_null(json_object_get(res, "next_offset"));
    json_decref(res);
    ck_assert_uint_eq(rows_of("{\"op\":\"incidents\",\"vm\":\"vm2\"}", "incidents"), 1);
    ck_assert_uint_eq(
        rows_of("{\"op\":\"incidents\",\"rule\":\"odd\",\"host\":\"HV1\"}", "incidents"), 2);
    ck_assert_uint_eq(
        rows_of("{\"op\":\"incidents\",\"since\":\"1970-01-03T00:00:00Z\"}", "incidents"), 3);
    ck_assert_uint_eq(rows_of("{\"op\":\"incident\",\"id\":1}", "diagnoses"), 1);
    res = ask("{\"op\":\"health\"}");
    ck_assert_int_eq(json_integer_value(json_object_get(res, "diagnoses")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "incidents")), 5);
    json_decref(res);
}
END_TEST

START_TEST(diagnoses_page_and_filter_without_evidence)
{
    json_t *res = ask("{\"op\":\"diagnoses\",\"rule\":\"even\",\"limit\":2}");
    json_t *list = json_object_get(res, "diagnoses");
    json_t *first = json_array_get(list, 0);

    ck_assert(json_is_true(json_object_get(res, "ok")));
    ck_assert_uint_eq(json_array_size(list), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "next_offset")), 2);
    /* Newest first: k4, then k2; k0 is on the next page. */
    ck_assert_str_eq(json_string_value(json_object_get(first, "title")), "k4");
    ck_assert_str_eq(json_string_value(json_object_get(first, "vm_name")), "VM4");
    ck_assert_int_gt(json_integer_value(json_object_get(first, "id")), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(first, "incident")), 0);
    ck_assert_ptr_null(json_object_get(first, "evidence"));
    json_decref(res);
    res = ask("{\"op\":\"diagnoses\",\"rule\":\"even\",\"limit\":2,\"offset\":2}");
    ck_assert_uint_eq(json_array_size(json_object_get(res, "diagnoses")), 1);
    ck_assert_ptr_null(json_object_get(res, "next_offset"));
    json_decref(res);
    ck_assert_uint_eq(rows_of("{\"op\":\"diagnoses\",\"severity\":\"critical\"}", "diagnoses"), 0);
    expect_error("{\"op\":\"diagnoses\",\"severity\":\"loud\"}", "bad_request");
}
END_TEST

static void put_one_as(const char *key, hvd_time t, const char *host, hvd_severity sev)
{
    hvd_entity ents[1] = {{"host", host}};
    hvd_diagnosis d;

    diag_init(&d, key, "tie", sev, ents, 1, t);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, &d, NULL, NULL), HVD_OK);
}

static void put_one(const char *key, hvd_time t)
{
    put_one_as(key, t, "HV2", HVD_SEVERITY_ERROR);
}

/*
 * Walks a listing page by page through next_cursor and returns how many rows came; every
 * id must come once. A row added after the first page, newer than all, must not show up
 * (it sorts before the cursor) nor shift the rest.
 */
static int walk(const char *op, const char *name, int limit, size_t max_answer, int add_midway)
{
    char seen[64] = {0};
    char *cursor = NULL;
    int rows = 0;

    for (int pages = 0; pages < 50; pages++) {
        char req[256];
        json_t *res;
        json_t *list;
        const json_t *row;
        const char *next;
        size_t i;

        snprintf(req, sizeof(req), "{\"op\":\"%s\",\"limit\":%d%s%s%s}", op, limit,
                 cursor ? ",\"cursor\":\"" : "", cursor ? cursor : "", cursor ? "\"" : "");
        res = ask_capped(req, max_answer);
        ck_assert_msg(json_is_true(json_object_get(res, "ok")), "%s", req);
        list = json_object_get(res, name);
        ck_assert_uint_le(json_array_size(list), (size_t)limit);
        json_array_foreach(list, i, row)
        {
            json_int_t id = json_integer_value(json_object_get(row, "id"));

            ck_assert(id > 0 && id < 64);
            ck_assert_msg(!seen[id], "%s %lld twice", name, (long long)id);
            seen[id] = 1;
            rows++;
        }
        next = json_string_value(json_object_get(res, "next_cursor"));
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        json_decref(res);
        if (add_midway && pages == 0) {
            ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
            put_one("late", (hvd_time)100 * 86400 * HVD_TICKS_PER_SECOND);
            ck_assert_int_eq(hvd_store_rebuild_incidents(st, NULL), HVD_OK);
            ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
        }
        if (!cursor) {
            return rows;
        }
    }
    ck_abort_msg("%s: the cursor never ended", op);
    return -1;
}

START_TEST(cursors_walk_every_row_once)
{
    /* three more diagnoses at the same time as k2: ties are ordered by id */
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    put_one("t1", (hvd_time)2 * 86400 * HVD_TICKS_PER_SECOND);
    put_one("t2", (hvd_time)2 * 86400 * HVD_TICKS_PER_SECOND);
    put_one("t3", (hvd_time)2 * 86400 * HVD_TICKS_PER_SECOND);
    ck_assert_int_eq(hvd_store_rebuild_incidents(st, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);

    ck_assert_int_eq(walk("diagnoses", "diagnoses", 2, 0, 0), 8);
    ck_assert_int_eq(walk("diagnoses", "diagnoses", 3, 0, 0), 8);
    ck_assert_int_eq(walk("diagnoses", "diagnoses", 1000, 0, 0), 8);
    /* a byte cap ends every page after its first row; the walk is still whole */
    ck_assert_int_eq(walk("diagnoses", "diagnoses", 1000, 1, 0), 8);
    /* health counts what the listing shows; a benign incident apart, as the listing does */
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    put_one_as("benign", (hvd_time)9 * 86400 * HVD_TICKS_PER_SECOND, "HV9", HVD_SEVERITY_NONE);
    ck_assert_int_eq(hvd_store_rebuild_incidents(st, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
    {
        json_t *health = ask("{\"op\":\"health\"}");

        ck_assert_int_eq(walk("incidents", "incidents", 2, 0, 0),
                         (int)json_integer_value(json_object_get(health, "incidents")));
        ck_assert_int_eq(json_integer_value(json_object_get(health, "benign_incidents")), 1);
        json_decref(health);
    }
    /* rows added meanwhile do not shift or repeat the rest */
    ck_assert_int_eq(walk("diagnoses", "diagnoses", 3, 0, 1), 8);
}
END_TEST

/* Ids a listing handed to its row callbacks. */
struct handed {
    size_t n;
    int64_t id[64];
};

static void hand_incident(void *ud, const hvd_incident *in)
{
    struct handed *h = ud;

    ck_assert_uint_lt(h->n, 64);
    h->id[h->n++] = in->id;
}

static void hand_diagnosis(void *ud, const hvd_stored_diagnosis *d)
{
    struct handed *h = ud;

    ck_assert_uint_lt(h->n, 64);
    h->id[h->n++] = d->id;
}

START_TEST(row_callbacks_get_the_rows_the_answer_would_hold)
{
    static const char *const requests[] = {
        "{\"op\":\"incidents\"}",
        "{\"op\":\"incidents\",\"limit\":2}",
        "{\"op\":\"incidents\",\"limit\":2,\"offset\":1}",
        "{\"op\":\"incidents\",\"vm\":\"VM1\",\"limit\":1}",
        "{\"op\":\"diagnoses\"}",
        "{\"op\":\"diagnoses\",\"limit\":3}",
        "{\"op\":\"diagnoses\",\"host\":\"HV1\",\"limit\":1,\"offset\":1}",
        "{\"op\":\"diagnoses\",\"vm\":\"nobody\"}",
    };

    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        const char *list = strstr(requests[i], "incidents") ? "incidents" : "diagnoses";
        json_t *want = ask(requests[i]);
        struct handed h = {0};
        hvd_query_context q = {.store = st,
                               .incident_row = hand_incident,
                               .diagnosis_row = hand_diagnosis,
                               .row_ud = &h};
        json_t *got = hvd_query_answer(&q, requests[i], strlen(requests[i]));
        json_t *rows = json_object_get(want, list);

        ck_assert_ptr_nonnull(got);
        ck_assert(json_is_true(json_object_get(got, "ok")));
        ck_assert_msg(json_array_size(rows) > 0 || strstr(requests[i], "nobody"), "%s: no rows",
                      requests[i]);
        /* the rows went to the callbacks, in order; the rest of the answer is the same */
        ck_assert_ptr_null(json_object_get(got, list));
        ck_assert_uint_eq(h.n, json_array_size(rows));
        for (size_t k = 0; k < h.n; k++) {
            ck_assert_int_eq(h.id[k],
                             json_integer_value(json_object_get(json_array_get(rows, k), "id")));
        }
        json_object_del(want, list);
        ck_assert_msg(json_equal(want, got), "%s: the answers differ", requests[i]);
        json_decref(want);
        json_decref(got);
    }
}
END_TEST

START_TEST(sources_come_in_pages_by_path)
{
    json_t *res;
    char *cursor = NULL;
    int seen = 0;
    char last[64] = "";

    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    for (int i = 6; i >= 0; i--) {
        char path[32];
        hvd_store_source src;

        snprintf(path, sizeof(path), "/in/f%d.log", i);
        memset(&src, 0, sizeof(src));
        src.path = path;
        src.kind = "clusterlog";
        src.host = "";
        src.position = "";
        src.encoding = "";
        src.last_error = "";
        src.head_hash = "";
        src.prefix_hash = "";
        src.warnings = "";
        ck_assert_int_eq(hvd_store_put_source(st, &src, NULL), HVD_OK);
    }
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
    for (;;) {
        char req[128];
        const json_t *row;
        const char *next;
        size_t i;

        snprintf(req, sizeof(req), "{\"op\":\"sources\",\"limit\":3%s%s%s}",
                 cursor ? ",\"cursor\":\"" : "", cursor ? cursor : "", cursor ? "\"" : "");
        res = ask(req);
        ck_assert_uint_le(json_array_size(json_object_get(res, "sources")), 3);
        json_array_foreach(json_object_get(res, "sources"), i, row)
        {
            const char *p = json_string_value(json_object_get(row, "path"));

            ck_assert_msg(strcmp(p, last) > 0, "%s after %s", p, last);
            snprintf(last, sizeof(last), "%s", p);
            seen++;
        }
        next = json_string_value(json_object_get(res, "next_cursor"));
        free(cursor);
        cursor = next ? strdup(next) : NULL;
        json_decref(res);
        if (!cursor) {
            break;
        }
        ck_assert_ptr_nonnull(strstr(cursor, "s:/in/f"));
    }
    ck_assert_int_eq(seen, 7);
    /* a cursor of another listing, or of no listing, is refused */
    expect_error("{\"op\":\"sources\",\"cursor\":\"i:1:2\"}", "bad_request");
    expect_error("{\"op\":\"diagnoses\",\"cursor\":\"s:/in/f1.log\"}", "bad_request");
    expect_error("{\"op\":\"incidents\",\"cursor\":\"i:12x:3\"}", "bad_request");
    expect_error("{\"op\":\"incidents\",\"cursor\":7}", "bad_request");
}
END_TEST

/* A diagnosis of VM "BIG" on HV5 at hour h with nev evidence events (records base+1...). */
static void put_big(const char *key, int h, hvd_severity sev, int correlation, int nev, int base)
{
    hvd_entity ents[2] = {{"host", "HV5"}, {"vm_name", "BIG"}};
    hvd_evidence ev[32];
    hvd_diagnosis d;

    diag_init(&d, key, "big", sev, ents, 2, (hvd_time)(1000 + h) * 3600 * HVD_TICKS_PER_SECOND);
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < nev; i++) {
        ev[i].kind = HVD_SOURCE_EVTX;
        ev[i].source_path = i % 2 ? "b.evtx" : "a.evtx";
        ev[i].record_id = (uint64_t)(base + i + 1);
        ev[i].event_record_id = ev[i].record_id;
        /* pairs of events share a time: the path and record tell them apart */
        ev[i].time = ((hvd_time)h * 3600 + i / 2) * HVD_TICKS_PER_SECOND;
        ev[i].host = "HV5";
        ev[i].provider = "p";
        ev[i].channel = "c";
        ev[i].component = "";
        ev[i].message = "m";
    }
    d.kind = correlation ? HVD_DIAGNOSIS_CORRELATION : HVD_DIAGNOSIS_SIGNATURE;
    d.count = (uint64_t)nev;
    d.evidence = ev;
    d.nevidence = (size_t)nev;
    ck_assert_int_eq(hvd_store_put_diagnosis(st, &d, NULL, NULL), HVD_OK);
}

/* Appends a diagnosis's title and ";" to text. */
static void append_title(char *text, size_t cap, const json_t *d)
{
    size_t used = strlen(text);

    snprintf(text + used, cap - used, "%s;", json_string_value(json_object_get(d, "title")));
}

/* The id of the incident of VM "BIG". */
static long long big_incident(void)
{
    json_t *res = ask("{\"op\":\"incidents\",\"vm\":\"BIG\"}");
    json_t *list = json_object_get(res, "incidents");
    long long id;

    ck_assert_uint_eq(json_array_size(list), 1);
    id = json_integer_value(json_object_get(json_array_get(list, 0), "id"));
    json_decref(res);
    return id;
}

START_TEST(an_incident_comes_in_pages_with_its_evidence_capped)
{
    char req[512];
    char order[512] = "";
    char paged[512] = "";
    char *cursor = NULL;
    long long id;
    json_t *res;
    json_t *first;
    int pages = 0;

    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    /* ties on severity and time are ordered by key */
    put_big("b3", 3, HVD_SEVERITY_ERROR, 0, 1, 100);
    put_big("b1", 1, HVD_SEVERITY_ERROR, 0, 25, 200);
    put_big("b2", 1, HVD_SEVERITY_ERROR, 0, 1, 300);
    put_big("b4", 2, HVD_SEVERITY_CRITICAL, 0, 1, 400);
    put_big("b5", 2, HVD_SEVERITY_WARNING, 0, 1, 500);
    put_big("b0", 4, HVD_SEVERITY_INFO, 1, 0, 600);
    ck_assert_int_eq(hvd_store_rebuild_incidents(st, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
    id = big_incident();

    /* one page: correlation first, then severity, time, key */
    snprintf(req, sizeof(req), "{\"op\":\"incident\",\"id\":%lld}", id);
    res = ask(req);
    ck_assert_ptr_null(json_object_get(res, "next_cursor"));
    {
        size_t i;
        const json_t *d;

        json_array_foreach(json_object_get(res, "diagnoses"), i, d)
        {
            append_title(order, sizeof(order), d);
        }
    }
    ck_assert_str_eq(order, "b0;b4;b1;b2;b3;b5;");
    /* b1 has 25 events: the first 20 come, and where the rest are */
    first = json_array_get(json_object_get(res, "diagnoses"), 2);
    ck_assert_uint_eq(json_array_size(json_object_get(first, "evidence")), HVD_QUERY_EVIDENCE);
    ck_assert_int_eq(json_integer_value(json_object_get(first, "evidence_more")), 5);
    ck_assert_ptr_nonnull(json_object_get(first, "evidence_cursor"));
    ck_assert_ptr_null(
        json_object_get(json_array_get(json_object_get(res, "diagnoses"), 1), "evidence_more"));
    {
        char *ev_cursor = strdup(json_string_value(json_object_get(first, "evidence_cursor")));
        long long diag = json_integer_value(json_object_get(first, "id"));
        json_t *rest;
        json_t *all;
        char *ev_next = NULL;
        int walked = 0;

        snprintf(req, sizeof(req), "{\"op\":\"evidence\",\"diagnosis\":%lld,\"cursor\":\"%s\"}",
                 diag, ev_cursor);
        rest = ask(req);
        ck_assert(json_is_true(json_object_get(rest, "ok")));
        ck_assert_uint_eq(json_array_size(json_object_get(rest, "evidence")), 5);
        ck_assert_ptr_null(json_object_get(rest, "next_cursor"));
        /* the 21st event, as the whole list has it */
        snprintf(req, sizeof(req), "{\"op\":\"evidence\",\"diagnosis\":%lld,\"limit\":100}", diag);
        all = ask(req);
        ck_assert_uint_eq(json_array_size(json_object_get(all, "evidence")), 25);
        ck_assert(json_equal(json_array_get(json_object_get(all, "evidence"), 20),
                             json_array_get(json_object_get(rest, "evidence"), 0)));
        /* pages of 7 walk the 25 once, in order */
        do {
            json_t *pg;

            snprintf(req, sizeof(req), "{\"op\":\"evidence\",\"diagnosis\":%lld,\"limit\":7%s%s%s}",
                     diag, ev_next ? ",\"cursor\":\"" : "", ev_next ? ev_next : "",
                     ev_next ? "\"" : "");
            pg = ask(req);
            for (size_t i = 0; i < json_array_size(json_object_get(pg, "evidence")); i++) {
                ck_assert(json_equal(json_array_get(json_object_get(pg, "evidence"), i),
                                     json_array_get(json_object_get(all, "evidence"), walked)));
                walked++;
            }
            free(ev_next);
            ev_next = json_string_value(json_object_get(pg, "next_cursor"))
                          ? strdup(json_string_value(json_object_get(pg, "next_cursor")))
                          : NULL;
            json_decref(pg);
        } while (ev_next);
        ck_assert_int_eq(walked, 25);
        json_decref(all);
        json_decref(rest);
        free(ev_cursor);
    }
    json_decref(res);

    /* pages of two walk the same order; a byte cap ends pages early and loses nothing */
    for (int capped = 0; capped <= 1; capped++) {
        paged[0] = '\0';
        do {
            const json_t *d;
            const char *next;
            size_t i;

            snprintf(req, sizeof(req), "{\"op\":\"incident\",\"id\":%lld,\"limit\":2%s%s%s}", id,
                     cursor ? ",\"cursor\":\"" : "", cursor ? cursor : "", cursor ? "\"" : "");
            res = ask_capped(req, capped ? 1 : 0);
            ck_assert_msg(json_is_true(json_object_get(res, "ok")), "%s", req);
            ck_assert_int_eq(json_integer_value(json_object_get(res, "id")), id);
            ck_assert_uint_le(json_array_size(json_object_get(res, "diagnoses")), 2);
            json_array_foreach(json_object_get(res, "diagnoses"), i, d)
            {
                append_title(paged, sizeof(paged), d);
            }
            next = json_string_value(json_object_get(res, "next_cursor"));
            free(cursor);
            cursor = next ? strdup(next) : NULL;
            json_decref(res);
            pages++;
        } while (cursor);
        ck_assert_str_eq(paged, order);
    }
    ck_assert_int_eq(pages, 3 + 6);
    /* no evidence when asked for none; bad cursors are refused */
    snprintf(req, sizeof(req), "{\"op\":\"incident\",\"id\":%lld,\"evidence\":0}", id);
    res = ask(req);
    ck_assert_ptr_null(
        json_object_get(json_array_get(json_object_get(res, "diagnoses"), 0), "evidence"));
    json_decref(res);
    snprintf(req, sizeof(req), "{\"op\":\"incident\",\"id\":%lld,\"cursor\":\"d:1:2\"}", id);
    expect_error(req, "bad_request");
    expect_error("{\"op\":\"evidence\",\"diagnosis\":1,\"cursor\":\"e:1:x:3:a\"}", "bad_request");
    expect_error("{\"op\":\"evidence\"}", "bad_request");
}
END_TEST

static Suite *query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("query");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bad_requests_get_json_errors);
    tcase_add_test(tc, oversized_requests_are_refused);
    tcase_add_test(tc, incidents_page_and_filter);
    tcase_add_test(tc, diagnoses_page_and_filter_without_evidence);
    tcase_add_test(tc, cursors_walk_every_row_once);
    tcase_add_test(tc, row_callbacks_get_the_rows_the_answer_would_hold);
    tcase_add_test(tc, sources_come_in_pages_by_path);
    tcase_add_test(tc, an_incident_comes_in_pages_with_its_evidence_capped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(query_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
