/*
 * needs: the EVTX keys of a rule set, for the reader to skip what no rule can match.
 *
 * Each enabled rule that can meet an EVTX event gives one entry: the providers, channels and
 * event ids its <match> requires at its top level (each "any" when it names none), read as
 * the engine files rules (engine.c index_rule(): the first <provider> or <any> of providers,
 * the first <event-id>). A rule the engine files under a cluster.log component only, or that
 * requires <source>clusterlog</source> or a cluster.log level word, never meets an EVTX event
 * and gives none. Each template of the message table gives one entry too (its provider and
 * event id). An event is needed when some entry admits it; an entry with no key at all
 * admits every event (hvd_needs_everything()).
 *
 * The set over-approximates what can match (the other conditions of a rule are not looked
 * at), so skipping what it rejects changes no result.
 *
 * Lookup: entries with providers are filed in one array of (lower-case provider, entry)
 * sorted by provider, searched by bisection; entries without a provider are tried in turn.
 */
#include "needs.h"

#include "alloc.h"
#include "rules_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_MAX 256 /* provider and channel names compared; longer ones are cut alike */

struct entry {
    const char **channels; /* normalised; NULL: any */
    size_t nchannels;
    hvd__range *ranges; /* NULL: any id; the rule's own, or one_range */
    size_t nranges;
    hvd__range one_range; /* a message-table entry's one id */
};

struct by_provider {
    char *provider; /* lower case */
    size_t entry;
};

struct hvd_needs {
    int everything;
    struct entry *entries;
    size_t nentries;
    struct by_provider *providers;
    size_t nproviders;
    size_t *anyprov; /* entries without a provider */
    size_t nanyprov;
    char **channels; /* owned normalised channel names the entries point to */
    size_t nchannels;
};

/* The keys of one rule, as the engine reads them. */
struct keys {
    const char *providers[16];
    size_t nproviders;
    const hvd__pred *ids;
    const char *channels[16];
    size_t nchannels;
    int component;  /* names a cluster.log component */
    int clusterlog; /* <source>clusterlog</source> or a cluster.log level word */
};

static int all_kids(const hvd__pred *p, enum hvd__pred_kind kind)
{
    int ok = p->nkids > 0 && p->nkids <= 16;

    for (size_t j = 0; ok && j < p->nkids; j++) {
        ok = p->kids[j].kind == kind;
    }
    return ok;
}

static void collect(const hvd__pred *match, struct keys *k)
{
    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < match->nkids; i++) {
        const hvd__pred *p = &match->kids[i];

        if (p->kind == HVD__P_PROVIDER && k->nproviders == 0) {
            k->providers[k->nproviders++] = p->text;
        } else if (p->kind == HVD__P_ANY && k->nproviders == 0 && all_kids(p, HVD__P_PROVIDER)) {
            for (size_t j = 0; j < p->nkids; j++) {
                k->providers[k->nproviders++] = p->kids[j].text;
            }
        } else if (p->kind == HVD__P_CHANNEL && k->nchannels == 0) {
            k->channels[k->nchannels++] = p->text;
        } else if (p->kind == HVD__P_ANY && k->nchannels == 0 && all_kids(p, HVD__P_CHANNEL)) {
            for (size_t j = 0; j < p->nkids; j++) {
                k->channels[k->nchannels++] = p->kids[j].text;
            }
        } else if (p->kind == HVD__P_EVENT_ID && !k->ids) {
            k->ids = p;
        } else if (p->kind == HVD__P_COMPONENT) {
            k->component = 1;
        } else if (p->kind == HVD__P_SOURCE && p->source == HVD_SOURCE_CLUSTERLOG) {
            k->clusterlog = 1;
        } else if (p->kind == HVD__P_LEVEL_WORD && p->text && *p->text) {
            k->clusterlog = 1; /* EVTX events have no level word */
        }
    }
}

/* Whether the engine ever tries rule r on an EVTX event; fills *k. */
static int meets_evtx(const hvd__rule *r, struct keys *k)
{
    uint64_t span = 0;

    if (r->info.correlation) {
        return 0;
    }
    collect(&r->match, k);
    if (k->clusterlog) {
        return 0;
    }
    for (size_t i = 0; k->ids && i < k->ids->nranges; i++) {
        span += k->ids->ranges[i].hi - k->ids->ranges[i].lo + 1;
    }
    /* Filed by provider or by id, it meets EVTX events; filed by component, never. */
    if (k->nproviders == 0 && !(k->ids && span <= 512) && k->component) {
        return 0;
    }
    return 1;
}

int hvd_needs_unkeyed(const hvd_ruleset *rs, size_t i)
{
    struct keys k;

    if (!rs || i >= rs->nrules || !meets_evtx(&rs->rules[i], &k)) {
        return 0;
    }
    return k.nproviders == 0 && !k.ids;
}

static void lower(const char *in, char *out)
{
    size_t n = 0;

    for (; in && in[n] && n + 1 < KEY_MAX; n++) {
        out[n] = (char)tolower((unsigned char)in[n]);
    }
    out[n] = '\0';
}

static int add_provider(hvd_needs *n, size_t *cap, const char *provider, size_t entry)
{
    char low[KEY_MAX];

    if (n->nproviders == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct by_provider *grown = hvd_realloc(n->providers, c * sizeof(*grown));

        if (!grown) {
            return HVD_ENOMEM;
        }
        n->providers = grown;
        *cap = c;
    }
    lower(provider, low);
    n->providers[n->nproviders].provider = hvd_strdup(low);
    if (!n->providers[n->nproviders].provider) {
        return HVD_ENOMEM;
    }
    n->providers[n->nproviders].entry = entry;
    n->nproviders++;
    return HVD_OK;
}

static int by_provider_cmp(const void *a, const void *b)
{
    const struct by_provider *x = a;
    const struct by_provider *y = b;
    int c = strcmp(x->provider, y->provider);

    return c ? c : (x->entry > y->entry) - (x->entry < y->entry);
}

/* Adds one entry; providers NULL/0 and so on mean "any". */
static int add_entry(hvd_needs *n, size_t *pcap, const char *const *providers, size_t nproviders,
                     const char *const *channels, size_t nchannels, const hvd__pred *ids,
                     int one_id)
{
    struct entry *e = &n->entries[n->nentries];
    size_t at = n->nentries;
    int rc = HVD_OK;

    memset(e, 0, sizeof(*e));
    if (ids) {
        e->ranges = ids->ranges;
        e->nranges = ids->nranges;
    } else if (one_id >= 0) {
        e->one_range.lo = e->one_range.hi = (uint32_t)one_id;
        e->ranges = &e->one_range;
        e->nranges = 1;
    }
    if (nchannels) {
        e->channels = hvd_calloc(nchannels, sizeof(*e->channels));
        if (!e->channels) {
            return HVD_ENOMEM;
        }
        for (size_t i = 0; i < nchannels; i++) {
            char **grown = hvd_realloc(n->channels, (n->nchannels + 1) * sizeof(*grown));

            if (!grown) {
                return HVD_ENOMEM;
            }
            n->channels = grown;
            n->channels[n->nchannels] = hvd_strdup(channels[i]); /* normalised by the loader */
            if (!n->channels[n->nchannels]) {
                return HVD_ENOMEM;
            }
            e->channels[i] = n->channels[n->nchannels++];
        }
        e->nchannels = nchannels;
    }
    n->nentries++;
    if (!nproviders && !e->ranges && !e->nchannels) {
        n->everything = 1;
    }
    for (size_t i = 0; i < nproviders && rc == HVD_OK; i++) {
        rc = add_provider(n, pcap, providers[i], at);
    }
    if (rc == HVD_OK && !nproviders) {
        n->anyprov[n->nanyprov++] = at;
    }
    return rc;
}

int hvd_needs_create(hvd_needs **out, const hvd_ruleset *rs, hvd_error *err)
{
    hvd_needs *n = hvd_calloc(1, sizeof(*n));
    size_t nmsg = rs->messages ? hvd_msgtable_count(rs->messages) : 0;
    size_t total = rs->nrules + nmsg;
    size_t pcap = 0;
    int rc = HVD_OK;

    *out = NULL;
    if (n) {
        n->entries = hvd_calloc(total + 1, sizeof(*n->entries));
        n->anyprov = hvd_calloc(total + 1, sizeof(*n->anyprov));
    }
    if (!n || !n->entries || !n->anyprov) {
        rc = HVD_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < rs->nrules && rc == HVD_OK; i++) {
        const hvd__rule *r = &rs->rules[i];
        struct keys k;

        if (!r->info.enabled || !meets_evtx(r, &k)) {
            continue;
        }
        rc = add_entry(n, &pcap, k.providers, k.nproviders, k.channels, k.nchannels, k.ids, -1);
    }
    for (size_t i = 0; i < nmsg && rc == HVD_OK; i++) {
        const char *provider;
        uint16_t id;

        hvd_msgtable_entry(rs->messages, i, &provider, &id);
        rc = add_entry(n, &pcap, &provider, 1, NULL, 0, NULL, id);
    }
    if (rc < 0) {
        goto fail;
    }
    if (n->nproviders) {
        qsort(n->providers, n->nproviders, sizeof(*n->providers), by_provider_cmp);
    }
    *out = n;
    return HVD_OK;
fail:
    hvd_needs_destroy(n);
    return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate the rules' needs");
}

void hvd_needs_destroy(hvd_needs *n)
{
    if (!n) {
        return;
    }
    for (size_t i = 0; i < n->nentries; i++) {
        hvd_free(n->entries[i].channels);
    }
    for (size_t i = 0; i < n->nproviders; i++) {
        hvd_free(n->providers[i].provider);
    }
    for (size_t i = 0; i < n->nchannels; i++) {
        hvd_free(n->channels[i]);
    }
    hvd_free(n->entries);
    hvd_free(n->providers);
    hvd_free(n->anyprov);
    hvd_free(n->channels);
    hvd_free(n);
}

int hvd_needs_everything(const hvd_needs *n)
{
    return n->everything;
}

/* Whether entry e admits the channel (normalised, or NULL: not worked out yet) and id. */
static int admits(const struct entry *e, const char *channel, char norm[KEY_MAX], uint16_t event_id)
{
    int ok = !e->ranges;

    for (size_t i = 0; !ok && i < e->nranges; i++) {
        ok = event_id >= e->ranges[i].lo && event_id <= e->ranges[i].hi;
    }
    if (!ok || !e->nchannels) {
        return ok;
    }
    if (!norm[0] && !norm[1]) {
        hvd__channel_normalise(channel ? channel : "", norm, KEY_MAX);
        if (!norm[0]) {
            norm[1] = '\1'; /* worked out, and empty */
        }
    }
    for (size_t i = 0; i < e->nchannels; i++) {
        if (strcmp(e->channels[i], norm) == 0) {
            return 1;
        }
    }
    return 0;
}

int hvd_needs_evtx(const hvd_needs *n, const char *provider, const char *channel, uint16_t event_id)
{
    char low[KEY_MAX];
    char norm[KEY_MAX];
    size_t lo = 0;
    size_t hi = n->nproviders;

    if (n->everything) {
        return 1;
    }
    norm[0] = '\0';
    norm[1] = '\0';
    for (size_t i = 0; i < n->nanyprov; i++) {
        if (admits(&n->entries[n->anyprov[i]], channel, norm, event_id)) {
            return 1;
        }
    }
    lower(provider, low);
    while (lo < hi) { /* the first entry filed under low */
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(n->providers[mid].provider, low) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (; lo < n->nproviders && strcmp(n->providers[lo].provider, low) == 0; lo++) {
        if (admits(&n->entries[n->providers[lo].entry], channel, norm, event_id)) {
            return 1;
        }
    }
    return 0;
}

/* Where a triple sits in the memo: its lengths, id and last bytes, which tell the providers
 * and channels of one family apart; the slot itself is compared whole. */
static size_t memo_slot(const char *p, size_t plen, const char *c, size_t clen, uint16_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull ^ plen ^ clen << 8;

    for (size_t i = plen > 8 ? plen - 8 : 0; i < plen; i++) {
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    }
    for (size_t i = clen > 8 ? clen - 8 : 0; i < clen; i++) {
        h = (h ^ (unsigned char)c[i]) * 0x100000001b3ull;
    }
    return (size_t)(h ^ h >> 29) & (HVD_NEEDS_MEMO_SLOTS - 1);
}

int hvd_needs_evtx_memo(const hvd_needs *n, hvd_needs_memo *m, const char *provider,
                        const char *channel, uint16_t event_id)
{
    const char *p = provider ? provider : "";
    const char *c = channel ? channel : "";
    size_t plen = strlen(p);
    size_t clen = strlen(c);
    struct hvd_needs_memo_slot *s;
    int answer;

    if (n->everything) {
        return 1;
    }
    if (plen + clen + 2 > HVD_NEEDS_MEMO_TEXT) {
        return hvd_needs_evtx(n, provider, channel, event_id);
    }
    s = &m->slot[memo_slot(p, plen, c, clen, event_id)];
    if (s->used && s->event_id == event_id && s->plen == plen && s->clen == clen &&
        memcmp(s->text, p, plen) == 0 && memcmp(s->text + plen + 1, c, clen) == 0) {
        return s->answer;
    }
    answer = hvd_needs_evtx(n, provider, channel, event_id);
    s->used = 1;
    s->answer = (uint8_t)answer;
    s->plen = (uint8_t)plen;
    s->clen = (uint8_t)clen;
    s->event_id = event_id;
    memcpy(s->text, p, plen + 1);
    memcpy(s->text + plen + 1, c, clen + 1);
    return answer;
}
