/*
 * engine: the match stage.
 *
 * Index: each rule is filed under the most specific key its <match> names, (provider,
 * event id), provider, event id or cluster.log component, or in a fallback list; an event
 * looks up its own keys and meets only those rules, without evaluating again the conditions
 * the key proves. A regex runs only on a subject holding one of its required literals (its
 * guard, rules_literals.c), and a <provider> compares words looked up once per event.
 *
 * Time: a rule's matches are grouped by entity values, and time is cut in quiet periods
 * (aligned on 1970-01-01, so the cut depends on nothing read). A group makes one diagnosis
 * per period with matches: its key names the rule, the group and the period's start, and
 * every match of the period folds into it (count, first and last grow). With a threshold,
 * the diagnosis is made once N of the period's matches lie within the window, and then
 * counts all of the period's matches. Each match belongs to one diagnosis whatever came
 * before it, so any order of files, split anywhere, gives the same diagnoses.
 *
 * Correlation: every diagnosis made is kept; when one is made or grows, each correlation
 * it can be a member of is tried against the kept ones within the correlation's window of
 * it, in any arrival order, and each combination of members is reported once (and again
 * only when a member's span grows); the combinations of a gathering role that share the
 * other roles are reported together, as one diagnosis (see gather()). Kept diagnoses are
 * indexed by the values their joins compare (see fill_roles()), so a search meets the
 * partners its joins name, not every kept diagnosis of each role's rule; one whose span
 * and entities did not change is not searched again.
 *
 * Memory: every open or kept diagnosis is in the store, so one dropped is loaded back, per
 * rule and hour of event time (hvd_engine_set_loader(), need()), or for a keyed rule
 * (keyed()) by the value a search looks up (need_joined()), before an event or a search
 * it could matter to: dropping changes memory, not results. Past SOFT_KEPT, state far from
 * the events being read goes (sweep()), so a long file read in time order holds a flat
 * amount: a keyed rule's kept diagnoses go once farther than NEAR, however long the
 * windows of its correlations (a day), and the others once out of reach; groups and kept diagnoses
 * are also bounded by count (MAX_GROUPS, MAX_RECENT), least recently used first, and reported
 * combinations by MAX_SEEN, oldest first (one reported again re-emits the same diagnosis: no
 * change). Only matches short of a threshold live in memory alone: sweep() keeps them, the count
 * bounds lose them with their group.
 */
#include "engine.h"
#include "engine_internal.h"

#include "alloc.h"
#include "buf.h"
#include "errcode.h"
#include "hvtime.h"
#include "rules_internal.h"
#include "template.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ENTITIES  48
#define MAX_CODES     64
#define MAX_EVIDENCE  20 /* evidence kept per diagnosis: the earliest (see fold()) */
#define EXCERPT_BYTES 300
#define TEXT_BYTES    200 /* a RenderingInfo text kept with evidence (names, not prose) */
#define SLICE         (3600 * INT64_C(10000000)) /* the loader's least unit of time: an hour */
#define MAX_SLICES    256                        /* a longer need is asked for whole */
#define MAX_LOADED    4096                       /* slices remembered as loaded, per rule */
#define NEAR          (2 * SLICE) /* state this close to the events being read stays */
#define SOFT_KEPT     2048        /* groups, open and kept diagnoses: past this, far go */
#define SWEEP_EVERY   1024        /* events between two looks for far state */
#define MAX_GROUPS    100000
#define MAX_OPEN      200000 /* open diagnoses in all groups */
#define MAX_PENDING   1024   /* threshold: matches short of it kept per group */
#define MAX_RECENT    20000
#define RECENT_SLOTS  32768 /* more slots than entries at the bound: chains stay O(1) */
#define MAX_SEEN      50000
#define SEEN_SLOTS    65536
#define CORR_DEPTH    3
#define MAX_DIRTY     4096 /* open diagnoses grown since last emitted, before all are emitted */
#define MAX_HELD      1024 /* evidence events held for those, before all are emitted */
#define MAX_LISTED    8    /* values of a gathering role a text lists; the rest are counted */

struct entity {
    char *name;
    char *value;
};

/* Entities of one match or one kept diagnosis: names are borrowed from the rule set,
 * values owned. The array grows on demand up to MAX_ENTITIES. */
struct entities {
    struct entity *v;
    size_t n;
    size_t cap;
};

struct evidence_copy {
    hvd_evidence ev;
    char *path;
    char *host;
    char *provider;
    char *channel;
    char *component;
    char *message;
    char *texts[4]; /* RenderingInfo: level, task, opcode, channel */
};

/* A diagnosis a group has made for one quiet period; its matches fold into it. */
struct open_diag {
    char *key;
    hvd_time period; /* start of its quiet period */
    hvd_time first;
    hvd_time last;
    uint64_t count;
    size_t nevidence;
    hvd_time ev_horizon; /* no evidence given to the store is later than this */
    size_t dirty;        /* grew since it was last emitted: 1 + its index in e->dirty */
    struct entities ents;
};

/* The time state of one rule for one set of group-by values: one diagnosis per quiet
 * period with matches (sorted by period), and matches still short of a threshold (sorted
 * by time). Files read out of order can bring matches for any period. */
struct group {
    char *key;
    size_t rule;
    struct group *next;            /* hash chain */
    struct evidence_copy *pending; /* threshold: matches not yet in a diagnosis, by time */
    size_t npending;
    size_t pending_cap;
    struct open_diag *open; /* open_base + open_front */
    size_t nopen;
    struct open_diag *open_base; /* the allocation: open_cap slots, free ones on both ends */
    size_t open_front;           /* free slots before open[0] */
    size_t open_cap;
    struct group *older; /* least recently used order, for eviction */
    struct group *newer;
};

struct recent;

/* A join side: kept diagnoses of 'rule' looked up by the value of their entity 'entity'. */
struct jattr {
    size_t rule;
    const char *entity; /* the rule set's */
    int host;           /* compared as host names, so keyed by the first label */
};

struct jkey;

/* One kept diagnosis filed under one join key. */
struct jnode {
    struct recent *r;
    struct jkey *key; /* NULL: not filed (the entity is missing) */
    struct jnode *prev;
    struct jnode *next;
};

/* The kept diagnoses of one join side whose entity has one value, compared as the join
 * compares: lower case, and for a host its first label. */
struct jkey {
    size_t attr;
    uint64_t hash;
    char *value;
    size_t len;
    size_t n;
    struct jnode *head;
    struct jkey *hnext;
    /* A keyed rule (see keyed()): when cov, every stored diagnosis with this value that
     * spans into [cov_lo, cov_hi] is here. Such a key stays while it has no node. */
    int cov;
    hvd_time cov_lo;
    hvd_time cov_hi;
};

/* A diagnosis kept for correlation: in a hash chain by key, in one list per rule, in a
 * list from least to most recently made or grown (the eviction order), and under one join
 * key per join side of its rule (jnodes[i] for e->attrs_of_rule[rule][i]). */
struct recent {
    size_t rule;
    uint64_t primed; /* e->primes when hvd_engine_prime() last gave it; 0: made here */
    char *key;
    struct entities ents;
    hvd_time first;
    hvd_time last;
    struct jnode *jnodes;
    size_t njnodes;
    struct recent *hnext;
    struct recent *rule_prev;
    struct recent *rule_next;
    struct recent *older;
    struct recent *newer;
};

/* A correlation combination already reported: hash chain plus oldest-first list. */
struct seen {
    char *key;
    hvd_time lo; /* the members' span when last reported */
    hvd_time hi;
    uint64_t count; /* a gathering correlation: the members it named when last reported */
    struct seen *hnext;
    struct seen *newer;
};

/* An open diagnosis that grew without being emitted: its group and period. */
struct dirty_ref {
    struct group *g;
    hvd_time period;
};

/* An evidence event of such a diagnosis, held until it is emitted. */
struct held_ev {
    size_t dirty; /* its diagnosis's index in e->dirty */
    size_t seq;   /* arrival order, so a diagnosis's events are emitted in it */
    struct evidence_copy evc;
};

/* A rule filed under a key, and the top-level conditions of its <match> that meeting it
 * there proves true (indexes in match.kids; NO_KID for none). */
#define NO_KID SIZE_MAX
struct cand {
    size_t rule;
    size_t implied[2];
};

/* The slices (time / unit) of one rule's stored diagnoses given by the loader, sorted. The
 * unit is an hour, or a 32nd of the longest reach asked for, so a need is a few dozen. */
struct marks {
    int64_t *v;
    size_t n;
    size_t cap;
    int64_t unit;
};

/* The two parts of the state of a rule's diagnoses, loaded and dropped apart: open ones
 * (in their group, for matches to fold into) and kept ones (for correlation searches). */
#define OPEN 0
#define KEPT 1

/* A rule whose stored diagnoses a diagnosis of another must see, and how far from it. */
struct partner {
    size_t rule;
    hvd_time span;
};

struct bucket {
    char *key;
    struct cand *rules;
    size_t n;
    struct bucket *next;
};

struct hvd_engine {
    const hvd_ruleset *rs;
    hvd_engine_emit emit;
    void *ud;
    hvd_engine_stats stats;
    int match_disabled;
    hvd_msgmatcher *messages; /* cluster.log lines that are rendered events */
    hvd_extractor *namer;     /* names in message text (extract.h) */
    hvd_engine_load load;
    hvd_engine_load_joined load_joined;
    void *load_ud;
    unsigned char *joined;   /* per rule: every correlation it is a member of is joined whole */
    unsigned char *in_store; /* per rule: whether the store may hold one the engine lacks */
    struct marks *marks;     /* per rule and part (OPEN, KEPT): what the loader gave */
    int load_part;     /* the part the loader is asked for: what hvd_engine_prime() restores */
    uint64_t primes;   /* calls to hvd_engine_prime() */
    hvd_time *span_of; /* per rule: how far from an event its group's state can matter */
    hvd_time *keep_of; /* per rule: how far from a diagnosis a search reaches for its kept ones */
    struct partner **partners; /* per rule: itself, then its correlations' members; rule
                                  SIZE_MAX ends the list */
    size_t since_sweep;        /* events since far state was last looked for */
    size_t soft_kept;          /* SOFT_KEPT, or what hvd__engine_drop_far() set */
    size_t sweep_every;        /* SWEEP_EVERY, or what hvd__engine_drop_far() set */
    hvd_error load_err;
    uint64_t *limit_hits; /* per rule: regexes stopped by a PCRE2 limit, all time */
    uint64_t *limit_told; /* per rule: as of the last hvd_engine_limit_report() */
    size_t cur_rule;      /* the rule being tried (for limit_hits) */

    struct bucket *index[1024];
    size_t *fallback[3]; /* by source kind */
    size_t nfallback[3];

    struct group **groups;
    size_t ngroup_slots;
    size_t ngroups;
    size_t nopen;               /* open diagnoses in all groups */
    struct group *group_oldest; /* least recently used first */
    struct group *group_newest;

    struct recent *recent_slots[RECENT_SLOTS];
    struct recent **recent_by_rule;
    struct recent *recent_oldest;
    struct recent *recent_newest;
    size_t nrecent;
    struct seen *seen_slots[SEEN_SLOTS];
    struct seen *seen_oldest;
    struct seen *seen_newest;
    size_t nseen;
    size_t **corr_by_rule; /* rule index -> correlation rule indexes (+1), 0-terminated */
    struct jattr *jattrs;  /* every join side of every correlation, once */
    size_t njattrs;
    size_t **attrs_of_rule; /* rule index -> its join sides (jattrs index + 1), 0-terminated */
    size_t **join_attrs;    /* correlation -> per join, the jattrs of its left and right side */
    struct jkey **jslots;   /* join keys by hash; grows with them */
    size_t njslots;
    size_t njkeys;
    struct dirty_ref *dirty; /* see fold(); at most MAX_DIRTY */
    size_t ndirty;
    struct held_ev *held; /* see fold(); at most MAX_HELD */
    size_t nheld;
    char **names; /* entity names of primed diagnoses, owned */
    size_t nnames;
    struct gathering *gathering;     /* see gather(): the combinations being collected */
    struct gather_done *gather_done; /* see made() */
    size_t text_only; /* trailing entities the next emit_diagnosis() uses in texts only */

    pcre2_match_data *md;
    pcre2_match_context *mctx; /* match and depth limits */
    /* per event */
    const hvd_event *ev;
    char channel[256];
    int codes_ready;
    uint32_t codes[MAX_CODES];
    size_t ncodes;
    uint32_t found_code;
    const hvd_entity *text_names; /* what the names table found in the event, borrowed */
    size_t ntext_names;
    int text_names_ready; /* text_names is of this event: looked up at its first match */
    struct entities ents;
    hvd_buf scratch;
    hvd_buf lowered;    /* low_of, ASCII letters in lower case (see guard_holds()) */
    const char *low_of; /* the subject lowered, of this event; NULL: none yet */
    size_t *word_slots; /* rs->words by hash of the text: index + 1, 0 when free */
    size_t nword_slots; /* a power of two, more than twice rs->nwords */
    size_t ev_word;     /* the event's provider among rs->words (see eval()) */
};

/* --- small helpers ------------------------------------------------------------------ */

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static void lower_copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;

    for (; src[n] && n + 1 < cap; n++) {
        dst[n] = (char)tolower((unsigned char)src[n]);
    }
    dst[n] = '\0';
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0) {
        return 1;
    }
    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Host names compare by their first label when either side is a short name. */
static int host_equal(const char *a, const char *b)
{
    size_t la = strcspn(a, ".");
    size_t lb = strcspn(b, ".");

    if (!a[la] || !b[lb]) {
        return la == lb && strncasecmp(a, b, la) == 0;
    }
    return strcasecmp(a, b) == 0;
}

static void entities_clear(struct entities *es)
{
    for (size_t i = 0; i < es->n; i++) {
        hvd_free(es->v[i].value);
    }
    es->n = 0;
}

static void entities_free(struct entities *es)
{
    entities_clear(es);
    hvd_free(es->v);
    es->v = NULL;
    es->cap = 0;
}

static const char *entities_get(const struct entities *es, const char *name, size_t len)
{
    for (size_t i = 0; i < es->n; i++) {
        if (strlen(es->v[i].name) == len && strncmp(es->v[i].name, name, len) == 0) {
            return es->v[i].value;
        }
    }
    return NULL;
}

static int entities_reserve(struct entities *es, size_t want)
{
    struct entity *grown;

    if (want <= es->cap) {
        return HVD_OK;
    }
    grown = hvd_realloc(es->v, want * sizeof(*grown));
    if (!grown) {
        return HVD_ENOMEM;
    }
    es->v = grown;
    es->cap = want;
    return HVD_OK;
}

/* Sets name (borrowed, outlives the engine) to a copy of value; replaces an old value. */
static int entities_set(struct entities *es, const char *name, const char *value, size_t len)
{
    char *copy = hvd_strndup(value, len);

    if (!copy) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < es->n; i++) {
        if (strcmp(es->v[i].name, name) == 0) {
            hvd_free(es->v[i].value);
            es->v[i].value = copy;
            return HVD_OK;
        }
    }
    if (es->n == MAX_ENTITIES) {
        hvd_free(copy);
        return HVD_OK; /* past the cap, extra entities are dropped */
    }
    if (es->n == es->cap &&
        entities_reserve(es, es->cap ? (2 * es->cap < MAX_ENTITIES ? 2 * es->cap : MAX_ENTITIES)
                                     : 8) < 0) {
        hvd_free(copy);
        return HVD_ENOMEM;
    }
    es->v[es->n].name = (char *)name;
    es->v[es->n].value = copy;
    es->n++;
    return HVD_OK;
}

/* A kept copy is sized exactly: groups and kept diagnoses may number in the 100 000s. */
static int entities_copy(struct entities *dst, const struct entities *src)
{
    entities_clear(dst);
    if (entities_reserve(dst, src->n ? src->n : 1) < 0) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < src->n; i++) {
        if (entities_set(dst, src->v[i].name, src->v[i].value, strlen(src->v[i].value)) < 0) {
            return HVD_ENOMEM;
        }
    }
    return HVD_OK;
}

/* --- templates ---------------------------------------------------------------------- */

struct fill_ctx {
    const struct entities *ents;
    uint64_t count;
    hvd_time first;
    hvd_time last;
};

static int fill_value(const struct fill_ctx *fc, const char *name, size_t len, hvd_buf *out)
{
    const char *v = entities_get(fc->ents, name, len);
    char tmp[40];

    if (v && *v) {
        return hvd_buf_adds(out, v) < 0 ? -1 : 1;
    }
    if (len == 5 && strncmp(name, "count", 5) == 0) {
        snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)fc->count);
        return hvd_buf_adds(out, tmp) < 0 ? -1 : 1;
    }
    if (len == 10 && strncmp(name, "first_time", 10) == 0) {
        return hvd_buf_adds(out, hvd_time_format(fc->first, tmp, sizeof(tmp))) < 0 ? -1 : 1;
    }
    if (len == 9 && strncmp(name, "last_time", 9) == 0) {
        return hvd_buf_adds(out, hvd_time_format(fc->last, tmp, sizeof(tmp))) < 0 ? -1 : 1;
    }
    if (len > 6 && strncmp(name + len - 6, "_short", 6) == 0) {
        v = entities_get(fc->ents, name, len - 6);
        if (v && *v) {
            size_t n = strcspn(v, ".");

            for (size_t i = 0; i < n; i++) {
                if (hvd_buf_addc(out, (char)toupper((unsigned char)v[i])) < 0) {
                    return -1;
                }
            }
            return 1;
        }
    }
    /* An excerpt pasted without its header or node name: say so rather than leave a gap. */
    if ((len == 4 && strncmp(name, "host", 4) == 0) ||
        (len == 10 && strncmp(name, "host_short", 10) == 0)) {
        return hvd_buf_adds(out, "an unknown host") < 0 ? -1 : 1;
    }
    return 0;
}

static int fill_one(void *ud, const char *name, size_t len, hvd_buf *out)
{
    return fill_value(ud, name, len, out);
}

/* Renders a rule text (grammar in template.h) into out, which it empties first. */
static int fill(const char *tmpl, const struct fill_ctx *fc, hvd_buf *out)
{
    int rc;

    hvd_buf_reset(out);
    rc = hvd_template_render(tmpl, fill_one, (void *)fc, out);
    /* A text that opens with the host, and the host is unknown: "An unknown host ...". */
    if (rc == HVD_OK && strncmp(out->data, "an unknown host", 15) == 0) {
        out->data[0] = 'A';
    }
    return rc;
}

/* --- the index ---------------------------------------------------------------------- */

static struct bucket *bucket_get(hvd_engine *e, const char *key, int create)
{
    size_t slot = hash(key) % (sizeof(e->index) / sizeof(e->index[0]));
    struct bucket *b;

    for (b = e->index[slot]; b; b = b->next) {
        if (strcmp(b->key, key) == 0) {
            return b;
        }
    }
    if (!create) {
        return NULL;
    }
    b = hvd_calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    b->key = hvd_strdup(key);
    if (!b->key) {
        hvd_free(b);
        return NULL;
    }
    b->next = e->index[slot];
    e->index[slot] = b;
    return b;
}

static int bucket_add(hvd_engine *e, const char *key, size_t rule, size_t kid_a, size_t kid_b)
{
    struct bucket *b = bucket_get(e, key, 1);
    struct cand *grown;

    if (!b) {
        return HVD_ENOMEM;
    }
    if (b->n && b->rules[b->n - 1].rule == rule) {
        return HVD_OK;
    }
    grown = hvd_realloc(b->rules, (b->n + 1) * sizeof(*grown));
    if (!grown) {
        return HVD_ENOMEM;
    }
    b->rules = grown;
    b->rules[b->n].rule = rule;
    b->rules[b->n].implied[0] = kid_a;
    b->rules[b->n].implied[1] = kid_b;
    b->n++;
    return HVD_OK;
}

/* The top-level conditions of a rule that the index can use. */
struct keys {
    const char *providers[16];
    size_t nproviders;
    size_t provider_kid; /* the kid the providers come from */
    int providers_whole; /* none was cut to fit the key: meeting the key proves the kid */
    const hvd__pred *ids;
    size_t ids_kid;
    const char *component;
    int source;
};

static void collect_keys(const hvd__pred *match, struct keys *k)
{
    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < match->nkids; i++) {
        const hvd__pred *p = &match->kids[i];

        if (p->kind == HVD__P_PROVIDER && k->nproviders == 0) {
            k->providers[k->nproviders++] = p->text;
            k->provider_kid = i;
        } else if (p->kind == HVD__P_ANY && k->nproviders == 0) {
            int all_providers = p->nkids > 0 && p->nkids <= 16;

            for (size_t j = 0; j < p->nkids; j++) {
                all_providers = all_providers && p->kids[j].kind == HVD__P_PROVIDER;
            }
            for (size_t j = 0; all_providers && j < p->nkids; j++) {
                k->providers[k->nproviders++] = p->kids[j].text;
            }
            k->provider_kid = i;
        } else if (p->kind == HVD__P_EVENT_ID && !k->ids) {
            k->ids = p;
            k->ids_kid = i;
        } else if (p->kind == HVD__P_COMPONENT && !k->component) {
            k->component = p->text;
        } else if (p->kind == HVD__P_SOURCE) {
            k->source = p->source;
        }
    }
    k->providers_whole = match->kind == HVD__P_ALL;
    for (size_t i = 0; i < k->nproviders; i++) {
        k->providers_whole = k->providers_whole && strlen(k->providers[i]) < 255;
    }
}

static int index_rule(hvd_engine *e, size_t r)
{
    const hvd__rule *rule = &e->rs->rules[r];
    struct keys k;
    char key[300];
    char low[256];
    uint64_t span = 0;
    size_t pkid;
    size_t ikid;
    int match_is_all = rule->match.kind == HVD__P_ALL;
    int rc = HVD_OK;

    collect_keys(&rule->match, &k);
    if (k.ids) {
        for (size_t i = 0; i < k.ids->nranges; i++) {
            span += k.ids->ranges[i].hi - k.ids->ranges[i].lo + 1;
        }
    }
    if (k.ids && span > 512) {
        k.ids = NULL; /* too wide to expand: the provider alone files it */
    }
    /* Met under a provider key, the event has that provider (case ignored, as <provider>
     * compares); under an id key, that event id. Only an EVTX event or one with an id is
     * looked up by them (hvd_engine_feed()), as <event-id> requires. */
    pkid = k.nproviders && k.providers_whole ? k.provider_kid : NO_KID;
    ikid = k.ids && match_is_all ? k.ids_kid : NO_KID;
    if (k.nproviders) {
        for (size_t p = 0; p < k.nproviders && rc == HVD_OK; p++) {
            lower_copy(low, sizeof(low), k.providers[p]);
            if (!k.ids) {
                snprintf(key, sizeof(key), "P|%s", low);
                rc = bucket_add(e, key, r, pkid, NO_KID);
                continue;
            }
            for (size_t i = 0; i < k.ids->nranges && rc == HVD_OK; i++) {
                for (uint32_t id = k.ids->ranges[i].lo; id <= k.ids->ranges[i].hi; id++) {
                    snprintf(key, sizeof(key), "E|%s|%u", low, id);
                    rc = bucket_add(e, key, r, pkid, ikid);
                }
            }
        }
        return rc;
    }
    if (k.ids) {
        for (size_t i = 0; i < k.ids->nranges && rc == HVD_OK; i++) {
            for (uint32_t id = k.ids->ranges[i].lo; id <= k.ids->ranges[i].hi; id++) {
                snprintf(key, sizeof(key), "I|%u", id);
                rc = bucket_add(e, key, r, ikid, NO_KID);
            }
        }
        return rc;
    }
    if (k.component) {
        lower_copy(low, sizeof(low), k.component);
        snprintf(key, sizeof(key), "C|%s", low);
        return bucket_add(e, key, r, NO_KID, NO_KID);
    }
    /* Regex-only rules: met by every event of their source kind (both when unsaid). */
    for (int s = 1; s <= 2; s++) {
        size_t *grown;

        if (k.source && k.source != s) {
            continue;
        }
        grown = hvd_realloc(e->fallback[s], (e->nfallback[s] + 1) * sizeof(*grown));
        if (!grown) {
            return HVD_ENOMEM;
        }
        e->fallback[s] = grown;
        e->fallback[s][e->nfallback[s]++] = r;
    }
    return HVD_OK;
}

/* --- predicates --------------------------------------------------------------------- */

static int collect_code(void *ud, uint32_t value)
{
    hvd_engine *e = ud;

    for (size_t i = 0; i < e->ncodes; i++) {
        if (e->codes[i] == value) {
            return 0;
        }
    }
    if (e->ncodes < MAX_CODES) {
        e->codes[e->ncodes++] = value;
    }
    return 0;
}

static void event_codes(hvd_engine *e)
{
    if (e->codes_ready) {
        return;
    }
    e->codes_ready = 1;
    e->ncodes = 0;
    if (e->ev->message) {
        hvd_errcode_scan(e->ev->message, collect_code, e);
    }
    for (size_t i = 0; i < e->ev->nfields; i++) {
        hvd_errcode_scan(e->ev->fields[i].value, collect_code, e);
    }
}

static int code_matches(hvd_engine *e, const hvd__pred *p)
{
    uint32_t want = p->code;
    uint32_t win32 = hvd_errcode_win32(want);

    event_codes(e);
    for (size_t i = 0; i < e->ncodes; i++) {
        uint32_t got = e->codes[i];

        if (got == want || (p->win32 && (hvd_errcode_win32(got) == win32 ||
                                         (want < 0x10000 && got == (0x80070000u | want))))) {
            e->found_code = got < 0x10000 && p->win32 ? 0x80070000u | got : got;
            if (want >= 0x10000 && got < 0x10000) {
                e->found_code = want;
            }
            return 1;
        }
    }
    return 0;
}

/* pcre2_match() with the engine's limits. A match stopped by a limit counts as no match
 * (the event is not held up) and is counted for rule r, so it is reported, not hidden. */
static int run_regex(hvd_engine *e, size_t r, const pcre2_code *re, const char *subject)
{
    int rc;

    hvd__ruleset_jit(e->rs, re);
    rc = pcre2_match(re, (PCRE2_SPTR)subject, PCRE2_ZERO_TERMINATED, 0, 0, e->md, e->mctx);

    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT) {
        e->limit_hits[r]++;
        e->stats.limit_hits++;
    }
    return rc;
}

/* Runs a regex; named groups of a match become entities. */
static int regex_matches(hvd_engine *e, pcre2_code *re, const char *subject)
{
    int rc;
    uint32_t count = 0;
    uint32_t size = 0;
    PCRE2_SPTR table = NULL;
    PCRE2_SIZE *ov;

    rc = run_regex(e, e->cur_rule, re, subject);
    if (rc < 0) {
        return 0;
    }
    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
    if (count == 0) {
        return 1;
    }
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    ov = pcre2_get_ovector_pointer(e->md);
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *entry = table + i * size;
        uint32_t group = (uint32_t)(entry[0] << 8 | entry[1]);

        if (group < (uint32_t)rc && ov[2 * group] != PCRE2_UNSET) {
            entities_set(&e->ents, (const char *)entry + 2, subject + ov[2 * group],
                         ov[2 * group + 1] - ov[2 * group]);
        }
    }
    return 1;
}

/* Whether subject v holds one of the literals of p's guard (hvd__pred.guard), so that
 * its regex may match. The subject is lowered once per event: the rules keyed by an
 * event's provider mostly read the same message. Cost: O(len(v)) to lower, one strstr()
 * per literal. A subject longer than the buffer is taken as holding them. */
static int guard_holds(hvd_engine *e, const hvd__pred *p, const char *v)
{
    if (e->low_of != v) {
        size_t n = strlen(v);

        e->low_of = NULL;
        hvd_buf_reset(&e->lowered);
        if (hvd_buf_add(&e->lowered, v, n) < 0) {
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            char c = e->lowered.data[i];

            e->lowered.data[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        e->low_of = v;
    }
    for (size_t i = 0; i < p->nguard; i++) {
        if (strstr(hvd_buf_str(&e->lowered), p->guard[i])) {
            return 1;
        }
    }
    return 0;
}

static int value_matches(hvd_engine *e, const hvd__pred *p, const char *v)
{
    switch (p->op) {
    case HVD__OP_EXISTS:
        return v != NULL;
    case HVD__OP_ABSENT:
        return v == NULL || *v == '\0';
    case HVD__OP_CONTAINS:
        return v && ci_contains(v, p->text);
    case HVD__OP_REGEX:
        return v && (!p->nguard || guard_holds(e, p, v)) && regex_matches(e, p->re, v);
    default:
        return v && strcasecmp(v, p->text) == 0;
    }
}

static int eval(hvd_engine *e, const hvd__pred *p)
{
    const hvd_event *ev = e->ev;

    e->stats.predicates++;
    switch (p->kind) {
    case HVD__P_ALL:
        for (size_t i = 0; i < p->nkids; i++) {
            if (!eval(e, &p->kids[i])) {
                return 0;
            }
        }
        return 1;
    case HVD__P_ANY:
        for (size_t i = 0; i < p->nkids; i++) {
            size_t keep = e->ents.n;

            if (eval(e, &p->kids[i])) {
                return 1;
            }
            /* A failed branch leaves no captures behind. */
            while (e->ents.n > keep) {
                hvd_free(e->ents.v[--e->ents.n].value);
            }
        }
        return 0;
    case HVD__P_NOT: {
        size_t keep = e->ents.n;
        int r = !eval(e, &p->kids[0]);

        while (e->ents.n > keep) {
            hvd_free(e->ents.v[--e->ents.n].value);
        }
        return r;
    }
    case HVD__P_SOURCE:
        return (int)ev->kind == p->source;
    case HVD__P_PROVIDER:
        /* The provider's word was looked up once for the event: equal words, equal texts. */
        if (p->word && e->ev_word != SIZE_MAX) {
            return e->ev_word == p->word;
        }
        return strcasecmp(ev->provider, p->text) == 0;
    case HVD__P_CHANNEL:
        return strcmp(e->channel, p->text) == 0;
    case HVD__P_EVENT_ID:
        if (ev->kind != HVD_SOURCE_EVTX && ev->event_id == 0) {
            return 0; /* a cluster.log line, unless msgtable knew its event */
        }
        for (size_t i = 0; i < p->nranges; i++) {
            if (ev->event_id >= p->ranges[i].lo && ev->event_id <= p->ranges[i].hi) {
                return 1;
            }
        }
        return 0;
    case HVD__P_LEVEL:
        return ev->level < 32 && (p->levels >> ev->level & 1u);
    case HVD__P_HOST:
        return host_equal(ev->host, p->text);
    case HVD__P_COMPONENT:
        return ev->component && strcasecmp(ev->component, p->text) == 0;
    case HVD__P_LEVEL_WORD:
        return ev->level_word && strcasecmp(ev->level_word, p->text) == 0;
    case HVD__P_FIELD:
        return value_matches(e, p, hvd_event_field(ev, p->name));
    case HVD__P_MESSAGE:
        return value_matches(e, p, ev->message ? ev->message : "");
    case HVD__P_ERROR_CODE:
        return code_matches(e, p);
    }
    return 0;
}

/* --- diagnoses ---------------------------------------------------------------------- */

static void evidence_free(struct evidence_copy *c)
{
    hvd_free(c->path);
    hvd_free(c->host);
    hvd_free(c->provider);
    hvd_free(c->channel);
    hvd_free(c->component);
    hvd_free(c->message);
    for (int i = 0; i < 4; i++) {
        hvd_free(c->texts[i]);
    }
    memset(c, 0, sizeof(*c));
}

/* The length of s cut to at most max bytes on a UTF-8 boundary. */
static size_t cut_len(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    return n;
}

/* A copy of what identifies and shows an event; texts are cut on a UTF-8 boundary. */
static int evidence_from(struct evidence_copy *c, const hvd_event *ev)
{
    const char *texts[4] = {ev->level_text, ev->task_text, ev->opcode_text, ev->channel_text};
    size_t n = cut_len(ev->message, EXCERPT_BYTES);
    int missing = 0;

    memset(c, 0, sizeof(*c));
    c->path = hvd_strdup(ev->source_path ? ev->source_path : "");
    c->host = hvd_strdup(ev->host ? ev->host : "");
    c->provider = hvd_strdup(ev->provider ? ev->provider : "");
    c->channel = hvd_strdup(ev->channel ? ev->channel : "");
    c->component = hvd_strdup(ev->component ? ev->component : "");
    c->message = hvd_strndup(ev->message ? ev->message : "", n);
    for (int i = 0; i < 4; i++) {
        const char *t = texts[i] ? texts[i] : "";

        c->texts[i] = hvd_strndup(t, cut_len(t, TEXT_BYTES));
        missing |= !c->texts[i];
    }
    if (missing || !c->path || !c->host || !c->provider || !c->channel || !c->component ||
        !c->message) {
        evidence_free(c);
        return HVD_ENOMEM;
    }
    c->ev.kind = ev->kind;
    c->ev.source_path = c->path;
    c->ev.record_id = ev->kind == HVD_SOURCE_EVTX ? ev->record_id : 0;
    c->ev.event_record_id = ev->event_record_id;
    c->ev.line = ev->line;
    c->ev.byte_offset = ev->byte_offset;
    c->ev.time = ev->time;
    c->ev.host = c->host;
    c->ev.provider = c->provider;
    c->ev.channel = c->channel;
    c->ev.component = c->component;
    c->ev.event_id = ev->event_id;
    c->ev.level = ev->level;
    c->ev.message = c->message;
    c->ev.level_text = c->texts[0];
    c->ev.task_text = c->texts[1];
    c->ev.opcode_text = c->texts[2];
    c->ev.channel_text = c->texts[3];
    return HVD_OK;
}

static int emit_diagnosis(hvd_engine *e, const hvd__rule *rule, const char *key,
                          hvd_diagnosis_kind kind, const struct entities *ents, hvd_time first,
                          hvd_time last, uint64_t count, const hvd_evidence *evidence,
                          size_t nevidence, const char *const *related, size_t nrelated)
{
    struct fill_ctx fc = {ents, count, first, last};
    hvd_entity list[MAX_ENTITIES];
    hvd_buf title;
    hvd_buf cause;
    hvd_buf remedy;
    hvd_diagnosis d;
    int rc;

    hvd_buf_init(&title, 64 * 1024);
    hvd_buf_init(&cause, 256 * 1024);
    hvd_buf_init(&remedy, 256 * 1024);
    rc = fill(rule->info.title, &fc, &title);
    if (rc == HVD_OK) {
        rc = fill(rule->cause, &fc, &cause);
    }
    if (rc == HVD_OK) {
        rc = fill(rule->remedy, &fc, &remedy);
    }
    if (rc == HVD_OK) {
        for (size_t i = 0; i < ents->n - e->text_only; i++) {
            list[i].name = ents->v[i].name;
            list[i].value = ents->v[i].value;
        }
        memset(&d, 0, sizeof(d));
        d.key = key;
        d.kind = kind;
        d.rule_id = rule->info.id;
        d.title = hvd_buf_str(&title);
        d.severity = rule->info.benign ? HVD_SEVERITY_NONE : rule->info.severity;
        d.confidence = rule->info.confidence;
        d.cause = hvd_buf_str(&cause);
        d.remedy = hvd_buf_str(&remedy);
        d.references = rule->ref_href;
        d.nreferences = rule->info.nreferences;
        d.entities = list;
        d.nentities = ents->n - e->text_only;
        d.first_time = first;
        d.last_time = last;
        d.count = count;
        d.evidence = evidence;
        d.nevidence = nevidence;
        d.evidence_keep = MAX_EVIDENCE;
        d.related = related;
        d.nrelated = nrelated;
        e->stats.emitted++;
        rc = e->emit(e->ud, &d);
    }
    hvd_buf_free(&title);
    hvd_buf_free(&cause);
    hvd_buf_free(&remedy);
    return rc;
}

/* --- loading stored diagnoses ------------------------------------------------------ */

static int flush_dirty(hvd_engine *e);

/* m's slice holding t: floor(t / m->unit). */
static int64_t slice_of(const struct marks *m, hvd_time t)
{
    int64_t q = t / m->unit;

    return t % m->unit < 0 ? q - 1 : q;
}

/* Index of the first slice >= s among m's. Cost: O(log n). */
static size_t marks_at(const struct marks *m, int64_t s)
{
    size_t lo = 0;
    size_t hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->v[mid] < s) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int marked(const struct marks *m, int64_t s)
{
    size_t at = marks_at(m, s);

    return at < m->n && m->v[at] == s;
}

/* Marks slice s (not marked yet). When MAX_LOADED are marked they are all forgotten:
 * asking again is harmless, priming is idempotent. Cost: O(n) for the move. */
static int mark(struct marks *m, int64_t s)
{
    size_t at;

    if (m->n == MAX_LOADED) {
        m->n = 0;
    }
    if (hvd_array_room(&m->v, &m->cap, m->n, sizeof(*m->v), 16) < 0) {
        return HVD_ENOMEM;
    }
    at = marks_at(m, s);
    memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof(*m->v));
    m->v[at] = s;
    m->n++;
    return HVD_OK;
}

/* q * p saturated to the int64 range (p > 0): the start of slice or period q. */
static hvd_time mul_sat(int64_t q, int64_t p)
{
    if (q < 0 && q < INT64_MIN / p) {
        return INT64_MIN;
    }
    if (q > 0 && q > INT64_MAX / p) {
        return INT64_MAX;
    }
    return q * p;
}

static hvd_time add_sat(hvd_time t, int64_t d)
{
    if (d > 0 && t > INT64_MAX - d) {
        return INT64_MAX;
    }
    if (d < 0 && t < INT64_MIN - d) {
        return INT64_MIN;
    }
    return t + d;
}

/* Whether [first, last] lies farther from t than the longer of NEAR and span plus a
 * slice: state an event or a search at t cannot reach. */
static int far_from(hvd_time t, hvd_time span, hvd_time first, hvd_time last)
{
    hvd_time d = span + SLICE > NEAR ? span + SLICE : NEAR;

    return last < add_sat(t, -d) || first > add_sat(t, d);
}

/* Whether rule r's kept diagnoses are searched by join value (need_joined()) rather than
 * by time alone: the store can answer by value, and every correlation r is a member of
 * reaches each of its roles through its joins. Then only those near the events being read
 * stay in memory, not a whole window of them. */
static int keyed(const hvd_engine *e, size_t r)
{
    return e->load_joined && e->joined[r];
}

/* Whether more is held than SOFT_KEPT: far state may go. */
static int over_soft(const hvd_engine *e)
{
    return e->ngroups + e->nopen + e->nrecent > e->soft_kept;
}

/* Whether every slice of rule r's part in [lo, hi] is here: the marks are sorted and
 * unique, so they are when a is marked and the mark b - a places after it is b. Cost:
 * O(log n). */
static int covered(hvd_engine *e, size_t r, int part, hvd_time lo, hvd_time hi)
{
    const struct marks *m = &e->marks[2 * r + (size_t)part];
    int64_t a = slice_of(m, lo);
    int64_t b = slice_of(m, hi);
    size_t at;

    if (!e->load) {
        return 1;
    }
    if (b - a > MAX_SLICES) {
        return 0;
    }
    at = marks_at(m, a);
    return at + (size_t)(b - a) < m->n && m->v[at] == a && m->v[at + (size_t)(b - a)] == b;
}

/*
 * Asks the loader for rule r's stored diagnoses that overlap [lo, hi] and are not here
 * yet: each run of slices not asked for is one call. A span of more than MAX_SLICES
 * slices is asked for whole, unmarked. What grew and is not emitted yet is here: the
 * store's older copy of it changes nothing (priming keeps the wider span and never drops
 * what is held), and what was dropped was emitted first. Cost: O(k log n) for k slices,
 * plus the loads.
 */
static int need(hvd_engine *e, size_t r, int part, hvd_time lo, hvd_time hi)
{
    struct marks *m = &e->marks[2 * r + (size_t)part];
    const char *id = e->rs->rules[r].info.id;
    int64_t a;
    int64_t b;
    int rc;

    if (covered(e, r, part, lo, hi)) {
        return HVD_OK;
    }
    a = slice_of(m, lo);
    b = slice_of(m, hi);
    rc = HVD_OK;
    e->load_part = part;
    if (b - a > MAX_SLICES) {
        e->stats.loads++;
        rc = e->load(e->load_ud, id, lo, hi, &e->load_err);
        e->load_part = -1;
        return rc;
    }
    for (int64_t sl = a; sl <= b; sl++) {
        int64_t end = sl;

        if (marked(m, sl)) {
            continue;
        }
        while (end < b && !marked(m, end + 1)) {
            end++;
        }
        for (int64_t k = sl; k <= end && rc == HVD_OK; k++) {
            rc = mark(m, k);
        }
        if (rc < 0) {
            break;
        }
        e->stats.loads++;
        rc = e->load(e->load_ud, id, mul_sat(sl, m->unit),
                     add_sat(mul_sat(end, m->unit), m->unit - 1), &e->load_err);
        if (rc < 0) {
            break;
        }
        sl = end;
    }
    e->load_part = -1;
    return rc;
}

/* State of rule r spanning [lo, hi] was dropped: the slices it lies in are asked for
 * again when needed. Cost: O(log n + n). */
static void forget_loaded(hvd_engine *e, size_t r, int part, hvd_time lo, hvd_time hi)
{
    struct marks *m = &e->marks[2 * r + (size_t)part];
    size_t a = marks_at(m, slice_of(m, lo));
    size_t b = marks_at(m, slice_of(m, hi) + 1);

    if (b > a) {
        memmove(m->v + a, m->v + b, (m->n - b) * sizeof(*m->v));
        m->n -= b - a;
    }
}

/* --- correlation -------------------------------------------------------------------- */

static int where_holds(hvd_engine *e, size_t c, const hvd__member *m, const struct entities *ents)
{
    for (size_t i = 0; i < m->nwhere; i++) {
        const hvd__where *w = &m->where[i];
        const char *v = entities_get(ents, w->entity, strlen(w->entity));
        int ok;

        switch (w->op) {
        case HVD__OP_EXISTS:
            ok = v != NULL;
            break;
        case HVD__OP_ABSENT:
            ok = v == NULL || *v == '\0';
            break;
        case HVD__OP_CONTAINS:
            ok = v && ci_contains(v, w->text);
            break;
        case HVD__OP_REGEX:
            ok = v && run_regex(e, c, w->re, v) >= 0;
            break;
        default:
            ok = v && strcasecmp(v, w->text) == 0;
            break;
        }
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* --- the join index ------------------------------------------------------------------ */

/* The part of v a join of this kind compares: a host's first label, else all of it. */
static size_t join_len(const char *v, int host)
{
    return host ? strcspn(v, ".") : strlen(v);
}

/* Lower-case bytes, as strcasecmp() compares them. */
static uint64_t join_hash(size_t attr, const char *v, size_t len)
{
    uint64_t h = (1469598103934665603ULL ^ (uint64_t)attr) * 1099511628211ULL;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)tolower((unsigned char)v[i])) * 1099511628211ULL;
    }
    return h;
}

/* The key of attr for value v, or NULL when no kept diagnosis has it. Cost: O(1)
 * expected (the table grows with the keys). */
static struct jkey *jkey_find(const hvd_engine *e, size_t attr, const char *v)
{
    size_t len = join_len(v, e->jattrs[attr].host);
    uint64_t h = join_hash(attr, v, len);

    if (!e->njslots) {
        return NULL;
    }
    for (struct jkey *k = e->jslots[h & (e->njslots - 1)]; k; k = k->hnext) {
        size_t i = 0;

        if (k->hash != h || k->attr != attr || k->len != len) {
            continue;
        }
        while (i < len && k->value[i] == (char)tolower((unsigned char)v[i])) {
            i++;
        }
        if (i == len) {
            return k;
        }
    }
    return NULL;
}

/* Doubles the table when keys outnumber slots. Cost: O(keys), amortised O(1) a key. */
static int jslots_grow(hvd_engine *e)
{
    size_t n = e->njslots ? 2 * e->njslots : 1024;
    struct jkey **slots;

    if (e->njkeys < e->njslots) {
        return HVD_OK;
    }
    slots = hvd_calloc(n, sizeof(*slots));
    if (!slots) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < e->njslots; i++) {
        while (e->jslots[i]) {
            struct jkey *k = e->jslots[i];

            e->jslots[i] = k->hnext;
            k->hnext = slots[k->hash & (n - 1)];
            slots[k->hash & (n - 1)] = k;
        }
    }
    hvd_free(e->jslots);
    e->jslots = slots;
    e->njslots = n;
    return HVD_OK;
}

static void jkey_free(hvd_engine *e, struct jkey *k);

/* Kept diagnosis r leaves key k: what k covers now leaves out r's span, on the side of
 * it that keeps more (none: no coverage). */
static void jkey_uncover(struct jkey *k, const struct recent *r)
{
    hvd_time f = r->first < r->last ? r->first : r->last;
    hvd_time l = r->first < r->last ? r->last : r->first;
    hvd_time up = l < k->cov_lo ? k->cov_lo : l < INT64_MAX ? l + 1 : INT64_MAX;
    hvd_time down = f > k->cov_hi ? k->cov_hi : f > INT64_MIN ? f - 1 : INT64_MIN;
    int can_up = l < INT64_MAX && up <= k->cov_hi;
    int can_down = f > INT64_MIN && down >= k->cov_lo;

    if (can_up && (!can_down || hvd_time_span(up, k->cov_hi) >= hvd_time_span(k->cov_lo, down))) {
        k->cov_lo = up;
    } else if (can_down) {
        k->cov_hi = down;
    } else {
        k->cov = 0;
    }
}

/* Takes node out of its key, which no longer covers node's span; the key goes with its
 * last node. */
static void jnode_unfile(hvd_engine *e, struct jnode *node)
{
    struct jkey *k = node->key;

    if (!k) {
        return;
    }
    if (node->prev) {
        node->prev->next = node->next;
    } else {
        k->head = node->next;
    }
    if (node->next) {
        node->next->prev = node->prev;
    }
    node->key = NULL;
    node->prev = NULL;
    node->next = NULL;
    if (k->cov) {
        jkey_uncover(k, node->r);
    }
    if (--k->n > 0) {
        return;
    }
    jkey_free(e, k);
}

/* Takes an empty key out of the table. */
static void jkey_free(hvd_engine *e, struct jkey *k)
{
    struct jkey **pk;

    for (pk = &e->jslots[k->hash & (e->njslots - 1)]; *pk && *pk != k;) {
        pk = &(*pk)->hnext;
    }
    if (*pk) {
        *pk = k->hnext;
    }
    hvd_free(k->value);
    hvd_free(k);
    e->njkeys--;
}

/* The key of attr for value v, made (empty) when new; NULL when out of memory. */
static struct jkey *jkey_make(hvd_engine *e, size_t attr, const char *v)
{
    struct jkey *k = jkey_find(e, attr, v);
    size_t len = join_len(v, e->jattrs[attr].host);

    if (k) {
        return k;
    }
    if (jslots_grow(e) < 0) {
        return NULL;
    }
    k = hvd_calloc(1, sizeof(*k));
    if (!k || !(k->value = hvd_strndup(v, len))) {
        hvd_free(k);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        k->value[i] = (char)tolower((unsigned char)k->value[i]);
    }
    k->attr = attr;
    k->len = len;
    k->hash = join_hash(attr, v, len);
    k->hnext = e->jslots[k->hash & (e->njslots - 1)];
    e->jslots[k->hash & (e->njslots - 1)] = k;
    e->njkeys++;
    return k;
}

/* Drops the keys left with no node only for their coverage: those far from t, or all.
 * Cost: O(slots + keys). */
static void jkeys_drop_empty(hvd_engine *e, hvd_time t, int all)
{
    for (size_t i = 0; i < e->njslots; i++) {
        for (struct jkey *k = e->jslots[i], *next; k; k = next) {
            next = k->hnext;
            if (!k->n && (all || !k->cov || far_from(t, 0, k->cov_lo, k->cov_hi))) {
                jkey_free(e, k);
            }
        }
    }
}

/* Files node under attr's key for v (made when new). */
static int jnode_file(hvd_engine *e, struct jnode *node, size_t attr, const char *v)
{
    struct jkey *k = jkey_make(e, attr, v);

    if (!k) {
        return HVD_ENOMEM;
    }
    node->key = k;
    node->prev = NULL;
    node->next = k->head;
    if (k->head) {
        k->head->prev = node;
    }
    k->head = node;
    k->n++;
    return HVD_OK;
}

/* Files r under its join values; a node already under the right key stays where it is.
 * Cost: O(join sides of its rule), expected. */
static int recent_file(hvd_engine *e, struct recent *r)
{
    const size_t *attrs = e->attrs_of_rule[r->rule];
    size_t n = 0;

    while (attrs && attrs[n]) {
        n++;
    }
    if (n && !r->jnodes) {
        r->jnodes = hvd_calloc(n, sizeof(*r->jnodes));
        if (!r->jnodes) {
            return HVD_ENOMEM;
        }
        r->njnodes = n;
    }
    for (size_t i = 0; i < r->njnodes; i++) {
        const struct jattr *a = &e->jattrs[attrs[i] - 1];
        const char *v = entities_get(&r->ents, a->entity, strlen(a->entity));
        struct jnode *node = &r->jnodes[i];

        node->r = r;
        if (v && node->key && jkey_find(e, attrs[i] - 1, v) == node->key) {
            continue;
        }
        jnode_unfile(e, node);
        if (v && jnode_file(e, node, attrs[i] - 1, v) < 0) {
            return HVD_ENOMEM;
        }
    }
    return HVD_OK;
}

static void recent_unfile(hvd_engine *e, struct recent *r)
{
    for (size_t i = 0; i < r->njnodes; i++) {
        jnode_unfile(e, &r->jnodes[i]);
    }
    hvd_free(r->jnodes);
    r->jnodes = NULL;
    r->njnodes = 0;
}

/* The join side of rule's entity name (compared as hosts or not), made when new. Returns
 * its index, or -1 when out of memory. Cost: O(join sides), once per join at create. */
static long jattr_of(hvd_engine *e, size_t rule, const char *entity, int host)
{
    struct jattr *grown;

    for (size_t i = 0; i < e->njattrs; i++) {
        const struct jattr *a = &e->jattrs[i];

        if (a->rule == rule && a->host == host && strcmp(a->entity, entity) == 0) {
            return (long)i;
        }
    }
    grown = hvd_realloc(e->jattrs, (e->njattrs + 1) * sizeof(*grown));
    if (!grown) {
        return -1;
    }
    e->jattrs = grown;
    e->jattrs[e->njattrs].rule = rule;
    e->jattrs[e->njattrs].entity = entity;
    e->jattrs[e->njattrs].host = host;
    return (long)e->njattrs++;
}

/* Appends value to a 0-terminated list; returns HVD_OK or HVD_ENOMEM. */
static int list_add(size_t **list, size_t value)
{
    size_t n = 0;
    size_t *grown;

    while (*list && (*list)[n]) {
        if ((*list)[n] == value) {
            return HVD_OK;
        }
        n++;
    }
    grown = hvd_realloc(*list, (n + 2) * sizeof(*grown));
    if (!grown) {
        return HVD_ENOMEM;
    }
    grown[n] = value;
    grown[n + 1] = 0;
    *list = grown;
    return HVD_OK;
}

/* The join sides of correlation c, filed per member rule. */
static int index_joins(hvd_engine *e, size_t c)
{
    const hvd__rule *corr = &e->rs->rules[c];

    if (!corr->njoins) {
        return HVD_OK;
    }
    e->join_attrs[c] = hvd_calloc(2 * corr->njoins, sizeof(**e->join_attrs));
    if (!e->join_attrs[c]) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < corr->njoins; i++) {
        const hvd__join *j = &corr->joins[i];
        size_t rules[2] = {corr->members[j->left].rule, corr->members[j->right].rule};
        const char *ents[2] = {j->left_entity, j->right_entity};

        if (j->optional) {
            continue; /* checked, never looked up (fill_roles()) */
        }
        for (int side = 0; side < 2; side++) {
            long a = jattr_of(e, rules[side], ents[side], j->host);

            if (a < 0 || list_add(&e->attrs_of_rule[rules[side]], (size_t)a + 1) < 0) {
                return HVD_ENOMEM;
            }
            e->join_attrs[c][2 * i + (size_t)side] = (size_t)a;
        }
    }
    return HVD_OK;
}

static void recent_unlink_order(hvd_engine *e, struct recent *r)
{
    if (r->older) {
        r->older->newer = r->newer;
    } else {
        e->recent_oldest = r->newer;
    }
    if (r->newer) {
        r->newer->older = r->older;
    } else {
        e->recent_newest = r->older;
    }
    r->older = NULL;
    r->newer = NULL;
}

static void recent_push_newest(hvd_engine *e, struct recent *r)
{
    r->older = e->recent_newest;
    r->newer = NULL;
    if (e->recent_newest) {
        e->recent_newest->newer = r;
    } else {
        e->recent_oldest = r;
    }
    e->recent_newest = r;
}

/* Forgets a kept diagnosis. Never called while a correlation search is running. */
static void recent_drop(hvd_engine *e, struct recent *r)
{
    struct recent **pr = &e->recent_slots[hash(r->key) % RECENT_SLOTS];

    while (*pr && *pr != r) {
        pr = &(*pr)->hnext;
    }
    if (*pr) {
        *pr = r->hnext;
    }
    if (r->rule_prev) {
        r->rule_prev->rule_next = r->rule_next;
    } else {
        e->recent_by_rule[r->rule] = r->rule_next;
    }
    if (r->rule_next) {
        r->rule_next->rule_prev = r->rule_prev;
    }
    recent_unlink_order(e, r);
    recent_unfile(e, r);
    e->in_store[r->rule] = 1; /* what goes was emitted first */
    hvd_free(r->key);
    entities_free(&r->ents);
    hvd_free(r);
    e->nrecent--;
}

/* Whether a and b hold the same names and values, in the same order. */
static int entities_same(const struct entities *a, const struct entities *b)
{
    if (a->n != b->n) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].name, b->v[i].name) != 0 || strcmp(a->v[i].value, b->v[i].value) != 0) {
            return 0;
        }
    }
    return 1;
}

/*
 * Keeps a diagnosis (or updates the kept one of the same key: its span grows) and files it
 * under its join values. *changed (may be NULL) says whether it is new or its span or
 * entities changed: only then can it join a combination not reported yet. Cost: O(1)
 * expected, plus O(entities).
 */
static int remember(hvd_engine *e, size_t rule, const char *key, const struct entities *ents,
                    hvd_time first, hvd_time last, struct recent **out, int *changed)
{
    size_t slot = hash(key) % RECENT_SLOTS;
    struct recent *r;
    int fresh = 0;

    for (r = e->recent_slots[slot]; r; r = r->hnext) {
        if (strcmp(r->key, key) == 0) {
            break;
        }
    }
    if (!r) {
        r = hvd_calloc(1, sizeof(*r));
        if (!r) {
            return HVD_ENOMEM;
        }
        r->key = hvd_strdup(key);
        if (!r->key) {
            hvd_free(r);
            return HVD_ENOMEM;
        }
        r->rule = rule;
        r->first = first;
        r->hnext = e->recent_slots[slot];
        e->recent_slots[slot] = r;
        r->rule_next = e->recent_by_rule[rule];
        if (r->rule_next) {
            r->rule_next->rule_prev = r;
        }
        e->recent_by_rule[rule] = r;
        recent_push_newest(e, r);
        e->nrecent++;
        fresh = 1;
    } else {
        recent_unlink_order(e, r);
        recent_push_newest(e, r);
    }
    if (changed) {
        *changed = fresh || first < r->first || last > r->last || !entities_same(&r->ents, ents);
    }
    if ((fresh || !entities_same(&r->ents, ents)) &&
        (entities_copy(&r->ents, ents) < 0 || recent_file(e, r) < 0)) {
        return HVD_ENOMEM;
    }
    r->first = first < r->first ? first : r->first;
    r->last = last > r->last ? last : r->last;
    *out = r;
    return HVD_OK;
}

static struct seen *was_seen(const hvd_engine *e, const char *key)
{
    for (struct seen *s = e->seen_slots[hash(key) % SEEN_SLOTS]; s; s = s->hnext) {
        if (strcmp(s->key, key) == 0) {
            return s;
        }
    }
    return NULL;
}

static int note_seen(hvd_engine *e, const char *key, hvd_time lo, hvd_time hi)
{
    size_t slot = hash(key) % SEEN_SLOTS;
    struct seen *s = hvd_calloc(1, sizeof(*s));

    if (!s || !(s->key = hvd_strdup(key))) {
        hvd_free(s);
        return HVD_ENOMEM;
    }
    s->lo = lo;
    s->hi = hi;
    s->hnext = e->seen_slots[slot];
    e->seen_slots[slot] = s;
    if (e->seen_newest) {
        e->seen_newest->newer = s;
    } else {
        e->seen_oldest = s;
    }
    e->seen_newest = s;
    e->nseen++;
    return HVD_OK;
}

static void seen_drop_oldest(hvd_engine *e)
{
    struct seen *s = e->seen_oldest;
    struct seen **ps = &e->seen_slots[hash(s->key) % SEEN_SLOTS];

    while (*ps && *ps != s) {
        ps = &(*ps)->hnext;
    }
    if (*ps) {
        *ps = s->hnext;
    }
    e->seen_oldest = s->newer;
    if (!e->seen_oldest) {
        e->seen_newest = NULL;
    }
    hvd_free(s->key);
    hvd_free(s);
    e->nseen--;
}

static int made(hvd_engine *e, size_t rule, const char *key, const struct entities *ents,
                hvd_time first, hvd_time last, int depth);

struct gathering;
static int gather(hvd_engine *e, size_t c, struct recent *const *chosen, int depth);
static int gathering_add(struct gathering *g, const hvd__rule *corr, struct recent *const *chosen);

static int join_holds(const hvd__join *j, struct recent *const *chosen)
{
    const char *a = entities_get(&chosen[j->left]->ents, j->left_entity, strlen(j->left_entity));
    const char *b = entities_get(&chosen[j->right]->ents, j->right_entity, strlen(j->right_entity));

    if (j->optional && (!a || !*a || !b || !*b)) {
        return 1; /* compared only when both sides know the value */
    }
    return a && b && *a && (j->host ? host_equal(a, b) : strcasecmp(a, b) == 0);
}

/* Whether role m, just filled, fits the filled roles: the joins between them, the window
 * over all filled roles and their order. Cost: O(joins + members). */
static int role_fits(const hvd__rule *corr, struct recent *const *chosen, size_t m)
{
    hvd_time lo = INT64_MAX;
    hvd_time hi = INT64_MIN;

    for (size_t i = 0; i < corr->njoins; i++) {
        const hvd__join *j = &corr->joins[i];

        if ((j->left == m || j->right == m) && chosen[j->left] && chosen[j->right] &&
            !join_holds(j, chosen)) {
            return 0;
        }
    }
    for (size_t i = 0; i < corr->nmembers; i++) {
        if (chosen[i]) {
            lo = chosen[i]->first < lo ? chosen[i]->first : lo;
            hi = chosen[i]->last > hi ? chosen[i]->last : hi;
        }
    }
    if (hvd_time_span(lo, hi) > (uint64_t)corr->window) {
        return 0;
    }
    return corr->order_before < 0 || corr->order_after < 0 || !chosen[corr->order_before] ||
           !chosen[corr->order_after] ||
           chosen[corr->order_before]->first <= chosen[corr->order_after]->first;
}

/* All roles are filled: checks joins, window and order; reports a new combination. */
static int try_combination(hvd_engine *e, size_t c, struct recent *const *chosen, int depth)
{
    const hvd__rule *corr = &e->rs->rules[c];
    struct entities ents = {NULL, 0, 0};
    hvd_time lo = INT64_MAX;
    hvd_time hi = INT64_MIN;
    const char *related[8];
    char name[160];
    struct seen *seen;
    hvd_buf key;
    int rc = HVD_OK;

    for (size_t i = 0; i < corr->njoins; i++) {
        if (!join_holds(&corr->joins[i], chosen)) {
            return HVD_OK;
        }
    }
    for (size_t i = 0; i < corr->nmembers; i++) {
        lo = chosen[i]->first < lo ? chosen[i]->first : lo;
        hi = chosen[i]->last > hi ? chosen[i]->last : hi;
    }
    if (hvd_time_span(lo, hi) > (uint64_t)corr->window) {
        return HVD_OK;
    }
    if (corr->order_before >= 0 && corr->order_after >= 0 &&
        chosen[corr->order_before]->first > chosen[corr->order_after]->first) {
        return HVD_OK;
    }
    if (corr->gathers) {
        return e->gathering ? gathering_add(e->gathering, corr, chosen)
                            : gather(e, c, chosen, depth);
    }
    /* One combination, one key: the correlation and its members' keys in role order. */
    hvd_buf_init(&key, 64 * 1024);
    hvd_buf_adds(&key, corr->info.id);
    for (size_t i = 0; i < corr->nmembers; i++) {
        hvd_buf_addc(&key, '|');
        hvd_buf_adds(&key, chosen[i]->key);
        related[i] = chosen[i]->key;
    }
    if (!key.data) {
        return HVD_ENOMEM;
    }
    seen = was_seen(e, hvd_buf_str(&key));
    if (seen) {
        /* Reported before: again only when a member grew, so the span does not depend on
         * the order members arrived in. */
        if (lo >= seen->lo && hi <= seen->hi) {
            hvd_buf_free(&key);
            return HVD_OK;
        }
        lo = seen->lo < lo ? seen->lo : lo;
        hi = seen->hi > hi ? seen->hi : hi;
        seen->lo = lo;
        seen->hi = hi;
    }
    for (size_t i = 0; i < corr->nmembers && rc == HVD_OK; i++) {
        const struct recent *r = chosen[i];

        for (size_t k = 0; k < r->ents.n && rc == HVD_OK; k++) {
            const char *prefixed = NULL;

            snprintf(name, sizeof(name), "%s.%s", corr->members[i].role, r->ents.v[k].name);
            /* Names must outlive the engine: use the rule set's copy. */
            for (size_t q = 0; q < corr->nnames && !prefixed; q++) {
                if (strcmp(corr->names[q], name) == 0) {
                    prefixed = corr->names[q];
                }
            }
            if (prefixed) {
                rc = entities_set(&ents, prefixed, r->ents.v[k].value, strlen(r->ents.v[k].value));
            }
            if (i == 0 && rc == HVD_OK) {
                rc = entities_set(&ents, r->ents.v[k].name, r->ents.v[k].value,
                                  strlen(r->ents.v[k].value));
            }
        }
    }
    if (rc == HVD_OK && !seen) {
        rc = note_seen(e, hvd_buf_str(&key), lo, hi);
        e->stats.diagnoses++;
    }
    if (rc == HVD_OK) {
        rc = emit_diagnosis(e, corr, hvd_buf_str(&key), HVD_DIAGNOSIS_CORRELATION, &ents, lo, hi,
                            corr->nmembers, NULL, 0, related, corr->nmembers);
    }
    if (rc == HVD_OK) {
        rc = made(e, c, hvd_buf_str(&key), &ents, lo, hi, depth + 1);
    }
    entities_free(&ents);
    hvd_buf_free(&key);
    return rc;
}

/* Tries candidate r for role m (the others of chosen as they are), then the roles left. */
static int fill_role(hvd_engine *e, size_t c, struct recent **chosen, size_t nfilled, size_t m,
                     struct recent *r, int depth);

/* Asks the loader for attr's stored diagnoses with value v that span into [lo, hi]. */
static int load_joined(hvd_engine *e, size_t attr, const char *v, hvd_time lo, hvd_time hi)
{
    const struct jattr *a = &e->jattrs[attr];
    const char *id = e->rs->rules[a->rule].info.id;
    int rc;

    e->load_part = KEPT;
    e->stats.loads++;
    rc = e->load_joined(e->load_ud, id, a->entity, v, a->host, lo, hi, &e->load_err);
    e->load_part = -1;
    return rc;
}

/*
 * Makes every stored diagnosis of join side attr's rule with value v that spans into
 * [lo, hi] be here, asking the loader for what its key does not cover yet (the part of
 * [lo, hi] on either side of the coverage, or all of it), then widening the coverage. A
 * search of a keyed rule (keyed()) calls it before each lookup: it meets every partner in
 * the store without a window of them in memory. The key stays, empty, when none was
 * found, so a value with no partners is not asked for again; a kept diagnosis leaving
 * the key narrows its coverage to leave it out (jkey_uncover()). Cost: a lookup, plus up
 * to two queries when not covered.
 */
static int need_joined(hvd_engine *e, size_t attr, const char *v, hvd_time lo, hvd_time hi)
{
    struct jkey *k = jkey_find(e, attr, v);
    int rc = HVD_OK;

    if (lo > hi || (k && k->cov && k->cov_lo <= lo && hi <= k->cov_hi)) {
        return HVD_OK;
    }
    /* A slice more on each side, so a search that follows the events read asks again
     * once per slice, not once per diagnosis. */
    lo = add_sat(lo, -SLICE);
    hi = add_sat(hi, SLICE);
    if (k && k->cov && k->cov_lo <= add_sat(hi, 1) && lo <= add_sat(k->cov_hi, 1)) {
        hvd_time clo = k->cov_lo;
        hvd_time chi = k->cov_hi;

        if (lo < clo) {
            rc = load_joined(e, attr, v, lo, clo - 1);
        }
        if (rc == HVD_OK && hi > chi) {
            rc = load_joined(e, attr, v, chi + 1, hi);
        }
        lo = lo < clo ? lo : clo;
        hi = hi > chi ? hi : chi;
    } else {
        rc = load_joined(e, attr, v, lo, hi);
    }
    if (rc < 0) {
        return rc;
    }
    /* Loading drops nothing; it may move a kept diagnosis whose stored value differs to
     * another key, even this one's last (then the key went): that one is no partner for
     * v, so what was covered still is. The key is looked up anew. */
    k = jkey_make(e, attr, v);
    if (!k) {
        return HVD_ENOMEM;
    }
    k->cov = 1;
    k->cov_lo = lo;
    k->cov_hi = hi;
    return HVD_OK;
}

/* Before the lookups of fill_roles(): the stored partners of each empty role of a keyed
 * rule that a join reaches from a filled one, by the filled side's value, within the
 * window of every filled role. Loading first, so no lookup's key changes under it. */
static int need_partners(hvd_engine *e, size_t c, struct recent *const *chosen)
{
    const hvd__rule *corr = &e->rs->rules[c];
    const size_t *attrs = e->join_attrs[c];
    hvd_time lo = INT64_MIN; /* where a member that fits the filled roles can lie */
    hvd_time hi = INT64_MAX;
    int rc = HVD_OK;

    for (size_t i = 0; i < corr->nmembers; i++) {
        if (chosen[i]) {
            hvd_time a = add_sat(chosen[i]->last, -corr->window);
            hvd_time b = add_sat(chosen[i]->first, corr->window);

            lo = a > lo ? a : lo;
            hi = b < hi ? b : hi;
        }
    }
    for (size_t i = 0; rc == HVD_OK && i < corr->njoins; i++) {
        const hvd__join *j = &corr->joins[i];
        int left_known = chosen[j->left] != NULL;
        size_t attr = attrs[2 * i + (size_t)left_known];
        const char *name = left_known ? j->left_entity : j->right_entity;
        const char *v;
        char *copy;

        /* A rule the store holds none of that the engine lacks: every one is here. */
        if (j->optional || (chosen[j->left] != NULL) == (chosen[j->right] != NULL) ||
            !keyed(e, e->jattrs[attr].rule) || !e->in_store[e->jattrs[attr].rule]) {
            continue;
        }
        v = entities_get(&chosen[left_known ? j->left : j->right]->ents, name, strlen(name));
        if (!v || (!*v && left_known)) {
            continue;
        }
        /* Loading may give a filled role its stored copy again: v must not move. */
        copy = hvd_strdup(v);
        rc = copy ? need_joined(e, attr, copy, lo, hi) : HVD_ENOMEM;
        hvd_free(copy);
    }
    return rc;
}

/*
 * Fills the roles of correlation c that chosen[] leaves empty (nfilled are filled) with
 * kept diagnoses, and reports each combination that holds.
 *
 * Each step fills one role joined to a filled one: the join names a value (the filled
 * side's entity), and the kept diagnoses of the role's rule with that value are one index
 * lookup (struct jkey). Of the roles so reached, the one with the fewest candidates goes
 * first; a role whose lookup is empty ends the search, since no combination can hold.
 * Each candidate is kept only when its where clauses, its joins with every filled role,
 * the window over all filled roles and their order hold, so what is out of the window is
 * dropped at the first role, not after all are filled. A role no join reaches (a
 * correlation without joins) is filled from every kept diagnosis of its rule.
 *
 * Cost: for M roles and J joins, a step costs J lookups (O(1) expected each) to choose its
 * role, and O(J + M) to check each of its candidates; a search costs O((J + M) · c) for the
 * c candidates met over all its steps, plus the combinations reported. With joins on
 * values that name few diagnoses (a group, a VM, a host) that is O(1) in the number K of
 * kept diagnoses, where trying every combination cost O(K^(M-1)). Candidates are copied
 * before they are tried, since a combination reported inside the loop can keep (and file)
 * more diagnoses: O(candidates) memory a step. A keyed rule's lookups are made whole from
 * the store first (need_partners()).
 */
static int fill_roles(hvd_engine *e, size_t c, struct recent **chosen, size_t nfilled, int depth)
{
    const hvd__rule *corr = &e->rs->rules[c];
    const size_t *attrs = e->join_attrs[c];
    const struct jkey *best = NULL;
    struct recent *small[16];
    struct recent **cands = small;
    size_t m = corr->nmembers;
    size_t n = 0;
    int rc = HVD_OK;

    if (nfilled == corr->nmembers) {
        return try_combination(e, c, chosen, depth);
    }
    rc = need_partners(e, c, chosen);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < corr->njoins; i++) {
        const hvd__join *j = &corr->joins[i];
        int left_known = chosen[j->left] != NULL;
        size_t known = left_known ? j->left : j->right;
        const char *name = left_known ? j->left_entity : j->right_entity;
        const struct jkey *k;
        const char *v;

        /* An optional join may meet an absent value: it narrows, it never looks up. */
        if (j->optional || (chosen[j->left] != NULL) == (chosen[j->right] != NULL)) {
            continue;
        }
        v = entities_get(&chosen[known]->ents, name, strlen(name));
        /* The join needs a left value that is not empty. */
        k = v && (*v || !left_known) ? jkey_find(e, attrs[2 * i + (size_t)left_known], v) : NULL;
        if (!k) {
            return HVD_OK;
        }
        if (!best || k->n < best->n) {
            best = k;
            m = left_known ? j->right : j->left;
        }
    }
    if (!best) {
        /* No join reaches an empty role: the first one takes every kept diagnosis of its
         * rule. Combinations reported inside only add at the head of the list. */
        for (m = 0; chosen[m]; m++) {
        }
        for (struct recent *r = e->recent_by_rule[corr->members[m].rule]; r && rc == HVD_OK;
             r = r->rule_next) {
            rc = fill_role(e, c, chosen, nfilled, m, r, depth);
        }
        return rc;
    }
    if (best->n > sizeof(small) / sizeof(small[0])) {
        cands = hvd_malloc(best->n * sizeof(*cands));
        if (!cands) {
            return HVD_ENOMEM;
        }
    }
    for (const struct jnode *node = best->head; node; node = node->next) {
        cands[n++] = node->r;
    }
    for (size_t i = 0; i < n && rc == HVD_OK; i++) {
        rc = fill_role(e, c, chosen, nfilled, m, cands[i], depth);
    }
    if (cands != small) {
        hvd_free(cands);
    }
    return rc;
}

static int fill_role(hvd_engine *e, size_t c, struct recent **chosen, size_t nfilled, size_t m,
                     struct recent *r, int depth)
{
    const hvd__rule *corr = &e->rs->rules[c];
    int rc = HVD_OK;

    for (size_t k = 0; k < corr->nmembers; k++) {
        if (chosen[k] == r) {
            return HVD_OK;
        }
    }
    if (corr->members[m].rule != r->rule || !where_holds(e, c, &corr->members[m], &r->ents)) {
        return HVD_OK;
    }
    chosen[m] = r;
    if (role_fits(corr, chosen, m)) {
        rc = fill_roles(e, c, chosen, nfilled + 1, depth);
    }
    chosen[m] = NULL;
    return rc;
}

/* --- gathering roles ----------------------------------------------------------------- */

/* A member of a gathering role met in one of the combinations being collected. */
struct gathered {
    size_t role;
    struct recent *r;
};

/* The combinations of a gathering correlation that share the diagnoses of its other roles:
 * they make one diagnosis (see gather()). */
struct gathering {
    struct gathered *v;
    size_t n;
    size_t cap;
    hvd_time lo;
    hvd_time hi;
};

/* The keys gather() collected for during one made(): a combination met again in the same
 * search is not collected twice. */
struct gather_done {
    char **keys;
    size_t n;
    size_t cap;
};

static int gathering_add(struct gathering *g, const hvd__rule *corr, struct recent *const *chosen)
{
    for (size_t m = 0; m < corr->nmembers; m++) {
        g->lo = chosen[m]->first < g->lo ? chosen[m]->first : g->lo;
        g->hi = chosen[m]->last > g->hi ? chosen[m]->last : g->hi;
        if (!corr->members[m].gather) {
            continue;
        }
        if (hvd_array_room(&g->v, &g->cap, g->n, sizeof(*g->v), 8) < 0) {
            return HVD_ENOMEM;
        }
        g->v[g->n].role = m;
        g->v[g->n].r = chosen[m];
        g->n++;
    }
    return HVD_OK;
}

static int gathered_order(const void *x, const void *y)
{
    const struct gathered *a = x;
    const struct gathered *b = y;

    if (a->role != b->role) {
        return a->role < b->role ? -1 : 1;
    }
    return strcmp(a->r->key, b->r->key);
}

static int ci_order(const void *x, const void *y)
{
    int d = strcasecmp(*(const char *const *)x, *(const char *const *)y);

    return d ? d : strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Sets ents' name to the distinct values of entity 'entity' among the members of role m
 * (g->v sorted), in order: "A", "A and B", "A, B and C", past MAX_LISTED "A, B, ... and 3
 * more". Nothing when none has a value. */
static int list_values(struct entities *ents, const char *name, const char *entity,
                       const struct gathering *g, size_t m)
{
    const char **vals = hvd_malloc((g->n + 1) * sizeof(*vals));
    size_t n = 0;
    size_t k = 0;
    hvd_buf out;
    int rc = HVD_OK;

    if (!vals) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; i < g->n; i++) {
        const char *v =
            g->v[i].role == m ? entities_get(&g->v[i].r->ents, entity, strlen(entity)) : NULL;

        if (v && *v) {
            vals[n++] = v;
        }
    }
    qsort(vals, n, sizeof(*vals), ci_order);
    for (size_t i = 0; i < n; i++) {
        if (k == 0 || strcasecmp(vals[k - 1], vals[i]) != 0) {
            vals[k++] = vals[i];
        }
    }
    hvd_buf_init(&out, 64 * 1024);
    for (size_t i = 0; i < k && i < MAX_LISTED; i++) {
        hvd_buf_adds(&out, i == 0 ? "" : i + 1 == k ? " and " : ", ");
        hvd_buf_adds(&out, vals[i]);
    }
    if (k > MAX_LISTED) {
        hvd_buf_printf(&out, " and %zu more", k - MAX_LISTED);
    }
    if (k > 0) {
        rc = out.data ? entities_set(ents, name, out.data, out.len) : HVD_ENOMEM;
    }
    hvd_buf_free(&out);
    hvd_free(vals);
    return rc;
}

/* Reports the one diagnosis of the collected combinations g: related names the fixed roles'
 * diagnoses and every gathered one; its count is how many that is. */
static int gather_emit(hvd_engine *e, size_t c, struct recent *const *fixed, struct gathering *g,
                       const char *key, int depth)
{
    const hvd__rule *corr = &e->rs->rules[c];
    struct entities ents = {NULL, 0, 0};
    const char **related = NULL;
    size_t nrelated = 0;
    size_t nstored;
    struct seen *seen;
    char name[160];
    int rc = HVD_OK;

    qsort(g->v, g->n, sizeof(*g->v), gathered_order);
    related = hvd_malloc((g->n + corr->nmembers) * sizeof(*related));
    if (!related) {
        return HVD_ENOMEM;
    }
    for (size_t m = 0; m < corr->nmembers; m++) {
        if (fixed[m]) {
            related[nrelated++] = fixed[m]->key;
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        if (i == 0 || g->v[i].r != g->v[i - 1].r || g->v[i].role != g->v[i - 1].role) {
            related[nrelated++] = g->v[i].r->key;
        }
    }
    seen = was_seen(e, key);
    if (seen && g->lo >= seen->lo && g->hi <= seen->hi && nrelated <= seen->count) {
        hvd_free(related);
        return HVD_OK;
    }
    /* As try_combination(): the fixed roles' entities, prefixed, and the first member's. */
    for (size_t m = 0; m < corr->nmembers && rc == HVD_OK; m++) {
        for (size_t k = 0; fixed[m] && k < fixed[m]->ents.n && rc == HVD_OK; k++) {
            const struct entity *en = &fixed[m]->ents.v[k];

            snprintf(name, sizeof(name), "%s.%s", corr->members[m].role, en->name);
            for (size_t q = 0; q < corr->nnames; q++) {
                if (strcmp(corr->names[q], name) == 0) {
                    rc = entities_set(&ents, corr->names[q], en->value, strlen(en->value));
                    break;
                }
            }
            if (m == 0 && rc == HVD_OK) {
                rc = entities_set(&ents, en->name, en->value, strlen(en->value));
            }
        }
    }
    /* A gathering role's entities list its members' values: they fill texts only, since a
     * stored entity is written once and the list grows with the members. */
    nstored = ents.n;
    for (size_t q = 0; q < corr->nnames && rc == HVD_OK; q++) {
        const char *dot = strchr(corr->names[q], '.');

        for (size_t m = 0; dot && m < corr->nmembers && rc == HVD_OK; m++) {
            if (corr->members[m].gather &&
                strlen(corr->members[m].role) == (size_t)(dot - corr->names[q]) &&
                strncmp(corr->members[m].role, corr->names[q], (size_t)(dot - corr->names[q])) ==
                    0) {
                rc = list_values(&ents, corr->names[q], dot + 1, g, m);
            }
        }
    }
    if (rc == HVD_OK && !seen) {
        rc = note_seen(e, key, g->lo, g->hi);
        seen = rc == HVD_OK ? was_seen(e, key) : NULL;
        e->stats.diagnoses++;
    }
    if (rc == HVD_OK) {
        seen->lo = g->lo < seen->lo ? g->lo : seen->lo;
        seen->hi = g->hi > seen->hi ? g->hi : seen->hi;
        seen->count = nrelated > seen->count ? nrelated : seen->count;
        e->text_only = ents.n - nstored;
        rc = emit_diagnosis(e, corr, key, HVD_DIAGNOSIS_CORRELATION, &ents, seen->lo, seen->hi,
                            nrelated, NULL, 0, related, nrelated);
        e->text_only = 0;
    }
    if (rc == HVD_OK) {
        size_t all = ents.n;

        ents.n = nstored; /* the lists were for the texts */
        rc = made(e, c, key, &ents, seen->lo, seen->hi, depth + 1);
        ents.n = all;
    }
    entities_free(&ents);
    hvd_free(related);
    return rc;
}

/*
 * A combination of a correlation with gathering roles holds: every combination that shares
 * its other roles' diagnoses is collected (fill_roles() with those roles fixed) and makes one
 * diagnosis, keyed by the correlation and the fixed roles' keys ('*' for a gathering role),
 * so the key does not depend on which member came first, and each member that arrives later
 * grows it. Cost: for g combinations that share the fixed roles, O(g log g) per call, and a
 * call per member made or grown: O(g^2) over the g members of one diagnosis, where the
 * combinations it replaces cost O(g). Gather only roles that are few per occurrence (the
 * nodes' interfaces on one network, the peers of one join). A search that meets the same
 * fixed roles again within one made() collects them once.
 */
static int gather(hvd_engine *e, size_t c, struct recent *const *chosen, int depth)
{
    const hvd__rule *corr = &e->rs->rules[c];
    struct recent *fixed[8] = {NULL};
    struct gathering g = {NULL, 0, 0, INT64_MAX, INT64_MIN};
    struct gather_done *done = e->gather_done;
    size_t nfixed = 0;
    hvd_buf key;
    int rc;

    hvd_buf_init(&key, 64 * 1024);
    hvd_buf_adds(&key, corr->info.id);
    for (size_t m = 0; m < corr->nmembers; m++) {
        hvd_buf_addc(&key, '|');
        if (corr->members[m].gather) {
            hvd_buf_addc(&key, '*');
        } else {
            hvd_buf_adds(&key, chosen[m]->key);
            fixed[m] = chosen[m];
            nfixed++;
        }
    }
    if (!key.data) {
        return HVD_ENOMEM;
    }
    for (size_t i = 0; done && i < done->n; i++) {
        if (strcmp(done->keys[i], hvd_buf_str(&key)) == 0) {
            hvd_buf_free(&key);
            return HVD_OK;
        }
    }
    if (done && (hvd_array_room(&done->keys, &done->cap, done->n, sizeof(*done->keys), 4) < 0 ||
                 !(done->keys[done->n] = hvd_strdup(hvd_buf_str(&key))))) {
        hvd_buf_free(&key);
        return HVD_ENOMEM;
    }
    if (done) {
        done->n++;
    }
    e->gathering = &g;
    rc = fill_roles(e, c, fixed, nfixed, depth);
    e->gathering = NULL;
    if (rc == HVD_OK && g.n > 0) {
        rc = gather_emit(e, c, fixed, &g, hvd_buf_str(&key), depth);
    }
    hvd_free(g.v);
    hvd_buf_free(&key);
    return rc;
}

/* Whether the stored diagnoses of rule's partners within their spans of [first, last]
 * are all here. Cost: O(partners log n). */
/* Where partner p of a diagnosis spanning [first, last] can lie, in [*lo, *hi]: a
 * combination spans at most p->span, so its members lie within [last - span, first +
 * span]; the rule itself (own) within its own span. 0 when nowhere: the diagnosis is longer
 * than the span. */
static int reach(const struct partner *p, int own, hvd_time first, hvd_time last, hvd_time *lo,
                 hvd_time *hi)
{
    *lo = own ? first : add_sat(last, -p->span);
    *hi = own ? last : add_sat(first, p->span);
    return *lo <= *hi;
}

static int partners_here(hvd_engine *e, size_t rule, hvd_time first, hvd_time last)
{
    for (const struct partner *p = e->partners[rule]; p->rule != SIZE_MAX; p++) {
        hvd_time lo;
        hvd_time hi;

        if (reach(p, p == e->partners[rule], first, last, &lo, &hi) &&
            (p == e->partners[rule] || !keyed(e, p->rule)) && !covered(e, p->rule, KEPT, lo, hi)) {
            return 0;
        }
    }
    return 1;
}

/* A diagnosis was made or grew: keep it and try the correlations it can take part in. */
static int made(hvd_engine *e, size_t rule, const char *key, const struct entities *ents,
                hvd_time first, hvd_time last, int depth)
{
    struct recent *r = NULL;
    struct entities copy = {NULL, 0, 0};
    struct gather_done done = {NULL, 0, 0};
    struct gather_done *outer;
    char *key_copy = NULL;
    uint64_t primes;
    int changed = 0;
    int rc;

    if (!e->corr_by_rule[rule] || depth > CORR_DEPTH) {
        return HVD_OK;
    }
    primes = e->primes;
    /* Every stored diagnosis that could be a partner is here before the search. Loading
     * may move the caller's open diagnoses (key and ents point into one): copy first. */
    if (!partners_here(e, rule, first, last)) {
        key_copy = hvd_strdup(key);
        rc = key_copy ? entities_copy(&copy, ents) : HVD_ENOMEM;
        for (const struct partner *p = e->partners[rule]; rc == HVD_OK && p->rule != SIZE_MAX;
             p++) {
            hvd_time lo;
            hvd_time hi;

            /* A keyed partner is loaded by value when the search looks it up. */
            if (reach(p, p == e->partners[rule], first, last, &lo, &hi) &&
                (p == e->partners[rule] || !keyed(e, p->rule))) {
                rc = need(e, p->rule, KEPT, lo, hi);
            }
        }
        if (rc < 0) {
            hvd_free(key_copy);
            entities_free(&copy);
            return rc;
        }
        key = key_copy;
        ents = &copy;
    }
    rc = remember(e, rule, key, ents, first, last, &r, &changed);
    hvd_free(key_copy);
    entities_free(&copy);
    if (rc < 0) {
        return rc;
    }
    /* Loaded just now, it is this diagnosis as the loader had it written: search anyway. */
    changed |= r->primed > primes;
    /* Same span, same entities: every combination it can take part in was tried when it
     * was made or grew, or made before it was stored (a primed one). */
    if (!changed) {
        return HVD_OK;
    }
    outer = e->gather_done;
    e->gather_done = &done;
    for (size_t *c = e->corr_by_rule[rule]; *c && rc == HVD_OK; c++) {
        const hvd__rule *corr = &e->rs->rules[*c - 1];

        for (size_t m = 0; m < corr->nmembers && rc == HVD_OK; m++) {
            struct recent *chosen[8] = {NULL};

            rc = fill_role(e, *c - 1, chosen, 0, m, r, depth);
        }
    }
    e->gather_done = outer;
    for (size_t i = 0; i < done.n; i++) {
        hvd_free(done.keys[i]);
    }
    hvd_free(done.keys);
    return rc < 0 ? rc : HVD_OK;
}

/* --- time grouping ------------------------------------------------------------------ */

static void open_diag_free(struct open_diag *od)
{
    hvd_free(od->key);
    entities_free(&od->ents);
    memset(od, 0, sizeof(*od));
}

static void group_free(struct group *g)
{
    hvd_free(g->key);
    for (size_t i = 0; i < g->npending; i++) {
        evidence_free(&g->pending[i]);
    }
    hvd_free(g->pending);
    for (size_t i = 0; i < g->nopen; i++) {
        open_diag_free(&g->open[i]);
    }
    hvd_free(g->open_base);
    hvd_free(g);
}

static void group_unlink_order(hvd_engine *e, struct group *g)
{
    if (g->older) {
        g->older->newer = g->newer;
    } else {
        e->group_oldest = g->newer;
    }
    if (g->newer) {
        g->newer->older = g->older;
    } else {
        e->group_newest = g->older;
    }
    g->older = NULL;
    g->newer = NULL;
}

static void group_push_newest(hvd_engine *e, struct group *g)
{
    g->older = e->group_newest;
    g->newer = NULL;
    if (e->group_newest) {
        e->group_newest->newer = g;
    } else {
        e->group_oldest = g;
    }
    e->group_newest = g;
}

/* The group of key (made when new), now the most recently used. Cost: O(1) expected. */
static struct group *group_find(hvd_engine *e, const char *key, size_t rule)
{
    size_t slot;
    struct group *g;

    if (e->ngroup_slots == 0) {
        e->ngroup_slots = 65536;
        e->groups = hvd_calloc(e->ngroup_slots, sizeof(*e->groups));
        if (!e->groups) {
            e->ngroup_slots = 0;
            return NULL;
        }
    }
    slot = hash(key) % e->ngroup_slots;
    for (g = e->groups[slot]; g; g = g->next) {
        if (strcmp(g->key, key) == 0) {
            group_unlink_order(e, g);
            group_push_newest(e, g);
            return g;
        }
    }
    g = hvd_calloc(1, sizeof(*g));
    if (!g) {
        return NULL;
    }
    g->key = hvd_strdup(key);
    if (!g->key) {
        hvd_free(g);
        return NULL;
    }
    g->rule = rule;
    g->next = e->groups[slot];
    e->groups[slot] = g;
    group_push_newest(e, g);
    e->ngroups++;
    return g;
}

/* Drops group g; its open diagnoses are loaded again when needed (none may be dirty).
 * Cost: O(chain) to unlink it from its hash slot. */
static void group_evict(hvd_engine *e, struct group *g)
{
    struct group **pg = &e->groups[hash(g->key) % e->ngroup_slots];

    while (*pg && *pg != g) {
        pg = &(*pg)->next;
    }
    if (*pg) {
        *pg = g->next;
    }
    for (size_t i = 0; i < g->nopen; i++) {
        forget_loaded(e, g->rule, OPEN, g->open[i].first, g->open[i].last);
    }
    group_unlink_order(e, g);
    e->nopen -= g->nopen;
    group_free(g);
    e->ngroups--;
    e->stats.evicted++;
}

static void recent_evict(hvd_engine *e, struct recent *r)
{
    forget_loaded(e, r->rule, KEPT, r->first, r->last);
    recent_drop(e, r);
    e->stats.evicted++;
}

/* Over a bound: drops least recently used groups and kept diagnoses down to 90 % of it, so
 * that the slices they free are asked for again once per tenth of the bound, not per
 * event. Cost: O(1) per item dropped (plus the slice marks). Reported combinations go
 * oldest first: one reported again only re-emits the same diagnosis. */
static int evict(hvd_engine *e)
{
    if (e->ngroups > MAX_GROUPS || e->nopen > MAX_OPEN) {
        int rc = flush_dirty(e); /* what goes is stored whole first */

        if (rc < 0) {
            return rc;
        }
        while (e->group_oldest &&
               (e->ngroups > MAX_GROUPS / 10 * 9 || e->nopen > MAX_OPEN / 10 * 9)) {
            group_evict(e, e->group_oldest);
        }
    }
    if (e->nrecent > MAX_RECENT) {
        while (e->nrecent > MAX_RECENT / 10 * 9) {
            recent_evict(e, e->recent_oldest);
        }
    }
    while (e->nseen > MAX_SEEN) {
        seen_drop_oldest(e);
    }
    return HVD_OK;
}

/* Whether every open diagnosis of g is far from t, and it holds no match short of a
 * threshold (those are in memory only). */
static int group_far(const hvd_engine *e, const struct group *g, hvd_time t)
{
    if (g->npending > 0) {
        return 0;
    }
    for (size_t i = 0; i < g->nopen; i++) {
        if (!far_from(t, e->span_of[g->rule], g->open[i].first, g->open[i].last)) {
            return 0;
        }
    }
    return 1;
}

/*
 * Drops the state an event or a search at t (the time of the events being read) cannot
 * reach (far_from()): groups with no pending match whose open diagnoses are all far, and
 * kept diagnoses; reported combinations far from t too. What is dropped is in the store and
 * is loaded again (need()) if an event or a search reaches its time after all, so reading
 * in time order holds a flat amount of memory however long the file; only the loads depend
 * on the order. Called every SWEEP_EVERY events while over_soft(). Cost: O(groups + kept)
 * per call, plus one flush when a dropped group grew since it was emitted.
 */
static int sweep(hvd_engine *e, hvd_time t)
{
    int flushed = 0;

    for (struct group *g = e->group_oldest, *next; g; g = next) {
        next = g->newer;
        if (!group_far(e, g, t)) {
            continue;
        }
        for (size_t i = 0; !flushed && i < g->nopen; i++) {
            if (g->open[i].dirty) {
                int rc = flush_dirty(e); /* what goes is stored whole first */

                if (rc < 0) {
                    return rc;
                }
                flushed = 1;
            }
        }
        group_evict(e, g);
    }
    for (struct recent *r = e->recent_oldest, *next; r; r = next) {
        next = r->newer;
        if (far_from(t, keyed(e, r->rule) ? 0 : e->keep_of[r->rule], r->first, r->last)) {
            recent_evict(e, r);
        }
    }
    jkeys_drop_empty(e, t, 0);
    while (e->seen_oldest && far_from(t, 0, e->seen_oldest->lo, e->seen_oldest->hi)) {
        seen_drop_oldest(e);
    }
    return HVD_OK;
}

static int group_key(hvd_engine *e, const hvd__rule *rule, const char *const *names, size_t n,
                     int all, hvd_buf *out)
{
    hvd_buf_reset(out);
    hvd_buf_adds(out, rule->info.id);
    if (all) {
        for (size_t i = 0; i < e->ents.n; i++) {
            hvd_buf_addc(out, '\x1f');
            hvd_buf_adds(out, e->ents.v[i].name);
            hvd_buf_addc(out, '=');
            hvd_buf_adds(out, e->ents.v[i].value);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            const char *v = entities_get(&e->ents, names[i], strlen(names[i]));

            hvd_buf_addc(out, '\x1f');
            if (v) {
                for (const char *p = v; *p; p++) {
                    hvd_buf_addc(out, (char)tolower((unsigned char)*p));
                }
            }
        }
    }
    return out->data ? HVD_OK : HVD_ENOMEM;
}

/* The start of the quiet period of rule that holds t (floor, also before 1970). */
static hvd_time period_of(const hvd__rule *rule, hvd_time t)
{
    int64_t p = rule->quiet_period > 0 ? rule->quiet_period : 1;
    int64_t q = t / p;

    return mul_sat(t % p < 0 ? q - 1 : q, p);
}

/* Index of the first open diagnosis of g whose period is >= period. Cost: O(log nopen). */
static size_t open_at(const struct group *g, hvd_time period)
{
    size_t lo = 0;
    size_t hi = g->nopen;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (g->open[mid].period < period) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The open diagnosis of g for period, or NULL. */
static struct open_diag *open_find(struct group *g, hvd_time period)
{
    size_t at = open_at(g, period);

    return at < g->nopen && g->open[at].period == period ? &g->open[at] : NULL;
}

/*
 * Makes the free slots on both ends of g's array equal, in an array of cap slots (a new
 * one when cap differs). Cost: O(nopen).
 */
static int open_spread(struct group *g, size_t cap)
{
    struct open_diag *base = g->open_base;
    size_t front = (cap - g->nopen) / 2;

    if (cap != g->open_cap) {
        base = hvd_realloc(g->open_base, cap * sizeof(*base));
        if (!base) {
            return HVD_ENOMEM;
        }
    }
    if (g->nopen) {
        memmove(base + front, base + g->open_front, g->nopen * sizeof(*base));
    }
    g->open_base = base;
    g->open_cap = cap;
    g->open_front = front;
    g->open = base + front;
    return HVD_OK;
}

/*
 * A new, zeroed open diagnosis for period in its sorted place, or NULL when out of memory.
 * The array keeps free slots on both ends and shifts the shorter side, so periods that come
 * in time order (a file read) or in reverse (stored diagnoses primed newest first) cost O(1)
 * amortised each: a side that runs out is given half the free slots again (O(nopen)), and
 * the array doubles when fewer than nopen / 2 are free. A period in the middle costs
 * O(min(at, nopen - at)).
 */
static struct open_diag *open_add(hvd_engine *e, struct group *g, hvd_time period)
{
    size_t at = open_at(g, period);
    int front = at < g->nopen - at; /* shift the head left, else the tail right */
    size_t back = g->open_cap - g->open_front - g->nopen;

    if ((front && g->open_front == 0) || (!front && back == 0)) {
        size_t spare = g->open_cap - g->nopen;
        size_t cap = spare < g->nopen / 2 + 2 ? 2 * g->open_cap + 4 : g->open_cap;

        if (open_spread(g, cap) < 0) {
            return NULL;
        }
    }
    if (front) {
        g->open--;
        g->open_front--;
        memmove(g->open, g->open + 1, at * sizeof(*g->open));
    } else {
        memmove(g->open + at + 1, g->open + at, (g->nopen - at) * sizeof(*g->open));
    }
    memset(&g->open[at], 0, sizeof(g->open[at]));
    g->open[at].period = period;
    g->nopen++;
    e->nopen++;
    return &g->open[at];
}

/* Removes the open diagnosis od (not yet counted as made) from g, shifting the shorter
 * side. */
static void open_remove(hvd_engine *e, struct group *g, struct open_diag *od)
{
    size_t at = (size_t)(od - g->open);

    open_diag_free(od);
    if (at < g->nopen - at - 1) {
        memmove(g->open + 1, g->open, at * sizeof(*g->open));
        g->open++;
        g->open_front++;
    } else {
        memmove(g->open + at, g->open + at + 1, (g->nopen - at - 1) * sizeof(*g->open));
    }
    g->nopen--;
    e->nopen--;
}

/* Drops g's open diagnoses far from t that hold nothing unstored (they are loaded again
 * when needed): a group matched all along keeps only its periods near the events read.
 * Cost: O(nopen) per one dropped. */
static void open_prune(hvd_engine *e, struct group *g, hvd_time t)
{
    for (size_t i = 0; i < g->nopen;) {
        struct open_diag *od = &g->open[i];

        if (od->dirty || !far_from(t, e->span_of[g->rule], od->first, od->last)) {
            i++;
            continue;
        }
        forget_loaded(e, g->rule, OPEN, od->first, od->last);
        open_remove(e, g, od);
        e->stats.evicted++;
    }
}

static int held_order(const void *x, const void *y)
{
    const struct held_ev *a = x;
    const struct held_ev *b = y;

    if (a->dirty != b->dirty) {
        return a->dirty < b->dirty ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Emits every open diagnosis that grew since it was last emitted (see fold()), once each
 * in the order they grew, with the evidence events held for it. Cost: O(h log h) for h
 * held events and O(d log n) for d diagnoses, plus the emits. */
static int flush_dirty(hvd_engine *e)
{
    hvd_evidence list[MAX_EVIDENCE];
    int rc = HVD_OK;
    size_t j = 0;

    if (e->nheld > 1) {
        qsort(e->held, e->nheld, sizeof(*e->held), held_order);
    }
    for (size_t k = 0; k < e->ndirty && rc == HVD_OK; k++) {
        struct group *g = e->dirty[k].g;
        struct open_diag *od = open_find(g, e->dirty[k].period);
        size_t n = 0;

        /* Past MAX_EVIDENCE held for one (out of order), the rest go in further emits. */
        do {
            n = 0;
            while (j < e->nheld && e->held[j].dirty == k && n < MAX_EVIDENCE) {
                list[n++] = e->held[j++].evc.ev;
            }
            if (od && od->dirty) {
                rc = emit_diagnosis(e, &e->rs->rules[g->rule], od->key, HVD_DIAGNOSIS_SIGNATURE,
                                    &od->ents, od->first, od->last, od->count, list, n, NULL, 0);
            }
        } while (rc == HVD_OK && j < e->nheld && e->held[j].dirty == k);
        if (od) {
            od->dirty = 0;
        }
    }
    for (size_t k = 0; k < e->nheld; k++) {
        evidence_free(&e->held[k].evc);
    }
    e->nheld = 0;
    e->ndirty = 0; /* after a failure the engine is destroyed: what is left does not matter */
    return rc;
}

/*
 * A match of an open diagnosis's period (takes ownership of evc). Its evidence is the
 * MAX_EVIDENCE earliest of its matches (the store keeps those of what it is given), so a
 * match's event goes to the store while there is room, or when it is no later than the
 * latest event given so far (ev_horizon: files may come in any order); any other match
 * cannot be among the earliest and only grows count and span. Either way the diagnosis is
 * not emitted at once: it is marked, its event held, and it is emitted once, with what it
 * has then and the events held for it, before it is dropped from memory, at
 * hvd_engine_flush(), or when MAX_DIRTY are marked or MAX_HELD events held. The store
 * keeps the highest count and widest span it is given, so it ends the same as with one
 * emit per match, at the cost of one emit (a store update) per diagnosis and flush
 * instead of one per match.
 */
static int fold(hvd_engine *e, size_t r, struct group *g, struct open_diag *od,
                struct evidence_copy *evc)
{
    hvd_time t = evc->ev.time;
    int keep = od->nevidence < MAX_EVIDENCE || t <= od->ev_horizon;
    int rc = HVD_OK;

    od->count++;
    od->first = t < od->first ? t : od->first;
    od->last = t > od->last ? t : od->last;
    if (!e->dirty) {
        e->dirty = hvd_calloc(MAX_DIRTY, sizeof(*e->dirty));
        e->held = hvd_calloc(MAX_HELD, sizeof(*e->held));
        if (!e->dirty || !e->held) {
            evidence_free(evc);
            return HVD_ENOMEM;
        }
    }
    if (e->ndirty == MAX_DIRTY || (keep && e->nheld == MAX_HELD)) {
        rc = flush_dirty(e);
    }
    if (rc == HVD_OK && !od->dirty) {
        e->dirty[e->ndirty].g = g;
        e->dirty[e->ndirty].period = od->period;
        e->ndirty++;
        od->dirty = e->ndirty;
    }
    if (rc == HVD_OK && keep) {
        od->nevidence += od->nevidence < MAX_EVIDENCE;
        od->ev_horizon = t > od->ev_horizon ? t : od->ev_horizon;
        e->held[e->nheld].dirty = od->dirty - 1;
        e->held[e->nheld].seq = e->nheld;
        e->held[e->nheld].evc = *evc;
        e->nheld++;
        memset(evc, 0, sizeof(*evc));
    }
    evidence_free(evc);
    return rc < 0 ? rc : made(e, r, od->key, &od->ents, od->first, od->last, 0);
}

/*
 * Threshold: adds the match (takes ownership of evc) to the group's pending ones; returns
 * 1 with [*lo, *hi) the pending matches of its period when N of them now lie within the
 * window, 0 when not yet. Pending matches are kept sorted by time, at most MAX_PENDING per
 * group (past that the oldest goes: the only order-dependent bound). Cost: O(k) for the k
 * pending matches of the period.
 */
static int threshold_reached(struct group *g, const hvd__rule *rule, struct evidence_copy *evc,
                             hvd_time period, size_t *lo, size_t *hi)
{
    size_t need = (size_t)rule->threshold_count;
    size_t at;
    size_t a;
    size_t b;
    size_t w;

    if (g->npending == g->pending_cap && g->pending_cap < MAX_PENDING) {
        size_t cap = g->pending_cap ? 2 * g->pending_cap : need;
        struct evidence_copy *grown;

        cap = cap < MAX_PENDING ? cap : MAX_PENDING;
        grown = hvd_realloc(g->pending, cap * sizeof(*grown));
        if (!grown) {
            evidence_free(evc);
            return HVD_ENOMEM;
        }
        g->pending = grown;
        g->pending_cap = cap;
    }
    if (g->npending == MAX_PENDING) {
        evidence_free(&g->pending[0]);
        memmove(g->pending, g->pending + 1, (MAX_PENDING - 1) * sizeof(*g->pending));
        g->npending--;
    }
    at = g->npending;
    while (at > 0 && g->pending[at - 1].ev.time > evc->ev.time) {
        at--;
    }
    memmove(g->pending + at + 1, g->pending + at, (g->npending - at) * sizeof(*g->pending));
    g->pending[at] = *evc;
    g->npending++;
    /* The period's matches are one run of the sorted array around the new one. */
    a = at;
    while (a > 0 && g->pending[a - 1].ev.time >= period) {
        a--;
    }
    b = at + 1;
    while (b < g->npending &&
           hvd_time_span(period, g->pending[b].ev.time) < (uint64_t)rule->quiet_period) {
        b++;
    }
    for (size_t i = a, j = a; i < b; i++) {
        while (hvd_time_span(g->pending[j].ev.time, g->pending[i].ev.time) >
               (uint64_t)rule->threshold_window) {
            j++;
        }
        w = i - j + 1;
        if (w >= need) {
            *lo = a;
            *hi = b;
            return 1;
        }
    }
    return 0;
}

static int matched(hvd_engine *e, size_t r)
{
    const hvd__rule *rule = &e->rs->rules[r];
    const hvd_event *ev = e->ev;
    struct group *g;
    struct open_diag *od;
    struct evidence_copy evc;
    hvd_buf *key = &e->scratch;
    hvd_time period = period_of(rule, ev->time);
    hvd_time first = ev->time;
    hvd_time last = ev->time;
    uint64_t count = 1;
    hvd_evidence list[MAX_EVIDENCE];
    size_t lo = 0;
    size_t hi = 0;
    size_t n = 1;
    char tbuf[40];
    int rc;

    /* The stored diagnoses of this rule the match could fold into are here first. */
    rc = need(e, r, OPEN, add_sat(ev->time, -e->span_of[r]), add_sat(ev->time, e->span_of[r]));
    if (rc < 0) {
        return rc;
    }
    rc = group_key(e, rule, rule->quiet_group, rule->nquiet_group, !rule->quiet_group_set, key);
    if (rc < 0) {
        return rc;
    }
    g = group_find(e, hvd_buf_str(key), r);
    if (!g) {
        return HVD_ENOMEM;
    }
    rc = evidence_from(&evc, ev);
    if (rc < 0) {
        return rc;
    }
    od = open_find(g, period);
    if (od) {
        return fold(e, r, g, od, &evc);
    }
    list[0] = evc.ev;
    if (rule->threshold_count > 1) {
        rc = threshold_reached(g, rule, &evc, period, &lo, &hi);
        if (rc <= 0) {
            return rc;
        }
        first = g->pending[lo].ev.time;
        last = g->pending[hi - 1].ev.time;
        count = hi - lo;
        n = count < MAX_EVIDENCE ? (size_t)count : MAX_EVIDENCE;
        for (size_t i = 0; i < n; i++) {
            list[i] = g->pending[lo + i].ev;
        }
    }
    if (over_soft(e)) {
        open_prune(e, g, ev->time);
    }
    /* A new diagnosis: its key names the rule, the group and its period. */
    hvd_buf_adds(key, "\x1f@");
    hvd_buf_adds(key, hvd_time_format_key(period, tbuf, sizeof(tbuf)));
    od = open_add(e, g, period);
    if (!od) {
        rc = HVD_ENOMEM;
    } else {
        od->key = key->data ? hvd_strdup(hvd_buf_str(key)) : NULL;
        rc = od->key ? entities_copy(&od->ents, &e->ents) : HVD_ENOMEM;
        if (rc < 0) {
            open_remove(e, g, od);
            od = NULL;
        }
    }
    if (rc == HVD_OK) {
        od->first = first;
        od->last = last;
        od->count = count;
        od->nevidence = n;
        od->ev_horizon = list[n - 1].time;
        e->stats.diagnoses++;
        rc = emit_diagnosis(e, rule, od->key, HVD_DIAGNOSIS_SIGNATURE, &od->ents, first, last,
                            count, list, n, NULL, 0);
    }
    if (rule->threshold_count > 1) {
        for (size_t i = lo; i < hi; i++) {
            evidence_free(&g->pending[i]);
        }
        memmove(g->pending + lo, g->pending + hi, (g->npending - hi) * sizeof(*g->pending));
        g->npending -= hi - lo;
    } else {
        evidence_free(&evc);
    }
    if (rc < 0) {
        return rc;
    }
    return made(e, r, od->key, &od->ents, first, last, 0);
}

/* Entities of a match beyond the named captures: host, host_short and <extract>. */
static int extract(hvd_engine *e, const hvd__rule *rule)
{
    char code[16];
    char short_name[256];
    size_t nshort = strcspn(e->ev->host, ".");
    int rc = entities_set(&e->ents, "host", e->ev->host, strlen(e->ev->host));

    nshort = nshort < sizeof(short_name) - 1 ? nshort : sizeof(short_name) - 1;
    for (size_t i = 0; i < nshort; i++) {
        short_name[i] = (char)toupper((unsigned char)e->ev->host[i]);
    }
    if (rc == HVD_OK) {
        rc = entities_set(&e->ents, "host_short", short_name, nshort);
    }
    /* The names the event's text holds come before the rule's own <extract>, which may
     * replace them, and after the named groups of its <match>, which they do not replace.
     * Looked up once per event, at its first match: most events match no rule. */
    if (rc == HVD_OK && !e->text_names_ready && e->namer) {
        int n = hvd_extractor_find(e->namer, e->ev, &e->text_names);

        if (n < 0) {
            rc = n;
        } else {
            e->ntext_names = (size_t)n;
            e->text_names_ready = 1;
        }
    }
    for (size_t i = 0; i < e->ntext_names && rc == HVD_OK; i++) {
        const char *name = e->text_names[i].name;

        if (entities_get(&e->ents, name, strlen(name))) {
            continue;
        }
        rc = entities_set(&e->ents, e->text_names[i].name, e->text_names[i].value,
                          strlen(e->text_names[i].value));
    }

    if (rc == HVD_OK && rule->has_error_code && e->found_code) {
        hvd_errcode_format(e->found_code, code, sizeof(code));
        rc = entities_set(&e->ents, "error_code", code, strlen(code));
    }
    /* An alternative that yields nothing or an empty text leaves the entity as it was: a
     * later, more specific one never wipes the value of an earlier one. */
    for (size_t i = 0; i < rule->nextracts && rc == HVD_OK; i++) {
        const hvd__extract *x = &rule->extracts[i];
        const char *rendered = NULL; /* x->value filled, in e->scratch */

        if (x->value) {
            struct fill_ctx fc = {&e->ents, 1, e->ev->time, e->ev->time};

            rc = fill(x->value, &fc, &e->scratch);
            if (rc < 0) {
                break;
            }
            rendered = hvd_buf_str(&e->scratch);
        }
        if (x->re) { /* on the template's text, when it has one */
            const char *subject = rendered          ? rendered
                                  : x->from_message ? e->ev->message
                                                    : hvd_event_field(e->ev, x->field);
            PCRE2_SIZE *ov;
            int n;

            if (!subject) {
                continue;
            }
            n = run_regex(e, e->cur_rule, x->re, subject);
            if (n < 0) {
                continue;
            }
            ov = pcre2_get_ovector_pointer(e->md);
            if (n >= 2 && ov[2] != PCRE2_UNSET) {
                ov += 2;
            }
            if (ov[1] > ov[0]) {
                rc = entities_set(&e->ents, x->name, subject + ov[0], ov[1] - ov[0]);
            }
        } else if (rendered) {
            if (e->scratch.len > 0) {
                rc = entities_set(&e->ents, x->name, rendered, e->scratch.len);
            }
        } else if (x->system) {
            uint32_t id = x->system == HVD__SYS_THREAD_ID ? e->ev->tid : e->ev->pid;
            char num[16];
            int n = snprintf(num, sizeof(num), "%" PRIu32, id);

            /* 0 is "not known": the entity stays absent. */
            if (id != 0 && n > 0 && (size_t)n < sizeof(num)) {
                rc = entities_set(&e->ents, x->name, num, (size_t)n);
            }
        } else if (x->field) {
            const char *v = hvd_event_field(e->ev, x->field);

            if (v && *v) {
                rc = entities_set(&e->ents, x->name, v, strlen(v));
            }
        }
    }
    return rc;
}

/* eval() of a rule's <match>, without the top-level conditions c proves (NULL: none). */
static int eval_match(hvd_engine *e, const hvd__pred *match, const struct cand *c)
{
    if (!c || match->kind != HVD__P_ALL || (c->implied[0] == NO_KID && c->implied[1] == NO_KID)) {
        return eval(e, match);
    }
    e->stats.predicates++;
    for (size_t i = 0; i < match->nkids; i++) {
        if (i != c->implied[0] && i != c->implied[1] && !eval(e, &match->kids[i])) {
            return 0;
        }
    }
    return 1;
}

static int try_rule(hvd_engine *e, size_t r, const struct cand *c)
{
    const hvd__rule *rule = &e->rs->rules[r];
    int rc;

    if (!rule->info.enabled && !e->match_disabled) {
        return HVD_OK;
    }
    e->stats.candidates++;
    e->cur_rule = r;
    entities_clear(&e->ents);
    e->found_code = 0;
    if (!eval_match(e, &rule->match, c)) {
        return HVD_OK;
    }
    e->stats.matches++;
    rc = extract(e, rule);
    return rc < 0 ? rc : matched(e, r);
}

/* Tries the rules filed under key; implied: whether the conditions the key proves may be
 * skipped (the event's provider was lowered whole). */
static int try_bucket(hvd_engine *e, const char *key, int implied)
{
    const struct bucket *b = bucket_get(e, key, 0);

    for (size_t i = 0; b && i < b->n; i++) {
        int rc = try_rule(e, b->rules[i].rule, implied ? &b->rules[i] : NULL);

        if (rc < 0) {
            return rc;
        }
    }
    return HVD_OK;
}

/* 1 + the index of low (a lowered text) in rs->words, or 0 when it is none of them.
 * Cost: O(1) expected, one hash of low. */
static size_t word_of(const hvd_engine *e, const char *low)
{
    size_t mask = e->nword_slots - 1;

    if (!e->nword_slots) {
        return 0;
    }
    for (size_t i = (size_t)hash(low) & mask; e->word_slots[i]; i = (i + 1) & mask) {
        if (strcmp(e->rs->words[e->word_slots[i] - 1], low) == 0) {
            return e->word_slots[i];
        }
    }
    return 0;
}

static int words_index(hvd_engine *e)
{
    size_t n = 16;

    while (n <= 2 * e->rs->nwords) {
        n *= 2;
    }
    e->word_slots = hvd_calloc(n, sizeof(*e->word_slots));
    if (!e->word_slots) {
        return HVD_ENOMEM;
    }
    e->nword_slots = n;
    for (size_t w = 0; w < e->rs->nwords; w++) {
        size_t i = (size_t)hash(e->rs->words[w]) & (n - 1);

        while (e->word_slots[i]) {
            i = (i + 1) & (n - 1);
        }
        e->word_slots[i] = w + 1;
    }
    return HVD_OK;
}

/* The index key index_rule() files a rule under, "T|name|id" with the parts given, written
 * into key (BUCKET_KEY bytes; name is at most 255): the same text as its snprintf(), without
 * a format to parse for every event. Returns key. */
#define BUCKET_KEY 300
static const char *bucket_key(char *key, char tag, const char *name, int with_id, uint32_t id)
{
    size_t n = 0;
    char digits[10];
    size_t nd = 0;

    key[n++] = tag;
    key[n++] = '|';
    if (name) {
        size_t len = strlen(name);

        memcpy(key + n, name, len);
        n += len;
        if (with_id) {
            key[n++] = '|';
        }
    }
    if (with_id) {
        do {
            digits[nd++] = (char)('0' + id % 10);
            id /= 10;
        } while (id);
        while (nd) {
            key[n++] = digits[--nd];
        }
    }
    key[n] = '\0';
    return key;
}

int hvd_engine_feed(hvd_engine *e, const hvd_event *ev, hvd_error *err)
{
    char key[BUCKET_KEY];
    char low[256];
    int rc = HVD_OK;
    int kind = ev->kind == HVD_SOURCE_CLUSTERLOG ? 2 : 1;
    hvd_event rendered;
    hvd_msgtable_match mm;

    /* A cluster.log [System] line is the event it was rendered from: it is matched by
     * provider and event id like the EVTX event, and keeps its place in the file. A
     * forwarded EVTX event with only its rendered message gets its insertion strings. */
    rc = e->messages ? hvd_msgmatcher_match(e->messages, ev, &mm) : 0;
    if (rc < 0) {
        return hvd_error_set(err, rc, ev->source_path, ev->line, "rule engine: %s",
                             hvd_strerror(rc));
    }
    if (rc == 1) {
        rendered = *ev;
        if (ev->kind == HVD_SOURCE_CLUSTERLOG) {
            rendered.provider = mm.provider;
            rendered.channel = mm.channel;
            rendered.event_id = mm.event_id;
            rendered.level = mm.level;
        }
        rendered.fields = mm.fields;
        rendered.nfields = mm.nfields;
        ev = &rendered;
        e->stats.rendered++;
    }
    e->ntext_names = 0;
    e->text_names_ready = 0;
    e->low_of = NULL;
    rc = HVD_OK;
    e->ev = ev;
    e->codes_ready = 0;
    e->stats.events++;
    e->load_err.code = HVD_OK; /* set by the loader when it fails */
    hvd__channel_normalise(ev->channel ? ev->channel : "", e->channel, sizeof(e->channel));
    lower_copy(low, sizeof(low), ev->provider ? ev->provider : "");
    /* A provider lowered whole has its word; a longer one is compared as text. */
    e->ev_word = ev->provider && strlen(low) == strlen(ev->provider) ? word_of(e, low) : SIZE_MAX;
    if (rc == HVD_OK && (ev->kind == HVD_SOURCE_EVTX || ev->event_id != 0)) {
        int whole = e->ev_word != SIZE_MAX;

        rc = try_bucket(e, bucket_key(key, 'E', low, 1, ev->event_id), whole);
        if (rc == HVD_OK) {
            rc = try_bucket(e, bucket_key(key, 'P', low, 0, 0), whole);
        }
        if (rc == HVD_OK) {
            rc = try_bucket(e, bucket_key(key, 'I', NULL, 1, ev->event_id), 1);
        }
    } else if (rc == HVD_OK && ev->component && *ev->component) {
        lower_copy(low, sizeof(low), ev->component);
        rc = try_bucket(e, bucket_key(key, 'C', low, 0, 0), 0);
    }
    for (size_t i = 0; rc == HVD_OK && i < e->nfallback[kind]; i++) {
        rc = try_rule(e, e->fallback[kind][i], NULL);
    }
    entities_clear(&e->ents);
    if (rc == HVD_OK && (e->ngroups > MAX_GROUPS || e->nopen > MAX_OPEN ||
                         e->nrecent > MAX_RECENT || e->nseen > MAX_SEEN)) {
        rc = evict(e);
    }
    if (rc == HVD_OK && ++e->since_sweep >= e->sweep_every && hvd_time_has_date(ev->time)) {
        e->since_sweep = 0;
        if (over_soft(e)) {
            rc = sweep(e, ev->time);
        }
    }
    e->stats.groups = e->ngroups;
    e->stats.kept = e->nrecent;
    e->ev = NULL;
    if (rc < 0 && e->load_err.code < 0) {
        if (err) {
            *err = e->load_err;
        }
        return rc;
    }
    if (rc < 0) {
        return hvd_error_set(err, rc, ev->source_path, ev->line, "rule engine: %s",
                             hvd_strerror(rc));
    }
    return HVD_OK;
}

int hvd_engine_flush(hvd_engine *e, hvd_error *err)
{
    int rc = flush_dirty(e);

    if (rc < 0) {
        return hvd_error_set(err, rc, NULL, 0, "rule engine: %s", hvd_strerror(rc));
    }
    return HVD_OK;
}

void hvd__engine_match_disabled(hvd_engine *e, int on)
{
    e->match_disabled = on;
}

size_t hvd__engine_held(const hvd_engine *e)
{
    return e->ngroups + e->nopen + e->nrecent;
}

void hvd__engine_drop_far(hvd_engine *e, size_t soft, size_t every)
{
    e->soft_kept = soft;
    e->sweep_every = every > 0 ? every : 1;
}

const hvd_engine_stats *hvd_engine_get_stats(const hvd_engine *e)
{
    return &e->stats;
}

/* Adds (rule, span) to list *p of *n entries, or widens the span of the rule's entry. */
static int partner_add(struct partner **p, size_t *n, size_t rule, hvd_time span)
{
    struct partner *grown;

    for (size_t i = 1; i < *n; i++) { /* the first is the rule itself, kept apart */
        if ((*p)[i].rule == rule) {
            (*p)[i].span = span > (*p)[i].span ? span : (*p)[i].span;
            return HVD_OK;
        }
    }
    grown = hvd_realloc(*p, (*n + 2) * sizeof(*grown));
    if (!grown) {
        return HVD_ENOMEM;
    }
    *p = grown;
    (*p)[*n].rule = rule;
    (*p)[*n].span = span;
    (*n)++;
    (*p)[*n].rule = SIZE_MAX;
    return HVD_OK;
}

/* The stored diagnoses a diagnosis D of rule r must see before made() searches: its own
 * (to know whether it changed), and for each role D can take in a correlation, the rules of
 * the other roles within the correlation's window (its partners), and those of its own
 * role within twice the window when the role gathers (the members gathered with D). Also
 * sets how long r's kept diagnoses stay near the events read: the longest span a search
 * of another rule's diagnosis reaches for them. Only rules in a correlation have a list. */
static int partners_of(hvd_engine *e, size_t r)
{
    size_t n = 0;
    int rc;

    if (!e->corr_by_rule[r]) {
        return HVD_OK;
    }
    rc = partner_add(&e->partners[r], &n, r, 0);
    for (size_t *c = e->corr_by_rule[r]; rc == HVD_OK && *c; c++) {
        const hvd__rule *corr = &e->rs->rules[*c - 1];
        hvd_time w = corr->window < INT64_MAX / 8 ? corr->window : INT64_MAX / 8;

        for (size_t m = 0; rc == HVD_OK && m < corr->nmembers; m++) {
            hvd_time span = corr->members[m].gather ? 2 * w : w;

            if (corr->members[m].rule != r) {
                continue;
            }
            e->keep_of[r] = span > e->keep_of[r] ? span : e->keep_of[r];
            for (size_t o = 0; rc == HVD_OK && o < corr->nmembers; o++) {
                if (o != m) {
                    rc = partner_add(&e->partners[r], &n, corr->members[o].rule, w);
                } else if (corr->members[m].gather) {
                    rc = partner_add(&e->partners[r], &n, r, 2 * w);
                }
            }
        }
    }
    return rc;
}

/* Whether every role of correlation c is reached from any other through its joins (not
 * optional ones), and one role at least does not gather: then a search starting from any
 * member fills each role by a join lookup (fill_roles()), never from every kept diagnosis
 * of a rule. Cost: O(members · joins). */
static int joined_whole(const hvd__rule *corr)
{
    unsigned char reached[8] = {0};
    size_t fixed = 0;
    int grew = 1;

    if (corr->nmembers == 0 || corr->nmembers > sizeof(reached)) {
        return 0;
    }
    for (size_t m = 0; m < corr->nmembers; m++) {
        fixed += !corr->members[m].gather;
    }
    reached[0] = 1;
    while (grew) {
        grew = 0;
        for (size_t i = 0; i < corr->njoins; i++) {
            const hvd__join *j = &corr->joins[i];

            if (!j->optional && reached[j->left] != reached[j->right]) {
                reached[j->left] = reached[j->right] = 1;
                grew = 1;
            }
        }
    }
    for (size_t m = 0; m < corr->nmembers; m++) {
        if (!reached[m]) {
            return 0;
        }
    }
    return fixed > 0;
}

/* A rule is joined when every correlation it is a member of is joined whole (see
 * keyed()). */
static void mark_joined(hvd_engine *e, size_t r)
{
    e->joined[r] = e->corr_by_rule[r] != NULL;
    for (size_t *c = e->corr_by_rule[r]; c && *c; c++) {
        if (!joined_whole(&e->rs->rules[*c - 1])) {
            e->joined[r] = 0;
        }
    }
}

int hvd_engine_create(hvd_engine **out, const hvd_ruleset *rs, hvd_engine_emit emit, void *ud,
                      hvd_error *err)
{
    hvd_engine *e;
    int rc = HVD_OK;

    *out = NULL;
    e = hvd_calloc(1, sizeof(*e));
    if (!e) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate the rule engine");
    }
    e->rs = rs;
    e->emit = emit;
    e->ud = ud;
    if (rs->messages && hvd_msgtable_count(rs->messages) > 0 &&
        hvd_msgmatcher_create(&e->messages, rs->messages, err) < 0) {
        hvd_free(e);
        return HVD_ENOMEM;
    }
    if (hvd_extract_count(rs->names) > 0 && hvd_extractor_create(&e->namer, rs->names, err) < 0) {
        hvd_msgmatcher_destroy(e->messages);
        hvd_free(e);
        return HVD_ENOMEM;
    }
    e->load_part = -1;
    e->soft_kept = SOFT_KEPT;
    e->sweep_every = SWEEP_EVERY;
    hvd_buf_init(&e->scratch, 256 * 1024);
    hvd_buf_init(&e->lowered, 1024 * 1024);
    if (words_index(e) < 0) {
        rc = HVD_ENOMEM;
    }
    e->md = pcre2_match_data_create(rs->max_captures + 1, NULL);
    e->mctx = pcre2_match_context_create(NULL);
    e->corr_by_rule = hvd_calloc(rs->nrules + 1, sizeof(*e->corr_by_rule));
    e->recent_by_rule = hvd_calloc(rs->nrules + 1, sizeof(*e->recent_by_rule));
    e->attrs_of_rule = hvd_calloc(rs->nrules + 1, sizeof(*e->attrs_of_rule));
    e->join_attrs = hvd_calloc(rs->nrules + 1, sizeof(*e->join_attrs));
    e->limit_hits = hvd_calloc(rs->nrules + 1, sizeof(*e->limit_hits));
    e->limit_told = hvd_calloc(rs->nrules + 1, sizeof(*e->limit_told));
    e->marks = hvd_calloc(2 * rs->nrules + 2, sizeof(*e->marks));
    e->span_of = hvd_calloc(rs->nrules + 1, sizeof(*e->span_of));
    e->keep_of = hvd_calloc(rs->nrules + 1, sizeof(*e->keep_of));
    e->partners = hvd_calloc(rs->nrules + 1, sizeof(*e->partners));
    e->joined = hvd_calloc(rs->nrules + 1, sizeof(*e->joined));
    e->in_store = hvd_calloc(rs->nrules + 1, 1);
    if (!e->joined || !e->in_store) {
        rc = HVD_ENOMEM;
    } else if (!e->md || !e->mctx || !e->corr_by_rule || !e->recent_by_rule || !e->attrs_of_rule ||
               !e->join_attrs || !e->limit_hits || !e->limit_told || !e->marks || !e->span_of ||
               !e->keep_of || !e->partners) {
        rc = HVD_ENOMEM;
    } else {
        pcre2_set_match_limit(e->mctx, HVD__MATCH_LIMIT);
        pcre2_set_depth_limit(e->mctx, HVD__DEPTH_LIMIT);
    }
    /* How far from an event of a rule its group's state can matter. */
    for (size_t r = 0; rc == HVD_OK && r < rs->nrules; r++) {
        const hvd__rule *rule = &rs->rules[r];
        int64_t span = rule->threshold_window;

        span = rule->quiet_period > span ? rule->quiet_period : span;
        e->span_of[r] = span < INT64_MAX / 8 ? span : INT64_MAX / 8;
    }
    for (size_t r = 0; rc == HVD_OK && r < rs->nrules; r++) {
        const hvd__rule *rule = &rs->rules[r];

        if (!rule->info.correlation) {
            rc = index_rule(e, r);
            continue;
        }
        rc = index_joins(e, r);
        for (size_t m = 0; rc == HVD_OK && m < rule->nmembers; m++) {
            size_t member = rule->members[m].rule;
            size_t n = 0;
            size_t *grown;

            while (e->corr_by_rule[member] && e->corr_by_rule[member][n]) {
                n++;
            }
            if (n && e->corr_by_rule[member][n - 1] == r + 1) {
                continue;
            }
            grown = hvd_realloc(e->corr_by_rule[member], (n + 2) * sizeof(*grown));
            if (!grown) {
                rc = HVD_ENOMEM;
                break;
            }
            grown[n] = r + 1;
            grown[n + 1] = 0;
            e->corr_by_rule[member] = grown;
        }
    }
    for (size_t r = 0; rc == HVD_OK && r < rs->nrules; r++) {
        rc = partners_of(e, r);
    }
    for (size_t r = 0; rc == HVD_OK && r < rs->nrules; r++) {
        mark_joined(e, r);
    }
    for (size_t r = 0; rc == HVD_OK && r < rs->nrules; r++) {
        e->marks[2 * r + OPEN].unit = e->span_of[r] / 32 > SLICE ? e->span_of[r] / 32 : SLICE;
        e->marks[2 * r + KEPT].unit = e->keep_of[r] / 32 > SLICE ? e->keep_of[r] / 32 : SLICE;
    }
    if (rc < 0) {
        hvd_engine_destroy(e);
        return hvd_error_set(err, rc, NULL, 0, "cannot build the rule index");
    }
    *out = e;
    return HVD_OK;
}

int hvd_engine_set_joined_loader(hvd_engine *e, hvd_engine_load_joined load,
                                 hvd_engine_stored stored, hvd_error *err)
{
    e->load_joined = e->load && stored ? load : NULL;
    /* What the store holds now: what the engine makes after is here until it drops it. */
    for (size_t r = 0; e->load_joined && r < e->rs->nrules; r++) {
        int rc = e->joined[r] ? stored(e->load_ud, e->rs->rules[r].info.id, err) : 0;

        if (rc < 0) {
            e->load_joined = NULL;
            return rc;
        }
        e->in_store[r] = rc > 0;
    }
    return HVD_OK;
}

void hvd_engine_set_loader(hvd_engine *e, hvd_engine_load load, void *ud)
{
    e->load = load;
    e->load_ud = ud;
    e->load_joined = load ? e->load_joined : NULL;
    for (size_t r = 0; r < 2 * e->rs->nrules; r++) {
        e->marks[r].n = 0;
    }
}

void hvd_engine_limit_report(hvd_engine *e,
                             void (*fn)(void *ud, const char *rule_id, uint64_t hits,
                                        uint64_t total),
                             void *ud)
{
    for (size_t r = 0; r < e->rs->nrules; r++) {
        if (e->limit_hits[r] != e->limit_told[r]) {
            fn(ud, e->rs->rules[r].info.id, e->limit_hits[r] - e->limit_told[r], e->limit_hits[r]);
            e->limit_told[r] = e->limit_hits[r];
        }
    }
}

/* A copy of name that lives as long as the engine (entity names are kept by pointer). */
static const char *intern(hvd_engine *e, const char *name)
{
    char **grown;

    for (size_t i = 0; i < e->nnames; i++) {
        if (strcmp(e->names[i], name) == 0) {
            return e->names[i];
        }
    }
    grown = hvd_realloc(e->names, (e->nnames + 1) * sizeof(*grown));
    if (!grown) {
        return NULL;
    }
    e->names = grown;
    e->names[e->nnames] = hvd_strdup(name);
    return e->names[e->nnames] ? e->names[e->nnames++] : NULL;
}

/* Reopens a stored signature diagnosis in its group, so its quiet period goes on. */
static int reopen(hvd_engine *e, size_t r, const char *key, const struct entities *es,
                  hvd_time first, hvd_time last, uint64_t count)
{
    const char *at = strstr(key, "\x1f@");
    struct group *g;
    struct open_diag *od;
    hvd_time period;
    char *gk;

    /* The key is the group's key, then the period: see matched(). */
    for (const char *p = at; p; p = strstr(p + 1, "\x1f@")) {
        at = p;
    }
    if (!at) {
        return HVD_OK;
    }
    gk = hvd_strndup(key, (size_t)(at - key));
    g = gk ? group_find(e, gk, r) : NULL;
    hvd_free(gk);
    if (!g) {
        return HVD_ENOMEM;
    }
    /* Its period holds its first match (a key of an older version, named by the first
     * time, lands in the period of that time too). */
    period = period_of(&e->rs->rules[r], first);
    if (open_find(g, period)) {
        return HVD_OK; /* held already (made here, or primed before) */
    }
    od = open_add(e, g, period);
    if (!od) {
        return HVD_ENOMEM;
    }
    od->key = hvd_strdup(key);
    if (!od->key || entities_copy(&od->ents, es) < 0) {
        open_remove(e, g, od);
        return HVD_ENOMEM;
    }
    od->first = first;
    od->last = last;
    od->count = count;
    od->nevidence = count < MAX_EVIDENCE ? (size_t)count : MAX_EVIDENCE;
    od->ev_horizon = last; /* its evidence is stored: none later than its last match */
    return HVD_OK;
}

int hvd_engine_prime(hvd_engine *e, const char *rule_id, const char *key, const hvd_entity *ents,
                     size_t nents, hvd_time first, hvd_time last, uint64_t count, hvd_error *err)
{
    long r = hvd__ruleset_find(e->rs, rule_id);
    struct entities es = {NULL, 0, 0};
    struct recent *kept = NULL;
    int rc = HVD_OK;

    if (r < 0) {
        return HVD_OK;
    }
    for (size_t i = 0; i < nents && rc == HVD_OK; i++) {
        const char *name = intern(e, ents[i].name);

        rc = name ? entities_set(&es, name, ents[i].value, strlen(ents[i].value)) : HVD_ENOMEM;
    }
    /* Kept, not searched: combinations among primed diagnoses were made before. */
    e->primes++;
    if (rc == HVD_OK && e->corr_by_rule[r] && e->load_part != OPEN) {
        rc = remember(e, (size_t)r, key, &es, first, last, &kept, NULL);
        if (rc == HVD_OK) {
            kept->primed = e->primes;
        }
    }
    if (rc == HVD_OK && !e->rs->rules[r].info.correlation && e->load_part != KEPT) {
        rc = reopen(e, (size_t)r, key, &es, first, last, count);
    }
    entities_free(&es);
    if (rc < 0) {
        return hvd_error_set(err, rc, NULL, 0, "cannot keep a stored diagnosis");
    }
    return HVD_OK;
}

void hvd_engine_destroy(hvd_engine *e)
{
    if (!e) {
        return;
    }
    for (size_t s = 0; s < sizeof(e->index) / sizeof(e->index[0]); s++) {
        struct bucket *b = e->index[s];

        while (b) {
            struct bucket *next = b->next;

            hvd_free(b->key);
            hvd_free(b->rules);
            hvd_free(b);
            b = next;
        }
    }
    for (int k = 0; k < 3; k++) {
        hvd_free(e->fallback[k]);
    }
    for (size_t s = 0; s < e->ngroup_slots; s++) {
        struct group *g = e->groups[s];

        while (g) {
            struct group *next = g->next;

            group_free(g);
            g = next;
        }
    }
    hvd_free(e->groups);
    while (e->recent_oldest) {
        recent_drop(e, e->recent_oldest);
    }
    hvd_free(e->recent_by_rule);
    while (e->seen_oldest) {
        seen_drop_oldest(e);
    }
    for (size_t r = 0; e->corr_by_rule && r < e->rs->nrules + 1; r++) {
        hvd_free(e->corr_by_rule[r]);
    }
    hvd_free(e->corr_by_rule);
    for (size_t r = 0; e->attrs_of_rule && r < e->rs->nrules + 1; r++) {
        hvd_free(e->attrs_of_rule[r]);
    }
    hvd_free(e->attrs_of_rule);
    for (size_t r = 0; e->join_attrs && r < e->rs->nrules + 1; r++) {
        hvd_free(e->join_attrs[r]);
    }
    hvd_free(e->join_attrs);
    hvd_free(e->jattrs);
    jkeys_drop_empty(e, 0, 1); /* the kept diagnoses went above: every key is empty */
    hvd_free(e->jslots);
    for (size_t i = 0; i < e->nnames; i++) {
        hvd_free(e->names[i]);
    }
    hvd_free(e->names);
    hvd_free(e->limit_hits);
    hvd_free(e->limit_told);
    for (size_t r = 0; e->marks && r < 2 * e->rs->nrules; r++) {
        hvd_free(e->marks[r].v);
    }
    hvd_free(e->marks);
    hvd_free(e->joined);
    hvd_free(e->in_store);
    hvd_free(e->span_of);
    hvd_free(e->keep_of);
    for (size_t r = 0; e->partners && r < e->rs->nrules; r++) {
        hvd_free(e->partners[r]);
    }
    hvd_free(e->partners);
    hvd_free(e->dirty);
    for (size_t i = 0; i < e->nheld; i++) {
        evidence_free(&e->held[i].evc);
    }
    hvd_free(e->held);
    pcre2_match_data_free(e->md);
    pcre2_match_context_free(e->mctx);
    hvd_msgmatcher_destroy(e->messages);
    hvd_extractor_destroy(e->namer);
    entities_free(&e->ents);
    hvd_buf_free(&e->scratch);
    hvd_buf_free(&e->lowered);
    hvd_free(e->word_slots);
    hvd_free(e);
}
