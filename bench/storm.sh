#!/bin/sh
# Correlation storm: N cluster roles failing at once (and a control of as many events no rule
# matches), for N = 100 .. 1600, then priming an engine with stored diagnoses.
# usage: bench/storm.sh [BUILD_DIR]. Inputs go to $BENCH_DIR (default /tmp/hvdiag-bench).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${BENCH_DIR:-/tmp/hvdiag-bench}
sizes="100 200 400 800 1600"
mkdir -p "$dir"
for n in $sizes; do
    for kind in storm control; do
        if [ ! -f "$dir/$kind-$n.evtx" ]; then
            opt=""
            if [ "$kind" = control ]; then opt=--control; fi
            # shellcheck disable=SC2086
            "$build/stormgen" $opt "$n" "$dir/$kind-$n.xml"
            "$build/evtxgen" "$dir/$kind-$n.xml" "$dir/$kind-$n.evtx"
            rm -f "$dir/$kind-$n.xml"
        fi
    done
done
# shellcheck disable=SC2086
"$build/hvdiag-bench-storm" "$dir" rules $sizes
