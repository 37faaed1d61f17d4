/*
 * extract: documented message texts with named insertion points, compiled into regexes,
 * that pull the VM, peer host or resource out of an event's text (see extract.h). Part of
 * the match stage: the engine asks once per event, before its rules.
 *
 * A template
 *   <template event-id="21500-21503" params="vm_name - vm_id">
 *     <text>Virtual machine migration operation for '%1' failed at migration source '%2'.
 *           (Virtual machine ID %3)</text>
 *   </template>
 * compiles to Virtual\s+machine\s+migration ... '(.*?)' ... searched anywhere in the
 * message (an EVTX event's insertion strings joined with newlines, a cluster.log line's
 * text), or only at its start with at="start"; with field="ResourceName" it must match
 * that field's whole value instead.
 * Invariant: what an event gets depends on the event and the table alone.
 */
#include "extract.h"

#include "alloc.h"
#include "buf.h"
#include "msgtext.h"
#include "xmlfile.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RANGES   16
#define MAX_FOUND    16 /* distinct entities one event can give */
#define VALUE_MAX    1024
#define NAMES_XMLNS  "urn:hvdiag:names:1"
#define MAX_NAME_LEN 40

struct template
{
    char *provider;
    char *field;  /* NULL: the message */
    int at_start; /* the text starts the message (at="start") */
    uint16_t lo[MAX_RANGES];
    uint16_t hi[MAX_RANGES];
    size_t nranges;  /* 0: any event id */
    hvd_msgtext msg; /* params: the entity of %1..%n */
};

struct hvd_extract_table {
    struct template *v;
    size_t n;
    size_t cap;
};

struct hvd_extractor {
    const hvd_extract_table *t;
    hvd_msgtext_scratch *scratch;
    hvd_entity found[MAX_FOUND];
    char values[MAX_FOUND][VALUE_MAX];
};

struct loader {
    hvd_extract_table *t;
    hvd_xmlfile_report rep;
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
    return hvd_xmlfile_is_el(n, name, NAMES_XMLNS);
}

static void template_free(struct template *t)
{
    hvd_free(t->provider);
    hvd_free(t->field);
    hvd_msgtext_free(&t->msg);
}

/* An entity name as rules write them, and not one the engine sets itself. */
static int entity_name_ok(const char *s, size_t len)
{
    static const char *const reserved[] = {"host", "host_short", "error_code"};

    if (len == 0 || len > MAX_NAME_LEN || !islower((unsigned char)s[0])) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_') {
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strlen(reserved[i]) == len && strncmp(reserved[i], s, len) == 0) {
            return 0;
        }
    }
    return 1;
}

/* Splits "vm_name - vm_id" into t->msg.params. Returns 0, or -1 after reporting. */
static int parse_params(struct loader *ld, struct template *t, const char *s, int line)
{
    char why[200];

    if (hvd_msgtext_params(&t->msg, s, entity_name_ok,
                           "an entity name ([a-z][a-z0-9_]*; not host, host_short or error_code)",
                           why, sizeof(why)) < 0) {
        report(ld, line, "%s", why);
        return -1;
    }
    for (size_t i = 0; i < t->msg.nparams; i++) {
        if (t->msg.params[i]) {
            return 0;
        }
    }
    report(ld, line, "<template> needs params naming at least one entity");
    return -1;
}

/* "21500-21503 1069" into ranges. Returns 0, or -1 after reporting. */
static int parse_ids(struct loader *ld, struct template *t, const char *s, int line)
{
    while (s && *s) {
        char *end;
        unsigned long lo;
        unsigned long hi;

        while (isspace((unsigned char)*s)) {
            s++;
        }
        if (!*s) {
            break;
        }
        lo = strtoul(s, &end, 10);
        hi = lo;
        if (end != s && *end == '-') {
            const char *q = end + 1;

            hi = strtoul(q, &end, 10);
            if (end == q) {
                hi = 0;
            }
        }
        if (end == s || (*end && !isspace((unsigned char)*end)) || lo == 0 || lo > 65535 ||
            hi < lo || hi > 65535) {
            report(ld, line, "event-id: ids or ranges from 1 to 65535, space separated");
            return -1;
        }
        if (t->nranges == MAX_RANGES) {
            report(ld, line, "event-id: more than %d ids or ranges", MAX_RANGES);
            return -1;
        }
        t->lo[t->nranges] = (uint16_t)lo;
        t->hi[t->nranges] = (uint16_t)hi;
        t->nranges++;
        s = end;
    }
    return 0;
}

static int compile_text(struct loader *ld, struct template *t, const char *text, int line)
{
    char why[200];
    int k;

    if (hvd_msgtext_compile(&t->msg, text,
                            t->field      ? HVD_MSGTEXT_WHOLE
                            : t->at_start ? HVD_MSGTEXT_PREFIX
                                          : HVD_MSGTEXT_SEARCH,
                            1, why, sizeof(why)) < 0) {
        report(ld, line, "%s", why);
        return -1;
    }
    k = hvd_msgtext_unused(&t->msg);
    if (k >= 0) {
        report(ld, line, "params: %s (%%%d) is not in the text", t->msg.params[k], k + 1);
        return -1;
    }
    return 0;
}

static int table_add(struct loader *ld, struct template *t, int line)
{
    if (hvd_array_room(&ld->t->v, &ld->t->cap, ld->t->n, sizeof(*ld->t->v), 32) < 0) {
        report(ld, line, "out of memory");
        return -1;
    }
    ld->t->v[ld->t->n++] = *t;
    memset(t, 0, sizeof(*t));
    return 0;
}

static void parse_template(struct loader *ld, const xmlNode *n, const char *provider)
{
    struct template t;
    char *ids = hvd_xmlfile_attr(n, "event-id");
    char *params = hvd_xmlfile_attr(n, "params");
    char *at = hvd_xmlfile_attr(n, "at");
    xmlChar *text = NULL;
    int line = (int)xmlGetLineNo(n);

    memset(&t, 0, sizeof(t));
    t.field = hvd_xmlfile_attr(n, "field");
    t.at_start = at && strcmp(at, "start") == 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (is_el(c, "text") && !text) {
            text = xmlNodeGetContent(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            report(ld, (int)xmlGetLineNo(c), "unknown element <%s>", (const char *)c->name);
        }
    }
    if (at && strcmp(at, "start") != 0 && strcmp(at, "anywhere") != 0) {
        report(ld, line, "<template> at is 'start' or 'anywhere'");
    } else if (at && t.field) {
        report(ld, line, "<template> with field matches the whole value: at does not apply");
    } else if (!text || !*text) {
        report(ld, line, "<template> needs a <text>");
    } else if (t.field && !*t.field) {
        report(ld, line, "<template> field is empty");
    } else if (parse_ids(ld, &t, ids, line) == 0 && parse_params(ld, &t, params, line) == 0) {
        t.provider = hvd_strdup(provider);
        if (!t.provider) {
            report(ld, line, "out of memory");
        } else if (compile_text(ld, &t, (const char *)text, line) == 0) {
            table_add(ld, &t, line);
        }
    }
    template_free(&t);
    xmlFree(text);
    hvd_free(ids);
    hvd_free(params);
    hvd_free(at);
}

static void load_file(void *ud, const char *path)
{
    struct loader *ld = ud;
    xmlDocPtr doc = hvd_xmlfile_read(&ld->rep, path, "name files");
    const xmlNode *root;
    char *provider;

    if (!doc) {
        return;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !is_el(root, "names")) {
        report(ld, root ? (int)xmlGetLineNo(root) : 0,
               "the root element must be <names xmlns=\"%s\">", NAMES_XMLNS);
        xmlFreeDoc(doc);
        return;
    }
    provider = hvd_xmlfile_attr(root, "provider");
    if (!provider || !*provider) {
        report(ld, (int)xmlGetLineNo(root), "<names> needs provider");
    } else {
        for (const xmlNode *n = root->children; n; n = n->next) {
            if (is_el(n, "template")) {
                parse_template(ld, n, provider);
            } else if (n->type == XML_ELEMENT_NODE) {
                report(ld, (int)xmlGetLineNo(n), "unknown element <%s>", (const char *)n->name);
            }
        }
    }
    hvd_free(provider);
    xmlFreeDoc(doc);
}

int hvd_extract_load(hvd_extract_table **out, const char *dir, const hvd_logger *log,
                     hvd_error *err)
{
    struct loader ld = {.rep = {.log = log, .err = err, .file = dir}};

    *out = NULL;
    ld.t = hvd_calloc(1, sizeof(*ld.t));
    if (!ld.t) {
        return hvd_error_set(err, HVD_ENOMEM, dir, 0, "out of memory");
    }
    hvd_xmlfile_each(&ld.rep, dir, load_file, &ld);
    if (ld.rep.errors) {
        hvd_extract_destroy(ld.t);
        return err ? err->code : HVD_ERULE;
    }
    *out = ld.t;
    return HVD_OK;
}

void hvd_extract_destroy(hvd_extract_table *t)
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

size_t hvd_extract_count(const hvd_extract_table *t)
{
    return t ? t->n : 0;
}

size_t hvd_extract_entities(const hvd_extract_table *t, const char **names, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; t && i < t->n; i++) {
        for (size_t k = 0; k < t->v[i].msg.nparams; k++) {
            const char *p = t->v[i].msg.params[k];
            int before = 0;

            for (size_t j = 0; p && j < i && !before; j++) {
                for (size_t m = 0; m < t->v[j].msg.nparams && !before; m++) {
                    before = t->v[j].msg.params[m] && strcmp(t->v[j].msg.params[m], p) == 0;
                }
            }
            for (size_t m = 0; p && m < k && !before; m++) {
                before = t->v[i].msg.params[m] && strcmp(t->v[i].msg.params[m], p) == 0;
            }
            if (p && !before) {
                if (n < cap) {
                    names[n] = p;
                }
                n++;
            }
        }
    }
    return n;
}

int hvd_extractor_create(hvd_extractor **out, const hvd_extract_table *t, hvd_error *err)
{
    hvd_extractor *x = hvd_calloc(1, sizeof(*x));
    int rc;

    *out = NULL;
    if (!x) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    x->t = t;
    rc = hvd_msgtext_scratch_create(&x->scratch, err);
    if (rc != HVD_OK) {
        hvd_extractor_destroy(x);
        return rc;
    }
    *out = x;
    return HVD_OK;
}

void hvd_extractor_destroy(hvd_extractor *x)
{
    if (!x) {
        return;
    }
    hvd_msgtext_scratch_destroy(x->scratch);
    hvd_free(x);
}

static int id_in(const struct template *t, uint16_t id)
{
    if (t->nranges == 0) {
        return 1;
    }
    for (size_t i = 0; i < t->nranges; i++) {
        if (id >= t->lo[i] && id <= t->hi[i]) {
            return 1;
        }
    }
    return 0;
}

/* Index of name among the found entities, or n when absent. */
static size_t found_at(const hvd_extractor *x, size_t n, const char *name)
{
    size_t i = 0;

    while (i < n && strcmp(x->found[i].name, name) != 0) {
        i++;
    }
    return i;
}

/* Copies the values of one match into the entities not found before. */
static size_t take(hvd_extractor *x, size_t n, const struct template *t, const char *subject)
{
    for (size_t k = 0; k < t->msg.nparams && n < MAX_FOUND; k++) {
        size_t off;
        size_t len;
        const char *v;

        if (hvd_msgtext_value(x->scratch, &t->msg, k, &off, &len) < 0 ||
            found_at(x, n, t->msg.params[k]) < n) {
            continue;
        }
        v = subject + off;
        while (len > 0 && isspace((unsigned char)*v)) {
            v++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)v[len - 1])) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        len = len < VALUE_MAX - 1 ? len : VALUE_MAX - 1;
        memcpy(x->values[n], v, len);
        x->values[n][len] = '\0';
        x->found[n].name = t->msg.params[k];
        x->found[n].value = x->values[n];
        n++;
    }
    return n;
}

int hvd_extractor_find(hvd_extractor *x, const hvd_event *ev, const hvd_entity **out)
{
    const hvd_extract_table *t = x->t;
    size_t n = 0;

    *out = x->found;
    for (size_t i = 0; t && i < t->n && n < MAX_FOUND; i++) {
        const struct template *tp = &t->v[i];
        const char *subject;
        int rc;

        if (!ev->provider || strcasecmp(tp->provider, ev->provider) != 0 ||
            !id_in(tp, ev->event_id)) {
            continue;
        }
        subject = tp->field ? hvd_event_field(ev, tp->field) : ev->message;
        if (!subject || !*subject) {
            continue;
        }
        rc = hvd_msgtext_match(x->scratch, &tp->msg, NULL, subject, strlen(subject));
        if (rc < 0) {
            return rc;
        }
        if (rc > 0) {
            n = take(x, n, tp, subject);
        }
    }
    return (int)n;
}
