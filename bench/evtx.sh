#!/bin/sh
# EVTX end to end: 'hvdiag analyze' (reader, rules, SQLite, report) against the bare libevtx
# XML loop on the same files, on the bench file and on the real corpus; the own decoder alone;
# analyze's peak RSS as the file grows (20k, 200k, 1M, 2M records). Ratios are from one run:
# on the bench file the median of BENCH_REPS (default 3) repetitions.
# usage: bench/evtx.sh [BUILD_DIR] [CORPUS_DIR]   (bench/run.sh calls it)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
corpus=${2:-../shared/corpus/evtx}
[ -d "$corpus" ] || corpus=/work/shared/corpus/evtx # the development machine's copy
dir=${BENCH_DIR:-/tmp/hvdiag-bench}
bench=$build/hvdiag-bench
hvdiag=$(cd "$build" && pwd)/hvdiag
mkdir -p "$dir"
for n in 20000 200000 1000000 2000000; do
    if [ ! -f "$dir/events-$n.evtx" ]; then
        python3 bench/gen_events.py "$n" "$dir/events-$n.xml"
        "$build/evtxgen" "$dir/events-$n.xml" "$dir/events-$n.evtx"
        rm -f "$dir/events-$n.xml"
    fi
done
# analyze PATH...: "seconds peak-RSS-KiB status" of hvdiag analyze into a fresh database.
analyze() {
    rm -f "$dir/analyze.db" "$dir/analyze.db-wal" "$dir/analyze.db-shm"
    "$bench" --run "$hvdiag" analyze --db "$dir/analyze.db" --rules "$(pwd)/rules" "$@"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# The bench file: each repetition runs the three one after the other (so they share the
# machine's load), and the ratios are the medians of the repetitions' ratios.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
f=$dir/events-200000.evtx
reps=${BENCH_REPS:-3}
load0=$(cut -d' ' -f1 /proc/loadavg)
: >"$dir/ratios"
i=0
while [ "$i" -lt "$reps" ]; do
    set -- $("$bench" --bare "$f"); bare_n=$1 bare_s=$2 bare_rss=$3
    set -- $("$bench" --decoder "$f"); dec_n=$1 dec_s=$2 dec_rss=$3
    set -- $(analyze "$f"); an_s=$1 an_rss=$2
    echo "$(ratio "$bare_s" "$dec_s") $(ratio "$bare_s" "$an_s")" >>"$dir/ratios"
    echo "EVTX 200k run $((i + 1)): bare libevtx $bare_n records in $bare_s s" \
         "($(mib "$bare_rss") MiB); own decoder alone $dec_n in $dec_s s ($(mib "$dec_rss") MiB):" \
         "$(ratio "$bare_s" "$dec_s")x; hvdiag analyze $an_s s ($(mib "$an_rss") MiB):" \
         "$(ratio "$bare_s" "$an_s")x"
    i=$((i + 1))
done
echo "EVTX 200k, median of $reps (load average $load0 to $(cut -d' ' -f1 /proc/loadavg)):" \
     "own decoder alone $(cut -d' ' -f1 "$dir/ratios" | median)x bare libevtx;" \
     "hvdiag analyze $(cut -d' ' -f2 "$dir/ratios" | median)x"

if [ -d "$corpus" ] && ls "$corpus"/*.evtx >/dev/null 2>&1; then
    set -- $("$bench" --bare "$corpus"/*.evtx); cb_n=$1 cb_s=$2
    set -- $(analyze "$corpus"); ca_s=$1 ca_rss=$2
    echo "EVTX corpus ($(ls "$corpus"/*.evtx | wc -l) files, $cb_n records libevtx reads):" \
         "bare libevtx $cb_s s; hvdiag analyze $ca_s s ($(mib "$ca_rss") MiB): $(ratio "$cb_s" "$ca_s")x"
else
    echo "EVTX corpus: $corpus not found; skipped"
fi

line="hvdiag analyze peak RSS:"
for n in 20000 200000 1000000 2000000; do
    set -- $(analyze "$dir/events-$n.evtx")
    line="$line $n records $(mib "$2") MiB ($1 s);"
done
echo "$line"
