/* Helpers shared by the fuzz targets: see fuzz_util.h. */
#include "fuzz_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[4096];

/* Removes the folder tree (depth first, bounded by the few levels the targets make). */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
            continue;
        }
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth < 64) {
            remove_tree(path, depth + 1);
        } else {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

static void cleanup(void)
{
    if (tmpdir[0]) {
        remove_tree(tmpdir, 0);
    }
}

const char *hvd_fuzz_tmpdir(void)
{
    const char *base;

    if (tmpdir[0]) {
        return tmpdir;
    }
    base = getenv("TMPDIR");
    if (!base || !*base) {
        base = "/tmp";
    }
    if (snprintf(tmpdir, sizeof(tmpdir), "%s/hvdfuzz.XXXXXX", base) >= (int)sizeof(tmpdir) ||
        !mkdtemp(tmpdir)) {
        perror("fuzz: cannot make a temporary folder");
        abort();
    }
    atexit(cleanup);
    return tmpdir;
}

const char *hvd_fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[4200];
    int fd;

    if (snprintf(path, sizeof(path), "%s/%s", hvd_fuzz_tmpdir(), name) >= (int)sizeof(path)) {
        abort();
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    while (size > 0) {
        ssize_t n = write(fd, data, size);

        if (n <= 0) {
            perror(path);
            abort();
        }
        data += n;
        size -= (size_t)n;
    }
    close(fd);
    return path;
}
