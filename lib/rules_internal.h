/* The compiled rule set, shared by rules.c (which builds it) and engine.c (which runs it). */
#ifndef HVD_RULES_INTERNAL_H
#define HVD_RULES_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "alloc.h"
#include "extract.h"
#include "msgtable.h"
#include "prefilter.h"
#include "rules.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* PCRE2 limits for every match against event text. */
#define HVD__MATCH_LIMIT 100000
#define HVD__DEPTH_LIMIT 5000

enum hvd__pred_kind {
    HVD__P_ALL,
    HVD__P_ANY,
    HVD__P_NOT,
    HVD__P_SOURCE,
    HVD__P_PROVIDER,
    HVD__P_CHANNEL,
    HVD__P_EVENT_ID,
    HVD__P_LEVEL,
    HVD__P_HOST,
    HVD__P_COMPONENT,
    HVD__P_LEVEL_WORD,
    HVD__P_FIELD,
    HVD__P_MESSAGE,
    HVD__P_ERROR_CODE,
};

enum hvd__op {
    HVD__OP_EQUALS,
    HVD__OP_CONTAINS,
    HVD__OP_REGEX,
    HVD__OP_EXISTS,
    HVD__OP_ABSENT /* no value, or an empty one */
};

typedef struct hvd__range {
    uint32_t lo;
    uint32_t hi;
} hvd__range;

typedef struct hvd__pred {
    enum hvd__pred_kind kind;
    enum hvd__op op;
    int line;
    const char *name; /* field name */
    const char *text; /* value to compare; channel values are normalised */
    pcre2_code *re;
    hvd__range *ranges;
    size_t nranges;
    unsigned levels; /* bit n set: level n matches */
    int source;      /* hvd_source_kind */
    uint32_t code;
    int win32;
    /* A regex's guard: lower-case ASCII literals one of which (case ignored) any subject it
     * matches holds, so a subject holding none is no match without running it; nguard 0:
     * none known. In the set's arena (rules_literals.c). */
    const char **guard;
    size_t nguard;
    size_t word; /* <provider>: 1 + the index of its text, lowered, in hvd_ruleset.words */
    struct hvd__pred *kids;
    size_t nkids;
} hvd__pred;

typedef struct hvd__extract {
    const char *name;
    const char *field; /* a field's value, or the field the regex reads */
    int from_message;  /* the regex reads the message */
    pcre2_code *re;
    const char *value; /* a template over other entities */
    int system;        /* HVD__SYS_*: the event's process or thread id; 0: none */
} hvd__extract;

enum { HVD__SYS_NONE, HVD__SYS_PROCESS_ID, HVD__SYS_THREAD_ID };

typedef struct hvd__where {
    const char *entity;
    enum hvd__op op;
    const char *text;
    pcre2_code *re;
} hvd__where;

typedef struct hvd__member {
    const char *role;
    const char *rule_id;
    size_t rule; /* index in the set */
    hvd__where *where;
    size_t nwhere;
    int gather; /* gather="true": every diagnosis that fits the role joins one correlation */
} hvd__member;

typedef struct hvd__join {
    size_t left;
    size_t right;
    const char *left_entity;
    const char *right_entity;
    int host;
    int optional; /* holds too when either side has no value; never used to look up */
} hvd__join;

typedef struct hvd__expect {
    const char *entity;
    const char *value;
    const char *no_entity; /* an entity the diagnosis must not have (or have empty) */
    const char *remedy_contains;
    const char *cause_contains;
    const char *title_contains;
    long count;
} hvd__expect;

typedef struct hvd__example_event {
    int clusterlog;
    const char *text; /* one <Event> serialised, or raw cluster.log lines */
    const char *node;
} hvd__example_event;

typedef struct hvd__example {
    int positive;
    int line;
    hvd__expect *expects;
    size_t nexpects;
    hvd__example_event *events;
    size_t nevents;
} hvd__example;

typedef struct hvd__rule {
    hvd_rule_info info;
    const char *cause;
    const char *remedy;
    const char **ref_href;
    const char **ref_label;
    hvd__pred match;
    hvd__extract *extracts;
    size_t nextracts;
    long threshold_count; /* 0: one event is enough */
    int64_t threshold_window;
    const char **threshold_group;
    size_t nthreshold_group;
    int64_t quiet_period;
    const char **quiet_group; /* NULL: every entity */
    size_t nquiet_group;
    int quiet_group_set;
    int has_error_code;
    const char **names; /* entity names a diagnosis of this rule can carry */
    size_t nnames;
    /* correlations */
    hvd__member *members;
    size_t nmembers;
    int gathers; /* a member gathers (hvd__member.gather) */
    hvd__join *joins;
    size_t njoins;
    int64_t window;
    int order_before; /* member index, -1 for none */
    int order_after;
    hvd__example *examples;
    size_t nexamples;
} hvd__rule;

struct hvd_ruleset {
    hvd__rule *rules;
    size_t nrules;
    size_t cap;
    hvd_arena arena;
    pcre2_code **codes;
    size_t ncodes;
    size_t codes_cap;
    uint32_t max_captures;    /* largest capture count of any regex */
    hvd_msgtable *messages;   /* rendered messages back to events (messages/ beside the rules) */
    hvd_extract_table *names; /* names in message text (names/ beside the rules) */
    /* The cluster.log rules' literals (owned), compiled into prefilter at its first use
     * (hvd_ruleset_prefilter(), under prefilter_lock): a run that reads no cluster.log
     * never compiles them. NULL lits: no prefilter, every line is read. tagged_lits: the
     * message table's, for lines tagged with one of tags (borrowed from messages). */
    char **prefilter_lits;
    size_t nprefilter_lits;
    char **tagged_lits;
    size_t ntagged_lits;
    const char **tags;
    size_t ntags;
    int prefilter_failed;
    pthread_mutex_t prefilter_lock;
    hvd_prefilter *prefilter;
    hvd_prefilter *tagged;
    hvd_line_prefilter line_prefilter;
    const char **words; /* each provider text of the conditions once, lowered (arena) */
    size_t nwords;
    int match_only; /* loaded with HVD_RULESET_MATCH_ONLY: no example event texts */
    /* Each regex is JIT-compiled before its first match (hvd__ruleset_jit()), not at load:
     * most are never tried on a given input. codes is sorted by address once loaded;
     * jitted[i] is set once codes[i] is done, under jit_lock, and read without it. */
    atomic_uchar *jitted;
    pthread_mutex_t jit_lock;
};

/* JIT-compiles re, one of rs->codes, unless done already (or JIT is off): call it before
 * every pcre2_match() of a rule's regex. Safe from several threads at once: a match only
 * starts once the compile is over. Cost: O(log codes) and an atomic load once done. */
void hvd__ruleset_jit(const hvd_ruleset *rs, const pcre2_code *re);

/* Normalises a channel name for comparison: lower case, and the last '-' or '/' before
 * Admin, Operational, Analytic, Debug, Diagnostic or DiagnosticVerbose becomes '/'. */
void hvd__channel_normalise(const char *in, char *out, size_t cap);

/* Gathers rs->prefilter_lits from the rules and the message table (rules_literals.c),
 * compiled at the first hvd_ruleset_prefilter(); leaves them NULL when some rule may match a
 * line holding no literal it knows. HVD_OK. */
int hvd__ruleset_build_prefilter(hvd_ruleset *rs, const hvd_logger *log, hvd_error *err);

/* Sets the guard of every <field>/<message> regex of the rules whose required literals are
 * known and few, and the word of every <provider> (rules_literals.c). HVD_OK or
 * HVD_ENOMEM. */
int hvd__ruleset_build_guards(hvd_ruleset *rs);

/* n zeroed bytes in the set's arena, freed with it; NULL when out of memory. */
void *hvd__ruleset_alloc(hvd_ruleset *rs, size_t n);

/* The rule index of id, or -1. */
long hvd__ruleset_find(const hvd_ruleset *rs, const char *id);

#endif
