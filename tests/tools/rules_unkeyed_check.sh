#!/bin/sh
# 'hvdiag rules check' warns about EVTX rules without provider and event id (tried on every
# event; the reader must decode every record whole for them), names file, line and rule,
# still exits 0; cluster.log rules and keyed rules get no warning; the shipped set has none.
# usage: rules_unkeyed_check.sh HVDIAG SOURCE_DIR
set -u
hvdiag=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
cat >"$work/r.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<rules xmlns="urn:hvdiag:rules:1">
  <rule id="unkeyed-message" severity="warning">
    <title>t on {host}</title>
    <match>
      <message op="regex">(?i)something odd</message>
    </match>
    <cause>c</cause>
    <remedy>r</remedy>
    <reference href="https://example.invalid/"/>
    <examples>
      <positive><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Hyper-V-VMMS"/><EventID>1</EventID><Level>3</Level><TimeCreated SystemTime="2024-03-05T10:00:00.0000000Z"/><EventRecordID>1</EventRecordID><Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel><Computer>HV-NODE01</Computer></System><EventData><Data Name="Parameter0">something odd</Data></EventData></Event></positive>
      <negative><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Hyper-V-VMMS"/><EventID>1</EventID><Level>3</Level><TimeCreated SystemTime="2024-03-05T10:00:00.0000000Z"/><EventRecordID>2</EventRecordID><Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel><Computer>HV-NODE01</Computer></System><EventData><Data Name="Parameter0">all fine</Data></EventData></Event></negative>
    </examples>
  </rule>
  <rule id="keyed-message" severity="warning">
    <title>t on {host}</title>
    <match>
      <provider>Microsoft-Windows-Hyper-V-VMMS</provider>
      <message op="regex">(?i)something odd</message>
    </match>
    <cause>c</cause>
    <remedy>r</remedy>
    <reference href="https://example.invalid/"/>
    <examples>
      <positive><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Hyper-V-VMMS"/><EventID>1</EventID><Level>3</Level><TimeCreated SystemTime="2024-03-05T10:00:00.0000000Z"/><EventRecordID>1</EventRecordID><Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel><Computer>HV-NODE01</Computer></System><EventData><Data Name="Parameter0">something odd</Data></EventData></Event></positive>
      <negative><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Hyper-V-VMMS"/><EventID>1</EventID><Level>3</Level><TimeCreated SystemTime="2024-03-05T10:00:00.0000000Z"/><EventRecordID>2</EventRecordID><Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel><Computer>HV-NODE01</Computer></System><EventData><Data Name="Parameter0">all fine</Data></EventData></Event></negative>
    </examples>
  </rule>
  <rule id="clusterlog-message" severity="warning">
    <title>t on {host}</title>
    <match>
      <source>clusterlog</source>
      <message op="regex">(?i)something odd</message>
    </match>
    <cause>c</cause>
    <remedy>r</remedy>
    <reference href="https://example.invalid/"/>
    <examples>
      <positive><clusterlog node="HV-NODE01">
00000f20.00001a34::2024/03/09-02:00:01.123 INFO  [RCM] something odd
</clusterlog></positive>
      <negative><clusterlog node="HV-NODE01">
00000f20.00001a34::2024/03/09-02:00:01.123 INFO  [RCM] all fine
</clusterlog></negative>
    </examples>
  </rule>
</rules>
XML
"$hvdiag" rules check --xsd "$src/rules/hvdiag-rules.xsd" "$work" >"$work/out" 2>"$work/err"
st=$?
cat "$work/out" "$work/err"
[ $st -eq 0 ] || { echo "FAIL: rules check exited $st, expected 0" >&2; fail=1; }
grep -q "r.xml:3: warning: rule unkeyed-message names no <provider> and no <event-id>" "$work/err" ||
    { echo "FAIL: no warning for the unkeyed rule" >&2; fail=1; }
[ "$(grep -c warning: "$work/err")" -eq 1 ] ||
    { echo "FAIL: warnings for keyed or cluster.log rules" >&2; fail=1; }
grep -q "1 unkeyed EVTX rule" "$work/out" || { echo "FAIL: summary line" >&2; fail=1; }
"$hvdiag" rules test --xsd "$src/rules/hvdiag-rules.xsd" "$work" >"$work/test" 2>&1 ||
    { cat "$work/test"; echo "FAIL: the examples of the test rules" >&2; fail=1; }
"$hvdiag" rules check "$src/rules" >/dev/null 2>"$work/shipped"
if grep -q "warning:" "$work/shipped"; then
    cat "$work/shipped" >&2
    echo "FAIL: a shipped rule is unkeyed" >&2
    fail=1
fi
exit $fail
