/*
 * crc32: the CRC-32 of zip, gzip and EVTX (bit-reflected polynomial 0xEDB88320), as zlib's
 * crc32() gives it, by carry-less multiplication where the processor has it (x86-64 with
 * PCLMULQDQ and SSE4.1), else by zlib.
 */
#ifndef HVD_CRC32_H
#define HVD_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of len bytes at buf, continuing crc (0 to start), as zlib's crc32(crc, buf, len).
 * Cost: O(len); about a sixteenth of zlib's instructions per byte on long buffers. */
uint32_t hvd_crc32(uint32_t crc, const void *buf, size_t len);

#endif
