/*
 * libFuzzer target for the query request line, against a small real store: on first use a
 * SQLite file is made in a private temporary folder by ingesting a real cluster.log from
 * tests/data with the shipped rules. Each input is one request line; the answer must be one
 * line of JSON with "ok".
 */
#include "alloc.h"
#include "fuzz_util.h"
#include "ingest.h"
#include "query.h"
#include "rules.h"
#include "store.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(HVD_FUZZ_RULES) || !defined(HVD_FUZZ_STORE_INPUT)
#error "HVD_FUZZ_RULES and HVD_FUZZ_STORE_INPUT name the rules and a cluster.log"
#endif

static hvd_store *st;
static hvd_ruleset *rs;

static void setup(void)
{
    char db[4200];
    hvd_ingest *ing = NULL;
    hvd_ingest_result res;
    hvd_error err;
    int changed = 0;

    xmlInitParser();
    if (snprintf(db, sizeof(db), "%s/q.db", hvd_fuzz_tmpdir()) >= (int)sizeof(db) ||
        hvd_ruleset_load(&rs, HVD_FUZZ_RULES, NULL, NULL, &err) < 0 ||
        hvd_store_open(&st, db, 0, &err) < 0 || hvd_ingest_create(&ing, st, rs, NULL, &err) < 0 ||
        hvd_ingest_file(ing, HVD_FUZZ_STORE_INPUT, NULL, NULL, &res, &err) < 0 ||
        hvd_ingest_finish(ing, &changed, &err) < 0) {
        fprintf(stderr, "fuzz_query: cannot build the store: %s\n", err.msg);
        abort();
    }
    hvd_ingest_destroy(ing);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hvd_query_context q;
    char *answer;

    if (!st) {
        setup();
    }
    memset(&q, 0, sizeof(q));
    q.store = st;
    q.rules = rs;
    answer = hvd_query_handle(&q, (const char *)data, size);
    if (!answer) {
        return 0; /* out of memory */
    }
    if (strncmp(answer, "{\"ok\":", 6) != 0 || strchr(answer, '\n')) {
        fprintf(stderr, "not one JSON line: %s\n", answer);
        abort();
    }
    hvd_free(answer);
    return 0;
}
