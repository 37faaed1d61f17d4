#!/bin/sh
# Runs 'hvdiag dump --count' on every EVTX file of the corpus and checks, per file, that the
# events read plus the records skipped equal the record count evtxinfo (libevtx) reports.
# usage: dump_counts_check.sh HVDIAG CORPUS_EVTX_DIR
set -eu
hvdiag=$1
dir=$2
if [ ! -d "$dir" ]; then
    echo "corpus folder $dir absent: skipped"
    exit 0
fi
fail=0
n=0
for f in "$dir"/*.evtx; do
    want=$(evtxinfo "$f" 2>/dev/null | sed -n 's/^[[:space:]]*Number of records[[:space:]]*: //p')
    line=$("$hvdiag" dump --count "$f")
    events=$(echo "$line" | sed -n 's/.*: \([0-9]*\) events, \([0-9]*\) skipped.*/\1/p')
    skipped=$(echo "$line" | sed -n 's/.*: \([0-9]*\) events, \([0-9]*\) skipped.*/\2/p')
    if [ -z "$events" ] || [ $((events + skipped)) -ne "$want" ]; then
        echo "MISMATCH $f: '$line' vs evtxinfo $want" >&2
        fail=1
    fi
    n=$((n + 1))
done
echo "$n files checked"
[ "$n" -gt 0 ] || fail=1
exit $fail
