/*
 * xmlfile: reading the rule set's XML data files (see xmlfile.h). Part of the match stage's
 * loading: rules.c and msgtable.c parse what this reads.
 */
#include "xmlfile.h"

#include "alloc.h"

#include <dirent.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void hvd_xmlfile_vproblem(hvd_xmlfile_report *r, int line, const char *fmt, va_list ap)
{
    char msg[400];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (r->errors == 0) {
        hvd_error_set(r->err, HVD_ERULE, r->file, (uint64_t)(line > 0 ? line : 0), "%s", msg);
    }
    r->errors++;
    if (line > 0) {
        hvd_log(r->log, HVD_LOG_ERR, "%s:%d: %s", r->file, line, msg);
    } else {
        hvd_log(r->log, HVD_LOG_ERR, "%s: %s", r->file, msg);
    }
}

void hvd_xmlfile_problem(hvd_xmlfile_report *r, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hvd_xmlfile_vproblem(r, line, fmt, ap);
    va_end(ap);
}

void hvd_xmlfile_on_error(void *ud, xmlErrorPtr e)
{
    char msg[300];

    if (!e || e->level < XML_ERR_ERROR) {
        return;
    }
    snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "XML error");
    msg[strcspn(msg, "\n")] = '\0';
    hvd_xmlfile_problem(ud, e->line, "%s", msg);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void hvd_xmlfile_list_free(char **files, long n)
{
    for (long i = 0; files && i < n; i++) {
        hvd_free(files[i]);
    }
    hvd_free(files);
}

long hvd_xmlfile_each(hvd_xmlfile_report *r, const char *dir,
                      void (*load)(void *ud, const char *path), void *ud)
{
    char **files = NULL;
    long n = hvd_xmlfile_list(r, dir, 1, &files);

    for (long i = 0; i < n && r->errors == 0; i++) {
        load(ud, files[i]);
    }
    hvd_xmlfile_list_free(files, n);
    return n;
}

int hvd_xmlfile_is_el(const xmlNode *n, const char *name, const char *ns)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 && n->ns &&
           strcmp((const char *)n->ns->href, ns) == 0;
}

char *hvd_xmlfile_attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *copy = v ? hvd_strdup((const char *)v) : NULL;

    xmlFree(v);
    return copy;
}

long hvd_xmlfile_list(hvd_xmlfile_report *r, const char *dir, int missing_ok, char ***files)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **list = NULL;
    long n = 0;
    const char *file = r->file;

    *files = NULL;
    r->file = dir;
    if (!d) {
        if (!(missing_ok && errno == ENOENT)) {
            hvd_xmlfile_problem(r, 0, "cannot open the folder: %s", strerror(errno));
        }
        r->file = file;
        return missing_ok && errno == ENOENT ? 0 : -1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char **grown;

        if (len < 5 || strcmp(de->d_name + len - 4, ".xml") != 0 || de->d_name[0] == '.') {
            continue;
        }
        grown = hvd_realloc(list, ((size_t)n + 1) * sizeof(*list));
        if (grown) {
            list = grown;
            list[n] = hvd_malloc(strlen(dir) + len + 2);
        }
        if (!grown || !list[n]) {
            hvd_xmlfile_problem(r, 0, "out of memory");
            closedir(d);
            hvd_xmlfile_list_free(list, n);
            r->file = file;
            return -1;
        }
        snprintf(list[n], strlen(dir) + len + 2, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (n > 1) {
        qsort(list, (size_t)n, sizeof(*list), compare_names);
    }
    r->file = file;
    *files = list;
    return n;
}

struct reading {
    hvd_xmlfile_report *r;
    const char *kind;
};

/* SAX hook called as soon as "<!DOCTYPE name ...>" is read, whatever the file's encoding,
 * and before its internal subset: stopping here means no entity is ever declared, expanded
 * or fetched. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                           const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    struct reading *rd = ctxt->_private;

    (void)name;
    (void)external_id;
    (void)system_id;
    hvd_xmlfile_problem(rd->r, xmlSAX2GetLineNumber(ctxt),
                        "DOCTYPE and entity declarations are not allowed in %s", rd->kind);
    xmlStopParser(ctxt);
}

/* Data files are UTF-8 (an optional BOM allowed): no NUL byte, every sequence valid. */
static int is_utf8(const char *data, size_t len)
{
    return !memchr(data, '\0', len) && xmlCheckUTF8((const xmlChar *)data);
}

/* The whole file, NUL-terminated. The buffer is sized by fstat() (a file that grew since
 * is read on up to the limit): an 8 MiB buffer a file cost more than parsing a small one. */
static char *read_small_file(hvd_xmlfile_report *r, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    size_t cap = HVD_XMLFILE_MAX + 1;
    char *data;
    size_t n;

    if (!f) {
        hvd_xmlfile_problem(r, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uint64_t)st.st_size < HVD_XMLFILE_MAX) {
        cap = (size_t)st.st_size + 1; /* one byte more: the end of file is seen */
    }
    data = hvd_malloc(cap + 1);
    if (!data) {
        fclose(f);
        hvd_xmlfile_problem(r, 0, "out of memory");
        return NULL;
    }
    n = fread(data, 1, cap, f);
    if (n == cap && cap < HVD_XMLFILE_MAX + 1) { /* it grew: read on up to the limit */
        char *grown = hvd_realloc(data, HVD_XMLFILE_MAX + 2);

        if (!grown) {
            fclose(f);
            hvd_free(data);
            hvd_xmlfile_problem(r, 0, "out of memory");
            return NULL;
        }
        data = grown;
        n += fread(data + n, 1, HVD_XMLFILE_MAX + 1 - n, f);
    }
    fclose(f);
    if (n > HVD_XMLFILE_MAX) {
        hvd_free(data);
        hvd_xmlfile_problem(r, 0, "larger than %u bytes", HVD_XMLFILE_MAX);
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

xmlDocPtr hvd_xmlfile_read(hvd_xmlfile_report *r, const char *path, const char *kind)
{
    struct reading rd = {r, kind};
    char *data;
    size_t len = 0;
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    int before = r->errors;

    r->file = path;
    data = read_small_file(r, path, &len);
    if (!data) {
        return NULL;
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        hvd_xmlfile_problem(r, 0, "out of memory");
        hvd_free(data);
        return NULL;
    }
    /* The DOCTYPE check runs inside the parser, which has decoded the file (UTF-16, EBCDIC
     * and any encoding libxml2 knows), so no byte pattern can hide a DOCTYPE from it. */
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->_private = &rd;
    xmlSetStructuredErrorFunc(r, hvd_xmlfile_on_error);
    doc = xmlCtxtReadMemory(ctxt, data, (int)len, path, NULL, XML_PARSE_NONET);
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlFreeParserCtxt(ctxt);
    if (doc && (doc->intSubset || doc->extSubset) && r->errors == before) {
        hvd_xmlfile_problem(r, 0, "DOCTYPE and entity declarations are not allowed in %s", kind);
    }
    if (doc && r->errors == before && !is_utf8(data, len)) {
        hvd_xmlfile_problem(r, 0, "not UTF-8 text: %s are UTF-8", kind);
    }
    hvd_free(data);
    if (!doc && r->errors == before) {
        hvd_xmlfile_problem(r, 0, "not well-formed XML");
    }
    if (doc && r->errors != before) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    return doc;
}
