/*
 * errcode: error codes in every spelling Windows logs use. One 32-bit value stands for
 * 0x8009030E, 0x8009030e, 8009030E (8 hex digits, no prefix), 2148074254 (unsigned) and
 * -2146893042 (signed); Win32 codes map to and from HRESULTs of facility 7
 * (0x8007271D <-> 0x271D = 10013).
 */
#ifndef HVD_ERRCODE_H
#define HVD_ERRCODE_H

#include <stddef.h>
#include <stdint.h>

/* Parses one code written any of those ways (whole string). Returns 0 and sets *out, or -1. */
int hvd_errcode_parse(const char *s, uint32_t *out);

/* "0x8009030E" into buf (cap >= 11); returns buf. */
char *hvd_errcode_format(uint32_t code, char *buf, size_t cap);

/* The Win32 code inside a facility-7 HRESULT (0x8007xxxx -> xxxx), or the code itself. */
uint32_t hvd_errcode_win32(uint32_t code);

/*
 * Calls fn(ud, value) for every code-like token in text: 0x-prefixed hex (1 to 8 digits),
 * bare 8-digit hex words, and decimal numbers of 4 or more digits, signed or not, that fit
 * in 32 bits. A bare 8-digit word made only of decimal digits is reported both ways.
 * Tokens inside longer words (GUIDs, paths) are not codes. Stops early when fn returns
 * nonzero, and returns that value (0 when it went through the whole text).
 */
int hvd_errcode_scan(const char *text, int (*fn)(void *ud, uint32_t value), void *ud);

#endif
