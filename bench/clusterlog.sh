#!/bin/sh
# cluster.log: `hvdiag analyze` against `grep -cE -f` with the shipped cluster.log patterns,
# CPU time (user + system) and peak RSS of each, measured in one run on the same warm files:
#   - the MB file in UTF-8, and its UTF-16LE copy (with BOM);
#   - peak RSS over a series of sizes (memory must not grow with the file).
# usage: bench/clusterlog.sh [BUILD_DIR] [MB] [SIZES]
# Defaults: ./build, 500, "10 100 1024" (add 4096 when disk and time allow: the files stay in
# $BENCH_DIR, default /tmp/hvdiag-bench, for the next run).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
mb=${2:-500}
sizes=${3:-"10 100 1024"}
dir=${BENCH_DIR:-/tmp/hvdiag-bench}
mkdir -p "$dir"

gen() {
    if [ ! -f "$dir/cluster-$1.log" ]; then
        python3 bench/gen_clusterlog.py "$1" "$dir/cluster-$1.log"
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
    rm -f "$dir/clusterlog.db"
    measure "$build/hvdiag" analyze --rules rules --db "$dir/clusterlog.db" "$1"
}

gen "$mb"
utf16="$dir/cluster-$mb-utf16le.log"
if [ ! -f "$utf16" ]; then
    { printf '\377\376'; iconv -f UTF-8 -t UTF-16LE "$dir/cluster-$mb.log"; } > "$utf16.tmp"
    mv "$utf16.tmp" "$utf16"
fi
python3 bench/patterns.py rules/clusterlog.xml > "$dir/patterns.txt"
cat "$dir/cluster-$mb.log" "$utf16" > /dev/null # warm the page cache

set -- $(measure grep -cE -f "$dir/patterns.txt" "$dir/cluster-$mb.log")
grep_cpu=$1 grep_rss=$2
set -- $(analyze "$dir/cluster-$mb.log")
u8_cpu=$1 u8_rss=$2
set -- $(analyze "$utf16")
u16_cpu=$1 u16_rss=$2
echo "cluster.log $mb MB, CPU seconds (user + system) and peak RSS:"
echo "  grep -cE -f patterns (UTF-8)   $grep_cpu s  $((grep_rss / 1024)) MiB"
echo "  hvdiag analyze, UTF-8          $u8_cpu s  $((u8_rss / 1024)) MiB"
echo "  hvdiag analyze, UTF-16LE copy  $u16_cpu s  $((u16_rss / 1024)) MiB"
awk -v g="$grep_cpu" -v a="$u8_cpu" -v w="$u16_cpu" 'BEGIN {
    printf "cluster.log: hvdiag CPU / grep CPU = %.2f (target <= 0.67)\n", a / g
    printf "cluster.log: UTF-16LE CPU / UTF-8 CPU = %.2f (target <= 1.3)\n", w / a }'

echo "cluster.log peak RSS by file size (UTF-8):"
for s in $sizes; do
    gen "$s"
    cat "$dir/cluster-$s.log" > /dev/null
    set -- $(analyze "$dir/cluster-$s.log")
    echo "  $s MB: $(($2 / 1024)) MiB ($1 s CPU)"
done
