/*
 * diagbuf: emitted diagnoses merged per key until written (see diagbuf.h for what a merge
 * keeps and why writing it equals writing each one). Entries sit in an array in the order
 * their keys first came; an open-addressing table of indexes finds a key. Everything an
 * entry points to is its own copy; the bytes held are counted against the bound.
 */
#include "diagbuf.h"

#include "alloc.h"

#include <stdint.h>
#include <string.h>

struct entry {
    char *key;
    uint64_t hash;
    hvd_diagnosis_kind kind;
    hvd_severity severity;
    char *rule_id;
    char *title;
    char *confidence;
    char *cause;
    char *remedy;
    char **refs;
    size_t nrefs;
    hvd_entity *ents;
    size_t nents;
    hvd_time first;
    hvd_time last;
    uint64_t count;
    size_t evidence_keep; /* the last emitted's */
    hvd_evidence *ev;
    size_t nev, evcap;
    char **related;
    size_t nrelated, relcap;
};

struct hvd_diagbuf {
    struct entry *v;
    size_t n, cap;
    size_t *slots; /* index + 1 into v, 0 when free; nslots is a power of two > 2 n */
    size_t nslots;
    size_t bytes; /* copied bytes held */
    size_t max_bytes;
};

int hvd_diagbuf_create(hvd_diagbuf **out, size_t max_bytes, hvd_error *err)
{
    hvd_diagbuf *b = hvd_calloc(1, sizeof(*b));

    *out = NULL;
    if (!b) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "cannot allocate a diagnosis buffer");
    }
    b->max_bytes = max_bytes;
    *out = b;
    return HVD_OK;
}

static uint64_t key_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;

    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

/* A copy of s (NULL stays NULL) counted in b->bytes; *fail set when out of memory. */
static char *copy(hvd_diagbuf *b, const char *s, int *fail)
{
    char *c;

    if (!s) {
        return NULL;
    }
    c = hvd_strdup(s);
    if (!c) {
        *fail = 1;
        return NULL;
    }
    b->bytes += strlen(s) + 1;
    return c;
}

static void entry_free(struct entry *e)
{
    hvd_free(e->key);
    hvd_free(e->rule_id);
    hvd_free(e->title);
    hvd_free(e->confidence);
    hvd_free(e->cause);
    hvd_free(e->remedy);
    for (size_t i = 0; i < e->nrefs; i++) {
        hvd_free(e->refs[i]);
    }
    hvd_free(e->refs);
    for (size_t i = 0; i < e->nents; i++) {
        hvd_free((char *)e->ents[i].name);
        hvd_free((char *)e->ents[i].value);
    }
    hvd_free(e->ents);
    for (size_t i = 0; i < e->nev; i++) {
        hvd_free((char *)e->ev[i].source_path);
        hvd_free((char *)e->ev[i].host);
        hvd_free((char *)e->ev[i].provider);
        hvd_free((char *)e->ev[i].channel);
        hvd_free((char *)e->ev[i].component);
        hvd_free((char *)e->ev[i].message);
        hvd_free((char *)e->ev[i].level_text);
        hvd_free((char *)e->ev[i].task_text);
        hvd_free((char *)e->ev[i].opcode_text);
        hvd_free((char *)e->ev[i].channel_text);
    }
    hvd_free(e->ev);
    for (size_t i = 0; i < e->nrelated; i++) {
        hvd_free(e->related[i]);
    }
    hvd_free(e->related);
    memset(e, 0, sizeof(*e));
}

void hvd_diagbuf_clear(hvd_diagbuf *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        entry_free(&b->v[i]);
    }
    b->n = 0;
    b->bytes = 0;
    if (b->slots) {
        memset(b->slots, 0, b->nslots * sizeof(*b->slots));
    }
}

void hvd_diagbuf_destroy(hvd_diagbuf *b)
{
    if (!b) {
        return;
    }
    hvd_diagbuf_clear(b);
    hvd_free(b->v);
    hvd_free(b->slots);
    hvd_free(b);
}

size_t hvd_diagbuf_count(const hvd_diagbuf *b)
{
    return b ? b->n : 0;
}

/* The slot of key (hash h): its entry's, or the free one where it would go. */
static size_t slot_of(const hvd_diagbuf *b, const char *key, uint64_t h)
{
    size_t mask = b->nslots - 1;
    size_t i = (size_t)h & mask;

    while (b->slots[i]) {
        const struct entry *e = &b->v[b->slots[i] - 1];

        if (e->hash == h && strcmp(e->key, key) == 0) {
            break;
        }
        i = (i + 1) & mask;
    }
    return i;
}

/* Room for one more entry, and a table at most half full after it. Cost: O(n) when it
 * grows (doubling), O(1) amortised. */
static int make_room(hvd_diagbuf *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        struct entry *v = hvd_realloc(b->v, cap * sizeof(*v));

        if (!v) {
            return HVD_ENOMEM;
        }
        b->v = v;
        b->cap = cap;
    }
    if (2 * (b->n + 1) > b->nslots) {
        size_t nslots = b->nslots ? 2 * b->nslots : 128;
        size_t *slots = hvd_calloc(nslots, sizeof(*slots));

        if (!slots) {
            return HVD_ENOMEM;
        }
        hvd_free(b->slots);
        b->slots = slots;
        b->nslots = nslots;
        for (size_t k = 0; k < b->n; k++) {
            b->slots[slot_of(b, b->v[k].key, b->v[k].hash)] = k + 1;
        }
    }
    return HVD_OK;
}

/* Appends copies of d's evidence and related keys to e. */
static int add_lists(hvd_diagbuf *b, struct entry *e, const hvd_diagnosis *d)
{
    int fail = 0;

    if (d->nevidence > e->evcap - e->nev) {
        size_t cap = e->nev + d->nevidence > 2 * e->evcap ? e->nev + d->nevidence : 2 * e->evcap;
        hvd_evidence *ev = hvd_realloc(e->ev, cap * sizeof(*ev));

        if (!ev) {
            return HVD_ENOMEM;
        }
        e->ev = ev;
        e->evcap = cap;
    }
    for (size_t i = 0; i < d->nevidence; i++) {
        hvd_evidence *x = &e->ev[e->nev];

        *x = d->evidence[i];
        x->source_path = copy(b, d->evidence[i].source_path, &fail);
        x->host = copy(b, d->evidence[i].host, &fail);
        x->provider = copy(b, d->evidence[i].provider, &fail);
        x->channel = copy(b, d->evidence[i].channel, &fail);
        x->component = copy(b, d->evidence[i].component, &fail);
        x->message = copy(b, d->evidence[i].message, &fail);
        x->level_text = copy(b, d->evidence[i].level_text, &fail);
        x->task_text = copy(b, d->evidence[i].task_text, &fail);
        x->opcode_text = copy(b, d->evidence[i].opcode_text, &fail);
        x->channel_text = copy(b, d->evidence[i].channel_text, &fail);
        e->nev++; /* freed with the entry, also when a copy failed */
        b->bytes += sizeof(*x);
    }
    if (d->nrelated > e->relcap - e->nrelated) {
        size_t cap =
            e->nrelated + d->nrelated > 2 * e->relcap ? e->nrelated + d->nrelated : 2 * e->relcap;
        char **rel = hvd_realloc(e->related, cap * sizeof(*rel));

        if (!rel) {
            return HVD_ENOMEM;
        }
        e->related = rel;
        e->relcap = cap;
    }
    for (size_t i = 0; i < d->nrelated; i++) {
        e->related[e->nrelated++] = copy(b, d->related[i], &fail);
    }
    return fail ? HVD_ENOMEM : HVD_OK;
}

/* Sets e's texts to copies of d's (the last emitted wins). */
static int set_texts(hvd_diagbuf *b, struct entry *e, const hvd_diagnosis *d)
{
    int fail = 0;
    char **refs = NULL;

    e->kind = d->kind;
    e->severity = d->severity;
    e->evidence_keep = d->evidence_keep;
    hvd_free(e->rule_id);
    hvd_free(e->title);
    hvd_free(e->confidence);
    hvd_free(e->cause);
    hvd_free(e->remedy);
    e->rule_id = copy(b, d->rule_id, &fail);
    e->title = copy(b, d->title, &fail);
    e->confidence = copy(b, d->confidence, &fail);
    e->cause = copy(b, d->cause, &fail);
    e->remedy = copy(b, d->remedy, &fail);
    for (size_t i = 0; i < e->nrefs; i++) {
        hvd_free(e->refs[i]);
    }
    hvd_free(e->refs);
    e->refs = NULL;
    e->nrefs = 0;
    if (d->nreferences) {
        refs = hvd_calloc(d->nreferences, sizeof(*refs));
        if (!refs) {
            return HVD_ENOMEM;
        }
        e->refs = refs;
        e->nrefs = d->nreferences;
        for (size_t i = 0; i < d->nreferences; i++) {
            refs[i] = copy(b, d->references[i], &fail);
        }
    }
    return fail ? HVD_ENOMEM : HVD_OK;
}

/* Texts equal, NULL equal only to NULL. */
static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether e's texts are d's already: then nothing is copied again (the common case: an
 * event folded into a diagnosis changes its count and times, not its words). */
static int same_texts(const struct entry *e, const hvd_diagnosis *d)
{
    if (e->kind != d->kind || e->severity != d->severity || e->nrefs != d->nreferences ||
        !same(e->rule_id, d->rule_id) || !same(e->title, d->title) ||
        !same(e->confidence, d->confidence) || !same(e->cause, d->cause) ||
        !same(e->remedy, d->remedy)) {
        return 0;
    }
    for (size_t i = 0; i < e->nrefs; i++) {
        if (!same(e->refs[i], d->references[i])) {
            return 0;
        }
    }
    return 1;
}

/* A new entry for d at slot s. */
static int entry_add(hvd_diagbuf *b, const hvd_diagnosis *d, uint64_t h, size_t s)
{
    struct entry *e = &b->v[b->n];
    int fail = 0;
    int rc;

    memset(e, 0, sizeof(*e));
    b->n++; /* from here on cleared with the rest on failure */
    b->slots[s] = b->n;
    e->hash = h;
    e->key = copy(b, d->key, &fail);
    e->first = d->first_time;
    e->last = d->last_time;
    e->count = d->count;
    if (d->nentities) {
        e->ents = hvd_calloc(d->nentities, sizeof(*e->ents));
        fail |= !e->ents;
        for (size_t i = 0; e->ents && i < d->nentities; i++) {
            e->ents[i].name = copy(b, d->entities[i].name, &fail);
            e->ents[i].value = copy(b, d->entities[i].value, &fail);
            e->nents++;
        }
    }
    b->bytes += sizeof(*e);
    rc = fail || !e->key ? HVD_ENOMEM : set_texts(b, e, d);
    return rc == HVD_OK ? add_lists(b, e, d) : rc;
}

int hvd_diagbuf_add(hvd_diagbuf *b, const hvd_diagnosis *d)
{
    uint64_t h = key_hash(d->key);
    struct entry *e;
    size_t s;
    int rc = make_room(b);

    if (rc < 0) {
        return rc;
    }
    s = slot_of(b, d->key, h);
    if (!b->slots[s]) {
        rc = entry_add(b, d, h, s);
    } else {
        e = &b->v[b->slots[s] - 1];
        e->first = d->first_time < e->first ? d->first_time : e->first;
        e->last = d->last_time > e->last ? d->last_time : e->last;
        e->count = d->count > e->count ? d->count : e->count;
        rc = same_texts(e, d) ? HVD_OK : set_texts(b, e, d);
        rc = rc == HVD_OK ? add_lists(b, e, d) : rc;
    }
    if (rc < 0) {
        /* A half-merged entry would write something no emitted diagnosis said. */
        hvd_diagbuf_clear(b);
        return rc;
    }
    return b->bytes > b->max_bytes ? 1 : 0;
}

int hvd_diagbuf_holds_rule(const hvd_diagbuf *b, const char *rule_id)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->v[i].rule_id, rule_id) == 0) {
            return 1;
        }
    }
    return 0;
}

int hvd_diagbuf_flush(hvd_diagbuf *b, int (*put)(void *ud, const hvd_diagnosis *d), void *ud)
{
    int rc = HVD_OK;

    for (size_t i = 0; i < b->n && rc == HVD_OK; i++) {
        const struct entry *e = &b->v[i];
        hvd_diagnosis d;

        memset(&d, 0, sizeof(d));
        d.key = e->key;
        d.kind = e->kind;
        d.rule_id = e->rule_id;
        d.title = e->title;
        d.severity = e->severity;
        d.confidence = e->confidence;
        d.cause = e->cause;
        d.remedy = e->remedy;
        d.references = (const char *const *)e->refs;
        d.nreferences = e->nrefs;
        d.entities = e->ents;
        d.nentities = e->nents;
        d.first_time = e->first;
        d.last_time = e->last;
        d.count = e->count;
        d.evidence = e->ev;
        d.nevidence = e->nev;
        d.evidence_keep = e->evidence_keep;
        d.related = (const char *const *)e->related;
        d.nrelated = e->nrelated;
        rc = put(ud, &d);
        rc = rc < 0 ? rc : HVD_OK;
    }
    hvd_diagbuf_clear(b);
    return rc;
}
