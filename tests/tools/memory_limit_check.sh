#!/bin/sh
# hvdiag under its memory limit: an EVTX export that makes libevtx allocate 8 GiB from a
# count in a record is read with those records skipped, not taken to the OOM killer; a
# bad HVDIAG_MEMORY_LIMIT is refused by name.
# usage: memory_limit_check.sh HVDIAG DATA_DIR
set -eu
hvdiag=$1
data=$2
f=$data/evtx/evtx-libevtx-8GiB-calloc-memory-exhaustion.evtx
status=0
if [ ! -f "$f" ]; then
    echo "$f is missing" >&2
    exit 1
fi
for limit in "" 512M; do
    # exit 0 and the records libevtx could not allocate for counted as skipped
    if ! out=$(HVDIAG_MEMORY_LIMIT=$limit "$hvdiag" dump --count "$f" 2>&1); then
        echo "FAIL limit '$limit': hvdiag dump failed: $out" >&2
        status=1
    elif ! echo "$out" | grep -Eq ': [1-9][0-9]* events, [1-9][0-9]* skipped'; then
        echo "FAIL limit '$limit': expected events and skipped records: $out" >&2
        status=1
    else
        echo "ok   limit '${limit:-default}': $out"
    fi
done
if out=$(HVDIAG_MEMORY_LIMIT=lots "$hvdiag" dump --count "$f" 2>&1); then
    echo "FAIL HVDIAG_MEMORY_LIMIT=lots accepted: $out" >&2
    status=1
elif ! echo "$out" | grep -q "HVDIAG_MEMORY_LIMIT: 'lots' is not a size"; then
    echo "FAIL HVDIAG_MEMORY_LIMIT=lots: unclear error: $out" >&2
    status=1
else
    echo "ok   a bad HVDIAG_MEMORY_LIMIT is refused"
fi
exit $status
