#!/bin/sh
# The samples of the storage families, each analysed end to end into a real database: a lost
# disk reservation that paused a CSV and failed two VMs (WS2012 R2 System), a failed software
# snapshot that left a CSV in redirected access (WS2016 System, three nodes), a Storage Spaces
# Direct virtual disk without redundancy (WS2019 Get-ClusterLog folder only), a cluster
# database that could not be written on a French node (WS2019 System) and VM monitoring that
# drove a role past its failover threshold beside a protected network (WS2022 System).
# usage: samples_storage_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1
# That every sample EVTX is what evtxgen makes of its XML, analyze_samples checks for all.
need_samples disk-reservation-2012r2 csv-snapshot-2016 s2d-no-redundancy-2019 cluster-db-fr \
    vm-monitoring-2022 disk-missing-2022

# The lost reservation is the root of one incident: the CSV on that disk paused, and the two
# VMs stored on it failed on the same node. The damaged volume the disk showed on HV-NODE02
# is its own incident.
"$hvdiag" analyze --db "$work/a.db" --json samples/disk-reservation-2012r2 >"$work/a.json" 2>"$work/a.err"
check "disk-reservation-2012r2: exit 1 for a critical incident" test $? -eq 1
check "disk-reservation-2012r2: the lost disk heads the VMs' incident, the pause joined to it" \
    python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 2, [i["title"] for i in r["incidents"]]
inc, vol = sorted(r["incidents"], key=lambda i: i["severity"] != "critical")
assert inc["severity"] == "critical" and inc["hosts"] == "HV-NODE01", (inc["severity"], inc["hosts"])
d = inc["diagnoses"]
assert d[0]["rule"] == "vm-failed-after-disk-reservation-lost" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] in ("VM APP03 failed on HV-NODE01 after the node lost cluster disk 'Cluster Disk 2'",
                         "VM FS01 failed on HV-NODE01 after the node lost cluster disk 'Cluster Disk 2'"), d[0]["title"]
assert 'Get-ClusterResource "Cluster Disk 2"' in d[0]["remedy"] and "mpclaim" in d[0]["remedy"], d[0]["remedy"]
titles = {x["title"] for x in d if x["rule"] == "vm-failed-after-disk-reservation-lost"}
assert titles == {"VM APP03 failed on HV-NODE01 after the node lost cluster disk 'Cluster Disk 2'",
                  "VM FS01 failed on HV-NODE01 after the node lost cluster disk 'Cluster Disk 2'"}, titles
by = {}
for x in d:
    by.setdefault(x["rule"], []).append(x)
p = by["csv-paused-after-disk-reservation-lost"]
assert len(p) == 1 and p[0]["title"] == ("CSV Volume2 paused on HV-NODE01 after the node lost its disk "
                                         "'Cluster Disk 2'"), [x["title"] for x in p]
assert len(by["fc-resource-failed"]) == 2 and len(by["fc-role-online-failed"]) == 2, sorted(by)
assert {"fc-disk-reservation-lost", "csv-pause-device-not-connected", "fc-csv-paused"} <= set(by), sorted(by)
assert by["fc-disk-reservation-lost"][0]["count"] == 1, by["fc-disk-reservation-lost"][0]["count"]
assert vol["severity"] == "error" and vol["hosts"] == "HV-NODE02", vol["hosts"]
assert [x["rule"] for x in vol["diagnoses"]] == ["fc-disk-volume-failed", "fc-disk-chkdsk"], vol["diagnoses"]
assert vol["diagnoses"][0]["title"] == ("Volumes of cluster disk Cluster Disk 2 failed or may be corrupt "
                                        "on HV-NODE02"), vol["diagnoses"][0]["title"]
PY
check "disk-reservation-2012r2: the pause's disk is an entity of its diagnosis" \
    test "$(sqlite3 "$work/a.db" "SELECT e.value FROM diagnosis_entities e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'fc-csv-paused' AND e.name = 'resource'")" = "Cluster Disk 2"
check "disk-reservation-2012r2: no VM tied to a disk of another node" \
    test "$(sqlite3 "$work/a.db" "SELECT count(*) FROM diagnoses
        WHERE rule = 'vm-failed-after-disk-reservation-lost'")" = 2

# The failed snapshot (0x8004231F) left the volume redirected; the c0130021 pauses of the
# other nodes, named STATUS_CLUSTER_CSV_NO_SNAPSHOTS since WS2016, are harmless alone.
"$hvdiag" analyze --db "$work/b.db" --json samples/csv-snapshot-2016 >"$work/b.json" 2>"$work/b.err"
check "csv-snapshot-2016: exit 1 for an error" test $? -eq 1
check "csv-snapshot-2016: the failed snapshot first, the redirected access its effect" \
    python3 - "$work/b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["subject"] == "HV-NODE01" and inc["severity"] == "error", (inc["subject"], inc["severity"])
d = inc["diagnoses"]
assert d[0]["rule"] == "csv-redirected-after-snapshot-failed" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == ("CSV Volume1 on HV-NODE01 was left in redirected access after its software "
                         "snapshot failed (0x8004231f)"), d[0]["title"]
assert "Turn off redirected access" in d[0]["remedy"], d[0]["remedy"]
assert "vssadmin resize shadowstorage" in d[0]["remedy"], d[0]["remedy"]
by = {x["rule"]: x for x in d}
assert set(by) == {"csv-redirected-after-snapshot-failed", "fc-csv-snapshot-failed",
                   "fc-csv-paused-snapshot", "fc-csv-redirected-after-backup"}, sorted(by)
s = by["fc-csv-snapshot-failed"]
assert "VSS_E_INSUFFICIENT_STORAGE" in s["cause"] and "vssadmin resize shadowstorage" in s["remedy"], s
PY
check "csv-snapshot-2016: each node's lone c0130021 is benign" \
    test "$(sqlite3 "$work/b.db" "SELECT group_concat(host, ' ') FROM (SELECT host FROM diagnoses
        WHERE rule = 'fc-csv-auto-pause-isolated' ORDER BY host)")" = \
        "HV-NODE02.contoso.local HV-NODE03.contoso.local"
check "csv-snapshot-2016: no other pause diagnosis for c0130021" \
    test "$(sqlite3 "$work/b.db" "SELECT count(*) FROM diagnoses WHERE rule LIKE '%paus%'
        AND host NOT LIKE 'HV-NODE01%' AND rule != 'fc-csv-auto-pause-isolated'")" = 0

# A Get-ClusterLog folder only: the RES line of the virtual disk without redundancy is the
# root of the two VMs that failed on its node; the second node's log holds nothing wrong.
"$hvdiag" analyze --db "$work/c.db" --json samples/s2d-no-redundancy-2019 >"$work/c.json" 2>"$work/c.err"
check "s2d-no-redundancy-2019: exit 1 for a critical incident" test $? -eq 1
check "s2d-no-redundancy-2019: the disk without redundancy first, named, the VMs with it" \
    python3 - "$work/c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["severity"] == "critical" and inc["hosts"] == "HV-NODE01", (inc["severity"], inc["hosts"])
d = inc["diagnoses"]
assert d[0]["rule"] == "vm-failed-s2d-no-redundancy" and d[0]["root_cause"] is True, d[0]["rule"]
want = {"VM %s failed on HV-NODE01: Storage Spaces Direct disk 'Cluster Virtual Disk (CSV02)' has no "
        "redundancy and cannot come online" % vm for vm in ("SQL12", "SQL13")}
assert {x["title"] for x in d if x["rule"] == "vm-failed-s2d-no-redundancy"} == want, [x["title"] for x in d]
assert "DiskRecoveryAction -Value 1" in d[0]["remedy"], d[0]["remedy"]
assert 'Remove-ClusterSharedVolume -Name "Cluster Virtual Disk (CSV02)"' in d[0]["remedy"], d[0]["remedy"]
s = [x for x in d if x["rule"] == "cl-s2d-no-redundancy"]
assert len(s) == 1 and s[0]["title"] == ("Storage Spaces Direct disk 'Cluster Virtual Disk (CSV02)' on "
                                         "HV-NODE01 cannot come online: its virtual disk has no "
                                         "redundancy"), [x["title"] for x in s]
assert s[0]["evidence"][0]["source"].endswith("HV-NODE01_cluster.log"), s[0]["evidence"]
res = sorted(x["title"] for x in d if x["rule"] == "fc-resource-failed")
assert len(res) == 3 and "Cluster Virtual Disk (CSV02)" in res[0], res
assert len([x for x in d if x["rule"] == "fc-role-online-failed"]) == 2, [x["rule"] for x in d]
PY
check "s2d-no-redundancy-2019: the warning line before the failure makes no diagnosis" \
    test "$(sqlite3 "$work/c.db" "SELECT count(*) FROM evidence e JOIN diagnoses d ON d.id =
        e.diagnosis WHERE d.rule = 'cl-s2d-no-redundancy'")" = 1

# A French node whose system drive is full: 1080 with error 112 and the halts are the root,
# the peer's 1135 their effect; 1561 later when it came back without the newest database.
# The 7036 words are French; only "ClusSvc/4" in the binary data makes a start.
"$hvdiag" analyze --db "$work/d.db" --json samples/cluster-db-fr >"$work/d.json" 2>"$work/d.err"
check "cluster-db-fr: exit 1 for a critical incident" test $? -eq 1
check "cluster-db-fr: the database write first, the removal by the peer joined to it" \
    python3 - "$work/d.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["subject"] == "NOEUD01" and inc["hosts"] == "NOEUD01,NOEUD02", (inc["subject"], inc["hosts"])
d = inc["diagnoses"]
assert d[0]["rule"] == "node-removed-after-db-write-failed" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == ("The cluster service on NOEUD01 could not write the cluster database (error 112, "
                         "disk full) and stopped; NOEUD02 removed it from the cluster"), d[0]["title"]
assert "Start-ClusterNode -Name NOEUD01" in d[0]["remedy"], d[0]["remedy"]
by = {}
for x in d:
    by.setdefault(x["rule"], []).append(x)
w = by["fc-db-write-failed"][0]
assert w["count"] == 2 and w["title"] == ("The cluster service on NOEUD01 could not update the cluster "
                                          "database: its disk is full (error 112)"), (w["count"], w["title"])
assert by["fc-inconsistency-halt"][0]["count"] == 2, by["fc-inconsistency-halt"][0]["count"]
assert by["fc-node-removed"][0]["title"] == ("Cluster node NOEUD01 was removed from membership "
                                             "(seen by NOEUD02)"), by["fc-node-removed"][0]["title"]
assert "fc-stale-config" in by and len(by["clussvc-started"]) == 2, sorted(by)
PY
check "cluster-db-fr: 'arrêté' is no start, 'en cours d'exécution' with ClusSvc/4 is" \
    test "$(sqlite3 "$work/d.db" "SELECT count(*) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'clussvc-started' AND e.message LIKE '%exécution%'")" = 2

# VM monitoring restarted APP05 three times until its role exceeded the failover threshold;
# WEB11's protected network is another incident, listed after it.
"$hvdiag" analyze --db "$work/e.db" --json samples/vm-monitoring-2022 >"$work/e.json" 2>"$work/e.err"
check "vm-monitoring-2022: exit 1 for a critical incident" test $? -eq 1
"$hvdiag" analyze --db "$work/e.db" samples/vm-monitoring-2022 >"$work/e.txt" 2>"$work/e.err"
check "vm-monitoring-2022: the critical incident of APP05 is listed first" \
    test "$(sed -n 2p "$work/e.txt" | cut -c1-8)$(sed -n 2p "$work/e.txt" | grep -c 'APP05 (VM)')" = "critical1"
check "vm-monitoring-2022: the guest's service first, the threshold its effect; the network apart" \
    python3 - "$work/e.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inc = {i["subject"]: i for i in r["incidents"]}
assert sorted(inc) == ["APP05", "WEB11"], sorted(inc)
assert inc["APP05"]["severity"] == "critical", inc["APP05"]["severity"]
d = inc["APP05"]["diagnoses"]
assert d[0]["rule"] == "vm-monitoring-failover-threshold" and d[0]["root_cause"] is True, d[0]["rule"]
assert d[0]["title"] == ("Role 'APP05' was left failed: VM monitoring found a service inside APP05 "
                         "unhealthy until the role exceeded its failover threshold"), d[0]["title"]
assert 'Get-ClusterVMMonitoredItem -VirtualMachine "APP05"' in d[0]["remedy"], d[0]["remedy"]
assert 'Start-ClusterGroup "APP05"' in d[0]["remedy"], d[0]["remedy"]
assert "logged by HV-NODE02" in d[0]["cause"], d[0]["cause"]
by = {x["rule"]: x for x in d}
assert by["fc-vm-app-critical"]["count"] == 3 and by["fc-resource-failed"]["count"] == 3, by
assert by["fc-role-terminal"]["count"] == 1, by["fc-role-terminal"]
w = inc["WEB11"]["diagnoses"]
assert [x["rule"] for x in w] == ["fc-vm-network-critical"], [x["rule"] for x in w]
assert w[0]["title"] == "A protected network of WEB11 on HV-NODE01 is unhealthy", w[0]["title"]
assert "Protected network" in w[0]["remedy"], w[0]["remedy"]
PY

# The disk resource finds no disk with its signature on either node: the missing disk, its
# 1069 and the role's 1205 are one chain per node, named; the escalation once per node.
"$hvdiag" analyze --db "$work/f.db" --json samples/disk-missing-2022 >"$work/f.json" 2>"$work/f.err"
check "disk-missing-2022: exit 1 for a critical incident" test $? -eq 1
check "disk-missing-2022: the disk not found first, on each node, role and signature named" \
    python3 - "$work/f.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
# No event shows that role SQL20 is a VM (a disk resource, a role): it is named as a role and
# the incident is the host's, never a VM's.
assert (inc["subject_kind"], inc["subject"], inc["hosts"]) == ("host", "HV-NODE01", "HV-NODE01,HV-NODE02"), \
    (inc["subject_kind"], inc["subject"], inc["hosts"])
assert all(not x["vm_name"] for x in inc["diagnoses"]), [x["vm_name"] for x in inc["diagnoses"]]
d = inc["diagnoses"]
assert d[0]["rule"] == "role-failed-disk-not-found" and d[0]["root_cause"] is True, d[0]["rule"]
want = {"Role 'SQL20' cannot come online on %s: its disk 'Cluster Disk 3' is not found (signature "
        "7A3D11E2)" % n for n in ("HV-NODE01", "HV-NODE02")}
assert {x["title"] for x in d if x["rule"] == "role-failed-disk-not-found"} == want, [x["title"] for x in d]
assert "Repair" in d[0]["remedy"] and 'Start-ClusterGroup "SQL20"' in d[0]["remedy"], d[0]["remedy"]
esc = sorted(x["title"] for x in d if x["rule"] == "role-failure-escalation")
assert esc == ["Role SQL20 failed, could not come online and exceeded its failover threshold "
               "(reported by %s)" % n for n in ("HV-NODE01", "HV-NODE02")], esc
by = {}
for x in d:
    by.setdefault(x["rule"], []).append(x)
assert [len(by[k]) for k in ("fc-disk-missing", "fc-resource-failed", "fc-role-online-failed",
                             "fc-role-terminal")] == [2, 2, 2, 1], sorted(by)
PY
check "disk-missing-2022: a role's resource and its 1205 are joined on one node only" \
    test "$(sqlite3 "$work/f.db" "SELECT count(*) FROM diagnoses WHERE rule = 'role-failure-escalation'")" = 2
exit $fail
