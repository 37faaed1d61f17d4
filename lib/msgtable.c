/*
 * msgtable: documented message texts, compiled into anchored regexes, that turn a rendered
 * message (a cluster.log [System] or [Operational] line) back into provider, event id, level
 * and named insertion strings. Part of the match stage: the engine asks before matching.
 *
 * A text "Cluster node '%1' was removed from the active failover cluster membership." with
 * params="NodeName" compiles to ^\s*Cluster\s+node\s+'(.*?)'\s+was\s+removed ... \.
 * (caseless, '.' matching newlines): only the text given must match, so a message that goes
 * on (the boilerplate after the first sentence) or was cut after it still matches.
 *
 * The table holds the compiled patterns; a matcher JIT-compiles its own copy of a pattern
 * the first time it tries it. Most of the hundreds of texts are never tried in a run (only
 * [System] and [Operational] lines, and forwarded events without insertion strings, are
 * looked up), and a shared table is never written to, so matchers in several threads need
 * no lock.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "msgtable.h"
#include "msgtable_internal.h"

#include "alloc.h"
#include "buf.h"
#include "xmlfile.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/parser.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PARAMS     16
#define MAX_FIELDS     64 /* the event's own fields plus insertion strings */
#define VALUE_MAX      4096
#define MATCH_LIMIT    100000
#define LIT_MAX        64
#define MESSAGES_XMLNS "urn:hvdiag:messages:1"

struct template
{
    char *provider;
    char *channel; /* the cluster.log section it appears in: "System", "Operational" */
    uint16_t event_id;
    uint8_t level;
    size_t nparams;
    char *params[MAX_PARAMS]; /* field name of %1..%n; NULL for an unnamed one */
    pcre2_code *re;
    uint32_t group_of[MAX_PARAMS]; /* capture group holding %k+1, 0 when not in the text */
    char lit[LIT_MAX + 1];         /* see hvd_msgtable_literal() */
};

struct hvd_msgtable {
    struct template *v;
    size_t n;
    size_t cap;
};

struct hvd_msgmatcher {
    const hvd_msgtable *t;
    pcre2_code **jit; /* t->n entries: the matcher's JIT-compiled copy of each tried pattern */
    int use_jit;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    hvd_field fields[MAX_FIELDS];
    char values[MAX_PARAMS][VALUE_MAX];
};

struct loader {
    hvd_msgtable *t;
    hvd_xmlfile_report rep; /* problems: the file being read, its count, the first in err */
};

static void report(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct loader *ld, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hvd_xmlfile_vproblem(&ld->rep, line, fmt, ap);
    va_end(ap);
}

static int is_el(const xmlNode *n, const char *name)
{
    return hvd_xmlfile_is_el(n, name, MESSAGES_XMLNS);
}

static int parse_level(const char *s)
{
    static const char *const names[] = {"", "critical", "error", "warning", "info", "verbose"};

    for (int i = 1; s && i < 6; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Appends c to the pattern, escaped when PCRE2 could read it as syntax. */
static int add_literal(hvd_buf *re, char c)
{
    if (!isalnum((unsigned char)c) && !((unsigned char)c & 0x80)) {
        if (hvd_buf_addc(re, '\\') < 0) {
            return -1;
        }
    }
    return hvd_buf_addc(re, c);
}

/* The longest piece of text every match holds as it is: printable ASCII without whitespace
 * (a space matches any whitespace run), '%' or the letters k and s (caseless UTF matching
 * folds them with U+212A and U+017F). */
static void keep_literal(struct template *t, const char *text)
{
    size_t best = 0;
    const char *at = text;

    for (const char *p = text; *p;) {
        const char *q = p;

        while (*q > ' ' && *q < 0x7F && *q != '%' && !strchr("kKsS", *q)) {
            q++;
        }
        if ((size_t)(q - p) > best) {
            best = (size_t)(q - p);
            at = p;
        }
        p = *q ? q + 1 : q;
        if (*q == '%') {
            while (*p >= '0' && *p <= '9') {
                p++; /* the insertion point's number */
            }
        }
    }
    best = best > LIT_MAX ? LIT_MAX : best;
    memcpy(t->lit, at, best);
    t->lit[best] = '\0';
}

int hvd__msgtext_pattern(hvd_buf *re, const char *text, size_t nparams, uint32_t *group_of,
                         enum hvd__msgtext_mode mode, char *why, size_t cap)
{
    uint32_t group = 0;
    int rc = 0;
    const char *p = text;

    rc |= hvd_buf_adds(re, mode == HVD__MSGTEXT_SEARCH ? "" : "^\\s*");
    while (isspace((unsigned char)*p)) {
        p++;
    }
    while (*p && rc == 0) {
        if (isspace((unsigned char)*p)) {
            while (isspace((unsigned char)*p)) {
                p++;
            }
            rc |= hvd_buf_adds(re, *p ? "\\s+" : "");
        } else if (p[0] == '%' && p[1] == '%') {
            rc |= add_literal(re, '%');
            p += 2;
        } else if (p[0] == '%' && isdigit((unsigned char)p[1])) {
            char *end;
            unsigned long k = strtoul(p + 1, &end, 10);

            if (k == 0 || k > nparams) {
                snprintf(why, cap, "%%%lu: the message has %zu insertion points in 'params'", k,
                         nparams);
                return -1;
            }
            /* A value at the very end (before a last full stop at most) runs to the end
             * of its sentence or line, or of a whole field: "endpoint %2." keeps the dots
             * of "10.0.0.2". */
            if (end[0] == '.' && mode != HVD__MSGTEXT_WHOLE &&
                !end[1 + strspn(end + 1, " \t\r\n")]) {
                end += strlen(end);
            }
            if (*end) {
                rc |= hvd_buf_adds(re, "(.*?)");
            } else {
                rc |= hvd_buf_adds(re,
                                   mode == HVD__MSGTEXT_WHOLE ? "(.+?)" : "(.+?)(?=\\.?\\s|\\.?$)");
            }
            group_of[k - 1] = ++group;
            p = end;
        } else {
            rc |= add_literal(re, *p++);
        }
    }
    if (rc == 0 && mode == HVD__MSGTEXT_WHOLE) {
        rc |= hvd_buf_adds(re, "\\s*$");
    }
    if (rc != 0) {
        snprintf(why, cap, "message text too long");
        return -1;
    }
    return 0;
}

/* Compiles a message text into t->re. Returns 0, or -1 after reporting. */
static int compile_text(struct loader *ld, struct template *t, const char *text, int line)
{
    hvd_buf re;
    char why[160];
    int errcode;
    PCRE2_SIZE erroff;

    keep_literal(t, text);
    hvd_buf_init(&re, 64 * 1024);
    if (hvd__msgtext_pattern(&re, text, t->nparams, t->group_of, HVD__MSGTEXT_PREFIX, why,
                             sizeof(why)) < 0) {
        hvd_buf_free(&re);
        report(ld, line, "%s", why);
        return -1;
    }
    t->re = pcre2_compile((PCRE2_SPTR)hvd_buf_str(&re), PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_CASELESS | PCRE2_DOTALL, &errcode, &erroff, NULL);
    hvd_buf_free(&re);
    if (!t->re) {
        PCRE2_UCHAR msg[200];

        pcre2_get_error_message(errcode, msg, sizeof(msg));
        report(ld, line, "message text does not compile: %s", (const char *)msg);
        return -1;
    }
    return 0; /* JIT-compiled by the matchers that try it (see the top) */
}

static void template_free(struct template *t)
{
    hvd_free(t->provider);
    hvd_free(t->channel);
    for (size_t i = 0; i < t->nparams; i++) {
        hvd_free(t->params[i]);
    }
    pcre2_code_free(t->re);
}

/* Splits "NodeName Count" into t->params. Returns 0, or -1 after reporting. */
static int parse_params(struct loader *ld, struct template *t, const char *s, int line)
{
    while (s && *s) {
        size_t len;

        while (isspace((unsigned char)*s)) {
            s++;
        }
        len = strcspn(s, " \t\r\n");
        if (len == 0) {
            break;
        }
        if (t->nparams == MAX_PARAMS) {
            report(ld, line, "more than %d params", MAX_PARAMS);
            return -1;
        }
        /* "-" names an insertion point no rule needs. */
        t->params[t->nparams] = (len == 1 && *s == '-') ? NULL : hvd_malloc(len + 1);
        if (!(len == 1 && *s == '-')) {
            if (!t->params[t->nparams]) {
                report(ld, line, "out of memory");
                return -1;
            }
            memcpy(t->params[t->nparams], s, len);
            t->params[t->nparams][len] = '\0';
        }
        t->nparams++;
        s += len;
    }
    return 0;
}

static void parse_message(struct loader *ld, const xmlNode *n, const char *provider,
                          const char *channel)
{
    struct template t;
    char *id = hvd_xmlfile_attr(n, "id");
    char *level = hvd_xmlfile_attr(n, "level");
    char *params = hvd_xmlfile_attr(n, "params");
    xmlChar *text = NULL;
    int line = (int)xmlGetLineNo(n);
    char *end = NULL;
    unsigned long v = id ? strtoul(id, &end, 10) : 0;
    int lv = parse_level(level);

    memset(&t, 0, sizeof(t));
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is_el(c, "text") && !text) {
            text = xmlNodeGetContent(c);
        }
    }
    if (!id || !end || *end || v == 0 || v > 65535) {
        report(ld, line, "<message> needs id, an event id from 1 to 65535");
    } else if (lv < 0) {
        report(ld, line, "<message> needs level: critical, error, warning, info or verbose");
    } else if (!text || !*text) {
        report(ld, line, "<message> needs a <text>");
    } else if (parse_params(ld, &t, params, line) == 0) {
        t.provider = hvd_strdup(provider);
        t.channel = hvd_strdup(channel);
        t.event_id = (uint16_t)v;
        t.level = (uint8_t)lv;
        if (!t.provider || !t.channel) {
            report(ld, line, "out of memory");
        } else if (compile_text(ld, &t, (const char *)text, line) == 0) {
            if (ld->t->n == ld->t->cap) {
                size_t cap = ld->t->cap ? 2 * ld->t->cap : 32;
                struct template *grown = hvd_realloc(ld->t->v, cap * sizeof(*grown));

                if (!grown) {
                    report(ld, line, "out of memory");
                    goto out;
                }
                ld->t->v = grown;
                ld->t->cap = cap;
            }
            ld->t->v[ld->t->n++] = t;
            memset(&t, 0, sizeof(t));
        }
    }
out:
    template_free(&t);
    xmlFree(text);
    hvd_free(id);
    hvd_free(level);
    hvd_free(params);
}

static void load_file(void *ud, const char *path)
{
    struct loader *ld = ud;
    xmlDocPtr doc = hvd_xmlfile_read(&ld->rep, path, "message files");
    const xmlNode *root;

    if (!doc) {
        return;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !is_el(root, "messages")) {
        report(ld, root ? (int)xmlGetLineNo(root) : 0,
               "the root element must be <messages xmlns=\"%s\">", MESSAGES_XMLNS);
    } else {
        char *provider = hvd_xmlfile_attr(root, "provider");
        char *channel = hvd_xmlfile_attr(root, "channel");

        if (!provider || !*provider || !channel || !*channel) {
            report(ld, (int)xmlGetLineNo(root), "<messages> needs provider and channel");
        } else {
            for (const xmlNode *n = root->children; n; n = n->next) {
                if (is_el(n, "message")) {
                    parse_message(ld, n, provider, channel);
                } else if (n->type == XML_ELEMENT_NODE) {
                    report(ld, (int)xmlGetLineNo(n), "unknown element <%s>", (const char *)n->name);
                }
            }
        }
        hvd_free(provider);
        hvd_free(channel);
    }
    xmlFreeDoc(doc);
}

int hvd_msgtable_load(hvd_msgtable **out, const char *dir, const hvd_logger *log, hvd_error *err)
{
    struct loader ld = {.rep = {.log = log, .err = err, .file = dir}};

    *out = NULL;
    ld.t = hvd_calloc(1, sizeof(*ld.t));
    if (!ld.t) {
        return hvd_error_set(err, HVD_ENOMEM, dir, 0, "out of memory");
    }
    hvd_xmlfile_each(&ld.rep, dir, load_file, &ld);
    if (ld.rep.errors) {
        hvd_msgtable_destroy(ld.t);
        return err ? err->code : HVD_ERULE;
    }
    *out = ld.t;
    return HVD_OK;
}

void hvd_msgtable_destroy(hvd_msgtable *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        template_free(&t->v[i]);
    }
    hvd_free(t->v);
    hvd_free(t);
}

size_t hvd_msgtable_count(const hvd_msgtable *t)
{
    return t ? t->n : 0;
}

void hvd_msgtable_entry(const hvd_msgtable *t, size_t i, const char **provider, uint16_t *event_id)
{
    *provider = t->v[i].provider;
    *event_id = t->v[i].event_id;
}

const char *hvd_msgtable_literal(const hvd_msgtable *t, size_t i)
{
    return t && i < t->n ? t->v[i].lit : "";
}

int hvd_msgmatcher_create(hvd_msgmatcher **out, const hvd_msgtable *t, hvd_error *err)
{
    hvd_msgmatcher *m = hvd_calloc(1, sizeof(*m));

    *out = NULL;
    if (!m) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    m->t = t;
    m->use_jit = !getenv("HVD_PCRE2_JIT") || strcmp(getenv("HVD_PCRE2_JIT"), "0") != 0;
    m->jit = t && t->n ? hvd_calloc(t->n, sizeof(*m->jit)) : NULL;
    m->md = pcre2_match_data_create(MAX_PARAMS + 1, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    if (!m->md || !m->mctx || (t && t->n && !m->jit)) {
        hvd_msgmatcher_destroy(m);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    pcre2_set_match_limit(m->mctx, MATCH_LIMIT);
    *out = m;
    return HVD_OK;
}

void hvd_msgmatcher_destroy(hvd_msgmatcher *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; m->jit && i < m->t->n; i++) {
        pcre2_code_free(m->jit[i]);
    }
    hvd_free(m->jit);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    hvd_free(m);
}

/* The pattern of template i to match with: the matcher's JIT-compiled copy, made the first
 * time; the table's own (interpreted, same answers) without JIT or memory for a copy. */
static const pcre2_code *pattern_of(hvd_msgmatcher *m, size_t i)
{
    pcre2_code *copy;

    if (m->jit[i]) {
        return m->jit[i];
    }
    if (!m->use_jit || !(copy = pcre2_code_copy(m->t->v[i].re))) {
        return m->t->v[i].re;
    }
    pcre2_jit_compile(copy, PCRE2_JIT_COMPLETE);
    m->jit[i] = copy;
    return copy;
}

/* Fills out from the template that matched; values are copied (and cut at VALUE_MAX - 1
 * bytes) into the matcher, since the match data is reused. */
static void fill(hvd_msgmatcher *m, const struct template *t, const hvd_event *ev,
                 hvd_msgtable_match *out)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
    size_t n = 0;

    for (size_t i = 0; i < ev->nfields && n < MAX_FIELDS - MAX_PARAMS; i++) {
        m->fields[n++] = ev->fields[i];
    }
    for (size_t k = 0; k < t->nparams; k++) {
        uint32_t g = t->group_of[k];
        size_t len;

        if (!t->params[k] || g == 0 || ov[2 * g] == PCRE2_UNSET) {
            continue;
        }
        len = ov[2 * g + 1] - ov[2 * g];
        len = len < VALUE_MAX - 1 ? len : VALUE_MAX - 1;
        memcpy(m->values[k], ev->message + ov[2 * g], len);
        m->values[k][len] = '\0';
        m->fields[n].name = t->params[k];
        m->fields[n].value = m->values[k];
        n++;
    }
    out->provider = t->provider;
    out->channel = t->channel;
    out->event_id = t->event_id;
    out->level = t->level;
    out->fields = m->fields;
    out->nfields = n;
}

int hvd_msgmatcher_match(hvd_msgmatcher *m, const hvd_event *ev, hvd_msgtable_match *out)
{
    const hvd_msgtable *t = m->t;
    size_t len;

    if (!t || t->n == 0 || !ev->message || !*ev->message) {
        return 0;
    }
    if (ev->kind == HVD_SOURCE_EVTX) {
        /* A forwarded event that carries its rendered message but no insertion strings:
         * the template of its own provider and id gives them back. */
        if (ev->nfields != 0 || ev->system_only || !ev->provider) {
            return 0;
        }
    } else if (ev->kind != HVD_SOURCE_CLUSTERLOG || ev->event_id != 0 || !ev->channel ||
               !*ev->channel) {
        return 0;
    }
    len = strlen(ev->message);
    for (size_t i = 0; i < t->n; i++) {
        const struct template *tp = &t->v[i];
        int rc;

        if (ev->kind == HVD_SOURCE_EVTX
                ? tp->event_id != ev->event_id || strcasecmp(tp->provider, ev->provider) != 0
                : strcasecmp(tp->channel, ev->channel) != 0) {
            continue;
        }
        rc = pcre2_match(pattern_of(m, i), (PCRE2_SPTR)ev->message, len, 0, 0, m->md, m->mctx);
        if (rc > 0) {
            fill(m, tp, ev, out);
            return 1;
        }
        if (rc == PCRE2_ERROR_NOMEMORY) {
            return HVD_ENOMEM;
        }
    }
    return 0;
}
