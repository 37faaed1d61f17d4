/*
 * CRC-32 by folding: the buffer is cut into 128-bit lanes, and four lanes at a time are
 * multiplied (carry-less) by x^512 mod P and added to the next 64 bytes, so the remainder
 * never leaves four registers; they fold into one, that one into 64 then 32 bits with a
 * Barrett reduction. Method and bit-reflected constants: V. Gopal, E. Ozturk et al., "Fast
 * CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", Intel, 2009. What
 * is not a whole 16-byte lane, and every buffer shorter than 64 bytes, goes to zlib.
 */
#include "crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_FOLD 1
#include <immintrin.h>

/* The pre-inverted CRC register after len bytes (len >= 64, a multiple of 16). */
__attribute__((target("pclmul,sse4.1"))) static uint32_t fold(const unsigned char *buf, size_t len,
                                                              uint32_t reg)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL); /* x^(512±32) */
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL); /* x^(128±32) */
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124LL);                /* x^64 */
    const __m128i poly = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL); /* mu, P */
    const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(buf + 0));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(buf + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(buf + 32));
    __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(buf + 48));
    __m128i t;

    a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)reg));
    buf += 64;
    len -= 64;
    while (len >= 64) {
        __m128i ta = _mm_clmulepi64_si128(a, k1k2, 0x00);
        __m128i tb = _mm_clmulepi64_si128(b, k1k2, 0x00);
        __m128i tc = _mm_clmulepi64_si128(c, k1k2, 0x00);
        __m128i td = _mm_clmulepi64_si128(d, k1k2, 0x00);

        a = _mm_clmulepi64_si128(a, k1k2, 0x11);
        b = _mm_clmulepi64_si128(b, k1k2, 0x11);
        c = _mm_clmulepi64_si128(c, k1k2, 0x11);
        d = _mm_clmulepi64_si128(d, k1k2, 0x11);
        a = _mm_xor_si128(_mm_xor_si128(a, ta),
                          _mm_loadu_si128((const __m128i *)(const void *)(buf + 0)));
        b = _mm_xor_si128(_mm_xor_si128(b, tb),
                          _mm_loadu_si128((const __m128i *)(const void *)(buf + 16)));
        c = _mm_xor_si128(_mm_xor_si128(c, tc),
                          _mm_loadu_si128((const __m128i *)(const void *)(buf + 32)));
        d = _mm_xor_si128(_mm_xor_si128(d, td),
                          _mm_loadu_si128((const __m128i *)(const void *)(buf + 48)));
        buf += 64;
        len -= 64;
    }
    /* Four lanes into one, then the 16-byte lanes left. */
    t = _mm_clmulepi64_si128(a, k3k4, 0x00);
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11), b), t);
    t = _mm_clmulepi64_si128(a, k3k4, 0x00);
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11), c), t);
    t = _mm_clmulepi64_si128(a, k3k4, 0x00);
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11), d), t);
    while (len >= 16) {
        t = _mm_clmulepi64_si128(a, k3k4, 0x00);
        a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11),
                                        _mm_loadu_si128((const __m128i *)(const void *)buf)),
                          t);
        buf += 16;
        len -= 16;
    }
    /* 128 bits to 64, then Barrett to 32. */
    t = _mm_clmulepi64_si128(a, k3k4, 0x10);
    a = _mm_xor_si128(_mm_srli_si128(a, 8), t);
    t = _mm_srli_si128(a, 4);
    a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00), t);
    t = _mm_clmulepi64_si128(_mm_and_si128(a, low32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), poly, 0x00);
    a = _mm_xor_si128(a, t);
    return (uint32_t)_mm_extract_epi32(a, 1);
}

static int can_fold(void)
{
    static int known = -1;

    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    }
    return known;
}
#endif

uint32_t hvd_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;

#ifdef HAVE_FOLD
    if (len >= 64 && can_fold()) {
        size_t whole = len & ~(size_t)15;

        crc = ~fold(p, whole, ~crc);
        p += whole;
        len -= whole;
    }
#endif
    while (len > 0) { /* zlib takes at most UINT_MAX bytes a call */
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;

        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}
