#!/bin/sh
# cluster.log: `hvdiag analyze` against `grep -cE -f` with the shipped cluster.log patterns,
# CPU time (user + system) and peak RSS of each, measured in one run on the same warm files:
#   - the MB file in UTF-8, and its UTF-16LE copy (with BOM): grep, hvdiag UTF-8 and hvdiag
#     UTF-16LE back to back, REPS times (default 5), medians compared (the machine may be
#     shared: the load average is printed with the numbers);
#   - how many lines the prefilter let through (candidates) out of all events;
#   - peak RSS over a series of sizes (memory must not grow with the file).
# usage: bench/clusterlog.sh [BUILD_DIR] [MB] [SIZES]
# Defaults: ./build, 500, "10 100 1024". CLUSTERLOG_4G=1 adds a 4096 MB file to the sizes
# (about 4 GiB of disk and a few minutes to make; removed afterwards unless
# CLUSTERLOG_KEEP=1). The other files stay in $BENCH_DIR, default /tmp/hvdiag-bench, for the
# next run.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
mb=${2:-500}
sizes=${3:-"10 100 1024"}
reps=${REPS:-5}
dir=${BENCH_DIR:-/tmp/hvdiag-bench}
mkdir -p "$dir"
if [ "${CLUSTERLOG_4G:-0}" = 1 ]; then
    sizes="$sizes 4096"
fi

gen() {
    if [ ! -f "$dir/cluster-$1.log" ]; then
        python3 bench/gen_clusterlog.py "$1" "$dir/cluster-$1.log.tmp"
        mv "$dir/cluster-$1.log.tmp" "$dir/cluster-$1.log"
    fi
}

# Runs a command under GNU time; prints "CPU_SECONDS PEAK_RSS_KIB". Exit status 1 is
# hvdiag's "found an incident at --fail-on"; anything else above 0 is a failure. Output goes
# to a file, not /dev/null: GNU grep stops at the first match when it sees /dev/null.
measure() {
    status=0
    /usr/bin/time -f "%U %S %M" -o "$dir/time.txt" "$@" > "$dir/stdout.txt" 2> "$dir/stderr.txt" ||
        status=$?
    if [ "$status" -gt 1 ]; then
        echo "bench/clusterlog.sh: '$*' failed ($status):" >&2
        cat "$dir/stderr.txt" >&2
        exit 1
    fi
    awk 'END { printf "%.2f %d\n", $1 + $2, $3 }' "$dir/time.txt"
}

analyze() {
    rm -f "$dir/clusterlog.db" "$dir/clusterlog.db-wal" "$dir/clusterlog.db-shm"
    measure "$build/hvdiag" analyze --rules rules --db "$dir/clusterlog.db" "$1"
}

# The median of the numbers on stdin.
median() {
    sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

gen "$mb"
utf16="$dir/cluster-$mb-utf16le.log"
if [ ! -f "$utf16" ]; then
    { printf '\377\376'; iconv -f UTF-8 -t UTF-16LE "$dir/cluster-$mb.log"; } > "$utf16.tmp"
    mv "$utf16.tmp" "$utf16"
fi
python3 bench/patterns.py rules/clusterlog.xml > "$dir/patterns.txt"
cat "$dir/cluster-$mb.log" "$utf16" > /dev/null # warm the page cache

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$dir/runs.txt"
i=0
while [ "$i" -lt "$reps" ]; do
    echo "grep $(measure grep -cE -f "$dir/patterns.txt" "$dir/cluster-$mb.log")" >> "$dir/runs.txt"
    echo "u8 $(analyze "$dir/cluster-$mb.log")" >> "$dir/runs.txt"
    echo "u16 $(analyze "$utf16")" >> "$dir/runs.txt"
    i=$((i + 1))
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
col() { awk -v k="$1" -v c="$2" '$1 == k { print $c }' "$dir/runs.txt" | median; }
grep_cpu=$(col grep 2) u8_cpu=$(col u8 2) u16_cpu=$(col u16 2)
grep_rss=$(col grep 3) u8_rss=$(col u8 3) u16_rss=$(col u16 3)
echo "cluster.log $mb MB, CPU seconds (user + system, median of $reps) and peak RSS;" \
    "load average $load_before before, $load_after after:"
echo "  grep -cE -f patterns (UTF-8)   $grep_cpu s  $((${grep_rss%.*} / 1024)) MiB" \
    "(runs: $(awk '$1 == "grep" { printf "%s ", $2 }' "$dir/runs.txt"))"
echo "  hvdiag analyze, UTF-8          $u8_cpu s  $((${u8_rss%.*} / 1024)) MiB" \
    "(runs: $(awk '$1 == "u8" { printf "%s ", $2 }' "$dir/runs.txt"))"
echo "  hvdiag analyze, UTF-16LE copy  $u16_cpu s  $((${u16_rss%.*} / 1024)) MiB" \
    "(runs: $(awk '$1 == "u16" { printf "%s ", $2 }' "$dir/runs.txt"))"
awk -v g="$grep_cpu" -v a="$u8_cpu" -v w="$u16_cpu" 'BEGIN {
    printf "cluster.log: hvdiag CPU / grep CPU = %.2f (target <= 0.67)\n", a / g
    printf "cluster.log: UTF-16LE CPU / UTF-8 CPU = %.2f (target <= 1.3)\n", w / a }'

# Candidates: the events the prefilter let through to the rules ("new_events"; the others
# were only counted), out of all events of the file.
rm -f "$dir/clusterlog.db" "$dir/clusterlog.db-wal" "$dir/clusterlog.db-shm"
"$build/hvdiag" analyze --json --rules rules --db "$dir/clusterlog.db" "$dir/cluster-$mb.log" \
    > "$dir/report.json" || [ $? -eq 1 ]
python3 -c 'import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
print("cluster.log: candidate events %d of %d (%.2f %%)" % (f["new_events"], f["events"],
      100.0 * f["new_events"] / max(f["events"], 1)))' "$dir/report.json"

echo "cluster.log peak RSS by file size (UTF-8):"
for s in $sizes; do
    gen "$s"
    cat "$dir/cluster-$s.log" > /dev/null
    set -- $(analyze "$dir/cluster-$s.log")
    echo "  $s MB: $(($2 / 1024)) MiB ($1 s CPU)"
    if [ "$s" = 4096 ] && [ "${CLUSTERLOG_KEEP:-0}" != 1 ]; then
        rm -f "$dir/cluster-4096.log"
    fi
done
