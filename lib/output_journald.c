/*
 * output_journald: new incidents and severity changes as structured journal entries (see
 * output.h), so "journalctl -u hvdiagd -p err" lists incidents and HVDIAG_INCIDENT=12
 * finds one. sd_journal_sendv() sends one datagram to journald's socket and does not wait
 * for it to be read. Other changes (span, counts) count as delivered without an entry.
 */
#include "output.h"

#include "alloc.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#ifdef HVD_HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

struct journald_output {
    hvd_buf text;
};

int hvd_output_journald_available(void)
{
#ifdef HVD_HAVE_SYSTEMD
    struct stat sb;

    return stat("/run/systemd/journal/socket", &sb) == 0 && S_ISSOCK(sb.st_mode);
#else
    return 0;
#endif
}

static void journald_deliver(void *impl, const hvd_outbox_record *recs, size_t n,
                             hvd_output_done_fn done, void *ud)
{
    struct journald_output *j = impl;
    const char *fields[HVD_OUTPUT_JOURNAL_FIELDS];
    struct iovec iov[HVD_OUTPUT_JOURNAL_FIELDS];
    size_t i;
    int rc = HVD_OK;
    const char *why = NULL;

    for (i = 0; i < n; i++) {
        int nf;

        if (!hvd_output_is_notable(&recs[i])) {
            continue;
        }
        nf = hvd_output_journal_fields(&recs[i], &j->text, fields, HVD_OUTPUT_JOURNAL_FIELDS);
        if (nf < 0) {
            rc = nf;
            why = "cannot build the journal fields";
            break;
        }
        for (int k = 0; k < nf; k++) {
            iov[k].iov_base = (void *)fields[k];
            iov[k].iov_len = strlen(fields[k]);
        }
#ifdef HVD_HAVE_SYSTEMD
        if (sd_journal_sendv(iov, nf) < 0) {
            rc = HVD_EIO;
            why = "journald did not take the entry";
            break;
        }
#else
        rc = HVD_EUNSUPPORTED;
        why = "built without libsystemd";
        break;
#endif
    }
    done(ud, i, rc, why);
}

static void journald_close(void *impl)
{
    struct journald_output *j = impl;

    if (j) {
        hvd_buf_free(&j->text);
        hvd_free(j);
    }
}

static const char *journald_target(const void *impl)
{
    (void)impl;
    return "/run/systemd/journal/socket";
}

static const hvd_output_ops journald_ops = {
    .name = "journald",
    .deliver = journald_deliver,
    .reopen = NULL,
    .close = journald_close,
    .target = journald_target,
};

int hvd_output_journald_open(hvd_output *out, const hvd_logger *log, hvd_error *err)
{
    struct journald_output *j;

    (void)log;
    out->ops = NULL;
    out->impl = NULL;
#ifndef HVD_HAVE_SYSTEMD
    return hvd_error_set(err, HVD_EUNSUPPORTED, "journald", 0, "built without libsystemd");
#endif
    j = hvd_calloc(1, sizeof(*j));
    if (!j) {
        return hvd_error_set(err, HVD_ENOMEM, "journald", 0, "out of memory");
    }
    hvd_buf_init(&j->text, 64 * 1024);
    out->ops = &journald_ops;
    out->impl = j;
    return HVD_OK;
}
