#!/bin/sh
# The samples of the network name families and of roles that are not VMs: a file server role
# whose network name cannot create its computer object (WS2022) failing beside a VM role on
# another node, a cluster name whose DNS zone does not accept dynamic updates (WS2016), and a
# SQL Server role's name whose computer object the cluster may no longer update (WS2012 R2),
# a file server role whose IP address another device holds (WS2019, on both nodes), analysed end to end into real database files.
# usage: samples_names_roles_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
. "$(dirname "$0")/checklib.sh"
cd "$src" || exit 1
# That every sample EVTX is what evtxgen makes of its XML, analyze_samples checks for all.
need_samples netname-vco-2022 dns-zone-static-2016 vco-password-2012r2 dup-ip-2019

# A file server role and a VM role fail at the same time: the file server is a role of its
# host, named as a role, its network name's computer object at the root; the VM is a VM.
"$hvdiag" analyze --db "$work/a.db" --json samples/netname-vco-2022 >"$work/a.json" 2>"$work/a.err"
check "netname-vco-2022: exit 1 for errors" test $? -eq 1
check "netname-vco-2022: the role named as a role, the VCO first; the VM a VM" \
    python3 - "$work/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 2, [i["title"] for i in r["incidents"]]
inc = {i["subject_kind"]: i for i in r["incidents"]}
fs, vm = inc["host"], inc["vm"]
assert (fs["subject"], fs["hosts"]) == ("HV-NODE01", "HV-NODE01"), (fs["subject"], fs["hosts"])
d = fs["diagnoses"]
assert d[0]["rule"] == "role-failed-vco-not-created" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("Role 'FS01' cannot come online on HV-NODE01: its network name 'FS01' could "
                         "not create its computer object in contoso.local"), d[0]["title"]
assert '"Create Computer objects"' in d[0]["remedy"] and "CONTOSO\\HVCLUS01$" in d[0]["remedy"], d[0]["remedy"]
assert "pre-stage" in d[0]["remedy"] and 'Start-ClusterGroup "FS01"' in d[0]["remedy"], d[0]["remedy"]
assert "Access is denied." in d[0]["cause"], d[0]["cause"]
assert sorted(x["rule"] for x in d[1:]) == ["fc-cno-vco-ad", "fc-resource-failed", "fc-role-online-failed"], \
    [x["rule"] for x in d]
# Nothing of the file server reads or is stored as a VM.
assert all(not x["vm_name"] for x in d), [(x["rule"], x["vm_name"]) for x in d]
assert not any("VM" in x["title"].split() for x in d), [x["title"] for x in d]
by = {x["rule"]: x for x in d}
assert by["fc-role-online-failed"]["title"] == (
    "The cluster could not bring role 'FS01' fully online or offline on HV-NODE01"), by["fc-role-online-failed"]["title"]
assert "VMMS" not in by["fc-resource-failed"]["cause"], by["fc-resource-failed"]["cause"]
assert (vm["subject"], vm["hosts"]) == ("APP12", "HV-NODE02"), (vm["subject"], vm["hosts"])
v = vm["diagnoses"]
assert v[0]["rule"] == "vm-role-online-failed" and v[0]["root_cause"] is True, [x["rule"] for x in v]
assert v[0]["title"] == ("VM APP12 could not come online on HV-NODE02: its resource 'Virtual Machine "
                         "APP12' failed (0x80070005)"), v[0]["title"]
assert sorted(x["rule"] for x in v[1:]) == ["fc-resource-failed", "fc-role-online-failed"], [x["rule"] for x in v]
PY
check "netname-vco-2022: no diagnosis stored under the file server as a VM" \
    test "$(sqlite3 "$work/a.db" "SELECT count(*) FROM diagnoses WHERE vm_name = 'FS01' COLLATE NOCASE")" = 0
check "netname-vco-2022: the VM's 1205 is in the VM's incident" \
    test "$(sqlite3 "$work/a.db" "SELECT count(*) FROM diagnoses d JOIN incidents i ON i.id = d.incident
        WHERE d.rule = 'fc-role-online-failed' AND i.subject = 'APP12'")" = 1

# A zone without dynamic updates: the zone first (not the secure-zone permission of 1257), every
# hourly retry counted, the zone setting as the fix.
"$hvdiag" analyze --db "$work/b.db" --json samples/dns-zone-static-2016 >"$work/b.json" 2>"$work/b.err"
check "dns-zone-static-2016: exit 1 for errors" test $? -eq 1
check "dns-zone-static-2016: the static zone first, name and zone named, its setting the fix" \
    python3 - "$work/b.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert (inc["subject_kind"], inc["subject"]) == ("host", "HV-NODE02"), (inc["subject_kind"], inc["subject"])
d = inc["diagnoses"]
assert d[0]["rule"] == "dns-registration-zone-not-dynamic" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("Cluster name HVCLUS16 cannot register in DNS: zone corp.contoso.local does not "
                         "accept dynamic updates (reported by HV-NODE02)"), d[0]["title"]
assert 'Set-DnsServerPrimaryZone -Name "corp.contoso.local" -DynamicUpdate Secure' in d[0]["remedy"], d[0]["remedy"]
assert 'Get-ClusterResource "Cluster Name" | Update-ClusterNetworkNameResource' in d[0]["remedy"], d[0]["remedy"]
assert "DNS operation refused." in d[0]["cause"], d[0]["cause"]
rules = sorted(x["rule"] for x in d)
assert rules == (["dns-registration-zone-not-dynamic"] * 3 + ["fc-dns-registration"] * 3
                 + ["fc-dns-zone-not-dynamic"] * 3), rules
assert "fc-dns-secure-zone-denied" not in rules, rules
PY

# The cluster identity lost its rights on a role's computer object: the password change fails
# every retry; the operation and error named, the object's rights and Repair the fix.
"$hvdiag" analyze --db "$work/c.db" --json samples/vco-password-2012r2 >"$work/c.json" 2>"$work/c.err"
check "vco-password-2012r2: exit 1 for errors" test $? -eq 1
check "vco-password-2012r2: the name, the operation and the error; the rights and Repair" \
    python3 - "$work/c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert (inc["subject_kind"], inc["subject"]) == ("host", "HV-NODE01"), (inc["subject_kind"], inc["subject"])
d = inc["diagnoses"]
assert [x["rule"] for x in d] == ["fc-ad-object-update-failed"] * 2, [x["rule"] for x in d]
assert d[0]["root_cause"] is True and d[0]["title"] == (
    "The computer object of cluster name SQL Network Name (SQLFCI01) could not be updated in Active "
    "Directory during Password change (reported by HV-NODE01)"), d[0]["title"]
assert "HVCLUS12$" in d[0]["cause"] and "(Access is denied.)" in d[0]["cause"], d[0]["cause"]
assert 'Get-ClusterResource "SQL Network Name (SQLFCI01)" | Get-ClusterParameter DnsName' in d[0]["remedy"], d[0]["remedy"]
assert "give the cluster name object HVCLUS12$ Full Control" in d[0]["remedy"], d[0]["remedy"]
assert "More Actions > Repair" in d[0]["remedy"], d[0]["remedy"]
assert all(not x["vm_name"] for x in d), [x["vm_name"] for x in d]
PY

# Another device holds a file server role's IP address: the role fails on both nodes and
# exceeds its threshold; the address at the root, not the escalation, and no VM anywhere.
"$hvdiag" analyze --db "$work/e.db" --json samples/dup-ip-2019 >"$work/e.json" 2>"$work/e.err"
check "dup-ip-2019: exit 1 for errors" test $? -eq 1
check "dup-ip-2019: the duplicate address first, on each node; the fix frees or changes it" \
    python3 - "$work/e.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["incidents"]) == 1, [i["title"] for i in r["incidents"]]
inc = r["incidents"][0]
assert (inc["subject_kind"], inc["severity"]) == ("host", "critical"), (inc["subject_kind"], inc["severity"])
d = inc["diagnoses"]
assert d[0]["rule"] == "role-failed-duplicate-ip" and d[0]["root_cause"] is True, [x["rule"] for x in d]
assert d[0]["title"] == ("Role 'FS02' cannot come online on HV-NODE01: its IP address 10.20.30.41 is "
                         "in use by another device on the network"), d[0]["title"]
assert "Get-NetNeighbor -IPAddress 10.20.30.41" in d[0]["remedy"], d[0]["remedy"]
assert 'Get-ClusterResource "IP Address 10.20.30.41" | Set-ClusterParameter Address' in d[0]["remedy"], d[0]["remedy"]
assert 'Start-ClusterGroup "FS02"' in d[0]["remedy"], d[0]["remedy"]
rules = sorted(x["rule"] for x in d)
assert rules.count("role-failed-duplicate-ip") == 2 and rules.count("fc-dup-ip") == 2, rules
assert {x["host"] for x in d if x["rule"] == "role-failed-duplicate-ip"} == {
    "HV-NODE01.contoso.local", "HV-NODE02.contoso.local"}, d
assert "role-failure-escalation" in rules, rules
assert all(not x["vm_name"] for x in d), [(x["rule"], x["vm_name"]) for x in d]
PY
exit $fail
