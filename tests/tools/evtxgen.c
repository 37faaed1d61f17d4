/*
 * evtxgen: Windows event XML in, EVTX out. Test fixtures only: nothing installable writes
 * EVTX, and libevtx reads back only what Windows itself would write, so every record is a
 * template instance with typed, optional (0x0E) substitutions, as Windows writes them.
 *
 * Layout: a 4096-byte file header, then 64 KiB chunks. In each chunk, names and templates
 * are written inline on first use and referenced by chunk offset afterwards; both chunk
 * tables are filled; all three CRCs are set. Input is streamed with xmlTextReader and
 * chunks are written as they fill, so memory does not grow with the input.
 */
#include "hvtime.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FILE_HEADER_SIZE 4096
#define CHUNK_SIZE       65536
#define CHUNK_HEADER     512
#define MAX_DATA         256   /* data values per event */
#define MAX_STRING_UNITS 32000 /* UTF-16 code units in one value */
#define MAX_NAMES        512
#define MAX_TEMPLATES    64

/* Value types of the binary XML substitution descriptors. */
enum {
    VT_NULL = 0x00,
    VT_STRING = 0x01,
    VT_UINT8 = 0x04,
    VT_UINT16 = 0x06,
    VT_UINT32 = 0x08,
    VT_UINT64 = 0x0A,
    VT_GUID = 0x0F,
    VT_FILETIME = 0x11,
    VT_SID = 0x13,
    VT_BINARY = 0x0E,
    VT_HEXINT64 = 0x15,
};

/* Substitution indexes of the System block, in Windows' own order where it has one. */
enum {
    S_LEVEL,
    S_OPCODE,
    S_TASK,
    S_EVENTID,
    S_QUALIFIERS,
    S_KEYWORDS,
    S_TIME,
    S_ACTIVITY,
    S_PID,
    S_TID,
    S_RECORDID,
    S_VERSION,
    S_USERID,
    S_RELATED,
    S_PROVIDER,
    S_PROVIDER_GUID,
    S_CHANNEL,
    S_COMPUTER,
    S_SOURCE_NAME,
    S_COUNT /* first data value */
};

struct value {
    uint8_t type;
    uint16_t size;
    uint8_t bytes[2 * MAX_STRING_UNITS];
};

enum data_kind { DATA_NONE, DATA_EVENTDATA, DATA_USERDATA };

/* One event, as read from the input. */
struct event {
    struct value v[S_COUNT + MAX_DATA];
    size_t ndata;
    enum data_kind data_kind;
    char *names[MAX_DATA]; /* Data@Name or UserData leaf name; NULL for unnamed Data */
    int binary[MAX_DATA];  /* the value is EventData's <Binary> (hex digits in the input) */
    char *userdata_name;   /* the UserData child element */
    char *userdata_ns;
    uint64_t time_filetime;
    long line;
    const xmlNode *node; /* the <Event> itself, for --forwarded */
};

struct name_ref {
    char *name;
    uint32_t offset;
};

struct template_ref {
    char *shape;
    uint32_t offset; /* of the definition (its 'next' field) */
    uint32_t id;
};

struct options {
    int chunk_crc, data_crc, header_crc, truncate, dirty, stale_record;
    int forwarded;    /* records without templates, as a Windows Event Collector writes them */
    long chunk_count; /* -1: the real count */
    long chunk_records;
    uint64_t first_id;
};

struct writer {
    FILE *out;
    const char *out_path;
    uint8_t chunk[CHUNK_SIZE];
    uint32_t pos; /* next free byte in chunk */
    int overflow; /* a write did not fit */
    struct name_ref names[MAX_NAMES];
    size_t nnames;
    struct template_ref templates[MAX_TEMPLATES];
    size_t ntemplates;
    uint64_t chunk_first_id, chunk_last_id;
    uint32_t last_record_offset;
    uint32_t stale_offset, stale_size; /* last record that reuses a template; 0 = none */
    size_t chunk_nrecords;
    uint64_t nchunks;
    uint64_t next_id;
    uint64_t nrecords;
    struct options opt;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(0L, p, (uInt)n);
}

/* --- UTF-8 to UTF-16LE ---------------------------------------------------------------- */

/* Converts s to UTF-16LE into out (cap code units); returns the number of units, or -1
 * for invalid UTF-8. Longer text is cut at cap units. */
static long utf16_from_utf8(const char *s, uint8_t *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;

    while (*p) {
        uint32_t cp;
        int extra;

        if (*p < 0x80) {
            cp = *p;
            extra = 0;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            extra = 1;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            extra = 2;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07;
            extra = 3;
        } else {
            return -1;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80) {
                return -1;
            }
            cp = (cp << 6) | (*p & 0x3F);
        }
        if (cp >= 0x10000) {
            if (n + 2 > cap) {
                break;
            }
            cp -= 0x10000;
            put16(out + 2 * n++, (uint16_t)(0xD800 + (cp >> 10)));
            put16(out + 2 * n++, (uint16_t)(0xDC00 + (cp & 0x3FF)));
        } else {
            if (n + 1 > cap) {
                break;
            }
            put16(out + 2 * n++, (uint16_t)cp);
        }
    }
    return (long)n;
}

/* --- input values ------------------------------------------------------------------- */

static void set_null(struct value *v)
{
    v->type = VT_NULL;
    v->size = 0;
}

static int set_string(struct value *v, const char *s)
{
    long n;

    if (!s || !*s) {
        set_null(v); /* empty strings make libevtx accessors fail; NULL drops the node */
        return 0;
    }
    n = utf16_from_utf8(s, v->bytes, MAX_STRING_UNITS);
    if (n < 0) {
        return -1;
    }
    v->type = VT_STRING;
    v->size = (uint16_t)(2 * n);
    return 0;
}

static int set_uint(struct value *v, uint8_t type, const char *s, int base)
{
    char *end;
    unsigned long long x;

    if (!s || !*s) {
        set_null(v);
        return 0;
    }
    errno = 0;
    x = strtoull(s, &end, base);
    if (errno || *end) {
        return -1;
    }
    v->type = type;
    switch (type) {
    case VT_UINT8:
        v->size = 1;
        v->bytes[0] = (uint8_t)x;
        return x > 0xFF ? -1 : 0;
    case VT_UINT16:
        v->size = 2;
        put16(v->bytes, (uint16_t)x);
        return x > 0xFFFF ? -1 : 0;
    case VT_UINT32:
        v->size = 4;
        put32(v->bytes, (uint32_t)x);
        return x > 0xFFFFFFFFULL ? -1 : 0;
    default:
        v->size = 8;
        put64(v->bytes, (uint64_t)x);
        return 0;
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "{6066F867-7CA1-4418-85FD-36E3F9C0600C}": Data1..3 little-endian, the rest as written. */
static int set_guid(struct value *v, const char *s)
{
    uint8_t raw[16];
    size_t n = 0;

    if (!s || !*s) {
        set_null(v);
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '{' || *p == '}' || *p == '-') {
            continue;
        }
        if (n == 32 || hexval(p[0]) < 0 || hexval(p[1]) < 0) {
            return -1;
        }
        raw[n / 2] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
        n += 2;
        p++;
    }
    if (n != 32) {
        return -1;
    }
    v->type = VT_GUID;
    v->size = 16;
    v->bytes[0] = raw[3];
    v->bytes[1] = raw[2];
    v->bytes[2] = raw[1];
    v->bytes[3] = raw[0];
    v->bytes[4] = raw[5];
    v->bytes[5] = raw[4];
    v->bytes[6] = raw[7];
    v->bytes[7] = raw[6];
    memcpy(v->bytes + 8, raw + 8, 8);
    return 0;
}

/* "S-1-5-21-...": revision, count, 48-bit big-endian authority, little-endian subauths. */
static int set_sid(struct value *v, const char *s)
{
    unsigned long long part[17];
    size_t n = 0;
    const char *p;
    char *end;

    if (!s || !*s) {
        set_null(v);
        return 0;
    }
    if (strncmp(s, "S-", 2) != 0) {
        return -1;
    }
    p = s + 2;
    while (*p && n < 17) {
        errno = 0;
        part[n++] = strtoull(p, &end, 10);
        if (errno || end == p || (*end && *end != '-')) {
            return -1;
        }
        p = *end ? end + 1 : end;
    }
    if (n < 2 || *p) {
        return -1;
    }
    v->type = VT_SID;
    v->bytes[0] = (uint8_t)part[0];
    v->bytes[1] = (uint8_t)(n - 2);
    for (int i = 0; i < 6; i++) {
        v->bytes[2 + i] = (uint8_t)(part[1] >> (8 * (5 - i)));
    }
    for (size_t i = 2; i < n; i++) {
        put32(v->bytes + 8 + 4 * (i - 2), (uint32_t)part[i]);
    }
    v->size = (uint16_t)(8 + 4 * (n - 2));
    return 0;
}

/* --- reading one <Event> ------------------------------------------------------------ */

static int is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static char *text_of(const xmlNode *n)
{
    return n ? (char *)xmlNodeGetContent(n) : NULL;
}

static char *attr_of(const xmlNode *n, const char *name)
{
    return n ? (char *)xmlGetProp(n, (const xmlChar *)name) : NULL;
}

static void event_free(struct event *ev)
{
    for (size_t i = 0; i < ev->ndata; i++) {
        xmlFree(ev->names[i]);
        ev->names[i] = NULL;
        ev->binary[i] = 0;
    }
    xmlFree(ev->userdata_name);
    xmlFree(ev->userdata_ns);
    ev->userdata_name = NULL;
    ev->userdata_ns = NULL;
    ev->ndata = 0;
}

/* Sets one value from an attribute or element text with 'set', reporting 'what' on error. */
#define TAKE(expr, what)                           \
    do {                                           \
        char *s_ = (expr);                         \
        int r_ = setter(&ev->v[idx], kind, s_);    \
        xmlFree(s_);                               \
        if (r_ < 0) {                              \
            snprintf(why, whycap, "bad %s", what); \
            return -1;                             \
        }                                          \
    } while (0)

enum setter_kind { K_STR, K_U8, K_U16, K_U32, K_U64, K_HEX64, K_GUID, K_SID, K_TIME };

static int setter(struct value *v, enum setter_kind kind, const char *s)
{
    hvd_time t;

    switch (kind) {
    case K_STR:
        return set_string(v, s);
    case K_U8:
        return set_uint(v, VT_UINT8, s, 10);
    case K_U16:
        return set_uint(v, VT_UINT16, s, 10);
    case K_U32:
        return set_uint(v, VT_UINT32, s, 10);
    case K_U64:
        return set_uint(v, VT_UINT64, s, 10);
    case K_HEX64:
        return set_uint(v, VT_HEXINT64, s, 16);
    case K_GUID:
        return set_guid(v, s);
    case K_SID:
        return set_sid(v, s);
    case K_TIME:
        if (!s || !*s) {
            set_null(v);
            return 0;
        }
        if (hvd_time_parse(s, &t) < 0) {
            /* python-evtx and some tools print "2024-03-05 10:00:01". */
            return -1;
        }
        v->type = VT_FILETIME;
        v->size = 8;
        put64(v->bytes, (uint64_t)(t + HVD_FILETIME_EPOCH_DELTA));
        return 0;
    }
    return -1;
}

static int read_system(struct event *ev, const xmlNode *sys, char *why, size_t whycap)
{
    for (const xmlNode *c = sys->children; c; c = c->next) {
        int idx;
        enum setter_kind kind;

        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (is_elem(c, "Provider")) {
            idx = S_PROVIDER, kind = K_STR;
            TAKE(attr_of(c, "Name"), "Provider Name");
            idx = S_PROVIDER_GUID, kind = K_GUID;
            TAKE(attr_of(c, "Guid"), "Provider Guid");
            idx = S_SOURCE_NAME, kind = K_STR;
            TAKE(attr_of(c, "EventSourceName"), "Provider EventSourceName");
        } else if (is_elem(c, "EventID")) {
            idx = S_EVENTID, kind = K_U16;
            TAKE(text_of(c), "EventID");
            idx = S_QUALIFIERS, kind = K_U16;
            TAKE(attr_of(c, "Qualifiers"), "EventID Qualifiers");
        } else if (is_elem(c, "Version")) {
            idx = S_VERSION, kind = K_U8;
            TAKE(text_of(c), "Version");
        } else if (is_elem(c, "Level")) {
            idx = S_LEVEL, kind = K_U8;
            TAKE(text_of(c), "Level");
        } else if (is_elem(c, "Task")) {
            idx = S_TASK, kind = K_U16;
            TAKE(text_of(c), "Task");
        } else if (is_elem(c, "Opcode")) {
            idx = S_OPCODE, kind = K_U8;
            TAKE(text_of(c), "Opcode");
        } else if (is_elem(c, "Keywords")) {
            idx = S_KEYWORDS, kind = K_HEX64;
            TAKE(text_of(c), "Keywords");
        } else if (is_elem(c, "TimeCreated")) {
            idx = S_TIME, kind = K_TIME;
            TAKE(attr_of(c, "SystemTime"), "TimeCreated SystemTime");
        } else if (is_elem(c, "EventRecordID")) {
            idx = S_RECORDID, kind = K_U64;
            TAKE(text_of(c), "EventRecordID");
        } else if (is_elem(c, "Correlation")) {
            idx = S_ACTIVITY, kind = K_GUID;
            TAKE(attr_of(c, "ActivityID"), "Correlation ActivityID");
            idx = S_RELATED, kind = K_GUID;
            TAKE(attr_of(c, "RelatedActivityID"), "Correlation RelatedActivityID");
        } else if (is_elem(c, "Execution")) {
            idx = S_PID, kind = K_U32;
            TAKE(attr_of(c, "ProcessID"), "Execution ProcessID");
            idx = S_TID, kind = K_U32;
            TAKE(attr_of(c, "ThreadID"), "Execution ThreadID");
        } else if (is_elem(c, "Channel")) {
            idx = S_CHANNEL, kind = K_STR;
            TAKE(text_of(c), "Channel");
        } else if (is_elem(c, "Computer")) {
            idx = S_COMPUTER, kind = K_STR;
            TAKE(text_of(c), "Computer");
        } else if (is_elem(c, "Security")) {
            idx = S_USERID, kind = K_SID;
            TAKE(attr_of(c, "UserID"), "Security UserID");
        }
    }
    return 0;
}

static int add_data(struct event *ev, char *name, const xmlNode *n, char *why, size_t whycap)
{
    char *text;
    int rc;

    if (ev->ndata == MAX_DATA) {
        xmlFree(name);
        snprintf(why, whycap, "more than %d data values", MAX_DATA);
        return -1;
    }
    text = text_of(n);
    rc = set_string(&ev->v[S_COUNT + ev->ndata], text);
    xmlFree(text);
    ev->names[ev->ndata++] = name;
    if (rc < 0) {
        snprintf(why, whycap, "data value is not valid UTF-8");
        return -1;
    }
    return 0;
}

/* EventData's <Binary>: hex digits, written as a binary value (as Windows writes the raw
 * data of classic events such as Service Control Manager 7036). */
static int add_binary(struct event *ev, const xmlNode *n, char *why, size_t whycap)
{
    char *text;
    size_t len;
    struct value *v;

    if (ev->ndata == MAX_DATA) {
        snprintf(why, whycap, "more than %d data values", MAX_DATA);
        return -1;
    }
    text = text_of(n);
    len = text ? strlen(text) : 0;
    v = &ev->v[S_COUNT + ev->ndata];
    if (len % 2 || len / 2 > sizeof(v->bytes)) {
        xmlFree(text);
        snprintf(why, whycap, "<Binary> needs an even number of hex digits");
        return -1;
    }
    for (size_t i = 0; i < len; i += 2) {
        char pair[3] = {text[i], text[i + 1], '\0'};
        char *end;
        unsigned long b = strtoul(pair, &end, 16);

        if (*end || !isxdigit((unsigned char)pair[0])) {
            xmlFree(text);
            snprintf(why, whycap, "<Binary> holds a character that is not a hex digit");
            return -1;
        }
        v->bytes[i / 2] = (uint8_t)b;
    }
    xmlFree(text);
    v->type = len ? VT_BINARY : VT_NULL;
    v->size = (uint16_t)(len / 2);
    ev->binary[ev->ndata] = 1;
    ev->names[ev->ndata++] = NULL;
    return 0;
}

static int read_event(struct event *ev, const xmlNode *node, char *why, size_t whycap)
{
    const xmlNode *sys = NULL;

    for (size_t i = 0; i < S_COUNT; i++) {
        set_null(&ev->v[i]);
    }
    ev->data_kind = DATA_NONE;
    ev->node = node;
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (is_elem(c, "System")) {
            sys = c;
        } else if (is_elem(c, "EventData")) {
            ev->data_kind = DATA_EVENTDATA;
            for (const xmlNode *d = c->children; d; d = d->next) {
                if (is_elem(d, "Data") && add_data(ev, attr_of(d, "Name"), d, why, whycap) < 0) {
                    return -1;
                }
                if (is_elem(d, "Binary") && add_binary(ev, d, why, whycap) < 0) {
                    return -1;
                }
            }
        } else if (is_elem(c, "UserData")) {
            const xmlNode *child = NULL;

            for (const xmlNode *d = c->children; d; d = d->next) {
                if (d->type == XML_ELEMENT_NODE) {
                    if (child) {
                        snprintf(why, whycap, "UserData has more than one child element");
                        return -1;
                    }
                    child = d;
                }
            }
            if (!child) {
                snprintf(why, whycap, "UserData without a child element");
                return -1;
            }
            ev->data_kind = DATA_USERDATA;
            ev->userdata_name = (char *)xmlStrdup(child->name);
            ev->userdata_ns =
                child->ns && child->ns->href ? (char *)xmlStrdup(child->ns->href) : NULL;
            for (const xmlNode *d = child->children; d; d = d->next) {
                if (d->type == XML_ELEMENT_NODE &&
                    add_data(ev, (char *)xmlStrdup(d->name), d, why, whycap) < 0) {
                    return -1;
                }
            }
        }
    }
    if (!sys) {
        snprintf(why, whycap, "<Event> without <System>");
        return -1;
    }
    if (read_system(ev, sys, why, whycap) < 0) {
        return -1;
    }
    if (ev->v[S_EVENTID].type == VT_NULL) {
        snprintf(why, whycap, "<Event> without <EventID>");
        return -1;
    }
    ev->time_filetime = 0;
    if (ev->v[S_TIME].type == VT_FILETIME) {
        ev->time_filetime =
            (uint64_t)get32(ev->v[S_TIME].bytes) | (uint64_t)get32(ev->v[S_TIME].bytes + 4) << 32;
    }
    return 0;
}

/* --- binary XML into the chunk -------------------------------------------------------- */

static uint8_t *reserve(struct writer *w, size_t n)
{
    uint8_t *p;

    /* Never up to the chunk's last byte: libevtx drops a record that ends exactly there. */
    if (w->overflow || n >= CHUNK_SIZE - w->pos) {
        w->overflow = 1;
        return NULL;
    }
    p = w->chunk + w->pos;
    w->pos += (uint32_t)n;
    return p;
}

static void emit8(struct writer *w, uint8_t v)
{
    uint8_t *p = reserve(w, 1);

    if (p) {
        *p = v;
    }
}

static void emit16(struct writer *w, uint16_t v)
{
    uint8_t *p = reserve(w, 2);

    if (p) {
        put16(p, v);
    }
}

static void emit32(struct writer *w, uint32_t v)
{
    uint8_t *p = reserve(w, 4);

    if (p) {
        put32(p, v);
    }
}

static void emit_bytes(struct writer *w, const void *data, size_t n)
{
    uint8_t *p = reserve(w, n);

    if (p) {
        memcpy(p, data, n);
    }
}

static uint16_t name_hash(const uint8_t *units, size_t n)
{
    uint32_t h = 0;

    for (size_t i = 0; i < n; i++) {
        h = h * 65599 + (uint32_t)(units[2 * i] | units[2 * i + 1] << 8);
    }
    return (uint16_t)h;
}

/* A name reference: the offset, then the name itself when this is its first use. */
static void emit_name(struct writer *w, const char *name)
{
    uint8_t units[512];
    long n;
    uint32_t at;
    uint16_t hash;
    uint32_t bucket;

    for (size_t i = 0; i < w->nnames; i++) {
        if (strcmp(w->names[i].name, name) == 0) {
            emit32(w, w->names[i].offset);
            return;
        }
    }
    n = utf16_from_utf8(name, units, sizeof(units) / 2);
    if (n <= 0 || w->nnames == MAX_NAMES) {
        w->overflow = 1;
        return;
    }
    at = w->pos + 4;
    emit32(w, at);
    hash = name_hash(units, (size_t)n);
    bucket = 128 + 4 * (hash % 64);
    /* New names go to the head of their string-table chain. */
    emit32(w, get32(w->chunk + bucket));
    emit16(w, hash);
    emit16(w, (uint16_t)n);
    emit_bytes(w, units, (size_t)(2 * n));
    emit16(w, 0);
    if (w->overflow) {
        return;
    }
    put32(w->chunk + bucket, at);
    w->names[w->nnames].name = strdup(name);
    w->names[w->nnames].offset = at;
    if (!w->names[w->nnames].name) {
        w->overflow = 1;
        return;
    }
    w->nnames++;
}

/* Opens an element; returns the chunk offset of its data-size field, patched on close. */
static uint32_t open_element(struct writer *w, const char *name, int has_attrs)
{
    uint32_t size_at;

    emit8(w, has_attrs ? 0x41 : 0x01);
    emit16(w, 0xFFFF); /* no dependency */
    size_at = w->pos;
    emit32(w, 0);
    emit_name(w, name);
    return size_at;
}

static void close_element_patch(struct writer *w, uint32_t size_at)
{
    if (!w->overflow) {
        put32(w->chunk + size_at, w->pos - (size_at + 4));
    }
}

static void emit_substitution(struct writer *w, uint16_t index, uint8_t type)
{
    emit8(w, 0x0E); /* optional: a NULL value drops the node */
    emit16(w, index);
    emit8(w, type);
}

static void emit_text(struct writer *w, const char *text)
{
    uint8_t units[512];
    long n = utf16_from_utf8(text, units, sizeof(units) / 2);

    if (n < 0) {
        w->overflow = 1;
        return;
    }
    emit8(w, 0x05);
    emit8(w, 0x01);
    emit16(w, (uint16_t)n);
    emit_bytes(w, units, (size_t)(2 * n));
}

/* Text of any length as one value-text token. */
static void emit_long_text(struct writer *w, const char *text)
{
    size_t cap = strlen(text) + 1;
    uint8_t *units = malloc(2 * cap);
    long n = units ? utf16_from_utf8(text, units, cap) : -1;

    if (n < 0 || n > 0xFFFF) {
        w->overflow = 1;
    } else {
        emit8(w, 0x05);
        emit8(w, 0x01);
        emit16(w, (uint16_t)n);
        emit_bytes(w, units, (size_t)(2 * n));
    }
    free(units);
}

/*
 * The element n as a Windows Event Collector writes forwarded events: the tree itself, no
 * template, no dependency ids, every attribute and text as value text (RenderingInfo
 * included, which carries the message rendered on the source host).
 */
static void emit_tree(struct writer *w, const xmlNode *n)
{
    size_t nattrs = n->nsDef && !n->nsDef->prefix ? 1 : 0;
    uint32_t size_at;
    int content = 0;

    for (const xmlAttr *a = n->properties; a; a = a->next) {
        nattrs++;
    }
    emit8(w, nattrs ? 0x41 : 0x01);
    size_at = w->pos;
    emit32(w, 0);
    emit_name(w, (const char *)n->name);
    if (nattrs) {
        uint32_t list_at = w->pos;
        size_t i = 0;

        emit32(w, 0);
        if (n->nsDef && !n->nsDef->prefix) {
            emit8(w, ++i < nattrs ? 0x46 : 0x06);
            emit_name(w, "xmlns");
            emit_long_text(w, (const char *)n->nsDef->href);
        }
        for (const xmlAttr *a = n->properties; a; a = a->next) {
            xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);

            emit8(w, ++i < nattrs ? 0x46 : 0x06);
            emit_name(w, (const char *)a->name);
            emit_long_text(w, v ? (const char *)v : "");
            xmlFree(v);
        }
        if (!w->overflow) {
            put32(w->chunk + list_at, w->pos - (list_at + 4));
        }
    }
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE && c->type != XML_TEXT_NODE &&
            c->type != XML_CDATA_SECTION_NODE) {
            continue;
        }
        if (!content++) {
            emit8(w, 0x02);
        }
        if (c->type == XML_ELEMENT_NODE) {
            emit_tree(w, c);
        } else {
            emit_long_text(w, (const char *)c->content);
        }
    }
    emit8(w, content ? 0x04 : 0x03);
    if (!w->overflow) {
        put32(w->chunk + size_at, w->pos - (size_at + 4));
    }
}

struct attr {
    const char *name;
    int index; /* substitution, or -1 for literal text */
    uint8_t type;
    const char *text;
};

/* <name attrs...>[substitution]</name>, or <name attrs.../> when index < 0. */
static void emit_leaf(struct writer *w, const char *name, const struct attr *attrs, size_t nattrs,
                      int index, uint8_t type)
{
    uint32_t size_at = open_element(w, name, nattrs > 0);

    if (nattrs) {
        uint32_t list_at = w->pos;

        emit32(w, 0);
        for (size_t i = 0; i < nattrs; i++) {
            emit8(w, i + 1 < nattrs ? 0x46 : 0x06);
            emit_name(w, attrs[i].name);
            if (attrs[i].index >= 0) {
                emit_substitution(w, (uint16_t)attrs[i].index, attrs[i].type);
            } else {
                emit_text(w, attrs[i].text);
            }
        }
        if (!w->overflow) {
            put32(w->chunk + list_at, w->pos - (list_at + 4));
        }
    }
    if (index >= 0) {
        emit8(w, 0x02);
        emit_substitution(w, (uint16_t)index, type);
        emit8(w, 0x04);
    } else {
        emit8(w, 0x03);
    }
    close_element_patch(w, size_at);
}

static void emit_template_body(struct writer *w, const struct event *ev)
{
    static const struct attr xmlns[] = {
        {"xmlns", -1, 0, "http://schemas.microsoft.com/win/2004/08/events/event"}};
    const struct attr provider[] = {{"Name", S_PROVIDER, VT_STRING, NULL},
                                    {"Guid", S_PROVIDER_GUID, VT_GUID, NULL},
                                    {"EventSourceName", S_SOURCE_NAME, VT_STRING, NULL}};
    const struct attr qualifiers[] = {{"Qualifiers", S_QUALIFIERS, VT_UINT16, NULL}};
    const struct attr time[] = {{"SystemTime", S_TIME, VT_FILETIME, NULL}};
    const struct attr correlation[] = {{"ActivityID", S_ACTIVITY, VT_GUID, NULL},
                                       {"RelatedActivityID", S_RELATED, VT_GUID, NULL}};
    const struct attr execution[] = {{"ProcessID", S_PID, VT_UINT32, NULL},
                                     {"ThreadID", S_TID, VT_UINT32, NULL}};
    const struct attr security[] = {{"UserID", S_USERID, VT_SID, NULL}};
    uint32_t event_at;
    uint32_t system_at;

    emit8(w, 0x0F);
    emit8(w, 0x01);
    emit8(w, 0x01);
    emit8(w, 0x00);
    event_at = open_element(w, "Event", 1);
    {
        uint32_t list_at = w->pos;

        emit32(w, 0);
        emit8(w, 0x06);
        emit_name(w, xmlns[0].name);
        emit_text(w, xmlns[0].text);
        if (!w->overflow) {
            put32(w->chunk + list_at, w->pos - (list_at + 4));
        }
    }
    emit8(w, 0x02);
    system_at = open_element(w, "System", 0);
    emit8(w, 0x02);
    emit_leaf(w, "Provider", provider, 3, -1, 0);
    emit_leaf(w, "EventID", qualifiers, 1, S_EVENTID, VT_UINT16);
    emit_leaf(w, "Version", NULL, 0, S_VERSION, VT_UINT8);
    emit_leaf(w, "Level", NULL, 0, S_LEVEL, VT_UINT8);
    emit_leaf(w, "Task", NULL, 0, S_TASK, VT_UINT16);
    emit_leaf(w, "Opcode", NULL, 0, S_OPCODE, VT_UINT8);
    emit_leaf(w, "Keywords", NULL, 0, S_KEYWORDS, VT_HEXINT64);
    emit_leaf(w, "TimeCreated", time, 1, -1, 0);
    emit_leaf(w, "EventRecordID", NULL, 0, S_RECORDID, VT_UINT64);
    emit_leaf(w, "Correlation", correlation, 2, -1, 0);
    emit_leaf(w, "Execution", execution, 2, -1, 0);
    emit_leaf(w, "Channel", NULL, 0, S_CHANNEL, VT_STRING);
    emit_leaf(w, "Computer", NULL, 0, S_COMPUTER, VT_STRING);
    emit_leaf(w, "Security", security, 1, -1, 0);
    emit8(w, 0x04);
    close_element_patch(w, system_at);
    if (ev->data_kind == DATA_EVENTDATA) {
        uint32_t data_at = open_element(w, "EventData", 0);

        if (ev->ndata == 0) {
            emit8(w, 0x03);
        } else {
            emit8(w, 0x02);
            for (size_t i = 0; i < ev->ndata; i++) {
                struct attr name = {"Name", -1, 0, ev->names[i]};

                if (ev->binary[i]) {
                    emit_leaf(w, "Binary", NULL, 0, (int)(S_COUNT + i), VT_BINARY);
                    continue;
                }
                emit_leaf(w, "Data", &name, ev->names[i] ? 1 : 0, (int)(S_COUNT + i), VT_STRING);
            }
            emit8(w, 0x04);
        }
        close_element_patch(w, data_at);
    } else if (ev->data_kind == DATA_USERDATA) {
        uint32_t user_at = open_element(w, "UserData", 0);
        uint32_t child_at;

        emit8(w, 0x02);
        child_at = open_element(w, ev->userdata_name, ev->userdata_ns != NULL);
        if (ev->userdata_ns) {
            uint32_t list_at = w->pos;

            emit32(w, 0);
            emit8(w, 0x06);
            emit_name(w, "xmlns");
            emit_text(w, ev->userdata_ns);
            if (!w->overflow) {
                put32(w->chunk + list_at, w->pos - (list_at + 4));
            }
        }
        if (ev->ndata == 0) {
            emit8(w, 0x03);
        } else {
            emit8(w, 0x02);
            for (size_t i = 0; i < ev->ndata; i++) {
                emit_leaf(w, ev->names[i], NULL, 0, (int)(S_COUNT + i), VT_STRING);
            }
            emit8(w, 0x04);
        }
        close_element_patch(w, child_at);
        emit8(w, 0x04);
        close_element_patch(w, user_at);
    }
    emit8(w, 0x04);
    close_element_patch(w, event_at);
    emit8(w, 0x00); /* end of the template's fragment */
}

/* The template shape: what the data part looks like. The System block is the same for all. */
static int shape_of(const struct event *ev, char *out, size_t cap)
{
    size_t used;
    int n;

    n = snprintf(out, cap, "%d|%s|%s|", (int)ev->data_kind,
                 ev->userdata_name ? ev->userdata_name : "",
                 ev->userdata_ns ? ev->userdata_ns : "");
    if (n < 0 || (size_t)n >= cap) {
        return -1;
    }
    used = (size_t)n;
    for (size_t i = 0; i < ev->ndata; i++) {
        n = snprintf(out + used, cap - used, "%s%s,",
                     ev->binary[i]  ? "%"
                     : ev->names[i] ? "="
                                    : "#",
                     ev->names[i] ? ev->names[i] : "");
        if (n < 0 || (size_t)n >= cap - used) {
            return -1;
        }
        used += (size_t)n;
    }
    return 0;
}

/* FNV-1a over the shape, folded into a GUID; its first dword is the template id. */
static void shape_guid(const char *shape, uint8_t guid[16])
{
    uint64_t a = 0xcbf29ce484222325ULL;
    uint64_t b = 0x84222325cbf29ce4ULL;

    for (const char *p = shape; *p; p++) {
        a = (a ^ (uint8_t)*p) * 0x100000001b3ULL;
        b = (b ^ (uint8_t)*p) * 0x100000001b3ULL + 1;
    }
    put64(guid, a);
    put64(guid + 8, b);
}

static void emit_template_instance(struct writer *w, const struct event *ev, const char *shape)
{
    uint8_t guid[16];
    uint32_t at;
    uint32_t size_at;
    uint32_t id;
    uint32_t bucket;

    emit8(w, 0x0C);
    emit8(w, 0x01);
    for (size_t i = 0; i < w->ntemplates; i++) {
        if (strcmp(w->templates[i].shape, shape) == 0) {
            emit32(w, w->templates[i].id);
            emit32(w, w->templates[i].offset);
            return;
        }
    }
    if (w->ntemplates == MAX_TEMPLATES) {
        w->overflow = 1;
        return;
    }
    shape_guid(shape, guid);
    id = get32(guid);
    emit32(w, id);
    at = w->pos + 4;
    emit32(w, at);
    bucket = 384 + 4 * (id % 32);
    emit32(w, get32(w->chunk + bucket)); /* next definition in the bucket */
    emit_bytes(w, guid, 16);
    size_at = w->pos;
    emit32(w, 0);
    emit_template_body(w, ev);
    if (w->overflow) {
        return;
    }
    put32(w->chunk + size_at, w->pos - (size_at + 4));
    put32(w->chunk + bucket, at);
    w->templates[w->ntemplates].shape = strdup(shape);
    w->templates[w->ntemplates].offset = at;
    w->templates[w->ntemplates].id = id;
    if (!w->templates[w->ntemplates].shape) {
        w->overflow = 1;
        return;
    }
    w->ntemplates++;
}

/* --- chunks and the file ------------------------------------------------------------ */

static void chunk_reset(struct writer *w)
{
    for (size_t i = 0; i < w->nnames; i++) {
        free(w->names[i].name);
    }
    for (size_t i = 0; i < w->ntemplates; i++) {
        free(w->templates[i].shape);
    }
    w->nnames = 0;
    w->ntemplates = 0;
    memset(w->chunk, 0, sizeof(w->chunk));
    w->pos = CHUNK_HEADER;
    w->overflow = 0;
    w->chunk_nrecords = 0;
    w->stale_size = 0;
}

static int chunk_flush(struct writer *w)
{
    uint8_t *h = w->chunk;
    uint8_t hdr[120 + 384];

    if (w->chunk_nrecords == 0) {
        return 0;
    }
    memcpy(h, "ElfChnk", 8);
    put64(h + 8, w->chunk_first_id);
    put64(h + 16, w->chunk_last_id);
    put64(h + 24, w->chunk_first_id);
    put64(h + 32, w->chunk_last_id);
    put32(h + 40, 128);
    put32(h + 44, w->last_record_offset);
    put32(h + 48, w->pos);
    put32(h + 52, crc(h + CHUNK_HEADER, w->pos - CHUNK_HEADER));
    if (w->opt.stale_record && w->nchunks == 0 && w->stale_size &&
        w->stale_size <= CHUNK_SIZE - w->pos) {
        /* A stale copy past the free-space offset: what libevtx calls a recovered record. */
        memmove(h + w->pos, h + w->stale_offset, w->stale_size);
    }
    if (w->opt.data_crc && w->nchunks == 0) {
        put32(h + 52, get32(h + 52) ^ 0xFFFFFFFFu);
    }
    memcpy(hdr, h, 120);
    memcpy(hdr + 120, h + 128, 384);
    put32(h + 124, crc(hdr, sizeof(hdr)));
    if (w->opt.chunk_crc && w->nchunks == 0) {
        put32(h + 124, get32(h + 124) ^ 0xFFFFFFFFu);
    }
    if (fseeko(w->out, (off_t)(FILE_HEADER_SIZE + w->nchunks * CHUNK_SIZE), SEEK_SET) != 0 ||
        fwrite(h, 1, CHUNK_SIZE, w->out) != CHUNK_SIZE) {
        return -1;
    }
    w->nchunks++;
    chunk_reset(w);
    return 0;
}

/* Writes one record at the chunk's free space; returns 1 when written, 0 when it did not
 * fit (the chunk is unchanged), -1 when it cannot fit even an empty chunk. */
static int record_emit(struct writer *w, const struct event *ev, const char *shape)
{
    uint32_t start = w->pos;
    size_t names = w->nnames;
    size_t templates = w->ntemplates;
    uint8_t tables[384];
    uint32_t size_at;
    uint32_t count;
    uint64_t id = w->next_id;
    uint64_t written = ev->time_filetime;
    uint32_t size;

    memcpy(tables, w->chunk + 128, sizeof(tables));
    emit32(w, 0x00002a2a);
    size_at = w->pos;
    emit32(w, 0);
    {
        uint8_t *p = reserve(w, 16);

        if (p) {
            put64(p, id);
            put64(p + 8, written);
        }
    }
    emit8(w, 0x0F);
    emit8(w, 0x01);
    emit8(w, 0x01);
    emit8(w, 0x00);
    if (w->opt.forwarded) {
        emit_tree(w, ev->node);
        count = 0;
        goto ended;
    }
    emit_template_instance(w, ev, shape);
    count = (uint32_t)(S_COUNT + ev->ndata);
    emit32(w, count);
    for (uint32_t i = 0; i < count; i++) {
        const struct value *v = &ev->v[i];

        if (i == S_RECORDID && v->type == VT_NULL) {
            emit16(w, 8);
            emit8(w, VT_UINT64);
        } else {
            emit16(w, v->size);
            emit8(w, v->type);
        }
        emit8(w, 0);
    }
    for (uint32_t i = 0; i < count; i++) {
        if (i == S_RECORDID && ev->v[i].type == VT_NULL) {
            uint8_t *p = reserve(w, 8);

            if (p) {
                put64(p, id); /* no EventRecordID in the input: number records in order */
            }
        } else {
            emit_bytes(w, ev->v[i].bytes, ev->v[i].size);
        }
    }
ended:
    emit8(w, 0x00); /* end of the record's document */
    while (!w->overflow && (w->pos - start + 4) % 8 != 0) {
        emit8(w, 0);
    }
    emit32(w, 0);
    if (w->overflow) {
        /* Roll back to the chunk as it was, names and templates included. */
        memset(w->chunk + start, 0, CHUNK_SIZE - start);
        memcpy(w->chunk + 128, tables, sizeof(tables));
        for (size_t i = names; i < w->nnames; i++) {
            free(w->names[i].name);
        }
        for (size_t i = templates; i < w->ntemplates; i++) {
            free(w->templates[i].shape);
        }
        w->nnames = names;
        w->ntemplates = templates;
        w->pos = start;
        w->overflow = 0;
        return start == CHUNK_HEADER ? -1 : 0;
    }
    size = w->pos - start;
    put32(w->chunk + size_at, size);
    put32(w->chunk + w->pos - 4, size);
    if (w->chunk_nrecords == 0) {
        w->chunk_first_id = id;
    }
    if (w->ntemplates == templates) {
        /* Refers back to its template: a copy elsewhere in the chunk still parses. */
        w->stale_offset = start;
        w->stale_size = size;
    }
    w->chunk_last_id = id;
    w->last_record_offset = start;
    w->chunk_nrecords++;
    w->next_id++;
    w->nrecords++;
    return 1;
}

static int write_event(struct writer *w, const struct event *ev, char *why, size_t whycap)
{
    char shape[8192];
    int rc;

    if (shape_of(ev, shape, sizeof(shape)) < 0) {
        snprintf(why, whycap, "too many or too long data names");
        return -1;
    }
    if (w->opt.chunk_records > 0 && w->chunk_nrecords >= (size_t)w->opt.chunk_records &&
        chunk_flush(w) < 0) {
        snprintf(why, whycap, "cannot write %s: %s", w->out_path, strerror(errno));
        return -1;
    }
    rc = record_emit(w, ev, shape);
    if (rc == 0) {
        if (chunk_flush(w) < 0) {
            snprintf(why, whycap, "cannot write %s: %s", w->out_path, strerror(errno));
            return -1;
        }
        rc = record_emit(w, ev, shape);
    }
    if (rc < 0) {
        snprintf(why, whycap, "event too large for one 64 KiB chunk");
        return -1;
    }
    return 0;
}

static int file_finish(struct writer *w)
{
    uint8_t h[FILE_HEADER_SIZE];
    uint64_t size;

    if (chunk_flush(w) < 0) {
        return -1;
    }
    memset(h, 0, sizeof(h));
    memcpy(h, "ElfFile", 8);
    put64(h + 8, 0);
    put64(h + 16, w->nchunks ? w->nchunks - 1 : 0);
    put64(h + 24, w->next_id);
    put32(h + 32, 128);
    put16(h + 36, 1);
    put16(h + 38, 3);
    put16(h + 40, FILE_HEADER_SIZE);
    put16(h + 42, (uint16_t)(w->opt.chunk_count >= 0 ? (uint64_t)w->opt.chunk_count : w->nchunks));
    put32(h + 120, w->opt.dirty ? 1 : 0);
    put32(h + 124, crc(h, 120));
    if (w->opt.header_crc) {
        put32(h + 124, get32(h + 124) ^ 0xFFFFFFFFu);
    }
    if (fseeko(w->out, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof(h), w->out) != sizeof(h)) {
        return -1;
    }
    if (w->nchunks == 0 && ftruncate(fileno(w->out), FILE_HEADER_SIZE) < 0) {
        return -1;
    }
    if (fflush(w->out) != 0) {
        return -1;
    }
    size = FILE_HEADER_SIZE + w->nchunks * CHUNK_SIZE;
    if (w->opt.truncate && w->nchunks > 0 &&
        ftruncate(fileno(w->out), (off_t)(size - CHUNK_SIZE / 2)) < 0) {
        return -1;
    }
    return 0;
}

/* --- command line ------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: evtxgen [OPTIONS] INPUT.xml OUTPUT.evtx\n"
                 "\n"
                 "Writes the events of INPUT.xml (Windows event XML: <Events><Event ...>...</Event>"
                 "</Events>\n"
                 "or a single <Event>, '-' for standard input) as an EVTX file.\n"
                 "\n"
                 "options:\n"
                 "  --chunk-records=N  start a new chunk after N records\n"
                 "  --first-id=N       record identifier of the first record (default 1)\n"
                 "  --forwarded        write records as a Windows Event Collector does\n"
                 "                     (ForwardedEvents): the element tree with every value\n"
                 "                     as text and no template; RenderingInfo is kept\n"
                 "damage, for tests of readers:\n"
                 "  --corrupt=chunk-crc   wrong CRC in the first chunk's header\n"
                 "  --corrupt=data-crc    wrong CRC of the first chunk's event records\n"
                 "  --corrupt=header-crc  wrong CRC in the file header\n"
                 "  --dirty               set the file header's dirty flag\n"
                 "  --truncate            cut the last chunk in half\n"
                 "  --stale-record        leave a copy of a record in the first chunk's\n"
                 "                        free space (libevtx reports it as recovered)\n"
                 "  --chunk-count=N       write N as the number of chunks in the file header\n"
                 "\n"
                 "exit status: 0 written, 1 bad input (the output is removed), 2 usage error\n");
}

static int parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return errno || end == s || *end || *out < 0 ? -1 : 0;
}

static int parse_options(int argc, char **argv, struct options *opt, int *first_arg)
{
    long v;
    int i;

    memset(opt, 0, sizeof(*opt));
    opt->chunk_count = -1;
    opt->first_id = 1;
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--corrupt=chunk-crc") == 0) {
            opt->chunk_crc = 1;
        } else if (strcmp(a, "--corrupt=data-crc") == 0) {
            opt->data_crc = 1;
        } else if (strcmp(a, "--corrupt=header-crc") == 0) {
            opt->header_crc = 1;
        } else if (strcmp(a, "--forwarded") == 0) {
            opt->forwarded = 1;
        } else if (strcmp(a, "--dirty") == 0) {
            opt->dirty = 1;
        } else if (strcmp(a, "--truncate") == 0) {
            opt->truncate = 1;
        } else if (strcmp(a, "--stale-record") == 0) {
            opt->stale_record = 1;
        } else if (strncmp(a, "--chunk-count=", 14) == 0 && parse_long(a + 14, &v) == 0) {
            opt->chunk_count = v;
        } else if (strncmp(a, "--chunk-records=", 16) == 0 && parse_long(a + 16, &v) == 0 &&
                   v > 0) {
            opt->chunk_records = v;
        } else if (strncmp(a, "--first-id=", 11) == 0 && parse_long(a + 11, &v) == 0 && v > 0) {
            opt->first_id = (uint64_t)v;
        } else {
            fprintf(stderr, "evtxgen: bad option '%s'\n", a);
            return -1;
        }
    }
    *first_arg = i;
    return 0;
}

static void silence_xml_errors(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

int main(int argc, char **argv)
{
    static struct writer w;
    static struct event ev;
    xmlTextReaderPtr reader = NULL;
    const char *in_path;
    char why[512] = "";
    long line = 0;
    int first;
    int rc;
    int status = 1;

    if (parse_options(argc, argv, &w.opt, &first) < 0 || argc - first != 2) {
        usage(stderr);
        return 2;
    }
    in_path = argv[first];
    w.out_path = argv[first + 1];
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, silence_xml_errors);
    reader = xmlReaderForFile(strcmp(in_path, "-") == 0 ? "/dev/stdin" : in_path, NULL,
                              XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_HUGE);
    if (!reader) {
        fprintf(stderr, "evtxgen: %s: cannot open: %s\n", in_path, strerror(errno));
        return 1;
    }
    w.out = fopen(w.out_path, "wb");
    if (!w.out) {
        fprintf(stderr, "evtxgen: %s: cannot create: %s\n", w.out_path, strerror(errno));
        xmlFreeTextReader(reader);
        return 1;
    }
    w.next_id = w.opt.first_id;
    chunk_reset(&w);
    while ((rc = xmlTextReaderRead(reader)) == 1) {
        xmlNodePtr node;

        if (xmlTextReaderNodeType(reader) != XML_READER_TYPE_ELEMENT ||
            strcmp((const char *)xmlTextReaderConstLocalName(reader), "Event") != 0) {
            continue;
        }
        node = xmlTextReaderExpand(reader);
        if (!node) {
            rc = -1;
            break;
        }
        line = xmlGetLineNo(node);
        if (read_event(&ev, node, why, sizeof(why)) < 0 ||
            write_event(&w, &ev, why, sizeof(why)) < 0) {
            event_free(&ev);
            fprintf(stderr, "evtxgen: %s:%ld: %s\n", in_path, line, why);
            goto out;
        }
        event_free(&ev);
        /* The next Read() walks this event's children; none is an <Event>. */
    }
    if (rc < 0) {
        const xmlError *e = xmlGetLastError();

        fprintf(stderr, "evtxgen: %s:%d: malformed XML: %s", in_path,
                e ? e->line : (int)xmlTextReaderGetParserLineNumber(reader),
                e && e->message ? e->message : "parse error\n");
        goto out;
    }
    if (file_finish(&w) < 0) {
        fprintf(stderr, "evtxgen: %s: cannot write: %s\n", w.out_path, strerror(errno));
        goto out;
    }
    status = 0;
out:
    chunk_reset(&w);
    xmlFreeTextReader(reader);
    if (fclose(w.out) != 0 && status == 0) {
        fprintf(stderr, "evtxgen: %s: cannot write: %s\n", w.out_path, strerror(errno));
        status = 1;
    }
    if (status != 0) {
        unlink(w.out_path);
    }
    xmlCleanupParser();
    return status;
}
