/*
 * bundle: turns the paths given to 'hvdiag analyze' into the list of files to read.
 *
 * Folders are walked recursively without following symbolic links to folders. Inside a
 * folder or an archive only files that look like logs are read: EVTX by signature, text
 * files whose name ends in .log or mentions "cluster" as cluster.log; everything else is
 * listed as skipped. A file the user names directly is read whatever its name.
 *
 * Archives (zip, tar, and whatever else libarchive reads) are extracted into one mkdtemp()
 * folder. Entry names are checked before anything is written: no absolute paths, no "..",
 * no control characters, at most BUNDLE_MEMBER_DEPTH_MAX folders deep, regular files only.
 * Then a member's first bytes decide whether it is a log at all; only logs are written.
 * Bytes are counted by logical extent (a sparse member counts at its full size), against
 * one limit for the whole bundle, so a hostile archive cannot write outside the folder,
 * fill the disk, or hand a reader gigabytes of holes. The folder is removed on close
 * whatever happened, however deep it goes.
 */
#define _XOPEN_SOURCE 700 /* nftw() */
#include "bundle.h"

#include "alloc.h"
#include "buf.h"
#include "clusterlog_reader.h"
#include "source.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define BUNDLE_PATH_MAX  4096
#define BUNDLE_DEPTH_MAX 64
/* Archive members: Get-ClusterLog bundles are a few folders deep; anything past this is
 * refused, which also keeps every extracted path far below PATH_MAX. */
#define BUNDLE_MEMBER_DEPTH_MAX  32
#define BUNDLE_MEMBER_DEPTH_TEXT "32"
#define BUNDLE_MEMBER_NAME_MAX   1024

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
    uint64_t archive_bytes; /* logical bytes charged against limits.max_archive_bytes */
    uint64_t written;       /* logical bytes of the members written out */
    unsigned archives;
    hvd_bundle_limits limits;
    const hvd_logger *log;
};

/* One archive member on its way out. */
struct member {
    char *dest;       /* where it goes, below the extraction folder */
    const char *name; /* its name in the archive */
    int clog_named;   /* the name allows a text file to be a cluster.log */
    uint64_t extent;  /* logical size charged so far */
    hvd_source_kind kind;
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

/* Decides what a regular file is. 'named' is set when the user gave this very path. A text
 * file is a cluster.log by its name (*.log, "cluster" in it) or by its lines (an excerpt
 * saved as .txt). */
static int classify_file(hvd_bundle *b, const char *path, const char *display, int named)
{
    hvd_error derr;
    hvd_source_head head;
    hvd_source_kind kind;
    const char *name = base_name(path);

    hvd_error_clear(&derr);
    kind = hvd_source_detect(path, &head, &derr);
    if (kind == HVD_SOURCE_EVTX) {
        return add_entry(b, path, display, kind, HVD_BUNDLE_READ, "");
    }
    if (kind == HVD_SOURCE_UNKNOWN && (derr.code == HVD_EIO || derr.code == HVD_ENOENT)) {
        return add_entry(b, path, display, kind, HVD_BUNDLE_ERROR, derr.msg);
    }
    if (kind == HVD_SOURCE_CLUSTERLOG &&
        (named || ends_with_ci(name, ".log") || contains_ci(name, "cluster") ||
         hvd_clusterlog_looks_like(head.bytes, head.len))) {
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

static const char *temp_base(void)
{
    const char *base = getenv("TMPDIR");

    return base && *base ? base : "/tmp";
}

uint64_t hvd_bundle_default_max_extract(void)
{
    struct statvfs vfs;
    uint64_t cap = HVD_BUNDLE_MAX_EXTRACT_CAP;

    if (statvfs(temp_base(), &vfs) == 0) {
        uint64_t half = (uint64_t)vfs.f_bavail / 2 * (uint64_t)vfs.f_frsize;

        if (half < cap) {
            cap = half;
        }
    }
    return cap;
}

static int ensure_tmpdir(hvd_bundle *b, hvd_error *err)
{
    const char *base = temp_base();
    char tmpl[BUNDLE_PATH_MAX];

    if (b->tmpdir) {
        return HVD_OK;
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
 * no component is "..", no control character, and at most BUNDLE_MEMBER_DEPTH_MAX folders
 * deep. Backslashes count as separators, as Windows tools write them. Sets *deep when the
 * only fault is the depth. */
static int safe_member_name(const char *name, int *deep)
{
    const char *p = name;
    unsigned depth = 0;

    *deep = 0;
    if (!*name || name[0] == '/' || name[0] == '\\' || strlen(name) > BUNDLE_MEMBER_NAME_MAX) {
        return 0;
    }
    for (const char *c = name; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return 0;
        }
    }
    while (*p) {
        size_t len = strcspn(p, "/\\");

        if (len == 2 && p[0] == '.' && p[1] == '.') {
            return 0;
        }
        p += len;
        if (*p) {
            p++;
            depth++;
        }
    }
    if (depth > BUNDLE_MEMBER_DEPTH_MAX) {
        *deep = 1;
        return 0;
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

/* "8 GiB", "1.5 MiB", "100000 bytes": a size for messages. */
static const char *size_text(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = -1;

    while (v >= 1024.0 && u < 3) {
        v /= 1024.0;
        u++;
    }
    if (u < 0 || n % 1024 != 0) {
        snprintf(buf, cap, "%" PRIu64 " bytes", n);
    } else if (v == (double)(uint64_t)v) {
        snprintf(buf, cap, "%.0f %s", v, units[u]);
    } else {
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    }
    return buf;
}

/* Reason for a member the extraction limit leaves out. */
static void limit_reason(const hvd_bundle *b, uint64_t size, hvd_buf *why)
{
    char s[32];
    char lim[32];

    hvd_buf_reset(why);
    hvd_buf_printf(why,
                   "not extracted: its %s would pass the limit of %s on bytes extracted "
                   "(--max-extract)",
                   size_text(size, s, sizeof(s)),
                   size_text(b->limits.max_archive_bytes, lim, sizeof(lim)));
}

/* Takes the member's logical size up to 'end' out of the extraction budget. The logical
 * extent, not the bytes the archive holds, is what counts: a sparse member of a few KiB
 * may stand for gigabytes a reader would go through. */
static int charge(hvd_bundle *b, struct member *m, uint64_t end, hvd_buf *why)
{
    uint64_t grow;

    if (end <= m->extent) {
        return 0;
    }
    grow = end - m->extent;
    if (grow > b->limits.max_archive_bytes - b->archive_bytes) {
        limit_reason(b, end, why);
        return -1;
    }
    b->archive_bytes += grow;
    m->extent = end;
    return 0;
}

static int write_at(int fd, const void *data, size_t len, uint64_t offset, const char *dest,
                    hvd_buf *why)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            hvd_buf_printf(why, "cannot write %s: %s", dest, n < 0 ? strerror(errno) : "no space");
            return -1;
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/*
 * Reads the current member's data up to its first HVD_SOURCE_HEAD bytes (holes read
 * as zeros) and decides from the name and those bytes whether it is a log hvdiag reads.
 * Only then is anything written: a member that is not a log never reaches the disk, and
 * one that is gets its whole logical size charged before its first byte is written.
 * Returns 1 when the member was written to m->dest (m->kind set), 0 when it is skipped
 * (reason in why), -1 when it is in error (reason in why; nothing is left on disk).
 * Cost: one pass over the member's data blocks; memory is one head buffer.
 */
static int extract_member(hvd_bundle *b, struct archive *a, struct archive_entry *ae,
                          struct member *m, hvd_buf *why)
{
    unsigned char head[HVD_SOURCE_HEAD];
    const void *block = NULL;
    size_t size = 0;
    la_int64_t offset = 0;
    uint64_t seen = 0; /* logical end of the blocks read so far */
    uint64_t declared = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : 0;
    uint64_t logical;
    size_t head_len;
    int eof = 0;
    int fd = -1;
    int rc;

    memset(head, 0, sizeof(head));
    for (;;) {
        rc = archive_read_data_block(a, &block, &size, &offset);
        if (rc == ARCHIVE_EOF) {
            eof = 1;
            break;
        }
        if (rc < ARCHIVE_WARN || offset < 0) {
            hvd_buf_printf(why, "damaged archive member: %s",
                           archive_error_string(a) ? archive_error_string(a) : "bad offset");
            return -1;
        }
        if ((uint64_t)offset < sizeof(head) && size > 0) { /* an empty block may be NULL */
            size_t n = size < sizeof(head) - (size_t)offset ? size : sizeof(head) - (size_t)offset;

            memcpy(head + offset, block, n);
        }
        if ((uint64_t)offset + size > seen) {
            seen = (uint64_t)offset + size;
        }
        if (seen >= sizeof(head)) {
            break;
        }
    }
    logical = seen > declared ? seen : declared;
    head_len = logical < sizeof(head) ? (size_t)logical : sizeof(head);
    m->kind = hvd_source_detect_head(head, head_len);
    if (head_len == 0) {
        hvd_buf_printf(why, "empty file");
        return 0;
    }
    if (m->kind == HVD_SOURCE_UNKNOWN || (m->kind == HVD_SOURCE_CLUSTERLOG && !m->clog_named &&
                                          !hvd_clusterlog_looks_like(head, head_len))) {
        hvd_buf_printf(why, "%s",
                       ends_with_ci(m->name, ".evtx") ? "not an EVTX file (bad signature)"
                                                      : "not an .evtx or cluster.log file");
        return 0;
    }
    /* A log: its whole logical size must fit before anything is written. */
    if (declared > b->limits.max_archive_bytes - b->archive_bytes) {
        limit_reason(b, declared, why);
        return -1;
    }
    if (make_parents(m->dest) < 0) {
        hvd_buf_printf(why, "cannot create the folders for %s: %s", m->dest, strerror(errno));
        return -1;
    }
    fd = open(m->dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        hvd_buf_printf(why, "cannot create %s: %s", m->dest, strerror(errno));
        return -1;
    }
    /* The head as read (holes written as zeros), then the rest of the block it ended in. */
    if (charge(b, m, seen, why) < 0 ||
        write_at(fd, head, seen < sizeof(head) ? (size_t)seen : sizeof(head), 0, m->dest, why) <
            0) {
        goto fail;
    }
    if (!eof && (uint64_t)offset + size > sizeof(head)) {
        uint64_t from = (uint64_t)offset > sizeof(head) ? (uint64_t)offset : sizeof(head);

        if (write_at(fd, (const char *)block + (from - (uint64_t)offset),
                     (size_t)((uint64_t)offset + size - from), from, m->dest, why) < 0) {
            goto fail;
        }
    }
    while (!eof) {
        rc = archive_read_data_block(a, &block, &size, &offset);
        if (rc == ARCHIVE_EOF) {
            break;
        }
        if (rc < ARCHIVE_WARN || offset < 0) {
            hvd_buf_printf(why, "damaged archive member: %s",
                           archive_error_string(a) ? archive_error_string(a) : "bad offset");
            goto fail;
        }
        if (size == 0) {
            continue;
        }
        if (charge(b, m, (uint64_t)offset + size, why) < 0 ||
            write_at(fd, block, size, (uint64_t)offset, m->dest, why) < 0) {
            goto fail;
        }
    }
    /* A member that ends in a hole: the reader sees its zeros, so they count too. */
    if (declared > m->extent) {
        if (charge(b, m, declared, why) < 0) {
            goto fail;
        }
        if (ftruncate(fd, (off_t)declared) < 0) {
            hvd_buf_printf(why, "cannot write %s: %s", m->dest, strerror(errno));
            goto fail;
        }
    }
    if (close(fd) < 0) {
        fd = -1;
        hvd_buf_printf(why, "cannot write %s: %s", m->dest, strerror(errno));
        goto fail;
    }
    b->written += m->extent;
    return 1;
fail:
    if (fd >= 0) {
        close(fd);
    }
    unlink(m->dest);
    return -1;
}

/* What a member's name says it may be, before any of its bytes are read. */
static int log_named(const char *name)
{
    return ends_with_ci(name, ".evtx") || ends_with_ci(name, ".log") ||
           contains_ci(base_name(name), "cluster");
}

/* One archive: each member is checked by name, then by its first bytes, and only logs are
 * written below the extraction folder. Cost: one pass over the archive. */
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
        struct member m;
        int deep;

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
        /* UTF-8 first: in the C locale the plain name of a non-ASCII member is NULL. */
        name = archive_entry_pathname_utf8(ae);
        if (!name) {
            name = archive_entry_pathname(ae);
        }
        if (!name) {
            rc = add_entry(b, display, display, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                           "a member whose name cannot be read");
            if (rc < 0) {
                break;
            }
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
        if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae) ||
            archive_entry_symlink(ae)) {
            rc = add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                           "not a regular file");
            if (rc < 0) {
                break;
            }
            continue;
        }
        if (!safe_member_name(name, &deep) || join_path(dest, sizeof(dest), root, name) < 0) {
            rc = add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                           deep ? "nested deeper than " BUNDLE_MEMBER_DEPTH_TEXT " folders"
                                : "unsafe name in archive (absolute, with .. or control "
                                  "characters)");
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
        /* A log by name that cannot fit is refused before any of it is read. */
        if (log_named(name) && archive_entry_size_is_set(ae) &&
            (uint64_t)archive_entry_size(ae) > b->limits.max_archive_bytes - b->archive_bytes) {
            limit_reason(b, (uint64_t)archive_entry_size(ae), &why);
            rc =
                add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR, hvd_buf_str(&why));
            if (rc < 0) {
                break;
            }
            continue;
        }
        memset(&m, 0, sizeof(m));
        m.dest = dest;
        m.name = name;
        m.clog_named = ends_with_ci(name, ".log") || contains_ci(base_name(name), "cluster");
        rc = extract_member(b, a, ae, &m, &why);
        if (rc < 0) {
            rc = add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR,
                           why.len ? hvd_buf_str(&why) : "cannot extract");
        } else if (rc == 0) {
            rc = add_entry(b, shown, shown, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_SKIPPED,
                           hvd_buf_str(&why));
        } else {
            rc = classify_file(b, dest, shown, 0);
        }
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

/* A path the user named must give something to read, or say why not: when it gave
 * neither a file to read nor an error (an empty folder or archive, only skipped files),
 * the path itself becomes an error. Cost: O(entries the path added). */
static int check_yield(hvd_bundle *b, const char *path, size_t before)
{
    size_t skipped = 0;
    char why[128];

    for (size_t i = before; i < b->count; i++) {
        if (b->entries[i].status != HVD_BUNDLE_SKIPPED) {
            return HVD_OK;
        }
        skipped++;
    }
    if (skipped == 0) {
        snprintf(why, sizeof(why), "%s", "nothing to read in it (empty)");
    } else {
        snprintf(why, sizeof(why), "no .evtx or cluster.log file in it (%zu skipped)", skipped);
    }
    return add_entry(b, path, path, HVD_SOURCE_UNKNOWN, HVD_BUNDLE_ERROR, why);
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
    if (limits) {
        b->limits = *limits;
    }
    if (b->limits.max_archive_bytes == 0) {
        b->limits.max_archive_bytes = hvd_bundle_default_max_extract();
    }
    if (b->limits.max_archive_entries == 0) {
        b->limits.max_archive_entries = 100000;
    }
    for (size_t i = 0; i < npaths; i++) {
        size_t before = b->count;

        rc = add_path(b, paths[i], 1, 0, err);
        if (rc < 0) {
            goto fail;
        }
        rc = check_yield(b, paths[i], before);
        if (rc < 0) {
            goto fail;
        }
    }
    if (b->count > 1) {
        qsort(b->entries, b->count, sizeof(b->entries[0]), compare_entries);
    }
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

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0; /* go on: remove what can be removed */
}

/* Removes a tree without recursion and without following links: nftw() walks it children
 * first with at most 16 folders open, however deep it is. Cost: O(entries). */
static void remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t hvd_bundle_extracted_bytes(const hvd_bundle *b)
{
    return b->written;
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
        remove_tree(b->tmpdir);
        hvd_free(b->tmpdir);
    }
    hvd_free(b->entries);
    hvd_free(b->files);
    hvd_free(b);
}
