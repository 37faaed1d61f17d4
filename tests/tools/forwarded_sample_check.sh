#!/bin/sh
# samples/forwarded-events: a Windows Event Collector's ForwardedEvents export holding the
# System and Hyper-V-VMMS-Admin events of three hosts (Computer differs per record; records
# without templates, each with its RenderingInfo). Each host's diagnoses come out under its
# own name, the rendered texts reach the events and their evidence (analyze --json, query
# incident), and the 1135 that carries only its rendered message gets its node name back
# from the message table.
# usage: forwarded_sample_check.sh HVDIAG EVTXGEN SOURCE_DIR
set -u
hvdiag=$1
evtxgen=$2
src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
x=samples/xml/forwarded-events/COLLECTOR01/ForwardedEvents.xml
f=samples/forwarded-events/COLLECTOR01/ForwardedEvents.evtx
"$evtxgen" --forwarded "$x" "$work/regen.evtx" >/dev/null 2>&1 &&
    cmp -s "$work/regen.evtx" "$f" || { echo "FAIL: $f is not what evtxgen --forwarded makes of $x" >&2; exit 1; }
"$hvdiag" dump "$f" >"$work/dump.jsonl" 2>"$work/dump.err" || { cat "$work/dump.err" >&2; exit 1; }
"$hvdiag" analyze --rules rules --db "$work/f.db" --json samples/forwarded-events >"$work/f.json" 2>"$work/f.err"
st=$?
if [ $st -ne 1 ]; then
    echo "FAIL: analyze exited $st, expected 1 (critical incidents)" >&2
    cat "$work/f.err" >&2
    exit 1
fi
# The incident view shows each forwarded event with its sender's level and task.
"$hvdiag" query --db "$work/f.db" incident 1 >"$work/q.txt" 2>"$work/q.err" || { cat "$work/q.err" >&2; exit 1; }
grep -q "HV-NODE02.contoso.local Microsoft-Windows-Hyper-V-VMMS 14050 (Error, None): Failed to register service principal name" "$work/q.txt" ||
    { echo "FAIL: 'query incident 1' shows no rendered evidence:" >&2; cat "$work/q.txt" >&2; exit 1; }
python3 - "$work/dump.jsonl" "$work/f.json" <<'PY'
import json, sys

events = [json.loads(l) for l in open(sys.argv[1])]
assert len(events) == 13, len(events)
hosts = {e["host"].split(".")[0] for e in events}
assert hosts == {"HV-NODE01", "HV-NODE02", "HV-NODE03"}, hosts
for e in events:
    r = e.get("rendering")
    assert r and r["level"] in ("Critical", "Error", "Information") and r["opcode"] == "Info", e
    assert r["channel"] in ("System", "Microsoft-Windows-Hyper-V-VMMS/Admin"), e
    assert e["message"], e
bare = [e for e in events if e["event_id"] == 1135 and not e["fields"]]
assert len(bare) == 1 and bare[0]["message"].startswith("Cluster node 'HV-NODE01' was removed"), bare
assert [e["rendering"]["task"] for e in events if e["event_id"] == 1069] == ["Resource Control Manager"]

r = json.load(open(sys.argv[2]))
assert [f["kind"] for f in r["files"]] == ["evtx"], r["files"]
diags = {}
for inc in r["incidents"]:
    for d in inc["diagnoses"]:
        diags.setdefault((d["rule"], d["host"].split(".")[0].upper()), []).append(d)
want = {
    ("hv-spn-register-failed", "HV-NODE02"), ("lm-target-unknown", "HV-NODE01"),
    ("lm-spn-missing-on-destination", "HV-NODE01"),
    ("fc-node-removed", "HV-NODE02"), ("fc-node-removed", "HV-NODE03"),
    ("fc-quorum-lost", "HV-NODE01"), ("fc-rhs-died", "HV-NODE01"),
    ("fc-resource-failed", "HV-NODE02"), ("fc-role-online-failed", "HV-NODE02"),
    ("resource-failed-after-node-removed", "HV-NODE02"),
}
missing = want - set(diags)
assert not missing, "missing: %s; got %s" % (sorted(missing), sorted(diags))
# The removal is seen by both survivors, the one from rendered text only included.
for host in ("HV-NODE02", "HV-NODE03"):
    t = diags[("fc-node-removed", host)][0]["title"]
    assert "HV-NODE01" in t and host in t, t
root = diags[("lm-spn-missing-on-destination", "HV-NODE01")][0]
assert root["root_cause"] is True, root
assert 'setspn -S "Microsoft Virtual System Migration Service/HV-NODE02" HV-NODE02' in root["remedy"], root["remedy"]
# Evidence keeps what the sender rendered: its names beside the rendered message.
spn = diags[("hv-spn-register-failed", "HV-NODE02")][0]["evidence"]
assert [e.get("rendering") for e in spn] == [
    {"level": "Error", "task": "None", "opcode": "Info",
     "channel": "Microsoft-Windows-Hyper-V-VMMS/Admin"}], spn
assert spn[0]["message"].startswith("Failed to register service principal name"), spn
# Nothing is diagnosed on the collector itself, and the service noise is not a diagnosis.
assert not any(h == "COLLECTOR01" for _, h in diags), sorted(diags)
print("forwarded sample: %d events from %d hosts, %d diagnoses" % (len(events), len(hosts), len(diags)))
PY
