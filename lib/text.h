/*
 * text: encodings of text logs. cluster.log files come as UTF-16LE (with a BOM, from
 * Get-ClusterLog), UTF-8 with or without a BOM, or a legacy single-byte code page; hvdiag
 * works in UTF-8 inside and converts at the edge.
 */
#ifndef HVD_TEXT_H
#define HVD_TEXT_H

#include "buf.h"
#include "error.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hvd_encoding {
    HVD_ENC_UTF8 = 0,
    HVD_ENC_UTF16LE = 1,
    HVD_ENC_CP1252 = 2,
} hvd_encoding;

/*
 * Detects the encoding of a text file from its first bytes (up to 4 KiB is enough) and
 * sets *bom to the length of its byte-order mark (0 if none). BOM FF FE: UTF-16LE; BOM
 * EF BB BF: UTF-8; no BOM: NULs at odd offsets mean UTF-16LE, valid UTF-8 means UTF-8,
 * anything else Windows-1252.
 */
hvd_encoding hvd_text_detect(const unsigned char *head, size_t len, size_t *bom);

const char *hvd_text_encoding_name(hvd_encoding enc); /* "utf-8", "utf-16le", "windows-1252" */
int hvd_text_encoding_parse(const char *name, hvd_encoding *out); /* 0 or -1 */

/* Bytes per code unit (1 or 2): lines split on whole code units. */
size_t hvd_text_unit(hvd_encoding enc);

typedef struct hvd_text_decoder hvd_text_decoder;

int hvd_text_decoder_create(hvd_text_decoder **out, hvd_encoding enc, hvd_error *err);
void hvd_text_decoder_destroy(hvd_text_decoder *d); /* NULL-safe */

/*
 * Converts len bytes to UTF-8, appended to out. Invalid sequences become U+FFFD (one per
 * bad code unit) and are counted in *bad; a sequence cut off at the end of the input
 * becomes one U+FFFD. Returns HVD_OK, or HVD_ELIMIT/HVD_ENOMEM from the buffer.
 */
int hvd_text_decode(hvd_text_decoder *d, const void *in, size_t len, hvd_buf *out, uint64_t *bad);

#endif
