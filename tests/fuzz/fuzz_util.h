/*
 * Helpers shared by the fuzz targets (tests only): a private temporary folder for the
 * surfaces that read files by path, made once per process and removed at exit.
 */
#ifndef HVD_FUZZ_UTIL_H
#define HVD_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's temporary folder ("$TMPDIR/hvdfuzz.XXXXXX"), made on first use; aborts when
 * it cannot be made. Borrowed, valid until exit. */
const char *hvd_fuzz_tmpdir(void);

/* Writes size bytes to name inside the temporary folder, replacing it; returns the path
 * (borrowed, valid until the next call). Aborts on failure. */
const char *hvd_fuzz_write(const char *name, const uint8_t *data, size_t size);

#endif
