/* config: hvdiagd's INI file, its values, defaults and errors with file:line. */
#include "alloc.h"
#include "config.h"
#include "testutil.h"

#include <check.h>
#include <inttypes.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct logged {
    int n;
    char first[512];
    char all[4096];
};

static void capture(void *ud, int level, const char *msg)
{
    struct logged *l = ud;
    size_t used = strlen(l->all);

    ck_assert_int_eq(level, HVD_LOG_ERR);
    if (l->n++ == 0) {
        snprintf(l->first, sizeof(l->first), "%s", msg);
    }
    snprintf(l->all + used, sizeof(l->all) - used, "%s\n", msg);
}

/* Parses text that must be rejected; returns what was logged. */
static struct logged reject(const char *text)
{
    struct logged l;
    hvd_logger log = {capture, &l, HVD_LOG_DEBUG};
    hvd_config *c = NULL;
    hvd_error err;

    memset(&l, 0, sizeof(l));
    hvd_error_clear(&err);
    ck_assert_int_eq(hvd_config_parse_string(&c, text, "t.conf", &log, &err), HVD_ECONFIG);
    ck_assert_ptr_null(c);
    ck_assert_int_ge(l.n, 1);
    ck_assert_str_eq(err.msg, l.first);
    return l;
}

/* A configuration text and the start of the message it must be refused with. */
struct bad_case {
    const char *text;
    const char *msg;
};

/* Each of the n texts is refused, its first message being the case's (whole) or starting
 * with it. */
static void reject_all(const struct bad_case *cases, size_t n, int whole)
{
    for (size_t i = 0; i < n; i++) {
        struct logged l = reject(cases[i].text);
        size_t len = whole ? sizeof(l.first) : strlen(cases[i].msg);

        ck_assert_msg(strncmp(l.first, cases[i].msg, len) == 0, "case %zu (%s): got '%s'", i,
                      cases[i].text, l.first);
    }
}

static hvd_config *accept_text(const char *text)
{
    hvd_config *c = NULL;
    hvd_error err;

    hvd_error_clear(&err);
    if (hvd_config_parse_string(&c, text, "t.conf", NULL, &err) < 0) {
        ck_abort_msg("rejected: %s", err.msg);
    }
    return c;
}

START_TEST(config_empty_gives_defaults)
{
    hvd_config *c = accept_text("");

    ck_assert_str_eq(c->database, "/var/lib/hvdiag/hvdiag.db");
    ck_assert_str_eq(c->socket, "/run/hvdiag/hvdiag.sock");
    ck_assert_ptr_nonnull(strstr(c->rules, "hvdiag/rules"));
    ck_assert_uint_eq(c->socket_mode, 0660);
    ck_assert_int_eq(c->log_level, HVD_LOG_INFO);
    ck_assert_uint_eq(c->rescan_ms, 30000);
    ck_assert_uint_eq(c->settle_ms, 2000);
    ck_assert_uint_eq(c->file_timeout_ms, 300000);
    ck_assert_uint_eq(c->workers, 1);
    ck_assert_uint_eq(c->worker_memory_limit, 1ull << 30);
    ck_assert_uint_eq(c->worker_cpu_ms, 0);
    ck_assert_uint_eq(c->worker_max_files, 1000);
    ck_assert_uint_eq(c->worker_max_rss, 512ull << 20);
    ck_assert_uint_eq(c->nwatches, 0);
    hvd_config_destroy(c);
}
END_TEST

START_TEST(config_full_file_is_read)
{
    hvd_config *c = accept_text("; comment\n"
                                "# another\n"
                                "[daemon]\n"
                                "database = /var/tmp/x.db\n"
                                "rules = /etc/hvdiag/rules\n"
                                "socket = /run/x.sock\n"
                                "socket_mode = 0600\n"
                                "log_level = debug\n"
                                "rescan_interval = 250ms\n"
                                "settle_time = 0\n"
                                "file_timeout = 5m\n"
                                "workers = 4\n"
                                "\n"
                                "[watch exports]\n"
                                "path = /srv/exports\n"
                                "pattern = *.evtx  *_cluster.log\n"
                                "pattern = *.txt\n"
                                "kind = evtx\n"
                                "recursive = yes\n"
                                "host = HV-NODE01\n"
                                "[watch   logs ]\n"
                                "path=/srv/logs\n"
                                "kind = clusterlog ; inline comment\n");

    ck_assert_str_eq(c->database, "/var/tmp/x.db");
    ck_assert_str_eq(c->rules, "/etc/hvdiag/rules");
    ck_assert_str_eq(c->socket, "/run/x.sock");
    ck_assert_uint_eq(c->socket_mode, 0600);
    ck_assert_int_eq(c->log_level, HVD_LOG_DEBUG);
    ck_assert_uint_eq(c->rescan_ms, 250);
    ck_assert_uint_eq(c->settle_ms, 0);
    ck_assert_uint_eq(c->file_timeout_ms, 300000);
    ck_assert_uint_eq(c->workers, 4);
    ck_assert_uint_eq(c->nwatches, 2);
    ck_assert_str_eq(c->watches[0].name, "exports");
    ck_assert_str_eq(c->watches[0].path, "/srv/exports");
    ck_assert_uint_eq(c->watches[0].npatterns, 3);
    ck_assert_str_eq(c->watches[0].patterns[0], "*.evtx");
    ck_assert_str_eq(c->watches[0].patterns[1], "*_cluster.log");
    ck_assert_str_eq(c->watches[0].patterns[2], "*.txt");
    ck_assert_int_eq(c->watches[0].kind, HVD_SOURCE_EVTX);
    ck_assert_int_eq(c->watches[0].recursive, 1);
    ck_assert_str_eq(c->watches[0].host, "HV-NODE01");
    ck_assert_uint_eq(c->watches[0].line, 14);
    ck_assert_str_eq(c->watches[1].name, "logs");
    ck_assert_str_eq(c->watches[1].path, "/srv/logs");
    ck_assert_int_eq(c->watches[1].kind, HVD_SOURCE_CLUSTERLOG);
    ck_assert_int_eq(c->watches[1].recursive, 0);
    ck_assert_ptr_null(c->watches[1].host);
    /* default patterns */
    ck_assert_uint_eq(c->watches[1].npatterns, 2);
    ck_assert_str_eq(c->watches[1].patterns[0], "*.evtx");
    hvd_config_destroy(c);
}
END_TEST

START_TEST(config_crlf_and_bom_are_accepted)
{
    hvd_config *c =
        accept_text("\xEF\xBB\xBF[daemon]\r\nworkers = 3\r\n[watch a]\r\npath = /a\r\n");

    ck_assert_uint_eq(c->workers, 3);
    ck_assert_str_eq(c->watches[0].path, "/a");
    hvd_config_destroy(c);
}
END_TEST

START_TEST(config_errors_name_file_and_line)
{
    static const struct bad_case cases[] = {
        {"[daemon]\nworkers = 2\nworkerz = 3\n", "t.conf:3: unknown key 'workerz' in [daemon]"},
        {"[daemon]\n\n[deamon]\nworkers = 1\n",
         "t.conf:3: unknown section [deamon] (expected [daemon], [outputs] or [watch NAME])"},
        {"[watch a]\npath = /a\ncolour = red\n", "t.conf:3: unknown key 'colour' in [watch a]"},
        {"workers = 1\n", "t.conf:1: 'workers' is outside any section"},
        {"[daemon]\nthis line has no equals sign\n",
         "t.conf:2: syntax error (expected [section] or key = value)"},
        {"[daemon]\nworkers = 1\nworkers = 2\n", "t.conf:3: 'workers' is set twice in [daemon]"},
        {"[watch a]\npath = /a\n[watch a]\npath = /b\n", "t.conf:3: [watch a] appears twice"},
        {"[daemon]\n[watch a]\nkind = evtx\n", "t.conf:2: [watch a] has no path"},
        {"[watch]\npath = /a\n", "t.conf:1: [watch] needs a name: [watch NAME]"},
    };

    reject_all(cases, sizeof(cases) / sizeof(cases[0]), 1);
}
END_TEST

START_TEST(config_bad_values_are_refused)
{
    static const struct bad_case cases[] = {
        {"[daemon]\nsocket_mode = 0999\n", "t.conf:2: socket_mode: '0999' is not an octal mode"},
        {"[daemon]\nsocket_mode = 1777\n", "t.conf:2: socket_mode: '1777' is not an octal mode"},
        {"[daemon]\nworkers = 0\n", "t.conf:2: workers: '0' is not a number from 1 to 64"},
        {"[daemon]\nworkers = 65\n", "t.conf:2: workers: '65' is not a number from 1 to 64"},
        {"[daemon]\nworkers = -1\n", "t.conf:2: workers: '-1' is not a number"},
        {"[daemon]\nworkers = 2x\n", "t.conf:2: workers: '2x' is not a number"},
        {"[daemon]\nlog_level = loud\n", "t.conf:2: log_level: 'loud' is not error"},
        {"[daemon]\nrescan_interval = 5x\n", "t.conf:2: rescan_interval: '5x' is not a duration"},
        {"[daemon]\nrescan_interval = 10ms\n", "t.conf:2: rescan_interval: 10ms is out of range"},
        {"[daemon]\nfile_timeout = -5\n", "t.conf:2: file_timeout: '-5' is not a duration"},
        {"[daemon]\nsocket = relative.sock\n", "t.conf:2: socket: 'relative.sock' is not an"},
        {"[daemon]\ndatabase =\n", "t.conf:2: database: empty value"},
        {"[daemon]\nworker_memory_limit = 1X\n",
         "t.conf:2: worker_memory_limit: '1X' is not a size"},
        {"[daemon]\nworker_memory_limit = 10M\n",
         "t.conf:2: worker_memory_limit: 10M is out of range (0 for none, or 64M to 1024G)"},
        {"[daemon]\nworker_max_rss = -1\n", "t.conf:2: worker_max_rss: '-1' is not a size"},
        {"[daemon]\nworker_cpu_limit = 500ms\n", "t.conf:2: worker_cpu_limit: '500ms' is not 0"},
        {"[daemon]\nworker_max_files = many\n", "t.conf:2: worker_max_files: 'many' is not a"},
        {"[watch a]\npath = srv\n", "t.conf:2: path: 'srv' is not an absolute path"},
        {"[watch a]\npath = /a\nkind = xml\n", "t.conf:3: kind: 'xml' is not evtx"},
        {"[watch a]\npath = /a\nrecursive = maybe\n", "t.conf:3: recursive: 'maybe' is not yes"},
    };

    reject_all(cases, sizeof(cases) / sizeof(cases[0]), 0);
}
END_TEST

START_TEST(config_every_error_is_logged)
{
    struct logged l = reject("[daemon]\n"
                             "workers = 0\n"
                             "bogus = 1\n"
                             "[nope]\n"
                             "[watch x]\n"
                             "kind = foo\n");

    ck_assert_int_eq(l.n, 5);
    ck_assert_ptr_nonnull(strstr(l.all, "t.conf:2: workers"));
    ck_assert_ptr_nonnull(strstr(l.all, "t.conf:3: unknown key 'bogus'"));
    ck_assert_ptr_nonnull(strstr(l.all, "t.conf:4: unknown section [nope]"));
    ck_assert_ptr_nonnull(strstr(l.all, "t.conf:6: kind: 'foo'"));
    ck_assert_ptr_nonnull(strstr(l.all, "t.conf:5: [watch x] has no path"));
}
END_TEST

START_TEST(config_long_line_is_an_error_at_its_line)
{
    char text[600];
    struct logged l;
    int n = snprintf(text, sizeof(text), "[watch a]\npath = /");

    memset(text + n, 'a', 300);
    memcpy(text + n + 300, "\nkind = evtx\n", sizeof("\nkind = evtx\n"));
    l = reject(text);
    ck_assert_str_eq(l.first, "t.conf:2: line longer than 199 bytes");
    /* the rest of the file is read as usual: no second error for line 3 */
    ck_assert_int_eq(l.n, 2); /* and the watch has no path */
}
END_TEST

START_TEST(config_file_is_loaded_and_missing_file_named)
{
    char *dir = hvd_test_tmpdir();
    char *path = hvd_test_path(dir, "hvdiag.conf");
    const char text[] = "[daemon]\nworkers = 7\n[watch w]\npath = /w\nbad = 1\n";
    hvd_config *c = NULL;
    hvd_error err;
    char want[600];

    ck_assert_int_eq(hvd_test_write_file(path, "[daemon]\nworkers = 7\n", 21), 0);
    ck_assert_int_eq(hvd_config_load(&c, path, NULL, &err), HVD_OK);
    ck_assert_uint_eq(c->workers, 7);
    ck_assert_str_eq(c->file, path);
    hvd_config_destroy(c);

    ck_assert_int_eq(hvd_test_write_file(path, text, sizeof(text) - 1), 0);
    ck_assert_int_eq(hvd_config_load(&c, path, NULL, &err), HVD_ECONFIG);
    snprintf(want, sizeof(want), "%s:5: unknown key 'bad' in [watch w]", path);
    ck_assert_str_eq(err.msg, want);
    ck_assert_uint_eq(err.line, 5);

    ck_assert_int_eq(hvd_test_write_file(path, "[daemon]\n\0workers = 1\n", 22), 0);
    ck_assert_int_eq(hvd_config_load(&c, path, NULL, &err), HVD_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "NUL byte"));

    remove(path);
    ck_assert_int_eq(hvd_config_load(&c, path, NULL, &err), HVD_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
    hvd_test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* A text for a parser of numbers with units, and what it gives (REFUSED: an error). */
#define REFUSED UINT64_MAX
struct parsed {
    const char *text;
    uint64_t value;
};

/* parse gives each case's value, or refuses it with -1. */
static void check_parser(int (*parse)(const char *, uint64_t *), const struct parsed *cases,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        int rc = parse(cases[i].text, &v);

        if (cases[i].value == REFUSED) {
            ck_assert_msg(rc == -1, "'%s' is taken as %" PRIu64, cases[i].text, v);
        } else {
            ck_assert_msg(rc == 0 && v == cases[i].value, "'%s': %d, %" PRIu64, cases[i].text, rc,
                          v);
        }
    }
}

START_TEST(config_durations_parse)
{
    static const struct parsed cases[] = {
        {"250ms", 250},
        {"30", 30000},
        {"30s", 30000},
        {"2m", 120000},
        {"1h", 3600000},
        {"", REFUSED},
        {"s", REFUSED},
        {"1 s", REFUSED},
        {"1d", REFUSED},
        {"99999999999999999999", REFUSED},
        {"9999999999999999h", REFUSED},
    };

    check_parser(hvd_config_parse_duration, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(config_sizes_parse)
{
    static const struct parsed cases[] = {
        {"0", 0},
        {"4096", 4096},
        {"512K", 512ull << 10},
        {"256M", 256ull << 20},
        {"1GiB", 1ull << 30},
        {"2TB", 2ull << 40},
        {"", REFUSED},
        {"M", REFUSED},
        {"1 G", REFUSED},
        {"1P", REFUSED},
        {"1Gx", REFUSED},
        {"-1", REFUSED},
        {"99999999999T", REFUSED},
    };

    check_parser(hvd_config_parse_size, cases, sizeof(cases) / sizeof(cases[0]));
}
END_TEST

START_TEST(config_describe_round_trips)
{
    hvd_config *c = accept_text("[daemon]\nworkers = 3\nsettle_time = 1500ms\n"
                                "worker_memory_limit = 768M\nworker_cpu_limit = 90s\n"
                                "worker_max_files = 0\nworker_max_rss = 3000K\n"
                                "[watch a]\npath = /a\npattern = *.evtx x*\nhost = H1\n");
    hvd_config *again = NULL;
    char *text = hvd_config_describe(c);
    hvd_error err;

    ck_assert_ptr_nonnull(strstr(text, "workers = 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "settle_time = 1500ms\n"));
    ck_assert_ptr_nonnull(strstr(text, "[watch a]\npath = /a\npattern = *.evtx x*\n"));
    ck_assert_ptr_nonnull(strstr(text, "host = H1\n"));
    /* the summary is itself a valid configuration with the same values */
    ck_assert_int_eq(hvd_config_parse_string(&again, text, "summary", NULL, &err), HVD_OK);
    ck_assert_uint_eq(again->workers, 3);
    ck_assert_uint_eq(again->settle_ms, 1500);
    ck_assert_uint_eq(again->worker_memory_limit, 768ull << 20);
    ck_assert_uint_eq(again->worker_cpu_ms, 90000);
    ck_assert_uint_eq(again->worker_max_files, 0);
    ck_assert_uint_eq(again->worker_max_rss, 3000ull << 10);
    ck_assert_uint_eq(again->watches[0].npatterns, 2);
    ck_assert_str_eq(again->watches[0].host, "H1");
    hvd_config_destroy(again);
    hvd_free(text);
    hvd_config_destroy(c);
}
END_TEST

START_TEST(config_survives_every_allocation_failure)
{
    const char *text = "[daemon]\ndatabase = /x.db\n[watch a]\npath = /a\npattern = a b c\n"
                       "host = h\n[watch b]\npath = /b\n";
    unsigned long n;

    for (n = 1; n < 200; n++) {
        hvd_config *c = NULL;
        hvd_error err;
        int rc;

        hvd_alloc_fail_after(n);
        rc = hvd_config_parse_string(&c, text, "t.conf", NULL, &err);
        hvd_alloc_fail_after(0);
        if (rc == HVD_OK) {
            ck_assert_uint_eq(c->nwatches, 2);
            hvd_config_destroy(c);
            break;
        }
        ck_assert_ptr_null(c);
    }
    ck_assert_uint_lt(n, 200);
}
END_TEST

START_TEST(config_indented_lines_follow_inih)
{
    struct logged l;
    hvd_config *c;

    /* The finding: an indented [watch b] continues 'pattern' in inih, so it is no section. */
    l = reject("[daemon]\nrules = /usr/share/hvdiag/rules\n[watch a]\npath = /a\n"
               "pattern = *.evtx\n  [watch b]\npath = /b\n");
    ck_assert_str_eq(l.first, "t.conf:6: '[watch b]' is indented, so it continues 'pattern' "
                              "from line 5 instead of starting a section: remove the indentation");
    /* Continuing another key is refused at its line. */
    l = reject("[watch a]\npath = /a\n  /more\n");
    ck_assert_str_eq(l.first, "t.conf:3: indented line continues 'path' from line 2; only "
                              "pattern may go on over several lines");
    l = reject("[daemon]\nworkers = 2\n\t3\n");
    ck_assert_ptr_nonnull(strstr(l.first, "t.conf:3: indented line continues 'workers'"));
    /* pattern may go on over indented lines; an indented header right after a section
     * header (no key yet) is a header, as in inih. */
    l = reject("[watch a]\npath = /a\npattern = *.evtx\n   *.log  ; comment\n"
               "  [watch b]\npath = /b\n");
    ck_assert_ptr_nonnull(strstr(l.first, "t.conf:5: '[watch b]' is indented"));
    l = reject("[watch a-very-long-name-of-more-than-forty-nine-bytes-so-inih-cuts-it]\n");
    ck_assert_str_eq(l.first, "t.conf:1: section name longer than 49 bytes");
    c = accept_text("[daemon]\n  [watch b]\npath = /b\n");
    ck_assert_uint_eq(c->nwatches, 1);
    ck_assert_str_eq(c->watches[0].path, "/b");
    hvd_config_destroy(c);
    c = accept_text("[watch a]\npath = /a\npattern = *.evtx\n   *.log\n");
    ck_assert_uint_eq(c->watches[0].npatterns, 2);
    ck_assert_str_eq(c->watches[0].patterns[1], "*.log");
    hvd_config_destroy(c);
}
END_TEST

/* Sections inih reports keys under, for the comparison below. */
struct inih_seen {
    char sections[64][64];
    size_t n;
};

static int inih_record(void *user, const char *section, const char *name, const char *value)
{
    struct inih_seen *s = user;

    (void)name;
    (void)value;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->sections[i], section) == 0) {
            return 1;
        }
    }
    if (s->n < 64) {
        snprintf(s->sections[s->n++], sizeof(s->sections[0]), "%s", section);
    }
    return 1;
}

/* The trimmed form of an inih section name, as config.c names a watch. */
static void trim(const char *in, char *out, size_t cap)
{
    size_t n;

    while (*in == ' ' || *in == '\t') {
        in++;
    }
    snprintf(out, cap, "%s", in);
    n = strlen(out);
    while (n && (out[n - 1] == ' ' || out[n - 1] == '\t')) {
        out[--n] = '\0';
    }
}

/* Random files from lines that stress the INI grammar: config.c's view of every line never
 * disagrees with inih's (the handler would report it), and an accepted file has a watch for
 * every [watch ...] section inih put a key in. */
START_TEST(config_agrees_with_inih_on_generated_files)
{
    static const char *const lines[] = {
        "[daemon]",
        "  [daemon]",
        "[watch a]",
        "\t[watch b]",
        "[watch c ; x]",
        "[watch d",
        "[ watch  e ]",
        "path = /p",
        "  path = /q",
        "path: /r",
        "pattern = *.evtx",
        "   *.log",
        "  [watch f]",
        "kind = evtx",
        "kind: clusterlog ; c",
        "; comment",
        "# c",
        "",
        "   ",
        "workers = 2",
        "  ; indented comment",
        " = novalue",
        "novalue",
        "host = h ; c",
        "recursive=yes",
        "\t\t[watch g]  ",
        "[watch h]] x",
        "[]",
        "pattern=",
        "[watch a-very-long-name-of-more-than-forty-nine-bytes-so-inih-cuts-it]",
    };
    const size_t nlines = sizeof(lines) / sizeof(lines[0]);
    uint32_t seed = 77;

    for (int round = 0; round < 3000; round++) {
        char text[4096];
        size_t len = 0;
        int count = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 14;
        struct logged l;
        hvd_logger log = {capture, &l, HVD_LOG_DEBUG};
        struct inih_seen seen = {.n = 0};
        hvd_config *c = NULL;
        hvd_error err;

        for (int i = 0; i < count; i++) {
            const char *line = lines[((seed = seed * 1103515245u + 12345u) >> 16) % nlines];
            const char *eol = ((seed >> 20) & 3) == 0 ? "\r\n" : "\n";

            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", line, eol);
        }
        memset(&l, 0, sizeof(l));
        if (hvd_config_parse_string(&c, text, "t.conf", &log, &err) == HVD_OK) {
            ck_assert_int_eq(ini_parse_string(text, inih_record, &seen), 0);
            for (size_t i = 0; i < seen.n; i++) {
                char name[64];
                int found = strcmp(seen.sections[i], "daemon") == 0;

                trim(seen.sections[i], name, sizeof(name));
                for (size_t w = 0; !found && w < c->nwatches; w++) {
                    char want[80];

                    snprintf(want, sizeof(want), "watch %s", c->watches[w].name);
                    found = strncmp(want, name, 5) == 0 &&
                            strcmp(name + 5 + strspn(name + 5, " \t"), c->watches[w].name) == 0;
                }
                ck_assert_msg(found, "inih section [%s] not in the config:\n%s", seen.sections[i],
                              text);
            }
            hvd_config_destroy(c);
        } else {
            ck_assert_msg(strstr(l.all, "cannot tell which section") == NULL, "%s\n%s", l.all,
                          text);
        }
    }
}
END_TEST

START_TEST(config_client_limits_parse)
{
    static const struct bad_case bad[] = {
        {"[daemon]\nmax_clients = 0\n", "t.conf:2: max_clients: '0' is not a number from 1"},
        {"[daemon]\nmax_clients_per_uid = 70000\n", "t.conf:2: max_clients_per_uid: '70000'"},
        {"[daemon]\nclient_idle_timeout = 1ms\n", "t.conf:2: client_idle_timeout: 1ms is out"},
        {"[daemon]\nclient_queue_limit = 12q\n", "t.conf:2: client_queue_limit: '12q' is not a"},
        {"[daemon]\nclient_queue_limit = 1k\n", "t.conf:2: client_queue_limit: 1k is out of"},
        {"[daemon]\nclient_queue_limit = k\n", "t.conf:2: client_queue_limit: 'k' is not a"},
        {"[daemon]\nclient_output_budget = 99999999999G\n", "t.conf:2: client_output_budget:"},
        {"[daemon]\nclient_output_budget = 32X\n", "t.conf:2: client_output_budget: '32X'"},
    };
    hvd_config *c = accept_text("");

    ck_assert_uint_eq(c->max_clients, 1024);
    ck_assert_uint_eq(c->max_clients_per_uid, 64);
    ck_assert_uint_eq(c->client_idle_ms, 300000);
    ck_assert_uint_eq(c->client_queue_limit, 256 * 1024);
    ck_assert_uint_eq(c->client_output_budget, 32 * 1024 * 1024);
    hvd_config_destroy(c);
    c = accept_text("[daemon]\nmax_clients = 10\nmax_clients_per_uid = 2\n"
                    "client_idle_timeout = 90s\nclient_queue_limit = 64k\n"
                    "client_output_budget = 1G\n");
    ck_assert_uint_eq(c->max_clients, 10);
    ck_assert_uint_eq(c->max_clients_per_uid, 2);
    ck_assert_uint_eq(c->client_idle_ms, 90000);
    ck_assert_uint_eq(c->client_queue_limit, 65536);
    ck_assert_uint_eq(c->client_output_budget, 1024ull * 1024 * 1024);
    hvd_config_destroy(c);
    c = accept_text("[daemon]\nclient_queue_limit = 5000\n");
    ck_assert_uint_eq(c->client_queue_limit, 5000);
    hvd_config_destroy(c);
    reject_all(bad, sizeof(bad) / sizeof(bad[0]), 0);
}
END_TEST

START_TEST(config_metrics_and_syslog_keys_parse)
{
    static const struct bad_case bad[] = {
        {"[daemon]\nmetrics_listen = localhost:9464\n",
         "t.conf:2: metrics_listen: 'localhost:9464'"},
        {"[daemon]\nmetrics_listen = 127.0.0.1:0\n", "t.conf:2: metrics_listen: '127.0.0.1:0'"},
        {"[daemon]\nmetrics_listen = 127.0.0.1:70000\n", "t.conf:2: metrics_listen:"},
        {"[daemon]\nmetrics_listen = 1.2.3:80\n", "t.conf:2: metrics_listen: '1.2.3:80'"},
        {"[daemon]\nmetrics_listen = ::1:9464\n", "t.conf:2: metrics_listen: '::1:9464'"},
        {"[daemon]\nmetrics_listen = [::1]9464\n", "t.conf:2: metrics_listen: '[::1]9464'"},
        {"[daemon]\nmetrics_textfile = hvdiag.prom\n", "t.conf:2: metrics_textfile: 'hvdiag.prom'"},
        {"[daemon]\nmetrics_textfile = /var/lib/hvdiag.txt\n", "t.conf:2: metrics_textfile:"},
        {"[daemon]\nmetrics_textfile = /var/lib/.prom\n", "t.conf:2: metrics_textfile:"},
        {"[outputs]\n\nsyslog_target = udp://127.0.0.1\n",
         "t.conf:3: syslog_target: 'udp://127.0.0.1' has no :PORT"},
        {"[outputs]\nsyslog_target = http://x:1\n", "t.conf:2: syslog_target: 'http://x:1' is not"},
        {"[outputs]\nsyslog_target = unix:dev/log\n", "t.conf:2: syslog_target: 'unix:dev/log'"},
        {"[outputs]\nsyslog_facility = local9\n", "t.conf:2: syslog_facility: 'local9' is not"},
        {"[outputs]\nsyslog_facility = 24\n", "t.conf:2: syslog_facility: '24' is not"},
    };
    hvd_config *c = accept_text("");
    hvd_config *again = NULL;
    char *text;
    hvd_error err;

    ck_assert_ptr_null(c->metrics_listen);
    ck_assert_ptr_null(c->metrics_textfile);
    ck_assert_ptr_null(c->syslog_target);
    ck_assert_int_eq(c->syslog_facility, 3);
    hvd_config_destroy(c);
    c = accept_text("[daemon]\nmetrics_listen = 9464\n");
    ck_assert_str_eq(c->metrics_address, "127.0.0.1");
    ck_assert_uint_eq(c->metrics_port, 9464);
    ck_assert_uint_eq(c->metrics_listen_line, 2);
    hvd_config_destroy(c);
    c = accept_text("[daemon]\nmetrics_listen = [::1]:19464\n");
    ck_assert_str_eq(c->metrics_address, "::1");
    ck_assert_uint_eq(c->metrics_port, 19464);
    hvd_config_destroy(c);
    c = accept_text("[daemon]\nworkers = 1\nmetrics_listen = 0.0.0.0:9100\n"
                    "metrics_textfile = /var/lib/node/hvdiag.prom\n"
                    "[outputs]\nsyslog_target = tcp://[::1]:6514\nsyslog_facility = local3\n");
    ck_assert_str_eq(c->metrics_address, "0.0.0.0");
    ck_assert_uint_eq(c->metrics_port, 9100);
    ck_assert_uint_eq(c->metrics_listen_line, 3);
    ck_assert_str_eq(c->metrics_textfile, "/var/lib/node/hvdiag.prom");
    ck_assert_uint_eq(c->metrics_textfile_line, 4);
    ck_assert_str_eq(c->syslog_target, "tcp://[::1]:6514");
    ck_assert_uint_eq(c->syslog_target_line, 6);
    ck_assert_int_eq(c->syslog_facility, 19);
    /* the summary says the same */
    text = hvd_config_describe(c);
    ck_assert_int_eq(hvd_config_parse_string(&again, text, "summary", NULL, &err), HVD_OK);
    ck_assert_str_eq(again->metrics_listen, "0.0.0.0:9100");
    ck_assert_str_eq(again->metrics_textfile, c->metrics_textfile);
    ck_assert_str_eq(again->syslog_target, c->syslog_target);
    ck_assert_int_eq(again->syslog_facility, 19);
    hvd_config_destroy(again);
    hvd_free(text);
    hvd_config_destroy(c);
    reject_all(bad, sizeof(bad) / sizeof(bad[0]), 0);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, config_empty_gives_defaults);
    tcase_add_test(tc, config_sizes_parse);
    tcase_add_test(tc, config_full_file_is_read);
    tcase_add_test(tc, config_crlf_and_bom_are_accepted);
    tcase_add_test(tc, config_errors_name_file_and_line);
    tcase_add_test(tc, config_bad_values_are_refused);
    tcase_add_test(tc, config_every_error_is_logged);
    tcase_add_test(tc, config_long_line_is_an_error_at_its_line);
    tcase_add_test(tc, config_file_is_loaded_and_missing_file_named);
    tcase_add_test(tc, config_durations_parse);
    tcase_add_test(tc, config_describe_round_trips);
    tcase_add_test(tc, config_survives_every_allocation_failure);
    tcase_add_test(tc, config_indented_lines_follow_inih);
    tcase_add_test(tc, config_agrees_with_inih_on_generated_files);
    tcase_add_test(tc, config_client_limits_parse);
    tcase_add_test(tc, config_metrics_and_syslog_keys_parse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
