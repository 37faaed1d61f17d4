/*
 * hvdiag analyze: a Get-ClusterLog bundle, a folder of EVTX exports, single files or a zip
 * of them, through the whole data flow into the database; then what happened, per incident.
 */
#include "cmd.h"

#include "bundle.h"
#include "hvtime.h"
#include "ingest.h"
#include "alloc.h"
#include "log.h"
#include "query.h"
#include "rules.h"
#include "store.h"

#include <inttypes.h>
#include <jansson.h>
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
    int json;
    int fail_on;
    int verbose;
    hvd_ingest_options ingest;
    char **paths;
    int npaths;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvdiag analyze PATH... [--db FILE] [--rules DIR] [--since T] [--until T]\n"
            "                      [--json] [--html FILE] [--fail-on SEVERITY]\n"
            "                      [--evtx-reader libevtx|native] [-v]\n"
            "\n"
            "PATH is a Get-ClusterLog destination folder, a folder of .evtx exports, single\n"
            "files, or a .zip of any of these. Folders are searched recursively.\n"
            "  --db FILE          database to add to (default ./%s)\n"
            "  --rules DIR        rule set (default ./rules if present, else %s)\n"
            "  --since, --until   only events in this time range (UTC, 2024-03-05T10:00:00)\n"
            "  --json             print one JSON document instead of the table\n"
            "  --html FILE        also write a self-contained HTML report\n"
            "  --fail-on SEV      exit 1 when an incident is at least SEV (info, warning,\n"
            "                     error, critical; default error)\n"
            "  --evtx-reader R    which decoder reads EVTX files: libevtx or native\n"
            "                     (default %s)\n"
            "  -v                 print reader warnings\n"
            "exit status: 0 nothing at or above --fail-on, 1 found such, 2 usage or input errors\n",
            DEFAULT_DB, HVD_RULES_DIR, hvd_evtx_decoder_name(HVD_EVTX_DEFAULT));
}

static void log_to_stderr(void *ud, int level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "hvdiag: %s: %s\n", hvd_log_level_name(level), msg);
}

static int parse_args(int argc, char **argv, struct options *o)
{
    struct stat st;

    memset(o, 0, sizeof(*o));
    o->fail_on = HVD_SEVERITY_ERROR;
    o->paths = calloc((size_t)argc, sizeof(char *));
    if (!o->paths) {
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(HVD_EXIT_OK);
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "-v") == 0) {
            o->verbose = 1;
        } else if (a[0] == '-' && a[1] == '-' && !val) {
            fprintf(stderr, "hvdiag analyze: %s needs a value\n", a);
            return -1;
        } else if (strcmp(a, "--db") == 0) {
            o->db = argv[++i];
        } else if (strcmp(a, "--rules") == 0) {
            o->rules = argv[++i];
        } else if (strcmp(a, "--html") == 0) {
            o->html = argv[++i];
        } else if (strcmp(a, "--since") == 0 || strcmp(a, "--until") == 0) {
            hvd_time *t = a[2] == 's' ? &o->ingest.since : &o->ingest.until;

            if (hvd_time_parse(argv[++i], t) < 0) {
                fprintf(stderr, "hvdiag analyze: %s: not a time ('%s')\n", a, argv[i]);
                return -1;
            }
        } else if (strcmp(a, "--evtx-reader") == 0) {
            if (hvd_evtx_decoder_parse(argv[++i], &o->ingest.evtx_decoder) < 0) {
                fprintf(stderr, "hvdiag analyze: --evtx-reader: '%s' is not libevtx or native\n",
                        argv[i]);
                return -1;
            }
        } else if (strcmp(a, "--fail-on") == 0) {
            o->fail_on = hvd_severity_parse(argv[++i]);
            if (o->fail_on < HVD_SEVERITY_INFO) {
                fprintf(stderr, "hvdiag analyze: --fail-on: unknown severity '%s'\n", argv[i]);
                return -1;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hvdiag analyze: unknown option '%s'\n", a);
            return -1;
        } else {
            o->paths[o->npaths++] = argv[i];
        }
    }
    if (o->npaths == 0) {
        fprintf(stderr, "hvdiag analyze: no PATH given\n");
        return -1;
    }
    if (!o->rules) {
        o->rules = stat("rules/hvdiag-rules.xsd", &st) == 0 ? "rules" : HVD_RULES_DIR;
    }
    return 0;
}

/* --- collecting the report: the query module's answers, as the socket gives them ------ */

static json_t *ask(const hvd_query_context *q, json_t *request)
{
    char *text = json_dumps(request, JSON_COMPACT);
    char *answer = text ? hvd_query_handle(q, text, strlen(text)) : NULL;
    json_t *res = answer ? json_loads(answer, 0, NULL) : NULL;

    free(text);
    hvd_free(answer);
    json_decref(request);
    if (res && !json_is_true(json_object_get(res, "ok"))) {
        fprintf(stderr, "hvdiag analyze: %s\n",
                json_string_value(json_object_get(json_object_get(res, "error"), "message")));
        json_decref(res);
        return NULL;
    }
    return res;
}

/* Incidents at or above info in the time range, each with its diagnoses and evidence.
 * Sets *worst to the highest severity found. */
static json_t *collect_incidents(hvd_store *st, const struct options *o, int *worst)
{
    hvd_query_context q = {.store = st};
    json_t *out = json_array();
    json_t *req = json_pack("{s:s,s:s,s:i}", "op", "incidents", "severity", "info", "limit", 1000);
    json_t *res;
    size_t i;
    json_t *in;
    char t[40];

    if (o->ingest.since) {
        json_object_set_new(req, "since",
                            json_string(hvd_time_format(o->ingest.since, t, sizeof(t))));
    }
    if (o->ingest.until) {
        json_object_set_new(req, "until",
                            json_string(hvd_time_format(o->ingest.until, t, sizeof(t))));
    }
    res = ask(&q, req);
    if (!res) {
        json_decref(out);
        return NULL;
    }
    json_array_foreach(json_object_get(res, "incidents"), i, in)
    {
        json_t *one = ask(&q, json_pack("{s:s,s:I}", "op", "incident", "id",
                                        json_integer_value(json_object_get(in, "id"))));
        int sev = hvd_severity_parse(json_string_value(json_object_get(in, "severity")));

        json_object_set(in, "diagnoses", one ? json_object_get(one, "diagnoses") : json_array());
        json_decref(one);
        if (sev > *worst) {
            *worst = sev;
        }
        json_array_append(out, in);
    }
    json_decref(res);
    return out;
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

static void print_table(const json_t *report, int colour)
{
    const json_t *incidents = json_object_get(report, "incidents");
    const json_t *files = json_object_get(report, "files");
    size_t i;
    const json_t *in;

    json_array_foreach(files, i, in)
    {
        const char *status = json_string_value(json_object_get(in, "status"));

        if (strcmp(status, "read") != 0) {
            printf("%-8s %s (%s)\n", status, json_string_value(json_object_get(in, "path")),
                   json_string_value(json_object_get(in, "reason")));
        }
    }
    if (json_array_size(incidents) == 0) {
        printf("No incidents found.\n");
        return;
    }
    printf("%-9s %-19s %-19s %-18s %s\n", "SEVERITY", "FIRST (UTC)", "LAST (UTC)", "VM / HOST",
           "WHAT HAPPENED");
    json_array_foreach(incidents, i, in)
    {
        const char *sev = json_string_value(json_object_get(in, "severity"));
        const char *remedy = json_string_value(json_object_get(in, "remedy"));
        char first[20];
        char last[20];
        char subject[64];
        const json_t *diags = json_object_get(in, "diagnoses");
        size_t k;
        const json_t *d;

        snprintf(first, sizeof(first), "%.19s",
                 json_string_value(json_object_get(in, "first_time")));
        snprintf(last, sizeof(last), "%.19s", json_string_value(json_object_get(in, "last_time")));
        first[10] = ' ';
        last[10] = ' ';
        snprintf(subject, sizeof(subject), "%s%s",
                 json_string_value(json_object_get(in, "subject")),
                 strcmp(json_string_value(json_object_get(in, "subject_kind")), "vm") == 0 ? " (VM)"
                                                                                           : "");
        printf("%s%-9s%s %-19s %-19s %-18s %s\n", colour ? sev_colour(sev) : "", sev,
               colour ? "\033[0m" : "", first, last, subject,
               json_string_value(json_object_get(in, "title")));
        if (remedy && *remedy) {
            printf("%-68s fix: %.*s\n", "", (int)strcspn(remedy, "\n"), remedy);
        }
        json_array_foreach(diags, k, d)
        {
            if (strcmp(jstr(d, "title"), jstr(in, "title")) == 0) {
                continue; /* the incident's own line already says it */
            }
            printf("%-68s %s %s [%s, %s, x%" JSON_INTEGER_FORMAT "]\n", "",
                   json_is_true(json_object_get(d, "root_cause")) ? "root cause:" : "-",
                   json_string_value(json_object_get(d, "title")),
                   json_string_value(json_object_get(d, "rule")),
                   json_string_value(json_object_get(d, "host")),
                   json_integer_value(json_object_get(d, "count")));
        }
    }
    printf("\n%zu incident(s). 'hvdiag analyze --json' or '--html FILE' shows causes, remedies "
           "and evidence.\n",
           json_array_size(incidents));
}

static void html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* One self-contained page: inline style, an SVG timeline per subject, the incidents. */
static int write_html(const char *path, const json_t *report)
{
    const json_t *incidents = json_object_get(report, "incidents");
    FILE *f = fopen(path, "w");
    hvd_time lo = INT64_MAX;
    hvd_time hi = INT64_MIN;
    size_t i;
    const json_t *in;

    if (!f) {
        return -1;
    }
    json_array_foreach(incidents, i, in)
    {
        hvd_time a;
        hvd_time b;

        if (hvd_time_parse(jstr(in, "first_time"), &a) == 0 && a < lo) {
            lo = a;
        }
        if (hvd_time_parse(jstr(in, "last_time"), &b) == 0 && b > hi) {
            hi = b;
        }
    }
    if (hi <= lo) {
        hi = lo + 1;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>hvdiag report</title><style>"
          "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
          "h1{font-size:1.4em}.inc{border:1px solid #ccc;border-radius:6px;margin:1em 0;"
          "padding:.8em}.sev{font-weight:bold;text-transform:uppercase;padding:.1em .4em;"
          "border-radius:4px;color:#fff}.critical{background:#a00}.error{background:#d33}"
          ".warning{background:#d90}.info,.benign{background:#48a}"
          "pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em;border-radius:4px}"
          "table{border-collapse:collapse;font-size:.85em}td,th{border-bottom:1px solid #eee;"
          "padding:.2em .5em;text-align:left;vertical-align:top}"
          ".timeline text{font-size:11px}</style></head><body>\n",
          f);
    fputs("<h1>hvdiag report</h1>\n<p>Database: ", f);
    html_text(f, jstr(report, "database"));
    fprintf(f, ". %zu incident(s).</p>\n<h2>Timeline</h2>\n", json_array_size(incidents));
    fprintf(f,
            "<svg class=\"timeline\" width=\"960\" height=\"%zu\" "
            "xmlns=\"http://www.w3.org/2000/svg\">\n",
            json_array_size(incidents) * 22 + 30);
    json_array_foreach(incidents, i, in)
    {
        hvd_time a = lo;
        hvd_time b = hi;
        double x;
        double w;

        hvd_time_parse(jstr(in, "first_time"), &a);
        hvd_time_parse(jstr(in, "last_time"), &b);
        x = 260.0 + 680.0 * (double)(a - lo) / (double)(hi - lo);
        w = 680.0 * (double)(b - a) / (double)(hi - lo);
        fprintf(f, "<text x=\"0\" y=\"%zu\">", i * 22 + 15);
        html_text(f, jstr(in, "subject"));
        fprintf(f,
                "</text><rect class=\"%s\" x=\"%.1f\" y=\"%zu\" width=\"%.1f\" height=\"14\" "
                "fill=\"%s\"><title>",
                jstr(in, "severity"), x, i * 22 + 4, w < 4 ? 4 : w,
                strcmp(jstr(in, "severity"), "critical") == 0  ? "#a00"
                : strcmp(jstr(in, "severity"), "error") == 0   ? "#d33"
                : strcmp(jstr(in, "severity"), "warning") == 0 ? "#d90"
                                                               : "#48a");
        html_text(f, jstr(in, "title"));
        fputs("</title></rect>\n", f);
    }
    fprintf(f, "<text x=\"260\" y=\"%zu\">", json_array_size(incidents) * 22 + 25);
    if (json_array_size(incidents)) {
        html_text(f, jstr(json_array_get(incidents, json_array_size(incidents) - 1), "first_time"));
    }
    fputs("</text></svg>\n<h2>Incidents</h2>\n", f);
    json_array_foreach(incidents, i, in)
    {
        size_t k;
        const json_t *d;

        fprintf(f, "<div class=\"inc\"><span class=\"sev %s\">%s</span> <b>", jstr(in, "severity"),
                jstr(in, "severity"));
        html_text(f, jstr(in, "title"));
        fputs("</b><br>", f);
        html_text(f, jstr(in, "subject_kind"));
        fputs(" ", f);
        html_text(f, jstr(in, "subject"));
        fputs(", hosts ", f);
        html_text(f, jstr(in, "hosts"));
        fputs(", ", f);
        html_text(f, jstr(in, "first_time"));
        fputs(" to ", f);
        html_text(f, jstr(in, "last_time"));
        json_array_foreach(json_object_get(in, "diagnoses"), k, d)
        {
            size_t e;
            const json_t *ev;
            const json_t *ref;

            fprintf(f, "<h3>%s",
                    json_is_true(json_object_get(d, "root_cause")) ? "Root cause: " : "");
            html_text(f, jstr(d, "title"));
            fputs("</h3><p><b>Why:</b></p><pre>", f);
            html_text(f, jstr(d, "cause"));
            fputs("</pre><p><b>What to do:</b></p><pre>", f);
            html_text(f, jstr(d, "remedy"));
            fputs("</pre><p>References: ", f);
            json_array_foreach(json_object_get(d, "references"), e, ref)
            {
                fputs("<a href=\"", f);
                html_text(f, json_string_value(ref));
                fputs("\">", f);
                html_text(f, json_string_value(ref));
                fputs("</a> ", f);
            }
            fputs("</p><table><tr><th>time</th><th>host</th><th>source</th><th>event</th>"
                  "<th>message</th></tr>\n",
                  f);
            json_array_foreach(json_object_get(d, "evidence"), e, ev)
            {
                fputs("<tr><td>", f);
                html_text(f, jstr(ev, "time"));
                fputs("</td><td>", f);
                html_text(f, jstr(ev, "host"));
                fputs("</td><td>", f);
                html_text(f, jstr(ev, "source"));
                fputs("</td><td>", f);
                if (strcmp(jstr(ev, "kind"), "evtx") == 0) {
                    html_text(f, jstr(ev, "provider"));
                    fprintf(f, " %" JSON_INTEGER_FORMAT,
                            json_integer_value(json_object_get(ev, "event_id")));
                } else {
                    fprintf(f, "line %" JSON_INTEGER_FORMAT,
                            json_integer_value(json_object_get(ev, "line")));
                }
                fputs("</td><td>", f);
                html_text(f, jstr(ev, "message"));
                fputs("</td></tr>\n", f);
            }
            fputs("</table>\n", f);
        }
        fputs("</div>\n", f);
    }
    fputs("</body></html>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

/* --- the command -------------------------------------------------------------------- */

int hvd_cmd_analyze(int argc, char **argv)
{
    hvd_logger log = {log_to_stderr, NULL, HVD_LOG_ERR};
    struct options o;
    hvd_ruleset *rs = NULL;
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_bundle *bundle = NULL;
    hvd_error err;
    json_t *report = NULL;
    json_t *files = NULL;
    json_t *incidents = NULL;
    int worst = 0;
    int input_errors = 0;
    int status = HVD_EXIT_USAGE;
    int tty = isatty(2);

    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        free(o.paths);
        return HVD_EXIT_USAGE;
    }
    log.min_level = o.verbose ? HVD_LOG_WARNING : HVD_LOG_ERR;
    hvd_error_clear(&err);
    if (hvd_ruleset_load(&rs, o.rules, NULL, &log, &err) < 0) {
        fprintf(stderr, "hvdiag analyze: the rule set in %s is invalid\n", o.rules);
        goto out;
    }
    if (!o.db) {
        o.db = DEFAULT_DB;
        fprintf(stderr, "hvdiag: using the database ./%s (--db FILE to choose)\n", DEFAULT_DB);
    }
    if (hvd_store_open(&st, o.db, 0, &err) < 0 || hvd_ingest_create(&ing, st, rs, &log, &err) < 0) {
        fprintf(stderr, "hvdiag analyze: %s\n", err.msg);
        goto out;
    }
    if (hvd_bundle_open(&bundle, (const char *const *)o.paths, (size_t)o.npaths, NULL, &log, &err) <
        0) {
        fprintf(stderr, "hvdiag analyze: %s\n", err.msg);
        goto out;
    }
    files = json_array();
    for (size_t i = 0; i < hvd_bundle_count(bundle); i++) {
        const hvd_bundle_file *bf = hvd_bundle_file_at(bundle, i);
        json_t *fo = json_object();
        hvd_ingest_result res;

        json_object_set_new(fo, "path", json_string(bf->display));
        if (bf->status != HVD_BUNDLE_READ) {
            json_object_set_new(
                fo, "status", json_string(bf->status == HVD_BUNDLE_SKIPPED ? "skipped" : "error"));
            json_object_set_new(fo, "reason", json_string(bf->reason));
            if (bf->status == HVD_BUNDLE_ERROR) {
                fprintf(stderr, "hvdiag analyze: %s: %s\n", bf->display, bf->reason);
                input_errors++;
            }
            json_array_append_new(files, fo);
            continue;
        }
        if (tty && !o.json) {
            fprintf(stderr, "\r\033[K[%zu/%zu] %s", i + 1, hvd_bundle_count(bundle), bf->display);
        }
        hvd_error_clear(&err);
        json_object_set_new(fo, "kind", json_string(hvd_source_kind_name(bf->kind)));
        if (hvd_ingest_file(ing, bf->path, bf->display, &o.ingest, &res, &err) < 0) {
            if (tty && !o.json) {
                fputs("\r\033[K", stderr);
            }
            fprintf(stderr, "hvdiag analyze: %s\n", err.msg);
            json_object_set_new(fo, "status", json_string("error"));
            json_object_set_new(fo, "reason", json_string(err.msg));
            input_errors++;
            if (err.code == HVD_ESTORE) {
                json_array_append_new(files, fo);
                goto out;
            }
        } else {
            json_object_set_new(fo, "status", json_string("read"));
            json_object_set_new(fo, "events", json_integer((json_int_t)res.events));
            json_object_set_new(fo, "new_events", json_integer((json_int_t)res.fresh));
            json_object_set_new(fo, "repeated", json_integer((json_int_t)res.repeated));
            json_object_set_new(fo, "skipped", json_integer((json_int_t)res.stats.skipped));
            json_object_set_new(fo, "recovered", json_integer((json_int_t)res.stats.recovered));
            json_object_set_new(fo, "corrupted", json_boolean(res.stats.corrupted));
            if (res.stats.records && res.stats.skipped == res.stats.records) {
                fprintf(stderr,
                        "hvdiag analyze: %s: none of its %" PRIu64 " records could be read "
                        "(forwarded events?)\n",
                        bf->display, res.stats.records);
            }
        }
        json_array_append_new(files, fo);
    }
    if (tty && !o.json) {
        fputs("\r\033[K", stderr);
    }
    if (hvd_ingest_finish(ing, NULL, &err) < 0) {
        fprintf(stderr, "hvdiag analyze: %s\n", err.msg);
        goto out;
    }
    report = json_object();
    json_object_set_new(report, "database", json_string(o.db));
    json_object_set_new(report, "files", files);
    files = NULL;
    incidents = collect_incidents(st, &o, &worst);
    if (!incidents) {
        goto out;
    }
    json_object_set_new(report, "incidents", incidents);
    if (o.json) {
        json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else {
        print_table(report, isatty(1));
    }
    if (o.html && write_html(o.html, report) < 0) {
        fprintf(stderr, "hvdiag analyze: cannot write %s\n", o.html);
        input_errors++;
    }
    status = input_errors ? HVD_EXIT_USAGE : worst >= o.fail_on ? HVD_EXIT_FOUND : HVD_EXIT_OK;
out:
    json_decref(files);
    json_decref(report);
    hvd_bundle_close(bundle);
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    hvd_ruleset_destroy(rs);
    free(o.paths);
    return status;
}
