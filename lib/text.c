/*
 * text: encoding detection and conversion to UTF-8 with iconv(3). Invalid input never
 * stops a conversion: each bad code unit becomes U+FFFD and is counted, as SQLite's utf.c
 * does with lone surrogates.
 */
#include "text.h"

#include "alloc.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD in UTF-8 */

struct hvd_text_decoder {
    iconv_t cd;
    hvd_encoding enc;
};

/* True when len bytes are valid UTF-8, allowing a sequence cut off at the very end. */
static int valid_utf8(const unsigned char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t extra;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= extra; k++) {
            if (i + k >= len) {
                return 1; /* cut off by the sample's end */
            }
            if ((p[i + k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        i += extra + 1;
    }
    return 1;
}

hvd_encoding hvd_text_detect(const unsigned char *head, size_t len, size_t *bom)
{
    size_t odd_nuls = 0;
    size_t even_nuls = 0;

    *bom = 0;
    if (len >= 2 && head[0] == 0xFF && head[1] == 0xFE) {
        *bom = 2;
        return HVD_ENC_UTF16LE;
    }
    if (len >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) {
        *bom = 3;
        return HVD_ENC_UTF8;
    }
    if (len > 4096) {
        len = 4096;
    }
    for (size_t i = 0; i < len; i++) {
        if (head[i] == 0) {
            if (i % 2) {
                odd_nuls++;
            } else {
                even_nuls++;
            }
        }
    }
    if (odd_nuls > 0 && odd_nuls > 4 * even_nuls) {
        return HVD_ENC_UTF16LE;
    }
    return valid_utf8(head, len) ? HVD_ENC_UTF8 : HVD_ENC_CP1252;
}

static const char *const encoding_names[] = {"utf-8", "utf-16le", "windows-1252"};
static const char *const iconv_names[] = {"UTF-8", "UTF-16LE", "CP1252"};

const char *hvd_text_encoding_name(hvd_encoding enc)
{
    return (unsigned)enc < 3 ? encoding_names[enc] : "unknown";
}

int hvd_text_encoding_parse(const char *name, hvd_encoding *out)
{
    for (unsigned i = 0; i < 3; i++) {
        if (strcmp(name, encoding_names[i]) == 0) {
            *out = (hvd_encoding)i;
            return 0;
        }
    }
    return -1;
}

size_t hvd_text_unit(hvd_encoding enc)
{
    return enc == HVD_ENC_UTF16LE ? 2 : 1;
}

int hvd_text_decoder_create(hvd_text_decoder **out, hvd_encoding enc, hvd_error *err)
{
    hvd_text_decoder *d;

    *out = NULL;
    if ((unsigned)enc >= 3) {
        return hvd_error_set(err, HVD_EINVAL, NULL, 0, "unknown encoding %d", (int)enc);
    }
    d = hvd_calloc(1, sizeof(*d));
    if (!d) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate a decoder");
    }
    d->enc = enc;
    d->cd = iconv_open("UTF-8", iconv_names[enc]);
    if (d->cd == (iconv_t)-1) {
        int e = errno;

        hvd_free(d);
        return hvd_error_set_cause(err, HVD_EUNSUPPORTED, e, NULL, 0,
                                   "iconv cannot convert from %s", iconv_names[enc]);
    }
    *out = d;
    return HVD_OK;
}

void hvd_text_decoder_destroy(hvd_text_decoder *d)
{
    if (!d) {
        return;
    }
    iconv_close(d->cd);
    hvd_free(d);
}

int hvd_text_decode(hvd_text_decoder *d, const void *in, size_t len, hvd_buf *out, uint64_t *bad)
{
    char chunk[4096];
    char *src = (char *)in;
    size_t left = len;
    size_t unit = hvd_text_unit(d->enc);
    int rc;

    iconv(d->cd, NULL, NULL, NULL, NULL);
    while (left > 0) {
        char *dst = chunk;
        size_t room = sizeof(chunk);
        size_t r = iconv(d->cd, &src, &left, &dst, &room);
        int e = errno;

        rc = hvd_buf_add(out, chunk, sizeof(chunk) - room);
        if (rc < 0) {
            return rc;
        }
        if (r != (size_t)-1) {
            continue;
        }
        if (e == E2BIG) {
            continue;
        }
        /* EILSEQ: a bad unit; EINVAL: a sequence cut off at the end of this input. */
        rc = hvd_buf_add(out, replacement, 3);
        if (rc < 0) {
            return rc;
        }
        if (bad) {
            (*bad)++;
        }
        if (e == EINVAL) {
            break;
        }
        if (left < unit) {
            break;
        }
        src += unit;
        left -= unit;
        iconv(d->cd, NULL, NULL, NULL, NULL);
    }
    return HVD_OK;
}
