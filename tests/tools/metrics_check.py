#!/usr/bin/env python3
"""hvdiagd's Prometheus metrics, scraped over HTTP from the real daemon.

usage: metrics_check.py HVDIAGD SOURCE_DIR
Checks --check-config and startup errors (bad address, port in use, textfile folder),
scrapes /metrics with an HTTP client (http.client), drops two exports and scrapes again
until the counters moved, checks the exposition format, 404/405/HEAD, the node_exporter
textfile, and that rude HTTP clients (too many connections, endless headers, silence) do
not stop the daemon. Waits with deadlines, never fixed sleeps; exits 1 on any failure."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from checklib import ask, check, failures, free_port, wait_for

HVDIAGD, SRC = sys.argv[1:3]
SAMPLE = os.path.join(SRC, "samples", "live-migration-spn")






def scrape(port, method="GET", path="/metrics", body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$')


def parse(text):
    """The samples of an exposition {(name, labels): value}, or raises ValueError on any line
    that breaks the text format or our naming rules."""
    types = {}
    helps = set()
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            if name in types:
                raise ValueError("two TYPE lines for " + name)
            types[name] = kind
        elif line:
            m = SAMPLE_RE.match(line)
            if not m:
                raise ValueError("bad sample line: " + line)
            name = m.group(1)
            if name not in types or name not in helps:
                raise ValueError("no HELP/TYPE before " + name)
            if not name.startswith("hvdiag_"):
                raise ValueError("no hvdiag_ prefix: " + name)
            if (types[name] == "counter") != name.endswith("_total"):
                raise ValueError("counter names end in _total, others do not: " + name)
            samples[(name, m.group(2) or "")] = float(m.group(3))
    return samples


work = tempfile.mkdtemp(prefix="hvdiagd-metrics.")
inbox = os.path.join(work, "in")
os.mkdir(inbox)
promdir = os.path.join(work, "prom")
os.mkdir(promdir)
sock = os.path.join(work, "s.sock")
port = free_port()
textfile = os.path.join(promdir, "hvdiag.prom")


def write_conf(path, listen, textfile_line):
    with open(path, "w") as f:
        f.write("[daemon]\ndatabase = %s\nrules = %s\nsocket = %s\nlog_level = debug\n"
                "rescan_interval = 1\nsettle_time = 0\nmetrics_listen = %s\n%s\n"
                "[watch incoming]\npath = %s\npattern = *.evtx\n"
                % (os.path.join(work, "d.db"), os.path.join(SRC, "rules"), sock, listen,
                   textfile_line, inbox))


conf = os.path.join(work, "hvdiag.conf")
write_conf(conf, "127.0.0.1:%d" % port, "metrics_textfile = %s" % textfile)
p = None
try:
    r = subprocess.run([HVDIAGD, "-c", conf, "--check-config"], capture_output=True, text=True)
    check("--check-config accepts metrics keys",
          r.returncode == 0 and ("metrics_listen = 127.0.0.1:%d" % port) in r.stdout, r.stderr)
    bad = os.path.join(work, "bad.conf")
    write_conf(bad, "localhost:80", "")
    r = subprocess.run([HVDIAGD, "-c", bad, "--check-config"], capture_output=True, text=True)
    check("--check-config refuses a bad metrics_listen at file:line",
          r.returncode == 2 and (bad + ":8: metrics_listen") in r.stderr, r.stderr)
    write_conf(bad, "127.0.0.1:%d" % port, "metrics_textfile = %s/no/such/dir/h.prom" % work)
    r = subprocess.run([HVDIAGD, "-c", bad, "--check-config"], capture_output=True, text=True)
    check("--check-config refuses a textfile in a missing folder at file:line",
          r.returncode == 2 and (bad + ":9: metrics_textfile") in r.stderr, r.stderr)

    write_conf(bad, "127.0.0.1:%d" % port, "[outputs]\nsyslog_target = udp://no-such-host.invalid:514")
    r = subprocess.run([HVDIAGD, "-c", bad, "--check-config"], capture_output=True, text=True)
    check("--check-config refuses a syslog host that does not resolve, at file:line",
          r.returncode == 2 and (bad + ":10: syslog_target") in r.stderr
          and "no-such-host.invalid" in r.stderr, r.stderr)
    write_conf(bad, "127.0.0.1:%d" % port, "[outputs]\nsyslog_target = tcp://127.0.0.1:%d" % free_port())
    r = subprocess.run([HVDIAGD, "-c", bad, "--check-config"], capture_output=True, text=True)
    check("--check-config accepts a syslog receiver that is not up yet", r.returncode == 0,
          r.stderr)

    # The port taken by someone else: the daemon does not start, and says where and why.
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", port))
    taken.listen(1)
    r = subprocess.run([HVDIAGD, "-c", conf], capture_output=True, text=True, timeout=60)
    check("a port in use stops the start with file:line",
          r.returncode != 0 and (conf + ":8: metrics_listen: cannot listen on") in r.stderr
          and "in use" in r.stderr, (r.returncode, r.stderr))
    taken.close()
    check("the failed start left no socket behind", not os.path.exists(sock))

    log = open(os.path.join(work, "daemon.log"), "ab")
    p = subprocess.Popen([HVDIAGD, "-c", conf], stdout=log, stderr=log)
    wait_for("daemon answers ping", lambda: ask(sock, op="ping")["ok"])
    status, headers, text = wait_for("first scrape", lambda: scrape(port))
    check("GET /metrics is 200 with the text format content type",
          status == 200 and headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          (status, headers))
    try:
        first = parse(text)
        check("the exposition follows the text format and naming rules", True)
    except ValueError as e:
        first = {}
        check("the exposition follows the text format and naming rules", False, e)
    check("build info names the version",
          any(k[0] == "hvdiag_build_info" and 'version="' in k[1] for k in first), first.keys())
    check("nothing read yet", first.get(("hvdiag_files_read_total", "")) == 0.0, first)
    for name in ("hvdiag_files_failed_total", "hvdiag_files_quarantined_total",
                 "hvdiag_workers_replaced_total", "hvdiag_worker_out_of_memory_total",
                 "hvdiag_queue_files", "hvdiag_socket_clients"):
        check(name + " is exported", (name, "") in first, sorted(first))
    for kind in ("evtx", "clusterlog"):
        for name in ("hvdiag_events_read_total", "hvdiag_events_skipped_total"):
            check("%s{kind=%s} is exported" % (name, kind),
                  (name, '{kind="%s"}' % kind) in first)
    for sev in ("info", "warning", "error", "critical"):
        check("incidents{severity=%s} is exported" % sev,
              ("hvdiag_incidents", '{severity="%s"}' % sev) in first)

    status, headers, body = scrape(port, "HEAD")
    check("HEAD /metrics is 200 without a body", status == 200 and body == "", (status, body))
    status, headers, _ = scrape(port, "GET", "/")
    check("another path is 404", status == 404, status)
    status, headers, _ = scrape(port, "POST", "/metrics", body="x" * 1000)
    check("POST is 405 with Allow", status == 405 and "GET" in headers.get("Allow", ""),
          (status, headers))

    # Rude clients: more connections than allowed, one sending headers forever, one silent.
    rude = []
    for _ in range(40):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            rude.append(s)
        except OSError:
            break
    endless = socket.create_connection(("127.0.0.1", port), timeout=5)
    endless.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    closed = False
    try:
        for _ in range(200):
            endless.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
    except OSError:
        closed = True
    if not closed:
        try:
            endless.settimeout(20)
            reply = endless.recv(100)
            closed = reply == b"" or reply.split(b" ")[1] in (b"413", b"431", b"400")
        except OSError:
            closed = True
    check("a request with endless headers is refused or closed", closed)
    endless.close()
    check("the query socket answers while HTTP clients misbehave", ask(sock, op="ping")["ok"])
    for s in rude:
        s.close()
    status, _, _ = wait_for("a scrape after the rude clients left", lambda: scrape(port))
    check("scrapes work again after the rude clients", status == 200, status)

    # Drop two exports: the counters move.
    shutil.copy(os.path.join(SAMPLE, "HV-NODE02", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
                os.path.join(inbox, "n2.evtx"))
    shutil.copy(os.path.join(SAMPLE, "HV-NODE01", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
                os.path.join(inbox, "n1.evtx"))

    def moved():
        s = parse(scrape(port)[2])
        return s if s.get(("hvdiag_files_read_total", "")) == 2.0 and \
            s.get(("hvdiag_incidents", '{severity="critical"}'), 0) >= 1 else None
    after = wait_for("the scrape shows both files read", moved) or {}
    health = ask(sock, op="health")
    check("events read per kind match what health counts",
          after.get(("hvdiag_events_read_total", '{kind="evtx"}')) == health["events_read"] > 0,
          (after.get(("hvdiag_events_read_total", '{kind="evtx"}')), health))
    check("no clusterlog events", after.get(("hvdiag_events_read_total", '{kind="clusterlog"}')) == 0)
    check("new diagnoses by severity add up to health's count",
          sum(v for k, v in after.items() if k[0] == "hvdiag_diagnoses_new_total")
          == health["new_diagnoses"] > 0, health)
    check("diagnoses in the database by severity add up to health's",
          sum(v for k, v in after.items() if k[0] == "hvdiag_diagnoses") == health["diagnoses"],
          health)
    newest = after.get(("hvdiag_newest_event_timestamp_seconds", '{kind="evtx"}'))
    lag = after.get(("hvdiag_read_lag_seconds", '{kind="evtx"}'))
    check("the newest event time is the sample's (2024-03-05)",
          newest is not None and 1709596800 <= newest < 1709683200, newest)
    check("the read lag is now minus that time",
          lag is not None and abs((time.time() - newest) - lag) < 120, (lag, newest))
    check("health reports worker replacements and out-of-memory reads",
          "workers_replaced" in health and "out_of_memory" in health, health)

    # The textfile: whole, parseable, with the same counters, no temporary left behind.
    def textfile_moved():
        s = parse(open(textfile).read())
        return s if s.get(("hvdiag_files_read_total", "")) == 2.0 else None
    tf = wait_for("the textfile shows both files read", textfile_moved, timeout=30) or {}
    check("the textfile holds the same families (without the lag)",
          ("hvdiag_incidents", '{severity="critical"}') in tf and
          ("hvdiag_read_lag_seconds", '{kind="evtx"}') not in tf, sorted(tf)[:5])
    check("no temporary file is left", os.listdir(promdir) == ["hvdiag.prom"], os.listdir(promdir))

    # curl as a second, independent client when present.
    curl = shutil.which("curl")
    if curl:
        r = subprocess.run([curl, "-sf", "http://127.0.0.1:%d/metrics" % port],
                           capture_output=True, text=True, timeout=30)
        check("curl scrapes the same exposition",
              r.returncode == 0 and "hvdiag_files_read_total 2" in r.stdout, r.returncode)

    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
    check("SIGTERM stops the daemon cleanly", rc == 0, rc)
    p = None
    check("the port is free after the stop", socket.create_connection and
          subprocess.run([sys.executable, "-c",
                          "import socket; s=socket.socket(); "
                          "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                          "s.bind(('127.0.0.1', %d))" % port]).returncode == 0)
finally:
    if p:
        p.kill()
        p.wait()
    if failures():
        print("daemon log:")
        try:
            sys.stdout.write(open(os.path.join(work, "daemon.log")).read()[-5000:])
        except OSError:
            pass
    shutil.rmtree(work, ignore_errors=True)

print("%d failure(s)" % failures() if failures() else "all metrics checks passed")
sys.exit(1 if failures() else 0)
