#!/bin/sh
# A Get-ClusterLog destination folder alone (cluster.log files of three nodes, no EVTX) is
# diagnosed at least as fully as the same incident from the nodes' System.evtx exports: every
# (rule, host, title) the EVTX bundle gives, the cluster.log bundle gives too.
# usage: clusterlog_bundle_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
for b in node-removal node-removal-evtx; do
    [ -d "samples/$b" ] || { echo "FAIL: samples/$b is missing" >&2; exit 1; }
    "$hvdiag" analyze --rules rules --db "$work/$b.db" --json "samples/$b" >"$work/$b.json" 2>"$work/$b.err"
    st=$?
    if [ $st -ne 1 ]; then
        echo "FAIL: analyze samples/$b exited $st, expected 1 (critical incidents)" >&2
        cat "$work/$b.err" >&2
        exit 1
    fi
done
python3 - "$work/node-removal.json" "$work/node-removal-evtx.json" <<'PY'
import json, sys

def diags(path):
    r = json.load(open(path))
    out = {}
    for inc in r["incidents"]:
        for d in inc["diagnoses"]:
            host = d["host"].split(".")[0].upper()
            out[(d["rule"], host)] = d
    return r, out

clog_r, clog = diags(sys.argv[1])
evtx_r, evtx = diags(sys.argv[2])
assert all(f["kind"] == "clusterlog" for f in clog_r["files"]), clog_r["files"]
assert all(f["kind"] == "evtx" for f in evtx_r["files"]), evtx_r["files"]
assert len(evtx) >= 6, sorted(evtx)
missing = [k for k in evtx if k not in clog]
assert not missing, "diagnosed from EVTX only: %s" % missing
for k, d in evtx.items():
    assert clog[k]["title"] == d["title"], (k, clog[k]["title"], d["title"])
    assert clog[k]["severity"] == d["severity"], (k, clog[k]["severity"], d["severity"])
# The story: HV-NODE01 removed (seen by both survivors), quorum lost on HV-NODE01, and SQL05's
# failure on HV-NODE02 joined to the removal, in one incident with it.
for host in ("HV-NODE02", "HV-NODE03"):
    assert "HV-NODE01" in clog[("fc-node-removed", host)]["title"], host
assert ("fc-quorum-lost", "HV-NODE01") in clog
inc = [i for i in clog_r["incidents"]
       if any(d["rule"] == "resource-failed-after-node-removed" for d in i["diagnoses"])]
assert len(inc) == 1, inc
rules = {d["rule"] for d in inc[0]["diagnoses"]}
assert {"fc-node-removed", "fc-resource-failed", "fc-role-online-failed"} <= rules, rules
# The cluster.log lines are the evidence, with their line numbers.
ev = clog[("fc-node-removed", "HV-NODE02")]["evidence"][0]
assert ev["source"].endswith("HV-NODE02_cluster.log") and ev["line"] == 11, ev
PY
