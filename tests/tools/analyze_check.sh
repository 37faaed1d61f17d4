#!/bin/sh
# Integration test of 'hvdiag analyze' on the sample bundles, with a real database file.
# usage: analyze_check.sh HVDIAG EVTXGEN SOURCE_DIR
set -u
hvdiag=$1
evtxgen=$2
src=$3
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1

# The committed sample EVTX files are what evtxgen makes of their XML.
for x in $(cd samples/xml && find . -name '*.xml'); do
    fwd=
    case $x in */ForwardedEvents.xml) fwd=--forwarded ;; esac # as a collector writes them
    "$evtxgen" $fwd "samples/xml/$x" "$work/regen.evtx" >/dev/null 2>&1
    check "samples/${x%.xml}.evtx matches its XML" cmp -s "$work/regen.evtx" "samples/${x%.xml}.evtx"
done

db=$work/a.db
"$hvdiag" analyze --db "$db" --json --html "$work/report.html" samples/live-migration-spn >"$work/a.json" 2>"$work/a.err"
check "analyze exits 1 when it finds errors" test $? -eq 1
check "JSON output parses" python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$work/a.json"
check "the correlated root cause is reported" python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inc = [d for i in r["incidents"] for d in i["diagnoses"] if d["rule"] == "lm-spn-missing-on-destination"]
assert len(inc) == 1, inc
d = inc[0]
assert d["root_cause"] is True
assert 'setspn -S "Microsoft Virtual System Migration Service/HV-NODE02" HV-NODE02' in d["remedy"], d["remedy"]
assert r["incidents"][0]["diagnoses"][0]["rule"] == "lm-spn-missing-on-destination"
ev = [d for i in r["incidents"] for d in i["diagnoses"] if d["rule"] == "lm-target-unknown"][0]["evidence"]
assert ev and ev[0]["source"].endswith("HV-NODE01/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"), ev
PY
check "HTML report has a timeline and the root cause" grep -q '<svg class="timeline"' "$work/report.html"
check "HTML report names the root cause" grep -q 'class="label">Root cause<' "$work/report.html"

# Analysing the same files again changes nothing in the database but the source rows, which
# now say every event was a repeat.
sqlite3 "$db" .dump | grep -v '^INSERT INTO sources' >"$work/dump1.sql"
"$hvdiag" analyze --db "$db" samples/live-migration-spn >/dev/null 2>&1
sqlite3 "$db" .dump | grep -v '^INSERT INTO sources' >"$work/dump2.sql"
check "a second run leaves the database unchanged" cmp -s "$work/dump1.sql" "$work/dump2.sql"
check "and its source rows say all repeats" test "$(sqlite3 "$db" \
    "SELECT count(*) = sum(fresh = 0 AND repeated > 0) AND count(*) > 0 FROM sources")" = 1

# The same database through hvdiag query (no daemon: read-only, straight from the file).
"$hvdiag" query --socket "$work/no.sock" --db "$db" --json incidents >"$work/q.json" 2>&1
check "query lists the incident" grep -q "migration SPN is missing" "$work/q.json"
"$hvdiag" query --db "$db" incident 1 >"$work/q1.txt" 2>&1
check "query shows the root cause and its remedy" grep -q 'setspn -S "Microsoft Virtual System Migration Service/HV-NODE02" HV-NODE02' "$work/q1.txt"

# The second story, into the same database.
"$hvdiag" analyze --db "$db" --json samples/unplanned-failover >"$work/b.json" 2>/dev/null
check "unplanned failover: stale link, heartbeat correlation, no benign KVP" python3 - "$work/b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rules = {d["rule"] for i in r["incidents"] for d in i["diagnoses"]}
assert "hv-config-stale-link-4096" in rules, rules
assert "heartbeat-loss-then-node-removed" in rules, rules
assert "hv-kvp-4096-benign" not in rules, rules
PY

# A missing path is an input error (exit 2) and the rest is still analysed.
"$hvdiag" analyze --db "$work/c.db" --json samples/live-migration-spn "$work/nonexistent" >"$work/c.json" 2>"$work/c.err"
check "a missing path gives exit 2" test $? -eq 2
check "the missing path is named" grep -q nonexistent "$work/c.err"
check "the rest is still analysed" grep -q lm-spn-missing-on-destination "$work/c.json"

# --fail-on critical with only errors found: exit 0 for the failover story on its own db.
"$hvdiag" analyze --db "$work/d.db" --fail-on critical samples/live-migration-spn >/dev/null 2>&1
check "--fail-on critical still exits 1 for a critical incident" test $? -eq 1
"$hvdiag" analyze --db "$work/e.db" --since 2030-01-01 samples/live-migration-spn >"$work/e.txt" 2>&1
check "--since after every event finds nothing (exit 0)" test $? -eq 0
check "and says so" grep -q "No incidents found" "$work/e.txt"

# A zip of the bundle gives the same diagnoses.
(cd samples && python3 -c "
import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for root, _, files in os.walk('live-migration-spn'):
        for f in files:
            z.write(os.path.join(root, f))
" "$work/bundle.zip")
"$hvdiag" analyze --db "$work/z.db" --json "$work/bundle.zip" >"$work/z.json" 2>/dev/null
check "a zipped bundle is analysed" grep -q lm-spn-missing-on-destination "$work/z.json"

# --max-extract: a member that would pass it is refused, naming the archive and the member.
"$hvdiag" analyze --db "$work/m.db" --max-extract 4K "$work/bundle.zip" >"$work/m.txt" 2>"$work/m.err"
check "--max-extract reached gives exit 2" test $? -eq 2
check "and names the archive, the member and the limit" \
    grep -q 'bundle.zip!/live-migration-spn/.*limit of 4 KiB.*--max-extract' "$work/m.err"
"$hvdiag" analyze --db "$work/m.db" --max-extract 12Q "$work/bundle.zip" >/dev/null 2>"$work/m2.err"
check "--max-extract with a bad size is a usage error" test $? -eq 2
check "and says which value" grep -q "12Q" "$work/m2.err"

# Hostile archives (tests/data/bundle): refused with a clear error, nothing left in $TMPDIR.
mkdir "$work/tmp"
TMPDIR=$work/tmp "$hvdiag" analyze --db "$work/h.db" tests/data/bundle/bundle-sparse-10GiB.tar >/dev/null 2>"$work/h.err"
check "a sparse 10 GiB member gives exit 2" test $? -eq 2
check "and is refused by name" grep -q 'bundle-sparse-10GiB.tar!/HV1_cluster.log: not extracted' "$work/h.err"
TMPDIR=$work/tmp "$hvdiag" analyze --db "$work/h.db" tests/data/bundle/bundle-deep-nesting-tmp-leak.zip >"$work/h2.txt" 2>"$work/h2.err"
check "an archive with nothing readable gives exit 2" test $? -eq 2
check "the deep member is named as nested too deep" grep -q 'nested deeper than 32 folders' "$work/h2.txt"
check "nothing is left in TMPDIR" test -z "$(ls -A "$work/tmp")"

if [ $fail -eq 0 ]; then
    echo "analyze integration: all checks passed"
fi
exit $fail
