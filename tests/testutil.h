/* Shared helpers for the Check suites: temp dirs, paths, running tools. */
#ifndef HVD_TESTUTIL_H
#define HVD_TESTUTIL_H

#include <stddef.h>

/* A fresh empty directory under $TMPDIR; caller frees the string (the directory stays
 * unless removed with hvd_test_rmtree). */
char *hvd_test_tmpdir(void);
/* rm -rf dir; NULL-safe. */
void hvd_test_rmtree(const char *dir);
/* dir + "/" + name, caller frees. */
char *hvd_test_path(const char *dir, const char *name);
/* Writes len bytes to path; returns 0 or -1. */
int hvd_test_write_file(const char *path, const void *data, size_t len);
/* Reads a whole (small) file; caller frees; *len may be NULL. NULL on failure. */
char *hvd_test_read_file(const char *path, size_t *len);
/* Runs argv (argv[0] a path), stdout to out_path when non-NULL; returns the exit status
 * or -1 when it did not exit normally. */
int hvd_test_run(char *const argv[], const char *out_path);
/* As hvd_test_run(), with stderr to err_path too when non-NULL. */
int hvd_test_run_io(char *const argv[], const char *out_path, const char *err_path);
/* True when the shared corpus folder exists (tests that need it skip otherwise). */
int hvd_test_have_corpus(void);

#endif
