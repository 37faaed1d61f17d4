#!/bin/sh
# The samples of the cluster network families: a partitioned network (WS2022 cluster.log of two
# nodes), a node quarantined after three removals (WS2019 System and Operational EVTX), a join
# that cannot reach the other nodes (WS2016), a secure DNS zone refusing the cluster name (a
# French WS2019 host: matched on ids and fields, never on the localised reason), and MAC
# addresses pinned by a NIC team (WS2012 R2, a classic event with unnamed insertion strings),
# analysed end to end into real database files.
# usage: samples_network_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1
# That every sample EVTX is what evtxgen makes of its XML, analyze_samples checks for all.
need_samples network-partition-2022 node-quarantine-2019 join-failure-2016 dns-registration-fr \
    nic-team-2012r2

# A partitioned network: HV-NODE03 unreachable on both cluster networks, removed, its roles
# moved, and HV-NODE03 itself (the minority) losing quorum: one incident, the partition first.
"$hvdiag" analyze --db "$work/a.db" --json samples/network-partition-2022 >"$work/a.json" 2>"$work/a.err"
check "network-partition-2022: exit 1 for a critical incident" test $? -eq 1
check "network-partition-2022: the partition first, removal, quorum loss and moves joined to it" \
    python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert all(f["kind"] == "clusterlog" for f in r["files"]), r["files"]
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "cluster-partition-heartbeats-node-removed" and d[0]["root_cause"] is True, \
    [x["rule"] for x in d]
assert d[0]["title"] == ("Node HV-NODE03 became unreachable on partitioned cluster network "
                         "'Cluster Network 2' and was removed from the cluster (seen by HV-NODE01)"), d[0]["title"]
assert "Get-ClusterNetworkInterface -Node HV-NODE03" in d[0]["remedy"], d[0]["remedy"]
assert "missed 40% of the heartbeats with HV-NODE03" in d[0]["cause"], d[0]["cause"]
by = {}
for x in d:
    by.setdefault(x["rule"], []).append(x)
nets = sorted(x["title"].split("'")[1] for x in by["fc-network-partitioned"])
assert nets == ["Cluster Network 1", "Cluster Network 2"], nets
q = by["removed-node-lost-quorum"]
assert len(q) == 1 and q[0]["title"] == (
    "HV-NODE03 was cut off from the other nodes (HV-NODE01 removed it) and shut down its "
    "cluster service: quorum was lost"), [x["title"] for x in q]
moves = sorted(x["title"] for x in by["cl-group-move-nodedown"])
assert any("WEB11" in t for t in moves) and any("SQL12" in t for t in moves), moves
lost = sorted((x["host"], x["title"]) for x in by["fc-op-udp-connection-lost"])
assert len(lost) == 4, lost
assert ("HV-NODE01", "HV-NODE01 lost the cluster UDP connection to 10.0.1.13:~3343~") in lost, lost
assert {"fc-node-removed", "fc-netif-unreachable", "fc-quorum-lost", "cl-route-down",
        "heartbeat-pct-loss-then-node-removed", "partition-then-node-removed"} <= set(by), sorted(by)
PY
check "network-partition-2022: the evidence is the cluster.log lines" \
    test "$(sqlite3 "$work/a.db" "SELECT count(*) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'fc-network-partitioned'
        AND e.path LIKE '%HV-NODE01_cluster.log' AND e.line IN (12, 14)")" = 2

# A node that left three times is quarantined; it is refused when it tries to join; its
# Operational export (no rendered text) shows the route lost before each removal.
"$hvdiag" analyze --db "$work/b.db" --json samples/node-quarantine-2019 >"$work/b.json" 2>"$work/b.err"
check "node-quarantine-2019: exit 1 for a critical incident" test $? -eq 1
check "node-quarantine-2019: the removals explain the quarantine, the refusals joined to it" \
    python3 - "$work/b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["subject_kind"] == "vm" and inc["subject"] == "APP41", (inc["subject_kind"], inc["subject"])
d = inc["diagnoses"]
assert d[0]["rule"] == "node-quarantined-after-removals" and d[0]["root_cause"] is True, \
    [x["rule"] for x in d]
assert d[0]["title"] == ("Node HV-NODE02 was quarantined after leaving the cluster membership 3 "
                         "times in a short time (seen by HV-NODE01)"), d[0]["title"]
assert "Start-ClusterNode -Name HV-NODE02 -ClearQuarantine" in d[0]["remedy"], d[0]["remedy"]
assert "2024/06/11-05:52:18.051" in d[0]["remedy"], d[0]["remedy"]
by = {x["rule"]: x for x in d}
assert by["fc-node-removed"]["count"] == 3, by["fc-node-removed"]["count"]
assert by["quarantined-node-refused"]["title"] == (
    "HV-NODE02 cannot rejoin the cluster: it is quarantined (1672 on HV-NODE01)"), by["quarantined-node-refused"]["title"]
assert by["fc-local-node-quarantined"]["title"] == (
    "HV-NODE02 is quarantined (by cluster nodes) and cannot join the cluster"), by["fc-local-node-quarantined"]["title"]
u = by["fc-op-udp-connection-lost"]
assert u["count"] == 3 and u["title"] == "HV-NODE01 lost the cluster UDP connection to 10.0.1.12:~3343~", \
    (u["count"], u["title"])
assert {"resource-failed-after-node-removed", "fc-node-quarantine-join"} <= set(by), sorted(by)
PY
check "node-quarantine-2019: the Operational 1650s give their endpoints as entities" \
    test "$(sqlite3 "$work/b.db" "SELECT count(DISTINCT e.value) FROM diagnosis_entities e
        JOIN diagnoses d ON d.id = e.diagnosis WHERE d.rule = 'fc-op-udp-connection-lost'
        AND e.name IN ('local_endpoint', 'remote_endpoint')")" = 2

# A join that cannot reach the other nodes: 1652 and 1070 on the joining node, one root.
"$hvdiag" analyze --db "$work/c.db" --json samples/join-failure-2016 >"$work/c.json" 2>"$work/c.err"
check "join-failure-2016: exit 1 for a critical incident" test $? -eq 1
check "join-failure-2016: no connection is the root, the peers and the error named" \
    python3 - "$work/c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "join-failed-no-connection" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("HV-NODE03 cannot join cluster HVCLUS01: no cluster connection to "
                         "HV-NODE01 HV-NODE02 (error 1460)"), d[0]["title"]
assert 'Get-NetFirewallRule -DisplayGroup "Failover Clusters"' in d[0]["remedy"], d[0]["remedy"]
assert "Start-ClusterNode -Name HV-NODE03" in d[0]["remedy"], d[0]["remedy"]
assert sorted(x["rule"] for x in d[1:]) == ["fc-join-error", "fc-join-failed"], [x["rule"] for x in d]
PY

# A French host: the secure zone's refusal (1257) heads the incident over the generic 1196,
# whose reason is the localised "Opération DNS refusée." that no rule reads.
"$hvdiag" analyze --db "$work/d.db" --json samples/dns-registration-fr >"$work/d.json" 2>"$work/d.err"
check "dns-registration-fr: exit 1 for an error" test $? -eq 1
check "dns-registration-fr: the secure zone first, the name and zone given" \
    python3 - "$work/d.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "fc-dns-secure-zone-denied" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("Cluster name CLUSFR01 may not update its record in the secure DNS zone "
                         "fabrikam.fr (reported by NOEUD01)"), d[0]["title"]
assert "A record of CLUSFR01 in zone fabrikam.fr" in d[0]["remedy"], d[0]["remedy"]
rules = sorted(x["rule"] for x in d)
assert rules == ["fc-dns-registration"] * 2 + ["fc-dns-secure-zone-denied"] * 2, rules
PY
check "dns-registration-fr: the French reason is kept as evidence" \
    test "$(sqlite3 "$work/d.db" "SELECT count(*) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'fc-dns-registration'
        AND e.message LIKE '%refusée%'")" = 2

# A classic VMSMP event: unnamed insertion strings, read by position.
"$hvdiag" analyze --db "$work/e.db" --json samples/nic-team-2012r2 >"$work/e.json" 2>"$work/e.err"
check "nic-team-2012r2: exit 0 for warnings only" test $? -eq 0
check "nic-team-2012r2: each pinned MAC address named, the teaming fix given" \
    python3 - "$work/e.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert [x["rule"] for x in d] == ["host-nic-team-mac-pinned"] * 2, [x["rule"] for x in d]
assert [x["title"] for x in d] == [
    "A VM port on HV-NODE02 was blocked from MAC address %s, pinned to another port "
    "(NIC teaming misconfigured)" % m for m in ("00-15-5D-0A-14-07", "00-15-5D-0A-14-0B")], \
    [x["title"] for x in d]
assert "Get-NetLbfoTeam on HV-NODE02" in d[0]["remedy"], d[0]["remedy"]
PY
exit $fail
