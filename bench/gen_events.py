#!/usr/bin/env python3
"""Writes N synthetic events as Windows event XML (for evtxgen), in a realistic mix for a
Hyper-V cluster host: mostly noise (service control, kernel, VMMS informational), some
warnings, a few failure signatures. usage: gen_events.py N OUT.xml"""
import sys

N = int(sys.argv[1])
out = open(sys.argv[2], "w")
NS = "http://schemas.microsoft.com/win/2004/08/events/event"
MIX = [  # (weight, provider, guid, channel, id, level, data)
    (30, "Service Control Manager", "{555908D1-A6D7-4695-8E1E-26931D2012F4}", "System", 7036, 4,
     [("param1", "Windows Update"), ("param2", "running")]),
    (20, "Microsoft-Windows-Kernel-General", "{A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D}", "System", 1, 4,
     [("NewTime", "2024-03-05T10:00:00.000Z"), ("OldTime", "2024-03-05T10:00:00.001Z")]),
    (20, "Microsoft-Windows-Hyper-V-VMMS", "{6066F867-7CA1-4418-85FD-36E3F9C0600C}",
     "Microsoft-Windows-Hyper-V-VMMS-Admin", 18304, 4,
     [("Parameter0", "'VM{n}' started successfully. (Virtual machine ID 6F1A2B3C-0000-4000-8000-{n:012d})")]),
    (10, "Microsoft-Windows-FailoverClustering", "{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}", "System", 1201, 4,
     [("ResourceGroup", "VM{n}")]),
    (5, "Microsoft-Windows-Hyper-V-High-Availability", None,
     "Microsoft-Windows-Hyper-V-High-Availability-Admin", 21111, 4,
     [("Parameter0", "Live migration of 'Virtual Machine VM{n}' succeeded.")]),
    (3, "Microsoft-Windows-FailoverClustering", "{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}", "System", 5120, 3,
     [("VolumeName", "Volume1"), ("ErrorCode", "STATUS_CLUSTER_CSV_AUTO_PAUSE_ERROR(c0130021)")]),
    (2, "Microsoft-Windows-Hyper-V-High-Availability", None,
     "Microsoft-Windows-Hyper-V-High-Availability-Admin", 21502, 2,
     [("Parameter0", "Live migration of 'Virtual Machine VM{n}' failed."),
      ("Parameter2", "The Virtual Machine Management Service failed to establish a connection for a Virtual Machine migration with host 'HV-NODE0{h}': The specified target is unknown or unreachable. (0x80090303).")]),
    (1, "Microsoft-Windows-FailoverClustering", "{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}", "System", 1069, 2,
     [("ResourceName", "Virtual Machine VM{n}"), ("ResourceGroup", "VM{n}"), ("ErrorCode", "0x80004005")]),
    (1, "Microsoft-Windows-Hyper-V-VMMS", "{6066F867-7CA1-4418-85FD-36E3F9C0600C}",
     "Microsoft-Windows-Hyper-V-VMMS-Admin", 14050, 2, [("Parameter0", "Microsoft Virtual System Migration Service")]),
]
wheel = [m for m in MIX for _ in range(m[0])]
next_id = {}  # EventRecordID counts up by one per record in each host's log, as in a real export
out.write("<Events>\n")
for i in range(N):
    _, prov, guid, chan, eid, level, data = wheel[(i * 7919) % len(wheel)]
    n = i % 400
    h = 1 + i % 4
    secs = i // 10
    t = "2024-03-%02dT%02d:%02d:%02d.%07dZ" % (1 + secs // 86400 % 28, secs // 3600 % 24, secs // 60 % 60, secs % 60, (i % 10) * 1000000)
    g = ' Guid="%s"' % guid if guid else ""
    rid = next_id[(h, chan)] = next_id.get((h, chan), 0) + 1
    out.write('<Event xmlns="%s"><System><Provider Name="%s"%s/><EventID>%d</EventID><Version>0</Version>'
              '<Level>%d</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>'
              '<TimeCreated SystemTime="%s"/><EventRecordID>%d</EventRecordID><Execution ProcessID="4" ThreadID="8"/>'
              '<Channel>%s</Channel><Computer>HV-NODE0%d.contoso.local</Computer><Security UserID="S-1-5-18"/></System><EventData>'
              % (NS, prov, g, eid, level, t, rid, chan, h))
    for k, v in data:
        out.write('<Data Name="%s">%s</Data>' % (k, v.format(n=n, h=h).replace("&", "&amp;")))
    out.write("</EventData></Event>\n")
out.write("</Events>\n")
