/*
 * hvdiag query: past incidents. Asks hvdiagd over its socket when it answers; otherwise
 * reads the database itself, read-only, through the same query module, so the answer is
 * the same either way.
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

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: hvdiag query [incidents | incident ID | diagnoses | sources | rules | health |\n"
        "                     follow]\n"
        "                    [--vm NAME|ID] [--host H] [--rule R] [--severity S]\n"
        "                    [--since T] [--until T] [--limit N] [--offset N]\n"
        "                    [--socket PATH] [--db FILE] [--json]\n"
        "\n"
        "Asks hvdiagd at --socket (default %s). Without --socket, when no\n"
        "daemon answers, reads ./%s directly, read-only, and says so; with --socket,\n"
        "a silent daemon is an error. --db FILE reads FILE and asks no daemon.\n"
        "--json prints the raw response.\n"
        "follow prints each new diagnosis as the daemon makes it (--vm, --host, --rule,\n"
        "--severity select which; minimum severity), until the daemon stops or Ctrl-C.\n"
        "exit status: 0 answered, 2 usage errors or nothing to ask\n",
        DEFAULT_SOCKET, DEFAULT_DB);
}

/* Sends one request line and reads one response line; NULL when no daemon answers, with
 * the reason in *why (an errno value). */
static char *ask_socket(const char *path, const char *request, int *why)
{
    struct sockaddr_un addr;
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    int fd;

    *why = ENAMETOOLONG;
    if (strlen(path) >= sizeof(addr.sun_path)) {
        return NULL;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = errno;
        return NULL;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        write(fd, request, strlen(request)) != (ssize_t)strlen(request) ||
        write(fd, "\n", 1) != 1) {
        *why = errno;
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t n;

        if (cap - len < 4096) {
            char *grown;

            cap = cap ? cap * 2 : 65536;
            grown = cap <= MAX_RESPONSE ? realloc(buf, cap + 1) : NULL;
            if (!grown) {
                break;
            }
            buf = grown;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        if (memchr(buf + len - (size_t)n, '\n', (size_t)n)) {
            break;
        }
    }
    close(fd);
    if (!buf || len == 0) {
        *why = buf ? ECONNRESET : ENOMEM;
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static char *ask_database(const char *db, const char *request)
{
    hvd_store *st = NULL;
    hvd_ruleset *rs = NULL;
    hvd_query_context q = {0};
    hvd_error err;
    char *answer;
    char *copy;

    if (hvd_store_open(&st, db, HVD_STORE_READONLY, &err) < 0) {
        hvd_cli_error("hvdiag query: %s", err.msg);
        return NULL;
    }
    /* The rule set is only needed for "rules"; a broken one is not an error here. */
    hvd_ruleset_load(&rs, hvd_cli_default_rules(), NULL, NULL, &err);
    q.store = st;
    q.rules = rs;
    answer = hvd_query_handle(&q, request, strlen(request));
    copy = answer ? strdup(answer) : NULL;
    hvd_free(answer);
    hvd_ruleset_destroy(rs);
    hvd_store_close(st);
    return copy;
}

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "";
}

static void print_table(const char *what, const json_t *res)
{
    size_t i;
    const json_t *row;

    if (strcmp(what, "incidents") == 0) {
        printf("%-5s %-9s %-19s %-19s %-20s %s\n", "ID", "SEVERITY", "FIRST (UTC)", "LAST (UTC)",
               "VM / HOST", "TITLE");
        json_array_foreach(json_object_get(res, "incidents"), i, row)
        {
            printf("%-5lld %-9s %-19.19s %-19.19s %-20s %s\n",
                   (long long)json_integer_value(json_object_get(row, "id")), str(row, "severity"),
                   str(row, "first_time"), str(row, "last_time"), str(row, "subject"),
                   str(row, "title"));
        }
        if (json_object_get(res, "next_offset")) {
            printf("(more: --offset %lld)\n",
                   (long long)json_integer_value(json_object_get(res, "next_offset")));
        }
    } else if (strcmp(what, "diagnoses") == 0) {
        printf("%-6s %-9s %-19s %-19s %-24s %-12s %s\n", "ID", "SEVERITY", "FIRST (UTC)",
               "LAST (UTC)", "HOST", "VM", "TITLE");
        json_array_foreach(json_object_get(res, "diagnoses"), i, row)
        {
            printf("%-6lld %-9s %-19.19s %-19.19s %-24s %-12s %s\n",
                   (long long)json_integer_value(json_object_get(row, "id")), str(row, "severity"),
                   str(row, "first_time"), str(row, "last_time"), str(row, "host"),
                   str(row, "vm_name"), str(row, "title"));
        }
        if (json_object_get(res, "next_offset")) {
            printf("(more: --offset %lld)\n",
                   (long long)json_integer_value(json_object_get(res, "next_offset")));
        }
    } else if (strcmp(what, "incident") == 0) {
        json_array_foreach(json_object_get(res, "diagnoses"), i, row)
        {
            printf("%s%s [%s, %s]\n  host %s, %s .. %s, %lld event(s)\n\nWhy:\n%s\n\nWhat to "
                   "do:\n%s\n\n",
                   json_is_true(json_object_get(row, "root_cause")) ? "ROOT CAUSE: " : "",
                   str(row, "title"), str(row, "severity"), str(row, "rule"), str(row, "host"),
                   str(row, "first_time"), str(row, "last_time"),
                   (long long)json_integer_value(json_object_get(row, "count")), str(row, "cause"),
                   str(row, "remedy"));
        }
    } else if (strcmp(what, "sources") == 0) {
        json_array_foreach(json_object_get(res, "sources"), i, row)
        {
            printf("%-11s %8lld events %6lld skipped %s%s\n", str(row, "kind"),
                   (long long)json_integer_value(json_object_get(row, "events")),
                   (long long)json_integer_value(json_object_get(row, "skipped")), str(row, "path"),
                   json_is_true(json_object_get(row, "quarantined"))   ? " (quarantined)"
                   : json_is_true(json_object_get(row, "all_repeats")) ? " (all repeats)"
                                                                       : "");
        }
    } else if (strcmp(what, "rules") == 0) {
        json_array_foreach(json_object_get(res, "rules"), i, row)
        {
            printf("%-40s %-8s %s\n", str(row, "id"), str(row, "severity"), str(row, "title"));
        }
    } else {
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

int hvd_cmd_query(int argc, char **argv)
{
    static const char *const with_value[] = {"--socket", "--db",    "--limit", "--offset",
                                             "--vm",     "--host",  "--rule",  "--severity",
                                             "--since",  "--until", "--vm-id", NULL};
    const char *socket_path = NULL;
    const char *db = NULL;
    const char *what = "incidents";
    int json_out = 0;
    int why = 0;
    json_t *req = json_object();
    json_t *res = NULL;
    char *text = NULL;
    char *answer = NULL;
    int status = HVD_EXIT_USAGE;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            json_decref(req);
            return HVD_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json_out = 1;
        } else if (a[0] == '-' && !hvd_cli_is_one_of(a, with_value)) {
            hvd_cli_error("hvdiag query: unknown option %s ('hvdiag query --help' lists them)", a);
            goto out;
        } else if (a[0] == '-' && !v) {
            hvd_cli_error("hvdiag query: %s needs a value", a);
            goto out;
        } else if (strcmp(a, "--socket") == 0) {
            socket_path = argv[++i];
        } else if (strcmp(a, "--db") == 0) {
            db = argv[++i];
        } else if (strcmp(a, "--limit") == 0 || strcmp(a, "--offset") == 0) {
            char *end;
            long long n = strtoll(argv[++i], &end, 10);

            if (*end || n < 0) {
                hvd_cli_error("hvdiag query: %s needs a number", a);
                goto out;
            }
            json_object_set_new(req, a + 2, json_integer(n));
        } else if (strcmp(a, "--vm") == 0 || strcmp(a, "--host") == 0 || strcmp(a, "--rule") == 0 ||
                   strcmp(a, "--severity") == 0 || strcmp(a, "--since") == 0 ||
                   strcmp(a, "--until") == 0 || strcmp(a, "--vm-id") == 0) {
            json_object_set_new(req, strcmp(a, "--vm-id") == 0 ? "vm_id" : a + 2,
                                json_string(argv[++i]));
        } else if (strcmp(a, "incident") == 0 && v) {
            char *end;
            long long id = strtoll(argv[++i], &end, 10);

            if (*end) {
                hvd_cli_error("hvdiag query: incident needs a number");
                goto out;
            }
            what = "incident";
            json_object_set_new(req, "id", json_integer(id));
        } else if (strcmp(a, "incidents") == 0 || strcmp(a, "diagnoses") == 0 ||
                   strcmp(a, "sources") == 0 || strcmp(a, "rules") == 0 ||
                   strcmp(a, "health") == 0 || strcmp(a, "follow") == 0) {
            what = a;
        } else {
            hvd_cli_error("hvdiag query: unknown question '%s'", a);
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
    text = json_dumps(req, JSON_COMPACT);
    if (!text) {
        goto out;
    }
    /* An explicit --db means the database, not the daemon; an explicit --socket means the
     * daemon, never a database; with neither, the database stands in for a silent daemon. */
    if (db) {
        answer = ask_database(db, text);
    } else if (socket_path) {
        answer = ask_socket(socket_path, text, &why);
        if (!answer) {
            hvd_cli_error("hvdiag query: no daemon answers at %s: %s", socket_path, strerror(why));
        }
    } else {
        answer = ask_socket(DEFAULT_SOCKET, text, &why);
        if (!answer) {
            hvd_cli_error("hvdiag query: no daemon answers at %s (%s); reading ./%s",
                          DEFAULT_SOCKET, strerror(why), DEFAULT_DB);
            answer = ask_database(DEFAULT_DB, text);
        }
    }
    if (!answer) {
        goto out;
    }
    res = json_loads(answer, 0, NULL);
    if (!res) {
        hvd_cli_error("hvdiag query: the answer is not JSON");
        goto out;
    }
    if (json_out && isatty(1)) {
        json_dumpf(res, stdout, hvd_cli_json_flags(stdout, JSON_COMPACT | JSON_PRESERVE_ORDER));
        putchar('\n');
    } else if (json_out) {
        printf("%s\n", answer);
    } else if (!json_is_true(json_object_get(res, "ok"))) {
        hvd_cli_error("hvdiag query: %s", str(json_object_get(res, "error"), "message"));
        goto out;
    } else {
        hvd_cli_clean_json(res);
        print_table(what, res);
    }
    status = json_is_true(json_object_get(res, "ok")) ? HVD_EXIT_OK : HVD_EXIT_USAGE;
out:
    json_decref(req);
    json_decref(res);
    free(text);
    free(answer);
    return status;
}
