/*
 * rules_literals: the literals a cluster.log line must hold for any rule to match it, compiled
 * into the rule set's prefilter (prefilter.h). Part of rule loading; the text reader uses the
 * result to skip lines no rule can match.
 *
 * Soundness is the invariant: for every rule and every cluster.log event it matches, the
 * event's text (its line and continuation lines) holds one of the literals the rule gave.
 * Each condition yields a set of literals one of which must be present, "all" (anything may
 * match: no literal known) or "none" (no cluster.log event can match):
 *   <all>  the best set among its conditions (any one of them must hold);
 *   <any>  the union of its alternatives' sets ("all" when one of them is "all");
 *   <not>, level, host, channel, error-code, a cluster.log field: "all";
 *   <source>evtx: "none"; <component>X: "[X"; message contains/equals: a piece of the text;
 *   message regex: a required literal of the pattern (below);
 *   provider, event-id and fields other than the line's own: only a line tagged with a
 *   channel of the message table ("[System] ...") and recognised by it can match, so one
 *   literal of each of its texts, looked for in such lines only (hvd_line_prefilter).
 * Literals are ASCII and compared without case: ASCII bytes decode to themselves in every
 * encoding the reader takes, and nothing else decodes to ASCII. Where PCRE2 folds an ASCII
 * letter with a non-ASCII one (k with U+212A, s with U+017F, caseless UTF patterns), the
 * letter ends a literal.
 *
 * The same reading of a pattern gives each <field>/<message> regex its guard: the engine
 * runs the regex only on a subject holding one of those literals (hvd__pred.guard).
 */
#include "rules_internal.h"

#include "alloc.h"
#include "prefilter.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SET_MAX      4096 /* literals one set may hold; past it the set is "all" */
#define WORD_LIT_MAX (HVD_PREFILTER_LIT_MAX + 2)
#define DEPTH_MAX    20 /* groups nested deeper: the pattern is "all" */

enum { SET_NONE = 0, SET_LITS, SET_ALL };

struct litset {
    int kind;
    size_t n;
    size_t cap;
    char **v;
    int msg;        /* plus one literal of each message-table text (message_table_tagged()) */
    size_t msg_min; /* with msg: the shortest of those, and their count */
    size_t msg_n;
};

/* Room for one more literal; 0, or -1 when the set may not grow. */
static int set_room(struct litset *s)
{
    char **grown;
    size_t ncap = s->cap ? 2 * s->cap : 16;

    if (s->n < s->cap) {
        return 0;
    }
    if (s->n >= SET_MAX || !(grown = hvd_realloc(s->v, ncap * sizeof(*grown)))) {
        return -1;
    }
    s->v = grown;
    s->cap = ncap;
    return 0;
}

/* Whether s holds len bytes at p already (case ignored). O(n). */
static int set_has(const struct litset *s, const char *p, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strlen(s->v[i]) == len && strncasecmp(s->v[i], p, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static void set_free(struct litset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        hvd_free(s->v[i]);
    }
    hvd_free(s->v);
    memset(s, 0, sizeof(*s));
}

static void set_clear(struct litset *s, int kind)
{
    for (size_t i = 0; i < s->n; i++) {
        hvd_free(s->v[i]);
    }
    s->n = 0;
    s->kind = kind;
    s->msg = 0;
}

/* Adds a copy of len bytes at p; the set becomes "all" when full or out of memory. */
static void set_add(struct litset *s, const char *p, size_t len)
{
    char *c;

    if (s->kind == SET_ALL) {
        return;
    }
    if (len > HVD_PREFILTER_LIT_MAX) {
        len = HVD_PREFILTER_LIT_MAX;
    }
    if (set_has(s, p, len)) {
        s->kind = SET_LITS;
        return;
    }
    if (set_room(s) < 0 || !(c = hvd_strndup(p, len))) {
        set_clear(s, SET_ALL);
        return;
    }
    s->v[s->n++] = c;
    s->kind = SET_LITS;
}

/* Moves src's literals into dst (union); src is left empty. */
static void set_union(struct litset *dst, struct litset *src)
{
    if (src->kind == SET_ALL || dst->kind == SET_ALL) {
        set_clear(dst, SET_ALL);
        set_clear(src, SET_NONE);
        return;
    }
    if (src->msg) {
        dst->msg = 1;
        dst->msg_min = src->msg_min;
        dst->msg_n = src->msg_n;
        dst->kind = SET_LITS;
    }
    for (size_t i = 0; i < src->n; i++) {
        if (set_has(dst, src->v[i], strlen(src->v[i]))) {
            continue;
        }
        if (set_room(dst) < 0) {
            set_clear(dst, SET_ALL);
            break;
        }
        dst->v[dst->n++] = src->v[i];
        src->v[i] = NULL;
        dst->kind = SET_LITS;
    }
    for (size_t i = 0; i < src->n; i++) {
        hvd_free(src->v[i]);
    }
    src->n = 0;
    src->kind = SET_NONE;
}

/* How selective a set is: the message table's literals alone first (they are looked for in
 * tagged events only, not in every line), then its shortest literal (longer is rarer),
 * then fewer literals. */
static int set_better(const struct litset *a, const struct litset *b)
{
    size_t ma = SIZE_MAX, mb = SIZE_MAX;
    int a_tagged = a->msg && a->n == 0;
    int b_tagged = b->msg && b->n == 0;

    if (b->kind != SET_LITS) {
        return a->kind == SET_LITS;
    }
    if (a->kind != SET_LITS) {
        return 0;
    }
    if (a_tagged != b_tagged) {
        return a_tagged;
    }
    for (size_t i = 0; i < a->n; i++) {
        ma = strlen(a->v[i]) < ma ? strlen(a->v[i]) : ma;
    }
    for (size_t i = 0; i < b->n; i++) {
        mb = strlen(b->v[i]) < mb ? strlen(b->v[i]) : mb;
    }
    ma = a->msg && a->msg_min < ma ? a->msg_min : ma;
    mb = b->msg && b->msg_min < mb ? b->msg_min : mb;
    return ma > mb || (ma == mb && a->n + (a->msg ? a->msg_n : 0) < b->n + (b->msg ? b->msg_n : 0));
}

/* Keeps the better of *best and *cand in *best; cand is left empty. */
static void set_keep_better(struct litset *best, struct litset *cand)
{
    if (set_better(cand, best)) {
        struct litset t = *best;

        *best = *cand;
        *cand = t;
    }
    set_clear(cand, SET_NONE);
}

/* A byte that may stand in a literal: printable ASCII, and not k or s when folding. */
static int lit_char(unsigned char c, int caseless)
{
    if (c < 0x20 || c >= 0x7F) {
        return 0;
    }
    return !caseless || (c != 'k' && c != 'K' && c != 's' && c != 'S');
}

/* The longest piece of text made of lit_char() bytes (whitespace ends one too when
 * ws_breaks: a space there matches any whitespace run); 0 when none. */
static size_t best_piece(const char *text, int caseless, int ws_breaks, const char **at)
{
    size_t best = 0;

    *at = text;
    for (const char *p = text; *p;) {
        const char *q = p;

        while (*q && lit_char((unsigned char)*q, caseless) && !(ws_breaks && *q == ' ')) {
            q++;
        }
        if ((size_t)(q - p) > best) {
            best = (size_t)(q - p);
            *at = p;
        }
        p = *q ? q + 1 : q;
    }
    return best;
}

/* ---- required literals of a PCRE2 pattern ---- */

struct rx {
    const char *p;
    int caseless;
    int give_up; /* a construct this reader does not follow: the pattern is "all" */
};

static void rx_alt(struct rx *x, struct litset *out, int depth);

/* Skips a quantifier at x->p; returns its minimum, or -1 when there is none. */
static long rx_quant(struct rx *x)
{
    const char *p = x->p;
    long min = -1;

    if (*p == '?' || *p == '*') {
        min = 0;
        p++;
    } else if (*p == '+') {
        min = 1;
        p++;
    } else if (*p == '{') {
        const char *q = p + 1;
        long n = 0;
        int digits = 0;

        while (*q >= '0' && *q <= '9') {
            n = n < 100000 ? n * 10 + (*q - '0') : n;
            q++;
            digits++;
        }
        if (*q == ',') {
            q++;
            while (*q >= '0' && *q <= '9') {
                q++;
                digits++;
            }
        }
        if (*q != '}' || digits == 0) {
            return -1; /* a literal '{': the caller takes it as a break */
        }
        min = n;
        p = q + 1;
    } else {
        return -1;
    }
    if (*p == '?' || *p == '+') {
        p++; /* lazy or possessive */
    }
    x->p = p;
    return min;
}

/* Skips a bracketed part ({...}, <...>, '...') after an escape letter, if any. */
static void rx_skip_braced(struct rx *x)
{
    char close = *x->p == '{' ? '}' : *x->p == '<' ? '>' : *x->p == '\'' ? '\'' : 0;

    if (!close) {
        return;
    }
    while (*x->p && *x->p != close) {
        x->p++;
    }
    if (*x->p) {
        x->p++;
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/* Reads an escape after '\'. Returns the literal byte, or -1 for anything that is not one
 * character (a class, an assertion, a back reference). */
static int rx_escape(struct rx *x)
{
    char c = *x->p;

    if (!c) {
        return -1;
    }
    x->p++;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
        return (unsigned char)c; /* escaped punctuation stands for itself */
    }
    switch (c) {
    case 'x': {
        int v = 0;
        int n = 0;

        if (*x->p == '{') {
            x->p++;
            while (*x->p && *x->p != '}') {
                v = n < 6 ? v * 16 + hexval(*x->p) : 0x110000;
                x->p++;
                n++;
            }
            if (*x->p) {
                x->p++;
            }
        } else {
            while (n < 2 && ((*x->p >= '0' && *x->p <= '9') || (*x->p >= 'a' && *x->p <= 'f') ||
                             (*x->p >= 'A' && *x->p <= 'F'))) {
                v = v * 16 + hexval(*x->p++);
                n++;
            }
        }
        return v;
    }
    case 'Q':
    case 'E':
        x->give_up = 1;
        return -1;
    case 'c':
        if (*x->p) {
            x->p++;
        }
        return -1;
    case 'p':
    case 'P':
    case 'g':
    case 'k':
    case 'o':
    case 'N':
        rx_skip_braced(x);
        if ((c == 'p' || c == 'P') && *x->p && x->p[-1] == c) {
            x->p++; /* \pL: one letter */
        }
        return -1;
    default:
        while (c >= '0' && c <= '9' && *x->p >= '0' && *x->p <= '9') {
            x->p++;
        }
        return -1;
    }
}

/* A sequence up to '|' or ')': its best required literal set into out ("all" if none). */
static void rx_seq(struct rx *x, struct litset *out, int depth)
{
    char run[HVD_PREFILTER_LIT_MAX + 1];
    size_t nrun = 0;
    struct litset cand;

    memset(&cand, 0, sizeof(cand));
    set_clear(out, SET_ALL);
#define FLUSH()                          \
    do {                                 \
        if (nrun > 0) {                  \
            set_add(&cand, run, nrun);   \
            set_keep_better(out, &cand); \
            nrun = 0;                    \
        }                                \
    } while (0)
    while (*x->p && *x->p != '|' && *x->p != ')' && !x->give_up) {
        int c = -1;
        char ch = *x->p;

        if (ch == '(') {
            struct litset sub;
            int skip = 0;

            FLUSH();
            x->p++;
            if (x->p[0] == '*') {
                x->give_up = 1;
                break;
            }
            if (x->p[0] == '?') {
                const char *q = x->p + 1;

                if (*q == '#') {
                    while (*x->p && *x->p != ')') {
                        x->p++;
                    }
                    x->p += *x->p ? 1 : 0;
                    continue;
                }
                if (*q == '=' || *q == '!' || (*q == '<' && (q[1] == '=' || q[1] == '!'))) {
                    skip = 1; /* a lookaround consumes nothing */
                    x->p = q + (*q == '<' ? 2 : 1);
                } else if (*q == ':' || *q == '|' || *q == '>') {
                    x->p = q + 1;
                } else if (*q == '<' || *q == '\'' || (*q == 'P' && q[1] == '<')) {
                    char close = *q == '\'' ? '\'' : '>';

                    while (*q && *q != close) {
                        q++;
                    }
                    x->p = *q ? q + 1 : q;
                } else {
                    /* Options: (?i) (?-i) (?i:...); anything else is not followed. */
                    int set_caseless = 0;
                    int on = 1;

                    while (*q && *q != ')' && *q != ':') {
                        if (*q == '-') {
                            on = 0;
                        } else if (*q == 'i') {
                            set_caseless = on;
                        } else if (*q != 'm' && *q != 's' && *q != 'n' && *q != 'U' && *q != 'J') {
                            x->give_up = 1;
                        }
                        q++;
                    }
                    x->caseless |= set_caseless;
                    if (*q == ')') {
                        x->p = q + 1;
                        continue;
                    }
                    x->p = *q ? q + 1 : q;
                }
            }
            memset(&sub, 0, sizeof(sub));
            rx_alt(x, &sub, depth + 1);
            if (*x->p == ')') {
                x->p++;
            } else {
                x->give_up = 1;
            }
            if (rx_quant(x) != 0 && !skip) {
                set_keep_better(out, &sub);
            }
            set_free(&sub);
            continue;
        }
        if (ch == '[') {
            FLUSH();
            x->p++;
            if (*x->p == '^') {
                x->p++;
            }
            if (*x->p == ']') {
                x->p++;
            }
            while (*x->p && *x->p != ']') {
                if (*x->p == '\\' && x->p[1]) {
                    x->p += 2;
                } else if (*x->p == '[' && x->p[1] == ':') {
                    const char *e = strstr(x->p + 2, ":]");
                    x->p = e ? e + 2 : x->p + 1;
                } else {
                    x->p++;
                }
            }
            if (*x->p) {
                x->p++;
            }
            rx_quant(x);
            continue;
        }
        x->p++;
        if (ch == '\\') {
            c = rx_escape(x);
        } else if (ch != '.' && ch != '^' && ch != '$' && ch != '{' && ch != '*' && ch != '+' &&
                   ch != '?') {
            c = (unsigned char)ch;
        }
        if (c < 0 || c > 0x7F || !lit_char((unsigned char)c, x->caseless)) {
            FLUSH();
            rx_quant(x);
            continue;
        }
        {
            long min = rx_quant(x);

            if (min == 0) {
                FLUSH();
                continue;
            }
            if (nrun < HVD_PREFILTER_LIT_MAX) {
                run[nrun++] = (char)c;
            }
            if (min > 0) {
                FLUSH();
            }
        }
    }
    FLUSH();
#undef FLUSH
    set_free(&cand);
}

/* An alternation up to ')' or the end: the union of its branches' sets. */
static void rx_alt(struct rx *x, struct litset *out, int depth)
{
    struct litset branch;

    memset(&branch, 0, sizeof(branch));
    set_clear(out, SET_NONE);
    if (depth > DEPTH_MAX) {
        x->give_up = 1;
    }
    for (;;) {
        rx_seq(x, &branch, depth);
        set_union(out, &branch);
        if (*x->p != '|' || x->give_up) {
            break;
        }
        x->p++;
    }
    set_free(&branch);
}

static void regex_literals(const char *pattern, struct litset *out)
{
    struct rx x = {pattern, 0, 0};

    /* An option anywhere may make what precedes it caseless in effect: look first. */
    for (const char *p = pattern; (p = strstr(p, "(?")) != NULL; p += 2) {
        if (!p[2] || !strchr("-imsnUJ", p[2])) {
            continue; /* a group, not options */
        }
        for (const char *q = p + 2; *q && *q != ')' && *q != ':' && *q != '-'; q++) {
            x.caseless |= *q == 'i';
        }
    }
    rx_alt(&x, out, 0);
    if (x.give_up || *x.p) {
        set_clear(out, SET_ALL);
    }
}

/* ---- conditions ---- */

static const char *const line_fields[] = {"pid",       "tid",   "tag",
                                          "component", "level", "component_arg"};

/* One literal of each message-table text: what a line rendered from an event holds. The
 * literals themselves go to the tagged part of the prefilter (message_table_tagged()). */
static void message_table_literals(const hvd_ruleset *rs, struct litset *out)
{
    size_t n = hvd_msgtable_count(rs->messages);

    set_clear(out, n ? SET_LITS : SET_NONE);
    out->msg = n > 0;
    out->msg_n = n;
    out->msg_min = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(hvd_msgtable_literal(rs->messages, i));

        if (len == 0) {
            set_clear(out, SET_ALL);
            return;
        }
        out->msg_min = len < out->msg_min ? len : out->msg_min;
    }
}

/* The message table's literals into rs->tagged_lits and its channels into rs->tags: what a
 * line tagged with one of them must hold to be an event of the table. HVD_OK, or
 * HVD_ENOMEM (then the prefilter is off). */
static int message_table_tagged(hvd_ruleset *rs)
{
    size_t n = hvd_msgtable_count(rs->messages);
    struct litset lits;

    memset(&lits, 0, sizeof(lits));
    rs->tags = hvd_calloc(n ? n : 1, sizeof(*rs->tags));
    if (!rs->tags) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < n && lits.kind != SET_ALL; i++) {
        const char *lit = hvd_msgtable_literal(rs->messages, i);
        const char *ch = hvd_msgtable_channel(rs->messages, i);
        int seen = 0;

        set_add(&lits, lit, strlen(lit));
        for (size_t k = 0; k < rs->ntags && !seen; k++) {
            seen = strcasecmp(rs->tags[k], ch) == 0;
        }
        if (!seen) {
            rs->tags[rs->ntags++] = ch;
        }
    }
    if (lits.kind == SET_ALL) {
        set_free(&lits);
        return HVD_ENOMEM;
    }
    rs->tagged_lits = lits.v;
    rs->ntagged_lits = lits.n;
    return HVD_OK;
}

static void text_literal(const char *text, struct litset *out)
{
    const char *at;
    size_t n = best_piece(text, 0, 0, &at);

    set_clear(out, SET_ALL);
    if (n > 0) {
        set_clear(out, SET_NONE);
        set_add(out, at, n);
    }
}

static void pred_literals(const hvd_ruleset *rs, const hvd__pred *p, struct litset *out)
{
    struct litset kid;

    memset(&kid, 0, sizeof(kid));
    set_clear(out, SET_ALL);
    switch (p->kind) {
    case HVD__P_ALL:
        for (size_t i = 0; i < p->nkids; i++) {
            pred_literals(rs, &p->kids[i], &kid);
            if (kid.kind == SET_NONE) {
                set_clear(out, SET_NONE);
                break;
            }
            set_keep_better(out, &kid);
        }
        set_free(&kid);
        return;
    case HVD__P_ANY:
        set_clear(out, SET_NONE);
        for (size_t i = 0; i < p->nkids && out->kind != SET_ALL; i++) {
            pred_literals(rs, &p->kids[i], &kid);
            set_union(out, &kid);
        }
        set_free(&kid);
        return;
    case HVD__P_SOURCE:
        if (p->source != HVD_SOURCE_CLUSTERLOG) {
            set_clear(out, SET_NONE);
        }
        return;
    case HVD__P_PROVIDER:
        if (strcasecmp(p->text, "cluster.log") != 0) {
            message_table_literals(rs, out);
        }
        return;
    case HVD__P_EVENT_ID:
        message_table_literals(rs, out);
        return;
    case HVD__P_COMPONENT: {
        char lit[WORD_LIT_MAX];
        int n = snprintf(lit, sizeof(lit), "[%s", p->text);
        const char *at;

        if (n > 0 && (size_t)n < sizeof(lit) && best_piece(lit, 0, 0, &at) == (size_t)n) {
            set_clear(out, SET_NONE);
            set_add(out, lit, (size_t)n);
        }
        return;
    }
    case HVD__P_FIELD:
        if (p->op == HVD__OP_ABSENT) {
            return; /* holds on any line without the field: no literal */
        }
        for (size_t i = 0; i < sizeof(line_fields) / sizeof(line_fields[0]); i++) {
            if (strcmp(p->name, line_fields[i]) == 0) {
                return;
            }
        }
        message_table_literals(rs, out);
        return;
    case HVD__P_MESSAGE:
        if (p->op == HVD__OP_CONTAINS || p->op == HVD__OP_EQUALS) {
            text_literal(p->text, out);
        } else if (p->op == HVD__OP_REGEX) {
            regex_literals(p->text, out);
        }
        return;
    default:
        return; /* "all" */
    }
}

int hvd__ruleset_build_prefilter(hvd_ruleset *rs, const hvd_logger *log, hvd_error *err)
{
    struct litset all, one;
    const char *every = NULL;
    int rc = HVD_OK;

    (void)err; /* nothing here fails: a set that cannot grow becomes "all" */

    memset(&all, 0, sizeof(all));
    memset(&one, 0, sizeof(one));
    for (size_t r = 0; r < rs->nrules && !every; r++) {
        const hvd__rule *rule = &rs->rules[r];

        if (rule->info.correlation) {
            continue;
        }
        pred_literals(rs, &rule->match, &one);
        if (one.kind == SET_ALL) {
            every = rule->info.id;
        }
        set_union(&all, &one);
    }
    if (!every && all.kind != SET_ALL && all.msg && message_table_tagged(rs) < 0) {
        set_clear(&all, SET_ALL);
    }
    if (every || all.kind == SET_ALL) {
        hvd_log(log, HVD_LOG_DEBUG,
                "cluster.log prefilter off: rule %s may match a line without a known literal",
                every ? every : "(too many literals)");
    } else {
        /* Compiled at first use: see hvd_ruleset_prefilter(). */
        rs->prefilter_lits = all.v;
        rs->nprefilter_lits = all.n;
        memset(&all, 0, sizeof(all));
        hvd_log(log, HVD_LOG_DEBUG,
                "cluster.log prefilter: %zu literals, %zu more in lines of %zu channels",
                rs->nprefilter_lits, rs->ntagged_lits, rs->ntags);
    }
    set_free(&all);
    set_free(&one);
    return rc;
}

/* ---- regex guards ---- */

#define GUARD_MAX     8 /* literals a guard may hold: more, and the regex runs unguarded */
#define GUARD_MIN_LEN 3 /* shorter literals are found almost everywhere: not worth a look */

/* The guard of one regex condition (see hvd__pred.guard): its required literals when they
 * are few and none is short. Soundness is regex_literals()'s: a subject the pattern
 * matches holds one of them, ASCII case ignored. */
static int pred_guard(hvd_ruleset *rs, hvd__pred *p)
{
    struct litset lits;
    int rc = HVD_OK;

    memset(&lits, 0, sizeof(lits));
    regex_literals(p->text, &lits);
    if (lits.kind == SET_LITS && lits.n > 0 && lits.n <= GUARD_MAX) {
        size_t shortest = SIZE_MAX;

        for (size_t i = 0; i < lits.n; i++) {
            shortest = strlen(lits.v[i]) < shortest ? strlen(lits.v[i]) : shortest;
        }
        if (shortest >= GUARD_MIN_LEN) {
            const char **g = hvd__ruleset_alloc(rs, lits.n * sizeof(*g));

            for (size_t i = 0; g && i < lits.n; i++) {
                size_t len = strlen(lits.v[i]);
                char *c = hvd__ruleset_alloc(rs, len + 1);

                if (!c) {
                    g = NULL;
                    break;
                }
                for (size_t j = 0; j < len; j++) {
                    c[j] = (char)tolower((unsigned char)lits.v[i][j]);
                }
                g[i] = c;
            }
            if (g) {
                p->guard = g;
                p->nguard = lits.n;
            } else {
                rc = HVD_ENOMEM;
            }
        }
    }
    set_free(&lits);
    return rc;
}

/* Sets p->word, adding its lowered text to rs->words when new. Cost: O(words). */
static int pred_word(hvd_ruleset *rs, hvd__pred *p)
{
    size_t len = strlen(p->text);
    char *low;

    for (size_t i = 0; i < rs->nwords; i++) {
        if (strcasecmp(rs->words[i], p->text) == 0) {
            p->word = i + 1;
            return HVD_OK;
        }
    }
    if ((rs->nwords & (rs->nwords - 1)) == 0) { /* 0, 1, 2, 4...: the arena array doubles */
        const char **grown =
            hvd__ruleset_alloc(rs, (rs->nwords ? 2 * rs->nwords : 1) * sizeof(*grown));

        if (!grown) {
            return HVD_ENOMEM;
        }
        if (rs->nwords) {
            memcpy(grown, rs->words, rs->nwords * sizeof(*grown));
        }
        rs->words = grown;
    }
    low = hvd__ruleset_alloc(rs, len + 1);
    if (!low) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        low[i] = (char)tolower((unsigned char)p->text[i]);
    }
    rs->words[rs->nwords++] = low;
    p->word = rs->nwords;
    return HVD_OK;
}

static int tree_guards(hvd_ruleset *rs, hvd__pred *p)
{
    int rc = HVD_OK;

    if (p->kind == HVD__P_PROVIDER && p->text) {
        rc = pred_word(rs, p);
    }
    if ((p->kind == HVD__P_FIELD || p->kind == HVD__P_MESSAGE) && p->op == HVD__OP_REGEX && p->re &&
        p->text) {
        rc = pred_guard(rs, p);
    }
    for (size_t i = 0; rc == HVD_OK && i < p->nkids; i++) {
        rc = tree_guards(rs, &p->kids[i]);
    }
    return rc;
}

/* Cost: one pass over each regex pattern of the rules. */
int hvd__ruleset_build_guards(hvd_ruleset *rs)
{
    int rc = HVD_OK;

    for (size_t r = 0; rc == HVD_OK && r < rs->nrules; r++) {
        if (!rs->rules[r].info.correlation) {
            rc = tree_guards(rs, &rs->rules[r].match);
        }
    }
    return rc;
}

/* The prefilter is the set's cache, made on the first call under its lock: the set is
 * otherwise read-only and may be shared by threads. A compile that fails (out of memory,
 * or a scanner library that refuses) leaves it NULL: every line is read, as without one.
 * Cost: the first call compiles the literals (Vectorscan: tens of milliseconds). */
const hvd_line_prefilter *hvd_ruleset_prefilter(const hvd_ruleset *rs)
{
    hvd_ruleset *own = (hvd_ruleset *)rs; /* only the cache fields are written */
    hvd_line_prefilter *lp;
    const hvd_line_prefilter *out;

    if (!rs) {
        return NULL;
    }
    lp = &own->line_prefilter;
    pthread_mutex_lock(&own->prefilter_lock);
    if (!lp->lines && own->prefilter_lits && !own->prefilter_failed) {
        if (hvd_prefilter_create(&own->prefilter, (const char *const *)own->prefilter_lits,
                                 own->nprefilter_lits, NULL) < 0 ||
            (own->tagged_lits &&
             hvd_prefilter_create(&own->tagged, (const char *const *)own->tagged_lits,
                                  own->ntagged_lits, NULL) < 0)) {
            hvd_prefilter_destroy(own->prefilter);
            own->prefilter = NULL;
            own->prefilter_failed = 1;
        } else {
            lp->lines = own->prefilter;
            lp->tagged = own->tagged;
            lp->tags = own->tagged ? own->tags : NULL;
            lp->ntags = own->tagged ? own->ntags : 0;
        }
    }
    out = lp->lines ? lp : NULL;
    pthread_mutex_unlock(&own->prefilter_lock);
    return out;
}
