/*
 * reslimit: setrlimit wrappers for memory and CPU time, and their stand-in for sanitizer
 * builds. See reslimit.h for why RLIMIT_DATA (not RLIMIT_AS): since Linux 4.7 it counts
 * every private writable mapping, so glibc's mmap-ed large blocks are inside it, while
 * shared libraries, read-only file mappings and reserved-but-inaccessible arena space are
 * not. The limit thus bounds what input can make a process allocate, not its layout.
 */
#include "reslimit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

/* The failure of a system call just made, with its errno. */
static int limit_failed(hvd_error *err, const char *what)
{
    int e = errno;
    int rc = hvd_error_set(err, HVD_ELIMIT, NULL, 0, "%s: %s", what, strerror(e));

    if (err) {
        err->cause = e;
    }
    return rc;
}

int hvd_reslimit_sanitized(void)
{
#ifdef HVD_RESLIMIT_ASAN
    return 1;
#else
    return 0;
#endif
}

int hvd_reslimit_memory(uint64_t bytes, hvd_error *err)
{
    struct rlimit rl;

    if (bytes == 0) {
        return HVD_OK;
    }
    if (hvd_reslimit_sanitized()) {
        return HVD_EUNSUPPORTED;
    }
    if (getrlimit(RLIMIT_DATA, &rl) < 0) {
        rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= bytes) {
        return HVD_OK; /* already as low or lower */
    }
    rl.rlim_cur = (rlim_t)bytes;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)bytes) {
        rl.rlim_max = (rlim_t)bytes;
    }
    if (setrlimit(RLIMIT_DATA, &rl) < 0) {
        return limit_failed(err, "cannot limit memory");
    }
    return HVD_OK;
}

uint64_t hvd_reslimit_memory_current(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_DATA, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
        return 0;
    }
    return (uint64_t)rl.rlim_cur;
}

int hvd_reslimit_cpu_budget(uint64_t ms, hvd_error *err)
{
    struct rusage ru;
    struct rlimit rl;
    uint64_t used;
    uint64_t secs;

    if (getrlimit(RLIMIT_CPU, &rl) < 0 || getrusage(RUSAGE_SELF, &ru) < 0) {
        return limit_failed(err, "cannot read the CPU time limit");
    }
    if (ms == 0) {
        rl.rlim_cur = rl.rlim_max;
    } else {
        /* RLIMIT_CPU counts whole seconds of user + system time since the process began */
        used = (uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec + 1;
        secs = used + (ms + 999) / 1000;
        if (rl.rlim_max != RLIM_INFINITY && secs > (uint64_t)rl.rlim_max) {
            secs = (uint64_t)rl.rlim_max;
        }
        rl.rlim_cur = (rlim_t)secs;
    }
    if (setrlimit(RLIMIT_CPU, &rl) < 0) {
        return limit_failed(err, "cannot set a CPU time limit");
    }
    return HVD_OK;
}

int hvd_reslimit_sanitizer_options(uint64_t bytes, const char *current, char *out, size_t size)
{
    uint64_t mb = (bytes + (1u << 20) - 1) >> 20;
    int n;

    if (!hvd_reslimit_sanitized() || bytes == 0) {
        return HVD_EUNSUPPORTED;
    }
    /* later options win, so these follow whatever the caller's environment sets */
    n = snprintf(out, size,
                 "ASAN_OPTIONS=%s%sallocator_may_return_null=1:max_allocation_size_mb=%" PRIu64
                 ":soft_rss_limit_mb=%" PRIu64,
                 current ? current : "", current && *current ? ":" : "", mb, mb);
    if (n < 0 || (size_t)n >= size) {
        return HVD_ELIMIT;
    }
    return HVD_OK;
}

uint64_t hvd_reslimit_rss(int pid)
{
    char path[64];
    char buf[128];
    unsigned long long pages = 0;
    unsigned long long rss = 0;
    ssize_t n;
    int fd;

    if (pid > 0) {
        snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    } else {
        snprintf(path, sizeof(path), "/proc/self/statm");
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    /* "size resident shared text lib data dt", in pages */
    if (sscanf(buf, "%llu %llu", &pages, &rss) != 2) {
        return 0;
    }
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}
