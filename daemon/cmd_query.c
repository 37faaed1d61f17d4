/*
 * hvdiag query: past incidents. Asks hvdiagd over its socket when it answers; otherwise
 * reads the database itself, read-only, through the same query module, so the answer is
 * the same either way. Listings come in pages (lib/query.h): the command asks page after
 * page on one connection, following "next_cursor", and prints each as it arrives (with
 * --json it prints one object holding every row), so a listing of any length arrives
 * whole while no single answer grows past a page.
 */
#include "cmd.h"

#include "cli.h"

#include "alloc.h"
#include "hvtime.h"
#include "query.h"
#include "rules.h"
#include "store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/hvdiag/hvdiag.sock"
#define DEFAULT_DB     "hvdiag.db"
#define MAX_RESPONSE   (64u << 20)
#define PAGE_ROWS      1000 /* HVD_QUERY_MAX_PAGE */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvdiag query [incidents | incident ID | diagnoses | evidence DIAGNOSIS |\n"
            "                     sources | rules | health | follow]\n"
            "                    [--vm NAME|ID] [--host H] [--rule R] [--severity S]\n"
            "                    [--since T] [--until T] [--limit N | --all] [--offset N]\n"
            "                    [--cursor C] [--socket PATH] [--db FILE] [--json]\n"
            "\n"
            "Asks hvdiagd at --socket (default %s). Without --socket, when no\n"
            "daemon answers, reads ./%s directly, read-only, and says so; with --socket,\n"
            "a silent daemon is an error. --db FILE reads FILE and asks no daemon.\n"
            "--json prints the raw response.\n"
            "incidents, diagnoses, an incident's diagnoses and a diagnosis's evidence show\n"
            "--limit rows (default 50; --all: every one), sources every file; long listings are\n"
            "fetched page by page. --cursor C continues where a listing said\n"
            "\"(more: --cursor C)\". With --json, each diagnosis of an incident carries its first\n"
            "20 evidence events; 'evidence DIAGNOSIS' lists them all.\n"
            "follow prints each new diagnosis as the daemon makes it (--vm, --host, --rule,\n"
            "--severity select which; minimum severity), until the daemon stops or Ctrl-C.\n"
            "exit status: 0 answered, 2 usage errors or nothing to ask\n",
            DEFAULT_SOCKET, DEFAULT_DB);
}

struct table_rows;
static void table_incident(void *ud, const hvd_incident *in);
static void table_diagnosis(void *ud, const hvd_stored_diagnosis *d);

/* Where answers come from: the daemon's socket, or the database read directly. */
struct asker {
    int fd; /* -1: the database */
    char *buf;
    size_t len;
    size_t cap;
    hvd_store *st;
    hvd_ruleset *rs;
    int want_rules;           /* the rule set is read only for "rules" */
    struct table_rows *table; /* NULL, or where the database's listing rows are printed */
};

static int connect_socket(const char *path)
{
    struct sockaddr_un addr;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends one request line and reads one response line; NULL when the daemon does not
 * answer. Caller frees. */
static char *ask_socket(struct asker *a, const char *request)
{
    size_t scanned = 0;
    char *nl;
    char *line;

    if (write_all(a->fd, request, strlen(request)) < 0 || write_all(a->fd, "\n", 1) < 0) {
        return NULL;
    }
    while (!(nl = a->len ? memchr(a->buf + scanned, '\n', a->len - scanned) : NULL)) {
        ssize_t n;

        scanned = a->len;
        if (a->cap - a->len < 65536) {
            size_t cap = a->cap ? a->cap * 2 : 131072;
            char *grown = cap <= MAX_RESPONSE ? realloc(a->buf, cap) : NULL;

            if (!grown) {
                return NULL;
            }
            a->buf = grown;
            a->cap = cap;
        }
        n = read(a->fd, a->buf + a->len, a->cap - a->len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NULL;
        }
        a->len += (size_t)n;
    }
    line = strndup(a->buf, (size_t)(nl - a->buf));
    a->len -= (size_t)(nl - a->buf) + 1;
    memmove(a->buf, nl + 1, a->len);
    return line;
}

static int open_database(struct asker *a, const char *db)
{
    hvd_error err;

    /* A store an older hvdiag wrote is brought to this one's schema once, if it can be. */
    if (hvd_store_open(&a->st, db, HVD_STORE_READONLY | HVD_STORE_UPGRADE, &err) < 0) {
        hvd_cli_error("hvdiag query: %s", err.msg);
        return -1;
    }
    /* The rule set is only needed for "rules"; a broken one is not an error here. */
    if (a->want_rules) {
        hvd_ruleset_load_flags(&a->rs, hvd_cli_default_rules(), NULL, HVD_RULESET_MATCH_ONLY, NULL,
                               &err);
    }
    return 0;
}

/* The answer as an object, or NULL when out of memory (said on stderr). */
static json_t *ask_database(struct asker *a, const char *request)
{
    hvd_query_context q = {0};
    json_t *answer;

    q.store = a->st;
    q.rules = a->rs;
    if (a->table) {
        q.incident_row = table_incident;
        q.diagnosis_row = table_diagnosis;
        q.row_ud = a->table;
    }
    answer = hvd_query_answer(&q, request, strlen(request));
    if (!answer) {
        hvd_cli_error("hvdiag query: out of memory");
    }
    return answer;
}

/* A daemon's answer text (taken and freed) as an object, or NULL when it did not answer
 * or the answer is not JSON (said on stderr). */
static json_t *socket_answer(char *text)
{
    json_t *answer = text ? json_loads(text, 0, NULL) : NULL;

    if (!text) {
        hvd_cli_error("hvdiag query: no answer (the daemon went away?)");
    } else if (!answer) {
        hvd_cli_error("hvdiag query: the answer is not JSON");
    }
    free(text);
    return answer;
}

static void asker_close(struct asker *a)
{
    if (a->fd >= 0) {
        close(a->fd);
    }
    free(a->buf);
    hvd_ruleset_destroy(a->rs);
    hvd_store_close(a->st);
}

/* Asks the daemon, or the database: an explicit --db means the database, not the daemon;
 * an explicit --socket means the daemon, never a database; with neither, ./hvdiag.db
 * stands in for a silent daemon, with a notice. The first question decides which: once a
 * daemon answered, all pages come from it. The database answers with an object, not a
 * text to parse back. Caller frees the answer with json_decref(); NULL when nobody
 * answered or the answer is not JSON (said on stderr). */
static json_t *ask(struct asker *a, const char *socket_path, const char *db, const char *request)
{
    const char *path = socket_path ? socket_path : DEFAULT_SOCKET;
    char *answer;
    int why;

    if (!a->st && a->fd < 0 && !db) {
        a->fd = connect_socket(path);
        why = errno;
        if (a->fd >= 0) {
            answer = ask_socket(a, request);
            if (answer) {
                return socket_answer(answer);
            }
            why = errno ? errno : ECONNRESET;
            close(a->fd);
            a->fd = -1;
        }
        if (socket_path) {
            hvd_cli_error("hvdiag query: no daemon answers at %s: %s", path, strerror(why));
            return NULL;
        }
        hvd_cli_error("hvdiag query: no daemon answers at %s (%s); reading ./%s", path,
                      strerror(why), DEFAULT_DB);
    } else if (a->fd >= 0) {
        return socket_answer(ask_socket(a, request));
    }
    if (!a->st && open_database(a, db ? db : DEFAULT_DB) < 0) {
        return NULL;
    }
    return ask_database(a, request);
}

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "";
}

/* A member to print: made safe for a terminal first. */
static const char *shown(json_t *o, const char *k)
{
    return hvd_cli_clean_member(o, k);
}

/* The evidence an incident's diagnosis came with: one line per event, a forwarded event
 * with the level and task its sender rendered, and how to list the rest. */
static void print_evidence(json_t *d)
{
    json_t *list = json_object_get(d, "evidence");
    json_int_t more = json_integer_value(json_object_get(d, "evidence_more"));
    size_t i;
    json_t *ev;

    if (json_array_size(list) == 0) {
        return;
    }
    printf("Evidence:\n");
    json_array_foreach(list, i, ev)
    {
        json_t *r = json_object_get(ev, "rendering");
        const char *task = shown(r, "task");

        printf("  %-19.19s %s", shown(ev, "time"), shown(ev, "host"));
        if (json_object_get(ev, "event_id")) {
            printf(" %s %lld", shown(ev, "provider"),
                   (long long)json_integer_value(json_object_get(ev, "event_id")));
        } else {
            printf(" line %lld", (long long)json_integer_value(json_object_get(ev, "line")));
        }
        if (*shown(r, "level")) {
            printf(" (%s%s%s)", shown(r, "level"), *task ? ", " : "", task);
        }
        printf(": %s\n", shown(ev, "message"));
    }
    if (more > 0) {
        printf("  ... and %lld more: hvdiag query evidence %lld\n", (long long)more,
               (long long)json_integer_value(json_object_get(d, "id")));
    }
    printf("\n");
}

/* The table lines of incidents and diagnoses, from an answer's members or from rows the
 * query module hands over (struct table_rows): the same text either way. */
static void print_header(const char *what)
{
    if (strcmp(what, "incidents") == 0) {
        printf("%-5s %-9s %-19s %-19s %-20s %s\n", "ID", "SEVERITY", "FIRST (UTC)", "LAST (UTC)",
               "VM / HOST", "TITLE");
    } else {
        printf("%-6s %-9s %-19s %-19s %-24s %-12s %s\n", "ID", "SEVERITY", "FIRST (UTC)",
               "LAST (UTC)", "HOST", "VM", "TITLE");
    }
}

static void print_incident(long long id, const char *severity, const char *first, const char *last,
                           const char *subject, const char *title)
{
    printf("%-5lld %-9s %-19.19s %-19.19s %-20s %s\n", id, severity, first, last, subject, title);
}

static void print_diagnosis(long long id, const char *severity, const char *first, const char *last,
                            const char *host, const char *vm, const char *title)
{
    printf("%-6lld %-9s %-19.19s %-19.19s %-24s %-12s %s\n", id, severity, first, last, host, vm,
           title);
}

/*
 * Rows of an incidents or diagnoses listing read from the database, printed as the query
 * module hands them over instead of built into an answer and read back: the members the
 * table shows, cleaned as hvd_cli_clean_member() cleans them. O(row) each.
 */
struct table_rows {
    const char *what;
    int header; /* printed */
    size_t n;   /* rows of the current page */
    char *owned[5];
};

static const char *row_text(struct table_rows *t, int slot, const char *s, const char *key)
{
    return hvd_cli_clean_text(s, key, &t->owned[slot]);
}

static void row_done(struct table_rows *t)
{
    for (size_t i = 0; i < sizeof(t->owned) / sizeof(t->owned[0]); i++) {
        free(t->owned[i]);
        t->owned[i] = NULL;
    }
    t->n++;
}

/* A row's start: the header before the first row, its two times formatted. */
static void row_start(struct table_rows *t, int64_t first_time, int64_t last_time, char first[40],
                      char last[40])
{
    if (!t->header) {
        print_header(t->what);
        t->header = 1;
    }
    hvd_time_format(first_time, first, 40);
    hvd_time_format(last_time, last, 40);
}

static void table_incident(void *ud, const hvd_incident *in)
{
    struct table_rows *t = ud;
    char first[40];
    char last[40];

    row_start(t, in->first_time, in->last_time, first, last);
    print_incident((long long)in->id, row_text(t, 0, hvd_severity_name(in->severity), "severity"),
                   first, last, row_text(t, 1, in->subject, "subject"),
                   row_text(t, 2, in->title, "title"));
    row_done(t);
}

static void table_diagnosis(void *ud, const hvd_stored_diagnosis *d)
{
    struct table_rows *t = ud;
    char first[40];
    char last[40];

    row_start(t, d->first_time, d->last_time, first, last);
    print_diagnosis((long long)d->id, row_text(t, 0, hvd_severity_name(d->severity), "severity"),
                    first, last, row_text(t, 1, d->host, "host"),
                    row_text(t, 2, d->vm_name, "vm_name"), row_text(t, 3, d->title, "title"));
    row_done(t);
}

/* Prints one answer, or one page of a listing (header on the first). Makes what it prints
 * safe for a terminal, in res: the members a table shows, or all of an answer it dumps. */
static void print_table(const char *what, json_t *res, int first)
{
    size_t i;
    json_t *row;

    if (strcmp(what, "incidents") == 0) {
        if (first) {
            print_header(what);
        }
        json_array_foreach(json_object_get(res, "incidents"), i, row)
        {
            print_incident((long long)json_integer_value(json_object_get(row, "id")),
                           shown(row, "severity"), shown(row, "first_time"),
                           shown(row, "last_time"), shown(row, "subject"), shown(row, "title"));
        }
    } else if (strcmp(what, "diagnoses") == 0) {
        if (first) {
            print_header(what);
        }
        json_array_foreach(json_object_get(res, "diagnoses"), i, row)
        {
            print_diagnosis((long long)json_integer_value(json_object_get(row, "id")),
                            shown(row, "severity"), shown(row, "first_time"),
                            shown(row, "last_time"), shown(row, "host"), shown(row, "vm_name"),
                            shown(row, "title"));
        }
    } else if (strcmp(what, "incident") == 0) {
        json_array_foreach(json_object_get(res, "diagnoses"), i, row)
        {
            printf("%s%s [%s, %s]\n  host %s, %s .. %s, %lld event(s)\n\nWhy:\n%s\n\nWhat to "
                   "do:\n%s\n\n",
                   json_is_true(json_object_get(row, "root_cause")) ? "ROOT CAUSE: " : "",
                   shown(row, "title"), shown(row, "severity"), shown(row, "rule"),
                   shown(row, "host"), shown(row, "first_time"), shown(row, "last_time"),
                   (long long)json_integer_value(json_object_get(row, "count")),
                   shown(row, "cause"), shown(row, "remedy"));
            print_evidence(row);
        }
    } else if (strcmp(what, "evidence") == 0) {
        if (first) {
            printf("%-19s %-24s %-9s %s\n", "TIME (UTC)", "HOST", "RECORD", "MESSAGE");
        }
        json_array_foreach(json_object_get(res, "evidence"), i, row)
        {
            const json_t *at = json_object_get(row, "record_id");

            printf("%-19.19s %-24s %-9lld %s\n", shown(row, "time"), shown(row, "host"),
                   (long long)json_integer_value(at ? at : json_object_get(row, "line")),
                   shown(row, "message"));
        }
    } else if (strcmp(what, "sources") == 0) {
        json_array_foreach(json_object_get(res, "sources"), i, row)
        {
            printf("%-11s %8lld events %6lld skipped %s%s\n", shown(row, "kind"),
                   (long long)json_integer_value(json_object_get(row, "events")),
                   (long long)json_integer_value(json_object_get(row, "skipped")),
                   shown(row, "path"),
                   json_is_true(json_object_get(row, "quarantined")) ? " (quarantined)" : "");
        }
    } else if (strcmp(what, "rules") == 0) {
        json_array_foreach(json_object_get(res, "rules"), i, row)
        {
            printf("%-40s %-8s %s\n", shown(row, "id"), shown(row, "severity"),
                   shown(row, "title"));
        }
    } else {
        hvd_cli_clean_json(res);
        json_dumpf(res, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    }
}

static int severity_rank(const char *s)
{
    static const char *const names[] = {"info", "warning", "error", "critical"};

    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Does a followed diagnosis pass the --vm/--host/--rule/--severity filters in req? */
static int follow_wanted(const json_t *req, const json_t *dg)
{
    const char *vm = str(req, "vm");
    const char *host = str(req, "host");
    const char *rule = str(req, "rule");
    const char *sev = str(req, "severity");

    return (!*vm || strcasecmp(vm, str(dg, "vm_name")) == 0 ||
            strcasecmp(vm, str(dg, "vm_id")) == 0) &&
           (!*host || strncasecmp(host, str(dg, "host"), strlen(host)) == 0) &&
           (!*rule || strcmp(rule, str(dg, "rule")) == 0) &&
           (!*sev || severity_rank(str(dg, "severity")) >= severity_rank(sev));
}

/* Streams new diagnoses from the daemon; there is nothing to follow without one. */
static int follow(const char *path, const json_t *req, int json_out)
{
    struct sockaddr_un addr;
    char buf[1 << 16];
    size_t len = 0;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path) ||
        (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        hvd_cli_error("hvdiag query: %s: bad socket path", path);
        return HVD_EXIT_USAGE;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        write(fd, "{\"op\":\"follow\"}\n", 16) != 16) {
        hvd_cli_error("hvdiag query: follow needs a running hvdiagd: %s: %s", path,
                      strerror(errno));
        close(fd);
        return HVD_EXIT_USAGE;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        char *nl;
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        while ((nl = memchr(buf, '\n', len)) != NULL) {
            json_t *o = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
            const json_t *dg = json_object_get(o, "diagnosis");

            if (dg && strcmp(str(o, "event"), "diagnosis") == 0 && follow_wanted(req, dg)) {
                hvd_cli_clean_json(o);
                if (json_out) {
                    printf("%.*s\n", (int)(nl - buf), buf);
                } else {
                    printf("%-19.19s %-8s %-24s %-12s %s\n", str(dg, "last_time"),
                           str(dg, "severity"), str(dg, "host"), str(dg, "vm_name"),
                           str(dg, "title"));
                }
            }
            json_decref(o);
            len -= (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, len);
        }
        if (len == sizeof(buf)) {
            len = 0; /* a line longer than any the daemon sends: drop it */
        }
    }
    close(fd);
    hvd_cli_error("hvdiag query: the daemon closed the connection");
    return HVD_EXIT_OK;
}

/* Appends the rows of page under name to all (a JSON array member of it). */
static void merge_rows(json_t *all, const json_t *page, const char *name)
{
    json_t *rows = json_object_get(page, name);

    if (!json_is_array(rows)) {
        return;
    }
    if (!json_object_get(all, name)) {
        json_object_set_new(all, name, json_array());
    }
    json_array_extend(json_object_get(all, name), rows);
}

/*
 * Asks for a listing page by page until 'wanted' rows (0: all) came or the listing ends.
 * Prints each page as it comes, or with json_out one object with every row at the end.
 * Returns the exit status.
 */
static int run_listing(struct asker *a, const char *socket_path, const char *db, const char *what,
                       const char *rows_name, json_t *req, long long wanted, int json_out)
{
    json_t *all = json_pack("{s:b}", "ok", 1);
    const char *cursor = NULL;
    long long got = 0;
    int status = HVD_EXIT_USAGE;
    int first = 1;
    json_t *res = NULL;
    struct table_rows table = {.what = what};

    /* an incident's pages, or a diagnosis's evidence, say whose they are */
    if (json_object_get(req, "id")) {
        json_object_set(all, "id", json_object_get(req, "id"));
    } else if (json_object_get(req, "diagnosis")) {
        json_object_set(all, "diagnosis", json_object_get(req, "diagnosis"));
    }
    if (!json_out && (strcmp(what, "incidents") == 0 || strcmp(what, "diagnoses") == 0)) {
        a->table = &table;
    }
    for (;;) {
        long long want = wanted ? wanted - got : PAGE_ROWS;
        char *text;
        size_t rows;

        json_object_set_new(req, "limit", json_integer(want < PAGE_ROWS ? want : PAGE_ROWS));
        text = json_dumps(req, JSON_COMPACT);
        json_decref(res);
        table.n = 0;
        res = text ? ask(a, socket_path, db, text) : NULL;
        free(text);
        if (!res) {
            goto out;
        }
        if (!json_is_true(json_object_get(res, "ok"))) {
            if (json_out) {
                json_dumpf(res, stdout,
                           hvd_cli_json_flags(stdout, JSON_COMPACT | JSON_PRESERVE_ORDER));
                putchar('\n');
            } else {
                hvd_cli_error("hvdiag query: %s", str(json_object_get(res, "error"), "message"));
            }
            goto out;
        }
        /* rows the database handed to table_rows were printed as they came */
        rows = json_object_get(res, rows_name) ? json_array_size(json_object_get(res, rows_name))
                                               : table.n;
        got += (long long)rows;
        if (json_out) {
            merge_rows(all, res, rows_name);
            merge_rows(all, res, "files");
        } else if (!json_object_get(res, rows_name) && a->table) {
            if (!table.header) {
                print_header(what);
                table.header = 1;
            }
        } else {
            print_table(what, res, first);
        }
        first = 0;
        cursor = json_string_value(json_object_get(res, "next_cursor"));
        if (!cursor || (wanted && got >= wanted)) {
            break;
        }
        /* the cursor carries the position; an offset applied to the first page only */
        json_object_del(req, "offset");
        json_object_set_new(req, "cursor", json_string(cursor));
    }
    if (json_out) {
        if (!json_object_get(all, rows_name)) {
            json_object_set_new(all, rows_name, json_array());
        }
        if (cursor) {
            json_object_set_new(all, "next_cursor", json_string(cursor));
        }
        json_dumpf(all, stdout, hvd_cli_json_flags(stdout, JSON_COMPACT | JSON_PRESERVE_ORDER));
        putchar('\n');
    } else if (cursor) {
        char *owned;

        /* cleaned for the terminal only here: the pages asked for used it as it came */
        printf("(more: --cursor %s)\n", hvd_cli_clean_text(cursor, "next_cursor", &owned));
        free(owned);
    }
    status = HVD_EXIT_OK;
out:
    a->table = NULL;
    json_decref(res);
    json_decref(all);
    return status;
}

int hvd_cmd_query(int argc, char **argv)
{
    static const char *const with_value[] = {
        "--socket",   "--db",    "--limit", "--offset", "--vm",     "--host", "--rule",
        "--severity", "--since", "--until", "--vm-id",  "--cursor", NULL};
    const char *socket_path = NULL;
    const char *db = NULL;
    const char *what = "incidents";
    int json_out = 0;
    long long wanted = -1; /* -1: the default for the listing; 0: all */
    json_t *req = json_object();
    json_t *res = NULL;
    char *text = NULL;
    struct asker a = {.fd = -1};
    int status = HVD_EXIT_USAGE;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            json_decref(req);
            return HVD_EXIT_OK;
        } else if (strcmp(arg, "--json") == 0) {
            json_out = 1;
        } else if (strcmp(arg, "--all") == 0) {
            wanted = 0;
        } else if (arg[0] == '-' && !hvd_cli_is_one_of(arg, with_value)) {
            hvd_cli_error("hvdiag query: unknown option %s ('hvdiag query --help' lists them)",
                          arg);
            goto out;
        } else if (arg[0] == '-' && !v) {
            hvd_cli_error("hvdiag query: %s needs a value", arg);
            goto out;
        } else if (strcmp(arg, "--socket") == 0) {
            socket_path = argv[++i];
        } else if (strcmp(arg, "--db") == 0) {
            db = argv[++i];
        } else if (strcmp(arg, "--limit") == 0 || strcmp(arg, "--offset") == 0) {
            char *end;
            long long n = strtoll(argv[++i], &end, 10);

            if (*end || n < 0 || end == argv[i]) {
                hvd_cli_error("hvdiag query: %s needs a number", arg);
                goto out;
            }
            if (strcmp(arg, "--limit") == 0) {
                wanted = n;
            } else {
                json_object_set_new(req, "offset", json_integer(n));
            }
        } else if (strcmp(arg, "--vm") == 0 || strcmp(arg, "--host") == 0 ||
                   strcmp(arg, "--rule") == 0 || strcmp(arg, "--severity") == 0 ||
                   strcmp(arg, "--since") == 0 || strcmp(arg, "--until") == 0 ||
                   strcmp(arg, "--vm-id") == 0 || strcmp(arg, "--cursor") == 0) {
            json_object_set_new(req, strcmp(arg, "--vm-id") == 0 ? "vm_id" : arg + 2,
                                json_string(argv[++i]));
        } else if (strcmp(arg, "incident") == 0 && v) {
            char *end;
            long long id = strtoll(argv[++i], &end, 10);

            if (*end) {
                hvd_cli_error("hvdiag query: incident needs a number");
                goto out;
            }
            what = "incident";
            json_object_set_new(req, "id", json_integer(id));
        } else if (strcmp(arg, "evidence") == 0 && v) {
            char *end;
            long long id = strtoll(argv[++i], &end, 10);

            if (*end) {
                hvd_cli_error("hvdiag query: evidence needs a diagnosis number");
                goto out;
            }
            what = "evidence";
            json_object_set_new(req, "diagnosis", json_integer(id));
        } else if (strcmp(arg, "incidents") == 0 || strcmp(arg, "diagnoses") == 0 ||
                   strcmp(arg, "sources") == 0 || strcmp(arg, "rules") == 0 ||
                   strcmp(arg, "health") == 0 || strcmp(arg, "follow") == 0) {
            what = arg;
        } else {
            hvd_cli_error("hvdiag query: unknown question '%s'", arg);
            usage(stderr);
            goto out;
        }
    }
    if (*str(req, "since") && *str(req, "until")) {
        hvd_time since = 0;
        hvd_time until = 0;

        if (hvd_time_parse(str(req, "since"), &since) == 0 &&
            hvd_time_parse(str(req, "until"), &until) == 0 &&
            hvd_cli_check_range("hvdiag query", since, until) < 0) {
            goto out;
        }
    }
    if (strcmp(what, "follow") == 0) {
        if (json_object_get(req, "severity") && severity_rank(str(req, "severity")) < 0) {
            hvd_cli_error("hvdiag query: unknown severity '%s'", str(req, "severity"));
            goto out;
        }
        status = follow(socket_path ? socket_path : DEFAULT_SOCKET, req, json_out);
        goto out;
    }
    json_object_set_new(req, "op", json_string(what));
    a.want_rules = strcmp(what, "rules") == 0;
    if (strcmp(what, "incidents") == 0 || strcmp(what, "diagnoses") == 0 ||
        strcmp(what, "sources") == 0 || strcmp(what, "incident") == 0 ||
        strcmp(what, "evidence") == 0) {
        if (wanted < 0) {
            wanted = strcmp(what, "sources") == 0 ? 0 : 50;
        }
        status =
            run_listing(&a, socket_path, db, what,
                        strcmp(what, "incident") == 0 ? "diagnoses" : what, req, wanted, json_out);
        goto out;
    }
    text = json_dumps(req, JSON_COMPACT);
    res = text ? ask(&a, socket_path, db, text) : NULL;
    if (!res) {
        goto out;
    }
    if (json_out) {
        /* as the answer came: its members in order, compact */
        json_dumpf(res, stdout, hvd_cli_json_flags(stdout, JSON_COMPACT | JSON_PRESERVE_ORDER));
        putchar('\n');
    } else if (!json_is_true(json_object_get(res, "ok"))) {
        hvd_cli_error("hvdiag query: %s", str(json_object_get(res, "error"), "message"));
        goto out;
    } else {
        print_table(what, res, 1);
    }
    status = json_is_true(json_object_get(res, "ok")) ? HVD_EXIT_OK : HVD_EXIT_USAGE;
out:
    asker_close(&a);
    json_decref(req);
    json_decref(res);
    free(text);
    return status;
}
