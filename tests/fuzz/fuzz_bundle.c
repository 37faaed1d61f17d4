/*
 * libFuzzer target for bundles (the archives 'hvdiag analyze' expands): the input is written
 * as an archive in a private temporary folder and expanded with small limits, then the
 * bundle is closed, which must remove everything it extracted.
 */
#include "bundle.h"
#include "fuzz_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries in a folder, "." and ".." aside. */
static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (!d) {
        abort();
    }
    while ((de = readdir(d)) != NULL) {
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hvd_bundle_limits limits = {64u << 20, 1000};
    char tmp[4200];
    const char *path;
    hvd_bundle *b = NULL;
    hvd_error err;
    size_t before;

    /* Extraction goes under $TMPDIR: point it into the private folder to see it cleaned. */
    if (snprintf(tmp, sizeof(tmp), "%s", hvd_fuzz_tmpdir()) >= (int)sizeof(tmp) ||
        setenv("TMPDIR", tmp, 1) != 0) {
        abort();
    }
    path = hvd_fuzz_write("fuzz.zip", data, size); /* any format: libarchive sniffs it */
    before = entries(tmp);
    if (hvd_bundle_open(&b, &path, 1, &limits, NULL, &err) == HVD_OK) {
        for (size_t i = 0; i < hvd_bundle_count(b); i++) {
            const hvd_bundle_file *f = hvd_bundle_file_at(b, i);

            if (!f || !f->path || !f->display || !f->reason) {
                abort();
            }
        }
        hvd_bundle_close(b);
    }
    if (entries(tmp) != before) {
        fprintf(stderr, "the bundle left files in %s\n", tmp);
        abort();
    }
    return 0;
}
