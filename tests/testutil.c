/* Shared helpers for the Check suites. Test code: aborts on impossible setup failures. */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *hvd_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl;
    size_t n;

    if (!base || !*base) {
        base = "/tmp";
    }
    n = strlen(base) + sizeof("/hvdtest.XXXXXX");
    tmpl = malloc(n);
    if (!tmpl) {
        abort();
    }
    snprintf(tmpl, n, "%s/hvdtest.XXXXXX", base);
    if (!mkdtemp(tmpl)) {
        abort();
    }
    return tmpl;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void hvd_test_rmtree(const char *dir)
{
    if (dir) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

char *hvd_test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (!p) {
        abort();
    }
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int hvd_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (!f) {
        return -1;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

char *hvd_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t cap = 0;
    size_t used = 0;
    size_t n;

    if (!f) {
        return NULL;
    }
    for (;;) {
        if (cap - used < 4096) {
            cap = cap ? cap * 2 : 8192;
            data = realloc(data, cap + 1);
            if (!data) {
                abort();
            }
        }
        n = fread(data + used, 1, cap - used, f);
        used += n;
        if (n == 0) {
            break;
        }
    }
    fclose(f);
    data[used] = '\0';
    if (len) {
        *len = used;
    }
    return data;
}

int hvd_test_run(char *const argv[], const char *out_path)
{
    return hvd_test_run_io(argv, out_path, NULL);
}

static int redirect(const char *path, int fd)
{
    int to = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (to < 0 || dup2(to, fd) < 0) {
        return -1;
    }
    close(to);
    return 0;
}

int hvd_test_run_io(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid;
    int status;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        if ((out_path && redirect(out_path, 1) < 0) || (err_path && redirect(err_path, 2) < 0)) {
            _exit(127);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int hvd_test_have_corpus(void)
{
    struct stat st;

    return stat(HVD_CORPUS_DIR "/evtx", &st) == 0 && S_ISDIR(st.st_mode);
}
