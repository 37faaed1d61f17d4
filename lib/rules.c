/*
 * rules: loads rule files into a compiled rule set.
 *
 * Each file is read whole (rule files are small; capped at 8 MiB), parsed with
 * XML_PARSE_NONET by a parser that stops at a DOCTYPE (so no entity is ever declared,
 * expanded or fetched, whatever the encoding), checked to be UTF-8, validated against
 * the XML Schema, and compiled: PCRE2 regexes once
 * with JIT and match limits, durations, event-id ranges, templates checked against the
 * entities the rule can produce, correlation members resolved to rule indexes. Every
 * problem is reported as "file:line: message"; any problem rejects the whole set.
 * All strings and arrays of the set live in one arena, freed at once.
 */
#include "rules_internal.h"

#include "alloc.h"
#include "buf.h"
#include "errcode.h"
#include "template.h"
#include "xmlfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/xmlstring.h>
#include <libxml/xmlschemas.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define RULE_FILE_MAX HVD_XMLFILE_MAX
#define RULES_NS      "urn:hvdiag:rules:1"
#define EVENT_NS      "http://schemas.microsoft.com/win/2004/08/events/event"
#define TICK          INT64_C(10000000)

/* Load-time state: where errors go and how many there were. */
struct loader {
    hvd_ruleset *rs;
    unsigned flags;         /* HVD_RULESET_* */
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

/* --- arena -------------------------------------------------------------------------- */

static void *arena_alloc(hvd_ruleset *rs, size_t n)
{
    return hvd_arena_alloc(&rs->arena, n);
}

void *hvd__ruleset_alloc(hvd_ruleset *rs, size_t n)
{
    return arena_alloc(rs, n);
}

static char *arena_strdup(hvd_ruleset *rs, const char *s)
{
    return hvd_arena_strdup(&rs->arena, s);
}

static int keep_code(hvd_ruleset *rs, pcre2_code *code)
{
    if (rs->ncodes == rs->codes_cap) {
        size_t cap = rs->codes_cap ? 2 * rs->codes_cap : 64;
        pcre2_code **grown = hvd_realloc(rs->codes, cap * sizeof(*grown));

        if (!grown) {
            pcre2_code_free(code);
            return -1;
        }
        rs->codes = grown;
        rs->codes_cap = cap;
    }
    rs->codes[rs->ncodes++] = code;
    return 0;
}

/* --- small helpers ------------------------------------------------------------------ */

static int is_el(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static int line_of(const xmlNode *n)
{
    return (int)xmlGetLineNo(n);
}

/* Attribute or text, copied into the arena; NULL when absent. Whitespace at the ends of
 * element text is trimmed. */
static char *attr(struct loader *ld, const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *copy;

    if (!v) {
        return NULL;
    }
    copy = arena_strdup(ld->rs, (const char *)v);
    xmlFree(v);
    return copy;
}

static char *text(struct loader *ld, const xmlNode *n)
{
    xmlChar *v = xmlNodeGetContent(n);
    char *s;
    char *end;
    char *copy;

    if (!v) {
        return arena_strdup(ld->rs, "");
    }
    s = (char *)v;
    while (isspace((unsigned char)*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) {
        end--;
    }
    *end = '\0';
    copy = arena_strdup(ld->rs, s);
    xmlFree(v);
    return copy;
}

/* Multi-line texts (cause, remedy): each line's common indentation removed. */
static char *block_text(struct loader *ld, const xmlNode *n)
{
    char *t = text(ld, n);
    hvd_buf out;
    size_t indent = (size_t)-1;
    char *copy;

    if (!t || !strchr(t, '\n')) {
        return t;
    }
    /* The smallest indentation of the lines after the first, blank lines aside. */
    for (const char *line = strchr(t, '\n'); line; line = strchr(line, '\n')) {
        size_t k;

        line++;
        k = strspn(line, " \t");
        if (line[k] && line[k] != '\n' && k < indent) {
            indent = k;
        }
    }
    if (indent == (size_t)-1) {
        indent = 0;
    }
    hvd_buf_init(&out, RULE_FILE_MAX);
    for (const char *line = t; line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t skip = line == t ? 0 : strspn(line, " \t");

        if (skip > indent) {
            skip = indent;
        }
        if (skip > len) {
            skip = len;
        }
        if (hvd_buf_add(&out, line + skip, len - skip) < 0 ||
            (nl && hvd_buf_addc(&out, '\n') < 0)) {
            return t;
        }
        line = nl ? nl + 1 : NULL;
    }
    copy = arena_strdup(ld->rs, hvd_buf_str(&out));
    hvd_buf_free(&out);
    return copy ? copy : t;
}

static int parse_bool(const char *s, int dflt)
{
    if (!s) {
        return dflt;
    }
    return strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
}

/* Reads the decimal number at s (digits only: no sign, no blanks) into *out; returns the
 * first byte after it, or NULL when s does not start with a digit or the number exceeds max. */
static const char *read_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)*s)) {
        return NULL;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE || v > max) {
        return NULL;
    }
    *out = v;
    return end;
}

/* A whole attribute as a number in [min, max]; reports "file:line: bad <what>" otherwise. */
static int parse_count(struct loader *ld, int line, const char *what, const char *s, long min,
                       long max, long *out)
{
    unsigned long long v = 0;
    const char *end = s ? read_uint(s, (unsigned long long)max, &v) : NULL;

    if (!end || *end || v < (unsigned long long)min) {
        report(ld, line, "bad %s '%s': a whole number from %ld to %ld", what, s ? s : "", min, max);
        return -1;
    }
    *out = (long)v;
    return 0;
}

/*
 * A duration: one or more <number><unit> parts (s, m, h, d), summed; "1h30m". The total is
 * at most HVD_RULE_MAX_DURATION seconds, so every sum the engine makes of an event time and
 * a duration stays far from overflow. Each part is checked before it is added, so no
 * intermediate value can wrap. Reports "file:line: bad <what> ..." on any problem.
 */
static int parse_duration(struct loader *ld, int line, const char *what, const char *s,
                          int64_t *out)
{
    const unsigned long long max = HVD_RULE_MAX_DURATION;
    unsigned long long total = 0;
    const char *p = s;

    if (!s || !*s) {
        report(ld, line, "bad %s: empty duration", what);
        return -1;
    }
    while (*p) {
        unsigned long long v = 0;
        unsigned long long unit;
        const char *end;

        if (!isdigit((unsigned char)*p)) {
            report(ld, line, "bad %s '%s': expected <number><unit> parts such as 1h30m", what, s);
            return -1;
        }
        end = read_uint(p, max, &v);
        if (!end) {
            report(ld, line, "bad %s '%s': longer than the maximum of %llud", what, s, max / 86400);
            return -1;
        }
        switch (*end) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        default:
            report(ld, line, "bad %s '%s': unit must be s, m, h or d", what, s);
            return -1;
        }
        if (v > (max - total) / unit) {
            report(ld, line, "bad %s '%s': longer than the maximum of %llud", what, s, max / 86400);
            return -1;
        }
        total += v * unit;
        p = end + 1;
    }
    *out = (int64_t)total * TICK;
    return 0;
}

void hvd__channel_normalise(const char *in, char *out, size_t cap)
{
    static const char *const suffixes[] = {"admin", "operational",       "analytic",
                                           "debug", "diagnosticverbose", "diagnostic"};
    size_t n = 0;

    for (; in[n] && n + 1 < cap; n++) {
        out[n] = (char)tolower((unsigned char)in[n]);
    }
    out[n] = '\0';
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t m = strlen(suffixes[i]);

        if (n > m + 1 && strcmp(out + n - m, suffixes[i]) == 0 &&
            (out[n - m - 1] == '-' || out[n - m - 1] == '/')) {
            out[n - m - 1] = '/';
            break;
        }
    }
}

long hvd__ruleset_find(const hvd_ruleset *rs, const char *id)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        if (strcmp(rs->rules[i].info.id, id) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Compiles a regex; on failure reports it at line and returns NULL. */
static pcre2_code *compile(struct loader *ld, const char *pattern, int line)
{
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re;
    uint32_t captures = 0;

    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &offset, NULL);
    if (!re) {
        PCRE2_UCHAR msg[200];

        pcre2_get_error_message(code, msg, sizeof(msg));
        report(ld, line, "regex error at offset %zu: %s", (size_t)offset, (char *)msg);
        return NULL;
    }
    /* JIT-compiled at its first match: hvd__ruleset_jit(). */
    if (keep_code(ld->rs, re) < 0) {
        report(ld, line, "out of memory");
        return NULL;
    }
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &captures);
    if (captures > ld->rs->max_captures) {
        ld->rs->max_captures = captures;
    }
    return re;
}

static enum hvd__op parse_op(const char *s, enum hvd__op dflt)
{
    if (!s) {
        return dflt;
    }
    if (strcmp(s, "contains") == 0) {
        return HVD__OP_CONTAINS;
    }
    if (strcmp(s, "regex") == 0) {
        return HVD__OP_REGEX;
    }
    if (strcmp(s, "exists") == 0) {
        return HVD__OP_EXISTS;
    }
    if (strcmp(s, "absent") == 0) {
        return HVD__OP_ABSENT;
    }
    return HVD__OP_EQUALS;
}

/* --- entity names a rule can produce ------------------------------------------------ */

struct names {
    const char *v[128];
    size_t n;
};

static void names_add(struct loader *ld, struct names *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (strcmp(ns->v[i], name) == 0) {
            return;
        }
    }
    if (ns->n < sizeof(ns->v) / sizeof(ns->v[0])) {
        ns->v[ns->n++] = arena_strdup(ld->rs, name);
    }
}

static int names_has(const struct names *ns, const char *name, size_t len)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (strlen(ns->v[i]) == len && strncmp(ns->v[i], name, len) == 0) {
            return 1;
        }
    }
    /* X_short exists for every entity X. */
    if (len > 6 && strncmp(name + len - 6, "_short", 6) == 0) {
        return names_has(ns, name, len - 6);
    }
    return 0;
}

static void capture_names(struct loader *ld, struct names *ns, pcre2_code *re)
{
    uint32_t count = 0;
    uint32_t size = 0;
    PCRE2_SPTR table = NULL;

    if (!re) {
        return;
    }
    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count; i++) {
        names_add(ld, ns, (const char *)(table + i * size + 2));
    }
}

static int name_known(void *ud, const char *name, size_t len)
{
    return names_has(ud, name, len);
}

/* Checks a template's syntax and that every {name} in it is an entity the rule can
 * produce. */
static void check_template(struct loader *ld, const char *tmpl, const struct names *ns, int line,
                           const char *what)
{
    char msg[200];

    if (hvd_template_check(tmpl, name_known, (void *)ns, msg, sizeof(msg)) < 0) {
        report(ld, line, "%s: %s", what, msg);
    }
}

/* --- predicates --------------------------------------------------------------------- */

static size_t count_elements(const xmlNode *n)
{
    size_t k = 0;

    for (const xmlNode *c = n->children; c; c = c->next) {
        k += c->type == XML_ELEMENT_NODE;
    }
    return k;
}

/* "4 16-18 1069": blank-separated ids and inclusive ranges, each id at most 65535.
 * Anything else is reported; the array is sized by the tokens, so it never overflows. */
static int parse_ranges(struct loader *ld, hvd__pred *p, const char *s, int line)
{
    size_t n = 0;
    const char *q;

    for (q = s; *q; q++) {
        n += !isspace((unsigned char)*q) && (q == s || isspace((unsigned char)q[-1]));
    }
    p->ranges = arena_alloc(ld->rs, (n ? n : 1) * sizeof(*p->ranges));
    if (!p->ranges) {
        return -1;
    }
    for (q = s; *q;) {
        unsigned long long lo = 0;
        unsigned long long hi;
        const char *end;

        while (isspace((unsigned char)*q)) {
            q++;
        }
        if (!*q) {
            break;
        }
        end = read_uint(q, 65535, &lo);
        hi = lo;
        if (end && *end == '-') {
            end = read_uint(end + 1, 65535, &hi);
        }
        if (!end || (*end && !isspace((unsigned char)*end)) || hi < lo || p->nranges == n) {
            report(ld, line, "bad event id range '%s': ids and ranges (4 16-18) up to 65535", s);
            return -1;
        }
        p->ranges[p->nranges].lo = (uint32_t)lo;
        p->ranges[p->nranges].hi = (uint32_t)hi;
        p->nranges++;
        q = end;
    }
    if (p->nranges == 0) {
        report(ld, line, "bad event id range '%s': no id", s);
        return -1;
    }
    return 0;
}

static unsigned parse_levels(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {{"critical", 1}, {"error", 2}, {"warning", 3}, {"info", 4}, {"verbose", 5}};
    unsigned mask = 0;

    for (size_t i = 0; i < 5; i++) {
        const char *hit = strstr(s, names[i].name);

        if (hit) {
            mask |= 1u << names[i].level;
            if (names[i].level == 4) {
                mask |= 1u; /* LogAlways (0) is shown as Information */
            }
        }
    }
    return mask;
}

static int parse_pred(struct loader *ld, const xmlNode *n, hvd__pred *p, struct names *ns,
                      int *has_code);

static int parse_kids(struct loader *ld, const xmlNode *n, hvd__pred *p, struct names *ns,
                      int *has_code)
{
    size_t k = 0;

    p->nkids = count_elements(n);
    p->kids = arena_alloc(ld->rs, (p->nkids ? p->nkids : 1) * sizeof(*p->kids));
    if (!p->kids) {
        return -1;
    }
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && parse_pred(ld, c, &p->kids[k++], ns, has_code) < 0) {
            return -1;
        }
    }
    return 0;
}

static int parse_pred(struct loader *ld, const xmlNode *n, hvd__pred *p, struct names *ns,
                      int *has_code)
{
    const char *name = (const char *)n->name;
    int line = line_of(n);

    p->line = line;
    if (strcmp(name, "all") == 0 || strcmp(name, "any") == 0 || strcmp(name, "not") == 0) {
        p->kind = name[0] == 'a' ? (name[1] == 'l' ? HVD__P_ALL : HVD__P_ANY) : HVD__P_NOT;
        return parse_kids(ld, n, p, ns, has_code);
    }
    p->text = text(ld, n);
    if (!p->text) {
        return -1;
    }
    if (strcmp(name, "source") == 0) {
        p->kind = HVD__P_SOURCE;
        p->source = strcmp(p->text, "evtx") == 0 ? 1 : 2;
    } else if (strcmp(name, "provider") == 0) {
        p->kind = HVD__P_PROVIDER;
    } else if (strcmp(name, "channel") == 0) {
        char norm[256];

        p->kind = HVD__P_CHANNEL;
        hvd__channel_normalise(p->text, norm, sizeof(norm));
        p->text = arena_strdup(ld->rs, norm);
    } else if (strcmp(name, "event-id") == 0) {
        p->kind = HVD__P_EVENT_ID;
        return parse_ranges(ld, p, p->text, line) < 0 ? -1 : 0;
    } else if (strcmp(name, "level") == 0) {
        p->kind = HVD__P_LEVEL;
        p->levels = parse_levels(p->text);
    } else if (strcmp(name, "host") == 0) {
        p->kind = HVD__P_HOST;
    } else if (strcmp(name, "component") == 0) {
        p->kind = HVD__P_COMPONENT;
    } else if (strcmp(name, "level-word") == 0) {
        p->kind = HVD__P_LEVEL_WORD;
    } else if (strcmp(name, "field") == 0 || strcmp(name, "message") == 0) {
        p->kind = name[0] == 'f' ? HVD__P_FIELD : HVD__P_MESSAGE;
        p->name = p->kind == HVD__P_FIELD ? attr(ld, n, "name") : NULL;
        p->op =
            parse_op(attr(ld, n, "op"), p->kind == HVD__P_MESSAGE ? HVD__OP_REGEX : HVD__OP_EQUALS);
        if (p->op == HVD__OP_REGEX) {
            p->re = compile(ld, p->text, line);
            capture_names(ld, ns, p->re);
        }
    } else if (strcmp(name, "error-code") == 0) {
        p->kind = HVD__P_ERROR_CODE;
        p->win32 = parse_bool(attr(ld, n, "win32"), 0);
        if (hvd_errcode_parse(p->text, &p->code) < 0) {
            report(ld, line, "'%s' is not an error code", p->text);
        }
        *has_code = 1;
    } else {
        report(ld, line, "unknown condition <%s>", name);
    }
    return 0;
}

/* True when p (an <all> at the top of <match>) can be indexed: it names a provider, an
 * event id, a component, or has a regex to run. */
static int indexable(const hvd__pred *p)
{
    switch (p->kind) {
    case HVD__P_PROVIDER:
    case HVD__P_EVENT_ID:
    case HVD__P_COMPONENT:
        return 1;
    case HVD__P_FIELD:
    case HVD__P_MESSAGE:
        return p->op == HVD__OP_REGEX || p->op == HVD__OP_CONTAINS;
    case HVD__P_ALL:
        for (size_t i = 0; i < p->nkids; i++) {
            if (indexable(&p->kids[i])) {
                return 1;
            }
        }
        return 0;
    case HVD__P_ANY:
        for (size_t i = 0; i < p->nkids; i++) {
            if (!indexable(&p->kids[i])) {
                return 0;
            }
        }
        return p->nkids > 0;
    default:
        return 0;
    }
}

/* --- rules ---------------------------------------------------------------------------- */

static const char **split_names(struct loader *ld, const char *s, size_t *n)
{
    const char **v;
    size_t k = 0;
    char *copy;
    char *save = NULL;

    *n = 0;
    if (!s) {
        return NULL;
    }
    v = arena_alloc(ld->rs, (strlen(s) / 2 + 2) * sizeof(*v));
    copy = arena_strdup(ld->rs, s);
    if (!v || !copy) {
        return NULL;
    }
    for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
        v[k++] = t;
    }
    *n = k;
    return v;
}

static hvd__rule *new_rule(struct loader *ld)
{
    hvd_ruleset *rs = ld->rs;

    if (rs->nrules == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 64;
        hvd__rule *grown = hvd_realloc(rs->rules, cap * sizeof(*grown));

        if (!grown) {
            return NULL;
        }
        rs->rules = grown;
        rs->cap = cap;
    }
    memset(&rs->rules[rs->nrules], 0, sizeof(rs->rules[0]));
    return &rs->rules[rs->nrules++];
}

static int parse_examples(struct loader *ld, const xmlNode *n, hvd__rule *r)
{
    size_t k = 0;

    r->nexamples = count_elements(n);
    r->examples = arena_alloc(ld->rs, (r->nexamples ? r->nexamples : 1) * sizeof(*r->examples));
    if (!r->examples) {
        return -1;
    }
    for (const xmlNode *ex = n->children; ex; ex = ex->next) {
        hvd__example *e;
        size_t ne = 0;
        size_t nx = 0;

        if (ex->type != XML_ELEMENT_NODE) {
            continue;
        }
        e = &r->examples[k++];
        e->positive = is_el(ex, "positive");
        e->line = line_of(ex);
        for (const xmlNode *c = ex->children; c; c = c->next) {
            nx += is_el(c, "expect");
            ne += c->type == XML_ELEMENT_NODE && !is_el(c, "expect");
        }
        e->expects = arena_alloc(ld->rs, (nx ? nx : 1) * sizeof(*e->expects));
        e->events = arena_alloc(ld->rs, (ne ? ne : 1) * sizeof(*e->events));
        if (!e->expects || !e->events) {
            return -1;
        }
        for (const xmlNode *c = ex->children; c; c = c->next) {
            if (is_el(c, "expect")) {
                hvd__expect *x = &e->expects[e->nexpects++];
                char *count = attr(ld, c, "count");

                x->entity = attr(ld, c, "entity");
                x->value = x->entity ? text(ld, c) : NULL;
                x->no_entity = attr(ld, c, "no-entity");
                x->remedy_contains = attr(ld, c, "remedy-contains");
                x->cause_contains = attr(ld, c, "cause-contains");
                x->title_contains = attr(ld, c, "title-contains");
                x->count = 0;
                if (count) {
                    parse_count(ld, line_of(c), "expect count", count, 1, LONG_MAX, &x->count);
                }
            } else if (is_el(c, "clusterlog")) {
                hvd__example_event *ev = &e->events[e->nevents++];
                xmlChar *raw = xmlNodeGetContent(c);

                ev->clusterlog = 1;
                ev->node = attr(ld, c, "node");
                ev->text = arena_strdup(ld->rs, raw ? (const char *)raw : "");
                xmlFree(raw);
            } else if (c->type == XML_ELEMENT_NODE && !(ld->flags & HVD_RULESET_MATCH_ONLY)) {
                /* Writing the event back out as text is most of an example's cost, and
                 * only hvd_ruletest_run() reads it. */
                hvd__example_event *ev = &e->events[e->nevents++];
                xmlBufferPtr buf = xmlBufferCreate();

                if (!buf) {
                    return -1;
                }
                xmlNodeDump(buf, c->doc, (xmlNode *)c, 0, 0);
                ev->text = arena_strdup(ld->rs, (const char *)xmlBufferContent(buf));
                xmlBufferFree(buf);
            }
        }
    }
    return 0;
}

static void parse_texts(struct loader *ld, const xmlNode *c, hvd__rule *r, size_t *nrefs)
{
    if (is_el(c, "title")) {
        r->info.title = text(ld, c);
    } else if (is_el(c, "cause")) {
        r->cause = block_text(ld, c);
    } else if (is_el(c, "remedy")) {
        r->remedy = block_text(ld, c);
    } else if (is_el(c, "reference")) {
        r->ref_href[*nrefs] = attr(ld, c, "href");
        r->ref_label[*nrefs] = text(ld, c);
        (*nrefs)++;
    } else if (is_el(c, "examples")) {
        parse_examples(ld, c, r);
    }
}

static int common_attributes(struct loader *ld, const xmlNode *n, hvd__rule *r)
{
    const char *sev = attr(ld, n, "severity");
    size_t nrefs = 0;

    r->info.id = attr(ld, n, "id");
    r->info.file = arena_strdup(ld->rs, ld->rep.file);
    r->info.line = line_of(n);
    r->info.severity = (hvd_severity)hvd_severity_parse(sev ? sev : "error");
    r->info.confidence = attr(ld, n, "confidence");
    if (!r->info.confidence) {
        r->info.confidence = "medium";
    }
    r->info.benign = parse_bool(attr(ld, n, "benign"), 0);
    r->info.enabled = parse_bool(attr(ld, n, "enabled"), 1);
    for (const xmlNode *c = n->children; c; c = c->next) {
        nrefs += is_el(c, "reference");
    }
    r->ref_href = arena_alloc(ld->rs, (nrefs + 1) * sizeof(char *));
    r->ref_label = arena_alloc(ld->rs, (nrefs + 1) * sizeof(char *));
    if (!r->info.id || !r->ref_href || !r->ref_label) {
        return -1;
    }
    if (hvd__ruleset_find(ld->rs, r->info.id) >= 0 &&
        &ld->rs->rules[hvd__ruleset_find(ld->rs, r->info.id)] != r) {
        report(ld, r->info.line, "duplicate rule id '%s'", r->info.id);
    }
    return 0;
}

static void finish_names(struct loader *ld, hvd__rule *r, struct names *ns)
{
    names_add(ld, ns, "host");
    names_add(ld, ns, "host_short");
    if (r->has_error_code) {
        names_add(ld, ns, "error_code");
    }
    names_add(ld, ns, "count");
    names_add(ld, ns, "first_time");
    names_add(ld, ns, "last_time");
    r->names = arena_alloc(ld->rs, (ns->n + 1) * sizeof(char *));
    if (r->names) {
        memcpy(r->names, ns->v, ns->n * sizeof(char *));
        r->nnames = ns->n;
    }
}

/* Entities the names table gives any event of its providers (names/ beside the rules). */
static void table_names(struct loader *ld, struct names *ns)
{
    const char *v[32];
    size_t n = hvd_extract_entities(ld->rs->names, v, sizeof(v) / sizeof(v[0]));

    for (size_t i = 0; i < n && i < sizeof(v) / sizeof(v[0]); i++) {
        names_add(ld, ns, v[i]);
    }
}

static void check_texts(struct loader *ld, const hvd__rule *r, const struct names *ns)
{
    check_template(ld, r->info.title, ns, r->info.line, "title");
    check_template(ld, r->cause, ns, r->info.line, "cause");
    check_template(ld, r->remedy, ns, r->info.line, "remedy");
    if (!r->info.benign && (!r->remedy || !*r->remedy)) {
        report(ld, r->info.line, "rule '%s' has no remedy", r->info.id);
    }
}

static int parse_rule(struct loader *ld, const xmlNode *n)
{
    hvd__rule *r = new_rule(ld);
    struct names ns = {.n = 0};
    size_t nrefs = 0;

    if (!r || common_attributes(ld, n, r) < 0) {
        return -1;
    }
    r->order_before = -1;
    r->order_after = -1;
    r->quiet_period = 3600 * TICK;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is_el(c, "match")) {
            r->match.kind = HVD__P_ALL;
            r->match.line = line_of(c);
            if (parse_kids(ld, c, &r->match, &ns, &r->has_error_code) < 0) {
                return -1;
            }
            if (!indexable(&r->match)) {
                report(ld, line_of(c),
                       "rule '%s' names no provider, event id, component or regex: it would "
                       "meet every event",
                       r->info.id);
            }
        } else if (is_el(c, "extract")) {
            size_t k = 0;

            r->nextracts = count_elements(c);
            r->extracts = arena_alloc(ld->rs, (r->nextracts + 1) * sizeof(*r->extracts));
            if (!r->extracts) {
                return -1;
            }
            for (const xmlNode *e = c->children; e; e = e->next) {
                hvd__extract *x;
                const char *re;
                const char *from;
                const char *sys;

                if (e->type != XML_ELEMENT_NODE) {
                    continue;
                }
                x = &r->extracts[k++];
                x->name = attr(ld, e, "name");
                x->field = attr(ld, e, "field");
                x->value = attr(ld, e, "value");
                re = attr(ld, e, "regex");
                from = attr(ld, e, "from");
                sys = attr(ld, e, "system");
                if (sys) {
                    x->system =
                        strcmp(sys, "ThreadID") == 0 ? HVD__SYS_THREAD_ID : HVD__SYS_PROCESS_ID;
                } else if (re) {
                    x->re = compile(ld, re, line_of(e));
                    x->from_message = !x->value && (!from || strcmp(from, "message") == 0);
                    if (from && x->value) {
                        report(ld, line_of(e),
                               "entity '%s': a regex reads from= or value=, not both", x->name);
                    } else if (from && !x->from_message) {
                        x->field = from;
                    }
                } else if (!x->field && !x->value) {
                    report(ld, line_of(e), "entity '%s' needs field, regex or value", x->name);
                }
                if (x->value) {
                    check_template(ld, x->value, &ns, line_of(e), "entity value");
                }
                names_add(ld, &ns, x->name);
            }
        } else if (is_el(c, "threshold")) {
            const char *count = attr(ld, c, "count");

            r->threshold_count = 0;
            parse_count(ld, line_of(c), "threshold count", count, 1, HVD_RULE_MAX_THRESHOLD,
                        &r->threshold_count);
            parse_duration(ld, line_of(c), "window", attr(ld, c, "window"), &r->threshold_window);
            r->threshold_group = split_names(ld, attr(ld, c, "group-by"), &r->nthreshold_group);
        } else if (is_el(c, "quiet")) {
            const char *group = attr(ld, c, "group-by");

            parse_duration(ld, line_of(c), "period", attr(ld, c, "period"), &r->quiet_period);
            if (group) {
                r->quiet_group = split_names(ld, group, &r->nquiet_group);
                r->quiet_group_set = 1;
            }
        } else {
            parse_texts(ld, c, r, &nrefs);
        }
    }
    if (!r->quiet_group_set && r->threshold_group) {
        r->quiet_group = r->threshold_group;
        r->nquiet_group = r->nthreshold_group;
        r->quiet_group_set = 1;
    }
    r->info.nreferences = nrefs;
    r->info.references = r->ref_href;
    r->info.reference_labels = r->ref_label;
    r->info.cause = r->cause;
    r->info.remedy = r->remedy;
    r->info.nexamples = r->nexamples;
    table_names(ld, &ns);
    finish_names(ld, r, &ns);
    check_texts(ld, r, &ns);
    for (size_t i = 0; i < r->nthreshold_group; i++) {
        if (!names_has(&ns, r->threshold_group[i], strlen(r->threshold_group[i]))) {
            report(ld, r->info.line, "group-by: unknown entity '%s'", r->threshold_group[i]);
        }
    }
    for (size_t i = 0; r->quiet_group != r->threshold_group && i < r->nquiet_group; i++) {
        if (!names_has(&ns, r->quiet_group[i], strlen(r->quiet_group[i]))) {
            report(ld, r->info.line, "group-by: unknown entity '%s'", r->quiet_group[i]);
        }
    }
    return 0;
}

static long role_index(const hvd__rule *r, const char *role, size_t len)
{
    for (size_t i = 0; i < r->nmembers; i++) {
        if (strlen(r->members[i].role) == len && strncmp(r->members[i].role, role, len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static int parse_correlation(struct loader *ld, const xmlNode *n)
{
    hvd__rule *r = new_rule(ld);
    size_t nrefs = 0;
    size_t m = 0;
    size_t j = 0;

    if (!r || common_attributes(ld, n, r) < 0) {
        return -1;
    }
    r->info.correlation = 1;
    r->order_before = -1;
    r->order_after = -1;
    parse_duration(ld, line_of(n), "window", attr(ld, n, "window"), &r->window);
    for (const xmlNode *c = n->children; c; c = c->next) {
        r->nmembers += is_el(c, "member");
        r->njoins += is_el(c, "join");
    }
    r->members = arena_alloc(ld->rs, (r->nmembers + 1) * sizeof(*r->members));
    r->joins = arena_alloc(ld->rs, (r->njoins + 1) * sizeof(*r->joins));
    if (!r->members || !r->joins) {
        return -1;
    }
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is_el(c, "member")) {
            hvd__member *mb = &r->members[m++];
            size_t k = 0;

            mb->role = attr(ld, c, "role");
            mb->rule_id = attr(ld, c, "rule");
            mb->gather = parse_bool(attr(ld, c, "gather"), 0);
            r->gathers |= mb->gather;
            if (mb->gather && m == 1) {
                report(ld, line_of(c),
                       "the first member cannot gather: it gives the"
                       " correlation its unprefixed entities");
            }
            mb->nwhere = count_elements(c);
            mb->where = arena_alloc(ld->rs, (mb->nwhere + 1) * sizeof(*mb->where));
            if (!mb->where) {
                return -1;
            }
            for (const xmlNode *w = c->children; w; w = w->next) {
                hvd__where *wh;

                if (w->type != XML_ELEMENT_NODE) {
                    continue;
                }
                wh = &mb->where[k++];
                wh->entity = attr(ld, w, "entity");
                wh->op = parse_op(attr(ld, w, "op"), HVD__OP_EQUALS);
                wh->text = text(ld, w);
                if (wh->op == HVD__OP_REGEX) {
                    wh->re = compile(ld, wh->text, line_of(w));
                }
            }
        } else if (is_el(c, "join")) {
            hvd__join *jn = &r->joins[j++];
            const char *left = attr(ld, c, "left");
            const char *right = attr(ld, c, "right");
            const char *cmp = attr(ld, c, "compare");
            long li;
            long ri;

            if (!left || !right) {
                return -1;
            }
            li = role_index(r, left, strcspn(left, "."));
            ri = role_index(r, right, strcspn(right, "."));
            if (li < 0 || ri < 0) {
                report(ld, line_of(c), "join names a role that is not a member");
                continue;
            }
            jn->left = (size_t)li;
            jn->right = (size_t)ri;
            jn->left_entity = strchr(left, '.') + 1;
            jn->right_entity = strchr(right, '.') + 1;
            jn->host = cmp && strcmp(cmp, "host") == 0;
            jn->optional = parse_bool(attr(ld, c, "optional"), 0);
        } else if (is_el(c, "order")) {
            const char *before = attr(ld, c, "before");
            const char *after = attr(ld, c, "after");

            r->order_before = before ? (int)role_index(r, before, strlen(before)) : -1;
            r->order_after = after ? (int)role_index(r, after, strlen(after)) : -1;
            if (r->order_before < 0 || r->order_after < 0) {
                report(ld, line_of(c), "order names a role that is not a member");
            }
        } else {
            parse_texts(ld, c, r, &nrefs);
        }
    }
    r->info.nreferences = nrefs;
    r->info.references = r->ref_href;
    r->info.reference_labels = r->ref_label;
    r->info.cause = r->cause;
    r->info.remedy = r->remedy;
    r->info.nexamples = r->nexamples;
    return 0;
}

/* Resolves one correlation's members and checks its texts; returns 0 when it must wait for
 * a member correlation not resolved yet (its entity names are not known before). */
static int resolve_one(struct loader *ld, size_t i, int last_pass)
{
    hvd_ruleset *rs = ld->rs;
    hvd__rule *r = &rs->rules[i];
    struct names ns = {.n = 0};

    for (size_t m = 0; m < r->nmembers; m++) {
        long k = hvd__ruleset_find(rs, r->members[m].rule_id);

        if (k >= 0 && (size_t)k != i && rs->rules[k].info.correlation && !rs->rules[k].names) {
            if (last_pass) {
                report(ld, r->info.line, "correlation '%s': its members form a cycle", r->info.id);
                return 1;
            }
            return 0;
        }
    }
    for (size_t m = 0; m < r->nmembers; m++) {
        long k = hvd__ruleset_find(rs, r->members[m].rule_id);
        char name[160];

        if (k < 0) {
            report(ld, r->info.line, "member '%s': no rule '%s'", r->members[m].role,
                   r->members[m].rule_id);
            continue;
        }
        if ((size_t)k == i) {
            report(ld, r->info.line, "correlation '%s' is its own member", r->info.id);
            continue;
        }
        r->members[m].rule = (size_t)k;
        for (size_t e = 0; e < rs->rules[k].nnames; e++) {
            snprintf(name, sizeof(name), "%s.%s", r->members[m].role, rs->rules[k].names[e]);
            names_add(ld, &ns, name);
            if (m == 0) {
                names_add(ld, &ns, rs->rules[k].names[e]);
            }
        }
    }
    finish_names(ld, r, &ns);
    check_texts(ld, r, &ns);
    return 1;
}

/* Second pass, once every rule of every file is known: resolve members, check texts.
 * A correlation may be a member of another: those are resolved first. */
static void resolve_correlations(struct loader *ld)
{
    hvd_ruleset *rs = ld->rs;
    size_t left = 0;

    for (size_t i = 0; i < rs->nrules; i++) {
        left += (size_t)rs->rules[i].info.correlation;
    }
    for (size_t pass = 0; left > 0 && pass <= rs->nrules; pass++) {
        size_t before = left;

        for (size_t i = 0; i < rs->nrules; i++) {
            hvd__rule *r = &rs->rules[i];

            if (!r->info.correlation || r->names) {
                continue;
            }
            ld->rep.file = r->info.file;
            if (resolve_one(ld, i, 0)) {
                left--;
            }
        }
        if (left == before) {
            for (size_t i = 0; i < rs->nrules; i++) {
                if (rs->rules[i].info.correlation && !rs->rules[i].names) {
                    ld->rep.file = rs->rules[i].info.file;
                    resolve_one(ld, i, 1);
                }
            }
            break;
        }
    }
}

/* --- files ---------------------------------------------------------------------------- */

static void load_file(struct loader *ld, const char *path, xmlSchemaPtr schema)
{
    xmlDocPtr doc;
    xmlSchemaValidCtxtPtr vctx;
    int before = ld->rep.errors;
    const xmlNode *root;

    doc = hvd_xmlfile_read(&ld->rep, path, "rule files");
    if (!doc) {
        return;
    }
    vctx = xmlSchemaNewValidCtxt(schema);
    if (vctx) {
        xmlSchemaSetValidStructuredErrors(vctx, hvd_xmlfile_on_error, &ld->rep);
        if (xmlSchemaValidateDoc(vctx, doc) != 0 && ld->rep.errors == before) {
            report(ld, 0, "does not follow the rule schema");
        }
        xmlSchemaFreeValidCtxt(vctx);
    }
    root = xmlDocGetRootElement(doc);
    if (ld->rep.errors == before && root) {
        for (const xmlNode *n = root->children; n; n = n->next) {
            if (is_el(n, "rule")) {
                parse_rule(ld, n);
            } else if (is_el(n, "correlation")) {
                parse_correlation(ld, n);
            }
        }
    }
    xmlFreeDoc(doc);
}

static xmlSchemaPtr load_schema(struct loader *ld, const char *xsd)
{
    xmlSchemaParserCtxtPtr pctx;
    xmlSchemaPtr schema = NULL;
    const char *file = ld->rep.file;

    ld->rep.file = xsd;
    if (access(xsd, R_OK) != 0) {
        report(ld, 0, "cannot read the rule schema: %s", strerror(errno));
        ld->rep.file = file;
        return NULL;
    }
    pctx = xmlSchemaNewParserCtxt(xsd);
    if (pctx) {
        xmlSchemaSetParserStructuredErrors(pctx, hvd_xmlfile_on_error, &ld->rep);
        schema = xmlSchemaParse(pctx);
        xmlSchemaFreeParserCtxt(pctx);
    }
    if (!schema && ld->rep.errors == 0) {
        report(ld, 0, "cannot load the rule schema");
    }
    ld->rep.file = file;
    return schema;
}

static const char *find_xsd(const char *dir, const char *given, char *buf, size_t cap)
{
    struct stat st;

    if (given) {
        return given;
    }
    if (dir) {
        snprintf(buf, cap, "%s/hvdiag-rules.xsd", dir);
        if (stat(buf, &st) == 0) {
            return buf;
        }
    }
    snprintf(buf, cap, "%s/hvdiag-rules.xsd", HVD_RULES_DIR);
    return buf;
}

/* The names table in dir/names, when there is one: its problems are the rule set's. Read
 * before the rules, whose texts may use the entities it gives. */
static void load_names(struct loader *ld, const char *dir)
{
    char path[4096];

    if ((size_t)snprintf(path, sizeof(path), "%s/names", dir) >= sizeof(path)) {
        report(ld, 0, "folder name too long");
        return;
    }
    if (hvd_extract_load(&ld->rs->names, path, ld->rep.log, ld->rep.err) < 0) {
        ld->rep.errors++;
    }
}

/* The message table in dir/messages, when there is one: its problems are the rule set's. */
static void load_messages(struct loader *ld, const char *dir)
{
    char path[4096];
    int rc;

    if ((size_t)snprintf(path, sizeof(path), "%s/messages", dir) >= sizeof(path)) {
        report(ld, 0, "folder name too long");
        return;
    }
    rc = hvd_msgtable_load(&ld->rs->messages, path, ld->rep.log, ld->rep.err);
    if (rc < 0) {
        ld->rep.errors++;
    }
}

static int code_order(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (pcre2_code *const *)a;
    uintptr_t y = (uintptr_t) * (pcre2_code *const *)b;

    return x < y ? -1 : x > y;
}

/* Sorts rs->codes by address for hvd__ruleset_jit(), none JIT-compiled yet. */
static int prepare_jit(hvd_ruleset *rs)
{
    if (rs->ncodes > 1) {
        qsort(rs->codes, rs->ncodes, sizeof(*rs->codes), code_order);
    }
    rs->jitted = hvd_calloc(rs->ncodes ? rs->ncodes : 1, sizeof(*rs->jitted));
    return rs->jitted ? 0 : -1;
}

void hvd__ruleset_jit(const hvd_ruleset *rs, const pcre2_code *re)
{
    hvd_ruleset *own = (hvd_ruleset *)rs; /* only the JIT state is written */
    size_t lo = 0;
    size_t hi = rs->ncodes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if ((uintptr_t)rs->codes[mid] < (uintptr_t)re) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (!rs->jitted || lo == rs->ncodes || rs->codes[lo] != re ||
        atomic_load_explicit(&own->jitted[lo], memory_order_acquire)) {
        return;
    }
    pthread_mutex_lock(&own->jit_lock);
    if (!atomic_load_explicit(&own->jitted[lo], memory_order_relaxed)) {
        /* JIT is an optimisation: if this build or platform has none, matching still
         * works. HVD_PCRE2_JIT=0 turns it off for valgrind. */
        if (!getenv("HVD_PCRE2_JIT") || strcmp(getenv("HVD_PCRE2_JIT"), "0") != 0) {
            pcre2_jit_compile(own->codes[lo], PCRE2_JIT_COMPLETE);
        }
        atomic_store_explicit(&own->jitted[lo], 1, memory_order_release);
    }
    pthread_mutex_unlock(&own->jit_lock);
}

static int load(hvd_ruleset **out, const char *dir, const char *one_file, const char *xsd_path,
                unsigned flags, const hvd_logger *log, hvd_error *err)
{
    struct loader ld = {.flags = flags,
                        .rep = {.log = log, .err = err, .file = dir ? dir : one_file}};
    char xsd_buf[4096];
    const char *xsd;
    xmlSchemaPtr schema;
    char **files = NULL;

    *out = NULL;
    ld.rs = hvd_calloc(1, sizeof(*ld.rs));
    if (!ld.rs) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    pthread_mutex_init(&ld.rs->prefilter_lock, NULL);
    pthread_mutex_init(&ld.rs->jit_lock, NULL);
    ld.rs->match_only = (flags & HVD_RULESET_MATCH_ONLY) != 0;
    xsd = find_xsd(dir, xsd_path, xsd_buf, sizeof(xsd_buf));
    schema = load_schema(&ld, xsd);
    if (!schema) {
        hvd_ruleset_destroy(ld.rs);
        return err ? err->code : HVD_ERULE;
    }
    if (dir) {
        long nfiles;

        load_names(&ld, dir);
        nfiles = hvd_xmlfile_list(&ld.rep, dir, 0, &files);

        if (nfiles == 0 && ld.rep.errors == 0) {
            report(&ld, 0, "no rule files (*.xml) in the folder");
        }
        for (long i = 0; i < nfiles; i++) {
            load_file(&ld, files[i], schema);
        }
        hvd_xmlfile_list_free(files, nfiles);
        if (ld.rep.errors == 0) {
            load_messages(&ld, dir);
        }
    } else {
        load_file(&ld, one_file, schema);
    }
    xmlSchemaFree(schema);
    resolve_correlations(&ld);
    if (ld.rep.errors) {
        hvd_ruleset_destroy(ld.rs);
        return err ? err->code : HVD_ERULE;
    }
    if (hvd__ruleset_build_guards(ld.rs) < 0) {
        hvd_ruleset_destroy(ld.rs);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory for the rules' guards");
    }
    if (hvd__ruleset_build_prefilter(ld.rs, log, err) < 0) {
        hvd_ruleset_destroy(ld.rs);
        return err ? err->code : HVD_ENOMEM;
    }
    if (prepare_jit(ld.rs) < 0) {
        hvd_ruleset_destroy(ld.rs);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory for the rules' regexes");
    }
    *out = ld.rs;
    return HVD_OK;
}

int hvd_ruleset_load(hvd_ruleset **out, const char *dir, const char *xsd_path,
                     const hvd_logger *log, hvd_error *err)
{
    return load(out, dir, NULL, xsd_path, 0, log, err);
}

int hvd_ruleset_load_flags(hvd_ruleset **out, const char *dir, const char *xsd_path, unsigned flags,
                           const hvd_logger *log, hvd_error *err)
{
    return load(out, dir, NULL, xsd_path, flags, log, err);
}

int hvd_ruleset_load_file(hvd_ruleset **out, const char *path, const char *xsd_path,
                          const hvd_logger *log, hvd_error *err)
{
    return load(out, NULL, path, xsd_path, 0, log, err);
}

void hvd_ruleset_destroy(hvd_ruleset *rs)
{
    if (!rs) {
        return;
    }
    for (size_t i = 0; i < rs->ncodes; i++) {
        pcre2_code_free(rs->codes[i]);
    }
    hvd_free(rs->codes);
    hvd_free(rs->rules);
    hvd_msgtable_destroy(rs->messages);
    hvd_extract_destroy(rs->names);
    hvd_prefilter_destroy(rs->prefilter);
    hvd_prefilter_destroy(rs->tagged);
    for (size_t i = 0; i < rs->nprefilter_lits; i++) {
        hvd_free(rs->prefilter_lits[i]);
    }
    hvd_free(rs->prefilter_lits);
    for (size_t i = 0; i < rs->ntagged_lits; i++) {
        hvd_free(rs->tagged_lits[i]);
    }
    hvd_free(rs->tagged_lits);
    hvd_free(rs->tags);
    pthread_mutex_destroy(&rs->prefilter_lock);
    hvd_free(rs->jitted);
    pthread_mutex_destroy(&rs->jit_lock);
    hvd_arena_free(&rs->arena);
    hvd_free(rs);
}

size_t hvd_ruleset_count(const hvd_ruleset *rs)
{
    return rs->nrules;
}

const hvd_rule_info *hvd_ruleset_rule(const hvd_ruleset *rs, size_t i)
{
    return i < rs->nrules ? &rs->rules[i].info : NULL;
}
