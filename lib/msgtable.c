/*
 * msgtable: documented message texts, compiled into anchored regexes, that turn a rendered
 * message (a cluster.log [System] or [Operational] line) back into provider, event id, level
 * and named insertion strings. Part of the match stage: the engine asks before matching.
 *
 * A text "Cluster node '%1' was removed from the active failover cluster membership." with
 * params="NodeName" must start the message (msgtext.h, PREFIX): a message that goes on (the
 * boilerplate after the first sentence) or was cut after it still matches.
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
#define MESSAGES_XMLNS "urn:hvdiag:messages:1"

struct template
{
    char *provider;
    char *channel; /* the cluster.log section it appears in: "System", "Operational" */
    uint16_t event_id;
    uint8_t level;
    hvd_msgtext msg;       /* params: the field name of %1..%n */
    char lit[LIT_MAX + 1]; /* see hvd_msgtable_literal() */
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

/* Compiles a message text into t->msg. Returns 0, or -1 after reporting. */
static int compile_text(struct loader *ld, struct template *t, const char *params, const char *text,
                        int line)
{
    char why[200];

    hvd_msgtext_literal(text, t->lit, sizeof(t->lit));
    if (hvd_msgtext_params(&t->msg, params, NULL, NULL, why, sizeof(why)) < 0 ||
        hvd_msgtext_compile(&t->msg, text, HVD_MSGTEXT_PREFIX, 0, why, sizeof(why)) < 0) {
        report(ld, line, "%s", why);
        return -1;
    }
    return 0;
}

static void template_free(struct template *t)
{
    hvd_free(t->provider);
    hvd_free(t->channel);
    hvd_msgtext_free(&t->msg);
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
    } else {
        t.provider = hvd_strdup(provider);
        t.channel = hvd_strdup(channel);
        t.event_id = (uint16_t)v;
        t.level = (uint8_t)lv;
        if (!t.provider || !t.channel) {
            report(ld, line, "out of memory");
        } else if (compile_text(ld, &t, params, (const char *)text, line) == 0) {
            if (hvd_array_room(&ld->t->v, &ld->t->cap, ld->t->n, sizeof(*ld->t->v), 32) < 0) {
                report(ld, line, "out of memory");
                goto out;
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
