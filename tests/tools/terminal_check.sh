#!/bin/sh
# Text from input reaches the terminal escaped: VM names with C1 controls and a bidi override
# in EVTX events (made with evtxgen), a cluster.log whose name carries ESC sequences, and an
# archive member named with them, through hvdiag analyze, query and dump.
# usage: terminal_check.sh HVDIAG EVTXGEN SOURCE_DIR
set -u
hvdiag=$1
evtxgen=$2
src=$3
. "$(dirname "$0")/checklib.sh"
# No ESC, no C1 control (UTF-8 C2 80..C2 9F), no bidi override in the files given.
clean() {
    python3 - "$@" <<'PY'
import re, sys
bad = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
ok = True
for p in sys.argv[1:]:
    d = open(p, "rb").read()
    m = bad.search(d)
    if m:
        print("%s: raw control %r at byte %d" % (p, m.group(), m.start()), file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
PY
}
cd "$src" || exit 1

# EVTX: the VM name carries U+009B (CSI) and U+202E (right-to-left override).
mkdir -p "$work/xml" "$work/evtx"
cp -r samples/xml/live-migration-spn "$work/xml/"
for x in $(cd "$work/xml" && find . -name '*.xml'); do
    sed -i 's/SQL01/SQL\&#x9B;31m\&#x202E;01/g' "$work/xml/$x"
    mkdir -p "$work/evtx/$(dirname "$x")"
    "$evtxgen" "$work/xml/$x" "$work/evtx/${x%.xml}.evtx" >/dev/null ||
        { echo "FAIL: evtxgen $x" >&2; exit 1; }
done
db=$work/t.db
"$hvdiag" analyze --db "$db" "$work/evtx" >"$work/a.out" 2>"$work/a.err"
check "analyze finds the incident" grep -q 'Live migration of SQL' "$work/a.out"
check "analyze shows the controls escaped" grep -qF 'SQL\u009b31m\u202e01' "$work/a.out"
check "analyze table has no raw control" clean "$work/a.out" "$work/a.err"
"$hvdiag" query --db "$db" incidents >"$work/q.out" 2>&1
check "query incidents shows the controls escaped" grep -qF 'SQL\u009b31m\u202e01' "$work/q.out"
"$hvdiag" query --db "$db" incident 1 >"$work/q1.out" 2>&1
"$hvdiag" query --db "$db" diagnoses >"$work/q2.out" 2>&1
"$hvdiag" query --db "$db" sources >"$work/q3.out" 2>&1
check "query output has no raw control" clean "$work/q.out" "$work/q1.out" "$work/q2.out" "$work/q3.out"
"$hvdiag" query --db "$db" --json incidents >"$work/qj.out" 2>&1
check "query --json is still JSON with the text intact" python3 - "$work/qj.out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert any("SQL\u009b31m\u202e01" in i["subject"] for i in r["incidents"]), r
PY
"$hvdiag" analyze --db "$work/j.db" --json "$work/evtx" >"$work/aj.out" 2>/dev/null
check "analyze --json keeps the text (JSON escapes it)" python3 - "$work/aj.out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert any("SQL\u009b31m\u202e01" in i["subject"] for i in r["incidents"]), r
PY

# A cluster.log named with ESC sequences, with one in a group name its lines report.
esc=$(printf '\033')
bel=$(printf '\007')
evil="HV${esc}[2J${esc}]0;pwned${bel}NODE02_cluster.log"
mkdir "$work/clog"
sed "s/SQL02/SQL${esc}[2J02/g" samples/unplanned-failover/HV-NODE02_cluster.log >"$work/clog/$evil"
"$hvdiag" analyze -v --db "$work/c.db" "$work/clog" >"$work/c.out" 2>"$work/c.err"
check "the cluster.log is read" grep -q 'NODE02' "$work/c.out"
check "the group name is shown escaped" grep -qF "Group 'SQL\x1b[2J02' failed over" "$work/c.out"
check "analyze output and messages have no raw control" clean "$work/c.out" "$work/c.err"
"$hvdiag" query --db "$work/c.db" sources >"$work/cs.out" 2>&1
check "query sources shows the file name escaped" grep -qF 'HV\x1b[2J\x1b]0;pwned\x07NODE02' "$work/cs.out"
check "and has no raw control" clean "$work/cs.out"
"$hvdiag" dump --count "$work/clog/$evil" >"$work/d.out" 2>"$work/d.err"
check "dump --count names the file escaped" grep -qF 'HV\x1b[2J' "$work/d.out"
check "dump --count has no raw control" clean "$work/d.out" "$work/d.err"
"$hvdiag" dump "$work/clog/$evil" >"$work/dj.out" 2>&1
check "dump JSON lines have no raw control" clean "$work/dj.out"
"$hvdiag" dump "$work/nope${esc}[2J.evtx" >"$work/dn.out" 2>"$work/dn.err"
check "an error quoting a missing name is escaped" grep -qF 'nope\x1b[2J.evtx' "$work/dn.err"
check "and has no raw control" clean "$work/dn.err"

# An archive member named with control characters is refused and shown escaped.
python3 - "$work/m.zip" "$work/clog/$evil" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.write(sys.argv[2], "x\x1b]0;title\x07\x9b2J_cluster.log")
    z.write(sys.argv[2], "HV-NODE02_cluster.log")
PY
"$hvdiag" analyze --db "$work/m.db" "$work/m.zip" >"$work/m.out" 2>"$work/m.err"
check "the member with control characters is listed as skipped" grep -qF 'm.zip!/x\x1b]0;title\x07\u009b2J_cluster.log (unsafe name' "$work/m.out"
check "the other member is read" grep -q 'HV-NODE02' "$work/m.out"
check "archive output has no raw control" clean "$work/m.out" "$work/m.err"

if [ $fail -eq 0 ]; then
    echo "terminal output: all checks passed"
fi
exit $fail
