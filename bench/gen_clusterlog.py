#!/usr/bin/env python3
"""Writes a synthetic cluster.log of at least SIZE megabytes, mostly routine lines with a few
signatures. usage: gen_clusterlog.py SIZE_MB OUT"""
import sys

size = int(sys.argv[1]) << 20
lines = [
    "INFO  [RCM] rcm::RcmResource::HandleMonitorReply: NOTIFY_RESOURCE_STATE_CHANGE for 'Virtual Machine VM{n}', gen(1) result 0/0.",
    "DBG   [RHS] Resource Virtual Machine VM{n} called SetResourceStatusEx: checkpoint 1. Old state Online, new state Online",
    "INFO  [GUM] Node 1: executing request locally, gumId:{n}, my action: /rcm/gum/SetDependencies, # of updates: 1",
    "DBG   [NETFTAPI] received NsiParameterNotification for fe80::1 (IpDadStatePreferred)",
    "INFO  [NM] Received request from client address HV-NODE01.",
    "INFO  [IM] got event: LocalEndpoint 10.0.0.14:~3343~ has missed two consecutive heartbeats from 10.0.0.13:~3343~",
    "ERR   [RHS] Online for resource Virtual Machine VM{n} failed.",
]
weights = [400, 300, 200, 150, 100, 1, 1]
wheel = [l for l, w in zip(lines, weights) for _ in range(w)]
with open(sys.argv[2], "w") as f:
    f.write("[=== Cluster ===]\nCurrent node: name (HV-NODE01) id (1)\n[=== Cluster Logs ===]\n")
    written = 0
    i = 0
    while written < size:
        secs = i // 50
        line = "00000f20.00001a34::2024/03/%02d-%02d:%02d:%02d.%03d %s\n" % (
            1 + secs // 86400 % 28, secs // 3600 % 24, secs // 60 % 60, secs % 60, i % 1000,
            wheel[(i * 7919) % len(wheel)].format(n=i % 400))
        f.write(line)
        written += len(line)
        i += 1
