/*
 * msgtable: documented message texts, compiled into anchored regexes, that turn a rendered
 * message (a cluster.log [System] or [Operational] line) back into provider, event id, level
 * and named insertion strings. Part of the match stage: the engine asks before matching.
 *
 * A text "Cluster node '%1' was removed from the active failover cluster membership." with
 * params="NodeName" must start the message (msgtext.h, PREFIX): a message that goes on (the
 * boilerplate after the first sentence) or was cut after it still matches.
 *
 * A German or French node renders the same event in its language: a message's localized
 * texts (<text xml:lang="de">) are templates of their own, right after the English one, with
 * the same params, compiled with the slack of machine-translated sources
 * (hvd_msgtext_compile_localized()). Each template keeps the first letter a message must
 * start with, so a line is tried only against the texts that start like it: more languages
 * cost a byte compare per text, not a regex match. Every template has a literal for the line
 * prefilter; a localized one is chosen once all texts are read, among the words no English
 * text holds.
 *
 * The table holds the patterns; a matcher JIT-compiles its own copy of a pattern the first
 * time it tries it. Most of the hundreds of texts are never tried in a run (only [System]
 * and [Operational] lines, and forwarded events without insertion strings, are looked up),
 * and a shared table is never written to, so matchers in several threads need no lock.
 */
#include "msgtable.h"

#include "msgtext.h"

#include "alloc.h"
#include "buf.h"
#include "xmlfile.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS     64 /* the event's own fields plus insertion strings */
#define VALUE_MAX      4096
#define LIT_MAX        64
#define LOCAL_LIT_MIN  6 /* a shorter word ("pass") would let many lines through the prefilter */
#define MESSAGES_XMLNS "urn:hvdiag:messages:1"

struct template
{
    char *provider;
    char *channel; /* the cluster.log section it appears in: "System", "Operational" */
    uint16_t event_id;
    uint8_t level;
    char *lang;            /* xml:lang of a localized text ("de", "fr"); NULL for English */
    char *text;            /* as written, for choosing the localized texts' literals */
    int line;              /* of the text, in its file */
    hvd_msgtext msg;       /* params: the field name of %1..%n */
    char lit[LIT_MAX + 1]; /* see hvd_msgtable_literal() */
    unsigned char first;   /* with has_first: what a matching message starts with */
    unsigned char has_first;
};

struct hvd_msgtable {
    struct template *v;
    size_t n;
    size_t cap;
};

struct hvd_msgmatcher {
    const hvd_msgtable *t;
    struct pcre2_real_code_8 **jit; /* t->n entries: the copy of each tried pattern, or NULL */
    unsigned char *tried;           /* t->n entries: a copy was asked for */
    hvd_msgtext_scratch *scratch;
    hvd_field fields[MAX_FIELDS];
    char values[HVD_MSGTEXT_PARAMS][VALUE_MAX];
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

/* Compiles a message text into t->msg (localized when t->lang is set). Returns 0, or -1
 * after reporting. */
static int compile_text(struct loader *ld, struct template *t, const char *params, const char *text,
                        int line)
{
    char why[200];
    int rc;

    /* A localized text's literal is chosen once all English texts are loaded. */
    if (!t->lang) {
        hvd_msgtext_literal(text, t->lit, sizeof(t->lit));
    }
    t->text = hvd_strdup(text);
    t->line = line;
    if (!t->text) {
        report(ld, line, "out of memory");
        return -1;
    }
    t->has_first = (unsigned char)hvd_msgtext_first(text, t->lang != NULL, &t->first);
    rc = hvd_msgtext_params(&t->msg, params, NULL, NULL, why, sizeof(why));
    if (rc == 0) {
        rc = t->lang ? hvd_msgtext_compile_localized(&t->msg, text, HVD_MSGTEXT_PREFIX, 0, why,
                                                     sizeof(why))
                     : hvd_msgtext_compile(&t->msg, text, HVD_MSGTEXT_PREFIX, 0, why, sizeof(why));
    }
    if (rc < 0) {
        report(ld, line, "%s", why);
        return -1;
    }
    return 0;
}

static void template_free(struct template *t)
{
    hvd_free(t->provider);
    hvd_free(t->channel);
    hvd_free(t->lang);
    hvd_free(t->text);
    hvd_msgtext_free(&t->msg);
}

/* A language tag as xml:lang gives it: "de", "fr", "de-CH" (2-3 letters, then subtags). */
static int lang_ok(const char *s)
{
    size_t n = 0;

    while (s[n] && isalpha((unsigned char)s[n])) {
        n++;
    }
    if (n < 2 || n > 3) {
        return 0;
    }
    for (s += n; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-') {
            return 0;
        }
    }
    return 1;
}

/* English, the language of the texts without xml:lang. */
static int lang_is_english(const char *s)
{
    return strncasecmp(s, "en", 2) == 0 && (s[2] == '\0' || s[2] == '-');
}

/* Adds t (taking ownership of its contents, t is left zeroed) to the table; pointers into
 * the table are stale after it. Returns 0, or -1 after reporting. */
static int add_template(struct loader *ld, struct template *t, int line)
{
    if (hvd_array_room(&ld->t->v, &ld->t->cap, ld->t->n, sizeof(*ld->t->v), 32) < 0) {
        report(ld, line, "out of memory");
        template_free(t);
        return -1;
    }
    ld->t->v[ld->t->n++] = *t;
    memset(t, 0, sizeof(*t));
    return 0;
}

/* One <text xml:lang="..."> of a message whose English text is main (in the table): a
 * template of its own, that must name the insertion points main names (in any order). */
static void parse_localized(struct loader *ld, const struct template *main, const char *params,
                            const char *lang, const char *text, int line)
{
    struct template t;

    memset(&t, 0, sizeof(t));
    if (!lang_ok(lang)) {
        report(ld, line, "<text xml:lang=\"%s\">: not a language tag", lang);
        return;
    }
    if (!*text) {
        report(ld, line, "<text xml:lang=\"%s\"> is empty", lang);
        return;
    }
    t.provider = hvd_strdup(main->provider);
    t.channel = hvd_strdup(main->channel);
    t.lang = hvd_strdup(lang);
    t.event_id = main->event_id;
    t.level = main->level;
    if (!t.provider || !t.channel || !t.lang) {
        report(ld, line, "out of memory");
    } else if (compile_text(ld, &t, params, text, line) == 0) {
        for (size_t k = 0; k < t.msg.nparams; k++) {
            if ((t.msg.group_of[k] == 0) != (main->msg.group_of[k] == 0)) {
                report(ld, line, "<text xml:lang=\"%s\">: %%%zu is %s the English text", lang,
                       k + 1, t.msg.group_of[k] ? "not in" : "missing, but in");
                template_free(&t);
                return;
            }
        }
        /* Its literal is chosen later (localized_literals()); one there must be. */
        hvd_msgtext_literal_localized(text, NULL, NULL, t.lit, sizeof(t.lit));
        if (!t.lit[0]) {
            report(ld, line, "<text xml:lang=\"%s\">: no ASCII word a line could be found by",
                   lang);
            template_free(&t);
            return;
        }
        add_template(ld, &t, line);
        return;
    }
    template_free(&t);
}

/* A <message>: its English <text> (no xml:lang) and each localized <text xml:lang="...">
 * become templates, in this order. */
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
    int english = 0;

    memset(&t, 0, sizeof(t));
    for (const xmlNode *c = n->children; c; c = c->next) {
        xmlChar *lang = is_el(c, "text") ? xmlNodeGetLang(c) : NULL;

        if (is_el(c, "text") && (!lang || lang_is_english((const char *)lang))) {
            english++;
            if (!text) {
                text = xmlNodeGetContent(c);
            }
        } else if (c->type == XML_ELEMENT_NODE && !is_el(c, "text")) {
            report(ld, (int)xmlGetLineNo(c), "unknown element <%s> in <message>",
                   (const char *)c->name);
        }
        xmlFree(lang);
    }
    if (!id || !end || *end || v == 0 || v > 65535) {
        report(ld, line, "<message> needs id, an event id from 1 to 65535");
    } else if (lv < 0) {
        report(ld, line, "<message> needs level: critical, error, warning, info or verbose");
    } else if (!text || !*text) {
        report(ld, line, "<message> needs a <text> (English, no xml:lang)");
    } else if (english > 1) {
        report(ld, line, "<message> has %d English <text>s; give each variant its own <message>",
               english);
    } else {
        t.provider = hvd_strdup(provider);
        t.channel = hvd_strdup(channel);
        t.event_id = (uint16_t)v;
        t.level = (uint8_t)lv;
        if (!t.provider || !t.channel) {
            report(ld, line, "out of memory");
        } else if (compile_text(ld, &t, params, (const char *)text, line) == 0 &&
                   add_template(ld, &t, line) == 0) {
            size_t at = ld->t->n - 1;

            /* The localized texts follow their English one. */
            for (const xmlNode *c = n->children; c; c = c->next) {
                xmlChar *lang = is_el(c, "text") ? xmlNodeGetLang(c) : NULL;

                if (lang && !lang_is_english((const char *)lang)) {
                    xmlChar *lt = xmlNodeGetContent(c);

                    parse_localized(ld, &ld->t->v[at], params, (const char *)lang,
                                    lt ? (const char *)lt : "", (int)xmlGetLineNo(c));
                    xmlFree(lt);
                }
                xmlFree(lang);
            }
        }
    }
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

/* The texts a localized literal is chosen against, lowered, one a line. */
struct lit_choice {
    const char *english;   /* the English texts */
    const char *localized; /* the localized texts */
};

/* A piece of a localized text as its literal: rejected when shorter than LOCAL_LIT_MIN or
 * in an English text (a word of English lines, "cluster", "Volume", would let most lines
 * through the prefilter); else the more localized texts hold it the better, so the texts
 * share few literals (each costs the prefilter's compile and scan). */
static long lit_score(void *ud, const char *s, size_t len)
{
    const struct lit_choice *c = ud;
    char piece[LIT_MAX + 1];
    long n = 0;

    if (len < LOCAL_LIT_MIN) {
        return -1;
    }
    len = len < LIT_MAX ? len : LIT_MAX;
    for (size_t i = 0; i < len; i++) {
        piece[i] = (char)tolower((unsigned char)s[i]);
    }
    piece[len] = '\0';
    if (strstr(c->english, piece)) {
        return -1;
    }
    for (const char *p = c->localized; (p = strstr(p, piece)) != NULL; n++) {
        p = strchr(p, '\n'); /* count each text once */
        if (!p) {
            break;
        }
    }
    return n;
}

/* Appends the texts (English or localized ones), lowered, one a line, to b. */
static int lowered_texts(const hvd_msgtable *t, int localized, hvd_buf *b)
{
    int rc = 0;

    for (size_t i = 0; i < t->n && rc == 0; i++) {
        if ((t->v[i].lang != NULL) != localized) {
            continue;
        }
        for (const char *p = t->v[i].text; *p && rc == 0; p++) {
            rc |= hvd_buf_addc(b, (char)tolower((unsigned char)*p));
        }
        rc |= hvd_buf_addc(b, '\n');
    }
    return rc;
}

/* The literals of the localized texts (lit_score()); one of fewer than LOCAL_LIT_MIN letters
 * is refused. Cost: O(localized texts x pieces x length of all texts), at load, each a
 * strstr() over the lowered texts. */
static void localized_literals(struct loader *ld)
{
    hvd_buf english;
    hvd_buf localized;
    struct lit_choice c;
    int rc;

    hvd_buf_init(&english, 4 * 1024 * 1024);
    hvd_buf_init(&localized, 4 * 1024 * 1024);
    rc = lowered_texts(ld->t, 0, &english) | lowered_texts(ld->t, 1, &localized);
    if (rc != 0) {
        report(ld, 0, "out of memory");
    }
    c.english = hvd_buf_str(&english);
    c.localized = hvd_buf_str(&localized);
    for (size_t i = 0; i < ld->t->n && rc == 0; i++) {
        struct template *t = &ld->t->v[i];

        if (!t->lang) {
            continue;
        }
        hvd_msgtext_literal_localized(t->text, lit_score, &c, t->lit, sizeof(t->lit));
        if (strlen(t->lit) < LOCAL_LIT_MIN || lit_score(&c, t->lit, strlen(t->lit)) < 0) {
            report(ld, t->line,
                   "<text xml:lang=\"%s\"> of %u: its best word for the prefilter, '%s', is "
                   "shorter than %d letters or an English one; give more of the text",
                   t->lang, (unsigned)t->event_id, t->lit, LOCAL_LIT_MIN);
        }
    }
    hvd_buf_free(&english);
    hvd_buf_free(&localized);
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
    if (!ld.rep.errors) {
        ld.rep.file = dir; /* the files read are gone */
        localized_literals(&ld);
    }
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

const char *hvd_msgtable_channel(const hvd_msgtable *t, size_t i)
{
    return t && i < t->n ? t->v[i].channel : "";
}

int hvd_msgmatcher_create(hvd_msgmatcher **out, const hvd_msgtable *t, hvd_error *err)
{
    hvd_msgmatcher *m = hvd_calloc(1, sizeof(*m));
    int rc;

    *out = NULL;
    if (!m) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    m->t = t;
    if (t && t->n) {
        m->jit = hvd_calloc(t->n, sizeof(*m->jit));
        m->tried = hvd_calloc(t->n, 1);
        if (!m->jit || !m->tried) {
            hvd_msgmatcher_destroy(m);
            return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
        }
    }
    rc = hvd_msgtext_scratch_create(&m->scratch, err);
    if (rc != HVD_OK) {
        hvd_msgmatcher_destroy(m);
        return rc;
    }
    *out = m;
    return HVD_OK;
}

void hvd_msgmatcher_destroy(hvd_msgmatcher *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; m->jit && i < m->t->n; i++) {
        hvd_msgtext_jit_free(m->jit[i]);
    }
    hvd_free(m->jit);
    hvd_free(m->tried);
    hvd_msgtext_scratch_destroy(m->scratch);
    hvd_free(m);
}

/* The matcher's JIT-compiled copy of template i's pattern, made the first time it is
 * tried; NULL (match with the table's own) without JIT or memory for a copy. */
static const struct pcre2_real_code_8 *pattern_of(hvd_msgmatcher *m, size_t i)
{
    if (!m->tried[i]) {
        m->tried[i] = 1;
        m->jit[i] = hvd_msgtext_jit_copy(&m->t->v[i].msg);
    }
    return m->jit[i];
}

/* Fills out from the template that matched; values are copied (and cut at VALUE_MAX - 1
 * bytes) into the matcher, since the match data is reused. */
static void fill(hvd_msgmatcher *m, const struct template *t, const hvd_event *ev,
                 hvd_msgtable_match *out)
{
    size_t n = 0;

    for (size_t i = 0; i < ev->nfields && n < MAX_FIELDS - HVD_MSGTEXT_PARAMS; i++) {
        m->fields[n++] = ev->fields[i];
    }
    for (size_t k = 0; k < t->msg.nparams; k++) {
        size_t off;
        size_t len;

        if (hvd_msgtext_value(m->scratch, &t->msg, k, &off, &len) < 0) {
            continue;
        }
        len = len < VALUE_MAX - 1 ? len : VALUE_MAX - 1;
        memcpy(m->values[k], ev->message + off, len);
        m->values[k][len] = '\0';
        m->fields[n].name = t->msg.params[k];
        m->fields[n].value = m->values[k];
        n++;
    }
    out->provider = t->provider;
    out->channel = t->channel;
    out->lang = t->lang;
    out->event_id = t->event_id;
    out->level = t->level;
    out->fields = m->fields;
    out->nfields = n;
}

int hvd_msgmatcher_match(hvd_msgmatcher *m, const hvd_event *ev, hvd_msgtable_match *out)
{
    const hvd_msgtable *t = m->t;
    const unsigned char *start;
    unsigned char first;
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
    /* What the message starts with, as the patterns see it (after \s*): a text that starts
     * otherwise is not tried, so the texts of other languages cost a compare each. */
    start = (const unsigned char *)ev->message;
    while (*start == ' ' || (*start >= '\t' && *start <= '\r')) {
        start++;
    }
    first = *start < 0x80 ? (unsigned char)tolower(*start) : *start;
    for (size_t i = 0; i < t->n; i++) {
        const struct template *tp = &t->v[i];
        int rc;

        if (tp->has_first && tp->first != first) {
            continue;
        }
        if (ev->kind == HVD_SOURCE_EVTX
                ? tp->event_id != ev->event_id || strcasecmp(tp->provider, ev->provider) != 0
                : strcasecmp(tp->channel, ev->channel) != 0) {
            continue;
        }
        rc = hvd_msgtext_match(m->scratch, &tp->msg, pattern_of(m, i), ev->message, len);
        if (rc > 0) {
            fill(m, tp, ev, out);
            return 1;
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}
