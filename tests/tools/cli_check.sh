#!/bin/sh
# hvdiag without surprises: no database from a run that read nothing, --socket never falls
# back to a database, unknown options named, inverted time ranges refused, the build-tree
# binary finds the source tree's rules, a per-file summary line, and exit 2 when an input
# yields no event. Drives the real binary with real files.
# usage: cli_check.sh HVDIAG EVTXGEN SOURCE_DIR
set -u
hvdiag=$1
evtxgen=$2
src=$(cd "$3" && pwd)
. "$(dirname "$0")/checklib.sh"
sample=$src/samples/live-migration-spn
mkdir "$work/cwd"
cd "$work/cwd" || exit 1

# A failed run creates no database, named or default.
"$hvdiag" analyze "$work/nonexistent" >"$work/a.out" 2>"$work/a.err"
check "a nonexistent path gives exit 2" test $? -eq 2
check "and creates no ./hvdiag.db" test ! -e hvdiag.db
"$hvdiag" analyze --db "$work/x.db" "$work/nonexistent" >/dev/null 2>&1
check "nor the --db file" test ! -e "$work/x.db"
check "the summary line counts it unreadable" grep -q '^1 file: 0 read, 1 unreadable$' "$work/a.out"

# A junk cluster.log: a warning naming it, exit 2, no database.
printf 'this is not\r\na cluster log\r\n' >"$work/junk_cluster.log"
"$hvdiag" analyze --db "$work/j.db" "$work/junk_cluster.log" >"$work/j.out" 2>"$work/j.err"
check "a junk cluster.log gives exit 2" test $? -eq 2
check "with a warning naming it" grep -q "warning: $work/junk_cluster.log: no event read from it" "$work/j.err"
check "counted unreadable" grep -q '^1 file: 0 read, 1 unreadable$' "$work/j.out"
check "and no database" test ! -e "$work/j.db"

# A folder whose only EVTX file holds no record yields no event: exit 2.
mkdir "$work/empty"
echo '<Events/>' >"$work/empty.xml"
"$evtxgen" "$work/empty.xml" "$work/empty/System.evtx" >/dev/null
"$hvdiag" analyze --db "$work/e.db" "$work/empty" >"$work/e.out" 2>"$work/e.err"
check "an input without one event gives exit 2" test $? -eq 2
check "with a warning naming it" grep -Eq "warning: $work/empty(/System.evtx)?: no event read from it" "$work/e.err"

# The summary line: read and damaged files (a chunk with a bad CRC), skipped files.
mkdir "$work/mixed"
cp -r "$sample/HV-NODE02" "$work/mixed/"
"$evtxgen" --corrupt=chunk-crc "$src/samples/xml/live-migration-spn/HV-NODE01/Microsoft-Windows-Hyper-V-VMMS-Admin.xml" \
    "$work/mixed/damaged.evtx" >/dev/null
echo hello >"$work/mixed/README.txt"
"$hvdiag" analyze --db "$work/m.db" "$work/mixed" >"$work/m.out" 2>"$work/m.err"
check "the summary line counts read, damaged and skipped files" \
    grep -Eq '^[0-9]+ files: [0-9]+ read, 1 damaged \([1-9][0-9]* records recovered\); 1 other file skipped$' "$work/m.out"
check "the damaged file is named with what was lost" \
    grep -Eq "^damaged +$work/mixed/damaged.evtx \([1-9][0-9]* events read, [0-9]+ records or lines lost" "$work/m.out"
"$hvdiag" analyze --db "$work/m.db" --json "$work/mixed" >"$work/m.json" 2>/dev/null
check "the JSON report has the same summary" python3 - "$work/m.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
assert s["damaged"] == 1 and s["recovered"] > 0 and s["skipped"] == 1 and s["unreadable"] == 0, s
assert s["files"] == s["read"] + s["damaged"], s
PY

# The build-tree binary run from elsewhere finds the source tree's rules.
"$hvdiag" analyze --db "$work/b.db" "$sample" >"$work/b.out" 2>"$work/b.err"
check "the build-tree binary reads the sample from another folder (exit 1)" test $? -eq 1
check "and finds its incident" grep -q "migration SPN is missing" "$work/b.out"
# A copy outside the build tree has only the installed rules.
mkdir "$work/bin"
cp "$hvdiag" "$work/bin/hvdiag"
"$work/bin/hvdiag" analyze --db "$work/c.db" "$sample" >"$work/c.out" 2>"$work/c.err"
rc=$?
if grep -q "no rules found in" "$work/c.err"; then
    check "missing rules give exit 2" test $rc -eq 2
    check "and say what to do" grep -q "; use --rules DIR" "$work/c.err"
    check "and create no database" test ! -e "$work/c.db"
else
    echo "note: the installed rules exist; 'no rules found' not checked"
fi

# Unknown options are named as unknown, wherever they stand; known ones missing a value say so.
"$hvdiag" analyze --db "$work/u.db" "$sample" --jsn >/dev/null 2>"$work/u.err"
check "analyze: a mistyped last flag gives exit 2" test $? -eq 2
check "analyze: and is named unknown" grep -q "unknown option --jsn" "$work/u.err"
"$hvdiag" analyze "$sample" --db >/dev/null 2>"$work/u2.err"
check "analyze: --db last needs a value" grep -q -- "--db needs a value" "$work/u2.err"
"$hvdiag" query --db "$work/b.db" --jsn >/dev/null 2>"$work/u3.err"
check "query: a mistyped last flag gives exit 2" test $? -eq 2
check "query: and is named unknown" grep -q "unknown option --jsn" "$work/u3.err"
"$hvdiag" query --db >/dev/null 2>"$work/u4.err"
check "query: --db last needs a value" grep -q -- "--db needs a value" "$work/u4.err"

# Inverted time ranges are errors.
"$hvdiag" analyze --db "$work/t.db" --since 2024-03-06 --until 2024-03-05 "$sample" >/dev/null 2>"$work/t.err"
check "analyze: --since after --until gives exit 2" test $? -eq 2
check "analyze: and says so" grep -q "is after --until" "$work/t.err"
check "analyze: without creating a database" test ! -e "$work/t.db"
"$hvdiag" query --db "$work/b.db" --since 2024-03-06 --until 2024-03-05 >/dev/null 2>"$work/t2.err"
check "query: --since after --until gives exit 2" test $? -eq 2
check "query: and says so" grep -q "is after --until" "$work/t2.err"

# --socket given: never the database, even with ./hvdiag.db at hand.
cp "$work/b.db" hvdiag.db
"$hvdiag" query --socket "$work/no.sock" incidents >"$work/s.out" 2>"$work/s.err"
check "query --socket with no daemon gives exit 2" test $? -eq 2
check "and says no daemon answers there" grep -q "no daemon answers at $work/no.sock" "$work/s.err"
check "and prints nothing from ./hvdiag.db" test ! -s "$work/s.out"
if [ ! -S /run/hvdiag/hvdiag.sock ]; then
    "$hvdiag" query incidents >"$work/s2.out" 2>"$work/s2.err"
    check "query without --socket falls back to ./hvdiag.db (exit 0)" test $? -eq 0
    check "with a notice on stderr" grep -q "no daemon answers at /run/hvdiag/hvdiag.sock.*reading ./hvdiag.db" "$work/s2.err"
    check "and lists the incident" grep -q "migration SPN" "$work/s2.out"
else
    echo "note: a daemon listens at /run/hvdiag/hvdiag.sock; fallback not checked"
fi

# Interrupted (SIGTERM; SIGINT alike): the files read so far are stored, the extracted
# archive is removed, and the process ends as the signal would end it.
mkdir "$work/sigtmp"
python3 - "$work/big.zip" "$src/samples/unplanned-failover/HV-NODE02_cluster.log" <<'PY'
import sys, zipfile
data = open(sys.argv[2], "rb").read() * 20000
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for n in range(3):
        z.writestr("HV-NODE0%d_cluster.log" % n, data)
PY
TMPDIR=$work/sigtmp "$hvdiag" analyze --db "$work/sig.db" "$work/big.zip" >"$work/sig.out" 2>"$work/sig.err" &
pid=$!
i=0
while [ $i -lt 600 ] && [ -z "$(ls -A "$work/sigtmp")" ]; do # deadline: 60 s
    sleep 0.1
    i=$((i + 1))
done
if kill -TERM $pid 2>/dev/null; then
    wait $pid
    rc=$?
    check "SIGTERM ends analyze as the signal would (status 143)" test $rc -eq 143
    check "and it says it was interrupted" grep -q "interrupted; [0-9]* of 3 files read" "$work/sig.err"
else
    wait $pid
    echo "note: analyze ended before the signal; interruption not checked"
fi
check "nothing is left in TMPDIR after an interrupted run" test -z "$(ls -A "$work/sigtmp")"

if [ $fail -eq 0 ]; then
    echo "cli: all checks passed"
fi
exit $fail
