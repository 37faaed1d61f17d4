/* hvd_malloc and friends: plain libc calls, plus a failure injector in test builds. */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef HVD_TESTING
/* Test-only process state: the one global lib/ has, and only in test builds. */
static unsigned long alloc_count;
static unsigned long alloc_fail_at;

unsigned long hvd_alloc_fail_after(unsigned long n)
{
    unsigned long made = alloc_count;

    alloc_count = 0;
    alloc_fail_at = n;
    return made;
}

static int alloc_should_fail(void)
{
    alloc_count++;
    return alloc_fail_at && alloc_count >= alloc_fail_at;
}
#else
static int alloc_should_fail(void)
{
    return 0;
}
#endif

void *hvd_malloc(size_t n)
{
    if (alloc_should_fail()) {
        return NULL;
    }
    return malloc(n ? n : 1);
}

void *hvd_calloc(size_t count, size_t size)
{
    if (alloc_should_fail()) {
        return NULL;
    }
    return calloc(count ? count : 1, size ? size : 1);
}

void *hvd_realloc(void *p, size_t n)
{
    if (alloc_should_fail()) {
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

char *hvd_strndup(const char *s, size_t n)
{
    char *copy;
    size_t len = strnlen(s, n); /* libc's word-at-a-time scan, not a byte loop */

    copy = hvd_malloc(len + 1);
    if (!copy) {
        return NULL;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *hvd_strdup(const char *s)
{
    return hvd_strndup(s, strlen(s));
}

void hvd_free(void *p)
{
    free(p);
}

int hvd_array_room(void *arrayp, size_t *cap, size_t n, size_t size, size_t first)
{
    size_t ncap = *cap ? 2 * *cap : first;
    void *old;
    void *grown;

    if (n < *cap) {
        return 0;
    }
    memcpy(&old, arrayp, sizeof(old));
    grown = ncap <= SIZE_MAX / size ? hvd_realloc(old, ncap * size) : NULL;
    if (!grown) {
        return -1;
    }
    memcpy(arrayp, &grown, sizeof(grown));
    *cap = ncap;
    return 0;
}

#define ARENA_BLOCK (64 * 1024)

struct hvd_arena_block {
    hvd_arena_block *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

/* Room for n bytes at an offset rounded up to align, in the head block or a new one. */
static void *arena_take(hvd_arena *a, size_t n, size_t align)
{
    hvd_arena_block *b = a->head;
    size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

    if (!b || at > b->cap || b->cap - at < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;

        b = hvd_malloc(sizeof(*b) + cap);
        if (!b) {
            return NULL;
        }
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
        at = 0;
    }
    b->used = at + n;
    return b->data + at;
}

void *hvd_arena_alloc(hvd_arena *a, size_t n)
{
    void *p = arena_take(a, n ? n : 1, 16);

    if (p) {
        memset(p, 0, n);
    }
    return p;
}

char *hvd_arena_strdup(hvd_arena *a, const char *s)
{
    static char empty[1];
    size_t n = strlen(s) + 1;
    char *p;

    if (n == 1) {
        return empty;
    }
    p = arena_take(a, n, 1);
    if (p) {
        memcpy(p, s, n);
    }
    return p;
}

void hvd_arena_free(hvd_arena *a)
{
    while (a->head) {
        hvd_arena_block *next = a->head->next;

        hvd_free(a->head);
        a->head = next;
    }
}
