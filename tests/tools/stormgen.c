/*
 * stormgen: a cluster-wide failure storm as Windows event XML (for evtxgen). Test and
 * benchmark fixtures only.
 *
 * One node (HV-NODE05) is removed from the cluster: each of the four others logs 1135 at
 * 02:00:00. Then ROLES clustered roles (at most 5000) fail at once, spread over the four
 * nodes, 150 ms apart (four minutes for 1600, within the 15 minutes the node-removed
 * correlations look at): per role a 1069 (its resource failed), the same 1069 again 30 s later
 * (the resource was retried), a 1205 (the role could not come online) and a 1254 (the
 * role hit its failover threshold). With the shipped rules each role gives exactly one
 * role-failure-escalation, one resource-failed-after-node-removed and one
 * role-failed-after-node-removed correlation, and, its resource being a VM's, one
 * vm-role-online-failed and one vm-role-terminal.
 *
 * --control writes the same number of events (four per role, four 1135s' worth of 1201s
 * too) that no rule matches: FailoverClustering 1201, "role brought online", at the same
 * times. Storm minus control is what correlation costs.
 *
 * usage: stormgen [--control] ROLES OUT.xml
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES     4
#define ROLE_STEP 150 /* ms between two roles' first events */

static const char *const NS = "http://schemas.microsoft.com/win/2004/08/events/event";
static const char *const FC_GUID = "{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}";

/* ms after 2024-03-09T02:00:00Z as an XML SystemTime. */
static void stamp(char *out, size_t cap, long long ms)
{
    long long s = ms / 1000;

    snprintf(out, cap, "2024-03-09T%02lld:%02lld:%02lld.%03lld0000Z", 2 + s / 3600, s / 60 % 60,
             s % 60, ms % 1000);
}

/* One FailoverClustering System event; data is "Name=value" pairs, NULL-terminated. */
static int event(FILE *out, unsigned long long *record, int id, int level, int node, long long ms,
                 const char *const *data)
{
    char t[96];

    stamp(t, sizeof(t), ms);
    fprintf(out,
            "<Event xmlns=\"%s\"><System><Provider Name=\"Microsoft-Windows-FailoverClustering\" "
            "Guid=\"%s\"/><EventID>%d</EventID><Version>0</Version><Level>%d</Level><Task>0</Task>"
            "<Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated "
            "SystemTime=\"%s\"/><EventRecordID>%llu</EventRecordID><Execution ProcessID=\"2468\" "
            "ThreadID=\"4321\"/><Channel>System</Channel><Computer>HV-NODE%02d.contoso.local"
            "</Computer><Security UserID=\"S-1-5-18\"/></System><EventData>",
            NS, FC_GUID, id, level, t, ++*record, node);
    for (size_t i = 0; data[i]; i += 2) {
        fprintf(out, "<Data Name=\"%s\">%s</Data>", data[i], data[i + 1]);
    }
    return fputs("</EventData></Event>\n", out) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    unsigned long long record = 0;
    int control = argc > 1 && strcmp(argv[1], "--control") == 0;
    const char *count_arg = argc > 1 + control ? argv[1 + control] : NULL;
    char *end = NULL;
    unsigned long roles;
    FILE *out;
    int rc = 0;

    if (argc != 3 + control || !count_arg) {
        fprintf(stderr, "usage: stormgen [--control] ROLES OUT.xml\n");
        return 2;
    }
    errno = 0;
    roles = strtoul(count_arg, &end, 10);
    if (errno || !end || *end || roles == 0 || roles > 5000) {
        fprintf(stderr, "stormgen: ROLES must be 1..5000, not '%s'\n", count_arg);
        return 2;
    }
    out = fopen(argv[2 + control], "w");
    if (!out) {
        fprintf(stderr, "stormgen: %s: cannot create: %s\n", argv[2 + control], strerror(errno));
        return 1;
    }
    fputs("<Events>\n", out);
    for (int node = 1; node <= NODES && rc == 0; node++) {
        const char *const removed[] = {"NodeName", "HV-NODE05", NULL};
        const char *const online[] = {"ResourceGroup", "Cluster Group", NULL};

        rc = event(out, &record, control ? 1201 : 1135, control ? 4 : 1, node, 0,
                   control ? online : removed);
    }
    for (unsigned long i = 0; i < roles && rc == 0; i++) {
        char group[32];
        char resource[48];
        int node = 1 + (int)(i % NODES);
        long long t = 1000 + (long long)i * ROLE_STEP;
        const char *const failed[] = {"ResourceName", resource,     "ResourceGroup",
                                      group,          "ResTypeDll", "Virtual Machine",
                                      "ErrorCode",    "0x80004005", NULL};
        const char *const role[] = {"ResourceGroup", group, NULL};
        const char *const *storm[] = {failed, failed, role, role};
        const int ids[] = {1069, 1069, 1205, 1254};
        const long long at[] = {t, t + 30000, t + 31000, t + 32000};

        snprintf(group, sizeof(group), "VM%05lu", i + 1);
        snprintf(resource, sizeof(resource), "Virtual Machine VM%05lu", i + 1);
        for (int k = 0; k < 4 && rc == 0; k++) {
            rc = event(out, &record, control ? 1201 : ids[k], control ? 4 : 2, node, at[k],
                       control ? role : storm[k]);
        }
    }
    fputs("</Events>\n", out);
    if (fclose(out) != 0 || rc != 0) {
        fprintf(stderr, "stormgen: %s: cannot write\n", argv[2 + control]);
        return 1;
    }
    return 0;
}
