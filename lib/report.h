/*
 * report: the analysis as one self-contained HTML page (inline CSS and SVG, no script, no
 * network), for a person to read or print: incidents by severity then time, root cause
 * first, prose as paragraphs and numbered steps, a timeline with one lane per host, and the
 * evidence behind each diagnosis.
 */
#ifndef HVD_REPORT_H
#define HVD_REPORT_H

#include "buf.h"
#include "error.h"

#include <stddef.h>

typedef struct hvd_report_options {
    /* How times are written: 0 UTC ("2024-03-05T10:00:01Z"), 1 the local time zone of the
     * process (TZ), 2 a fixed offset of offset_minutes; both with the offset shown
     * ("2024-03-05T11:00:01+01:00"). */
    int zone;
    int offset_minutes;
} hvd_report_options;

/* Parses a --time-zone value: "utc" (or "Z"), "local", or an offset "+02:00", "-0530".
 * Returns 0 and fills opt's zone fields, or -1. */
int hvd_report_parse_zone(const char *spec, hvd_report_options *opt);

/*
 * Renders the report document 'hvdiag analyze --json' prints (json, len bytes: "database",
 * "files", "incidents" with their "diagnoses" and "evidence") as HTML appended to out.
 * opt may be NULL (UTC). Returns HVD_OK, HVD_ECORRUPT when json is not such a document, or
 * HVD_ENOMEM/HVD_ELIMIT when out cannot hold the page.
 * Cost: O(incidents + diagnoses + evidence) plus a sort of the incidents.
 */
int hvd_report_html(const char *json, size_t len, const hvd_report_options *opt, hvd_buf *out,
                    hvd_error *err);

#endif
