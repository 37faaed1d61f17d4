/*
 * bundle: what 'hvdiag analyze PATH...' reads. Expands the paths a user gives (single files,
 * folders searched recursively, .zip bundles) into a sorted list of input files, each with
 * its kind, or the reason it is skipped. Archives are extracted into a private temporary
 * folder that lives as long as the bundle.
 */
#ifndef HVD_BUNDLE_H
#define HVD_BUNDLE_H

#include "error.h"
#include "event.h"
#include "log.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hvd_bundle_status {
    HVD_BUNDLE_READ = 0,    /* an input to read: kind is EVTX or CLUSTERLOG */
    HVD_BUNDLE_SKIPPED = 1, /* not a log hvdiag reads (README.txt, a .csv, ...): not an error */
    HVD_BUNDLE_ERROR = 2,   /* named by the user or inside an archive, but unreadable */
} hvd_bundle_status;

typedef struct hvd_bundle_file {
    const char *path;    /* where to open it (inside the temp folder for archive members) */
    const char *display; /* what to show: the user's path, or "bundle.zip!/dir/file" */
    hvd_source_kind kind;
    hvd_bundle_status status;
    const char *reason; /* why skipped or in error; "" when read */
} hvd_bundle_file;

typedef struct hvd_bundle_limits {
    /* Logical bytes extracted from all archives together (a sparse member counts at its
     * full size); 0: hvd_bundle_default_max_extract(). A member that would pass it is an
     * error entry and is not written. */
    uint64_t max_archive_bytes;
    uint64_t max_archive_entries; /* entries per archive; 0: 100000 */
} hvd_bundle_limits;

/* The most the default extraction limit allows, whatever the free space. */
#define HVD_BUNDLE_MAX_EXTRACT_CAP (UINT64_C(8) << 30)

/* The default extraction limit: HVD_BUNDLE_MAX_EXTRACT_CAP or half the free space of the
 * temporary folder ($TMPDIR, else /tmp), whichever is smaller. */
uint64_t hvd_bundle_default_max_extract(void);

typedef struct hvd_bundle hvd_bundle;

/*
 * Expands paths. Problems with one path (missing, unreadable, a damaged archive) become
 * HVD_BUNDLE_ERROR entries and do not stop the others; only running out of memory or of
 * temporary space fails the whole call. A path that yields no file to read and no error
 * (an empty folder or archive, a folder of other files) becomes an error entry itself.
 * Archive members are checked by name and first bytes before they are written; members
 * that are not logs are listed as skipped and never written. limits and log may be NULL
 * (defaults above). Member names are read as UTF-8 when LC_CTYPE is a UTF-8 locale (in the
 * C locale libarchive cannot give a non-ASCII name; such members are listed as skipped).
 * On success *out owns everything until hvd_bundle_close(); on failure nothing is left in
 * the temporary folder.
 */
int hvd_bundle_open(hvd_bundle **out, const char *const *paths, size_t npaths,
                    const hvd_bundle_limits *limits, const hvd_logger *log, hvd_error *err);

size_t hvd_bundle_count(const hvd_bundle *b);
/* Entry i (0-based, sorted by display name): borrowed, valid until hvd_bundle_close(). */
const hvd_bundle_file *hvd_bundle_file_at(const hvd_bundle *b, size_t i);

/* Logical bytes of the archive members written to the temporary folder. */
uint64_t hvd_bundle_extracted_bytes(const hvd_bundle *b);

/* Frees the list and removes the temporary folder. NULL-safe. */
void hvd_bundle_close(hvd_bundle *b);

#endif
