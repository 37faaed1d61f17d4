#!/bin/sh
# The real WS2016 [System] excerpt of the shared corpus (node removed, quorum lost, role failed)
# gives those diagnoses with the node named. Skipped (77) when the corpus is not there.
# usage: corpus_excerpt_check.sh HVDIAG SOURCE_DIR CORPUS_DIR
set -u
hvdiag=$1
src=$2
f=$3/clusterlog/zeroch_FailoverDetector__TestCase_0.txt
[ -f "$f" ] || { echo "skipped: $f is not there"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
"$hvdiag" analyze --rules rules --db "$work/c.db" --json "$f" >"$work/c.json" 2>"$work/c.err"
st=$?
[ $st -eq 1 ] || { echo "FAIL: analyze exited $st, expected 1" >&2; cat "$work/c.err" >&2; exit 1; }
python3 - "$work/c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = {}
for inc in r["incidents"]:
    for x in inc["diagnoses"]:
        d.setdefault(x["rule"], []).append(x)
for rule in ("fc-node-removed", "fc-quorum-lost", "fc-role-online-failed", "fc-rhs-died"):
    assert rule in d, (rule, sorted(d))
assert "ze-2016-v1" in d["fc-node-removed"][0]["title"], d["fc-node-removed"][0]["title"]
assert "ag1023" in d["fc-role-online-failed"][0]["title"], d["fc-role-online-failed"][0]["title"]
for x in sum(d.values(), []):
    # No header, no node in the file name: the host is said to be unknown, never left blank.
    assert "  " not in x["title"] and not x["title"].endswith(" on "), x["title"]
    assert x["first_time"].startswith("2017-10-23"), x["first_time"]
PY

# An excerpt with the dates cut off (times of day only): its time of day is kept with the
# date marked unknown, never 1970-01-01.
g=$3/clusterlog/jadarnel27_joshthecoder.com__2020-05-21-prevent-unexpected-failovers-when-patching-ags.excerpt.log
[ -f "$g" ] || { echo "FAIL: $g is missing from the corpus" >&2; exit 1; }
"$hvdiag" analyze --rules rules --db "$work/g.db" --json --html "$work/g.html" "$g" >"$work/g.json" 2>"$work/g.err"
st=$?
[ $st -eq 1 ] || { echo "FAIL: analyze of the undated excerpt exited $st, expected 1" >&2; exit 1; }
python3 - "$work/g.json" "$work/g.html" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
page = open(sys.argv[2]).read()
assert r["incidents"], "no incident from the undated excerpt"
for inc in r["incidents"]:
    for k in ("first_time", "last_time"):
        assert inc[k].startswith("????-??-??T21:1"), inc[k]
    assert inc["title"][0].isupper(), inc["title"]
assert "1970" not in page, "the report dates the excerpt 1970"
assert "(date unknown)" in page
PY

