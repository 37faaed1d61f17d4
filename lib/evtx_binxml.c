/*
 * evtx_binxml: EVTX Binary XML ([MS-EVEN6] BinXml) into an hvd_event.
 *
 * A record is a fragment holding a template instance (a definition offset in the chunk and
 * typed substitution values) or, in forwarded-event exports, the element tree itself. A
 * template definition is compiled once per chunk into a flat list of nodes (open, attribute,
 * start-tag end, close, literal text, substitution) with names already in UTF-8 and classed
 * (System, EventID, Data...). A record then costs one walk over those nodes: values are
 * converted only where the walk wants them (a System slot, a data field, the message), so a
 * value nobody reads is never rendered. A BinXml substitution (type 0x21, how Windows
 * carries EventData) is a fragment of its own, walked in place.
 *
 * Speed: values are rendered straight into the event's string arena (room taken once per
 * value, ASCII copied several bytes at a time, numbers and times without printf), and a
 * System number or time rendered here is kept as a number, so nothing is parsed back. The
 * names of a chunk are converted and classed once, whichever templates share them.
 *
 * The walk takes what eventxml takes from libevtx's XML, in the same shape, so both readers
 * give the same event: text is what an XML parser would report (control characters become
 * spaces, CR LF becomes LF, whitespace in attribute values becomes spaces; an element's
 * text ends at its first child), a NULL optional substitution drops its element or
 * attribute, and a value is rendered as libevtx renders it.
 *
 * Bounds: every read is checked against the chunk (names, templates) or the value's own
 * bytes; nesting (elements MAX_DEPTH, fragments MAX_NEST), values per record, nodes and
 * name bytes per chunk, the template and name caches and the event's strings (ARENA_MAX,
 * allocated up to ARENA_MAX + ARENA_SLACK) all have fixed maximums.
 */
#include "evtx_binxml.h"

#include "alloc.h"
#include "buf.h"
#include "hvtime.h"
#include "needs.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH      64         /* open elements in one template or fragment */
#define MAX_NEST       8          /* BinXml values inside BinXml values */
#define MAX_VALUES     16384      /* substitution values in one record, nesting included */
#define MAX_NODES      (1u << 18) /* compiled nodes per pool */
#define MAX_STRS       (8u << 20) /* UTF-8 bytes of names and texts per pool */
#define TEMPLATE_SLOTS 2048       /* template cache per chunk (power of two) */
#define NAME_SLOTS     1024       /* name cache per chunk (power of two) */
#define NAME_PROBES    8
#define ARENA_MAX      (4u << 20) /* strings of one event */
#define ARENA_SLACK    (1u << 18) /* one write past ARENA_MAX before it is refused */
#define MAX_FIELDS     512
#define NO_INDEX       0xFFFFu

enum token {
    T_EOF = 0x00,
    T_OPEN = 0x01,
    T_CLOSE_START = 0x02,
    T_CLOSE_EMPTY = 0x03,
    T_END = 0x04,
    T_VALUE = 0x05,
    T_ATTR = 0x06,
    T_CDATA = 0x07,
    T_CHARREF = 0x08,
    T_ENTITY = 0x09,
    T_PI_TARGET = 0x0A,
    T_PI_DATA = 0x0B,
    T_TEMPLATE = 0x0C,
    T_SUBST = 0x0D,
    T_SUBST_OPT = 0x0E,
    T_FRAGMENT = 0x0F,
};

enum vtype {
    V_NULL = 0x00,
    V_STRING = 0x01,
    V_ANSI = 0x02,
    V_INT8 = 0x03,
    V_UINT8 = 0x04,
    V_INT16 = 0x05,
    V_UINT16 = 0x06,
    V_INT32 = 0x07,
    V_UINT32 = 0x08,
    V_INT64 = 0x09,
    V_UINT64 = 0x0A,
    V_REAL32 = 0x0B,
    V_REAL64 = 0x0C,
    V_BOOL = 0x0D,
    V_BINARY = 0x0E,
    V_GUID = 0x0F,
    V_SIZET = 0x10,
    V_FILETIME = 0x11,
    V_SYSTEMTIME = 0x12,
    V_SID = 0x13,
    V_HEX32 = 0x14,
    V_HEX64 = 0x15,
    V_BINXML = 0x21,
    V_ARRAY = 0x80,
};

/* What a name means to the walk. */
enum cls {
    C_OTHER,
    C_EVENT,
    C_SYSTEM,
    C_EVENTDATA,
    C_USERDATA,
    C_RENDERING,
    C_PROVIDER,
    C_EVENTID,
    C_VERSION,
    C_LEVEL,
    C_TASK,
    C_OPCODE,
    C_KEYWORDS,
    C_TIMECREATED,
    C_RECORDID,
    C_CHANNEL,
    C_COMPUTER,
    C_SECURITY,
    C_DATA,
    C_MESSAGE,
    C_NAME,
    C_GUID,
    C_SOURCENAME,
    C_QUALIFIERS,
    C_SYSTEMTIME,
    C_USERID,
    C_EXECUTION,
    C_PROCESSID,
    C_THREADID,
    C_LEAF,       /* a leaf of the UserData child, not a name */
    C_LEVEL_TEXT, /* RenderingInfo children, not names */
    C_TASK_TEXT,
    C_OPCODE_TEXT,
    C_CHANNEL_TEXT,
};

/* A string literal and its length. */
#define LIT(s) s, sizeof(s) - 1

static const struct {
    const char *name;
    uint8_t len;
    uint8_t cls; /* enum cls */
} class_names[] = {
    {LIT("Event"), C_EVENT},
    {LIT("System"), C_SYSTEM},
    {LIT("EventData"), C_EVENTDATA},
    {LIT("UserData"), C_USERDATA},
    {LIT("RenderingInfo"), C_RENDERING},
    {LIT("Provider"), C_PROVIDER},
    {LIT("EventID"), C_EVENTID},
    {LIT("Version"), C_VERSION},
    {LIT("Level"), C_LEVEL},
    {LIT("Task"), C_TASK},
    {LIT("Opcode"), C_OPCODE},
    {LIT("Keywords"), C_KEYWORDS},
    {LIT("TimeCreated"), C_TIMECREATED},
    {LIT("EventRecordID"), C_RECORDID},
    {LIT("Channel"), C_CHANNEL},
    {LIT("Computer"), C_COMPUTER},
    {LIT("Security"), C_SECURITY},
    {LIT("Data"), C_DATA},
    {LIT("Message"), C_MESSAGE},
    {LIT("Name"), C_NAME},
    {LIT("Guid"), C_GUID},
    {LIT("EventSourceName"), C_SOURCENAME},
    {LIT("Qualifiers"), C_QUALIFIERS},
    {LIT("SystemTime"), C_SYSTEMTIME},
    {LIT("UserID"), C_USERID},
    {LIT("Execution"), C_EXECUTION},
    {LIT("ProcessID"), C_PROCESSID},
    {LIT("ThreadID"), C_THREADID},
};

enum kind { K_OPEN, K_ATTR, K_STARTED, K_CLOSE, K_TEXT, K_SUBST };

/* One compiled node. Strings are offsets into the pool's strs. */
struct node {
    uint8_t kind;
    uint8_t cls;
    uint8_t vtype;    /* K_SUBST: the type the template declares */
    uint8_t optional; /* K_SUBST: 0x0E */
    uint16_t index;   /* K_SUBST: value index; K_OPEN: dependency id (NO_INDEX: none) */
    uint16_t drop;    /* K_OPEN: value whose NULL drops the element (NO_INDEX: none) */
    uint16_t only;    /* K_OPEN: the value that is its whole content (NO_INDEX: none) */
    uint32_t str;     /* K_OPEN/K_ATTR: name; K_TEXT: text */
    uint32_t len;
    uint32_t end; /* K_OPEN: index of its K_CLOSE */
};

struct pool {
    struct node *nodes;
    uint32_t n;
    uint32_t cap;
    char *strs;
    uint32_t slen;
    uint32_t scap;
};

/* A name of the chunk already in the main pool, by its chunk offset: templates of a chunk
 * share their names, so each is converted and classed once. */
struct name {
    uint32_t gen; /* the chunk it belongs to (hvd_binxml.gen); another = free slot */
    uint32_t off; /* chunk offset */
    uint32_t str; /* in the main pool's strs */
    uint32_t len;
    uint8_t cls;
};

struct tmpl {
    uint32_t gen; /* the chunk it belongs to (hvd_binxml.gen); another = free slot */
    uint32_t def; /* chunk offset of the definition */
    uint32_t first;
    uint32_t count;
};

/* The event's strings. Writers take room first (arena_room), write, then check the length
 * against ARENA_MAX (arena_check), so the limit is that of the result, as a bounded buffer
 * checks it, without a bounds check per byte. */
struct arena {
    char *data;
    size_t len; /* bytes used, the last string's NUL included */
    size_t cap; /* at most ARENA_MAX + ARENA_SLACK */
};

struct value {
    const uint8_t *p;
    uint32_t size;
    uint8_t type;
};

enum part { P_NONE, P_SYSTEM, P_EVENTDATA, P_USERDATA, P_RENDERING };

enum slot {
    S_PROVIDER,
    S_PROVIDER_GUID,
    S_SOURCE_NAME,
    S_CHANNEL,
    S_COMPUTER,
    S_USER_SID,
    S_EVENT_ID,
    S_QUALIFIERS,
    S_VERSION,
    S_LEVEL,
    S_TASK,
    S_OPCODE,
    S_KEYWORDS,
    S_TIME,
    S_RECORD_ID,
    S_PROCESS_ID, /* Execution@ProcessID */
    S_THREAD_ID,  /* Execution@ThreadID */
    S_MESSAGE,
    S_LEVEL_TEXT,
    S_TASK_TEXT,
    S_OPCODE_TEXT,
    S_CHANNEL_TEXT,
    S_COUNT
};

/* Where the text being walked goes. */
enum target { TG_NONE, TG_SLOT, TG_FIELD, TG_NAME };

struct hvd_binxml {
    const uint8_t *chunk;
    size_t size;
    const hvd_needs *needs; /* NULL: every record whole */
    hvd_needs_memo needs_memo;
    struct pool main;    /* templates of the chunk */
    struct pool scratch; /* template-less trees, dropped after their record */
    struct tmpl tmpl[TEMPLATE_SLOTS];
    struct tmpl no_template; /* all zero */
    struct name names[NAME_SLOTS];
    uint32_t gen;       /* counts set_chunk() calls: entries of older chunks are free */
    struct value *vals; /* MAX_VALUES */
    uint32_t nvals;

    /* the event being built: NUL-terminated strings, the last one being written */
    struct arena arena;
    size_t sys[S_COUNT]; /* arena offset + 1; 0 = absent */
    size_t fname[MAX_FIELDS];
    size_t fvalue[MAX_FIELDS];
    hvd_field fields[MAX_FIELDS];
    size_t nfields;
    size_t unnamed;
    hvd_buf message;

    /* walk state, as eventxml's SAX state */
    int depth;
    int in_event;
    enum part part;
    int part_depth;
    int userdata_child;
    enum cls elem;      /* class of the element whose start tag is being walked */
    uint32_t elem_name; /* its name (pool strs offset) */
    uint32_t elem_len;
    enum cls elem_cls; /* the class of its name */
    const struct pool *elem_pool;
    size_t name_attr;   /* EventData child: its Name attribute (arena offset + 1) */
    enum target target; /* where text goes */
    enum slot slot;     /* TG_SLOT: which one */
    /* A System slot whose text is one number rendered here: decode_once() takes the number
     * instead of reading the text back. num_at[s] is sys[s] when num_*[s] describe it. */
    size_t num_at[S_COUNT];
    uint64_t num_value[S_COUNT];
    uint8_t num_len[S_COUNT];  /* its text's length */
    uint8_t num_base[S_COUNT]; /* 10, or 16 for "0x" and hex digits */
    size_t time_at;            /* S_TIME's offset + 1 when time_ticks is its rendered FILETIME */
    hvd_time time_ticks;
    int in_attr; /* text goes into an attribute value */
    int cr;      /* the last character emitted was a CR */
    int failed;
    int64_t day; /* emit_filetime(): the last day rendered, days since 1970 */
    int day_known;
    char day_text[10]; /* its "YYYY-MM-DD" */
    int system_only;   /* no rule needs the event: values after System are not rendered */
    int may_skip;      /* this decode may skim (a needs set, and not a retry) */
    size_t skim_bound; /* skimming: most bytes the values skipped would have rendered */
    char *why;
    size_t why_size;
};

static int failf(hvd_binxml *bx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int failf(hvd_binxml *bx, const char *fmt, ...)
{
    va_list ap;

    if (!bx->failed && bx->why && bx->why_size) {
        va_start(ap, fmt);
        vsnprintf(bx->why, bx->why_size, fmt, ap);
        va_end(ap);
    }
    bx->failed = 1;
    return HVD_ECORRUPT;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

int hvd_binxml_create(hvd_binxml **out, hvd_error *err)
{
    hvd_binxml *bx = hvd_calloc(1, sizeof(*bx));

    *out = NULL;
    if (bx) {
        bx->vals = hvd_calloc(MAX_VALUES, sizeof(*bx->vals));
    }
    if (!bx || !bx->vals) {
        hvd_binxml_destroy(bx);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate a BinXML decoder");
    }
    hvd_buf_init(&bx->message, ARENA_MAX);
    *out = bx;
    return HVD_OK;
}

static void pool_free(struct pool *p)
{
    hvd_free(p->nodes);
    hvd_free(p->strs);
    memset(p, 0, sizeof(*p));
}

void hvd_binxml_destroy(hvd_binxml *bx)
{
    if (!bx) {
        return;
    }
    pool_free(&bx->main);
    pool_free(&bx->scratch);
    hvd_free(bx->vals);
    hvd_free(bx->arena.data);
    hvd_buf_free(&bx->message);
    hvd_free(bx);
}

void hvd_binxml_set_needs(hvd_binxml *bx, const hvd_needs *needs)
{
    bx->needs = needs && !hvd_needs_everything(needs) ? needs : NULL;
    memset(&bx->needs_memo, 0, sizeof(bx->needs_memo));
}

void hvd_binxml_set_chunk(hvd_binxml *bx, const uint8_t *chunk, size_t size)
{
    bx->chunk = chunk;
    bx->size = size;
    bx->main.n = 0;
    bx->main.slen = 0;
    bx->scratch.n = 0;
    bx->scratch.slen = 0;
    if (++bx->gen == 0) { /* wrapped: every entry is old, whatever its number */
        memset(bx->tmpl, 0, sizeof(bx->tmpl));
        memset(bx->names, 0, sizeof(bx->names));
        bx->gen = 1;
    }
}

/* --- compiling ------------------------------------------------------------------------ */

static struct node *pool_node(hvd_binxml *bx, struct pool *p)
{
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 1024;
        struct node *grown;

        if (p->n >= MAX_NODES) {
            failf(bx, "templates of one chunk too large");
            return NULL;
        }
        grown = hvd_realloc(p->nodes, (size_t)cap * sizeof(*grown));
        if (!grown) {
            failf(bx, "out of memory");
            return NULL;
        }
        p->nodes = grown;
        p->cap = cap;
    }
    memset(&p->nodes[p->n], 0, sizeof(p->nodes[0]));
    return &p->nodes[p->n++];
}

/* Makes room for n more string bytes; returns the write position or NULL. */
static char *pool_room(hvd_binxml *bx, struct pool *p, size_t n)
{
    if (p->slen + n > p->scap) {
        size_t cap = p->scap ? p->scap : 4096;
        char *grown;

        while (cap < p->slen + n) {
            cap *= 2;
        }
        if (cap > MAX_STRS) {
            failf(bx, "names of one chunk too large");
            return NULL;
        }
        grown = hvd_realloc(p->strs, cap);
        if (!grown) {
            failf(bx, "out of memory");
            return NULL;
        }
        p->strs = grown;
        p->scap = (uint32_t)cap;
    }
    return p->strs + p->slen;
}

/* UTF-8 of one code point into out (4 bytes); returns its length. */
static size_t utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The next code point of n UTF-16LE units at p (*i advanced); lone surrogates are U+FFFD. */
static uint32_t utf16_next(const uint8_t *p, size_t n, size_t *i)
{
    uint32_t c = rd16(p + 2 * *i);

    (*i)++;
    if (c >= 0xD800 && c < 0xDC00 && *i < n) {
        uint32_t lo = rd16(p + 2 * *i);

        (*i)++; /* a broken pair is one U+FFFD, as libevtx has it */
        if (lo >= 0xDC00 && lo < 0xE000) {
            return 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    if (c >= 0xD800 && c < 0xE000) {
        return 0xFFFD;
    }
    return c;
}

/* Appends n UTF-16LE units as UTF-8 to the pool's strings; *at gets the offset. */
static int pool_utf16(hvd_binxml *bx, struct pool *p, const uint8_t *s, size_t n, uint32_t *at,
                      uint32_t *len)
{
    char *w = pool_room(bx, p, n * 3 + 1);
    size_t o = 0;

    if (!w) {
        return -1;
    }
    for (size_t i = 0; i < n;) {
        uint16_t c = rd16(s + 2 * i);

        if (c < 0x80) {
            w[o++] = (char)c;
            i++;
        } else {
            o += utf8_put(utf16_next(s, n, &i), w + o);
        }
    }
    *at = p->slen;
    *len = (uint32_t)o;
    p->slen += (uint32_t)o;
    return 0;
}

static int pool_text(hvd_binxml *bx, struct pool *p, const char *s, size_t n, uint32_t *at,
                     uint32_t *len)
{
    char *w = pool_room(bx, p, n);

    if (!w) {
        return -1;
    }
    memcpy(w, s, n);
    *at = p->slen;
    *len = (uint32_t)n;
    p->slen += (uint32_t)n;
    return 0;
}

/* Cost: O(known names) length compares, one memcmp a name of the same length. */
static enum cls classify(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++) {
        if (class_names[i].len == n && memcmp(class_names[i].name, s, n) == 0) {
            return (enum cls)class_names[i].cls;
        }
    }
    return C_OTHER;
}

/* The cache entry for the name at chunk offset off: its own, a free one, or NULL when the
 * probes find neither (the name is then converted again). Cost: O(NAME_PROBES). */
static struct name *name_slot(hvd_binxml *bx, uint32_t off)
{
    uint32_t h = (off * 2654435761u) >> 20;

    for (uint32_t i = 0; i < NAME_PROBES; i++) {
        struct name *nm = &bx->names[(h + i) & (NAME_SLOTS - 1)];

        if (nm->gen != bx->gen || nm->off == off) {
            return nm;
        }
    }
    return NULL;
}

/*
 * Reads the name referenced at *pos (a u32 chunk offset; the name follows inline when the
 * offset points just past it) into node nd. Cost: O(length of the name).
 */
static int read_name(hvd_binxml *bx, struct pool *p, size_t *pos, size_t end, uint32_t ni)
{
    uint32_t off;
    size_t nchars;
    uint32_t at;
    uint32_t len;

    if (*pos + 4 > end) {
        return failf(bx, "name offset past the end at chunk offset %zu", *pos);
    }
    off = rd32(bx->chunk + *pos);
    *pos += 4;
    if ((size_t)off + 8 > bx->size) {
        return failf(bx, "name offset %" PRIu32 " outside the chunk", off);
    }
    nchars = rd16(bx->chunk + off + 6);
    if ((size_t)off + 8 + 2 * nchars + 2 > bx->size) {
        return failf(bx, "name at chunk offset %" PRIu32 " runs past the chunk", off);
    }
    if (off == *pos) { /* inline: skip it */
        *pos += 8 + 2 * nchars + 2;
        if (*pos > end) {
            return failf(bx, "name at chunk offset %" PRIu32 " runs past its record", off);
        }
    }
    if (p == &bx->main) {
        struct name *nm = name_slot(bx, off);

        if (nm && nm->gen == bx->gen && nm->off == off) {
            p->nodes[ni].str = nm->str;
            p->nodes[ni].len = nm->len;
            p->nodes[ni].cls = nm->cls;
            return 0;
        }
        if (pool_utf16(bx, p, bx->chunk + off + 8, nchars, &at, &len) < 0) {
            return HVD_ELIMIT;
        }
        if (nm) {
            nm->gen = bx->gen;
            nm->off = off;
            nm->str = at;
            nm->len = len;
            nm->cls = (uint8_t)classify(p->strs + at, len);
        }
    } else if (pool_utf16(bx, p, bx->chunk + off + 8, nchars, &at, &len) < 0) {
        return HVD_ELIMIT;
    }
    p->nodes[ni].str = at;
    p->nodes[ni].len = len;
    p->nodes[ni].cls = (uint8_t)classify(p->strs + at, len);
    return 0;
}

static int add_text(hvd_binxml *bx, struct pool *p, const char *s, size_t n)
{
    struct node *nd = pool_node(bx, p);

    if (!nd) {
        return HVD_ELIMIT;
    }
    nd->kind = K_TEXT;
    return pool_text(bx, p, s, n, &nd->str, &nd->len) < 0 ? HVD_ELIMIT : 0;
}

static int add_utf16_text(hvd_binxml *bx, struct pool *p, const uint8_t *s, size_t n)
{
    struct node *nd = pool_node(bx, p);

    if (!nd) {
        return HVD_ELIMIT;
    }
    nd->kind = K_TEXT;
    return pool_utf16(bx, p, s, n, &nd->str, &nd->len) < 0 ? HVD_ELIMIT : 0;
}

/* An entity reference as the XML parser would report it. */
static const char *entity_text(const char *name, size_t n)
{
    static const struct {
        const char *name;
        const char *text;
    } known[] = {{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].name) == n && memcmp(known[i].name, name, n) == 0) {
            return known[i].text;
        }
    }
    return NULL;
}

/*
 * Compiles the element tree at chunk bytes [*pos, end) into pool p, up to and including
 * the close of the top element (or an EOF token). deps: elements carry a dependency id
 * (template definitions do, record-level trees do not). Cost: O(bytes).
 */
static int compile(hvd_binxml *bx, struct pool *p, size_t *posp, size_t end, int deps)
{
    uint32_t stack[MAX_DEPTH];
    int depth = 0;
    int started = 0;
    size_t pos = *posp;
    const uint8_t *c = bx->chunk;

    while (pos < end) {
        uint8_t tok = c[pos];
        struct node *nd;
        uint32_t ni;

        switch (tok & 0xBF) {
        case T_EOF:
            if (depth) {
                return failf(bx, "end of fragment inside an element at chunk offset %zu", pos);
            }
            *posp = pos + 1;
            return 0;
        case T_FRAGMENT:
            if (depth || started) {
                return failf(bx, "fragment header inside an element at chunk offset %zu", pos);
            }
            pos += 4;
            break;
        case T_OPEN: {
            size_t need = 1 + (deps ? 2 : 0) + 4;
            uint16_t dep = NO_INDEX;

            if (depth == MAX_DEPTH) {
                return failf(bx, "elements nested too deep at chunk offset %zu", pos);
            }
            if (pos + need > end) {
                return failf(bx, "element past the end at chunk offset %zu", pos);
            }
            if (deps) {
                dep = rd16(c + pos + 1);
            }
            pos += need;
            nd = pool_node(bx, p);
            if (!nd) {
                return HVD_ELIMIT;
            }
            ni = p->n - 1;
            nd->kind = K_OPEN;
            nd->index = dep;
            nd->drop = NO_INDEX;
            nd->only = NO_INDEX;
            if (read_name(bx, p, &pos, end, ni) < 0) {
                return HVD_ECORRUPT;
            }
            if (tok & 0x40) { /* attribute list size */
                if (pos + 4 > end) {
                    return failf(bx, "attribute list past the end at chunk offset %zu", pos);
                }
                pos += 4;
            }
            stack[depth++] = ni;
            started = 1;
            break;
        }
        case T_CLOSE_START:
        case T_CLOSE_EMPTY:
            if (!depth) {
                return failf(bx, "stray start-tag end at chunk offset %zu", pos);
            }
            nd = pool_node(bx, p);
            if (!nd) {
                return HVD_ELIMIT;
            }
            nd->kind = K_STARTED;
            pos++;
            if (tok == T_CLOSE_START) {
                break;
            }
            /* An empty element closes at once. */
            /* fall through */
        case T_END:
            if (!depth) {
                return failf(bx, "stray end tag at chunk offset %zu", pos);
            }
            if (tok == T_END) {
                pos++;
            }
            nd = pool_node(bx, p);
            if (!nd) {
                return HVD_ELIMIT;
            }
            nd->kind = K_CLOSE;
            ni = p->n - 1;
            depth--;
            p->nodes[stack[depth]].end = ni;
            /* Content that is one substitution: an array repeats the element, and a NULL
             * optional value drops it. */
            if (ni >= 2 && p->nodes[ni - 1].kind == K_SUBST && p->nodes[ni - 2].kind == K_STARTED) {
                p->nodes[stack[depth]].only = p->nodes[ni - 1].index;
                if (p->nodes[ni - 1].optional) {
                    p->nodes[stack[depth]].drop = p->nodes[ni - 1].index;
                }
            }
            if (!depth) {
                *posp = pos;
                return 0;
            }
            break;
        case T_VALUE: {
            size_t n;

            if (pos + 4 > end) {
                return failf(bx, "value past the end at chunk offset %zu", pos);
            }
            if (c[pos + 1] != V_STRING) {
                return failf(bx, "value text of type 0x%02x at chunk offset %zu", c[pos + 1], pos);
            }
            n = rd16(c + pos + 2);
            if (pos + 4 + 2 * n > end) {
                return failf(bx, "value text past the end at chunk offset %zu", pos);
            }
            if (add_utf16_text(bx, p, c + pos + 4, n) < 0) {
                return HVD_ELIMIT;
            }
            pos += 4 + 2 * n;
            break;
        }
        case T_ATTR:
            if (!depth) {
                return failf(bx, "attribute outside an element at chunk offset %zu", pos);
            }
            pos++;
            nd = pool_node(bx, p);
            if (!nd) {
                return HVD_ELIMIT;
            }
            nd->kind = K_ATTR;
            if (read_name(bx, p, &pos, end, p->n - 1) < 0) {
                return HVD_ECORRUPT;
            }
            break;
        case T_CDATA:
        case T_PI_DATA: {
            size_t n;

            if (pos + 3 > end) {
                return failf(bx, "text past the end at chunk offset %zu", pos);
            }
            n = rd16(c + pos + 1);
            if (pos + 3 + 2 * n > end) {
                return failf(bx, "text past the end at chunk offset %zu", pos);
            }
            if ((tok & 0xBF) == T_CDATA && add_utf16_text(bx, p, c + pos + 3, n) < 0) {
                return HVD_ELIMIT;
            }
            pos += 3 + 2 * n;
            break;
        }
        case T_CHARREF: {
            char u[4];

            if (pos + 3 > end) {
                return failf(bx, "character reference past the end at chunk offset %zu", pos);
            }
            if (add_text(bx, p, u, utf8_put(rd16(c + pos + 1), u)) < 0) {
                return HVD_ELIMIT;
            }
            pos += 3;
            break;
        }
        case T_ENTITY:
        case T_PI_TARGET: {
            /* The name is read into a text node, then replaced by what it stands for. */
            const char *known;
            uint32_t at;
            uint32_t len;
            int entity = (tok & 0xBF) == T_ENTITY;

            pos++;
            nd = pool_node(bx, p);
            if (!nd) {
                return HVD_ELIMIT;
            }
            nd->kind = K_TEXT;
            ni = p->n - 1;
            if (read_name(bx, p, &pos, end, ni) < 0) {
                return HVD_ECORRUPT;
            }
            p->nodes[ni].cls = C_OTHER;
            if (!entity) {
                p->nodes[ni].len = 0;
                break;
            }
            known = entity_text(p->strs + p->nodes[ni].str, p->nodes[ni].len);
            if (known) {
                if (pool_text(bx, p, known, strlen(known), &at, &len) < 0) {
                    return HVD_ELIMIT;
                }
                p->nodes[ni].str = at;
                p->nodes[ni].len = len;
            }
            break;
        }
        case T_SUBST:
        case T_SUBST_OPT:
            if (pos + 4 > end) {
                return failf(bx, "substitution past the end at chunk offset %zu", pos);
            }
            nd = pool_node(bx, p);
            if (!nd) {
                return HVD_ELIMIT;
            }
            nd->kind = K_SUBST;
            nd->index = rd16(c + pos + 1);
            nd->vtype = c[pos + 3];
            nd->optional = tok == T_SUBST_OPT;
            pos += 4;
            break;
        default:
            return failf(bx, "unknown token 0x%02x at chunk offset %zu", tok, pos);
        }
    }
    return failf(bx, "element tree runs past its end at chunk offset %zu", pos);
}

/* The compiled template defined at chunk offset def: from the cache or compiled now.
 * Cost: O(1) when cached, else O(size of the definition). */
static int template_at(hvd_binxml *bx, uint32_t def, struct tmpl **out)
{
    uint32_t h = (def * 2654435761u) >> 21 & (TEMPLATE_SLOTS - 1);
    size_t size;
    size_t pos;
    uint32_t first;

    if (def == 0) { /* never cached: an empty template, as a free slot has always read */
        *out = &bx->no_template;
        return 0;
    }
    for (uint32_t i = 0; i < TEMPLATE_SLOTS; i++) {
        struct tmpl *t = &bx->tmpl[(h + i) & (TEMPLATE_SLOTS - 1)];

        if (t->gen == bx->gen && t->def == def) {
            *out = t;
            return 0;
        }
        if (t->gen != bx->gen) {
            if ((size_t)def + 24 > bx->size) {
                return failf(bx, "template at chunk offset %" PRIu32 " outside the chunk", def);
            }
            size = rd32(bx->chunk + def + 20);
            if (size > bx->size - def - 24) {
                return failf(bx, "template at chunk offset %" PRIu32 " runs past the chunk", def);
            }
            pos = def + 24;
            first = bx->main.n;
            if (compile(bx, &bx->main, &pos, def + 24 + size, 1) < 0) {
                bx->main.n = first;
                return HVD_ECORRUPT;
            }
            t->gen = bx->gen;
            t->def = def;
            t->first = first;
            t->count = bx->main.n - first;
            *out = t;
            return 0;
        }
    }
    return failf(bx, "too many templates in one chunk");
}

/* --- the event being built ---------------------------------------------------------------- */

/* Room for n more bytes (n <= ARENA_SLACK) at the arena's end: where to write, or NULL
 * (failed). The arena never holds more than ARENA_MAX bytes between writes, so room for
 * one write always exists below ARENA_MAX + ARENA_SLACK. */
static char *arena_room(hvd_binxml *bx, size_t n)
{
    struct arena *a = &bx->arena;

    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        char *grown;

        while (cap < a->len + n) {
            cap *= 2;
        }
        if (cap > ARENA_MAX + ARENA_SLACK) {
            cap = ARENA_MAX + ARENA_SLACK;
        }
        grown = cap >= a->len + n ? hvd_realloc(a->data, cap) : NULL;
        if (!grown) {
            failf(bx, "event too large");
            return NULL;
        }
        a->data = grown;
        a->cap = cap;
    }
    return a->data + a->len;
}

/* The arena now ends at end (past a NUL written there): fails past ARENA_MAX. */
static int arena_end(hvd_binxml *bx, const char *end)
{
    bx->arena.len = (size_t)(end - bx->arena.data);
    if (bx->arena.len > ARENA_MAX) {
        failf(bx, "event too large");
        return -1;
    }
    return 0;
}

/* A control character ch (< 0x20) of text at w, as an XML parser reports it; *cr says the
 * last character was a CR. Returns the new end. */
static char *put_control(const hvd_binxml *bx, char *w, unsigned ch, int *cr)
{
    if (ch == '\n' && *cr) {
        *cr = 0; /* CR LF: the CR already stood for it */
        return w;
    }
    *cr = ch == '\r';
    if (ch == '\r') {
        ch = '\n';
    }
    if ((ch != '\n' && ch != '\t') || bx->in_attr) {
        ch = ' ';
    }
    *w++ = (char)ch;
    return w;
}

#define PIECE 65536u /* input bytes or UTF-16 units written per arena_room() */

/* 1 when one of the 8 bytes of x is below 0x20 (a byte of 0x80 or more never counts). */
static int has_control(uint64_t x)
{
    return ((x - 0x2020202020202020u) & ~x & 0x8080808080808080u) != 0;
}

/* 1 when the 4 UTF-16 units of x are all printable ASCII (0x20 to 0x7F). */
static int ascii4(uint64_t x)
{
    return (x & 0xFF80FF80FF80FF80u) == 0 &&
           ((x - 0x0020002000200020u) & ~x & 0x8000800080008000u) == 0;
}

/* Appends text to the arena's last string, as an XML parser reports it: control characters
 * become spaces, CR LF and CR become LF, and in attribute values tab, LF and CR become
 * spaces. Cost: O(n), one branch a byte for printable text. */
static void emit(hvd_binxml *bx, const char *s, size_t n)
{
    if (bx->target == TG_NONE || bx->failed || n == 0) {
        return;
    }
    if (bx->system_only) {
        bx->skim_bound += n;
        return;
    }
    while (n) {
        size_t piece = n < PIECE ? n : PIECE;
        char *w = arena_room(bx, piece);
        int cr = bx->cr;

        if (!w) {
            return;
        }
        w--; /* the value being built is the arena's last string: over its NUL */
        for (size_t i = 0; i < piece; i++) {
            unsigned char ch;

            /* Eight bytes at a time while none is a control character. */
            while (i + 8 <= piece && !has_control(rd64((const uint8_t *)s + i))) {
                memcpy(w, s + i, 8);
                w += 8;
                i += 8;
                cr = 0;
            }
            if (i == piece) {
                break;
            }
            ch = (unsigned char)s[i];

            if (ch >= 0x20) {
                *w++ = (char)ch;
                cr = 0;
            } else {
                w = put_control(bx, w, ch, &cr);
            }
        }
        bx->cr = cr;
        *w++ = '\0';
        if (arena_end(bx, w) < 0) {
            return;
        }
        s += piece;
        n -= piece;
    }
}

/* Printable ASCII (n <= ARENA_SLACK, no control character), as emit() would append it but
 * without looking at each byte: numbers, GUIDs, times, SIDs. */
static void emit_plain(hvd_binxml *bx, const char *s, size_t n)
{
    char *w;

    if (bx->target == TG_NONE || bx->failed || n == 0) {
        return;
    }
    if (bx->system_only) {
        bx->skim_bound += n;
        return;
    }
    w = arena_room(bx, n);
    if (!w) {
        return;
    }
    memcpy(w - 1, s, n);
    w[n - 1] = '\0';
    bx->cr = 0;
    arena_end(bx, w + n);
}

/* Appends n bytes as a new string at the end of the arena; returns its offset + 1, 0 on
 * failure. */
static size_t arena_new(hvd_binxml *bx, const char *s, size_t n)
{
    size_t at = bx->arena.len;
    char *w;

    bx->cr = 0;
    if (bx->failed) {
        return 0;
    }
    do {
        size_t piece = n < PIECE ? n : PIECE;

        w = arena_room(bx, piece + 1);
        if (!w) {
            return 0;
        }
        memcpy(w, s, piece);
        w[piece] = '\0';
        if (arena_end(bx, w + piece + 1) < 0) {
            return 0;
        }
        if (piece < n) {
            bx->arena.len--; /* the next piece goes over the NUL */
        }
        s += piece;
        n -= piece;
    } while (n);
    return at + 1;
}

/* A new empty string at the end of the arena: arena_new(bx, "", 0), inlined for the common
 * case. */
static inline size_t arena_empty(hvd_binxml *bx)
{
    size_t at = bx->arena.len;

    if (!bx->failed && at < bx->arena.cap && at < ARENA_MAX) {
        bx->cr = 0;
        bx->arena.data[at] = '\0';
        bx->arena.len = at + 1;
        return at + 1;
    }
    return arena_new(bx, "", 0);
}

static int new_field(hvd_binxml *bx, size_t name)
{
    size_t v;

    if (bx->nfields == MAX_FIELDS) {
        failf(bx, "too many data fields");
        return -1;
    }
    v = arena_empty(bx);
    if (!name || !v) {
        return -1;
    }
    bx->fname[bx->nfields] = name;
    bx->fvalue[bx->nfields] = v;
    bx->nfields++;
    return 0;
}

/* Text goes to System slot s from now on. */
static void to_slot(hvd_binxml *bx, enum slot s)
{
    bx->sys[s] = arena_empty(bx);
    bx->target = bx->sys[s] ? TG_SLOT : TG_NONE;
    bx->slot = s;
}

/* --- values ------------------------------------------------------------------------------ */

/* n UTF-16LE units as emit() would take their UTF-8, up to the first NUL. ASCII goes
 * straight to the arena. Cost: O(n). */
static void emit_utf16(hvd_binxml *bx, const uint8_t *p, size_t n)
{
    size_t i = 0;

    if (bx->target == TG_NONE || bx->failed || n == 0) {
        return;
    }
    if (bx->system_only) {
        bx->skim_bound += 3 * n;
        return;
    }
    while (i < n) {
        size_t stop = n - i > PIECE ? i + PIECE : n;
        /* 3 bytes a unit, and 1 more for a pair that starts at the last unit of a piece */
        char *w = arena_room(bx, 3 * (stop - i) + 1);
        int cr = bx->cr;
        int nul = 0;

        if (!w) {
            return;
        }
        w--;
        while (i < stop) {
            uint32_t c;

            /* Four units at a time while all are printable ASCII. */
            while (i + 4 <= stop && ascii4(rd64(p + 2 * i))) {
                uint64_t x = rd64(p + 2 * i);

                w[0] = (char)x;
                w[1] = (char)(x >> 16);
                w[2] = (char)(x >> 32);
                w[3] = (char)(x >> 48);
                w += 4;
                i += 4;
                cr = 0;
            }
            if (i == stop) {
                break;
            }
            c = rd16(p + 2 * i);

            if (c >= 0x20 && c < 0x80) {
                *w++ = (char)c;
                cr = 0;
                i++;
            } else if (c == 0) {
                nul = 1; /* strings end at their NUL */
                break;
            } else if (c < 0x20) {
                w = put_control(bx, w, c, &cr);
                i++;
            } else {
                w += utf8_put(utf16_next(p, n, &i), w);
                cr = 0;
            }
        }
        bx->cr = cr;
        *w++ = '\0';
        if (arena_end(bx, w) < 0 || nul) {
            return;
        }
    }
}

/* Digits of v, zero-padded to width, at dst (no NUL). */
static void put_dec(char *dst, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Upper-case hex digits of v, zero-padded to width, at dst (no NUL). */
static void put_hex(char *dst, uint64_t v, int width)
{
    static const char hex[] = "0123456789ABCDEF";

    for (int i = width - 1; i >= 0; i--) {
        dst[i] = hex[v & 15];
        v >>= 4;
    }
}

/* Text of len bytes for the number v in base is about to be emitted: when it is all of a
 * System slot so far, the slot's number is kept. */
static void note_number(hvd_binxml *bx, uint64_t v, size_t len, int base)
{
    if (bx->target == TG_SLOT && bx->arena.len == bx->sys[bx->slot]) {
        bx->num_at[bx->slot] = bx->sys[bx->slot];
        bx->num_value[bx->slot] = v;
        bx->num_len[bx->slot] = (uint8_t)len;
        bx->num_base[bx->slot] = (uint8_t)base;
    }
}

/* "0x" and v in lower-case hex, zero-padded to width (8 or 16): printf's "0x%08x". */
static void emit_hex(hvd_binxml *bx, uint64_t v, int width)
{
    static const char hex[] = "0123456789abcdef";
    char t[18];

    note_number(bx, v, (size_t)width + 2, 16);
    t[0] = '0';
    t[1] = 'x';
    for (int i = width + 1; i >= 2; i--) {
        t[i] = hex[v & 15];
        v >>= 4;
    }
    emit_plain(bx, t, (size_t)width + 2);
}

/* v in decimal, '-' first when negative: printf's %lld without printf (values are most of
 * what a record renders). */
static void emit_int(hvd_binxml *bx, int negative, uint64_t v)
{
    char t[24];
    char *s = t + sizeof(t);
    uint64_t value = v;

    do {
        *--s = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative) {
        *--s = '-';
    } else {
        note_number(bx, value, (size_t)(t + sizeof(t) - s), 10);
    }
    emit_plain(bx, s, (size_t)(t + sizeof(t) - s));
}

static void emit_signed(hvd_binxml *bx, int64_t v)
{
    emit_int(bx, v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

/*
 * "YYYY-MM-DDThh:mm:ss.fffffff00Z", as libevtx renders a FILETIME. The date of the last day
 * seen is kept, so gmtime_r() runs once a day of events, not once an event.
 */
static void emit_filetime(hvd_binxml *bx, uint64_t ft)
{
    char t[48];
    hvd_time ht = hvd_time_from_filetime(ft);
    int64_t secs = ht / HVD_TICKS_PER_SECOND;
    int64_t frac = ht % HVD_TICKS_PER_SECOND;
    int64_t day;
    int64_t rem;
    time_t tt;
    struct tm tm;
    int n;

    if (frac < 0) {
        frac += HVD_TICKS_PER_SECOND;
        secs--;
    }
    day = secs / 86400;
    rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        day--;
    }
    if (!bx->day_known || bx->day != day) {
        tt = (time_t)secs;
        if (!gmtime_r(&tt, &tm)) {
            return;
        }
        if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
            n = snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%07" PRId64 "00Z",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, frac);
            if (n > 0 && (size_t)n < sizeof(t)) {
                emit_plain(bx, t, (size_t)n);
            }
            return;
        }
        put_dec(bx->day_text, (unsigned)(tm.tm_year + 1900), 4);
        bx->day_text[4] = '-';
        put_dec(bx->day_text + 5, (unsigned)tm.tm_mon + 1, 2);
        bx->day_text[7] = '-';
        put_dec(bx->day_text + 8, (unsigned)tm.tm_mday, 2);
        bx->day = day;
        bx->day_known = 1;
    }
    memcpy(t, bx->day_text, 10);
    t[10] = 'T';
    put_dec(t + 11, (unsigned)(rem / 3600), 2);
    t[13] = ':';
    put_dec(t + 14, (unsigned)(rem / 60 % 60), 2);
    t[16] = ':';
    put_dec(t + 17, (unsigned)(rem % 60), 2);
    t[19] = '.';
    put_dec(t + 20, (unsigned)frac, 7);
    memcpy(t + 27, "00Z", 3);
    if (bx->target == TG_SLOT && bx->slot == S_TIME && bx->arena.len == bx->sys[S_TIME]) {
        /* The slot is this text alone so far: decode_once() need not parse it back. */
        bx->time_at = bx->sys[S_TIME];
        bx->time_ticks = ht;
    }
    emit_plain(bx, t, 30);
}

/* "{8-4-4-4-12}" in upper-case hex, the first three parts little-endian. */
static void emit_guid(hvd_binxml *bx, const uint8_t *p)
{
    char t[38];

    t[0] = '{';
    put_hex(t + 1, rd32(p), 8);
    t[9] = '-';
    put_hex(t + 10, rd16(p + 4), 4);
    t[14] = '-';
    put_hex(t + 15, rd16(p + 6), 4);
    t[19] = '-';
    put_hex(t + 20, p[8], 2);
    put_hex(t + 22, p[9], 2);
    t[24] = '-';
    for (int i = 0; i < 6; i++) {
        put_hex(t + 25 + 2 * i, p[10 + i], 2);
    }
    t[37] = '}';
    emit_plain(bx, t, sizeof(t));
}

/* v in decimal at dst (at least 20 bytes, no NUL); returns the length. */
static size_t put_u64(char *dst, uint64_t v)
{
    char t[20];
    size_t n = 0;

    do {
        t[sizeof(t) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(dst, t + sizeof(t) - n, n);
    return n;
}

/* "S-1-5-21-...": the revision, the 48-bit authority, then each sub-authority. */
static void emit_sid(hvd_binxml *bx, const uint8_t *p, size_t size)
{
    char t[256];
    size_t o;
    unsigned count;
    uint64_t auth = 0;

    if (size < 8) {
        return;
    }
    count = p[1];
    if (8 + 4 * (size_t)count > size || count > 15) {
        return;
    }
    for (int i = 2; i < 8; i++) {
        auth = auth << 8 | p[i];
    }
    /* at most 2 + 3 + 1 + 15 + 15 × 11 bytes */
    t[0] = 'S';
    t[1] = '-';
    o = 2 + put_u64(t + 2, p[0]);
    t[o++] = '-';
    o += put_u64(t + o, auth);
    for (unsigned i = 0; i < count; i++) {
        t[o++] = '-';
        o += put_u64(t + o, rd32(p + 8 + 4 * i));
    }
    emit_plain(bx, t, o);
}

static void emit_fmt(hvd_binxml *bx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit_fmt(hvd_binxml *bx, const char *fmt, ...)
{
    char t[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(t, sizeof(t), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(t)) {
        emit(bx, t, (size_t)n);
    }
}

static int walk_fragment(hvd_binxml *bx, size_t pos, size_t end, int nest);

/* The fixed size of one element of a value type; 0 for variable-size types. */
static size_t type_size(uint8_t type)
{
    switch (type) {
    case V_INT8:
    case V_UINT8:
        return 1;
    case V_INT16:
    case V_UINT16:
        return 2;
    case V_INT32:
    case V_UINT32:
    case V_REAL32:
    case V_BOOL:
    case V_HEX32:
        return 4;
    case V_INT64:
    case V_UINT64:
    case V_REAL64:
    case V_FILETIME:
    case V_HEX64:
        return 8;
    case V_GUID:
    case V_SYSTEMTIME:
        return 16;
    default:
        return 0;
    }
}

/* Renders one scalar value of a type whose size is checked by the caller. */
static void emit_scalar(hvd_binxml *bx, uint8_t type, const uint8_t *p, size_t size)
{
    switch (type) {
    case V_STRING:
        emit_utf16(bx, p, size / 2);
        break;
    case V_ANSI: {
        char buf[4];

        for (size_t i = 0; i < size && p[i]; i++) { /* Windows-1252 read as Latin-1 */
            emit(bx, buf, utf8_put(p[i], buf));
        }
        break;
    }
    case V_INT8:
        emit_signed(bx, (int8_t)p[0]);
        break;
    case V_UINT8:
        emit_int(bx, 0, p[0]);
        break;
    case V_INT16:
        emit_signed(bx, (int16_t)rd16(p));
        break;
    case V_UINT16:
        emit_int(bx, 0, rd16(p));
        break;
    case V_INT32:
        emit_signed(bx, (int32_t)rd32(p));
        break;
    case V_UINT32:
        emit_int(bx, 0, rd32(p));
        break;
    case V_INT64:
        emit_signed(bx, (int64_t)rd64(p));
        break;
    case V_UINT64:
        emit_int(bx, 0, rd64(p));
        break;
    case V_REAL32: {
        float f;

        memcpy(&f, p, 4);
        emit_fmt(bx, "%.8e", (double)f);
        break;
    }
    case V_REAL64: {
        double d;

        memcpy(&d, p, 8);
        emit_fmt(bx, "%.16e", d);
        break;
    }
    case V_BOOL:
        emit_fmt(bx, "%s", rd32(p) ? "true" : "false");
        break;
    case V_BINARY: {
        static const char hex[] = "0123456789ABCDEF";
        char buf[256];
        size_t o = 0;

        for (size_t i = 0; i < size; i++) {
            buf[o++] = hex[p[i] >> 4];
            buf[o++] = hex[p[i] & 15];
            if (o == sizeof(buf)) {
                emit(bx, buf, o);
                o = 0;
            }
        }
        emit(bx, buf, o);
        break;
    }
    case V_GUID:
        emit_guid(bx, p);
        break;
    case V_SIZET:
        if (size == 4) {
            emit_hex(bx, rd32(p), 8);
        } else if (size == 8) {
            emit_hex(bx, rd64(p), 16);
        }
        break;
    case V_FILETIME:
        emit_filetime(bx, rd64(p));
        break;
    case V_SYSTEMTIME:
        emit_fmt(bx, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", rd16(p), rd16(p + 2), rd16(p + 6),
                 rd16(p + 8), rd16(p + 10), rd16(p + 12), rd16(p + 14));
        break;
    case V_SID:
        emit_sid(bx, p, size);
        break;
    case V_HEX32:
        emit_hex(bx, rd32(p), 8);
        break;
    case V_HEX64:
        emit_hex(bx, rd64(p), 16);
        break;
    default:
        break;
    }
}

/* Renders value v where the walk stands. Cost: O(size of the value). */
static int emit_value(hvd_binxml *bx, const struct value *v, int nest)
{
    uint8_t type = v->type;
    size_t fixed;

    if (type == V_BINXML) {
        if (bx->in_attr) {
            return 0;
        }
        return walk_fragment(bx, (size_t)(v->p - bx->chunk), (size_t)(v->p - bx->chunk) + v->size,
                             nest + 1);
    }
    if (bx->target == TG_NONE) {
        return 0; /* nobody reads it */
    }
    if (bx->system_only) {
        /* Not rendered: no scalar renders to more than 4 bytes a byte, separators and
         * fixed texts (a GUID's braces, "false") included in the constant. */
        bx->skim_bound += 4 * (size_t)v->size + 64;
        return 0;
    }
    if (type & V_ARRAY) {
        type &= (uint8_t)~V_ARRAY;
        fixed = type_size(type);
        if (type == V_STRING) { /* NUL-separated */
            size_t start = 0;
            int first = 1;

            for (size_t i = 0; i + 1 < v->size; i += 2) {
                if (rd16(v->p + i) == 0) {
                    if (!first) {
                        emit(bx, ",", 1);
                    }
                    emit_scalar(bx, type, v->p + start, i - start);
                    first = 0;
                    start = i + 2;
                }
            }
            if (start + 1 < v->size) {
                if (!first) {
                    emit(bx, ",", 1);
                }
                emit_scalar(bx, type, v->p + start, v->size - start);
            }
            return 0;
        }
        if (fixed) {
            for (size_t i = 0; i + fixed <= v->size; i += fixed) {
                if (i) {
                    emit(bx, ",", 1);
                }
                emit_scalar(bx, type, v->p + i, fixed);
            }
        }
        return 0;
    }
    fixed = type_size(type);
    if (fixed && v->size < fixed) {
        return 0;
    }
    emit_scalar(bx, type, v->p, fixed ? fixed : v->size);
    return 0;
}

/* --- the walk ----------------------------------------------------------------------------- */

static void on_open(hvd_binxml *bx, const struct pool *p, const struct node *nd)
{
    int d = ++bx->depth;

    bx->target = TG_NONE;
    bx->in_attr = 0;
    bx->elem = C_OTHER;
    bx->elem_pool = p;
    bx->elem_name = nd->str;
    bx->elem_len = nd->len;
    bx->elem_cls = (enum cls)nd->cls;
    bx->name_attr = 0;
    if (bx->in_event <= 0) {
        if (bx->in_event == 0 && nd->cls == C_EVENT) {
            bx->in_event = d;
        }
        return;
    }
    if (d == bx->in_event + 1) {
        bx->part_depth = d;
        switch (nd->cls) {
        case C_SYSTEM:
            bx->part = P_SYSTEM;
            break;
        case C_EVENTDATA:
            bx->part = P_EVENTDATA;
            break;
        case C_USERDATA:
            bx->part = P_USERDATA;
            break;
        case C_RENDERING:
            bx->part = P_RENDERING;
            break;
        default:
            bx->part = P_NONE;
            break;
        }
        return;
    }
    switch (bx->part) {
    case P_SYSTEM:
        if (d == bx->part_depth + 1) {
            bx->elem = (enum cls)nd->cls;
        }
        break;
    case P_EVENTDATA:
        if (d == bx->part_depth + 1) {
            bx->elem = C_DATA; /* any child of EventData */
        }
        break;
    case P_USERDATA:
        if (d == bx->part_depth + 1) {
            if (!bx->userdata_child) {
                bx->userdata_child = d;
                bx->elem = C_USERDATA; /* its attributes are fields */
            }
        } else if (bx->userdata_child > 0 && d >= bx->userdata_child + 1) {
            if (new_field(bx, arena_new(bx, p->strs + nd->str, nd->len)) == 0) {
                bx->elem = C_LEAF; /* text after its (ignored) attributes */
            }
        }
        break;
    case P_RENDERING:
        if (d != bx->part_depth + 1) {
            break;
        }
        bx->elem = nd->cls == C_MESSAGE   ? C_MESSAGE
                   : nd->cls == C_LEVEL   ? C_LEVEL_TEXT
                   : nd->cls == C_TASK    ? C_TASK_TEXT
                   : nd->cls == C_OPCODE  ? C_OPCODE_TEXT
                   : nd->cls == C_CHANNEL ? C_CHANNEL_TEXT
                                          : C_OTHER;
        break;
    default:
        break;
    }
}

/* An attribute of the element being opened: where its value goes. */
static void on_attr(hvd_binxml *bx, const struct pool *p, const struct node *nd)
{
    enum slot s = S_COUNT;

    bx->target = TG_NONE;
    bx->in_attr = 1;
    switch (bx->elem) {
    case C_PROVIDER:
        s = nd->cls == C_NAME         ? S_PROVIDER
            : nd->cls == C_GUID       ? S_PROVIDER_GUID
            : nd->cls == C_SOURCENAME ? S_SOURCE_NAME
                                      : S_COUNT;
        break;
    case C_EVENTID:
        s = nd->cls == C_QUALIFIERS ? S_QUALIFIERS : S_COUNT;
        break;
    case C_TIMECREATED:
        s = nd->cls == C_SYSTEMTIME ? S_TIME : S_COUNT;
        break;
    case C_SECURITY:
        s = nd->cls == C_USERID ? S_USER_SID : S_COUNT;
        break;
    case C_EXECUTION:
        s = nd->cls == C_PROCESSID ? S_PROCESS_ID : nd->cls == C_THREADID ? S_THREAD_ID : S_COUNT;
        break;
    case C_DATA:
        if (nd->cls == C_NAME) {
            bx->name_attr = arena_empty(bx);
            bx->target = bx->name_attr ? TG_NAME : TG_NONE;
        }
        return;
    case C_USERDATA:
        /* Namespace declarations are not attributes to an XML parser. */
        if ((nd->len == 5 || (nd->len > 5 && p->strs[nd->str + 5] == ':')) &&
            memcmp(p->strs + nd->str, "xmlns", 5) == 0) {
            return;
        }
        if (new_field(bx, arena_new(bx, p->strs + nd->str, nd->len)) == 0) {
            bx->target = TG_FIELD;
        }
        return;
    default:
        return;
    }
    if (s != S_COUNT) {
        to_slot(bx, s);
    }
}

/* The start tag is complete: where the element's text goes. */
static void on_started(hvd_binxml *bx)
{
    bx->in_attr = 0;
    bx->target = TG_NONE;
    switch (bx->elem) {
    case C_EVENTID:
        to_slot(bx, S_EVENT_ID);
        break;
    case C_VERSION:
        to_slot(bx, S_VERSION);
        break;
    case C_LEVEL:
        to_slot(bx, S_LEVEL);
        break;
    case C_TASK:
        to_slot(bx, S_TASK);
        break;
    case C_OPCODE:
        to_slot(bx, S_OPCODE);
        break;
    case C_KEYWORDS:
        to_slot(bx, S_KEYWORDS);
        break;
    case C_RECORDID:
        to_slot(bx, S_RECORD_ID);
        break;
    case C_CHANNEL:
        to_slot(bx, S_CHANNEL);
        break;
    case C_COMPUTER:
        to_slot(bx, S_COMPUTER);
        break;
    case C_MESSAGE:
        to_slot(bx, S_MESSAGE);
        break;
    case C_LEVEL_TEXT:
        to_slot(bx, S_LEVEL_TEXT);
        break;
    case C_TASK_TEXT:
        to_slot(bx, S_TASK_TEXT);
        break;
    case C_OPCODE_TEXT:
        to_slot(bx, S_OPCODE_TEXT);
        break;
    case C_CHANNEL_TEXT:
        to_slot(bx, S_CHANNEL_TEXT);
        break;
    case C_LEAF:
        bx->target = TG_FIELD; /* its field's value is the arena's last string */
        break;
    case C_DATA: {
        size_t name = bx->name_attr;

        if (!name) {
            /* Unnamed <Data> (classic events) and <Binary> get positional names. */
            const char *local = bx->elem_pool->strs + bx->elem_name;
            char unnamed[192];
            int n =
                bx->elem_cls == C_DATA
                    ? snprintf(unnamed, sizeof(unnamed), "Data%zu", bx->unnamed)
                    : snprintf(unnamed, sizeof(unnamed), "%.*s%zu",
                               (int)(bx->elem_len < 160 ? bx->elem_len : 160), local, bx->unnamed);

            bx->unnamed++;
            name = arena_new(bx, unnamed, n > 0 ? (size_t)n : 0);
        }
        if (new_field(bx, name) == 0) {
            bx->target = TG_FIELD;
        }
        break;
    }
    default:
        break;
    }
}

static const char *slot(const hvd_binxml *bx, enum slot s);
static uint64_t slot_number(const hvd_binxml *bx, enum slot s, int base, uint64_t max, int *bad);

/* The System part is complete: whether a rule can match the event (a System part that does
 * not read well is decoded on, so that the record fails as it would whole). */
static int needed(hvd_binxml *bx)
{
    const char *provider = slot(bx, S_PROVIDER);
    int bad = 0;
    uint64_t id;

    if (!bx->needs || !bx->may_skip || !slot(bx, S_EVENT_ID)) {
        return 1;
    }
    id = slot_number(bx, S_EVENT_ID, 10, 0xFFFF, &bad);
    if (bad) {
        return 1;
    }
    if ((!provider || !*provider) && slot(bx, S_SOURCE_NAME)) {
        provider = slot(bx, S_SOURCE_NAME);
    }
    return hvd_needs_evtx_memo(bx->needs, &bx->needs_memo, provider, slot(bx, S_CHANNEL),
                               (uint16_t)id);
}

static void on_close(hvd_binxml *bx)
{
    if (bx->part == P_SYSTEM && bx->in_event > 0 && bx->depth == bx->part_depth &&
        !bx->system_only && !needed(bx)) {
        bx->system_only = 1; /* from here on values are skimmed, not rendered */
    }
    if (bx->userdata_child > 0 && bx->depth == bx->userdata_child) {
        bx->userdata_child = -bx->userdata_child; /* later children are ignored */
    }
    if (bx->in_event > 0 && bx->depth == bx->in_event) {
        bx->in_event = -1;
    }
    bx->depth--;
    bx->target = TG_NONE;
    bx->in_attr = 0;
    bx->elem = C_OTHER;
}

static int walk(hvd_binxml *bx, struct pool *p, uint32_t first, uint32_t count, uint32_t vbase,
                uint32_t nvals, int nest);

/* The next item of array value v from *at: 1 with *item set, 0 after the last. */
static int array_item(const struct value *v, size_t *at, struct value *item)
{
    uint8_t type = v->type & (uint8_t)~V_ARRAY;
    size_t fixed = type_size(type);
    size_t i = *at;

    item->type = type;
    item->p = v->p + i;
    if (type == V_STRING) { /* NUL-terminated items */
        if (i + 1 >= v->size) {
            return 0;
        }
        while (i + 1 < v->size && rd16(v->p + i) != 0) {
            i += 2;
        }
        item->size = (uint32_t)(i - *at);
        *at = i + 2;
        return 1;
    }
    if (!fixed || i + fixed > v->size) {
        return 0;
    }
    item->size = (uint32_t)fixed;
    *at = i + fixed;
    return 1;
}

/* Element node i whose whole content is array value vals[index]: once per item, as libevtx
 * renders it. Cost: O(items × element nodes). */
static int walk_array(hvd_binxml *bx, struct pool *p, uint32_t i, uint32_t vbase, uint32_t nvals,
                      int nest)
{
    uint16_t index = p->nodes[i].only;
    struct value whole = bx->vals[vbase + index];
    struct value item;
    size_t at = 0;
    int rc = 0;

    int items = 0;

    while (rc == 0 && array_item(&whole, &at, &item)) {
        bx->vals[vbase + index] = item;
        rc = walk(bx, p, i, p->nodes[i].end - i + 1, vbase, nvals, nest);
        items++;
    }
    if (rc == 0 && items == 0) { /* an empty array: the element, empty */
        bx->vals[vbase + index].type = V_STRING;
        bx->vals[vbase + index].size = 0;
        rc = walk(bx, p, i, p->nodes[i].end - i + 1, vbase, nvals, nest);
    }
    bx->vals[vbase + index] = whole;
    return rc;
}

static int is_null(const struct value *vals, uint32_t nvals, uint16_t index)
{
    return index != NO_INDEX && index < nvals && vals[index].type == V_NULL;
}

/*
 * Walks nodes [first, first + count) of pool p with the values vals[0, nvals). The pool may
 * grow under the walk (a nested template compiled), so nodes are read by index.
 * Cost: O(nodes + bytes of the values read).
 */
static int walk(hvd_binxml *bx, struct pool *p, uint32_t first, uint32_t count, uint32_t vbase,
                uint32_t nvals, int nest)
{
    const struct value *vals = bx->vals + vbase;

    for (uint32_t i = first; i < first + count && !bx->failed; i++) {
        /* Not kept across a call that may compile (emit_value, walk_array). */
        const struct node *nd = &p->nodes[i];

        switch (nd->kind) {
        case K_OPEN:
            if (is_null(vals, nvals, nd->index) || is_null(vals, nvals, nd->drop)) {
                i = nd->end; /* not rendered */
                break;
            }
            if (nd->only < nvals && (vals[nd->only].type & V_ARRAY) &&
                vals[nd->only].type != (V_ARRAY | V_BINXML)) {
                uint32_t end = nd->end;

                if (walk_array(bx, p, i, vbase, nvals, nest) < 0) {
                    return HVD_ECORRUPT;
                }
                i = end;
                break;
            }
            on_open(bx, p, nd);
            break;
        case K_ATTR:
            /* An attribute whose value is one NULL optional substitution is left out. */
            if (i + 1 < first + count && p->nodes[i + 1].kind == K_SUBST &&
                p->nodes[i + 1].optional && is_null(vals, nvals, p->nodes[i + 1].index) &&
                i + 2 < first + count &&
                (p->nodes[i + 2].kind == K_ATTR || p->nodes[i + 2].kind == K_STARTED)) {
                i++;
                bx->target = TG_NONE;
                break;
            }
            on_attr(bx, p, nd);
            break;
        case K_STARTED:
            on_started(bx);
            break;
        case K_CLOSE:
            on_close(bx);
            break;
        case K_TEXT:
            emit(bx, p->strs + nd->str, nd->len);
            break;
        case K_SUBST:
            if (nd->index < nvals) {
                struct value v = vals[nd->index];

                if (emit_value(bx, &v, nest) < 0) {
                    return HVD_ECORRUPT;
                }
            }
            break;
        default:
            break;
        }
    }
    return bx->failed ? HVD_ECORRUPT : 0;
}

/*
 * A template instance at chunk offset *pos (its token), with its values up to end: compiles
 * or finds the template, reads the value descriptors, walks it. Cost: O(template nodes +
 * values), plus the compile the first time in a chunk.
 */
static int walk_instance(hvd_binxml *bx, size_t pos, size_t end, int nest)
{
    const uint8_t *c = bx->chunk;
    uint32_t def;
    uint32_t nvals;
    uint32_t vbase = bx->nvals;
    struct tmpl *t = NULL;
    size_t data;
    int rc;

    if (pos + 10 > end) {
        return failf(bx, "template instance past the end at chunk offset %zu", pos);
    }
    def = rd32(c + pos + 6);
    pos += 10;
    if (def == pos) { /* the definition follows inline */
        if (pos + 24 > end) {
            return failf(bx, "template definition past the end at chunk offset %zu", pos);
        }
        pos += 24 + (size_t)rd32(c + pos + 20);
        if (pos > end) {
            return failf(bx, "template definition past the end at chunk offset %zu", pos);
        }
    }
    if (template_at(bx, def, &t) < 0) {
        return HVD_ECORRUPT;
    }
    if (pos + 4 > end) {
        return failf(bx, "substitution count past the end at chunk offset %zu", pos);
    }
    nvals = rd32(c + pos);
    pos += 4;
    if (nvals > MAX_VALUES - bx->nvals || nvals > (end - pos) / 4) {
        return failf(bx, "%" PRIu32 " substitution values at chunk offset %zu", nvals, pos);
    }
    data = pos + 4 * (size_t)nvals;
    for (uint32_t i = 0; i < nvals; i++) {
        struct value *v = &bx->vals[vbase + i];

        v->size = rd16(c + pos + 4 * i);
        v->type = c[pos + 4 * i + 2];
        v->p = c + data;
        if (v->size > end - data) {
            return failf(bx, "substitution value %" PRIu32 " past the end at chunk offset %zu", i,
                         data);
        }
        data += v->size;
    }
    bx->nvals += nvals;
    rc = walk(bx, &bx->main, t->first, t->count, vbase, nvals, nest);
    bx->nvals = vbase;
    return rc;
}

/* A fragment (header, then a template instance or an element tree) at [pos, end). */
static int walk_fragment(hvd_binxml *bx, size_t pos, size_t end, int nest)
{
    const uint8_t *c = bx->chunk;

    if (nest > MAX_NEST) {
        return failf(bx, "BinXml values nested too deep");
    }
    while (pos < end && c[pos] == T_FRAGMENT) {
        pos += 4;
    }
    if (pos >= end) {
        return failf(bx, "empty fragment at chunk offset %zu", pos);
    }
    if (c[pos] == T_TEMPLATE) {
        return walk_instance(bx, pos, end, nest);
    }
    if ((c[pos] & 0xBF) == T_OPEN) {
        uint32_t first = bx->scratch.n;
        uint32_t slen = bx->scratch.slen;
        int rc = compile(bx, &bx->scratch, &pos, end, 0);

        if (rc == 0) {
            rc = walk(bx, &bx->scratch, first, bx->scratch.n - first, bx->nvals, 0, nest);
        }
        bx->scratch.n = first;
        bx->scratch.slen = slen;
        return rc;
    }
    if (c[pos] == T_EOF) {
        return 0;
    }
    return failf(bx, "fragment starts with token 0x%02x at chunk offset %zu", c[pos], pos);
}

/* --- the result --------------------------------------------------------------------------- */

static const char *slot(const hvd_binxml *bx, enum slot s)
{
    return bx->sys[s] ? bx->arena.data + bx->sys[s] - 1 : NULL;
}

static int blank(char ch)
{
    return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
}

/* The value of a hex digit, or 16. */
static unsigned hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return (unsigned)(ch - '0');
    }
    if (ch >= 'a' && ch <= 'f') {
        return (unsigned)(ch - 'a' + 10);
    }
    if (ch >= 'A' && ch <= 'F') {
        return (unsigned)(ch - 'A' + 10);
    }
    return 16;
}

/*
 * A System value between blanks as strtoull() reads it in base 10 or 16; *bad set when it is
 * not all number or above max. Plain digits (and "0x" in base 16) short enough not to
 * overflow are read here, anything else by strtoull(). Cost: O(length).
 */
static uint64_t number(const char *s, int base, uint64_t max, int *bad)
{
    char *end;
    const char *q;
    unsigned long long v = 0;
    int digits = 0;

    if (!s) {
        return 0;
    }
    while (blank(*s)) {
        s++;
    }
    if (!*s) {
        return 0;
    }
    q = s;
    if (base == 16 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
        q += 2;
    }
    for (;;) {
        unsigned d = base == 16 ? hex_digit(*q) : (unsigned)(*q - '0');

        if (d >= (unsigned)base || digits == (base == 16 ? 16 : 19)) {
            break;
        }
        v = v * (unsigned)base + d;
        digits++;
        q++;
    }
    if (!digits || !(blank(*q) || !*q)) {
        v = strtoull(s, &end, base);
        q = end;
    }
    while (blank(*q)) {
        q++;
    }
    if (*q || v > max) {
        *bad = 1;
        return 0;
    }
    return v;
}

/* number() of System slot s, taken from note_number() when the slot is that number's text
 * alone (it reads back to the same value). Cost: O(1) then, else O(length). */
static uint64_t slot_number(const hvd_binxml *bx, enum slot s, int base, uint64_t max, int *bad)
{
    if (bx->sys[s] && bx->num_at[s] == bx->sys[s] && bx->num_base[s] == base &&
        bx->sys[s] - 1 + bx->num_len[s] < bx->arena.len &&
        bx->arena.data[bx->sys[s] - 1 + bx->num_len[s]] == '\0') {
        if (bx->num_value[s] > max) {
            *bad = 1;
            return 0;
        }
        return bx->num_value[s];
    }
    return number(slot(bx, s), base, max, bad);
}

static int decode_once(hvd_binxml *bx, size_t off, size_t len, hvd_event *ev, char *why,
                       size_t why_size);

/*
 * A record no rule can match is skimmed: walked whole as in a full decode (the same nested
 * fragments read, the same fields counted, so it fails where a full decode fails), but its
 * values after System are not rendered. Only the 4 MiB bound on an event's text cannot be
 * judged without rendering: a skim whose values could reach it is decoded again in full.
 */
int hvd_binxml_decode(hvd_binxml *bx, size_t off, size_t len, hvd_event *ev, char *why,
                      size_t why_size)
{
    int rc;

    bx->may_skip = 1;
    rc = decode_once(bx, off, len, ev, why, why_size);
    if (rc == HVD_OK && bx->system_only && bx->skim_bound > ARENA_MAX - bx->arena.len) {
        bx->may_skip = 0;
        rc = decode_once(bx, off, len, ev, why, why_size);
    }
    return rc;
}

static int decode_once(hvd_binxml *bx, size_t off, size_t len, hvd_event *ev, char *why,
                       size_t why_size)
{
    const char *s;
    int bad = 0;
    int pid_bad = 0;
    int rc;

    bx->why = why;
    bx->why_size = why_size;
    bx->failed = 0;
    if (why && why_size) {
        why[0] = '\0';
    }
    if (!bx->chunk || off > bx->size || len > bx->size - off) {
        return failf(bx, "record outside its chunk");
    }
    bx->arena.len = 0;
    hvd_buf_reset(&bx->message);
    memset(bx->sys, 0, sizeof(bx->sys));
    memset(bx->num_at, 0, sizeof(bx->num_at));
    bx->nfields = 0;
    bx->unnamed = 0;
    bx->depth = 0;
    bx->in_event = 0;
    bx->part = P_NONE;
    bx->userdata_child = 0;
    bx->target = TG_NONE;
    bx->in_attr = 0;
    bx->nvals = 0;
    bx->scratch.n = 0;
    bx->scratch.slen = 0;
    bx->system_only = 0;
    bx->skim_bound = 0;
    bx->time_at = 0;
    /* The arena always holds something, so offsets + 1 are never 0 by accident. */
    if (!bx->arena.data) {
        bx->arena.data = hvd_malloc(4096);
        if (!bx->arena.data) {
            return failf(bx, "out of memory");
        }
        bx->arena.cap = 4096;
    }
    bx->arena.data[0] = '\0';
    bx->arena.len = 1;
    rc = walk_fragment(bx, off, off + len, 0);
    if (rc < 0 || bx->failed) {
        return bx->failed ? HVD_ECORRUPT : rc;
    }
    if (bx->in_event == 0) {
        return failf(bx, "no <Event> element");
    }
    for (size_t i = 0; i < bx->nfields; i++) {
        const char *v = bx->arena.data + bx->fvalue[i] - 1;

        bx->fields[i].name = bx->arena.data + bx->fname[i] - 1;
        bx->fields[i].value = v + (v[strspn(v, " \t\n")] ? 0 : strlen(v)); /* blank: "" */
    }
    ev->provider = slot(bx, S_PROVIDER) ? slot(bx, S_PROVIDER) : "";
    if (!*ev->provider && slot(bx, S_SOURCE_NAME)) {
        ev->provider = slot(bx, S_SOURCE_NAME);
    }
    ev->provider_guid = slot(bx, S_PROVIDER_GUID) ? slot(bx, S_PROVIDER_GUID) : "";
    ev->channel = slot(bx, S_CHANNEL) ? slot(bx, S_CHANNEL) : "";
    ev->host = slot(bx, S_COMPUTER) ? slot(bx, S_COMPUTER) : "";
    ev->user_sid = slot(bx, S_USER_SID) ? slot(bx, S_USER_SID) : "";
    ev->event_id = (uint16_t)slot_number(bx, S_EVENT_ID, 10, 0xFFFF, &bad);
    ev->qualifiers = (uint16_t)slot_number(bx, S_QUALIFIERS, 10, 0xFFFF, &bad);
    ev->version = (uint8_t)slot_number(bx, S_VERSION, 10, 0xFF, &bad);
    ev->level = (uint8_t)slot_number(bx, S_LEVEL, 10, 0xFF, &bad);
    ev->task = (uint16_t)slot_number(bx, S_TASK, 10, 0xFFFF, &bad);
    ev->opcode = (uint8_t)slot_number(bx, S_OPCODE, 10, 0xFF, &bad);
    ev->keywords = slot_number(bx, S_KEYWORDS, 16, UINT64_MAX, &bad);
    ev->event_record_id = slot_number(bx, S_RECORD_ID, 10, UINT64_MAX, &bad);
    if (bad) {
        return failf(bx, "a System value is not a number");
    }
    if (!slot(bx, S_EVENT_ID)) {
        return failf(bx, "no <EventID>");
    }
    ev->time = 0;
    s = slot(bx, S_TIME);
    if (s && bx->time_at == bx->sys[S_TIME] && s[30] == '\0') {
        ev->time = bx->time_ticks; /* what hvd_time_parse() reads back from it */
    } else if (s && *s && hvd_time_parse(s, &ev->time) < 0) {
        return failf(bx, "bad TimeCreated '%.40s'", s);
    }
    ev->fields = bx->fields;
    ev->nfields = bx->nfields;
    ev->component = "";
    ev->level_word = "";
    /* The process is a hint for tying companion events: one that does not read is unknown
     * (0), not a reason to lose the event. */
    ev->pid = (uint32_t)slot_number(bx, S_PROCESS_ID, 10, UINT32_MAX, &pid_bad);
    ev->tid = (uint32_t)slot_number(bx, S_THREAD_ID, 10, UINT32_MAX, &pid_bad);
    if (pid_bad) {
        ev->pid = ev->tid = 0;
    }
    ev->level_text = slot(bx, S_LEVEL_TEXT) ? slot(bx, S_LEVEL_TEXT) : "";
    ev->task_text = slot(bx, S_TASK_TEXT) ? slot(bx, S_TASK_TEXT) : "";
    ev->opcode_text = slot(bx, S_OPCODE_TEXT) ? slot(bx, S_OPCODE_TEXT) : "";
    ev->channel_text = slot(bx, S_CHANNEL_TEXT) ? slot(bx, S_CHANNEL_TEXT) : "";
    ev->system_only = bx->system_only;
    if (bx->system_only) {
        ev->nfields = 0; /* whatever came before System is dropped too: one shape */
        ev->message = "";
        ev->level_text = ev->task_text = ev->opcode_text = ev->channel_text = "";
        return HVD_OK;
    }
    if (slot(bx, S_MESSAGE) && *slot(bx, S_MESSAGE)) {
        ev->message = slot(bx, S_MESSAGE);
        return HVD_OK;
    }
    /* No rendered message: the insert strings, in order, are the message. */
    for (size_t i = 0; i < bx->nfields; i++) {
        if (!*bx->fields[i].value) {
            continue;
        }
        if ((bx->message.len && hvd_buf_addc(&bx->message, '\n') < 0) ||
            hvd_buf_adds(&bx->message, bx->fields[i].value) < 0) {
            return failf(bx, "event message too large");
        }
    }
    ev->message = hvd_buf_str(&bx->message);
    return HVD_OK;
}
