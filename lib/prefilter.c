/*
 * prefilter: many literals, one pass. Part of the read stage's fast path: the text reader
 * scans each decoded chunk once and learns which lines hold a literal of the rule set.
 *
 * Two backends behind one interface, chosen at build time as Redis' ae.c picks its poller:
 * Vectorscan (HVD_HAVE_VECTORSCAN), whose literal compiler builds a SIMD multi-literal
 * matcher; otherwise one PCRE2 alternation of the escaped literals (caseless, not UTF: only
 * ASCII folds, as in Vectorscan), searched from each line start and resumed at the next
 * line after a hit. Both answer the same question exactly: which lines hold a literal. So
 * what a file yields does not depend on the backend.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "prefilter.h"

#include "alloc.h"
#include "buf.h"

#include <ctype.h>
#include <pcre2.h>
#include <string.h>
#include <strings.h>

#ifdef HVD_HAVE_VECTORSCAN
#include <hs.h>
#endif

struct hvd_prefilter {
    char **lits;
    size_t n;
#ifdef HVD_HAVE_VECTORSCAN
    hs_database_t *db;
#else
    pcre2_code *re;
#endif
};

struct hvd_prefilter_scanner {
    const hvd_prefilter *pf;
#ifdef HVD_HAVE_VECTORSCAN
    hs_scratch_t *scratch;
#else
    pcre2_match_data *md;
#endif
};

void hvd_prefilter_destroy(hvd_prefilter *pf)
{
    if (!pf) {
        return;
    }
    for (size_t i = 0; i < pf->n; i++) {
        hvd_free(pf->lits[i]);
    }
    hvd_free(pf->lits);
#ifdef HVD_HAVE_VECTORSCAN
    hs_free_database(pf->db);
#else
    pcre2_code_free(pf->re);
#endif
    hvd_free(pf);
}

#ifdef HVD_HAVE_VECTORSCAN
static int backend_compile(hvd_prefilter *pf, hvd_error *err)
{
    unsigned *flags = hvd_calloc(pf->n, sizeof(*flags));
    size_t *lens = hvd_calloc(pf->n, sizeof(*lens));
    hs_compile_error_t *ce = NULL;
    int rc = HVD_OK;

    if (!flags || !lens) {
        rc = hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot compile the prefilter");
        goto out;
    }
    for (size_t i = 0; i < pf->n; i++) {
        flags[i] = HS_FLAG_CASELESS;
        lens[i] = strlen(pf->lits[i]);
    }
    if (hs_compile_lit_multi((const char *const *)pf->lits, flags, NULL, lens, (unsigned)pf->n,
                             HS_MODE_BLOCK, NULL, &pf->db, &ce) != HS_SUCCESS) {
        rc = hvd_error_set(err, HVD_EINVAL, NULL, 0, "prefilter: vectorscan: %s",
                           ce && ce->message ? ce->message : "cannot compile");
        hs_free_compile_error(ce);
    }
out:
    hvd_free(flags);
    hvd_free(lens);
    return rc;
}
#else
static int backend_compile(hvd_prefilter *pf, hvd_error *err)
{
    hvd_buf re;
    int code;
    PCRE2_SIZE off;
    int rc = HVD_OK;

    hvd_buf_init(&re, (size_t)16 << 20);
    for (size_t i = 0; i < pf->n && rc == HVD_OK; i++) {
        if (i > 0) {
            rc = hvd_buf_addc(&re, '|');
        }
        for (const char *p = pf->lits[i]; *p && rc == HVD_OK; p++) {
            if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') &&
                !(*p >= 'A' && *p <= 'Z')) {
                rc = hvd_buf_addc(&re, '\\');
            }
            rc = rc == HVD_OK ? hvd_buf_addc(&re, *p) : rc;
        }
    }
    if (rc == HVD_OK) {
        rc = hvd_buf_adds(&re, "");
    }
    if (rc < 0) {
        hvd_buf_free(&re);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot compile the prefilter");
    }
    pf->re = pcre2_compile((PCRE2_SPTR)hvd_buf_str(&re), PCRE2_ZERO_TERMINATED, PCRE2_CASELESS,
                           &code, &off, NULL);
    hvd_buf_free(&re);
    if (!pf->re) {
        return hvd_error_set(err, code == PCRE2_ERROR_NOMEMORY ? HVD_ENOMEM : HVD_EINVAL, NULL, 0,
                             "prefilter: PCRE2 error %d", code);
    }
    pcre2_jit_compile(pf->re, PCRE2_JIT_COMPLETE);
    return HVD_OK;
}
#endif

/* Drops every literal that holds another one: a line holding it holds the other, so the
 * lines found are the same, with fewer literals to compile and fewer matches to mark.
 * The literals are ASCII, so comparing lowered copies with strstr() ignores case as the
 * scan does. Cost: O(n^2) strstr() calls over literals of at most HVD_PREFILTER_LIT_MAX
 * bytes; without memory for the copies nothing is dropped (the lines found are the same). */
static void drop_superstrings(hvd_prefilter *pf)
{
    char *low = hvd_malloc(pf->n * (HVD_PREFILTER_LIT_MAX + 1) + 1);
    size_t *len = hvd_calloc(pf->n ? pf->n : 1, sizeof(*len));
    size_t k = 0;

    if (!low || !len) {
        goto out;
    }
    for (size_t i = 0; i < pf->n; i++) {
        char *l = low + i * (HVD_PREFILTER_LIT_MAX + 1);

        len[i] = strlen(pf->lits[i]);
        for (size_t c = 0; c <= len[i]; c++) {
            l[c] = (char)tolower((unsigned char)pf->lits[i][c]);
        }
    }
    for (size_t i = 0; i < pf->n; i++) {
        const char *hay = low + i * (HVD_PREFILTER_LIT_MAX + 1);
        int held = 0;

        for (size_t j = 0; j < pf->n && !held; j++) {
            held = j != i && pf->lits[j] && len[j] <= len[i] &&
                   strstr(hay, low + j * (HVD_PREFILTER_LIT_MAX + 1)) != NULL;
        }
        if (held) {
            hvd_free(pf->lits[i]);
            pf->lits[i] = NULL; /* seen as gone by the literals after it */
        }
    }
    for (size_t i = 0; i < pf->n; i++) {
        if (pf->lits[i]) {
            pf->lits[k++] = pf->lits[i];
        }
    }
    pf->n = k;
out:
    hvd_free(low);
    hvd_free(len);
}

/* Cost: O(n^2) string compares to drop duplicates and literals holding others (n is a few
 * hundred), then the compile. */
int hvd_prefilter_create(hvd_prefilter **out, const char *const *lits, size_t n, hvd_error *err)
{
    hvd_prefilter *pf = NULL;
    int rc;

    *out = NULL;
    pf = hvd_calloc(1, sizeof(*pf));
    if (!pf || !(pf->lits = hvd_calloc(n ? n : 1, sizeof(*pf->lits)))) {
        hvd_free(pf);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate the prefilter");
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lits[i]);
        int dup = 0;

        if (len == 0) {
            rc = hvd_error_set(err, HVD_EINVAL, NULL, 0, "prefilter: empty literal");
            goto fail;
        }
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)lits[i][k];

            if (c >= 0x80 || c == '\n' || c == '\0') {
                rc = hvd_error_set(err, HVD_EINVAL, NULL, 0, "prefilter: literal not ASCII");
                goto fail;
            }
        }
        len = len > HVD_PREFILTER_LIT_MAX ? HVD_PREFILTER_LIT_MAX : len;
        for (size_t k = 0; k < pf->n && !dup; k++) {
            dup = strlen(pf->lits[k]) == len && strncasecmp(pf->lits[k], lits[i], len) == 0;
        }
        if (dup) {
            continue;
        }
        pf->lits[pf->n] = hvd_strndup(lits[i], len);
        if (!pf->lits[pf->n]) {
            rc = hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate the prefilter");
            goto fail;
        }
        pf->n++;
    }
    drop_superstrings(pf);
    rc = pf->n ? backend_compile(pf, err) : HVD_OK; /* no literal: no line is a hit */
    if (rc < 0) {
        goto fail;
    }
    *out = pf;
    return HVD_OK;
fail:
    hvd_prefilter_destroy(pf);
    return rc;
}

size_t hvd_prefilter_count(const hvd_prefilter *pf)
{
    return pf ? pf->n : 0;
}

const char *hvd_prefilter_literal(const hvd_prefilter *pf, size_t i)
{
    return pf && i < pf->n ? pf->lits[i] : NULL;
}

const char *hvd_prefilter_backend(const hvd_prefilter *pf)
{
    (void)pf;
#ifdef HVD_HAVE_VECTORSCAN
    return "vectorscan";
#else
    return "pcre2";
#endif
}

void hvd_prefilter_scanner_destroy(hvd_prefilter_scanner *s)
{
    if (!s) {
        return;
    }
#ifdef HVD_HAVE_VECTORSCAN
    hs_free_scratch(s->scratch);
#else
    pcre2_match_data_free(s->md);
#endif
    hvd_free(s);
}

int hvd_prefilter_scanner_create(hvd_prefilter_scanner **out, const hvd_prefilter *pf,
                                 hvd_error *err)
{
    hvd_prefilter_scanner *s = hvd_calloc(1, sizeof(*s));

    *out = NULL;
    if (!s) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate a prefilter scanner");
    }
    s->pf = pf;
#ifdef HVD_HAVE_VECTORSCAN
    if (pf->db && hs_alloc_scratch(pf->db, &s->scratch) != HS_SUCCESS) {
        hvd_free(s);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate a prefilter scanner");
    }
#else
    s->md = pcre2_match_data_create(1, NULL);
    if (!s->md) {
        hvd_free(s);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate a prefilter scanner");
    }
#endif
    *out = s;
    return HVD_OK;
}

#ifdef HVD_HAVE_VECTORSCAN
static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ud)
{
    uint64_t *bits = ud;

    (void)id;
    (void)from;
    (void)flags;
    bits[(to - 1) >> 6] |= UINT64_C(1) << ((to - 1) & 63);
    return 0;
}

static int on_first(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ud)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    *(int *)ud = 1;
    return 1; /* one is enough: stop */
}

int hvd_prefilter_holds(hvd_prefilter_scanner *s, const char *buf, size_t len)
{
    int held = 0;
    hs_error_t rc;

    if (len == 0 || !s->pf->db) {
        return 0;
    }
    if (len > UINT32_MAX) {
        return HVD_EIO;
    }
    rc = hs_scan(s->pf->db, buf, (unsigned)len, 0, s->scratch, on_first, &held);
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED ? held : HVD_EIO;
}

int hvd_prefilter_scan(hvd_prefilter_scanner *s, const char *buf, size_t len, uint64_t *bits)
{
    /* hs_scan() takes an unsigned length: chunks are far below 4 GiB. */
    if (len == 0 || !s->pf->db) {
        return HVD_OK;
    }
    if (len > UINT32_MAX ||
        hs_scan(s->pf->db, buf, (unsigned)len, 0, s->scratch, on_match, bits) != HS_SUCCESS) {
        return HVD_EIO;
    }
    return HVD_OK;
}
#else
int hvd_prefilter_scan(hvd_prefilter_scanner *s, const char *buf, size_t len, uint64_t *bits)
{
    PCRE2_SIZE at = 0;

    while (s->pf->re && at < len) {
        int rc = pcre2_match(s->pf->re, (PCRE2_SPTR)buf, len, at, 0, s->md, NULL);
        const PCRE2_SIZE *ov;
        const char *nl;

        if (rc == PCRE2_ERROR_NOMATCH) {
            break;
        }
        if (rc < 0) {
            return HVD_EIO;
        }
        ov = pcre2_get_ovector_pointer(s->md);
        bits[(ov[1] - 1) >> 6] |= UINT64_C(1) << ((ov[1] - 1) & 63);
        /* The line is a hit: go on at the next one. */
        nl = memchr(buf + ov[1], '\n', len - ov[1]);
        at = nl ? (PCRE2_SIZE)(nl - buf) + 1 : len;
    }
    return HVD_OK;
}

int hvd_prefilter_holds(hvd_prefilter_scanner *s, const char *buf, size_t len)
{
    int rc;

    if (len == 0 || !s->pf->re) {
        return 0;
    }
    rc = pcre2_match(s->pf->re, (PCRE2_SPTR)buf, len, 0, 0, s->md, NULL);
    return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : HVD_EIO;
}
#endif
