/*
 * report: the 'hvdiag analyze --json' document rendered as one HTML page. The answer stage
 * already decided everything (incidents, root causes, evidence); this only lays it out:
 *
 *   header        what was read, how many incidents, the time zone of every time shown
 *   incidents     a table of contents, by severity then first time
 *   timeline      SVG, one lane per host, a time axis with ticks; every incident a bar and
 *                 every evidence event a dot in its host's lane, each a link to its incident
 *   incident      title once, subject (a VM known only by its GUID is named when any
 *                 diagnosis maps the GUID to a name), its own zoomed timeline, then each
 *                 diagnosis, root cause first: why (paragraphs), what to do (summary and
 *                 numbered steps), references, evidence (the first rows, the rest folded)
 *   files         what each input gave
 *
 * Everything from input is escaped; control characters are dropped. No script, no fetch.
 */
#include "report.h"

#include "alloc.h"
#include "diagnosis.h"
#include "hvtime.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EVIDENCE_SHOWN 25   /* evidence rows before the rest is folded away */
#define MESSAGE_SHOWN  600  /* bytes of an evidence message shown */
#define MAX_LANES      64   /* hosts drawn in one timeline; the rest share a lane */
#define SVG_WIDTH      1000 /* user units; the SVG scales to the page */
#define LANE_LABEL     150
#define LANE_HEIGHT    24

struct writer {
    hvd_buf *out;
    int rc;
    const hvd_report_options *opt;
    json_t *names; /* VM id (upper case) -> VM name */
};

static void raw(struct writer *w, const char *s)
{
    if (w->rc == HVD_OK) {
        w->rc = hvd_buf_adds(w->out, s);
    }
}

static void fmt(struct writer *w, const char *f, ...) __attribute__((format(printf, 2, 3)));

static void fmt(struct writer *w, const char *f, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, f);
    n = vsnprintf(tmp, sizeof(tmp), f, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(tmp)) {
        raw(w, tmp);
    } else if (w->rc == HVD_OK) {
        w->rc = HVD_ELIMIT; /* only short, fixed formats come here */
    }
}

/* Appends up to n bytes of s (all when n is SIZE_MAX), HTML-escaped, control characters
 * other than tab and newline dropped. */
static void text_n(struct writer *w, const char *s, size_t n)
{
    for (size_t i = 0; s && s[i] && i < n && w->rc == HVD_OK; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '<':
            raw(w, "&lt;");
            break;
        case '>':
            raw(w, "&gt;");
            break;
        case '&':
            raw(w, "&amp;");
            break;
        case '"':
            raw(w, "&quot;");
            break;
        case '\'':
            raw(w, "&#39;");
            break;
        default:
            if (c >= 0x20 || c == '\n' || c == '\t') {
                w->rc = hvd_buf_addc(w->out, (char)c);
            }
        }
    }
}

static void text(struct writer *w, const char *s)
{
    text_n(w, s, SIZE_MAX);
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

/* The severity as a class name: one of a fixed set, whatever the input says. */
static const char *sev_name(const char *s)
{
    int r = hvd_severity_parse(s);

    return hvd_severity_name(r < 0 ? HVD_SEVERITY_INFO : (hvd_severity)r);
}

static const char *sev_colour(const char *s)
{
    switch (hvd_severity_parse(s)) {
    case 4:
        return "#a40000";
    case 3:
        return "#d73027";
    case 2:
        return "#e69f00";
    case 1:
        return "#4a7ab5";
    default:
        return "#7a8a99";
    }
}

/* --- times ------------------------------------------------------------------------- */

int hvd_report_parse_zone(const char *spec, hvd_report_options *opt)
{
    int sign;
    unsigned h;
    unsigned m;
    char extra;

    if (!spec || !*spec) {
        return -1;
    }
    if (strcasecmp(spec, "utc") == 0 || strcmp(spec, "Z") == 0 || strcasecmp(spec, "gmt") == 0) {
        opt->zone = 0;
        return 0;
    }
    if (strcasecmp(spec, "local") == 0) {
        opt->zone = 1;
        return 0;
    }
    if (spec[0] != '+' && spec[0] != '-') {
        return -1;
    }
    sign = spec[0] == '-' ? -1 : 1;
    if (sscanf(spec + 1, "%2u:%2u%c", &h, &m, &extra) != 2 &&
        sscanf(spec + 1, "%2u%2u%c", &h, &m, &extra) != 2) {
        return -1;
    }
    if (strlen(spec) != 6 && strlen(spec) != 5) {
        return -1;
    }
    if (h > 14 || m > 59) {
        return -1;
    }
    opt->zone = 2;
    opt->offset_minutes = sign * (int)(h * 60 + m);
    return 0;
}

/* The offset of the zone at time t, in minutes east of UTC. */
static int zone_offset(const hvd_report_options *opt, hvd_time t)
{
    time_t secs;
    struct tm tm;

    if (!opt || opt->zone == 0) {
        return 0;
    }
    if (opt->zone == 2) {
        return opt->offset_minutes;
    }
    secs = (time_t)(t / HVD_TICKS_PER_SECOND);
    if (!localtime_r(&secs, &tm)) {
        return 0;
    }
    /* The local wall clock read as UTC, minus the instant: the offset (tm_gmtoff is not
     * POSIX). */
    return (int)((hvd_time_from_utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                    tm.tm_min, tm.tm_sec, 0) /
                      HVD_TICKS_PER_SECOND -
                  (int64_t)secs) /
                 60);
}

/* Broken-down time of t in the report's zone. */
static void zone_tm(const hvd_report_options *opt, hvd_time t, struct tm *tm, int *offset)
{
    time_t secs;

    *offset = zone_offset(opt, t);
    secs = (time_t)(t / HVD_TICKS_PER_SECOND) + (time_t)*offset * 60;
    if (t < 0 && t % HVD_TICKS_PER_SECOND) {
        secs--;
    }
    if (!gmtime_r(&secs, tm)) {
        memset(tm, 0, sizeof(*tm));
    }
}

/* "2024-03-05T10:00:01Z" or "2024-03-05T11:00:01+01:00". */
static void time_text(const struct writer *w, hvd_time t, char *buf, size_t cap)
{
    struct tm tm;
    int off;

    if (!hvd_time_has_date(t)) {
        /* An excerpt without dates: its time of day, as written in the file. */
        snprintf(buf, cap, "%02d:%02d:%02d (date unknown)", (int)(t / HVD_TICKS_PER_SECOND / 3600),
                 (int)(t / HVD_TICKS_PER_SECOND / 60 % 60), (int)(t / HVD_TICKS_PER_SECOND % 60));
        return;
    }
    zone_tm(w->opt, t, &tm, &off);
    if (!w->opt || w->opt->zone == 0) {
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    } else {
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
                 abs(off) / 60 % 100, abs(off) % 60);
    }
}

static void time_out(struct writer *w, const char *iso)
{
    hvd_time t;
    char buf[80];

    if (hvd_time_parse(iso, &t) < 0) {
        text(w, iso);
        return;
    }
    time_text(w, t, buf, sizeof(buf));
    if (!hvd_time_has_date(t)) {
        fmt(w, "<time>%s</time>", buf);
        return;
    }
    fmt(w, "<time datetime=\"%s\">%s</time>", buf, buf);
}

/* "5 s", "3 min 20 s", "2 h 5 min", "4 d 3 h". */
static void duration(char *buf, size_t cap, hvd_time d)
{
    int64_t s = d / HVD_TICKS_PER_SECOND;

    if (s < 60) {
        snprintf(buf, cap, "%lld s", (long long)s);
    } else if (s < 3600) {
        snprintf(buf, cap, "%lld min %lld s", (long long)(s / 60), (long long)(s % 60));
    } else if (s < 86400) {
        snprintf(buf, cap, "%lld h %lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
    } else {
        snprintf(buf, cap, "%lld d %lld h", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    }
}

/* --- names --------------------------------------------------------------------------- */

static void upper_copy(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < cap && i < n && s[i]; i++) {
        dst[i] = (char)toupper((unsigned char)s[i]);
    }
    dst[i] = '\0';
}

/* A host's lane name: its short name in upper case. */
static void short_host(char *dst, size_t cap, const char *host)
{
    upper_copy(dst, cap, host, strcspn(host, "."));
    if (!*dst) {
        snprintf(dst, cap, "(unknown host)");
    }
}

/* Every VM id some diagnosis also names. */
static void learn_names(struct writer *w, const json_t *incidents)
{
    size_t i;
    size_t k;
    const json_t *in;
    const json_t *d;

    json_array_foreach(incidents, i, in)
    {
        json_array_foreach(json_object_get(in, "diagnoses"), k, d)
        {
            const char *id = jstr(d, "vm_id");
            const char *name = jstr(d, "vm_name");
            char key[64];

            if (*id && *name && strcasecmp(id, name) != 0) {
                upper_copy(key, sizeof(key), id, strlen(id));
                json_object_set_new(w->names, key, json_string(name));
            }
        }
    }
}

static void subject_out(struct writer *w, const json_t *in)
{
    const char *subject = jstr(in, "subject");
    const char *kind = jstr(in, "subject_kind");
    char key[64];
    const char *name;

    upper_copy(key, sizeof(key), subject, strlen(subject));
    name = json_string_value(json_object_get(w->names, key));
    raw(w, strcmp(kind, "vm") == 0 ? "VM " : "host ");
    if (name) {
        raw(w, "<b>");
        text(w, name);
        raw(w, "</b> (");
        text(w, subject);
        raw(w, ")");
    } else {
        raw(w, "<b>");
        text(w, *subject ? subject : "(unknown)");
        raw(w, "</b>");
    }
}

/* --- prose ----------------------------------------------------------------------------- */

/* A line that starts a numbered step: "1." to "99.", or "1)". */
static int step_start(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && isdigit((unsigned char)s[i])) {
        i++;
    }
    return i > 0 && i <= 2 && i < n && (s[i] == '.' || s[i] == ')');
}

static int ends_clause(const char *s, size_t n)
{
    return s && n && (s[n - 1] == ':' || s[n - 1] == ';');
}

/* "setspn -S ...", "Get-ClusterGroup ...", "klist purge ...": a command on a line of its
 * own. */
static int looks_like_command(const char *s, size_t n)
{
    static const char *const verbs[] = {"Get-",     "Set-",    "Start-", "Stop-",   "Restart-",
                                        "New-",     "Remove-", "Test-",  "Move-",   "Enable-",
                                        "Disable-", "Add-",    "Clear-", "Update-", "Suspend-",
                                        "Resume-",  "Repair-", "Invoke-"};
    size_t word = 0;

    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (n > strlen(verbs[i]) && strncmp(s, verbs[i], strlen(verbs[i])) == 0) {
            return 1;
        }
    }
    while (word < n &&
           (islower((unsigned char)s[word]) || isdigit((unsigned char)s[word]) || s[word] == '.')) {
        word++;
    }
    return word > 1 && word + 2 < n && s[word] == ' ' && (s[word + 1] == '-' || s[word + 1] == '/');
}

/* Rule texts come with the hard line breaks of the XML they were written in: lines of one
 * paragraph are joined, a blank line starts a paragraph, and numbered lines become a list
 * (a line that is neither continues the step before it). The first line of a remedy is its
 * summary. */
static void prose(struct writer *w, const char *s, int summary_first)
{
    const char *p = s;
    int in_p = 0;
    int in_list = 0;
    int first = 1;
    const char *prev = NULL;
    size_t prev_len = 0;

    while (p && *p && w->rc == HVD_OK) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        size_t m = n;

        while (m && isspace((unsigned char)*q)) {
            q++;
            m--;
        }
        while (m && isspace((unsigned char)q[m - 1])) {
            m--;
        }
        if (m == 0) {
            if (in_p) {
                raw(w, "</p>");
                in_p = 0;
            }
        } else if (summary_first && first) {
            raw(w, "<p class=\"summary\">");
            text_n(w, q, m);
            raw(w, "</p>");
        } else if (step_start(q, m)) {
            if (in_p) {
                raw(w, in_list ? "</li>" : "</p>");
                in_p = 0;
            }
            if (!in_list) {
                raw(w, "<ol>");
                in_list = 1;
            }
            while (m && isdigit((unsigned char)*q)) {
                q++;
                m--;
            }
            q++;
            m--;
            while (m && isspace((unsigned char)*q)) {
                q++;
                m--;
            }
            raw(w, "<li>");
            text_n(w, q, m);
            in_p = 1;
        } else if (in_p) {
            /* A line after one that ended a sentence or announced something, or one that
             * is a command, keeps its own line; wrapped prose joins its paragraph. */
            raw(w, ends_clause(prev, prev_len) || looks_like_command(q, m) ? "<br>" : " ");
            text_n(w, q, m);
        } else {
            if (in_list) {
                raw(w, "</ol>");
                in_list = 0;
            }
            raw(w, "<p>");
            text_n(w, q, m);
            in_p = 1;
        }
        first = 0;
        prev = q;
        prev_len = m;
        p = end ? end + 1 : NULL;
    }
    if (in_p) {
        raw(w, in_list ? "</li>" : "</p>");
    }
    if (in_list) {
        raw(w, "</ol>");
    }
}

/* --- timelines ------------------------------------------------------------------------- */

struct lanes {
    char name[MAX_LANES][64];
    size_t n;
};

/* The lane of a host, added when new; the last lane takes the overflow. */
static size_t lane_of(struct lanes *l, const char *host)
{
    char name[64];

    short_host(name, sizeof(name), host);
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->name[i], name) == 0) {
            return i;
        }
    }
    if (l->n == MAX_LANES) {
        snprintf(l->name[MAX_LANES - 1], sizeof(l->name[0]), "(other hosts)");
        return MAX_LANES - 1;
    }
    snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
    return l->n++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* A round tick step for a span: about eight ticks. */
static int64_t tick_step(hvd_time span)
{
    static const int64_t steps[] = {1,     2,     5,     10,    15,     30,     60,
                                    120,   300,   600,   900,   1800,   3600,   7200,
                                    10800, 21600, 43200, 86400, 172800, 604800, 2592000};
    int64_t s = span / HVD_TICKS_PER_SECOND;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (s / steps[i] <= 8) {
            return steps[i];
        }
    }
    return (s / 8 / 2592000 + 1) * 2592000;
}

struct scale {
    hvd_time lo;
    hvd_time hi;
};

static double xpos(const struct scale *sc, hvd_time t)
{
    double f = (double)(t - sc->lo) / (double)(sc->hi - sc->lo);

    return LANE_LABEL + f * (SVG_WIDTH - LANE_LABEL - 40);
}

/* The axis: ticks and labels under the lanes, the date of the first tick at the left. */
static void axis(struct writer *w, const struct scale *sc, size_t nlanes)
{
    int64_t step = tick_step(sc->hi - sc->lo);
    int64_t span = (sc->hi - sc->lo) / HVD_TICKS_PER_SECOND;
    int off = zone_offset(w->opt, sc->lo);
    int64_t first = sc->lo / HVD_TICKS_PER_SECOND + (int64_t)off * 60;
    double y = (double)nlanes * LANE_HEIGHT;
    struct tm tm;
    int dummy;

    first = (first / step + (first % step != 0)) * step - (int64_t)off * 60;
    fmt(w, "<line class=\"axis\" x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\"/>", LANE_LABEL, y,
        SVG_WIDTH - 40, y);
    zone_tm(w->opt, sc->lo, &tm, &dummy);
    if (!hvd_time_has_date(sc->lo + (sc->hi - sc->lo) / 2)) {
        fmt(w, "<text class=\"date\" x=\"4\" y=\"%.0f\">date unknown</text>", y + 16);
    } else {
        fmt(w, "<text class=\"date\" x=\"4\" y=\"%.0f\">%04d-%02d-%02d</text>", y + 16,
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    }
    for (int64_t t = first; t * HVD_TICKS_PER_SECOND <= sc->hi; t += step) {
        hvd_time at = t * HVD_TICKS_PER_SECOND;
        double x = xpos(sc, at);
        char label[32];

        zone_tm(w->opt, at, &tm, &dummy);
        if (span > 2 * 86400) {
            snprintf(label, sizeof(label), "%02d-%02d %02d:%02d", tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min);
        } else if (step >= 60) {
            snprintf(label, sizeof(label), "%02d:%02d", tm.tm_hour, tm.tm_min);
        } else {
            snprintf(label, sizeof(label), "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
        }
        fmt(w, "<line class=\"tick\" x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\"/>", x, x, y + 4);
        fmt(w, "<text class=\"tick\" x=\"%.1f\" y=\"%.0f\">%s</text>", x, y + 16, label);
    }
}

static void lanes_out(struct writer *w, const struct lanes *l)
{
    for (size_t i = 0; i < l->n; i++) {
        fmt(w, "<g class=\"lane\" data-host=\"");
        text(w, l->name[i]);
        fmt(w, "\"><rect class=\"band%zu\" x=\"0\" y=\"%zu\" width=\"%d\" height=\"%d\"/>", i % 2,
            i * LANE_HEIGHT, SVG_WIDTH, LANE_HEIGHT);
        fmt(w, "<text class=\"host\" x=\"4\" y=\"%zu\">", i * LANE_HEIGHT + 16);
        text(w, l->name[i]);
        raw(w, "</text></g>");
    }
}

/* A bar from a to b in lane k, at least 5 units wide, linked to an incident. */
static void bar(struct writer *w, const struct scale *sc, size_t k, hvd_time a, hvd_time b,
                const char *sev, long long incident, const char *title)
{
    double x = xpos(sc, a);
    double width = xpos(sc, b) - x;

    if (width < 5) {
        x -= (5 - width) / 2;
        width = 5;
    }
    fmt(w,
        "<a href=\"#inc-%lld\"><rect class=\"mark\" x=\"%.1f\" y=\"%zu\" width=\"%.1f\" "
        "height=\"14\" rx=\"3\" fill=\"%s\"><title>",
        incident, x, k * LANE_HEIGHT + 5, width, sev_colour(sev));
    text(w, title);
    raw(w, "</title></rect></a>");
}

static void dot(struct writer *w, const struct scale *sc, size_t k, hvd_time t, long long incident,
                const char *title)
{
    fmt(w, "<a href=\"#inc-%lld\"><circle class=\"ev\" cx=\"%.1f\" cy=\"%zu\" r=\"3\"><title>",
        incident, xpos(sc, t), k * LANE_HEIGHT + 12);
    text(w, title);
    raw(w, "</title></circle></a>");
}

/* A scale over [lo, hi] with a margin, never empty. */
static struct scale make_scale(hvd_time lo, hvd_time hi)
{
    struct scale sc;
    hvd_time pad = (hi - lo) / 40;

    if (pad < HVD_TICKS_PER_SECOND) {
        pad = HVD_TICKS_PER_SECOND;
    }
    sc.lo = lo - pad;
    sc.hi = hi + pad;
    return sc;
}

static void svg_open(struct writer *w, const char *cls, size_t nlanes, const char *label)
{
    fmt(w, "<svg class=\"%s\" viewBox=\"0 0 %d %zu\" role=\"img\" aria-label=\"", cls, SVG_WIDTH,
        nlanes * LANE_HEIGHT + 24);
    text(w, label);
    raw(w, "\" xmlns=\"http://www.w3.org/2000/svg\">");
}

/* Every incident as a bar in each of its hosts' lanes, every evidence event as a dot. */
static void overview(struct writer *w, json_t *const *inc, size_t n)
{
    struct lanes l = {.n = 0};
    hvd_time lo = INT64_MAX;
    hvd_time hi = INT64_MIN;
    struct scale sc;

    for (size_t i = 0; i < n; i++) {
        const char *hosts = jstr(inc[i], "hosts");
        hvd_time a;
        hvd_time b;

        if (hvd_time_parse(jstr(inc[i], "first_time"), &a) == 0 && a < lo) {
            lo = a;
        }
        if (hvd_time_parse(jstr(inc[i], "last_time"), &b) == 0 && b > hi) {
            hi = b;
        }
        while (*hosts) {
            char h[64];
            size_t len = strcspn(hosts, ",");

            upper_copy(h, sizeof(h), hosts, len);
            lane_of(&l, h);
            hosts += len + (hosts[len] == ',');
        }
    }
    if (n == 0 || lo > hi) {
        return;
    }
    if (l.n == 0) {
        lane_of(&l, "");
    }
    qsort(l.name, l.n, sizeof(l.name[0]), by_name);
    sc = make_scale(lo, hi);
    raw(w, "<h2 id=\"timeline\">Timeline</h2>\n<p class=\"note\">One lane per host. Bars are "
           "incidents, dots the events behind them; select one to go to its incident.</p>\n");
    svg_open(w, "timeline", l.n, "Timeline of the incidents by host");
    lanes_out(w, &l);
    axis(w, &sc, l.n);
    for (size_t i = 0; i < n; i++) {
        const char *hosts = jstr(inc[i], "hosts");
        long long id = (long long)json_integer_value(json_object_get(inc[i], "id"));
        hvd_time a = lo;
        hvd_time b = lo;
        size_t k;
        const json_t *d;

        hvd_time_parse(jstr(inc[i], "first_time"), &a);
        hvd_time_parse(jstr(inc[i], "last_time"), &b);
        json_array_foreach(json_object_get(inc[i], "diagnoses"), k, d)
        {
            size_t e;
            const json_t *ev;

            json_array_foreach(json_object_get(d, "evidence"), e, ev)
            {
                hvd_time t;

                if (e < EVIDENCE_SHOWN && hvd_time_parse(jstr(ev, "time"), &t) == 0) {
                    dot(w, &sc, lane_of(&l, jstr(ev, "host")), t, id, jstr(d, "title"));
                }
            }
        }
        /* The incident as a bar in each lane it touches, over its own span there. */
        do {
            char h[64];
            size_t len = strcspn(hosts, ",");
            hvd_time ha = INT64_MAX;
            hvd_time hb = INT64_MIN;

            upper_copy(h, sizeof(h), hosts, len);
            json_array_foreach(json_object_get(inc[i], "diagnoses"), k, d)
            {
                hvd_time da;
                hvd_time db;
                char dh[64];

                short_host(dh, sizeof(dh), jstr(d, "host"));
                if (strcmp(jstr(d, "kind"), "correlation") != 0 && strcmp(dh, h) == 0 &&
                    hvd_time_parse(jstr(d, "first_time"), &da) == 0 &&
                    hvd_time_parse(jstr(d, "last_time"), &db) == 0) {
                    ha = da < ha ? da : ha;
                    hb = db > hb ? db : hb;
                }
            }
            if (ha > hb) {
                ha = a;
                hb = b;
            }
            bar(w, &sc, lane_of(&l, h), ha, hb, jstr(inc[i], "severity"), id,
                jstr(inc[i], "title"));
            hosts += len + (hosts[len] == ',');
        } while (*hosts);
    }
    raw(w, "</svg>\n");
}

/* The incident's own span: its diagnoses as bars, their evidence as dots. */
static void zoomed(struct writer *w, const json_t *in)
{
    struct lanes l = {.n = 0};
    hvd_time lo = INT64_MAX;
    hvd_time hi = INT64_MIN;
    long long id = (long long)json_integer_value(json_object_get(in, "id"));
    struct scale sc;
    size_t k;
    const json_t *d;

    json_array_foreach(json_object_get(in, "diagnoses"), k, d)
    {
        hvd_time a;
        hvd_time b;

        if (hvd_time_parse(jstr(d, "first_time"), &a) == 0 &&
            hvd_time_parse(jstr(d, "last_time"), &b) == 0) {
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
            lane_of(&l, jstr(d, "host"));
        }
    }
    if (lo > hi) {
        return;
    }
    qsort(l.name, l.n, sizeof(l.name[0]), by_name);
    sc = make_scale(lo, hi);
    svg_open(w, "zoom", l.n, "Timeline of this incident");
    lanes_out(w, &l);
    axis(w, &sc, l.n);
    json_array_foreach(json_object_get(in, "diagnoses"), k, d)
    {
        hvd_time a = lo;
        hvd_time b = lo;
        size_t e;
        const json_t *ev;

        hvd_time_parse(jstr(d, "first_time"), &a);
        hvd_time_parse(jstr(d, "last_time"), &b);
        /* A correlation spans its members: they are drawn, it is not. */
        if (strcmp(jstr(d, "kind"), "correlation") != 0) {
            bar(w, &sc, lane_of(&l, jstr(d, "host")), a, b, jstr(d, "severity"), id,
                jstr(d, "title"));
        }
        json_array_foreach(json_object_get(d, "evidence"), e, ev)
        {
            hvd_time t;

            if (e < EVIDENCE_SHOWN && hvd_time_parse(jstr(ev, "time"), &t) == 0) {
                dot(w, &sc, lane_of(&l, jstr(ev, "host")), t, id, jstr(ev, "message"));
            }
        }
    }
    raw(w, "</svg>\n");
}

/* --- incidents ------------------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* A forwarded event's RenderingInfo: its level, task, opcode and channel as the sending
 * host named them ("Error · Live Migration · Info · Microsoft-Windows-Hyper-V-VMMS-Admin"). */
static void rendering(struct writer *w, const json_t *ev)
{
    static const char *const keys[] = {"level", "task", "opcode", "channel"};
    const json_t *r = json_object_get(ev, "rendering");
    int n = 0;

    for (size_t i = 0; r && i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *t = jstr(r, keys[i]);

        if (*t) {
            raw(w,
                n++ ? " · " : "<br><span class=\"rendered\" title=\"as the sender rendered it\">");
            text(w, t);
        }
    }
    if (n) {
        raw(w, "</span>");
    }
}

static void evidence_row(struct writer *w, const json_t *ev)
{
    const char *msg = jstr(ev, "message");
    size_t n = strlen(msg);

    raw(w, "<tr><td>");
    time_out(w, jstr(ev, "time"));
    raw(w, "</td><td>");
    text(w, jstr(ev, "host"));
    raw(w, "</td><td><span title=\"");
    text(w, jstr(ev, "source"));
    raw(w, "\">");
    text(w, base_name(jstr(ev, "source")));
    raw(w, "</span> ");
    if (strcmp(jstr(ev, "kind"), "evtx") == 0) {
        raw(w, "<br>");
        text(w, jstr(ev, "provider"));
        fmt(w, " %lld (record %lld)",
            (long long)json_integer_value(json_object_get(ev, "event_id")),
            (long long)json_integer_value(json_object_get(ev, "record_id")));
        rendering(w, ev);
    } else {
        fmt(w, "line %lld", (long long)json_integer_value(json_object_get(ev, "line")));
    }
    raw(w, "</td><td class=\"msg\">");
    if (n > MESSAGE_SHOWN) {
        /* Cut on a UTF-8 boundary. */
        n = MESSAGE_SHOWN;
        while (n && ((unsigned char)msg[n] & 0xC0) == 0x80) {
            n--;
        }
        text_n(w, msg, n);
        raw(w, "…");
    } else {
        text(w, msg);
    }
    raw(w, "</td></tr>\n");
}

static void evidence(struct writer *w, const json_t *list)
{
    size_t n = json_array_size(list);
    size_t e;
    const json_t *ev;

    if (n == 0) {
        return; /* a correlation: its evidence is its members' */
    }
    fmt(w,
        "<h4>Evidence (%zu event%s)</h4>\n<table class=\"evidence\"><thead><tr><th>Time</th>"
        "<th>Host</th><th>Source</th><th>Message</th></tr></thead><tbody>\n",
        n, n == 1 ? "" : "s");
    json_array_foreach(list, e, ev)
    {
        if (e == EVIDENCE_SHOWN) {
            fmt(w,
                "</tbody></table>\n<details><summary>%zu more</summary><table "
                "class=\"evidence\"><tbody>\n",
                n - EVIDENCE_SHOWN);
        }
        evidence_row(w, ev);
    }
    raw(w, n > EVIDENCE_SHOWN ? "</tbody></table></details>\n" : "</tbody></table>\n");
}

static void diagnosis(struct writer *w, const json_t *d, int is_root, int show_title)
{
    size_t e;
    const json_t *ref;
    char span[48];
    hvd_time a;
    hvd_time b;

    fmt(w, "<article class=\"diag%s\">", is_root ? " root" : "");
    if (is_root) {
        raw(w, "<p class=\"label\">Root cause</p>");
    }
    if (show_title) {
        fmt(w, "<h3><span class=\"sev %s\">%s</span> ", sev_name(jstr(d, "severity")),
            sev_name(jstr(d, "severity")));
        text(w, jstr(d, "title"));
        raw(w, "</h3>");
    }
    raw(w, "<p class=\"meta\">");
    text(w, jstr(d, "rule"));
    raw(w, " · ");
    text(w, jstr(d, "confidence"));
    raw(w, " confidence · ");
    text(w, jstr(d, "host"));
    raw(w, " · ");
    time_out(w, jstr(d, "first_time"));
    if (hvd_time_parse(jstr(d, "first_time"), &a) == 0 &&
        hvd_time_parse(jstr(d, "last_time"), &b) == 0 && b > a) {
        duration(span, sizeof(span), b - a);
        fmt(w, " for %s", span);
    }
    fmt(w, " · %lld event%s</p>", (long long)json_integer_value(json_object_get(d, "count")),
        json_integer_value(json_object_get(d, "count")) == 1 ? "" : "s");
    if (*jstr(d, "cause")) {
        raw(w, "<h4>Why</h4>");
        prose(w, jstr(d, "cause"), 0);
    }
    if (*jstr(d, "remedy")) {
        raw(w, "<h4>What to do</h4>");
        prose(w, jstr(d, "remedy"), 1);
    }
    if (json_array_size(json_object_get(d, "references"))) {
        raw(w, "<p class=\"refs\">References: ");
        json_array_foreach(json_object_get(d, "references"), e, ref)
        {
            raw(w, e ? " · <a href=\"" : "<a href=\"");
            text(w, json_string_value(ref));
            raw(w, "\">");
            text(w, json_string_value(ref));
            raw(w, "</a>");
        }
        raw(w, "</p>");
    }
    evidence(w, json_object_get(d, "evidence"));
    raw(w, "</article>\n");
}

static void incident(struct writer *w, const json_t *in)
{
    long long id = (long long)json_integer_value(json_object_get(in, "id"));
    const json_t *diags = json_object_get(in, "diagnoses");
    char span[48];
    hvd_time a;
    hvd_time b;
    size_t k;
    const json_t *d;

    fmt(w, "<section class=\"incident\" id=\"inc-%lld\">\n<h2><span class=\"sev %s\">%s</span> ",
        id, sev_name(jstr(in, "severity")), sev_name(jstr(in, "severity")));
    text(w, jstr(in, "title"));
    raw(w, "</h2>\n<p class=\"meta\">");
    subject_out(w, in);
    raw(w, " · hosts ");
    if (*jstr(in, "hosts")) {
        const char *h = jstr(in, "hosts");

        while (*h) {
            size_t len = strcspn(h, ",");

            text_n(w, h, len);
            h += len;
            if (*h == ',') {
                raw(w, ", ");
                h++;
            }
        }
    } else {
        raw(w, "unknown");
    }
    raw(w, " · ");
    time_out(w, jstr(in, "first_time"));
    raw(w, " to ");
    time_out(w, jstr(in, "last_time"));
    if (hvd_time_parse(jstr(in, "first_time"), &a) == 0 &&
        hvd_time_parse(jstr(in, "last_time"), &b) == 0) {
        duration(span, sizeof(span), b - a);
        fmt(w, " (%s)", span);
    }
    fmt(w, " · %zu diagnos%s</p>\n", json_array_size(diags),
        json_array_size(diags) == 1 ? "is" : "es");
    zoomed(w, in);
    json_array_foreach(diags, k, d)
    {
        int is_root = json_is_true(json_object_get(d, "root_cause"));

        /* The first diagnosis gives the incident its title: not written twice. */
        diagnosis(w, d, is_root && k == 0, k != 0);
    }
    raw(w, "</section>\n");
}

static int by_severity_then_time(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x;
    const json_t *b = *(json_t *const *)y;
    int ra = hvd_severity_parse(jstr(a, "severity"));
    int rb = hvd_severity_parse(jstr(b, "severity"));
    hvd_time ta = 0;
    hvd_time tb = 0;

    if (ra != rb) {
        return ra > rb ? -1 : 1;
    }
    hvd_time_parse(jstr(a, "first_time"), &ta);
    hvd_time_parse(jstr(b, "first_time"), &tb);
    if (ta != tb) {
        return ta < tb ? -1 : 1;
    }
    return json_integer_value(json_object_get(a, "id")) <
                   json_integer_value(json_object_get(b, "id"))
               ? -1
               : 1;
}

static void files(struct writer *w, const json_t *list)
{
    size_t i;
    const json_t *f;

    if (json_array_size(list) == 0) {
        return;
    }
    raw(w, "<h2 id=\"files\">Files read</h2>\n<table class=\"files\"><thead><tr><th>File</th>"
           "<th>Kind</th><th>Status</th><th>Events</th><th>New</th><th>Skipped</th></tr></thead>"
           "<tbody>\n");
    json_array_foreach(list, i, f)
    {
        raw(w, "<tr><td>");
        text(w, jstr(f, "path"));
        raw(w, "</td><td>");
        text(w, jstr(f, "kind"));
        raw(w, "</td><td>");
        text(w, jstr(f, "status"));
        if (json_is_true(json_object_get(f, "corrupted"))) {
            raw(w, " (damaged)");
        }
        if (*jstr(f, "error")) {
            raw(w, ": ");
            text(w, jstr(f, "error"));
        }
        fmt(w, "</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>\n",
            (long long)json_integer_value(json_object_get(f, "events")),
            (long long)json_integer_value(json_object_get(f, "new_events")),
            (long long)json_integer_value(json_object_get(f, "skipped")));
    }
    raw(w, "</tbody></table>\n");
}

static const char STYLE[] =
    "<style>\n"
    ":root{--ink:#1f2933;--muted:#5f6b7a;--line:#d9dee5}\n"
    "body{font-family:'DejaVu Sans',system-ui,-apple-system,'Segoe UI',Arial,sans-serif;"
    "color:var(--ink);max-width:72em;margin:1.5em auto;padding:0 1.5em;line-height:1.5}\n"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em}"
    "h3{font-size:1.05em}h4{font-size:.95em;margin:1em 0 .3em}\n"
    ".note,.meta{color:var(--muted);font-size:.9em}.summary{font-weight:600}\n"
    ".sev{display:inline-block;min-width:5.5em;text-align:center;font-size:.75em;"
    "text-transform:uppercase;letter-spacing:.04em;padding:.15em .4em;border-radius:4px;"
    "color:#fff;vertical-align:middle}\n"
    ".critical{background:#a40000}.error{background:#d73027}.warning{background:#e69f00;"
    "color:#1f2933}.info{background:#4a7ab5}.benign{background:#7a8a99}\n"
    ".incident{border:1px solid var(--line);border-radius:8px;padding:.4em 1.2em 1em;"
    "margin:1.4em 0}\n"
    ".diag{border-top:1px solid var(--line);padding-top:.4em;margin-top:1em}"
    ".diag.root{border-top:none;margin-top:0}\n"
    ".label{display:inline-block;background:#1f2933;color:#fff;font-size:.75em;"
    "padding:.1em .5em;border-radius:3px;margin:0}\n"
    "ol{padding-left:1.6em}li{margin:.25em 0}\n"
    "table{border-collapse:collapse;width:100%;font-size:.85em}"
    "th,td{border-bottom:1px solid var(--line);padding:.3em .5em;text-align:left;"
    "vertical-align:top}th{background:#f4f6f8}td:first-child{white-space:nowrap}\n"
    "td.msg{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:.9em;"
    "white-space:pre-wrap;word-break:break-word}\n"
    "details summary{cursor:pointer;color:var(--muted);margin:.4em 0}\n"
    "svg{width:100%;height:auto;display:block;margin:.5em 0 1em}\n"
    "svg text{font-family:inherit;font-size:11px;fill:var(--ink)}svg text.tick{text-anchor:"
    "middle;fill:var(--muted)}svg text.date{fill:var(--muted)}\n"
    "svg .band0{fill:#f7f9fb}svg .band1{fill:#eef1f5}svg line.tick{stroke:#c8cfd8;"
    "stroke-dasharray:2 3}svg line.axis{stroke:#8a96a3}\n"
    "svg .mark{opacity:.85}svg .ev{fill:#1f2933;opacity:.7}svg a:hover .mark{opacity:1;"
    "stroke:#000}\n"
    "ul.toc{list-style:none;padding:0}ul.toc li{margin:.3em 0}\n"
    "@media print{body{max-width:none;margin:0}.incident{break-inside:avoid-page}"
    "details{display:block}a{color:inherit;text-decoration:none}}\n"
    "</style>\n";

int hvd_report_html(const char *json, size_t len, const hvd_report_options *opt, hvd_buf *out,
                    hvd_error *err)
{
    struct writer w = {.out = out, .rc = HVD_OK, .opt = opt};
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr);
    const json_t *list;
    json_t **inc = NULL;
    size_t n;
    size_t i;
    json_t *in;
    char zone[40];

    if (!doc || !json_is_array(json_object_get(doc, "incidents"))) {
        json_decref(doc);
        return hvd_error_set(err, HVD_ECORRUPT, NULL, 0, "not an analysis report: %s",
                             doc ? "no incidents" : jerr.text);
    }
    w.names = json_object();
    list = json_object_get(doc, "incidents");
    n = json_array_size(list);
    inc = n ? hvd_calloc(n, sizeof(*inc)) : NULL;
    if (!w.names || (n && !inc)) {
        json_decref(w.names);
        json_decref(doc);
        hvd_free(inc);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    json_array_foreach(list, i, in)
    {
        inc[i] = in;
    }
    if (n > 1) {
        qsort(inc, n, sizeof(*inc), by_severity_then_time);
    }
    learn_names(&w, list);
    if (!opt || opt->zone == 0) {
        snprintf(zone, sizeof(zone), "UTC");
    } else if (opt->zone == 1) {
        snprintf(zone, sizeof(zone), "the local time zone");
    } else {
        snprintf(zone, sizeof(zone), "UTC%c%02d:%02d", opt->offset_minutes < 0 ? '-' : '+',
                 abs(opt->offset_minutes) / 60, abs(opt->offset_minutes) % 60);
    }
    raw(&w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>hvdiag report</title>\n");
    raw(&w, STYLE);
    raw(&w, "</head><body>\n<h1>hvdiag report</h1>\n<p class=\"note\">");
    fmt(&w, "%zu incident%s from %zu file%s", n, n == 1 ? "" : "s",
        json_array_size(json_object_get(doc, "files")),
        json_array_size(json_object_get(doc, "files")) == 1 ? "" : "s");
    if (*jstr(doc, "database")) {
        raw(&w, " · database ");
        text(&w, jstr(doc, "database"));
    }
    raw(&w, " · times in ");
    text(&w, zone);
    raw(&w, "</p>\n");
    if (n == 0) {
        raw(&w, "<p>No incidents found.</p>\n");
    } else {
        raw(&w, "<h2 id=\"incidents\">Incidents</h2>\n<ul class=\"toc\">\n");
        for (i = 0; i < n; i++) {
            fmt(&w, "<li><span class=\"sev %s\">%s</span> <a href=\"#inc-%lld\">",
                sev_name(jstr(inc[i], "severity")), sev_name(jstr(inc[i], "severity")),
                (long long)json_integer_value(json_object_get(inc[i], "id")));
            text(&w, jstr(inc[i], "title"));
            raw(&w, "</a> <span class=\"meta\">");
            time_out(&w, jstr(inc[i], "first_time"));
            raw(&w, "</span></li>\n");
        }
        raw(&w, "</ul>\n");
        overview(&w, inc, n);
        for (i = 0; i < n; i++) {
            incident(&w, inc[i]);
        }
    }
    files(&w, json_object_get(doc, "files"));
    raw(&w, "</body></html>\n");
    hvd_free(inc);
    json_decref(w.names);
    json_decref(doc);
    if (w.rc < 0) {
        return hvd_error_set(err, w.rc, NULL, 0, "cannot build the report: %s", hvd_strerror(w.rc));
    }
    return HVD_OK;
}
