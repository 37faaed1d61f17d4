/*
 * needs_digest: reads every input file under the given folders (recursively, in name order)
 * into two fresh databases, one with the rules' needs filter (records no rule can match
 * decoded up to System only, the default) and one decoding every record whole, and requires
 * the same store digest, the same events read and the same records skipped. It also
 * requires the filter to have skipped some EventData when asked (--expect-filtered), so a
 * filter that never acts cannot pass unnoticed.
 * usage: needs_digest RULES_DIR [--expect-filtered] [--skip-missing] DIR...
 * Exit: 0 same, 1 different (or an error), 77 every DIR missing with --skip-missing.
 */
#define _XOPEN_SOURCE 700
#include "ingest.h"
#include "rules.h"
#include "source.h"
#include "store.h"

#include <ftw.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 4096

static char *files[MAX_FILES];
static size_t nfiles;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    hvd_error err;

    (void)sb;
    (void)ftw;
    size_t n = strlen(path);

    if (type != FTW_F || nfiles == MAX_FILES ||
        (n > 4 && (strcmp(path + n - 4, ".xml") == 0 || strcmp(path + n - 3, ".md") == 0))) {
        return 0; /* event XML, notes */
    }
    if (hvd_source_detect(path, NULL, &err) == HVD_SOURCE_UNKNOWN) {
        return 0;
    }
    files[nfiles] = strdup(path);
    nfiles += files[nfiles] != NULL;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct totals {
    uint64_t events;
    uint64_t skipped;
    uint64_t system_only;
    char digest[HVD_STORE_DIGEST_SIZE];
};

/* Reads every file into a new database at db; 0 or -1. */
static int run(const hvd_ruleset *rs, const char *db, int decode_all, struct totals *t)
{
    hvd_ingest_options opt = {0};
    hvd_store *st = NULL;
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_error err;
    int rc = -1;

    memset(t, 0, sizeof(*t));
    opt.decode_all = decode_all;
    opt.evtx_decoder = HVD_EVTX_NATIVE;
    unlink(db);
    if (hvd_store_open(&st, db, 0, &err) < 0 || hvd_ingest_create(&ing, st, rs, NULL, &err) < 0) {
        fprintf(stderr, "needs_digest: %s\n", err.msg);
        goto out;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (hvd_ingest_file(ing, files[i], NULL, &opt, &res, &err) < 0) {
            /* An unreadable file fails alike both ways; it is counted, not fatal. */
            t->skipped++;
            continue;
        }
        t->events += res.events;
        t->skipped += res.stats.skipped;
        t->system_only += res.stats.system_only;
    }
    if (hvd_ingest_finish(ing, NULL, &err) < 0 || hvd_store_digest(st, t->digest, &err) < 0) {
        fprintf(stderr, "needs_digest: %s\n", err.msg);
        goto out;
    }
    rc = 0;
out:
    hvd_ingest_destroy(ing);
    hvd_store_close(st);
    unlink(db);
    return rc;
}

int main(int argc, char **argv)
{
    hvd_ruleset *rs = NULL;
    hvd_error err;
    struct totals on;
    struct totals off;
    char db[64];
    int expect_filtered = 0;
    int skip_missing = 0;
    int dirs = 0;
    int present = 0;
    int rc = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: needs_digest RULES_DIR [--expect-filtered] [--skip-missing] "
                        "DIR...\n");
        return 2;
    }
    xmlInitParser();
    for (int i = 2; i < argc; i++) {
        struct stat sb;

        if (strcmp(argv[i], "--expect-filtered") == 0) {
            expect_filtered = 1;
            continue;
        }
        if (strcmp(argv[i], "--skip-missing") == 0) {
            skip_missing = 1;
            continue;
        }
        dirs++;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "needs_digest: %s: missing\n", argv[i]);
            continue;
        }
        present++;
        nftw(argv[i], collect, 16, FTW_PHYS);
    }
    if (present < dirs && !(skip_missing && present == 0)) {
        return 1;
    }
    if (present == 0) {
        printf("needs_digest: no input folder; skipped\n");
        return 77;
    }
    qsort(files, nfiles, sizeof(files[0]), by_name);
    if (hvd_ruleset_load(&rs, argv[1], NULL, NULL, &err) < 0) {
        fprintf(stderr, "needs_digest: %s\n", err.msg);
        return 1;
    }
    snprintf(db, sizeof(db), "/tmp/needs-digest-%ld.db", (long)getpid());
    if (nfiles == 0 || run(rs, db, 0, &on) < 0 || run(rs, db, 1, &off) < 0) {
        fprintf(stderr, "needs_digest: no file read\n");
        goto out;
    }
    printf("%zu files: %" PRIu64 " events, %" PRIu64 " skipped; filter on: %" PRIu64
           " read to System only, digest %s; filter off: %" PRIu64 ", digest %s\n",
           nfiles, on.events, on.skipped, on.system_only, on.digest, off.system_only, off.digest);
    if (strcmp(on.digest, off.digest) != 0 || on.events != off.events ||
        on.skipped != off.skipped) {
        fprintf(stderr, "FAIL: the needs filter changed the result\n");
        goto out;
    }
    if (off.system_only != 0 || (expect_filtered && on.system_only == 0)) {
        fprintf(stderr, "FAIL: the filter did not act as asked\n");
        goto out;
    }
    rc = 0;
out:
    hvd_ruleset_destroy(rs);
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i]);
    }
    xmlCleanupParser();
    return rc;
}
