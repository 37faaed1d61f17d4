/*
 * bundle: turns the paths given to 'hvdiag analyze' into the list of files to read.
 *
 * Folders are walked recursively without following symbolic links to folders. Inside a
 * folder or an archive only files that look like logs are read: EVTX by signature, text
 * files whose name ends in .log or mentions "cluster" as cluster.log; everything else is
 * listed as skipped. A file the user names directly is read whatever its name.
 *
 * Archives (zip, and whatever else libarchive reads) are extracted into one mkdtemp()
 * folder. Entry names are checked before anything is written: no absolute paths, no "..",
 * regular files only, and byte and entry limits, so a hostile archive cannot write outside
 * the folder or fill the disk.
 */
#include "bundle.h"

#include "alloc.h"
#include "buf.h"
#include "source.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUNDLE_PATH_MAX  4096
#define BUNDLE_DEPTH_MAX 64

struct entry {
    char *path;
    char *display;
    hvd_source_kind kind;
    hvd_bundle_status status;
    char *reason;
};

struct hvd_bundle {
    struct entry *entries;
    size_t count;
    size_t cap;
    hvd_bundle_file *files; /* views over entries, built once sorted */
    char *tmpdir;           /* NULL until an archive is extracted */
    uint64_t archive_bytes;
    unsigned archives;
    hvd_bundle_limits limits;
    const hvd_logger *log;
};

static int add_entry(hvd_bundle *b, const char *path, const char *display, hvd_source_kind kind,
                     hvd_bundle_status status, const char *reason)
{
    struct entry *e;

    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        struct entry *grown = hvd_realloc(b->entries, cap * sizeof(*grown));

        if (!grown) {
            return HVD_ENOMEM;
        }
        b->entries = grown;
        b->cap = cap;
    }
    e = &b->entries[b->count];
    e->path = hvd_strdup(path);
    e->display = hvd_strdup(display);
    e->reason = hvd_strdup(reason);
    e->kind = kind;
    e->status = status;
    if (!e->path || !e->display || !e->reason) {
        hvd_free(e->path);
        hvd_free(e->display);
        hvd_free(e->reason);
        return HVD_ENOMEM;
    }
    b->count++;
    return HVD_OK;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);

    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int contains_ci(const char *s, const char *needle)
{
    size_t m = strlen(needle);

    for (; *s; s++) {
        if (strncasecmp(s, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

static int is_archive_name(const char *name)
{
    return ends_with_ci(name, ".zip") || ends_with_ci(name, ".tar") ||
           ends_with_ci(name, ".tar.gz") || ends_with_ci(name, ".tgz") ||
           ends_with_ci(name, ".tar.xz") || ends_with_ci(name, ".7z");
}

/* Decides what a regular file is. 'named' is set when the user gave this very path. */
static int classify_file(hvd_bundle *b, const char *path, const char *display, int named)
{
    hvd_error derr;
    hvd_source_kind kind;
    const char *name = base_name(path);

    hvd_error_clear(&derr);
    kind = hvd_source_detect(path, &derr);
    if (kind == HVD_SOURCE_EVTX) {
        return add_entry(b, path, display, kind, HVD_BUNDLE_READ, "");
    }
    if (kind == HVD_SOURCE_UNKNOWN && (derr.code == HVD_EIO || derr.code == HVD_ENOENT)) {
        return add_entry(b, path, display, kind, HVD_BUNDLE_ERROR, derr.msg);
    }
    if (kind == HVD_SOURCE_CLUSTERLOG &&
        (named || ends_with_ci(name, ".log") || contains_ci(name, "cluster"))) {
        return add_entry(b, path, display, kind, HVD_BUNDLE_READ, "");
    }
    if (named && kind == HVD_SOURCE_UNKNOWN) {
        /* The user asked for this file: say why it cannot be read. */
        return add_entry(b, path, display, kind, HVD_BUNDLE_ERROR, derr.msg);
    }
    return add_entry(b, path, display, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                     ends_with_ci(name, ".evtx") ? "not an EVTX file (bad signature)"
                                                 : "not an .evtx or cluster.log file");
}

static int join_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int ensure_tmpdir(hvd_bundle *b, hvd_error *err)
{
    const char *base = getenv("TMPDIR");
    char tmpl[BUNDLE_PATH_MAX];

    if (b->tmpdir) {
        return HVD_OK;
    }
    if (!base || !*base) {
        base = "/tmp";
    }
    if (join_path(tmpl, sizeof(tmpl), base, "hvdiag-bundle.XXXXXX") < 0) {
        return hvd_error_set(err, HVD_EINVAL, base, 0, "temporary folder path too long");
    }
    if (!mkdtemp(tmpl)) {
        return hvd_error_set_cause(err, HVD_EIO, errno, tmpl, 0,
                                   "cannot create a temporary folder: %s", strerror(errno));
    }
    b->tmpdir = hvd_strdup(tmpl);
    if (!b->tmpdir) {
        rmdir(tmpl);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    return HVD_OK;
}

/* True when an archive entry name is safe to create below the extraction folder: relative,
 * and no component is "..". Backslashes count as separators, as Windows tools write them. */
static int safe_member_name(const char *name)
{
    const char *p = name;

    if (!*name || name[0] == '/' || name[0] == '\\' || strlen(name) > 1024) {
        return 0;
    }
    while (*p) {
        size_t len = strcspn(p, "/\\");

        if (len == 2 && p[0] == '.' && p[1] == '.') {
            return 0;
        }
        p += len;
        if (*p) {
            p++;
        }
    }
    return 1;
}

/* Creates the folders leading to 'path' (all below the extraction folder). */
static int make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* Writes the current archive entry to 'dest'; returns 0, or -1 with a reason in 'why'. */
static int extract_member(hvd_bundle *b, struct archive *a, const char *dest, hvd_buf *why)
{
    const void *block;
    size_t size;
    la_int64_t offset;
    int fd;
    int rc;

    fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0) {
        hvd_buf_printf(why, "cannot create %s: %s", dest, strerror(errno));
        return -1;
    }
    for (;;) {
        rc = archive_read_data_block(a, &block, &size, &offset);
        if (rc == ARCHIVE_EOF) {
            break;
        }
        if (rc < ARCHIVE_WARN) {
            hvd_buf_printf(why, "damaged archive member: %s", archive_error_string(a));
            close(fd);
            return -1;
        }
        if (size > b->limits.max_archive_bytes - b->archive_bytes) {
            hvd_buf_printf(why, "archive larger than the limit of %llu bytes",
                           (unsigned long long)b->limits.max_archive_bytes);
            close(fd);
            return -1;
        }
        b->archive_bytes += size;
        if (pwrite(fd, block, size, (off_t)offset) != (ssize_t)size) {
            hvd_buf_printf(why, "cannot write %s: %s", dest, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (close(fd) < 0) {
        hvd_buf_printf(why, "cannot write %s: %s", dest, strerror(errno));
        return -1;
    }
    return 0;
}

static int add_archive(hvd_bundle *b, const char *path, const char *display, hvd_error *err)
{
    struct archive *a = NULL;
    struct archive_entry *ae;
    char root[BUNDLE_PATH_MAX];
    char dest[BUNDLE_PATH_MAX];
    char shown[BUNDLE_PATH_MAX];
    uint64_t entries = 0;
    hvd_buf why;
    int rc;

    hvd_buf_init(&why, 1024);
    rc = ensure_tmpdir(b, err);
    if (rc < 0) {
        return rc;
    }
    b->archives++;
    if (snprintf(root, sizeof(root), "%s/%u", b->tmpdir, b->archives) >= (int)sizeof(root) ||
        mkdir(root, 0700) < 0) {
        return add_entry(b, path, display, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR,
                         "cannot create an extraction folder");
    }
    a = archive_read_new();
    if (!a) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate an archive reader");
    }
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
        rc = add_entry(b, path, display, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR,
                       archive_error_string(a) ? archive_error_string(a) : "unreadable archive");
        goto out;
    }
    for (;;) {
        const char *name;

        rc = archive_read_next_header(a, &ae);
        if (rc == ARCHIVE_EOF) {
            rc = HVD_OK;
            break;
        }
        if (rc < ARCHIVE_WARN) {
            rc = add_entry(b, path, display, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR,
                           archive_error_string(a) ? archive_error_string(a) : "damaged archive");
            break;
        }
        name = archive_entry_pathname(ae);
        if (!name) {
            continue;
        }
        if (++entries > b->limits.max_archive_entries) {
            rc = add_entry(b, path, display, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR,
                           "too many entries in the archive");
            break;
        }
        if (snprintf(shown, sizeof(shown), "%s!/%s", display, name) >= (int)sizeof(shown)) {
            continue;
        }
        if (archive_entry_filetype(ae) == AE_IFDIR) {
            continue;
        }
        if (archive_entry_filetype(ae) != AE_IFREG) {
            rc = add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                           "not a regular file");
            if (rc < 0) {
                break;
            }
            continue;
        }
        if (!safe_member_name(name) || join_path(dest, sizeof(dest), root, name) < 0) {
            rc = add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                           "unsafe name in archive (absolute or with ..)");
            if (rc < 0) {
                break;
            }
            continue;
        }
        if (is_archive_name(name)) {
            rc = add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                           "archive inside an archive (extract it first)");
            if (rc < 0) {
                break;
            }
            continue;
        }
        hvd_buf_reset(&why);
        if (make_parents(dest) < 0 || extract_member(b, a, dest, &why) < 0) {
            rc = add_entry(b, dest, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR,
                           why.len ? hvd_buf_str(&why) : "cannot extract");
            if (rc < 0 || b->archive_bytes >= b->limits.max_archive_bytes) {
                break;
            }
            continue;
        }
        rc = classify_file(b, dest, shown, 0);
        if (rc < 0) {
            break;
        }
    }
out:
    hvd_buf_free(&why);
    archive_read_free(a);
    if (rc == HVD_ENOMEM) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "out of memory");
    }
    return rc < 0 ? rc : HVD_OK;
}

static int add_path(hvd_bundle *b, const char *path, int named, int depth, hvd_error *err);

static int add_dir(hvd_bundle *b, const char *path, int depth, hvd_error *err)
{
    DIR *d;
    struct dirent *de;
    char child[BUNDLE_PATH_MAX];
    int rc = HVD_OK;

    if (depth > BUNDLE_DEPTH_MAX) {
        return add_entry(b, path, path, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                         "folders nested too deep");
    }
    d = opendir(path);
    if (!d) {
        return add_entry(b, path, path, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (join_path(child, sizeof(child), path, de->d_name) < 0) {
            continue;
        }
        rc = add_path(b, child, 0, depth + 1, err);
        if (rc < 0) {
            break;
        }
    }
    closedir(d);
    return rc;
}

static int add_path(hvd_bundle *b, const char *path, int named, int depth, hvd_error *err)
{
    struct stat st;

    /* Folders found while walking are not followed through links; named ones are. */
    if ((named ? stat(path, &st) : lstat(path, &st)) < 0) {
        return add_entry(b, path, path, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return add_dir(b, path, depth, err);
    }
    if (S_ISLNK(st.st_mode)) {
        if (stat(path, &st) < 0 || S_ISDIR(st.st_mode)) {
            return HVD_OK;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        return named ? add_entry(b, path, path, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR,
                                 "not a regular file or folder")
                     : HVD_OK;
    }
    if (is_archive_name(path)) {
        return add_archive(b, path, path, err);
    }
    return classify_file(b, path, path, named);
}

static int compare_entries(const void *x, const void *y)
{
    const struct entry *a = x;
    const struct entry *b = y;

    return strcmp(a->display, b->display);
}

int hvd_bundle_open(hvd_bundle **out, const char *const *paths, size_t npaths,
                    const hvd_bundle_limits *limits, const hvd_logger *log, hvd_error *err)
{
    hvd_bundle *b;
    int rc = HVD_OK;

    *out = NULL;
    b = hvd_calloc(1, sizeof(*b));
    if (!b) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    b->log = log;
    b->limits.max_archive_bytes = UINT64_C(8) << 30;
    b->limits.max_archive_entries = 100000;
    if (limits) {
        b->limits = *limits;
    }
    for (size_t i = 0; i < npaths; i++) {
        rc = add_path(b, paths[i], 1, 0, err);
        if (rc < 0) {
            goto fail;
        }
    }
    qsort(b->entries, b->count, sizeof(b->entries[0]), compare_entries);
    b->files = hvd_calloc(b->count ? b->count : 1, sizeof(*b->files));
    if (!b->files) {
        rc = hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < b->count; i++) {
        b->files[i].path = b->entries[i].path;
        b->files[i].display = b->entries[i].display;
        b->files[i].kind = b->entries[i].kind;
        b->files[i].status = b->entries[i].status;
        b->files[i].reason = b->entries[i].reason;
    }
    *out = b;
    return HVD_OK;
fail:
    if (rc == HVD_ENOMEM && err && !err->msg[0]) {
        hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    hvd_bundle_close(b);
    return rc;
}

size_t hvd_bundle_count(const hvd_bundle *b)
{
    return b->count;
}

const hvd_bundle_file *hvd_bundle_file_at(const hvd_bundle *b, size_t i)
{
    return i < b->count ? &b->files[i] : NULL;
}

static int remove_tree(const char *path, int depth)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    char child[BUNDLE_PATH_MAX];

    if (lstat(path, &st) < 0) {
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || depth > BUNDLE_DEPTH_MAX + 2) {
        return unlink(path);
    }
    d = opendir(path);
    if (d) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            if (join_path(child, sizeof(child), path, de->d_name) == 0) {
                remove_tree(child, depth + 1);
            }
        }
        closedir(d);
    }
    return rmdir(path);
}

void hvd_bundle_close(hvd_bundle *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->count; i++) {
        hvd_free(b->entries[i].path);
        hvd_free(b->entries[i].display);
        hvd_free(b->entries[i].reason);
    }
    if (b->tmpdir) {
        remove_tree(b->tmpdir, 0);
        hvd_free(b->tmpdir);
    }
    hvd_free(b->entries);
    hvd_free(b->files);
    hvd_free(b);
}
