/*
 * Suite for replay safety, the law of the pipeline: any order of files, any split, a failed
 * read retried, a restart between any two files gives the same database (hvd_store_digest)
 * as one read in time order.
 *
 * The bundle: real EVTX files made by evtxgen from event XML (the samples' events, placed
 * at chosen times), several nodes, with a cross-host correlation twice ten days apart
 * (14050 on HV-NODE02, 0x80090303 towards it from HV-NODE01), a Hyper-V-Config flood inside
 * one quiet period, a CSV auto-pause threshold, a failover on another node, an event four
 * weeks after everything else, a flood of thirty in one quiet hour (more than a diagnosis
 * keeps as evidence) in two files each out of time order, and a cluster.log of missed
 * heartbeats, and a network down whose three failed interfaces one correlation gathers, in
 * two files. Apart from them, a
 * code-only migration failure and the event naming its VM, in two files. Most EVTX exports
 * are split in two files, so an order may read a second half first. Real SQLite files, the
 * shipped rules.
 *
 * Switch REPLAY_CLUSTERLOG_ANY_ORDER (on): cluster.log halves of one node read in any
 * order. The seen filter still treats lines older than the newest read of a (node, section)
 * as repeats, so the later half read first loses the earlier one; turn it on once the
 * seen filter keeps exact covered ranges. With it on, the TCase "clusterlog_any_order" runs:
 * clusterlog_halves_in_either_order and
 * any_order_with_clusterlog_halves_gives_the_time_order_database.
 */
#include "ingest.h"
#include "ingest_internal.h"

#include "testutil.h"

#include <check.h>
#include <libxml/parser.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef REPLAY_CLUSTERLOG_ANY_ORDER
#define REPLAY_CLUSTERLOG_ANY_ORDER 1
#endif

#define PERMUTATIONS 200
#define SEED         20240305u

#define LM   HVD_TEST_SRCDIR "/samples/xml/live-migration-spn/"
#define UF   HVD_TEST_SRCDIR "/samples/xml/unplanned-failover/"
#define N1LM LM "HV-NODE01/Microsoft-Windows-Hyper-V-VMMS-Admin.xml"
#define N2LM LM "HV-NODE02/Microsoft-Windows-Hyper-V-VMMS-Admin.xml"
#define N1UF UF "HV-NODE01/Microsoft-Windows-Hyper-V-Config-Admin.xml"
#define N2UF UF "HV-NODE02/System.xml"
#define N1ND HVD_TEST_SRCDIR "/samples/xml/network-down-2012r2/HV-NODE01/System.xml"
#define N1MC        \
    HVD_TEST_SRCDIR \
    "/samples/xml/migration-companion/HV-NODE01/Microsoft-Windows-Hyper-V-VMMS-Admin.xml"

/* A CSV auto-pause (5120, c0130021): five within an hour make fc-csv-auto-pause-frequent. */
static const char csv_event[] =
    "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
    "  <System>\n"
    "    <Provider Name=\"Microsoft-Windows-FailoverClustering\" "
    "Guid=\"{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}\"/>\n"
    "    <EventID>5120</EventID>\n"
    "    <Version>0</Version>\n"
    "    <Level>3</Level>\n"
    "    <Task>0</Task>\n"
    "    <Opcode>0</Opcode>\n"
    "    <Keywords>0x8000000000000000</Keywords>\n"
    "    <TimeCreated SystemTime=\"2000-01-01T00:00:00.0000000Z\"/>\n"
    "    <EventRecordID>1</EventRecordID>\n"
    "    <Correlation/>\n"
    "    <Execution ProcessID=\"2468\" ThreadID=\"4321\"/>\n"
    "    <Channel>System</Channel>\n"
    "    <Computer>HV-NODE01.contoso.local</Computer>\n"
    "    <Security UserID=\"S-1-5-18\"/>\n"
    "  </System>\n"
    "  <EventData>\n"
    "    <Data Name=\"VolumeName\">Volume1</Data>\n"
    "    <Data Name=\"ResourceName\">Cluster Disk 2</Data>\n"
    "    <Data Name=\"ErrorCode\">STATUS_CLUSTER_CSV_AUTO_PAUSE_ERROR(c0130021)</Data>\n"
    "  </EventData>\n"
    "</Event>\n";

/* One event of an export: event 'index' of the sample XML 'sample' (NULL: csv_event), at
 * 'time' with EventRecordID 'erid', on 'host' when non-NULL. */
struct pick {
    const char *sample;
    int index;
    const char *time;
    unsigned erid;
    const char *host;
};

/* A file of the bundle: its path and the time of its first event (for the time order). */
struct file {
    char *path;
    char first[32];
};

static char *tmp;
static hvd_ruleset *rules;
static struct file files[16];
static size_t nfiles;
static struct file clog_halves[2];
static struct file companion[2]; /* a code-only failure, the event naming its VM: apart */
static unsigned injected;        /* reads that failed as injected, then were retried */

/* The text of one <Event> of a sample, with time, record id and host replaced; caller
 * frees. */
static char *event_text(const struct pick *p)
{
    char *xml = p->sample ? hvd_test_read_file(p->sample, NULL) : strdup(csv_event);
    const char *start = NULL;
    const char *end;
    const char *at;
    char *out;
    size_t cap;
    int i = 0;
    FILE *f;

    ck_assert_ptr_nonnull(xml);
    for (at = strstr(xml, "<Event "); at; at = strstr(at + 1, "<Event "), i++) {
        if (i == p->index) {
            start = at;
            break;
        }
    }
    ck_assert_ptr_nonnull(start);
    end = strstr(start, "</Event>");
    ck_assert_ptr_nonnull(end);
    end += strlen("</Event>");
    cap = (size_t)(end - start) + 512;
    out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    f = fmemopen(out, cap, "w");
    ck_assert_ptr_nonnull(f);
    for (at = start; at < end;) {
        const char *t = strstr(at, "SystemTime=\"");
        const char *r = strstr(at, "<EventRecordID>");
        const char *c = strstr(at, "<Computer>");
        const char *next = end;

        next = t && t < next ? t : next;
        next = r && r < next ? r : next;
        next = c && c < next ? c : next;
        fwrite(at, 1, (size_t)(next - at), f);
        if (next == end) {
            break;
        }
        if (next == t) {
            fprintf(f, "SystemTime=\"%s\"", p->time);
            at = strchr(t + strlen("SystemTime=\""), '"') + 1;
        } else if (next == r) {
            fprintf(f, "<EventRecordID>%u</EventRecordID>", p->erid);
            at = strstr(r, "</EventRecordID>") + strlen("</EventRecordID>");
        } else {
            const char *close = strstr(c, "</Computer>") + strlen("</Computer>");

            if (p->host) {
                fprintf(f, "<Computer>%s</Computer>", p->host);
            } else {
                fwrite(c, 1, (size_t)(close - c), f); /* the sample's own host */
            }
            at = close;
        }
    }
    fputc('\0', f);
    ck_assert_int_eq(fclose(f), 0);
    free(xml);
    return out;
}

/* Writes picks [from, to) as the EVTX file 'name' (made by evtxgen); returns its path. */
static char *write_evtx(const char *name, const struct pick *picks, size_t from, size_t to)
{
    char *xml_path = hvd_test_path(tmp, "export.xml");
    char *out = hvd_test_path(tmp, name);
    char *argv[] = {HVD_TEST_BINDIR "/evtxgen", xml_path, out, NULL};
    FILE *f = fopen(xml_path, "w");

    ck_assert_ptr_nonnull(f);
    fputs("<Events>\n", f);
    for (size_t i = from; i < to; i++) {
        char *ev = event_text(&picks[i]);

        fputs(ev, f);
        fputc('\n', f);
        free(ev);
    }
    fputs("</Events>\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
    free(xml_path);
    return out;
}

/* Writes picks [from, to) as the EVTX file 'name' and adds it to files. */
static void export_evtx(const char *name, const struct pick *picks, size_t from, size_t to)
{
    ck_assert_uint_lt(nfiles, sizeof(files) / sizeof(files[0]));
    files[nfiles].path = write_evtx(name, picks, from, to);
    snprintf(files[nfiles].first, sizeof(files[nfiles].first), "%s", picks[from].time);
    nfiles++;
}

/* An export cut in two files at 'cut' (either may be read first), or whole (cut 0). */
static void export_split(const char *name, const struct pick *picks, size_t n, size_t cut)
{
    char part[128];

    if (cut == 0) {
        snprintf(part, sizeof(part), "%s.evtx", name);
        export_evtx(part, picks, 0, n);
        return;
    }
    snprintf(part, sizeof(part), "%s-1.evtx", name);
    export_evtx(part, picks, 0, cut);
    snprintf(part, sizeof(part), "%s-2.evtx", name);
    export_evtx(part, picks, cut, n);
}

/* Missed heartbeats (a diagnosis each quiet period) and lost connections, every 5 minutes
 * from 2024-03-09 01:00 for 'n' lines starting at line 'from'; with the header when
 * 'header'. */
static void write_clusterlog(const char *path, const char *node, int from, int n, int header)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    if (header) {
        fprintf(f, "[=== Cluster ===]\nCurrent node: name (%s) id (4)\n[=== Cluster Logs ===]\n",
                node);
    }
    for (int i = from; i < from + n; i++) {
        int minute = 60 + i * 5;

        if (i % 2 == 0) {
            fprintf(f,
                    "00001320.00001724::2024/03/09-%02d:%02d:30.789 WARN  [NETWORK] Missed 40%% "
                    "of the heart beats with node 'HV-NODE0%d' (2) on route "
                    "10.10.20.18:~3343~->10.10.148.18:~3343~\n",
                    minute / 60, minute % 60, 1 + i % 3);
        } else {
            fprintf(f,
                    "00001320.00002cf8::2024/03/09-%02d:%02d:35.251 WARN  [NETWORK] Lost "
                    "connection to node HV-NODE0%d\n",
                    minute / 60, minute % 60, 1 + i % 3);
        }
    }
    ck_assert_int_eq(fclose(f), 0);
}

static void build_bundle(void)
{
    /* HV-NODE02 logs 14050 (SPN registration failed); ten days later again. */
    static const struct pick n2vmms[] = {
        {N2LM, 0, "2024-03-05T08:55:02.0000000Z", 1001, NULL},
        {N2LM, 1, "2024-03-05T08:55:04.0000000Z", 1002, NULL},
        {N2LM, 2, "2024-03-05T08:55:04.1000000Z", 1003, NULL},
        {N2LM, 0, "2024-03-15T08:55:02.0000000Z", 1101, NULL},
        {N2LM, 1, "2024-03-15T08:55:04.0000000Z", 1102, NULL},
        {N2LM, 2, "2024-03-15T08:55:04.1000000Z", 1103, NULL},
    };
    /* HV-NODE01's migrations to HV-NODE02 fail with 0x80090303, both times. */
    static const struct pick n1vmms[] = {
        {N1LM, 0, "2024-03-05T09:40:00.0000000Z", 1004, NULL},
        {N1LM, 1, "2024-03-05T10:05:42.0000000Z", 1005, NULL},
        {N1LM, 2, "2024-03-05T10:12:10.0000000Z", 1006, NULL},
        {N1LM, 0, "2024-03-15T09:40:00.0000000Z", 1104, NULL},
        {N1LM, 1, "2024-03-15T10:05:42.0000000Z", 1105, NULL},
        {N1LM, 2, "2024-03-15T10:12:10.0000000Z", 1106, NULL},
    };
    /* A stale VM link (Config 4096) repeating every 5 minutes: one quiet period. */
    static const struct pick n1config[] = {
        {N1UF, 1, "2024-03-09T02:35:00.0000000Z", 2001, NULL},
        {N1UF, 1, "2024-03-09T02:40:00.0000000Z", 2002, NULL},
        {N1UF, 0, "2024-03-09T02:41:00.0000000Z", 2003, NULL},
        {N1UF, 1, "2024-03-09T02:45:00.0000000Z", 2004, NULL},
        {N1UF, 1, "2024-03-09T02:50:00.0000000Z", 2005, NULL},
        {N1UF, 1, "2024-03-09T02:55:00.0000000Z", 2006, NULL},
        {N1UF, 1, "2024-03-09T03:00:00.0000000Z", 2007, NULL},
        {N1UF, 1, "2024-03-09T03:05:00.0000000Z", 2008, NULL},
    };
    /* A flood of thirty stale VM links in one quiet hour, past the evidence a diagnosis
     * keeps (its growth is then stored at the file's end, not per match), each file out of
     * time order: the later half of the hour interleaved with the earlier one. */
    static const struct pick n1flood[] = {
        {N1UF, 1, "2024-03-09T04:30:00.0000000Z", 2101, NULL},
        {N1UF, 1, "2024-03-09T04:00:00.0000000Z", 2102, NULL},
        {N1UF, 1, "2024-03-09T04:32:00.0000000Z", 2103, NULL},
        {N1UF, 1, "2024-03-09T04:02:00.0000000Z", 2104, NULL},
        {N1UF, 1, "2024-03-09T04:34:00.0000000Z", 2105, NULL},
        {N1UF, 1, "2024-03-09T04:04:00.0000000Z", 2106, NULL},
        {N1UF, 1, "2024-03-09T04:36:00.0000000Z", 2107, NULL},
        {N1UF, 1, "2024-03-09T04:06:00.0000000Z", 2108, NULL},
        {N1UF, 1, "2024-03-09T04:38:00.0000000Z", 2109, NULL},
        {N1UF, 1, "2024-03-09T04:08:00.0000000Z", 2110, NULL},
        {N1UF, 1, "2024-03-09T04:40:00.0000000Z", 2111, NULL},
        {N1UF, 1, "2024-03-09T04:10:00.0000000Z", 2112, NULL},
        {N1UF, 1, "2024-03-09T04:42:00.0000000Z", 2113, NULL},
        {N1UF, 1, "2024-03-09T04:12:00.0000000Z", 2114, NULL},
        {N1UF, 1, "2024-03-09T04:44:00.0000000Z", 2115, NULL},
        {N1UF, 1, "2024-03-09T04:14:00.0000000Z", 2116, NULL},
        {N1UF, 1, "2024-03-09T04:46:00.0000000Z", 2117, NULL},
        {N1UF, 1, "2024-03-09T04:16:00.0000000Z", 2118, NULL},
        {N1UF, 1, "2024-03-09T04:48:00.0000000Z", 2119, NULL},
        {N1UF, 1, "2024-03-09T04:18:00.0000000Z", 2120, NULL},
        {N1UF, 1, "2024-03-09T04:50:00.0000000Z", 2121, NULL},
        {N1UF, 1, "2024-03-09T04:20:00.0000000Z", 2122, NULL},
        {N1UF, 1, "2024-03-09T04:52:00.0000000Z", 2123, NULL},
        {N1UF, 1, "2024-03-09T04:22:00.0000000Z", 2124, NULL},
        {N1UF, 1, "2024-03-09T04:54:00.0000000Z", 2125, NULL},
        {N1UF, 1, "2024-03-09T04:24:00.0000000Z", 2126, NULL},
        {N1UF, 1, "2024-03-09T04:56:00.0000000Z", 2127, NULL},
        {N1UF, 1, "2024-03-09T04:26:00.0000000Z", 2128, NULL},
        {N1UF, 1, "2024-03-09T04:58:00.0000000Z", 2129, NULL},
        {N1UF, 1, "2024-03-09T04:28:00.0000000Z", 2130, NULL},
    };
    /* Six CSV auto-pauses within an hour: over the threshold of five. */
    static const struct pick n1system[] = {
        {NULL, 0, "2024-03-09T02:00:00.0000000Z", 3001, NULL},
        {NULL, 0, "2024-03-09T02:10:00.0000000Z", 3002, NULL},
        {NULL, 0, "2024-03-09T02:20:00.0000000Z", 3003, NULL},
        {NULL, 0, "2024-03-09T02:30:00.0000000Z", 3004, NULL},
        {NULL, 0, "2024-03-09T02:40:00.0000000Z", 3005, NULL},
        {NULL, 0, "2024-03-09T02:50:00.0000000Z", 3006, NULL},
    };
    /* HV-NODE02 sees HV-NODE01 go down and takes its VM over. */
    static const struct pick n2system[] = {
        {N2UF, 0, "2024-03-09T02:00:02.0000000Z", 1001, NULL},
        {N2UF, 1, "2024-03-09T02:00:04.0000000Z", 1002, NULL},
        {N2UF, 2, "2024-03-09T02:00:30.0000000Z", 1003, NULL},
    };
    /* A VMMS 20306 naming no VM and, 50 ms later, the event naming it: one file each. */
    static const struct pick n1companion[] = {
        {N1MC, 0, "2024-03-12T13:22:07.4811022Z", 6001, NULL},
        {N1MC, 1, "2024-03-12T13:22:07.5330418Z", 6002, NULL},
    };
    /* A network down with the interfaces of three nodes, in two files: one diagnosis gathers
     * the three interfaces, whichever file comes first. */
    static const struct pick n1netdown[] = {
        {N1ND, 1, "2024-03-20T03:14:09.1250000Z", 7001, NULL},
        {N1ND, 0, "2024-03-20T03:14:09.1180000Z", 7002, NULL},
        {N1ND, 2, "2024-03-20T03:14:09.1310000Z", 7003, NULL},
        {N1ND, 3, "2024-03-20T03:14:09.1420000Z", 7004, NULL},
    };
    /* Four weeks after everything else, on another node. */
    static const struct pick n3far[] = {
        {N1UF, 1, "2024-04-06T12:00:00.0000000Z", 5001, "HV-NODE03.contoso.local"},
        {N2LM, 1, "2024-04-06T12:01:00.0000000Z", 5002, "HV-NODE03.contoso.local"},
    };
    char *clog = hvd_test_path(tmp, "HV-NODE04_cluster.log");
    char *dir;

    nfiles = 0;
    export_split("n2-vmms", n2vmms, 6, 3);
    export_split("n1-vmms", n1vmms, 6, 3);
    export_split("n1-config", n1config, 8, 4);
    export_split("n1-flood", n1flood, 30, 17);
    /* Matches short of a threshold are not stored: a threshold's run stays in one file. */
    export_split("n1-system", n1system, 6, 0);
    export_split("n2-system", n2system, 3, 2);
    export_split("n3-far", n3far, 2, 0);
    export_split("n1-netdown", n1netdown, 4, 2);
    /* Kept out of the permutations (they are slow enough): a test of their own reads them. */
    export_split("n1-companion", n1companion, 2, 1);
    nfiles -= 2;
    companion[0] = files[nfiles];
    companion[1] = files[nfiles + 1];
    write_clusterlog(clog, "HV-NODE04", 0, 24, 1);
    files[nfiles].path = clog;
    snprintf(files[nfiles].first, sizeof(files[nfiles].first), "2024-03-09T01:00:30");
    nfiles++;

    /* The same node's cluster.log as two exports, 01:00-02:00 and 02:00-03:00. */
    dir = hvd_test_path(tmp, "a");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    clog_halves[0].path = hvd_test_path(dir, "HV-NODE05_cluster.log");
    free(dir);
    dir = hvd_test_path(tmp, "b");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    clog_halves[1].path = hvd_test_path(dir, "HV-NODE05_cluster.log");
    free(dir);
    write_clusterlog(clog_halves[0].path, "HV-NODE05", 0, 12, 1);
    write_clusterlog(clog_halves[1].path, "HV-NODE05", 12, 12, 1);
    snprintf(clog_halves[0].first, sizeof(clog_halves[0].first), "2024-03-09T01:00:30");
    snprintf(clog_halves[1].first, sizeof(clog_halves[1].first), "2024-03-09T02:00:30");
}

static void bundle_setup(void)
{
    hvd_error err;

    tmp = hvd_test_tmpdir();
    ck_assert_msg(hvd_ruleset_load(&rules, HVD_TEST_SRCDIR "/rules", NULL, NULL, &err) == HVD_OK,
                  "%s", err.msg);
    build_bundle();
}

static void bundle_teardown(void)
{
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].path);
    }
    free(clog_halves[0].path);
    free(clog_halves[1].path);
    free(companion[0].path);
    free(companion[1].path);
    hvd_ruleset_destroy(rules);
    hvd_test_rmtree(tmp);
    free(tmp);
}

/* A small fixed-seed generator, so a failing order can be replayed. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

struct run {
    size_t order[32];
    size_t n;
    int restart[32];  /* restart the pipeline before reading order[i] */
    long fail_at;     /* order index whose first read fails, or -1 */
    long fail_after;  /* diagnoses stored before the failure */
    unsigned seed_no; /* for messages */
};

static void describe(const struct run *r, const struct file *set, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < r->n && used < size; i++) {
        const char *base = strrchr(set[r->order[i]].path, '/');
        int w = snprintf(out + used, size - used, "%s%s%s", r->restart[i] ? " | " : " ",
                         base ? base + 1 : set[r->order[i]].path,
                         (long)i == r->fail_at ? "(failed, retried)" : "");

        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
}

/* Reads the files of set in r's order into a fresh database; returns its digest. */
/* Set: every pipeline drops far state and regroups after every event (hvd__ingest_tight());
 * dropped counts what engines dropped. */
static int tight;
static uint64_t dropped;

static void replay(const struct run *r, const struct file *set, const char *dbname,
                   char out[HVD_STORE_DIGEST_SIZE])
{
    char *path = hvd_test_path(tmp, dbname);
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_error err;

    unlink(path);
    ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
    for (size_t i = 0; i < r->n; i++) {
        const char *file = set[r->order[i]].path;
        hvd_ingest_result res;

        if (!ing || r->restart[i]) {
            dropped += ing ? hvd__ingest_dropped(ing) : 0;
            hvd_ingest_destroy(ing);
            hvd_store_close(st);
            ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
            ck_assert_msg(hvd_ingest_create(&ing, st, rules, NULL, &err) == HVD_OK, "%s", err.msg);
            if (tight) {
                hvd__ingest_tight(ing);
            }
        }
        if ((long)i == r->fail_at) {
            hvd__ingest_fail_store_after(ing, r->fail_after);
            if (hvd_ingest_file(ing, file, NULL, NULL, &res, &err) < 0) {
                ck_assert_int_eq(err.code, HVD_ESTORE);
                injected++;
            }
            hvd__ingest_fail_store_after(ing, -1);
        }
        ck_assert_msg(hvd_ingest_file(ing, file, NULL, NULL, &res, &err) == HVD_OK, "%s: %s", file,
                      err.msg);
        ck_assert_msg(hvd_ingest_finish(ing, NULL, &err) == HVD_OK, "%s", err.msg);
    }
    ck_assert_int_eq(hvd_store_digest(st, out, &err), HVD_OK);
    dropped += hvd__ingest_dropped(ing);
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    unlink(path);
    free(path);
}

/* The files in time order (by first event), read by one pipeline, nothing failing. */
static void time_order(struct run *r, const struct file *set, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    r->fail_at = -1;
    for (size_t i = 0; i < n; i++) {
        r->order[i] = i;
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(set[r->order[j - 1]].first, set[r->order[j]].first) > 0;
             j--) {
            size_t t = r->order[j];

            r->order[j] = r->order[j - 1];
            r->order[j - 1] = t;
        }
    }
}

/* A random order, restarts and one failed read, from the generator. */
static void random_run(struct run *r, size_t n, uint32_t *state, unsigned k)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    r->seed_no = k;
    for (size_t i = 0; i < n; i++) {
        r->order[i] = i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = next_random(state) % (i + 1);
        size_t t = r->order[i];

        r->order[i] = r->order[j];
        r->order[j] = t;
    }
    for (size_t i = 1; i < n; i++) {
        /* every second run restarts between all files, the others at random */
        r->restart[i] = k % 2 == 0 || next_random(state) % 2;
    }
    r->fail_at = (long)(next_random(state) % n);
    r->fail_after = (long)(next_random(state) % 3);
}

START_TEST(time_order_is_the_same_read_twice_or_restarted)
{
    struct run r;
    char reference[HVD_STORE_DIGEST_SIZE];
    char again[HVD_STORE_DIGEST_SIZE];

    time_order(&r, files, nfiles);
    replay(&r, files, "ref.db", reference);
    /* Restarted before every file: the same. */
    for (size_t i = 1; i < r.n; i++) {
        r.restart[i] = 1;
    }
    replay(&r, files, "restarted.db", again);
    ck_assert_str_eq(again, reference);
}
END_TEST

/* The run's order reversed, with a restart before every 'every'-th file. */
static void reverse(struct run *r, size_t every)
{
    for (size_t i = 0; i < r->n / 2; i++) {
        size_t t = r->order[i];

        r->order[i] = r->order[r->n - 1 - i];
        r->order[r->n - 1 - i] = t;
    }
    for (size_t i = 1; i < r->n; i++) {
        r->restart[i] = i % every == 0;
    }
}

/* The run reversed (a restart before every 'every'-th file), then n random orders with
 * restarts and one failed read, each give the digest ref; what names the case. */
static void orders_give(struct run *r, const char *ref, size_t every, unsigned n, const char *what)
{
    uint32_t state = SEED;
    char got[HVD_STORE_DIGEST_SIZE];
    char why[2048];

    reverse(r, every);
    replay(r, files, "rev.db", got);
    describe(r, files, why, sizeof(why));
    ck_assert_msg(strcmp(got, ref) == 0, "reverse time order%s:%s", what, why);
    for (unsigned k = 0; k < n; k++) {
        random_run(r, nfiles, &state, k);
        replay(r, files, "perm.db", got);
        describe(r, files, why, sizeof(why));
        ck_assert_msg(strcmp(got, ref) == 0, "order %u (seed %u, fail after %ld)%s:%s", k, SEED,
                      r->fail_after, what, why);
    }
}

/* PERMUTATIONS orders of the bundle's files, each with restarts and one failed read, and
 * the reverse time order restarted before every file: the hardest fixed order. */
START_TEST(any_order_split_restart_and_retry_give_the_time_order_database)
{
    struct run r;
    char ref[HVD_STORE_DIGEST_SIZE];

    time_order(&r, files, nfiles);
    replay(&r, files, "ref.db", ref);
    injected = 0;
    orders_give(&r, ref, 1, PERMUTATIONS, "");
    /* Most runs did fail a read half way (the others chose a file with fewer diagnoses). */
    ck_assert_uint_gt(injected, PERMUTATIONS / 2);
}
END_TEST

/* A long file or a long run drops state far from what it reads, and regroups what it
 * changed as it goes: with both done after every event, the time order, its reverse with
 * restarts and random orders (splits, restarts, a failed read) give the database of the
 * time order read with everything kept. The bundle spans weeks, so state does go. */
START_TEST(dropping_far_state_and_regrouping_early_change_nothing)
{
    struct run r;
    char ref[HVD_STORE_DIGEST_SIZE];
    char got[HVD_STORE_DIGEST_SIZE];

    time_order(&r, files, nfiles);
    replay(&r, files, "ref.db", ref);
    tight = 1;
    dropped = 0;
    replay(&r, files, "tight.db", got);
    ck_assert_msg(strcmp(got, ref) == 0, "time order, far state dropped");
    ck_assert_uint_gt(dropped, 0);
    orders_give(&r, ref, 2, PERMUTATIONS / 2, ", far state dropped");
    tight = 0;
}
END_TEST

/* Diagnoses of rule with vm_name in the database at path. */
static int count_named(const char *path, const char *rule, const char *vm_name)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;

    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM diagnoses WHERE rule = ?1 AND "
                                        "vm_name = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, vm_name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The one number a query of the database at path gives. */
static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Ten days of one node missing heartbeats with 400 peers in turn, a line every three
 * minutes (4,800 diagnoses): read in time order, the engine holds what lies near the lines
 * being read, not all it made, and no more than a restart before every day gives. */
START_TEST(a_long_file_in_time_order_holds_what_is_near)
{
    char *log = hvd_test_path(tmp, "HV-NODE09_cluster.log");
    char *path = hvd_test_path(tmp, "long.db");
    FILE *f = fopen(log, "w");
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_error err;
    int lines = 10 * 24 * 20;

    ck_assert_ptr_nonnull(f);
    fprintf(f, "[=== Cluster ===]\nCurrent node: name (HV-NODE09) id (9)\n"
               "[=== Cluster Logs ===]\n");
    for (int i = 0; i < lines; i++) {
        int min = i * 3;

        fprintf(
            f,
            "00001320.00001724::2024/05/%02d-%02d:%02d:30.789 WARN  [NETWORK] Missed 40%% of "
            "the heart beats with node 'PEER%03d' (2) on route 10.0.1.9:~3343~->10.0.2.%d:~3343~\n",
            1 + min / 1440, min / 60 % 24, min % 60, i % 400, i % 250);
    }
    ck_assert_int_eq(fclose(f), 0);
    unlink(path);
    ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
    ck_assert_msg(hvd_ingest_create(&ing, st, rules, NULL, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_ingest_file(ing, log, NULL, NULL, &res, &err) == HVD_OK, "%s", err.msg);
    ck_assert_uint_eq(res.events, (uint64_t)lines);
    ck_assert_uint_gt(hvd__ingest_dropped(ing), (uint64_t)lines / 2);
    ck_assert_uint_le(hvd__ingest_held(ing), 2048 + 2 * 400);
    ck_assert_msg(hvd_ingest_finish(ing, NULL, &err) == HVD_OK, "%s", err.msg);
    hvd_ingest_destroy(ing);
    ck_assert_int_eq(count_named(path, "cl-missed-hb-pct", ""), lines);
    hvd_store_close(st);
    unlink(path);
    unlink(log);
    free(path);
    free(log);
}
END_TEST

/* A day-long correlation window over many hosts: DAY_HOSTS hosts fail to migrate to
 * HV-NODE02 (0x80090303) every half hour for DAY_HOURS hours, a diagnosis per host and hour;
 * HV-NODE02 logs 14050 (its migration SPN) at hour DAY_CAUSE. */
#define DAY_HOSTS 150
#define DAY_HOURS 27
#define DAY_CAUSE 13

/* The failures of hours [from_h, to_h), in time order, as the EVTX file 'name'. */
static void day_failures(const char *name, int from_h, int to_h, struct file *out)
{
    static char hosts[DAY_HOSTS][32];
    size_t n = (size_t)(to_h - from_h) * 2 * DAY_HOSTS;
    struct pick *picks = calloc(n, sizeof(*picks));
    char(*times)[32] = calloc(n, sizeof(*times));
    size_t k = 0;

    ck_assert(picks && times);
    for (int h = 0; h < DAY_HOSTS; h++) {
        snprintf(hosts[h], sizeof(hosts[h]), "HV-S%03d.contoso.local", h);
    }
    for (int half = from_h * 2; half < to_h * 2; half++) {
        for (int h = 0; h < DAY_HOSTS; h++, k++) {
            time_t t = (time_t)1714521600 + half * 1800 + h * 7; /* 2024-05-01 */
            struct tm tm;

            gmtime_r(&t, &tm);
            strftime(times[k], sizeof(times[k]), "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
            picks[k] =
                (struct pick){N1LM, 1, times[k], (unsigned)(5000 + half * DAY_HOSTS + h), hosts[h]};
        }
    }
    out->path = write_evtx(name, picks, 0, n);
    snprintf(out->first, sizeof(out->first), "%s", times[0]);
    free(picks);
    free(times);
}

/* The failures before the cause, the cause, the failures after: read in time order by one
 * pipeline, the engine holds the failures near the events being read, not a day of them
 * (DAY_HOSTS an hour), and finds those the cause explains in the store; every failure
 * within a day of the cause is explained, and other orders, restarted or not, give the
 * same database. */
START_TEST(a_day_long_window_holds_only_what_is_near)
{
    static const struct pick cause[] = {
        {N2LM, 0, "2024-05-01T13:00:02.0000000Z", 1001, NULL},
        {N2LM, 1, "2024-05-01T13:00:04.0000000Z", 1002, NULL},
        {N2LM, 2, "2024-05-01T13:00:04.1000000Z", 1003, NULL},
    };
    struct file set[3];
    char *path = hvd_test_path(tmp, "day.db");
    char reference[HVD_STORE_DIGEST_SIZE];
    char got[HVD_STORE_DIGEST_SIZE];
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_error err;
    struct run r;
    int64_t want;

    day_failures("day-1.evtx", 0, DAY_CAUSE, &set[0]);
    set[1].path = write_evtx("day-cause.evtx", cause, 0, 3);
    snprintf(set[1].first, sizeof(set[1].first), "%s", cause[0].time);
    day_failures("day-2.evtx", DAY_CAUSE, DAY_HOURS, &set[2]);
    /* Time order, one pipeline: what it holds at the end. */
    unlink(path);
    ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
    ck_assert_msg(hvd_ingest_create(&ing, st, rules, NULL, &err) == HVD_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(hvd_ingest_file(ing, set[i].path, NULL, NULL, &res, &err) == HVD_OK, "%s",
                      err.msg);
    }
    ck_assert_uint_le(hvd__ingest_held(ing), 2048 + 4 * DAY_HOSTS);
    ck_assert_msg(hvd_ingest_finish(ing, NULL, &err) == HVD_OK, "%s", err.msg);
    hvd_ingest_destroy(ing);
    ck_assert_int_eq(hvd_store_digest(st, reference, &err), HVD_OK);
    hvd_store_close(st);
    /* Every failure diagnosis within the window of the migration SPN's is explained. */
    want = sql_int(path, "SELECT count(*) FROM diagnoses f, diagnoses c, diagnosis_entities e"
                         " WHERE f.rule = 'lm-target-unknown' AND c.rule = 'hv-spn-register-failed'"
                         " AND e.diagnosis = c.id AND e.name = 'spn_class'"
                         " AND e.value LIKE '%Migration%' AND max(f.last_time, c.last_time)"
                         " - min(f.first_time, c.first_time) <= 864000000000");
    ck_assert_int_eq(
        sql_int(path, "SELECT count(*) FROM diagnoses WHERE rule = 'lm-target-unknown'"),
        DAY_HOSTS * DAY_HOURS);
    ck_assert_int_gt(want, DAY_HOSTS * 20);
    ck_assert_int_eq(sql_int(path, "SELECT count(*) FROM diagnoses"
                                   " WHERE rule = 'lm-spn-missing-on-destination'"),
                     want);
    /* The same whatever the order, the restarts and the far state dropped. */
    memset(&r, 0, sizeof(r));
    r.n = 3;
    r.fail_at = -1;
    for (int order = 0; order < 4; order++) {
        static const size_t orders[4][3] = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}};

        memcpy(r.order, orders[order], sizeof(orders[order]));
        for (int i = 1; i < 3; i++) {
            r.restart[i] = order % 2;
        }
        replay(&r, set, "day-again.db", got);
        ck_assert_msg(strcmp(got, reference) == 0, "order %d", order);
    }
    for (int i = 0; i < 3; i++) {
        unlink(set[i].path);
        free(set[i].path);
    }
    unlink(path);
    free(path);
}
END_TEST

/* The network down's two files, either first, with a restart between: one diagnosis that
 * gathers the three interfaces (the permutations compare it with the rest). */
START_TEST(a_gathered_network_down_in_either_order)
{
    char *path = hvd_test_path(tmp, "netdown.db");
    const char *part[2] = {NULL, NULL};
    hvd_error err;

    for (size_t i = 0; i < nfiles; i++) {
        const char *base = strrchr(files[i].path, '/');

        if (strcmp(base, "/n1-netdown-1.evtx") == 0 || strcmp(base, "/n1-netdown-2.evtx") == 0) {
            part[base[12] - '1'] = files[i].path;
        }
    }
    ck_assert(part[0] && part[1]);
    for (int first = 0; first < 2; first++) {
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;

        unlink(path);
        for (int k = 0; k < 2; k++) {
            hvd_store *st = NULL;
            hvd_ingest *ing = NULL;
            hvd_ingest_result res;

            ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
            ck_assert_msg(hvd_ingest_create(&ing, st, rules, NULL, &err) == HVD_OK, "%s", err.msg);
            ck_assert_msg(hvd_ingest_file(ing, part[(first + k) % 2], NULL, NULL, &res, &err) ==
                              HVD_OK,
                          "%s", err.msg);
            ck_assert_int_eq(hvd_ingest_finish(ing, NULL, &err), HVD_OK);
            hvd_ingest_destroy(ing);
            hvd_store_close(st);
        }
        ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db,
                                            "SELECT count(*), min(count), min(title LIKE"
                                            " '%HV-NODE01, HV-NODE02 and HV-NODE03 on it%'),"
                                            " (SELECT count(*) FROM diagnosis_related r"
                                            " WHERE r.diagnosis = min(d.id)) FROM diagnoses d"
                                            " WHERE rule = 'network-down-interfaces-failed'",
                                            -1, &q, NULL),
                         SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_int(q, 0), 1);
        ck_assert_int_eq(sqlite3_column_int(q, 1), 4);
        ck_assert_int_eq(sqlite3_column_int(q, 2), 1);
        ck_assert_int_eq(sqlite3_column_int(q, 3), 4);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    unlink(path);
    free(path);
}
END_TEST

/* The companion tie is a correlation: the VM is named whichever of the two files comes first,
 * with a restart between them. */
START_TEST(companion_names_the_vm_in_either_order)
{
    char *path = hvd_test_path(tmp, "companion.db");
    hvd_error err;

    for (int first = 0; first < 2; first++) {
        hvd_store *st = NULL;

        unlink(path);
        for (int k = 0; k < 2; k++) {
            hvd_ingest *ing = NULL;
            hvd_ingest_result res;
            const char *file = companion[(first + k) % 2].path;

            ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
            ck_assert_msg(hvd_ingest_create(&ing, st, rules, NULL, &err) == HVD_OK, "%s", err.msg);
            ck_assert_msg(hvd_ingest_file(ing, file, NULL, NULL, &res, &err) == HVD_OK, "%s",
                          err.msg);
            ck_assert_int_eq(hvd_ingest_finish(ing, NULL, &err), HVD_OK);
            hvd_ingest_destroy(ing);
            hvd_store_close(st);
        }
        ck_assert_int_eq(count_named(path, "lm-no-credentials-named", "APP07"), 1);
        ck_assert_int_eq(count_named(path, "lm-migration-failed-at-source", "APP07"), 1);
    }
    unlink(path);
    free(path);
}
END_TEST

/* Replaces every 'from' in the NUL-terminated text with 'to'; caller frees. */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t n = 0;
    size_t lf = strlen(from);
    size_t lt = strlen(to);
    char *out;
    char *w;

    for (const char *at = strstr(text, from); at; at = strstr(at + lf, from)) {
        n++;
    }
    out = malloc(strlen(text) + n * (lt > lf ? lt - lf : 0) + 1);
    ck_assert_ptr_nonnull(out);
    w = out;
    for (const char *at = text;;) {
        const char *hit = strstr(at, from);

        if (!hit) {
            memcpy(w, at, strlen(at) + 1);
            break;
        }
        memcpy(w, at, (size_t)(hit - at));
        w += hit - at;
        memcpy(w, to, lt);
        w += lt;
        at = hit + lf;
    }
    return out;
}

/* Writes one event of the migration-companion sample as its own EVTX file, at 'time', with
 * the VM 'vm' (for APP07) and the VMMS process 'pid' (for 3872). */
static char *companion_file(const char *name, int index, const char *time, unsigned erid,
                            const char *vm, const char *pid)
{
    struct pick pk = {N1MC, index, time, erid, NULL};
    char *xml_path = hvd_test_path(tmp, "export.xml");
    char *out = hvd_test_path(tmp, name);
    char *argv[] = {HVD_TEST_BINDIR "/evtxgen", xml_path, out, NULL};
    char *ev = event_text(&pk);
    char *named = replace_all(ev, "APP07", vm);
    char *text = replace_all(named, "ProcessID=\"3872\"", pid);
    FILE *f = fopen(xml_path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "<Events>\n%s\n</Events>\n", text);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
    free(xml_path);
    free(ev);
    free(named);
    free(text);
    return out;
}

/* The tie compares the process when both events carry it: a VMMS 20306 of process 3872, the
 * event of the same process naming APP07 50 ms later, and one of process 6204 naming APP09
 * two seconds later. Only APP07 is tied, in all six orders of the three files with a restart
 * before each, and every order gives the database of the time order. */
START_TEST(companion_compares_the_process_in_any_order)
{
    static const size_t orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                        {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    struct file set[3];
    char ref[HVD_STORE_DIGEST_SIZE];
    char got[HVD_STORE_DIGEST_SIZE];
    char *path = hvd_test_path(tmp, "process.db");

    set[0].path = companion_file("pid-failure.evtx", 0, "2024-03-19T13:22:07.4811022Z", 8001,
                                 "APP07", "ProcessID=\"3872\"");
    set[1].path = companion_file("pid-same.evtx", 1, "2024-03-19T13:22:07.5330418Z", 8002, "APP07",
                                 "ProcessID=\"3872\"");
    set[2].path = companion_file("pid-other.evtx", 1, "2024-03-19T13:22:09.5330418Z", 8003, "APP09",
                                 "ProcessID=\"6204\"");
    for (int i = 0; i < 6; i++) {
        hvd_error err;

        unlink(path);
        for (size_t k = 0; k < 3; k++) {
            hvd_store *st = NULL;
            hvd_ingest *ing = NULL;
            hvd_ingest_result res;

            ck_assert_int_eq(hvd_store_open(&st, path, 0, &err), HVD_OK);
            ck_assert_msg(hvd_ingest_create(&ing, st, rules, NULL, &err) == HVD_OK, "%s", err.msg);
            ck_assert_msg(hvd_ingest_file(ing, set[orders[i][k]].path, NULL, NULL, &res, &err) ==
                              HVD_OK,
                          "%s", err.msg);
            ck_assert_int_eq(hvd_ingest_finish(ing, NULL, &err), HVD_OK);
            if (k == 2) {
                ck_assert_int_eq(hvd_store_digest(st, i == 0 ? ref : got, &err), HVD_OK);
            }
            hvd_ingest_destroy(ing);
            hvd_store_close(st);
        }
        if (i > 0) {
            ck_assert_msg(strcmp(got, ref) == 0, "order %d gives another database", i);
        }
        ck_assert_int_eq(count_named(path, "lm-no-credentials-named", "APP07"), 1);
        ck_assert_int_eq(count_named(path, "lm-no-credentials-named", "APP09"), 0);
        ck_assert_int_eq(count_named(path, "lm-migration-failed-at-source", "APP09"), 1);
    }
    for (int i = 0; i < 3; i++) {
        free(set[i].path);
    }
    unlink(path);
    free(path);
}
END_TEST

/* The same bundle read twice into one database adds nothing the second time. */
START_TEST(reading_everything_again_changes_nothing)
{
    struct run r;
    char ref[HVD_STORE_DIGEST_SIZE];
    char got[HVD_STORE_DIGEST_SIZE];

    time_order(&r, files, nfiles);
    replay(&r, files, "ref.db", ref);
    for (size_t i = 0; i < nfiles; i++) {
        r.order[nfiles + i] = r.order[nfiles - 1 - i];
        r.restart[nfiles + i] = i == 0;
    }
    r.n = 2 * nfiles;
    replay(&r, files, "twice.db", got);
    ck_assert_str_eq(got, ref);
}
END_TEST

#if REPLAY_CLUSTERLOG_ANY_ORDER
/* One node's cluster.log as two exports, the later one read first. */
START_TEST(clusterlog_halves_in_either_order)
{
    struct run r;
    char ref[HVD_STORE_DIGEST_SIZE];
    char got[HVD_STORE_DIGEST_SIZE];

    time_order(&r, clog_halves, 2);
    replay(&r, clog_halves, "ref.db", ref);
    r.order[0] = 1;
    r.order[1] = 0;
    replay(&r, clog_halves, "late-first.db", got);
    ck_assert_str_eq(got, ref);
    r.restart[1] = 1;
    replay(&r, clog_halves, "late-first-restart.db", got);
    ck_assert_str_eq(got, ref);
}
END_TEST

/* The whole bundle plus both cluster.log halves, in PERMUTATIONS orders as above. */
START_TEST(any_order_with_clusterlog_halves_gives_the_time_order_database)
{
    struct file set[18];
    uint32_t state = SEED + 1;
    struct run r;
    char ref[HVD_STORE_DIGEST_SIZE];
    char got[HVD_STORE_DIGEST_SIZE];
    char why[2048];
    size_t n = nfiles + 2;

    memcpy(set, files, nfiles * sizeof(*files));
    set[nfiles] = clog_halves[0];
    set[nfiles + 1] = clog_halves[1];
    time_order(&r, set, n);
    replay(&r, set, "ref.db", ref);
    for (unsigned k = 0; k < PERMUTATIONS; k++) {
        random_run(&r, n, &state, k);
        replay(&r, set, "perm.db", got);
        describe(&r, set, why, sizeof(why));
        ck_assert_msg(strcmp(got, ref) == 0, "order %u (seed %u, fail after %ld):%s", k, SEED + 1,
                      r.fail_after, why);
    }
}
END_TEST
#endif

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("evtx_any_order");

    tcase_add_unchecked_fixture(tc, bundle_setup, bundle_teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, time_order_is_the_same_read_twice_or_restarted);
    tcase_add_test(tc, any_order_split_restart_and_retry_give_the_time_order_database);
    tcase_add_test(tc, dropping_far_state_and_regrouping_early_change_nothing);
    tcase_add_test(tc, a_long_file_in_time_order_holds_what_is_near);
    tcase_add_test(tc, a_day_long_window_holds_only_what_is_near);
    tcase_add_test(tc, reading_everything_again_changes_nothing);
    tcase_add_test(tc, companion_names_the_vm_in_either_order);
    tcase_add_test(tc, a_gathered_network_down_in_either_order);
    tcase_add_test(tc, companion_compares_the_process_in_any_order);
    suite_add_tcase(s, tc);
#if REPLAY_CLUSTERLOG_ANY_ORDER
    tc = tcase_create("clusterlog_any_order");
    tcase_add_unchecked_fixture(tc, bundle_setup, bundle_teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, clusterlog_halves_in_either_order);
    tcase_add_test(tc, any_order_with_clusterlog_halves_gives_the_time_order_database);
    suite_add_tcase(s, tc);
#endif
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;
    struct stat sb;

    /* Thousands of commits: on tmpfs when there is one (the digest is about content, and
     * fsync on a shared disk would make this minutes), unless TMPDIR says otherwise. */
    if (!getenv("TMPDIR") && stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
        access("/dev/shm", W_OK) == 0) {
        setenv("TMPDIR", "/dev/shm", 1);
    }
    sr = srunner_create(replay_suite());
    xmlInitParser();
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
