/*
 * hvdiag dump: the events hvdiag reads from files, one JSON object a line, so users (and
 * tests) can see exactly what the readers produced. --count prints counts only.
 */
#include "cmd.h"

#include "cli.h"

#include "hvtime.h"
#include "log.h"
#include "source.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvdiag dump [--count] [--recovered] [--evtx-reader libevtx|native] [-v] "
            "FILE...\n"
            "\n"
            "Prints every event read from the .evtx and cluster.log FILEs as one JSON\n"
            "object per line.\n"
            "  --count      print per-file counts instead of events\n"
            "  --recovered  also read EVTX records recovered from free space\n"
            "  --evtx-reader libevtx|native\n"
            "               which decoder reads EVTX files (default: %s)\n"
            "  -v           print reader warnings (damaged records, bad lines)\n",
            hvd_evtx_decoder_name(HVD_EVTX_DEFAULT));
}

static json_t *event_json(const hvd_event *ev)
{
    json_t *o = json_object();
    json_t *fields = json_object();
    char t[40];
    char kw[24];

    json_object_set_new(o, "kind", json_string(hvd_source_kind_name(ev->kind)));
    json_object_set_new(o, "source", json_string(ev->source_path));
    if (ev->kind == HVD_SOURCE_EVTX) {
        json_object_set_new(o, "record_id", json_integer((json_int_t)ev->record_id));
        json_object_set_new(o, "index", json_integer((json_int_t)ev->index));
        if (ev->recovered) {
            json_object_set_new(o, "recovered", json_true());
        }
    } else {
        json_object_set_new(o, "line", json_integer((json_int_t)ev->line));
        json_object_set_new(o, "byte_offset", json_integer((json_int_t)ev->byte_offset));
    }
    json_object_set_new(o, "time", json_string(hvd_time_format(ev->time, t, sizeof(t))));
    json_object_set_new(o, "host", json_string(ev->host));
    json_object_set_new(o, "provider", json_string(ev->provider));
    if (ev->kind == HVD_SOURCE_EVTX) {
        json_object_set_new(o, "provider_guid", json_string(ev->provider_guid));
    }
    json_object_set_new(o, "channel", json_string(ev->channel));
    json_object_set_new(o, "level", json_integer(ev->level));
    if (ev->kind == HVD_SOURCE_EVTX) {
        json_object_set_new(o, "event_id", json_integer(ev->event_id));
        json_object_set_new(o, "qualifiers", json_integer(ev->qualifiers));
        json_object_set_new(o, "version", json_integer(ev->version));
        json_object_set_new(o, "task", json_integer(ev->task));
        json_object_set_new(o, "opcode", json_integer(ev->opcode));
        snprintf(kw, sizeof(kw), "0x%016" PRIx64, ev->keywords);
        json_object_set_new(o, "keywords", json_string(kw));
        json_object_set_new(o, "event_record_id", json_integer((json_int_t)ev->event_record_id));
        json_object_set_new(o, "user_sid", json_string(ev->user_sid));
    } else {
        json_object_set_new(o, "component", json_string(ev->component));
        json_object_set_new(o, "level_word", json_string(ev->level_word));
    }
    /* EVTX: Execution@ProcessID/ThreadID (0 when absent); cluster.log: the line's. */
    json_object_set_new(o, "pid", json_integer(ev->pid));
    json_object_set_new(o, "tid", json_integer(ev->tid));
    for (size_t i = 0; i < ev->nfields; i++) {
        char name[160];

        /* A repeated name (two <Data Name="X">) keeps every value: X, X#2, ... */
        snprintf(name, sizeof(name), "%s", ev->fields[i].name);
        for (int n = 2; json_object_get(fields, name); n++) {
            snprintf(name, sizeof(name), "%s#%d", ev->fields[i].name, n);
        }
        json_object_set_new(fields, name, json_string(ev->fields[i].value));
    }
    json_object_set_new(o, "fields", fields);
    json_object_set_new(o, "message", json_string(ev->message ? ev->message : ""));
    /* RenderingInfo texts (forwarded events), when the record carries them. */
    if ((ev->level_text && *ev->level_text) || (ev->task_text && *ev->task_text) ||
        (ev->opcode_text && *ev->opcode_text) || (ev->channel_text && *ev->channel_text)) {
        json_t *r = json_object();

        json_object_set_new(r, "level", json_string(ev->level_text ? ev->level_text : ""));
        json_object_set_new(r, "task", json_string(ev->task_text ? ev->task_text : ""));
        json_object_set_new(r, "opcode", json_string(ev->opcode_text ? ev->opcode_text : ""));
        json_object_set_new(r, "channel", json_string(ev->channel_text ? ev->channel_text : ""));
        json_object_set_new(o, "rendering", r);
    }
    return o;
}

static void print_counts(const char *path, const hvd_source_stats *st)
{
    char *shown = hvd_cli_clean(path, 0);
    char *host = hvd_cli_clean(st->host, 0);

    printf("%s: %" PRIu64 " events, %" PRIu64 " skipped", shown ? shown : "", st->events,
           st->skipped);
    if (st->skipped) {
        printf(" (first at %s %" PRIu64 ")", st->records ? "record" : "line", st->first_skipped);
    }
    if (st->records || st->recovered) {
        printf(", %" PRIu64 " recovered", st->recovered);
    }
    if (st->corrupted) {
        printf(", corrupted");
    }
    if (st->dirty) {
        printf(", dirty");
    }
    if (st->encoding && *st->encoding) {
        printf(", %s", st->encoding);
    }
    if (host && *host) {
        printf(", host %s", host);
    }
    printf("\n");
    free(shown);
    free(host);
}

int hvd_cmd_dump(int argc, char **argv)
{
    hvd_logger log = {hvd_cli_log_stderr, NULL, HVD_LOG_ERR};
    hvd_source_options opt = {0};
    uint64_t total = 0;
    uint64_t total_skipped = 0;
    int count_only = 0;
    int nfiles = 0;
    int status = HVD_EXIT_OK;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--count") == 0) {
            count_only = 1;
        } else if (strcmp(argv[i], "--recovered") == 0) {
            opt.include_recovered = 1;
        } else if (strcmp(argv[i], "--evtx-reader") == 0) {
            if (i + 1 == argc || hvd_evtx_decoder_parse(argv[i + 1], &opt.evtx_decoder) < 0) {
                fprintf(stderr, "hvdiag dump: --evtx-reader takes libevtx or native\n");
                return HVD_EXIT_USAGE;
            }
            i++;
        } else if (strcmp(argv[i], "-v") == 0) {
            log.min_level = HVD_LOG_WARNING;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return HVD_EXIT_OK;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            hvd_cli_error("hvdiag dump: unknown option '%s'", argv[i]);
            usage(stderr);
            return HVD_EXIT_USAGE;
        }
    }
    if (i == argc) {
        usage(stderr);
        return HVD_EXIT_USAGE;
    }
    for (; i < argc; i++) {
        hvd_source *src = NULL;
        hvd_event ev;
        hvd_error err;
        int rc;

        hvd_error_clear(&err);
        if (hvd_source_open(&src, argv[i], &opt, &log, &err) < 0) {
            hvd_cli_error("hvdiag dump: %s", err.msg);
            status = HVD_EXIT_USAGE;
            continue;
        }
        while ((rc = hvd_source_next(src, &ev, &err)) == 1) {
            if (!count_only) {
                json_t *o = event_json(&ev);

                json_dumpf(o, stdout,
                           hvd_cli_json_flags(stdout, JSON_COMPACT | JSON_PRESERVE_ORDER));
                fputc('\n', stdout);
                json_decref(o);
            }
        }
        if (rc < 0) {
            hvd_cli_error("hvdiag dump: %s", err.msg);
            status = HVD_EXIT_USAGE;
        }
        if (count_only) {
            print_counts(argv[i], hvd_source_get_stats(src));
        }
        total += hvd_source_get_stats(src)->events;
        total_skipped += hvd_source_get_stats(src)->skipped;
        nfiles++;
        hvd_source_close(src);
    }
    if (count_only && nfiles > 1) {
        printf("total: %" PRIu64 " events, %" PRIu64 " skipped in %d files\n", total, total_skipped,
               nfiles);
    }
    if (fflush(stdout) != 0) {
        return HVD_EXIT_USAGE;
    }
    return status;
}
