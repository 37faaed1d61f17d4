/*
 * xmlfile: the rule set's data files (rules and message tables) read as XML, one way for
 * both: a folder's *.xml in name order; each file read whole up to a bound, parsed with its
 * DOCTYPE refused inside the parser (whatever its encoding, before any declaration), and
 * checked as UTF-8; every problem reported as "file:line: message", the first kept in err.
 */
#ifndef HVD_XMLFILE_H
#define HVD_XMLFILE_H

#include "error.h"
#include "log.h"

#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stdarg.h>
#include <stddef.h>

#define HVD_XMLFILE_MAX (8u << 20) /* bytes of one data file */

/* Where problems go. file names the file being read (borrowed); errors counts them. */
typedef struct hvd_xmlfile_report {
    const hvd_logger *log;
    hvd_error *err;
    const char *file;
    int errors;
} hvd_xmlfile_report;

/* Reports one problem at line (0: none): the first also fills r->err (HVD_ERULE). */
void hvd_xmlfile_problem(hvd_xmlfile_report *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hvd_xmlfile_vproblem(hvd_xmlfile_report *r, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* libxml2's structured-error callback (parser and schema): ud is a hvd_xmlfile_report. */
void hvd_xmlfile_on_error(void *ud, xmlErrorPtr e);

/* The *.xml files of dir (not hidden), as "dir/name", sorted by name. A missing dir is a
 * problem unless missing_ok (then no files). Returns the count, or -1 after reporting; the
 * caller frees the list with hvd_xmlfile_list_free(). Cost: O(n log n) for n files. */
long hvd_xmlfile_list(hvd_xmlfile_report *r, const char *dir, int missing_ok, char ***files);
void hvd_xmlfile_list_free(char **files, long n); /* NULL-safe */

/* Calls load(ud, path) for each *.xml file of dir in name order (as hvd_xmlfile_list(),
 * a missing dir being no problem), and stops after the file that brought r's first
 * problem. Returns the number of files, or -1. */
long hvd_xmlfile_each(hvd_xmlfile_report *r, const char *dir,
                      void (*load)(void *ud, const char *path), void *ud);

/* Whether n is the element name in namespace ns. */
int hvd_xmlfile_is_el(const xmlNode *n, const char *name, const char *ns);

/* A copy of attribute name of n (caller frees with hvd_free), or NULL when absent or out
 * of memory. */
char *hvd_xmlfile_attr(const xmlNode *n, const char *name);

/* Reads and parses path; kind names the files in messages ("rule files"). Returns the
 * document (caller frees with xmlFreeDoc), or NULL after reporting why. Sets r->file. */
xmlDocPtr hvd_xmlfile_read(hvd_xmlfile_report *r, const char *path, const char *kind);

#endif
