#!/bin/sh
# The samples of names from message text and companion events (WS2022 EVTX), a localised host
# (German WS2016 EVTX) and a WS2012 R2 bundle (UTF-16LE cluster.log without header sections),
# analysed end to end into real database files.
# usage: samples_names_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1
# That every sample EVTX is what evtxgen makes of its XML, analyze_samples checks for all.
need_samples migration-companion quorum-loss-de csv-pause-2012r2

# A VMMS 20306 that names no VM, tied to the VMMS event of the same second that does: the
# incident is the VM's, its root names the VM and the peer, and explains both events.
"$hvdiag" analyze --db "$work/a.db" --json samples/migration-companion >"$work/a.json" 2>"$work/a.err"
check "migration-companion: exit 1 for an error" test $? -eq 1
check "migration-companion: the VM-named root cause comes first" python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert inc["subject_kind"] == "vm" and inc["subject"] == "APP07", inc
first = inc["diagnoses"][0]
assert first["rule"] == "lm-no-credentials-named" and first["root_cause"] is True, first["rule"]
assert first["title"] == ("Live migration of APP07 from HV-NODE01 to HV-NODE03 failed: "
                          "no delegable credentials (0x8009030E)"), first["title"]
assert "HV-NODE03" in first["remedy"], first["remedy"]
rules = sorted(d["rule"] for d in inc["diagnoses"])
assert rules == ["lm-migration-failed-at-source", "lm-no-credentials",
                 "lm-no-credentials-named"], rules
PY

# A German WS2016 node: the FailoverClustering events carry ids and node names only, and the
# cluster service's restart is known by the 7036 binary data, not by "Wird ausgeführt".
"$hvdiag" analyze --db "$work/b.db" --json samples/quorum-loss-de >"$work/b.json" 2>"$work/b.err"
check "quorum-loss-de: exit 1 for a critical incident" test $? -eq 1
check "quorum-loss-de: node removal first, quorum loss and RHS with it" python3 - "$work/b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inc = r["incidents"][0]
d = inc["diagnoses"]
assert d[0]["rule"] == "fc-node-removed", [x["rule"] for x in d]
assert d[0]["title"] == "Cluster node KNOTEN01 was removed from membership (seen by KNOTEN02)", d[0]["title"]
assert {"fc-quorum-lost", "fc-rhs-died"} <= {x["rule"] for x in d}, [x["rule"] for x in d]
PY
check "quorum-loss-de: the German 7036 'Wird ausgeführt' is the cluster service starting" \
    test "$(sqlite3 "$work/b.db" "SELECT count(*) FROM diagnoses WHERE rule = 'clussvc-started'
        AND host = 'KNOTEN02.fabrikam.de'")" = 1
check "quorum-loss-de: the 7036 'Beendet' (stopped) is not" \
    test "$(sqlite3 "$work/b.db" "SELECT count(*) FROM evidence e JOIN diagnoses d
        ON d.id = e.diagnosis WHERE d.rule = 'clussvc-started'")" = 1
# WS2012 R2: a CSV pause on HV-NODE01, then HV-NODE02 removes it; HV-NODE02's cluster.log is
# UTF-16LE without header sections (its node comes from the file name).
"$hvdiag" analyze --db "$work/c.db" --json samples/csv-pause-2012r2 >"$work/c.json" 2>"$work/c.err"
check "csv-pause-2012r2: exit 1 for a critical incident" test $? -eq 1
check "csv-pause-2012r2: the CSV pause is the root, heartbeats and removal with it" \
    python3 - "$work/c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
d = r["incidents"][0]["diagnoses"]
assert d[0]["rule"] == "csv-pause-then-node-removed" and d[0]["root_cause"] is True, d[0]["rule"]
rules = {x["rule"] for x in d}
assert {"heartbeat-loss-then-node-removed", "fc-node-removed", "fc-csv-paused",
        "cl-missed-hb"} <= rules, rules
hb = [x for x in d if x["rule"] == "cl-missed-hb"][0]
assert hb["host"] == "HV-NODE02", hb["host"]
assert hb["evidence"][0]["source"].endswith("HV-NODE02_cluster.log"), hb["evidence"]
PY
exit $fail
