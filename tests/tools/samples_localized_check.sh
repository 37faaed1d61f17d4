#!/bin/sh
# A Get-ClusterLog destination folder of a German cluster (cluster.log files of three WS2019
# nodes, their [System] lines in German) is diagnosed as fully as the same incident told in
# English (samples/node-removal): every (rule, host) of the English bundle, less the one its
# Operational move line gives (no German Operational text is shipped), with the German names
# in the titles, in one incident whose root is the removal; and the evidence is the German
# cluster.log lines. A French WS2016 cluster's folder (csv-pause-fr) tells csv-pause-2012r2
# again: the same incident, the CSV pause at its root.
# usage: samples_localized_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1
need_samples node-removal node-removal-de csv-pause-2012r2 csv-pause-fr

for b in node-removal node-removal-de; do
    "$hvdiag" analyze --rules rules --db "$work/$b.db" --json "samples/$b" >"$work/$b.json" 2>"$work/$b.err"
    check "$b: exit 1 for critical incidents" test $? -eq 1
done
check "node-removal-de: the German bundle gives what the English one gives" \
    python3 - "$work/node-removal.json" "$work/node-removal-de.json" <<'PY'
import json, sys

def load(path, names):
    r = json.load(open(path))
    out = {}
    for inc in r["incidents"]:
        for d in inc["diagnoses"]:
            host = d["host"].split(".")[0].upper()
            for a, b in names:
                host = host.replace(a, b)
            out.setdefault((d["rule"], host), []).append(d)
    return r, out

en_r, en = load(sys.argv[1], [])
de_r, de = load(sys.argv[2], [("KNOTEN", "HV-NODE")])
assert all(f["kind"] == "clusterlog" for f in de_r["files"]), de_r["files"]
assert len(de_r["files"]) == 3, de_r["files"]
# The English bundle's Operational 1641 line has no German counterpart in the German one.
missing = sorted(k for k in en if k not in de and k[0] != "fc-op-role-moving")
assert not missing, "diagnosed from the English bundle only: %s" % missing
assert len(de) >= 15, sorted(de)
# The removal heads one incident, the quorum loss and the role failure under it.
assert len(de_r["incidents"]) == 1, [i["title"] for i in de_r["incidents"]]
d = de_r["incidents"][0]["diagnoses"]
titles = {(x["rule"], x["host"]): x["title"] for x in d}
assert titles[("fc-node-removed", "KNOTEN02")] == \
    "Cluster node KNOTEN01 was removed from membership (seen by KNOTEN02)", titles
assert titles[("fc-quorum-lost", "KNOTEN01")] == \
    "The cluster service on KNOTEN01 shut down: quorum was lost", titles
assert titles[("fc-resource-failed", "KNOTEN02")] == \
    "Cluster resource 'Virtueller Computer ERP05' in role 'ERP05' failed on KNOTEN02", titles
assert titles[("fc-role-online-failed", "KNOTEN02")] == \
    "The cluster could not bring role 'ERP05' fully online or offline on KNOTEN02", titles
assert titles[("role-failed-after-node-removed", "KNOTEN02")] == \
    "Node KNOTEN01 was removed and role 'ERP05' could not come online on KNOTEN02", titles
assert {("removed-node-lost-quorum", "KNOTEN01"), ("fc-rhs-died", "KNOTEN01"),
        ("fc-node-removed", "KNOTEN03")} <= set(titles), sorted(titles)
# The same titles as in English, names aside.
for k, ds in en.items():
    if k in de:
        want = sorted(x["title"] for x in ds)
        got = sorted(x["title"].replace("KNOTEN", "HV-NODE").replace("Virtueller Computer ERP05",
                                                                       "Virtual Machine SQL05")
                     .replace("ERP05", "SQL05") for x in de[k])
        assert got == want, (k, got, want)
PY
check "node-removal-de: the evidence is the German [System] lines" \
    test "$(sqlite3 "$work/node-removal-de.db" "SELECT count(*) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule IN ('fc-node-removed', 'fc-resource-failed',
        'fc-role-online-failed', 'fc-quorum-lost') AND e.path LIKE '%KNOTEN0%_cluster.log'
        AND (e.message LIKE 'Der %' OR e.message LIKE 'Fehler bei der %'
        OR e.message LIKE 'Die Clusterrolle %')")" -eq 5

# French: « » with the volume, its disk and the status in their places, and the removal.
for b in csv-pause-2012r2 csv-pause-fr; do
    "$hvdiag" analyze --rules rules --db "$work/$b.db" --json "samples/$b" >"$work/$b.json" 2>"$work/$b.err"
    check "$b: exit 1 for a critical incident" test $? -eq 1
done
check "csv-pause-fr: the French bundle gives the incident csv-pause-2012r2 gives" \
    python3 - "$work/csv-pause-2012r2.json" "$work/csv-pause-fr.json" <<'PY'
import json, sys

def story(path, names):
    r = json.load(open(path))
    assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
    out = []
    for d in r["incidents"][0]["diagnoses"]:
        t, h = d["title"], d["host"].split(".")[0]
        for a, b in names:
            t, h = t.replace(a, b), h.replace(a, b)
        out.append((d["rule"], h, d["root_cause"], t))
    return r, out

en_r, en = story(sys.argv[1], [])
fr_r, fr = story(sys.argv[2], [("NOEUD", "HV-NODE")])
assert all(f["kind"] == "clusterlog" for f in fr_r["files"]), fr_r["files"]
assert fr == en, (fr, en)
assert fr[0][0] == "csv-pause-then-node-removed" and fr[0][2] is True, fr[0]
assert ("fc-csv-paused", "HV-NODE01", False,
        "CSV Volume2 paused on HV-NODE01: STATUS_IO_TIMEOUT(c00000b5)") in fr, fr
PY
exit $fail
