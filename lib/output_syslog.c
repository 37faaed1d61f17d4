/*
 * output_syslog: every incident change as one RFC 5424 message (syslog5424.h), MSGID
 * "incident-new", "incident-severity" or "incident-update", with the stable id in the
 * structured data (incident + revision). Sends never block: a receiver that cannot take a
 * message now ends the batch there, and the daemon tries the rest again later.
 */
#include "output.h"

#include "alloc.h"
#include "syslog5424.h"

#include <stdio.h>
#include <string.h>

struct syslog_output {
    hvd_syslog *s;
    char name[300]; /* the target, for health */
};

static void syslog_deliver(void *impl, const hvd_outbox_record *recs, size_t n,
                           hvd_output_done_fn done, void *ud)
{
    struct syslog_output *o = impl;
    hvd_error err;
    size_t i = 0;
    int rc = hvd_syslog_flush(o->s, &err);

    if (rc == HVD_OK) {
        for (; i < n; i++) {
            const hvd_outbox_record *r = &recs[i];
            char msgid[32];
            hvd_syslog_msg m;

            snprintf(msgid, sizeof(msgid), "incident-%s", r->change);
            memset(&m, 0, sizeof(m));
            m.severity = r->severity;
            m.msgid = msgid;
            m.incident = r->incident;
            m.revision = r->revision;
            m.rule = r->rule;
            m.host = r->host;
            m.vm = r->vm_name;
            m.title = r->title;
            m.time = r->changed_at;
            rc = hvd_syslog_send(o->s, &m, &err);
            if (rc < 0) {
                break;
            }
        }
    }
    if (rc == HVD_EAGAIN) {
        done(ud, i, rc, "the receiver cannot take more now");
    } else {
        done(ud, i, rc, rc < 0 ? err.msg : NULL);
    }
}

static void syslog_close(void *impl)
{
    struct syslog_output *o = impl;

    if (o) {
        hvd_syslog_close(o->s);
        hvd_free(o);
    }
}

static const char *syslog_target(const void *impl)
{
    const struct syslog_output *o = impl;

    return o->name;
}

static const hvd_output_ops syslog_ops = {
    .name = "syslog",
    .deliver = syslog_deliver,
    .reopen = NULL,
    .close = syslog_close,
    .target = syslog_target,
};

int hvd_output_syslog_open(hvd_output *out, const hvd_config *c, hvd_error *err)
{
    struct syslog_output *o;
    hvd_syslog_config sc;
    int rc;

    out->ops = NULL;
    out->impl = NULL;
    o = hvd_calloc(1, sizeof(*o));
    if (!o) {
        return hvd_error_set(err, HVD_ENOMEM, "syslog", 0, "out of memory");
    }
    memset(&sc, 0, sizeof(sc));
    sc.target = c->syslog_target;
    sc.facility = c->syslog_facility;
    rc = hvd_syslog_open(&o->s, &sc, err);
    if (rc < 0) {
        hvd_free(o);
        return rc;
    }
    snprintf(o->name, sizeof(o->name), "%s", hvd_syslog_name(o->s));
    out->ops = &syslog_ops;
    out->impl = o;
    return HVD_OK;
}
