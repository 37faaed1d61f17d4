#!/bin/sh
# The terminal table stays readable for a storm: an incident with dozens of diagnoses lists a
# few and sums up the rest by rule with a few names, and a subject longer than its column is
# cut with '…' so the columns stay aligned; incidents come most severe first.
# usage: table_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
log=$work/HV-NODE02_cluster.log
{
    printf '[=== Cluster ===]\r\nCurrent node: name (HV-NODE02) id (2)\r\n[=== System ===]\r\n'
    printf "[System] 00000b10.00000d34::2024/05/14-09:12:03.118 DBG   Cluster node 'HV-NODE01' was removed from the active failover cluster membership.\r\n"
    i=1
    while [ $i -le 40 ]; do
        printf "[System] 00000b10.00000d38::2024/05/14-09:12:%02d.774 ERR   Cluster resource 'Virtual Machine VM%02d' of type 'Virtual Machine' in clustered role 'VM%02d' failed.\r\n" $((i + 10)) $i $i
        i=$((i + 1))
    done
    printf "[System] 00000b10.00000d38::2024/05/14-11:00:00.000 ERR   Cluster resource 'Virtual Machine 6F1B2C3D-0000-4000-8000-00000000ABCD' of type 'Virtual Machine' in clustered role '6F1B2C3D-0000-4000-8000-00000000ABCD' failed.\r\n"
} >"$log"
"$hvdiag" analyze --rules rules --db "$work/t.db" "$log" >"$work/out.txt" 2>"$work/err.txt"
st=$?
[ $st -eq 1 ] || { echo "FAIL: analyze exited $st" >&2; cat "$work/err.txt" >&2; exit 1; }
python3 - "$work/out.txt" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
head = [l for l in lines if re.match(r"^(critical|error|warning|info|benign) ", l)]
assert head, lines
# Most severe first.
sevs = [l.split()[0] for l in head]
rank = {"benign": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}
assert sevs == sorted(sevs, key=lambda s: -rank[s]), sevs
# Columns aligned: the title starts at the same column on every incident line.
starts = {l.index(" ", 68) for l in head}
assert len(starts) == 1, [l[:90] for l in head]
assert any("…" in l[49:68] for l in head), "a long subject is not cut: %s" % head
storm = [l for l in head if l.startswith("critical")]
assert storm, head
i = lines.index(storm[0])
members = []
for l in lines[i + 1:]:
    if not l.startswith(" "):
        break
    members.append(l.strip())
listed = [m for m in members if m.startswith("- ") and not m.startswith("- and ")]
rest = [m for m in members if m.startswith("- and ")]
assert len(listed) <= 8, listed
assert len(rest) == 1, members
assert re.search(r"- and \d+ more: .*x\d+ \(VM\d\d, VM\d\d, VM\d\d and \d+ more\)", rest[0]), rest
# Each rule's names are distinct, and the count after them is of the diagnoses not named.
for rule, n, names, unnamed in re.findall(r" (\S+) x(\d+) \(([^()]*?)(?: and (\d+) more)?\)", rest[0]):
    shown = names.split(", ")
    assert len(shown) == len(set(shown)), (rule, shown)
    assert int(n) >= len(shown) + int(unnamed or 0), (rule, n, shown, unnamed)
PY
