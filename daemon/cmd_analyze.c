/*
 * hvdiag analyze: a Get-ClusterLog bundle, a folder of EVTX exports, single files or a zip
 * of them, through the whole data flow into the database; then what happened, per incident.
 */
#include "cmd.h"

#include "cli.h"

#include "bundle.h"
#include "hvtime.h"
#include "ingest.h"
#include "alloc.h"
#include "log.h"
#include "query.h"
#include "report.h"
#include "rules.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DB "hvdiag.db"

struct options {
    const char *db;
    const char *rules;
    const char *html;
    hvd_report_options report; /* --time-zone */
    int json;
    int fail_on;
    int verbose;
    hvd_bundle_limits limits;
    hvd_ingest_options ingest;
    char **paths;
    int npaths;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvdiag analyze PATH... [--db FILE] [--rules DIR] [--since T] [--until T]\n"
            "                      [--json] [--html FILE] [--time-zone ZONE]\n"
            "                      [--max-extract SIZE] [--fail-on SEVERITY]\n"
            "                      [--evtx-reader libevtx|native] [-v] [--] [PATH...]\n"
            "\n"
            "PATH is a Get-ClusterLog destination folder, a folder of .evtx exports, single\n"
            "files, or an archive (.zip, .tar, .tgz, .7z...) of any of these. Folders are\n"
            "searched recursively. A PATH that yields no event is an input error.\n"
            "  --db FILE          database to add to (default ./%s; created only when a\n"
            "                     file is read)\n"
            "  --rules DIR        rule set (default ./rules if present; from the build tree,\n"
            "                     the source tree's rules; else %s)\n"
            "  --since, --until   only events in this time range (UTC, 2024-03-05T10:00:00)\n"
            "  --json             print one JSON document instead of the table\n"
            "  --html FILE        also write a self-contained HTML report\n"
            "  --time-zone ZONE   times in the report: utc (default), local, or +02:00\n"
            "  --max-extract SIZE most bytes to extract from archives, all together (K, M,\n"
            "                     G suffixes; default 8G or half the free space of $TMPDIR,\n"
            "                     whichever is smaller)\n"
            "  --fail-on SEV      exit 1 when an incident is at least SEV (info, warning,\n"
            "                     error, critical; default error)\n"
            "  --evtx-reader R    which decoder reads EVTX files: libevtx or native\n"
            "                     (default %s)\n"
            "  -v                 print reader warnings\n"
            "The table ends with a line per run: files read, damaged, unreadable, skipped.\n"
            "exit status: 0 nothing at or above --fail-on, 1 found such, 2 usage or input errors\n"
            "(a path missing, unreadable or without one event; an archive member refused)\n",
            DEFAULT_DB, HVD_RULES_DIR, hvd_evtx_decoder_name(HVD_EVTX_DEFAULT));
}

/* "512M", "8G", "100000": bytes, with K/M/G/T meaning powers of 1024 (an optional "B" or
 * "iB" after the letter is allowed). Returns 0, or -1 for anything else, 0 or overflow. */
static int parse_size(const char *s, uint64_t *out)
{
    static const char units[] = "KMGT";
    const char *u;
    char *end;
    unsigned long long n;
    int shift = 0;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno || n == 0) {
        return -1;
    }
    if (*end) {
        u = strchr(units, end[0] >= 'a' ? end[0] - 'a' + 'A' : end[0]);
        if (!u || !*u) {
            return -1;
        }
        shift = 10 * (int)(u - units + 1);
        end++;
        if (strcmp(end, "") != 0 && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0) {
            return -1;
        }
    }
    if (n > (UINT64_MAX >> shift)) {
        return -1;
    }
    *out = (uint64_t)n << shift;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const char *const with_value[] = {"--db",        "--rules",       "--html",
                                             "--since",     "--until",       "--fail-on",
                                             "--time-zone", "--evtx-reader", NULL};
    static const char *const max_extract[] = {"--max-extract", NULL};
    int options_end = 0;

    memset(o, 0, sizeof(*o));
    o->fail_on = HVD_SEVERITY_ERROR;
    o->paths = calloc((size_t)argc, sizeof(char *));
    if (!o->paths) {
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (options_end || a[0] != '-' || !a[1]) {
            o->paths[o->npaths++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            options_end = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(HVD_EXIT_OK);
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "-v") == 0) {
            o->verbose = 1;
        } else if (!hvd_cli_is_one_of(a, with_value) && !hvd_cli_is_one_of(a, max_extract)) {
            hvd_cli_error("hvdiag analyze: unknown option %s ('hvdiag analyze --help' lists them)",
                          a);
            return -1;
        } else if (!val) {
            hvd_cli_error("hvdiag analyze: %s needs a value", a);
            return -1;
        } else if (strcmp(a, "--db") == 0) {
            o->db = argv[++i];
        } else if (strcmp(a, "--rules") == 0) {
            o->rules = argv[++i];
        } else if (strcmp(a, "--html") == 0) {
            o->html = argv[++i];
        } else if (strcmp(a, "--time-zone") == 0) {
            if (hvd_report_parse_zone(argv[++i], &o->report) < 0) {
                hvd_cli_error("hvdiag analyze: --time-zone: '%s' is not utc, local or an offset "
                              "such as +02:00",
                              argv[i]);
                return -1;
            }
        } else if (strcmp(a, "--since") == 0 || strcmp(a, "--until") == 0) {
            hvd_time *t = a[2] == 's' ? &o->ingest.since : &o->ingest.until;

            if (hvd_time_parse(argv[++i], t) < 0) {
                hvd_cli_error("hvdiag analyze: %s: not a time ('%s')", a, argv[i]);
                return -1;
            }
        } else if (strcmp(a, "--max-extract") == 0) {
            if (parse_size(argv[++i], &o->limits.max_archive_bytes) < 0) {
                hvd_cli_error("hvdiag analyze: --max-extract: not a size ('%s'; e.g. 512M, 2G)",
                              argv[i]);
                return -1;
            }
        } else if (strcmp(a, "--evtx-reader") == 0) {
            if (hvd_evtx_decoder_parse(argv[++i], &o->ingest.evtx_decoder) < 0) {
                hvd_cli_error("hvdiag analyze: --evtx-reader: '%s' is not libevtx or native",
                              argv[i]);
                return -1;
            }
        } else if (strcmp(a, "--fail-on") == 0) {
            o->fail_on = hvd_severity_parse(argv[++i]);
            if (o->fail_on < HVD_SEVERITY_INFO) {
                hvd_cli_error("hvdiag analyze: --fail-on: unknown severity '%s'", argv[i]);
                return -1;
            }
        }
    }
    /* A test and diagnostic switch (hvdiag(1)): read every cluster.log line whole. */
    if (getenv("HVDIAG_PREFILTER") && strcmp(getenv("HVDIAG_PREFILTER"), "off") == 0) {
        o->ingest.no_prefilter = 1;
    }
    if (o->npaths == 0) {
        hvd_cli_error("hvdiag analyze: no PATH given ('hvdiag analyze --help' says more)");
        return -1;
    }
    if (hvd_cli_check_range("hvdiag analyze", o->ingest.since, o->ingest.until) < 0) {
        return -1;
    }
    return 0;
}

/* --- collecting the report: the query module's answers, as the socket gives them ------ */

static json_t *ask(const hvd_query_context *q, json_t *request)
{
    char *text = json_dumps(request, JSON_COMPACT);
    json_t *res = text ? hvd_query_answer(q, text, strlen(text)) : NULL;

    free(text);
    json_decref(request);
    if (res && !json_is_true(json_object_get(res, "ok"))) {
        hvd_cli_error("hvdiag analyze: %s",
                      json_string_value(json_object_get(json_object_get(res, "error"), "message")));
        json_decref(res);
        return NULL;
    }
    return res;
}

/* Asks req page by page, its "cursor" set from each answer's next_cursor (req is borrowed
 * and changed), handing each answer to fn until there is no next page. Returns 0, or -1
 * when req is NULL, a question failed (said on stderr) or fn returned -1. */
static int each_page(const hvd_query_context *q, json_t *req, int (*fn)(void *ud, json_t *res),
                     void *ud)
{
    for (;;) {
        json_t *res = req ? ask(q, json_deep_copy(req)) : NULL;
        const char *next;
        int rc;

        if (!res) {
            return -1;
        }
        rc = fn(ud, res);
        next = json_string_value(json_object_get(res, "next_cursor"));
        if (next) {
            json_object_set_new(req, "cursor", json_string(next));
        }
        json_decref(res);
        if (rc < 0 || !next) {
            return rc < 0 ? -1 : 0;
        }
    }
}

static int add_evidence(void *ud, json_t *page)
{
    json_array_extend(ud, json_object_get(page, "evidence"));
    return 0;
}

struct diagnoses_pages {
    const hvd_query_context *q;
    json_t *out;
};

/* One page of an incident's diagnoses into out, each with the rest of its evidence. */
static int add_diagnoses(void *ud, json_t *res)
{
    struct diagnoses_pages *p = ud;
    size_t i;
    json_t *d;

    json_array_foreach(json_object_get(res, "diagnoses"), i, d)
    {
        const char *more = json_string_value(json_object_get(d, "evidence_cursor"));

        if (more) {
            json_t *req =
                json_pack("{s:s,s:O,s:i,s:s}", "op", "evidence", "diagnosis",
                          json_object_get(d, "id"), "limit", HVD_QUERY_MAX_PAGE, "cursor", more);

            (void)each_page(p->q, req, add_evidence, json_object_get(d, "evidence"));
            json_decref(req);
        }
        json_object_del(d, "evidence_more");
        json_object_del(d, "evidence_cursor");
        json_array_append(p->out, d);
    }
    return 0;
}

/* Every diagnosis of an incident with all its evidence: the incident's pages, and for a
 * diagnosis with more evidence than a page holds, the "evidence" pages after it. NULL
 * when a question failed (said on stderr). */
static json_t *incident_diagnoses(const hvd_query_context *q, json_int_t id)
{
    struct diagnoses_pages p = {q, json_array()};
    json_t *req = json_pack("{s:s,s:I,s:i,s:i}", "op", "incident", "id", id, "limit",
                            HVD_QUERY_MAX_PAGE, "evidence", HVD_QUERY_MAX_PAGE);

    if (each_page(q, req, add_diagnoses, &p) < 0) {
        json_decref(p.out);
        p.out = NULL;
    }
    json_decref(req);
    return p.out;
}

/* What the table needs of an incident to sort it and print its own line: a few hundred
 * bytes, whatever it holds. */
static json_t *incident_head(const json_t *in)
{
    static const char *const kept[] = {"id",      "severity",     "first_time", "last_time",
                                       "subject", "subject_kind", "title",      NULL};
    json_t *head = json_object();
    const char *remedy = json_string_value(json_object_get(in, "remedy"));

    for (size_t j = 0; head && kept[j]; j++) {
        json_object_set(head, kept[j], json_object_get(in, kept[j]));
    }
    if (head && remedy) { /* the table shows its first line */
        json_object_set_new(head, "remedy", json_stringn(remedy, strcspn(remedy, "\n")));
    }
    return head;
}

struct incidents_pages {
    const hvd_query_context *q;
    json_t *out;
    int heads_only; /* 1: incident_head(); 2: the incident as listed, without diagnoses */
    int *worst;
};

/* One page of incidents into out: each with its diagnoses, or only its head. */
static int add_incidents(void *ud, json_t *res)
{
    struct incidents_pages *p = ud;
    size_t i;
    json_t *in;

    json_array_foreach(json_object_get(res, "incidents"), i, in)
    {
        int sev = hvd_severity_parse(json_string_value(json_object_get(in, "severity")));
        json_t *diags;

        if (sev > *p->worst) {
            *p->worst = sev;
        }
        if (p->heads_only == 2) {
            json_array_append(p->out, in);
            continue;
        }
        if (p->heads_only) {
            json_array_append_new(p->out, incident_head(in));
            continue;
        }
        diags = incident_diagnoses(p->q, json_integer_value(json_object_get(in, "id")));
        json_object_set_new(in, "diagnoses", diags ? diags : json_array());
        json_array_append(p->out, in);
    }
    return 0;
}

/* Incidents at or above info in the time range, each with its diagnoses and evidence, or
 * with heads_only what incident_head() keeps of each. Sets *worst to the highest severity
 * found. */
static json_t *collect_incidents(hvd_store *st, const struct options *o, int heads_only, int *worst)
{
    hvd_query_context q = {.store = st};
    struct incidents_pages p = {&q, json_array(), heads_only, worst};
    json_t *req = json_pack("{s:s,s:s,s:i}", "op", "incidents", "severity", "info", "limit", 1000);
    char t[40];

    if (o->ingest.since) {
        json_object_set_new(req, "since",
                            json_string(hvd_time_format(o->ingest.since, t, sizeof(t))));
    }
    if (o->ingest.until) {
        json_object_set_new(req, "until",
                            json_string(hvd_time_format(o->ingest.until, t, sizeof(t))));
    }
    /* every incident, page by page (a page holds at most 1000) */
    if (each_page(&q, req, add_incidents, &p) < 0) {
        json_decref(p.out);
        p.out = NULL;
    }
    json_decref(req);
    return p.out;
}

/* --- the JSON report, streamed ------------------------------------------------------ */

/*
 * 'hvdiag analyze --json' writes the document json_dumpf(JSON_INDENT(2)) would write for
 * the whole report, without holding it: each object is dumped alone with its one growing
 * array (the report's "incidents", an incident's "diagnoses", a diagnosis' "evidence") set
 * empty, and the array's items are written into the gap as the store gives them. A raw
 * newline occurs in jansson's indented output only as formatting (strings escape it), so
 * "\n  \"key\": []" finds the array at the object's own level whatever the strings hold.
 * Memory: one page of diagnoses with their first evidence page, or one evidence page, plus
 * the incidents' list for the sort.
 */
struct jout {
    FILE *f;
    size_t flags; /* jansson dump flags */
    int failed;   /* sticky: a write failed (errno kept in err) */
    int err;
};

/* Writes n bytes of s with 'indent' spaces after each newline. */
static void jout_text(struct jout *o, const char *s, size_t n, int indent)
{
    while (!o->failed && n) {
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) + 1 : n;

        if (fwrite(s, 1, k, o->f) != k) {
            o->failed = 1;
            o->err = errno;
            return;
        }
        s += k;
        n -= k;
        if (nl && fprintf(o->f, "%*s", indent, "") < 0) {
            o->failed = 1;
            o->err = errno;
        }
    }
}

/* One array being written: its items' indent, and whether one was written. */
struct jarray {
    struct jout *o;
    int indent;
    size_t items;
};

/* Starts an item of the array: the separator and the item's indent. */
static void jarray_next(struct jarray *a)
{
    jout_text(a->o, a->items ? ",\n" : "\n", a->items ? 2 : 1, a->indent);
    a->items++;
}

/* Writes v, dumped whole, as the next item. */
static int jout_item(struct jarray *a, json_t *v)
{
    char *s = json_dumps(v, a->o->flags);

    if (!s) {
        a->o->failed = 1;
        a->o->err = ENOMEM;
        return -1;
    }
    jarray_next(a);
    jout_text(a->o, s, strlen(s), a->indent);
    free(s);
    return a->o->failed ? -1 : 0;
}

/*
 * Writes obj (at 'indent') with its member 'key' an array whose items fill() writes through
 * the struct jarray it is given. obj's 'key' is set to an empty array. Returns 0, or -1
 * when fill() or a write failed.
 */
static int jout_object(struct jout *o, json_t *obj, const char *key, int indent,
                       int (*fill)(struct jarray *a, void *ud), void *ud)
{
    char mark[128];
    char *s = NULL;
    const char *at;
    struct jarray a = {o, indent + 4, 0};
    int rc = -1;

    snprintf(mark, sizeof(mark), "\n  \"%s\": []", key);
    if (json_object_set_new(obj, key, json_array()) < 0 || !(s = json_dumps(obj, o->flags)) ||
        !(at = strstr(s, mark))) {
        o->failed = 1;
        o->err = ENOMEM;
        goto out;
    }
    at += strlen(mark) - 1; /* at the ']' */
    jout_text(o, s, (size_t)(at - s), indent);
    if (fill(&a, ud) < 0) {
        goto out;
    }
    if (a.items) {
        jout_text(o, "\n", 1, indent + 2);
    }
    jout_text(o, at, strlen(at), indent);
    rc = o->failed ? -1 : 0;
out:
    free(s);
    return rc;
}

/* One page of a diagnosis' evidence, written. */
static int evidence_page(void *ud, json_t *page)
{
    struct jarray *a = ud;
    size_t i;
    json_t *ev;

    json_array_foreach(json_object_get(page, "evidence"), i, ev)
    {
        if (jout_item(a, ev) < 0) {
            return -1;
        }
    }
    return 0;
}

struct diag_fill {
    const hvd_query_context *q;
    json_t *d;
};

/* A diagnosis' evidence: the first page it came with, then the rest page by page. */
static int fill_evidence(struct jarray *a, void *ud)
{
    struct diag_fill *df = ud;
    json_t *first = json_object_get(df->d, "first_evidence");
    const char *more = json_string_value(json_object_get(df->d, "evidence_cursor"));
    json_t *page = json_pack("{s:o}", "evidence", first ? json_incref(first) : json_array());
    json_t *req;
    int rc;

    rc = page ? evidence_page(a, page) : -1;
    json_decref(page);
    if (rc < 0 || !more) {
        return rc;
    }
    req = json_pack("{s:s,s:O,s:i,s:s}", "op", "evidence", "diagnosis",
                    json_object_get(df->d, "id"), "limit", HVD_QUERY_MAX_PAGE, "cursor", more);
    rc = each_page(df->q, req, evidence_page, a);
    json_decref(req);
    return rc;
}

struct incident_fill {
    const hvd_query_context *q;
    struct jarray *a; /* the diagnoses being written */
    const json_t *in; /* their incident */
};

/* One page of an incident's diagnoses, written with their evidence. */
static int diagnoses_page(void *ud, json_t *res)
{
    struct incident_fill *f = ud;
    size_t i;
    json_t *d;

    json_array_foreach(json_object_get(res, "diagnoses"), i, d)
    {
        json_t *first = json_incref(json_object_get(d, "evidence"));
        json_t *cursor = json_incref(json_object_get(d, "evidence_cursor"));
        json_t *shown = json_copy(d);
        struct diag_fill df = {f->q, NULL};
        int rc;

        if (!shown) {
            json_decref(first);
            json_decref(cursor);
            return -1;
        }
        json_object_del(shown, "evidence_more");
        json_object_del(shown, "evidence_cursor");
        df.d = json_pack("{s:O,s:o?,s:o?}", "id", json_object_get(d, "id"), "first_evidence", first,
                         "evidence_cursor", cursor);
        jarray_next(f->a);
        rc = df.d ? jout_object(f->a->o, shown, "evidence", f->a->indent, fill_evidence, &df) : -1;
        json_decref(df.d);
        json_decref(shown);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* An incident's diagnoses, page by page. */
static int fill_diagnoses(struct jarray *a, void *ud)
{
    const struct incident_fill *of = ud;
    struct incident_fill f = {of->q, a, of->in};
    json_t *req = json_pack("{s:s,s:O,s:i}", "op", "incident", "id", json_object_get(of->in, "id"),
                            "limit", HVD_QUERY_MAX_PAGE);
    int rc;

    rc = each_page(f.q, req, diagnoses_page, &f);
    json_decref(req);
    return rc;
}

struct report_fill {
    const hvd_query_context *q;
    json_t *incidents; /* sorted, without their diagnoses */
};

/* The incidents, in order, each written with its diagnoses. */
static int fill_incidents(struct jarray *a, void *ud)
{
    struct report_fill *rf = ud;
    size_t i;
    json_t *in;

    json_array_foreach(rf->incidents, i, in)
    {
        struct incident_fill f = {rf->q, NULL, in};
        int rc;

        jarray_next(a);
        rc = jout_object(a->o, in, "diagnoses", a->indent, fill_diagnoses, &f);
        json_object_del(in, "diagnoses");
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static int sort_incidents(json_t *incidents);

/*
 * Writes the report (its "database", "files" and "summary") with its "incidents" read from
 * the store as they are written, to stdout. Sets *worst like collect_incidents(). Returns 0,
 * or -1 when a question or a write failed (said on stderr).
 */
static int write_json_streamed(hvd_store *st, const struct options *o, json_t *report, int *worst)
{
    hvd_query_context q = {.store = st};
    struct jout jo = {stdout, hvd_cli_json_flags(stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0,
                      0};
    struct report_fill rf = {&q, st ? collect_incidents(st, o, 2, worst) : json_array()};
    int rc = -1;

    if (!rf.incidents || sort_incidents(rf.incidents) < 0) {
        hvd_cli_error("hvdiag analyze: out of memory");
        goto out;
    }
    rc = jout_object(&jo, report, "incidents", 0, fill_incidents, &rf);
    jout_text(&jo, "\n", 1, 0);
    if (!jo.failed && fflush(stdout) != 0) {
        jo.failed = 1;
        jo.err = errno;
    }
    if (jo.failed) {
        hvd_cli_error("hvdiag analyze: cannot write the report: %s", strerror(jo.err));
        rc = -1;
    }
out:
    json_decref(rf.incidents);
    return rc;
}

/* --- output ------------------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "";
}

static const char *sev_colour(const char *sev)
{
    if (strcmp(sev, "critical") == 0) {
        return "\033[1;31m";
    }
    if (strcmp(sev, "error") == 0) {
        return "\033[31m";
    }
    if (strcmp(sev, "warning") == 0) {
        return "\033[33m";
    }
    return "\033[36m";
}

static json_int_t num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* "12 files: 10 read, 1 damaged (108 records recovered), 1 unreadable; 3 skipped" */
static void print_summary(const json_t *sum)
{
    json_int_t files = num(sum, "files");

    printf("%" JSON_INTEGER_FORMAT " file%s: %" JSON_INTEGER_FORMAT " read", files,
           files == 1 ? "" : "s", num(sum, "read"));
    if (num(sum, "damaged")) {
        printf(", %" JSON_INTEGER_FORMAT " damaged (%" JSON_INTEGER_FORMAT " records recovered)",
               num(sum, "damaged"), num(sum, "recovered"));
    }
    if (num(sum, "unreadable")) {
        printf(", %" JSON_INTEGER_FORMAT " unreadable", num(sum, "unreadable"));
    }
    if (num(sum, "skipped")) {
        printf("; %" JSON_INTEGER_FORMAT " other file%s skipped", num(sum, "skipped"),
               num(sum, "skipped") == 1 ? "" : "s");
    }
    printf("\n");
}

#define MEMBERS_SHOWN 8 /* diagnoses listed under an incident before the rest is summed up */
#define NAMES_SHOWN   3 /* names listed in such a sum */

/* Prints s in a column of width characters (UTF-8 code points): padded, or cut with '…'. */
static void print_cell(const char *s, size_t width)
{
    size_t chars = 0;
    size_t cut = 0;
    size_t i;

    for (i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == width - 1) {
                cut = i;
            }
            chars++;
        }
    }
    if (chars <= width) {
        printf("%s%*s", s, (int)(width - chars), "");
    } else {
        printf("%.*s…", (int)cut, s);
    }
}

/* The diagnoses past the ones listed, summed up by rule in the order the rules first come:
 * per rule its count, how many of them carry a name shown, and its first NAMES_SHOWN
 * distinct names, so the sum takes the same memory however many diagnoses an incident holds. */
struct rest {
    json_t *by_rule; /* rule -> [count, named, name, name...] */
    size_t more;
};

static void rest_add(struct rest *r, const json_t *d)
{
    const char *who = *jstr(d, "vm_name") ? jstr(d, "vm_name") : jstr(d, "host");
    json_t *entry;
    size_t i;

    if (!r->by_rule && !(r->by_rule = json_object())) {
        return;
    }
    r->more++;
    entry = json_object_get(r->by_rule, jstr(d, "rule"));
    if (!entry) {
        entry = json_array();
        json_array_append_new(entry, json_integer(0));
        json_array_append_new(entry, json_integer(0));
        json_object_set_new(r->by_rule, jstr(d, "rule"), entry);
    }
    json_array_set_new(entry, 0, json_integer(json_integer_value(json_array_get(entry, 0)) + 1));
    if (!*who) { /* an unknown host */
        return;
    }
    for (i = 2; i < json_array_size(entry); i++) {
        if (strcmp(json_string_value(json_array_get(entry, i)), who) == 0) {
            break;
        }
    }
    if (i == json_array_size(entry) && i < 2 + NAMES_SHOWN) {
        json_array_append_new(entry, json_string(who));
    }
    if (i < json_array_size(entry)) {
        json_array_set_new(entry, 1,
                           json_integer(json_integer_value(json_array_get(entry, 1)) + 1));
    }
}

/* "- and 394 more: fc-resource-failed x390 (SQL01, SQL33, SQL81 and 387 more), ..." where
 * the last count is of the diagnoses whose name is not shown. */
static void rest_print(struct rest *r)
{
    size_t k = 0;
    const char *rule;
    json_t *entry;

    if (!r->more) {
        return;
    }
    printf("%-68s - and %zu more:", "", r->more);
    json_object_foreach(r->by_rule, rule, entry)
    {
        size_t n = (size_t)json_integer_value(json_array_get(entry, 0));
        size_t shown = (size_t)json_integer_value(json_array_get(entry, 1));
        size_t names = json_array_size(entry) - 2;

        printf("%s %s x%zu", k++ ? "," : "", rule, n);
        for (size_t j = 0; j < names; j++) {
            printf("%s%s", j ? ", " : " (", json_string_value(json_array_get(entry, j + 2)));
        }
        if (names && n > shown) {
            printf(" and %zu more", n - shown);
        }
        printf("%s", names ? ")" : "");
    }
    printf("\n");
    json_decref(r->by_rule);
    r->by_rule = NULL;
    r->more = 0;
}

/* Most severe first, then the earliest: a critical cause before the errors it led to. */
static int by_severity_then_time(const void *x, const void *y)
{
    const json_t *a = *(const json_t *const *)x;
    const json_t *b = *(const json_t *const *)y;
    int ra = hvd_severity_parse(jstr(a, "severity"));
    int rb = hvd_severity_parse(jstr(b, "severity"));
    int c;

    if (ra != rb) {
        return ra > rb ? -1 : 1;
    }
    c = strcmp(jstr(a, "first_time"), jstr(b, "first_time"));
    return c ? c : strcmp(jstr(a, "title"), jstr(b, "title"));
}

/* An incident's own line and its fix. */
static void print_incident_head(const json_t *in, int colour)
{
    const char *sev = json_string_value(json_object_get(in, "severity"));
    const char *remedy = json_string_value(json_object_get(in, "remedy"));
    char first[20];
    char last[20];
    char subject[256];

    snprintf(first, sizeof(first), "%.19s", json_string_value(json_object_get(in, "first_time")));
    snprintf(last, sizeof(last), "%.19s", json_string_value(json_object_get(in, "last_time")));
    first[10] = ' ';
    last[10] = ' ';
    snprintf(subject, sizeof(subject), "%s%s", json_string_value(json_object_get(in, "subject")),
             strcmp(json_string_value(json_object_get(in, "subject_kind")), "vm") == 0 ? " (VM)"
                                                                                       : "");
    printf("%s%-9s%s %-19s %-19s ", colour ? sev_colour(sev) : "", sev, colour ? "\033[0m" : "",
           first, last);
    print_cell(subject, 18);
    printf(" %s\n", json_string_value(json_object_get(in, "title")));
    if (remedy && *remedy) {
        printf("%-68s fix: %.*s\n", "", (int)strcspn(remedy, "\n"), remedy);
    }
}

/* The lines under an incident, one diagnosis d at a time (in the incident's order): the
 * first MEMBERS_SHOWN other than the incident's own, then a sum of the rest. */
static void print_member(const json_t *in, const json_t *d, size_t *shown, struct rest *rest)
{
    if (strcmp(jstr(d, "title"), jstr(in, "title")) == 0) {
        return; /* the incident's own line already says it */
    }
    if (*shown == MEMBERS_SHOWN) {
        rest_add(rest, d);
        return;
    }
    printf("%-68s %s %s [%s%s%s, x%" JSON_INTEGER_FORMAT "]\n", "",
           json_is_true(json_object_get(d, "root_cause")) ? "root cause:" : "-", jstr(d, "title"),
           jstr(d, "rule"), *jstr(d, "host") ? ", " : "", jstr(d, "host"),
           json_integer_value(json_object_get(d, "count")));
    (*shown)++;
}

/* One incident: its line, its fix, and its other diagnoses (summed up past a few). */
static void print_incident(const json_t *in, int colour)
{
    const json_t *diags = json_object_get(in, "diagnoses");
    struct rest rest = {NULL, 0};
    size_t shown = 0;
    size_t k;
    const json_t *d;

    print_incident_head(in, colour);
    json_array_foreach(diags, k, d)
    {
        print_member(in, d, &shown, &rest);
    }
    rest_print(&rest);
}

/* Files that were not simply read. */
static void print_files(const json_t *report)
{
    const json_t *files = json_object_get(report, "files");
    size_t i;
    const json_t *in;

    json_array_foreach(files, i, in)
    {
        const char *status = json_string_value(json_object_get(in, "status"));

        if (strcmp(status, "damaged") == 0) {
            printf("%-8s %s (%" JSON_INTEGER_FORMAT " events read, %" JSON_INTEGER_FORMAT
                   " records or lines lost%s)\n",
                   status, jstr(in, "path"), num(in, "events"), num(in, "skipped"),
                   json_is_true(json_object_get(in, "corrupted")) ? ", flagged corrupted" : "");
        } else if (strcmp(status, "read") != 0) {
            printf("%-8s %s (%s)\n", status, jstr(in, "path"), jstr(in, "reason"));
        }
    }
}

/* The incidents of the array, most severe first (NULL when out of memory); the caller
 * frees it with free(). */
static const json_t **sorted_incidents(const json_t *incidents)
{
    size_t n = json_array_size(incidents);
    const json_t **order = calloc(n ? n : 1, sizeof(*order));

    for (size_t i = 0; order && i < n; i++) {
        order[i] = json_array_get(incidents, i);
    }
    if (order && n > 1) {
        qsort(order, n, sizeof(*order), by_severity_then_time);
    }
    return order;
}

/* Puts the incidents of the array in the table's order, most severe first. Returns 0, or
 * -1 when out of memory (the array is then as it was). */
static int sort_incidents(json_t *incidents)
{
    size_t n = json_array_size(incidents);
    const json_t **order = sorted_incidents(incidents);
    json_t *sorted = json_array();

    for (size_t i = 0; order && sorted && i < n; i++) {
        if (json_array_append(sorted, (json_t *)order[i]) < 0) {
            break;
        }
    }
    free(order);
    if (!sorted || json_array_size(sorted) != n) {
        json_decref(sorted);
        return -1;
    }
    json_array_clear(incidents);
    json_array_extend(incidents, sorted);
    json_decref(sorted);
    return 0;
}

static void print_header(void)
{
    printf("%-9s %-19s %-19s %-18s %s\n", "SEVERITY", "FIRST (UTC)", "LAST (UTC)", "VM / HOST",
           "WHAT HAPPENED");
}

static void print_footer(const json_t *report, size_t incidents)
{
    printf("\n%zu incident(s). 'hvdiag analyze --json' or '--html FILE' shows causes, remedies "
           "and evidence.\n",
           incidents);
    print_summary(json_object_get(report, "summary"));
}

static void print_table(const json_t *report, int colour)
{
    const json_t *incidents = json_object_get(report, "incidents");
    size_t n = json_array_size(incidents);
    const json_t **order;

    print_files(report);
    if (n == 0) {
        printf("No incidents found.\n");
        print_summary(json_object_get(report, "summary"));
        return;
    }
    print_header();
    order = sorted_incidents(incidents);
    for (size_t i = 0; i < n; i++) {
        print_incident(order ? order[i] : json_array_get(incidents, i), colour);
    }
    free(order);
    print_footer(report, n);
}

struct members_pages {
    const json_t *in;
    size_t shown;
    struct rest rest;
};

/* One page of an incident's diagnoses, printed. */
static int print_page(void *ud, json_t *res)
{
    struct members_pages *p = ud;
    size_t k;
    json_t *d;

    hvd_cli_clean_json(res);
    json_array_foreach(json_object_get(res, "diagnoses"), k, d)
    {
        print_member(p->in, d, &p->shown, &p->rest);
    }
    return 0;
}

/* An incident's diagnoses, asked for page by page without their evidence and printed as
 * they come. Returns 0, or -1 when a question failed (said on stderr). */
static int print_members(const hvd_query_context *q, const json_t *in)
{
    json_t *req = json_pack("{s:s,s:O,s:i,s:i}", "op", "incident", "id", json_object_get(in, "id"),
                            "limit", HVD_QUERY_MAX_PAGE, "evidence", 0);
    struct members_pages p = {in, 0, {NULL, 0}};
    int rc = each_page(q, req, print_page, &p);

    rest_print(&p.rest);
    json_decref(p.rest.by_rule);
    json_decref(req);
    return rc;
}

/*
 * The table of print_table() without holding the report: the incidents are listed once and
 * kept as their heads (incident_head()), sorted, and each incident's diagnoses are asked
 * for as it is printed, a page at a time, without evidence. Memory: O(incidents) heads of a
 * few hundred bytes plus one page of diagnoses, however many diagnoses and evidence events
 * the database holds. Sets *worst like collect_incidents(). Returns 0, or -1 when a
 * question failed (said on stderr).
 */
static int print_table_streamed(hvd_store *st, const struct options *o, const json_t *report,
                                int colour, int *worst)
{
    hvd_query_context q = {.store = st};
    json_t *heads = st ? collect_incidents(st, o, 1, worst) : json_array();
    const json_t **order;
    size_t n;
    int rc = 0;

    if (!heads) {
        return -1;
    }
    hvd_cli_clean_json(heads);
    n = json_array_size(heads);
    print_files(report);
    if (n == 0) {
        printf("No incidents found.\n");
        print_summary(json_object_get(report, "summary"));
        json_decref(heads);
        return 0;
    }
    print_header();
    order = sorted_incidents(heads);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *in = order ? order[i] : json_array_get(heads, i);

        print_incident_head(in, colour);
        rc = print_members(&q, in);
    }
    free(order);
    if (rc == 0) {
        print_footer(report, n);
    }
    json_decref(heads);
    return rc;
}

/* The report as one self-contained page (lib/report.c), written whole or not at all. */
static int write_html(const char *path, const json_t *report, const hvd_report_options *ro)
{
    char *json = json_dumps(report, JSON_COMPACT);
    hvd_buf page;
    hvd_error err;
    FILE *f;
    int rc = -1;

    hvd_buf_init(&page, (size_t)1 << 30);
    hvd_error_clear(&err);
    if (!json) {
        fprintf(stderr, "hvdiag analyze: %s: out of memory\n", path);
    } else if (hvd_report_html(json, strlen(json), ro, &page, &err) < 0) {
        fprintf(stderr, "hvdiag analyze: %s: %s\n", path, err.msg);
    } else if (!(f = fopen(path, "w"))) {
        fprintf(stderr, "hvdiag analyze: cannot write %s: %s\n", path, strerror(errno));
    } else {
        int bad = fwrite(page.data, 1, page.len, f) != page.len;

        bad |= fclose(f) != 0;
        if (bad) {
            fprintf(stderr, "hvdiag analyze: cannot write %s: %s\n", path, strerror(errno));
        }
        rc = bad ? -1 : 0;
    }
    free(json);
    hvd_buf_free(&page);
    return rc;
}

/* --- the command -------------------------------------------------------------------- */

/* The signal that asked analyze to stop (0: none). Between files the loop stops, what was
 * read is stored and reported, the temporary folder of extracted archives is removed, then
 * the signal is raised again. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* Signals already ignored (nohup, a background job) stay ignored. */
static void catch_stop_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    struct sigaction old;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART | SA_RESETHAND; /* a second one acts at once */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
            sigaction(sigs[i], &sa, NULL);
        }
    }
}

/* What became of the files, for the summary line and the JSON "summary". */
struct tally {
    uint64_t read;       /* read without trouble */
    uint64_t damaged;    /* read, but records or lines were lost */
    uint64_t recovered;  /* events read from damaged files */
    uint64_t unreadable; /* an error, or not one event from a file with content */
    uint64_t skipped;    /* not logs hvdiag reads */
};

/* Does the bundle entry 'display' come from the path the user gave? */
static int from_input(const char *display, const char *input)
{
    size_t n = strlen(input);

    return strncmp(display, input, n) == 0 &&
           (display[n] == '\0' || display[n] == '/' || display[n] == '!' || input[n - 1] == '/');
}

/* Opens the database on first need, so a run that reads nothing creates none. */
static int open_store(struct options *o, const hvd_ruleset *rs, const hvd_logger *log,
                      hvd_store **st, hvd_ingest **ing, int *existed, hvd_error *err)
{
    struct stat sb;

    if (*st) {
        return 0;
    }
    if (!o->db) {
        o->db = DEFAULT_DB;
        hvd_cli_error("hvdiag: using the database ./%s (--db FILE to choose)", DEFAULT_DB);
    }
    *existed = stat(o->db, &sb) == 0;
    if (hvd_store_open(st, o->db, 0, err) < 0 || hvd_ingest_create(ing, *st, rs, log, err) < 0) {
        hvd_cli_error("hvdiag analyze: %s", err->msg);
        return -1;
    }
    return 0;
}

/* Removes a database this run created but stored nothing from. */
static void drop_new_store(const char *db)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    char p[4096];

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        int n = snprintf(p, sizeof(p), "%s%s", db, suffixes[i]);

        if (n > 0 && (size_t)n < sizeof(p)) {
            unlink(p);
        }
    }
}

static json_t *tally_json(const struct tally *t)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "files",
                     (json_int_t)(t->read + t->damaged + t->unreadable), "read",
                     (json_int_t)t->read, "damaged", (json_int_t)t->damaged, "recovered",
                     (json_int_t)t->recovered, "unreadable", (json_int_t)t->unreadable, "skipped",
                     (json_int_t)t->skipped);
}

int hvd_cmd_analyze(int argc, char **argv)
{
    hvd_logger log = {hvd_cli_log_stderr, NULL, HVD_LOG_ERR};
    struct options o;
    hvd_ruleset *rs = NULL;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_bundle *bundle = NULL;
    hvd_error err;
    json_t *report = NULL;
    json_t *files = NULL;
    json_t *incidents = NULL;
    uint64_t *input_events = NULL;
    int *input_failed = NULL;
    struct tally t = {0};
    int worst = 0;
    int input_errors = 0;
    int db_existed = 1;
    int status = HVD_EXIT_USAGE;
    int tty = isatty(2);

    if (parse_args(argc, argv, &o) < 0) {
        free(o.paths);
        return HVD_EXIT_USAGE;
    }
    log.min_level = o.verbose ? HVD_LOG_WARNING : HVD_LOG_ERR;
    hvd_error_clear(&err);
    if (!o.rules) {
        o.rules = hvd_cli_default_rules();
    }
    if (hvd_cli_rules_present("hvdiag analyze", o.rules) < 0) {
        goto out;
    }
    if (hvd_ruleset_load_flags(&rs, o.rules, NULL, HVD_RULESET_MATCH_ONLY, &log, &err) < 0) {
        hvd_cli_error("hvdiag analyze: the rule set in %s is invalid: %s", o.rules, err.msg);
        goto out;
    }
    catch_stop_signals();
    if (hvd_bundle_open(&bundle, (const char *const *)o.paths, (size_t)o.npaths, &o.limits, &log,
                        &err) < 0) {
        hvd_cli_error("hvdiag analyze: %s", err.msg);
        goto out;
    }
    input_events = calloc((size_t)o.npaths, sizeof(*input_events));
    input_failed = calloc((size_t)o.npaths, sizeof(*input_failed));
    files = json_array();
    if (!input_events || !input_failed || !files) {
        hvd_cli_error("hvdiag analyze: out of memory");
        goto out;
    }
    for (size_t i = 0; i < hvd_bundle_count(bundle); i++) {
        const hvd_bundle_file *bf = hvd_bundle_file_at(bundle, i);
        json_t *fo;
        hvd_ingest_result res;
        int failed = 0;

        if (stop_signal) {
            if (tty && !o.json) {
                fputs("\r\033[K", stderr);
            }
            /* Store what the engine holds, as a run over these files alone would. */
            hvd_cli_error("hvdiag analyze: interrupted; %zu of %zu files read", i,
                          hvd_bundle_count(bundle));
            input_errors++;
            break;
        }
        fo = json_object();

        json_object_set_new(fo, "path", json_string(bf->display));
        if (bf->status != HVD_BUNDLE_READ) {
            json_object_set_new(
                fo, "status", json_string(bf->status == HVD_BUNDLE_SKIPPED ? "skipped" : "error"));
            json_object_set_new(fo, "reason", json_string(bf->reason));
            if (bf->status == HVD_BUNDLE_ERROR) {
                hvd_cli_error("hvdiag analyze: %s: %s", bf->display, bf->reason);
                input_errors++;
                t.unreadable++;
                failed = 1;
            } else {
                t.skipped++;
            }
            json_array_append_new(files, fo);
            goto next;
        }
        if (open_store(&o, rs, &log, &st, &ing, &db_existed, &err) < 0) {
            json_decref(fo);
            goto out;
        }
        if (tty && !o.json) {
            char *shown = hvd_cli_clean(bf->display, 0);

            fprintf(stderr, "\r\033[K[%zu/%zu] %s", i + 1, hvd_bundle_count(bundle),
                    shown ? shown : "");
            free(shown);
        }
        hvd_error_clear(&err);
        json_object_set_new(fo, "kind", json_string(hvd_source_kind_name(bf->kind)));
        if (hvd_ingest_file(ing, bf->path, bf->display, &o.ingest, &res, &err) < 0) {
            if (tty && !o.json) {
                fputs("\r\033[K", stderr);
            }
            hvd_cli_error("hvdiag analyze: %s", err.msg);
            json_object_set_new(fo, "status", json_string("error"));
            json_object_set_new(fo, "reason", json_string(err.msg));
            input_errors++;
            t.unreadable++;
            failed = 1;
            if (err.code == HVD_ESTORE) {
                json_array_append_new(files, fo);
                goto out;
            }
        } else {
            /* An EVTX export of an empty channel is fine; anything else without one event
             * is not a log hvdiag can read. */
            int empty_export = bf->kind == HVD_SOURCE_EVTX && res.stats.records == 0 &&
                               !res.stats.corrupted && res.stats.skipped == 0;
            const char *state = "read";

            if (res.events == 0 && !empty_export) {
                if (tty && !o.json) {
                    fputs("\r\033[K", stderr);
                }
                if (res.stats.records && res.stats.skipped == res.stats.records) {
                    hvd_cli_error("hvdiag analyze: warning: %s: none of its %" PRIu64
                                  " records could be read (forwarded events?)",
                                  bf->display, res.stats.records);
                } else {
                    hvd_cli_error("hvdiag analyze: warning: %s: no event read from it (not a "
                                  "log hvdiag knows?)",
                                  bf->display);
                }
                state = "unreadable";
                json_object_set_new(fo, "reason", json_string("no event read from it"));
                input_errors++;
                t.unreadable++;
                failed = 1;
            } else if (res.stats.skipped || res.stats.corrupted) {
                state = "damaged";
                t.damaged++;
                t.recovered += res.events;
            } else {
                t.read++;
            }
            json_object_set_new(fo, "status", json_string(state));
            json_object_set_new(fo, "events", json_integer((json_int_t)res.events));
            json_object_set_new(fo, "new_events", json_integer((json_int_t)res.fresh));
            json_object_set_new(fo, "repeated", json_integer((json_int_t)res.repeated));
            json_object_set_new(fo, "skipped", json_integer((json_int_t)res.stats.skipped));
            json_object_set_new(fo, "recovered", json_integer((json_int_t)res.stats.recovered));
            json_object_set_new(fo, "corrupted", json_boolean(res.stats.corrupted));
            for (int k = 0; k < o.npaths; k++) {
                if (from_input(bf->display, o.paths[k])) {
                    input_events[k] += res.events;
                }
            }
        }
        json_array_append_new(files, fo);
    next:
        for (int k = 0; failed && k < o.npaths; k++) {
            if (from_input(bf->display, o.paths[k])) {
                input_failed[k] = 1;
            }
        }
    }
    if (tty && !o.json) {
        fputs("\r\033[K", stderr);
    }
    /* A path that gave not one event is no healthy input, even when each file was fine. */
    for (int k = 0; k < o.npaths; k++) {
        if (input_events[k] == 0 && !input_failed[k]) {
            hvd_cli_error("hvdiag analyze: warning: %s: no event read from it", o.paths[k]);
            input_errors++;
        }
    }
    if (ing && hvd_ingest_finish(ing, NULL, &err) < 0) {
        hvd_cli_error("hvdiag analyze: %s", err.msg);
        goto out;
    }
    report = json_object();
    json_object_set_new(report, "database", o.db ? json_string(o.db) : json_null());
    json_object_set_new(report, "files", files);
    files = NULL;
    json_object_set_new(report, "summary", tally_json(&t));
    if (!o.json && !o.html) {
        /* The table alone: printed as the store answers, never held whole. */
        json_t *shown = json_deep_copy(report);

        hvd_cli_clean_json(shown);
        if (!shown || print_table_streamed(st, &o, shown, isatty(1), &worst) < 0) {
            json_decref(shown);
            goto out;
        }
        json_decref(shown);
        status = input_errors ? HVD_EXIT_USAGE : worst >= o.fail_on ? HVD_EXIT_FOUND : HVD_EXIT_OK;
        goto out;
    }
    if (o.json && !o.html) {
        /* The JSON alone: written as the store answers, never held whole. */
        if (write_json_streamed(st, &o, report, &worst) < 0) {
            goto out;
        }
        status = input_errors ? HVD_EXIT_USAGE : worst >= o.fail_on ? HVD_EXIT_FOUND : HVD_EXIT_OK;
        goto out;
    }
    incidents = st ? collect_incidents(st, &o, 0, &worst) : json_array();
    if (!incidents || sort_incidents(incidents) < 0) {
        json_decref(incidents);
        goto out;
    }
    json_object_set_new(report, "incidents", incidents);
    if (o.json) {
        json_dumpf(report, stdout,
                   hvd_cli_json_flags(stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER));
        fputc('\n', stdout);
    } else {
        /* The table shows input text: a copy made safe for the terminal. */
        json_t *shown = json_deep_copy(report);

        hvd_cli_clean_json(shown);
        print_table(shown ? shown : report, isatty(1));
        json_decref(shown);
    }
    if (o.html && write_html(o.html, report, &o.report) < 0) {
        input_errors++;
    }
    status = input_errors ? HVD_EXIT_USAGE : worst >= o.fail_on ? HVD_EXIT_FOUND : HVD_EXIT_OK;
out:
    json_decref(files);
    json_decref(report);
    hvd_bundle_close(bundle);
    hvd_ingest_destroy(ing);
    if (st && !db_existed && t.read + t.damaged == 0) {
        hvd_store_close(st);
        drop_new_store(o.db);
    } else {
        hvd_store_close(st);
    }
    hvd_ruleset_destroy(rs);
    free(input_events);
    free(input_failed);
    free(o.paths);
    if (stop_signal) {
        /* Everything is cleaned up: end the way the signal would have. */
        fflush(NULL);
        signal(stop_signal, SIG_DFL);
        raise(stop_signal);
    }
    return status;
}
