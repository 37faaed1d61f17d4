/*
 * eventxml: one Windows event in XML into an hvd_event. Runs once per EVTX record, so it is
 * a SAX2 parse straight into one string arena, with no tree. The parser has no entity or
 * DTD handlers: external entities are never loaded and undeclared entities are errors.
 *
 * What it reads: System (Provider, EventID@Qualifiers, Version, Level, Task, Opcode,
 * Keywords, TimeCreated@SystemTime, EventRecordID, Channel, Computer, Security@UserID),
 * EventData/Data (named, or unnamed as Data0, Data1...), the leaves and attributes of the
 * single UserData child, and RenderingInfo/Message when the export carries rendered text.
 * Invariant: after a parse, every string in the event points into px->arena.
 */
#include "eventxml.h"

#include "alloc.h"
#include "buf.h"
#include "hvtime.h"

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTXML_MAX_FIELDS 512
#define EVENTXML_MAX_BYTES  (4u << 20) /* arena bytes per event */
#define CTXT_REUSE          4096       /* events parsed with one parser context */

enum part { P_NONE, P_SYSTEM, P_EVENTDATA, P_USERDATA, P_RENDERING };

/* Offsets into the arena until the parse ends (the arena may move while it grows). */
struct field_at {
    size_t name;
    size_t value;
};

enum sys_slot {
    SYS_PROVIDER,
    SYS_PROVIDER_GUID,
    SYS_SOURCE_NAME,
    SYS_CHANNEL,
    SYS_COMPUTER,
    SYS_USER_SID,
    SYS_EVENT_ID,
    SYS_QUALIFIERS,
    SYS_VERSION,
    SYS_LEVEL,
    SYS_TASK,
    SYS_OPCODE,
    SYS_KEYWORDS,
    SYS_TIME,
    SYS_RECORD_ID,
    SYS_PROCESS_ID,   /* Execution@ProcessID */
    SYS_THREAD_ID,    /* Execution@ThreadID */
    SYS_MESSAGE,      /* RenderingInfo/Message */
    SYS_LEVEL_TEXT,   /* RenderingInfo/Level */
    SYS_TASK_TEXT,    /* RenderingInfo/Task */
    SYS_OPCODE_TEXT,  /* RenderingInfo/Opcode */
    SYS_CHANNEL_TEXT, /* RenderingInfo/Channel */
    SYS_COUNT
};

struct hvd_eventxml {
    hvd_buf arena;
    size_t sys[SYS_COUNT]; /* arena offset + 1; 0 = absent */
    struct field_at fat[EVENTXML_MAX_FIELDS];
    hvd_field fields[EVENTXML_MAX_FIELDS];
    size_t nfields;
    size_t unnamed;
    hvd_buf message;

    /* SAX state */
    int depth;
    int in_event;
    enum part part;
    int part_depth;
    int text_slot;      /* SYS_* collecting text, or -1 */
    int text_field;     /* field collecting text, or -1 */
    int userdata_child; /* inside the UserData child element */
    const char *name;   /* for messages */
    int failed;
    char why[256];

    /* One push-parser context reused across events: a new one per event costs more
     * allocations than the parse. Replaced now and then so its dictionary stays small. */
    xmlParserCtxtPtr ctxt;
    unsigned uses;
};

int hvd_eventxml_create(hvd_eventxml **out, hvd_error *err)
{
    hvd_eventxml *px = hvd_calloc(1, sizeof(*px));

    *out = NULL;
    if (!px) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate an XML event parser");
    }
    hvd_buf_init(&px->arena, EVENTXML_MAX_BYTES);
    hvd_buf_init(&px->message, EVENTXML_MAX_BYTES);
    *out = px;
    return HVD_OK;
}

void hvd_eventxml_destroy(hvd_eventxml *px)
{
    if (!px) {
        return;
    }
    if (px->ctxt) {
        xmlFreeParserCtxt(px->ctxt);
    }
    hvd_buf_free(&px->arena);
    hvd_buf_free(&px->message);
    hvd_free(px);
}

static void fail(hvd_eventxml *px, const char *why)
{
    if (!px->failed) {
        px->failed = 1;
        snprintf(px->why, sizeof(px->why), "%s", why);
    }
}

/* Appends a NUL-terminated string to the arena; returns its offset + 1, or 0 on failure. */
static size_t arena_add(hvd_eventxml *px, const char *s, size_t n)
{
    size_t at = px->arena.len;

    if (hvd_buf_add(&px->arena, s, n) < 0 || hvd_buf_addc(&px->arena, '\0') < 0) {
        fail(px, "event too large");
        return 0;
    }
    return at + 1;
}

/* Text arrives in pieces: the current value is always the arena's last string. */
static void arena_extend(hvd_eventxml *px, const char *s, size_t n)
{
    if (px->arena.len == 0 || n == 0) {
        return;
    }
    px->arena.len--; /* drop the NUL, append, terminate again */
    if (hvd_buf_add(&px->arena, s, n) < 0 || hvd_buf_addc(&px->arena, '\0') < 0) {
        fail(px, "event too large");
    }
}

/* Adds a field named 'name' (name_len bytes), followed by the decimal 'index' unless it is
 * NO_INDEX, with an empty value that text then extends. The name is built in the arena, so
 * its length is bounded only by the arena, never by a scratch buffer. */
#define NO_INDEX SIZE_MAX
static int add_field(hvd_eventxml *px, const char *name, size_t name_len, size_t index)
{
    char digits[24];
    int nd;
    size_t n;
    size_t v;

    if (px->nfields == EVENTXML_MAX_FIELDS) {
        fail(px, "too many data fields");
        return -1;
    }
    n = arena_add(px, name, name_len);
    if (n && index != NO_INDEX) {
        nd = snprintf(digits, sizeof(digits), "%zu", index);
        if (nd < 0 || (size_t)nd >= sizeof(digits)) {
            fail(px, "field index too large");
            return -1;
        }
        arena_extend(px, digits, (size_t)nd);
        if (px->failed) {
            return -1;
        }
    }
    v = arena_add(px, "", 0);
    if (!n || !v) {
        return -1;
    }
    px->fat[px->nfields].name = n;
    px->fat[px->nfields].value = v;
    return (int)px->nfields++;
}

static const char *attr_value(const xmlChar **attrs, int nattrs, const char *name, size_t *len)
{
    /* SAX2 attributes: localname, prefix, URI, value start, value end. */
    for (int i = 0; i < nattrs; i++) {
        const xmlChar **a = attrs + 5 * i;

        if (strcmp((const char *)a[0], name) == 0) {
            *len = (size_t)(a[4] - a[3]);
            return (const char *)a[3];
        }
    }
    return NULL;
}

static void take_attr(hvd_eventxml *px, const xmlChar **attrs, int nattrs, const char *name,
                      enum sys_slot slot)
{
    size_t len;
    const char *v = attr_value(attrs, nattrs, name, &len);

    if (v) {
        px->sys[slot] = arena_add(px, v, len);
    }
}

static int is(const xmlChar *name, const char *want)
{
    return strcmp((const char *)name, want) == 0;
}

static void start_text(hvd_eventxml *px, enum sys_slot slot)
{
    px->sys[slot] = arena_add(px, "", 0);
    px->text_slot = (int)slot;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nns, const xmlChar **ns, int nattrs, int ndefaulted, const xmlChar **attrs)
{
    hvd_eventxml *px = ctx;
    int d;

    (void)prefix;
    (void)uri;
    (void)nns;
    (void)ns;
    (void)ndefaulted;
    d = ++px->depth;
    px->text_slot = -1;
    px->text_field = -1;
    if (px->failed) {
        return;
    }
    if (px->in_event <= 0) {
        /* Before the first <Event>, or after it ended (-1): only the first one counts. */
        if (px->in_event == 0 && is(localname, "Event")) {
            px->in_event = d;
        }
        return;
    }
    if (d == px->in_event + 1) {
        px->part = P_NONE;
        px->part_depth = d;
        if (is(localname, "System")) {
            px->part = P_SYSTEM;
        } else if (is(localname, "EventData")) {
            px->part = P_EVENTDATA;
        } else if (is(localname, "UserData")) {
            px->part = P_USERDATA;
        } else if (is(localname, "RenderingInfo")) {
            px->part = P_RENDERING;
        }
        return;
    }
    switch (px->part) {
    case P_SYSTEM:
        if (d != px->part_depth + 1) {
            break;
        }
        if (is(localname, "Provider")) {
            take_attr(px, attrs, nattrs, "Name", SYS_PROVIDER);
            take_attr(px, attrs, nattrs, "Guid", SYS_PROVIDER_GUID);
            take_attr(px, attrs, nattrs, "EventSourceName", SYS_SOURCE_NAME);
        } else if (is(localname, "EventID")) {
            take_attr(px, attrs, nattrs, "Qualifiers", SYS_QUALIFIERS);
            start_text(px, SYS_EVENT_ID);
        } else if (is(localname, "Version")) {
            start_text(px, SYS_VERSION);
        } else if (is(localname, "Level")) {
            start_text(px, SYS_LEVEL);
        } else if (is(localname, "Task")) {
            start_text(px, SYS_TASK);
        } else if (is(localname, "Opcode")) {
            start_text(px, SYS_OPCODE);
        } else if (is(localname, "Keywords")) {
            start_text(px, SYS_KEYWORDS);
        } else if (is(localname, "TimeCreated")) {
            take_attr(px, attrs, nattrs, "SystemTime", SYS_TIME);
        } else if (is(localname, "EventRecordID")) {
            start_text(px, SYS_RECORD_ID);
        } else if (is(localname, "Channel")) {
            start_text(px, SYS_CHANNEL);
        } else if (is(localname, "Computer")) {
            start_text(px, SYS_COMPUTER);
        } else if (is(localname, "Security")) {
            take_attr(px, attrs, nattrs, "UserID", SYS_USER_SID);
        } else if (is(localname, "Execution")) {
            take_attr(px, attrs, nattrs, "ProcessID", SYS_PROCESS_ID);
            take_attr(px, attrs, nattrs, "ThreadID", SYS_THREAD_ID);
        }
        break;
    case P_EVENTDATA:
        if (d == px->part_depth + 1) {
            size_t len;
            const char *name = attr_value(attrs, nattrs, "Name", &len);

            if (name) {
                px->text_field = add_field(px, name, len, NO_INDEX);
            } else {
                /* Unnamed <Data> (classic events) and <Binary> get positional names: the
                 * element name (of any length) and a running index. */
                name = is(localname, "Data") ? "Data" : (const char *)localname;
                px->text_field = add_field(px, name, strlen(name), px->unnamed++);
            }
        }
        break;
    case P_USERDATA:
        if (d == px->part_depth + 1) {
            if (px->userdata_child) {
                break; /* only the first child counts, as in libevtx */
            }
            px->userdata_child = d;
            for (int i = 0; i < nattrs; i++) {
                const xmlChar **a = attrs + 5 * i;
                int f = add_field(px, (const char *)a[0], strlen((const char *)a[0]), NO_INDEX);

                if (f >= 0) {
                    arena_extend(px, (const char *)a[3], (size_t)(a[4] - a[3]));
                }
            }
        } else if (px->userdata_child > 0 && d >= px->userdata_child + 1) {
            /* Leaves (and nested elements) of the UserData child, by element name. */
            px->text_field =
                add_field(px, (const char *)localname, strlen((const char *)localname), NO_INDEX);
        }
        break;
    case P_RENDERING:
        if (d != px->part_depth + 1) {
            break;
        }
        if (is(localname, "Message")) {
            start_text(px, SYS_MESSAGE);
        } else if (is(localname, "Level")) {
            start_text(px, SYS_LEVEL_TEXT);
        } else if (is(localname, "Task")) {
            start_text(px, SYS_TASK_TEXT);
        } else if (is(localname, "Opcode")) {
            start_text(px, SYS_OPCODE_TEXT);
        } else if (is(localname, "Channel")) {
            start_text(px, SYS_CHANNEL_TEXT);
        }
        break;
    default:
        break;
    }
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    hvd_eventxml *px = ctx;

    (void)localname;
    (void)prefix;
    (void)uri;
    if (px->userdata_child > 0 && px->depth == px->userdata_child) {
        px->userdata_child = -px->userdata_child; /* done: later children are ignored */
    }
    if (px->in_event > 0 && px->depth == px->in_event) {
        px->in_event = -1; /* the first <Event> only */
    }
    px->depth--;
    px->text_slot = -1;
    px->text_field = -1;
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
    hvd_eventxml *px = ctx;

    if (px->failed || len <= 0) {
        return;
    }
    if (px->text_slot >= 0 || px->text_field >= 0) {
        /* The value being collected is the arena's last string. */
        arena_extend(px, (const char *)ch, (size_t)len);
    }
}

static void on_error(void *ctx, const char *msg, ...)
{
    hvd_eventxml *px = ctx;

    (void)msg;
    fail(px, "malformed XML");
}

static void on_structured_error(void *ctx, xmlErrorPtr e)
{
    hvd_eventxml *px = ctx;
    char why[256];

    /* Data values holding XML with undeclared prefixes (<s:Envelope>) are real Windows
     * output; libxml2 reports them and carries on, and so do we. */
    if (e && e->level >= XML_ERR_ERROR && e->domain != XML_FROM_NAMESPACE) {
        snprintf(why, sizeof(why), "malformed XML at line %d: %s", e->line,
                 e->message ? e->message : "parse error");
        why[strcspn(why, "\n")] = '\0';
        fail(px, why);
    }
}

static const char *slot(const hvd_eventxml *px, enum sys_slot s)
{
    return px->sys[s] ? px->arena.data + px->sys[s] - 1 : NULL;
}

static uint64_t number(const char *s, int base, uint64_t max, int *bad)
{
    char *end;
    unsigned long long v;

    if (!s) {
        return 0;
    }
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') {
        s++;
    }
    if (!*s) {
        return 0;
    }
    v = strtoull(s, &end, base);
    while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r') {
        end++;
    }
    if (*end || v > max) {
        *bad = 1;
        return 0;
    }
    return v;
}

void hvd_eventxml_scrub(char *xml, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)xml[i];

        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            xml[i] = ' ';
        }
    }
}

int hvd_eventxml_parse(hvd_eventxml *px, const char *name, const char *xml, size_t len,
                       hvd_event *ev, hvd_error *err)
{
    xmlSAXHandler sax;
    const char *s;
    int bad = 0;
    int pid_bad = 0;
    int rc;

    if (len > INT32_MAX) {
        return hvd_error_set(err, HVD_ELIMIT, name, 0, "event XML too large");
    }
    memset(&sax, 0, sizeof(sax));
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_text;
    sax.cdataBlock = on_text;
    sax.error = on_error;
    sax.fatalError = on_error;
    sax.serror = on_structured_error;

    hvd_buf_reset(&px->arena);
    hvd_buf_reset(&px->message);
    memset(px->sys, 0, sizeof(px->sys));
    px->nfields = 0;
    px->unnamed = 0;
    px->depth = 0;
    px->in_event = 0;
    px->part = P_NONE;
    px->text_slot = -1;
    px->text_field = -1;
    px->userdata_child = 0;
    px->failed = 0;
    px->why[0] = '\0';
    px->name = name;

    if (px->ctxt && px->uses < CTXT_REUSE) {
        xmlCtxtResetPush(px->ctxt, NULL, 0, NULL, NULL);
    } else {
        if (px->ctxt) {
            xmlFreeParserCtxt(px->ctxt);
        }
        px->ctxt = xmlCreatePushParserCtxt(&sax, px, NULL, 0, NULL);
        if (!px->ctxt) {
            return hvd_error_set(err, HVD_ENOMEM, name, 0, "cannot start the XML parser");
        }
        xmlCtxtUseOptions(px->ctxt, XML_PARSE_NONET);
        px->uses = 0;
    }
    px->uses++;
    rc = xmlParseChunk(px->ctxt, xml, (int)len, 1);
    if (px->ctxt->myDoc) { /* built by libxml2 itself to hold a DOCTYPE's entities */
        xmlFreeDoc(px->ctxt->myDoc);
        px->ctxt->myDoc = NULL;
    }
    if (!px->ctxt->wellFormed) {
        rc = -1;
    }
    if (px->failed || rc != 0) {
        return hvd_error_set(err, HVD_ECORRUPT, name, 0, "%s",
                             px->failed ? px->why : "malformed XML");
    }
    if (px->in_event == 0) {
        return hvd_error_set(err, HVD_ECORRUPT, name, 0, "no <Event> element");
    }
    for (size_t i = 0; i < px->nfields; i++) {
        const char *v = px->arena.data + px->fat[i].value - 1;

        px->fields[i].name = px->arena.data + px->fat[i].name - 1;
        /* Only blanks (the indentation around a container's children): "". */
        px->fields[i].value = v + (v[strspn(v, " \t\n\r")] ? 0 : strlen(v));
    }
    ev->provider = slot(px, SYS_PROVIDER) ? slot(px, SYS_PROVIDER) : "";
    if (!*ev->provider && slot(px, SYS_SOURCE_NAME)) {
        ev->provider = slot(px, SYS_SOURCE_NAME);
    }
    ev->provider_guid = slot(px, SYS_PROVIDER_GUID) ? slot(px, SYS_PROVIDER_GUID) : "";
    ev->channel = slot(px, SYS_CHANNEL) ? slot(px, SYS_CHANNEL) : "";
    ev->host = slot(px, SYS_COMPUTER) ? slot(px, SYS_COMPUTER) : "";
    ev->user_sid = slot(px, SYS_USER_SID) ? slot(px, SYS_USER_SID) : "";
    ev->event_id = (uint16_t)number(slot(px, SYS_EVENT_ID), 10, 0xFFFF, &bad);
    ev->qualifiers = (uint16_t)number(slot(px, SYS_QUALIFIERS), 10, 0xFFFF, &bad);
    ev->version = (uint8_t)number(slot(px, SYS_VERSION), 10, 0xFF, &bad);
    ev->level = (uint8_t)number(slot(px, SYS_LEVEL), 10, 0xFF, &bad);
    ev->task = (uint16_t)number(slot(px, SYS_TASK), 10, 0xFFFF, &bad);
    ev->opcode = (uint8_t)number(slot(px, SYS_OPCODE), 10, 0xFF, &bad);
    ev->keywords = number(slot(px, SYS_KEYWORDS), 16, UINT64_MAX, &bad);
    ev->event_record_id = number(slot(px, SYS_RECORD_ID), 10, UINT64_MAX, &bad);
    if (bad) {
        return hvd_error_set(err, HVD_ECORRUPT, name, 0, "a System value is not a number");
    }
    if (!slot(px, SYS_EVENT_ID)) {
        return hvd_error_set(err, HVD_ECORRUPT, name, 0, "no <EventID>");
    }
    ev->time = 0;
    s = slot(px, SYS_TIME);
    if (s && *s && hvd_time_parse(s, &ev->time) < 0) {
        return hvd_error_set(err, HVD_ECORRUPT, name, 0, "bad TimeCreated '%s'", s);
    }
    ev->fields = px->fields;
    ev->nfields = px->nfields;
    ev->component = "";
    ev->level_word = "";
    /* The process is a hint for tying companion events: one that does not read is unknown
     * (0), not a reason to lose the event. */
    ev->pid = (uint32_t)number(slot(px, SYS_PROCESS_ID), 10, UINT32_MAX, &pid_bad);
    ev->tid = (uint32_t)number(slot(px, SYS_THREAD_ID), 10, UINT32_MAX, &pid_bad);
    if (pid_bad) {
        ev->pid = ev->tid = 0;
    }
    ev->level_text = slot(px, SYS_LEVEL_TEXT) ? slot(px, SYS_LEVEL_TEXT) : "";
    ev->task_text = slot(px, SYS_TASK_TEXT) ? slot(px, SYS_TASK_TEXT) : "";
    ev->opcode_text = slot(px, SYS_OPCODE_TEXT) ? slot(px, SYS_OPCODE_TEXT) : "";
    ev->channel_text = slot(px, SYS_CHANNEL_TEXT) ? slot(px, SYS_CHANNEL_TEXT) : "";
    ev->system_only = 0;
    if (slot(px, SYS_MESSAGE) && *slot(px, SYS_MESSAGE)) {
        ev->message = slot(px, SYS_MESSAGE);
        return HVD_OK;
    }
    /* No rendered message: the insert strings, in order, are the message. */
    for (size_t i = 0; i < px->nfields; i++) {
        if (!*px->fields[i].value) {
            continue;
        }
        if ((px->message.len && hvd_buf_addc(&px->message, '\n') < 0) ||
            hvd_buf_adds(&px->message, px->fields[i].value) < 0) {
            return hvd_error_set(err, HVD_ELIMIT, name, 0, "event message too large");
        }
    }
    ev->message = hvd_buf_str(&px->message);
    return HVD_OK;
}
