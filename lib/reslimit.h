/*
 * reslimit: resource limits a process puts on itself before it reads hostile input (a
 * daemon worker, the EVTX read-ahead child, the command-line reader). A memory limit makes
 * an allocation sized from a file fail (libevtx then reports the record as unreadable)
 * instead of pushing the machine into the OOM killer; a CPU budget ends a process that
 * spins.
 *
 * Sanitizer builds: AddressSanitizer maps terabytes of shadow memory, counted by both
 * RLIMIT_AS and RLIMIT_DATA, so neither limit can be set there. Such a build gets the same
 * effect from its allocator instead (hvd_reslimit_sanitizer_options()), given through the
 * environment of a process it starts.
 */
#ifndef HVD_RESLIMIT_H
#define HVD_RESLIMIT_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define HVD_RESLIMIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HVD_RESLIMIT_ASAN 1
#endif
#endif

/* True in a build with AddressSanitizer, where hvd_reslimit_memory() cannot work. */
int hvd_reslimit_sanitized(void);

/*
 * Limits this process's data memory (heap, anonymous mappings: RLIMIT_DATA) to at most
 * bytes; a limit already lower is kept, so a child never gets more than its parent.
 * bytes 0 does nothing. Inherited by children. Returns HVD_OK, HVD_EUNSUPPORTED in a
 * sanitizer build (nothing changed), or HVD_ELIMIT when setrlimit fails (err->cause: errno).
 */
int hvd_reslimit_memory(uint64_t bytes, hvd_error *err);

/* The data-memory limit in force, or 0 when there is none. */
uint64_t hvd_reslimit_memory_current(void);

/*
 * Gives this process ms more milliseconds of CPU time from now (RLIMIT_CPU soft limit,
 * rounded up to whole seconds, counted from the CPU time already used); past it the
 * kernel sends SIGXCPU, which ends the process. Called again before each unit of work,
 * so a long-lived process gets a budget per unit. ms 0 lifts the soft limit back to the
 * hard one. Returns HVD_OK or HVD_ELIMIT (err->cause: errno).
 */
int hvd_reslimit_cpu_budget(uint64_t ms, hvd_error *err);

/*
 * Sanitizer builds: appends to 'current' (the ASAN_OPTIONS a child would inherit; NULL
 * for none) the allocator options that stand in for a memory limit of bytes: allocations
 * larger than the limit fail with NULL, and so do all while the resident size is past it.
 * Writes "ASAN_OPTIONS=..." into out. Returns HVD_OK, HVD_ELIMIT when out is too small,
 * or HVD_EUNSUPPORTED in other builds (and when bytes is 0).
 */
int hvd_reslimit_sanitizer_options(uint64_t bytes, const char *current, char *out, size_t size);

/* Resident set size of process pid (0: this one) from /proc, in bytes; 0 when unknown. */
uint64_t hvd_reslimit_rss(int pid);

#endif
