#!/bin/sh
# The samples of the membership families: a join refused at the authentication stage (WS2019
# Get-ClusterLog folder), a join refused for the node's Windows version (WS2012 R2 System log),
# a node that cannot form the cluster (old configuration, no witness; WS2019 cluster.log), a
# cluster network down with every interface on it (WS2012 R2 System log) and a two-node cluster
# split in two that the witness decided (WS2016 cluster.log of both nodes) and a node halted for
# reaching only some nodes (WS2022 System logs of two nodes), analysed end to end
# into real database files.
# usage: samples_join_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1
need_samples join-rejected-2019 join-version-2012r2 form-failure-2019 network-down-2012r2 \
    split-brain-2016 partial-connectivity-2022

# analyse NAME BUNDLE EXIT: analyse into $work/NAME.db and $work/NAME.json, check the exit code.
analyse() {
    "$hvdiag" analyze --db "$work/$1.db" --json "samples/$2" >"$work/$1.json" 2>"$work/$1.err"
    check "$2: exit $3" test $? -eq "$3"
}

# A join refused at the authentication stage: the nodes behind "n1" and "n2" are named from
# the same threads' security handshake lines, in one root, with the code's account fix.
analyse a join-rejected-2019 1
check "join-rejected-2019: one root for the refused authentication, both peers named" \
    python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert [f["kind"] for f in r["files"]] == ["clusterlog"], r["files"]
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "join-refused-authentication" and d[0]["root_cause"] is True, [x["rule"] for x in d]
titles = [x["title"] for x in d if x["rule"] == "join-refused-authentication"]
assert titles == ["HV-NODE03 cannot join the cluster: the authentication of its cluster connection to "
                  "HV-NODE01 and HV-NODE02 failed (0x80090322)"], titles
assert d[0]["count"] == 5, d[0]["count"]
assert ('For each NODE of HV-NODE01 and HV-NODE02: Get-ADObject -LDAPFilter "(|(cn=NODE)(sAMAccountName=NODE))"'
        in d[0]["remedy"]), d[0]["remedy"]
assert "Start-ClusterNode -Name HV-NODE03" in d[0]["remedy"], d[0]["remedy"]
assert "SEC_E_WRONG_PRINCIPAL" in d[0]["cause"], d[0]["cause"]
by = {}
for x in d:
    by.setdefault(x["rule"], []).append(x)
assert len(by["cl-join-auth-fail"]) == 2 and len(by["cl-join-fail"]) == 2, sorted(by)
assert by["fc-join-auth-failed"][0]["title"] == (
    "Node HV-NODE03 could not join the cluster: authentication or authorization failed (reported by HV-NODE03)")
PY
check "join-rejected-2019: the evidence of the root is the cluster.log lines" \
    test "$(sqlite3 "$work/a.db" "SELECT count(DISTINCT e.line) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'cl-join-auth-fail'
        AND e.path LIKE '%HV-NODE03_cluster.log'")" = 2

# A node reinstalled with an older Windows Server: 1547 and 1070 (5075), one root.
analyse b join-version-2012r2 1
check "join-version-2012r2: the version refusal first, with the cluster, the code and the fix" \
    python3 - "$work/b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert [x["rule"] for x in d] == ["join-refused-version", "fc-version-incompatible", "fc-join-error"], \
    [x["rule"] for x in d]
assert d[0]["root_cause"] is True
assert d[0]["title"] == ("HV-NODE04 cannot join cluster HVCLUS01: its Windows version is not compatible "
                         "with the cluster's (error 5075)"), d[0]["title"]
assert "Update-ClusterFunctionalLevel" in d[0]["cause"], d[0]["cause"]
assert "Add-ClusterNode -Name HV-NODE04" in d[0]["remedy"], d[0]["remedy"]
assert d[1]["count"] == 2 and d[2]["count"] == 2, (d[1]["count"], d[2]["count"])
PY

# The first node up after an outage holds an old configuration and cannot reach the witness.
analyse c form-failure-2019 1
check "form-failure-2019: one root, forced quorum only as the last resort" \
    python3 - "$work/c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "form-failed-stale-config-no-witness" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("HV-NODE02 cannot start the cluster: its copy of the cluster configuration is "
                         "out of date and the witness is not accessible"), d[0]["title"]
rem = d[0]["remedy"]
assert rem.index("Start the node that was running last") < rem.index("-FixQuorum"), rem
assert "Start-ClusterNode -Name HV-NODE02 -FixQuorum" in rem, rem
by = {x["rule"]: x for x in d}
assert by["fc-form-witness-failed"]["count"] == 2 and by["fc-stale-config"]["count"] == 2, \
    (by["fc-form-witness-failed"]["count"], by["fc-stale-config"]["count"])
PY

# A network down with the interfaces of all three nodes: the shared switch, not an adapter, in
# one root that names every node and explains the four events.
analyse d network-down-2012r2 1
check "network-down-2012r2: one root, the network down with every failed interface" \
    python3 - "$work/d.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "network-down-interfaces-failed" and d[0]["root_cause"] is True, [x["rule"] for x in d]
roots = [x["title"] for x in d if x["rule"] == "network-down-interfaces-failed"]
assert roots == ["Cluster network 'Cluster Network 2' is down with the interfaces of HV-NODE01, HV-NODE02 "
                 "and HV-NODE03 on it: the fault is what the nodes share on that network (seen by HV-NODE01)"], roots
assert d[0]["count"] == 4, d[0]["count"]
assert "1127 for HV-NODE01, HV-NODE02 and HV-NODE03" in d[0]["cause"], d[0]["cause"]
assert d[0]["remedy"].startswith("Repair the switch or VLAN of 'Cluster Network 2', not the adapters."), d[0]["remedy"]
assert "Get-ClusterNetworkInterface -Network 'Cluster Network 2'" in d[0]["remedy"], d[0]["remedy"]
assert sorted(x["rule"] for x in d[1:]) == ["fc-netif-failed"] * 3 + ["fc-network-down"], [x["rule"] for x in d]
PY

# Two nodes that removed each other; the witness decided for HV-NODE02.
analyse e split-brain-2016 1
check "split-brain-2016: the split first, the winner named, no forced quorum on the loser" \
    python3 - "$work/e.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert [f["kind"] for f in r["files"]] == ["clusterlog", "clusterlog"], r["files"]
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "cluster-split-witness-race" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("The cluster split in two: HV-NODE01 and HV-NODE02 removed each other, HV-NODE02 "
                         "won the witness and HV-NODE01 shut down its cluster service"), d[0]["title"]
assert "never Start-ClusterNode -FixQuorum on the side that lost" in d[0]["remedy"], d[0]["remedy"]
removed = sorted((x["host"], x["title"]) for x in d if x["rule"] == "fc-node-removed")
assert removed == [("HV-NODE01", "Cluster node HV-NODE02 was removed from membership (seen by HV-NODE01)"),
                   ("HV-NODE02", "Cluster node HV-NODE01 was removed from membership (seen by HV-NODE02)")], removed
hb = [x for x in d if x["rule"] == "heartbeat-loss-then-node-removed"]
assert len(hb) == 1 and hb[0]["count"] == 3, [(x["title"], x["count"]) for x in hb]
assert "missed heartbeats from 10.0.1.12:~3343~ and then removed node HV-NODE02" in hb[0]["cause"], hb[0]["cause"]
rules = {x["rule"] for x in d}
assert {"cl-witness-better-tag", "cl-quorum-lost-witness", "fc-quorum-lost", "removed-node-lost-quorum",
        "cl-group-move-nodedown"} <= rules, sorted(rules)
PY

# A node that reaches some nodes but not all: 1006 on it, 1135 and 1125 on the other, one incident.
analyse f partial-connectivity-2022 1
check "partial-connectivity-2022: the halted node first, across the two System logs" \
    python3 - "$work/f.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert [f["kind"] for f in r["files"]] == ["evtx", "evtx"], r["files"]
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "halted-incomplete-connectivity-removed" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("HV-NODE03 reaches some cluster nodes but not all: its cluster service was halted "
                         "and HV-NODE01 removed it"), d[0]["title"]
assert "Test-Cluster -Include Network" in d[0]["remedy"], d[0]["remedy"]
assert sorted((x["rule"], x["host"]) for x in d[1:]) == [
    ("fc-halted-incomplete-connectivity", "HV-NODE03.contoso.local"),
    ("fc-netif-unreachable", "HV-NODE01.contoso.local"),
    ("fc-node-removed", "HV-NODE01.contoso.local")], [(x["rule"], x["host"]) for x in d]
PY
exit $fail
