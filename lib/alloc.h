/*
 * Allocation wrappers for lib/. Test builds (HVD_TESTING) can make the Nth call fail,
 * so the tests can walk every allocation failure path, as SQLite's test_malloc does.
 */
#ifndef HVD_ALLOC_H
#define HVD_ALLOC_H

#include <stddef.h>

void *hvd_malloc(size_t n);
void *hvd_calloc(size_t count, size_t size);
void *hvd_realloc(void *p, size_t n);
char *hvd_strdup(const char *s);
char *hvd_strndup(const char *s, size_t n);
void hvd_free(void *p); /* NULL-safe */

/* Makes room in the array *arrayp (a pointer to the array's pointer, holding n elements of
 * size bytes, *cap of them allocated) for one more: doubles, from 'first'. Returns 0, or -1
 * when out of memory, the array as it was. Amortized O(1). */
int hvd_array_room(void *arrayp, size_t *cap, size_t n, size_t size, size_t first);

/* A bump allocator: many small pieces in 64 KiB blocks, freed together. Zero-initialise
 * it ({0}); hvd_arena_free() leaves it empty and usable. */
typedef struct hvd_arena_block hvd_arena_block;
typedef struct hvd_arena {
    hvd_arena_block *head;
} hvd_arena;

/* n zeroed bytes aligned for any type, or NULL when out of memory. Cost: O(n). */
void *hvd_arena_alloc(hvd_arena *a, size_t n);
/* A copy of s, packed (not aligned); "" is not copied. NULL when out of memory. */
char *hvd_arena_strdup(hvd_arena *a, const char *s);
void hvd_arena_free(hvd_arena *a);

#ifdef HVD_TESTING
/* Makes allocation number n (1-based, counted from now) and every later one fail; 0 turns
 * failures off. Returns how many allocations were made since the last call. */
unsigned long hvd_alloc_fail_after(unsigned long n);
#endif

#endif
