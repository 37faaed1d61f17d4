#!/bin/sh
# Runs evtxgen on a fixture and checks that Debian's evtxexport (libevtx-utils) prints the
# expected event ids, levels, computer names and strings. usage: evtxexport_check.sh EVTXGEN XML
set -eu
evtxgen=$1
xml=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$evtxgen" "$xml" "$out/f.evtx"
evtxexport "$out/f.evtx" > "$out/export.txt"
fail=0
expect() {
    if ! grep -qF -- "$1" "$out/export.txt"; then
        echo "evtxexport output lacks: $1" >&2
        fail=1
    fi
}
expect "Event identifier		: 0x000036e2 (14050)"
expect "Event identifier		: 0x000053fe (21502)"
expect "Event level			: Error (2)"
expect "Event level			: Information (4)"
expect "Computer name			: HV-NODE02.contoso.local"
expect "Computer name			: HV-NODE01.contoso.local"
expect "Source name			: Microsoft-Windows-Hyper-V-VMMS"
expect "Source name			: Microsoft-Windows-Hyper-V-High-Availability"
expect "String: 1			: Microsoft Virtual System Migration Service"
expect "String: 1			: Hyper-V Replica Service"
expect "String: 1			: Live migration of 'Virtual Machine SQL01' failed."
expect "String: 1			: SQL01"
test "$(grep -c '^Event number' "$out/export.txt")" -eq 4 || { echo "expected 4 events" >&2; fail=1; }
exit $fail
