/*
 * Replay driver: the main() of a fuzz target in builds without libFuzzer. Feeds each file
 * named on the command line, and each regular file in each folder named (sorted, not
 * recursive), to LLVMFuzzerTestOneInput() once. Exits 1 when no input was found, so a
 * missing seed folder fails the test instead of passing it. Runs, as hvdiag does, under a
 * data-memory limit (REPLAY_MEMORY), so an allocation a hostile seed asks for fails as it
 * does in the product instead of taking the machine (sanitizer builds: the targets' own
 * allocator options).
 */
#include "fuzz_util.h"
#include "reslimit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUT     (64u << 20)
#define REPLAY_MEMORY (1ull << 30)

/* Feeds one file; returns 1 when it was fed, 0 when skipped, -1 on a read error. */
static int feed(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0;
    size_t n;
    struct stat st;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_INPUT) {
        fclose(f);
        return 0;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        fclose(f);
        return -1;
    }
    while ((n = fread(data + len, 1, (size_t)st.st_size - len, f)) > 0) {
        len += n;
    }
    fclose(f);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    size_t fed = 0;
    hvd_error err;
    int lim = hvd_reslimit_memory(REPLAY_MEMORY, &err);

    if (lim != HVD_OK && lim != HVD_EUNSUPPORTED) {
        fprintf(stderr, "cannot limit memory: %s\n", err.msg);
        return 1;
    }

    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (feed(argv[i]) < 0) {
                return 1;
            }
            fed++;
            continue;
        }
        d = opendir(argv[i]);
        if (!d) {
            return 1;
        }
        while ((de = readdir(d)) != NULL) {
            char **grown;

            if (de->d_name[0] == '.') {
                continue;
            }
            grown = realloc(names, (n + 1) * sizeof(*names));
            if (!grown) {
                return 1;
            }
            names = grown;
            names[n] = malloc(strlen(argv[i]) + strlen(de->d_name) + 2);
            if (!names[n]) {
                return 1;
            }
            snprintf(names[n], strlen(argv[i]) + strlen(de->d_name) + 2, "%s/%s", argv[i],
                     de->d_name);
            n++;
        }
        closedir(d);
        if (n) {
            qsort(names, n, sizeof(*names), by_name);
        }
        for (size_t k = 0; k < n; k++) {
            int rc = feed(names[k]);

            if (rc < 0) {
                return 1;
            }
            fed += (size_t)rc;
            free(names[k]);
        }
        free(names);
    }
    if (fed == 0) {
        fprintf(stderr, "no input to replay\n");
        return 1;
    }
    fprintf(stderr, "replayed %zu inputs\n", fed);
    return 0;
}
