#!/bin/sh
# The samples of the families added last: the cloud witness's two 1569 events (WS2019 EVTX and
# cluster.log), the cluster service disabled by a Group Policy (WS2022 cluster.log + System) and
# the same on a French host (WS2019 EVTX, matched on ids and binary data, not on words), and
# VMMS failures that carry only a code tied to the VM by host and process (WS2016 EVTX), and
# FailoverClustering/Operational events of a WS2019 node (an export of that channel), a hung file
# share witness (WS2012 R2), a role's failure escalation (WS2016 cluster.log only) and live
# migrations refused by the destination's processor and switches (WS2022 High-Availability),
# a disabled cluster name object (WS2019 System) and two VMs that cannot start (WS2019 Worker
# and VMMS),
# analysed end to end into real database files.
# usage: samples_families_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1
# That every sample EVTX is what evtxgen makes of its XML, analyze_samples checks for all.
need_samples cloud-witness-2019 clussvc-disabled-gpo-2022 clussvc-disabled-fr migration-refused-2016 \
    role-failover-operational-2019 witness-deadlock-2012r2 role-escalation-2016 \
    migration-config-2022 cno-disabled-2019 vm-start-failures-2019

# Two 1569s, two meanings: the key on HV-NODE01 (EVTX), the restricted network on HV-NODE02
# (cluster.log [System] line); neither rule takes the other's event.
"$hvdiag" analyze --db "$work/a.db" --json samples/cloud-witness-2019 >"$work/a.json" 2>"$work/a.err"
check "cloud-witness-2019: exit 1 for an error" test $? -eq 1
check "cloud-witness-2019: each 1569 variant heads its own incident, names given" \
    python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inc = {i["subject"]: i for i in r["incidents"]}
assert sorted(inc) == ["HV-NODE01", "HV-NODE02"], sorted(inc)
d = inc["HV-NODE01"]["diagnoses"]
assert d[0]["rule"] == "fc-cloud-witness-key" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == ("The cloud witness Cloud Witness cannot authenticate to its Azure storage "
                         "account (reported by HV-NODE01)"), d[0]["title"]
assert "Set-ClusterQuorum -CloudWitness" in d[0]["remedy"], d[0]["remedy"]
assert d[0]["count"] == 2, d[0]["count"]
assert [x["rule"] for x in d[1:]] == ["fc-resource-failed"], [x["rule"] for x in d]
d = inc["HV-NODE02"]["diagnoses"]
assert d[0]["rule"] == "fc-restricted-network-only", d[0]["rule"]
assert d[0]["title"] == ("Node HV-NODE02 can reach the other nodes only over network 'Backup', "
                         "which is disabled for cluster use (reported by HV-NODE02)"), d[0]["title"]
assert d[0]["evidence"][0]["source"].endswith("HV-NODE02_cluster.log"), d[0]["evidence"]
assert "cl-missed-hb" in {x["rule"] for x in d}, [x["rule"] for x in d]
PY
check "cloud-witness-2019: no key diagnosis for the network 1569, no network one for the key" \
    test "$(sqlite3 "$work/a.db" "SELECT count(*) FROM diagnoses WHERE
        (rule = 'fc-cloud-witness-key' AND host LIKE 'HV-NODE02%') OR
        (rule = 'fc-restricted-network-only' AND host LIKE 'HV-NODE01%')")" = 0

# The disabled service is the root; the peer's lost connection is its effect; 7000/1058 is
# the service that cannot start.
"$hvdiag" analyze --db "$work/b.db" --json samples/clussvc-disabled-gpo-2022 >"$work/b.json" 2>"$work/b.err"
check "clussvc-disabled-gpo-2022: exit 1 for a critical incident" test $? -eq 1
check "clussvc-disabled-gpo-2022: the disabled service heads both incidents" \
    python3 - "$work/b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 2, [i["title"] for i in r["incidents"]]
for inc in r["incidents"]:
    assert inc["subject"] == "HV-NODE02", inc["subject"]
    d = inc["diagnoses"]
    assert d[0]["rule"] == "peer-lost-clussvc-disabled" and d[0]["root_cause"] is True, d[0]["rule"]
    assert d[0]["title"] == ("The cluster service on HV-NODE02 was stopped and disabled; "
                             "HV-NODE01 lost its connection to it"), d[0]["title"]
    assert "gpresult" in d[0]["remedy"], d[0]["remedy"]
    rules = {x["rule"] for x in d}
    assert {"cl-clussvc-disabled-cleanup", "cl-lost-connection"} <= rules, rules
later = [i for i in r["incidents"] if "clussvc-start-disabled" in {x["rule"] for x in i["diagnoses"]}]
assert len(later) == 1, [i["title"] for i in r["incidents"]]
PY

# A French host: "Service de cluster", "%%1058" and the binary "ClusSvc"; the 7036 words are
# not matched, its binary state is.
"$hvdiag" analyze --db "$work/c.db" --json samples/clussvc-disabled-fr >"$work/c.json" 2>"$work/c.err"
check "clussvc-disabled-fr: exit 1 for a critical incident" test $? -eq 1
check "clussvc-disabled-fr: the disabled service on NOEUD02, both refusals folded" \
    python3 - "$work/c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "clussvc-start-disabled" and d[0]["count"] == 2, (d[0]["rule"], d[0]["count"])
assert d[0]["title"] == "The cluster service on NOEUD02 cannot start: it is disabled", d[0]["title"]
PY
check "clussvc-disabled-fr: 'en cours d'exécution' with ClusSvc/4 is the start, 'arrêté' is not" \
    test "$(sqlite3 "$work/c.db" "SELECT count(*) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'clussvc-started' AND e.message LIKE '%exécution%'")" = 1
check "clussvc-disabled-fr: one start only" \
    test "$(sqlite3 "$work/c.db" "SELECT count(*) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'clussvc-started'")" = 1
# Two code-only VMMS 20306 failures, each tied to the VM the same process names 50 ms later.
"$hvdiag" analyze --db "$work/d.db" --json samples/migration-refused-2016 >"$work/d.json" 2>"$work/d.err"
check "migration-refused-2016: exit 1 for an error" test $? -eq 1
check "migration-refused-2016: each code names its VM, the refusal first" \
    python3 - "$work/d.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "lm-conn-refused-named" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == ("Live migration of WEB03 from HV-NODE01 to HV-NODE03 was refused "
                         "(0x8007274D)"), d[0]["title"]
t = [x for x in d if x["rule"] == "lm-conn-timeout-named"]
assert len(t) == 1 and t[0]["title"] == ("Live migration of WEB04 from HV-NODE01 to HV-NODE03 "
                                         "timed out (0x8007274C)"), [x["title"] for x in t]
PY
check "migration-refused-2016: the process id of the events is in the tie" \
    test "$(sqlite3 "$work/d.db" "SELECT group_concat(DISTINCT e.value) FROM diagnosis_entities e
        JOIN diagnoses d ON d.id = e.diagnosis WHERE d.rule LIKE '%-named' AND e.name IN
        ('vm.process_id', 'failure.process_id')")" = 2816
check "migration-refused-2016: no VM tied to the other failure" \
    test "$(sqlite3 "$work/d.db" "SELECT count(*) FROM diagnoses WHERE rule LIKE '%-named'")" = 2
# An Operational export: heartbeats lost, the peer removed, the VM role failed over and failed.
"$hvdiag" analyze --db "$work/e.db" --json samples/role-failover-operational-2019 >"$work/e.json" 2>"$work/e.err"
check "role-failover-operational-2019: exit 1 for a critical incident" test $? -eq 1
check "role-failover-operational-2019: the heartbeat loss first, the role's failure joined to it" \
    python3 - "$work/e.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["subject_kind"] == "vm" and inc["subject"] == "SQL07", (inc["subject_kind"], inc["subject"])
d = inc["diagnoses"]
assert d[0]["rule"] == "op-heartbeats-then-node-removed" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == ("Node HV-NODE01 was removed after HV-NODE02 missed its heartbeats (NetFT)"), d[0]["title"]
by = {x["rule"]: x for x in d}
assert by["op-role-failed-after-node-removed"]["title"] == (
    "Node HV-NODE01 was removed and role 'SQL07' failed on HV-NODE02"), by["op-role-failed-after-node-removed"]["title"]
assert by["fc-op-role-failover"]["title"] == (
    "Role 'SQL07' is failing over from HV-NODE01 to HV-NODE02 (seen by HV-NODE02)"), by["fc-op-role-failover"]["title"]
assert {"fc-op-role-failed", "fc-op-netft-heartbeats", "fc-node-removed"} <= set(by), sorted(by)
PY
# A hung file share witness: the deadlock that brought RHS down is the root.
"$hvdiag" analyze --db "$work/f.db" --json samples/witness-deadlock-2012r2 >"$work/f.json" 2>"$work/f.err"
check "witness-deadlock-2012r2: exit 1 for a critical incident" test $? -eq 1
check "witness-deadlock-2012r2: the hung witness first, arbitration and RHS lines with it" \
    python3 - "$work/f.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "rhs-deadlock-then-crash" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == "A hung resource (File Share Witness) brought RHS down on HV-NODE01", d[0]["title"]
rules = {x["rule"] for x in d}
assert {"fc-fsw-arbitrate", "cl-fsw-arbitrate-fail", "cl-rhs-deadlock", "fc-rhs-died"} <= rules, rules
PY

# A role's escalation from cluster.log lines only, the RHS lines in the VM's incident.
"$hvdiag" analyze --db "$work/g.db" --json samples/role-escalation-2016 >"$work/g.json" 2>"$work/g.err"
check "role-escalation-2016: exit 1 for a critical incident" test $? -eq 1
check "role-escalation-2016: one incident of WEB09, the escalation first" \
    python3 - "$work/g.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["subject"] == "WEB09", inc["subject"]
d = inc["diagnoses"]
assert d[0]["rule"] == "role-failure-escalation" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == ("Role WEB09 failed, could not come online and exceeded its failover "
                         "threshold (reported by HV-NODE03)"), d[0]["title"]
rules = {x["rule"] for x in d}
assert {"cl-resource-online-failed", "fc-op-role-failed", "fc-role-terminal"} <= rules, rules
res = [x for x in d if x["rule"] == "fc-resource-failed"][0]
assert res["count"] == 2 and "0x80070005" in res["cause"] + res["title"] + json.dumps(res), res
PY
# Two migrations to a node that is not like the others: a processor and a switch.
"$hvdiag" analyze --db "$work/h.db" --json samples/migration-config-2022 >"$work/h.json" 2>"$work/h.err"
check "migration-config-2022: exit 1 for an error" test $? -eq 1
check "migration-config-2022: one incident a VM, the destination named" \
    python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inc = {i["subject"]: i for i in r["incidents"]}
assert sorted(inc) == ["APP21", "APP22"], sorted(inc)
a = inc["APP21"]["diagnoses"][0]
assert a["rule"] == "lm-cpu-feature-mismatch", a["rule"]
assert a["title"] == ("VM APP21 cannot live migrate from HV-NODE01 to HV-NODE04: processor "
                      "features differ"), a["title"]
b = inc["APP22"]["diagnoses"][0]
assert b["rule"] == "lm-vswitch-missing-on-dest", b["rule"]
assert b["title"] == ("VM APP22 cannot migrate to HV-NODE04: its virtual switch does not exist "
                      "there (reported by HV-NODE01)"), b["title"]
PY
# A disabled cluster name object: the root of one host incident; the Cluster Group is not a VM.
"$hvdiag" analyze --db "$work/i.db" --json samples/cno-disabled-2019 >"$work/i.json" 2>"$work/i.err"
check "cno-disabled-2019: exit 1 for an error" test $? -eq 1
check "cno-disabled-2019: the disabled object first, the failures with it" \
    python3 - "$work/i.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["subject_kind"] == "host" and inc["subject"] == "HV-NODE02", (inc["subject_kind"], inc["subject"])
d = inc["diagnoses"]
assert d[0]["rule"] == "fc-ad-object-disabled", d[0]["rule"]
assert d[0]["title"] == ("The computer object of cluster name HVCLUS01 is disabled in Active "
                         "Directory (reported by HV-NODE02)"), d[0]["title"]
assert {x["rule"] for x in d[1:]} == {"fc-resource-failed", "fc-role-online-failed"}, [x["rule"] for x in d]
assert all(not x.get("vm_name") for x in d), [x.get("vm_name") for x in d]
PY
# Two VMs that cannot start, each with the fix of its own variant.
"$hvdiag" analyze --db "$work/j.db" --json samples/vm-start-failures-2019 >"$work/j.json" 2>"$work/j.err"
check "vm-start-failures-2019: exit 1 for an error" test $? -eq 1
check "vm-start-failures-2019: one incident a VM, its variant named" \
    python3 - "$work/j.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inc = {i["subject"]: i["diagnoses"] for i in r["incidents"]}
assert sorted(inc) == ["APP31", "DB02"], sorted(inc)
assert inc["DB02"][0]["rule"] == "vm-saved-state-unreadable", inc["DB02"][0]["rule"]
assert inc["DB02"][0]["title"] == "Saved state of VM DB02 on HV-NODE03 cannot be read", inc["DB02"][0]["title"]
assert inc["APP31"][0]["rule"] == "vm-start-logon-type-not-granted", inc["APP31"][0]["rule"]
assert inc["APP31"][0]["title"] == ("VM APP31 cannot start on HV-NODE03: its worker process is "
                                    "denied the logon type (0x80070569)"), inc["APP31"][0]["title"]
PY
exit $fail
