#!/bin/sh
# The two EVTX decoders on evtxgen's files: every event XML fixture (tests/data/evtx,
# samples/xml) as written, the first one again with each kind of damage evtxgen makes, and
# forwarded.xml as a collector writes it.
# usage: evtx_diff_fixtures.sh HVDIAG EVTXGEN SRCDIR
set -eu
hvdiag=$1
evtxgen=$2
src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for xml in "$src"/tests/data/evtx/*.xml $(find "$src/samples/xml" -name '*.xml' | sort); do
    n=$((n + 1))
    "$evtxgen" --chunk-records=3 "$xml" "$tmp/f$n.evtx"
done
first="$src/tests/data/evtx/vmms-ha.xml"
for opt in --corrupt=chunk-crc --corrupt=data-crc --corrupt=header-crc --dirty --truncate \
    --stale-record --chunk-count=1; do
    n=$((n + 1))
    "$evtxgen" --chunk-records=3 "$opt" "$first" "$tmp/damaged$n.evtx"
done
# Forwarded events: libevtx reads none; the native decoder all, with RenderingInfo/Message.
"$evtxgen" --forwarded "$src/tests/data/evtx/forwarded.xml" "$tmp/forwarded.evtx"
exec python3 "$src/tests/tools/evtx_diff_check.py" "$hvdiag" --expect forwarded.evtx=3 "$tmp"
