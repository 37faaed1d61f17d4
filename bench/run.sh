#!/bin/sh
# Builds the inputs and runs the benchmark. usage: bench/run.sh [BUILD_DIR] [RECORDS] [CLUSTERLOG_MB]
# Defaults: ./build, 200000 records, 500 MB. Inputs go to $BENCH_DIR (default /tmp/hvdiag-bench).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
records=${2:-200000}
mb=${3:-500}
dir=${BENCH_DIR:-/tmp/hvdiag-bench}
mkdir -p "$dir"
if [ ! -f "$dir/events-$records.evtx" ]; then
    python3 bench/gen_events.py "$records" "$dir/events-$records.xml"
    "$build/evtxgen" "$dir/events-$records.xml" "$dir/events-$records.evtx"
    rm -f "$dir/events-$records.xml"
fi
if [ ! -f "$dir/cluster-$mb.log" ]; then
    python3 bench/gen_clusterlog.py "$mb" "$dir/cluster-$mb.log"
fi
python3 bench/patterns.py rules/clusterlog.xml > "$dir/patterns.txt"
echo "inputs: $(du -h "$dir/events-$records.evtx" | cut -f1) EVTX ($records records)," \
     "$(du -h "$dir/cluster-$mb.log" | cut -f1) cluster.log"
"$build/hvdiag-bench" "$dir/events-$records.evtx" "$dir/cluster-$mb.log" rules "$dir/patterns.txt"
# Incident grouping: one small file's commit into a store of 1,000 and of 100,000 diagnoses.
"$build/hvdiag-bench-incidents"
# Correlation storm: N = 100 .. 1600 failing cluster roles, and priming with stored diagnoses.
# A missed target is reported, and the rest is still measured.
missed=0
bench/storm.sh "$build" || missed=1
# EVTX end to end (hvdiag analyze) against bare libevtx, on the bench file and the corpus, and
# analyze's peak RSS at 20k, 200k, 1M and 2M records.
bench/evtx.sh "$build" "${HVD_CORPUS_DIR:-../shared/corpus}/evtx"
# Queries as processes over 1,000,000 diagnoses; the store is made once and kept in $dir.
"$build/hvdiag-bench-query" --keep "$dir/query-1000000.db" "$build/hvdiag"
# cluster.log against grep in CPU time, its UTF-16LE copy, and peak RSS by file size.
sh bench/clusterlog.sh "$build" "$mb"
exit "$missed"
