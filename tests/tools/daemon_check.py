#!/usr/bin/env python3
"""Integration test of hvdiagd: the real daemon on a temp folder, database and socket.

usage: daemon_check.py HVDIAGD HVDIAG EVTXGEN SOURCE_DIR
Waits with deadlines, never fixed sleeps. Prints one line per check and exits 1 on any
failure."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

from checklib import ask, check, failures, wait_for

HVDIAGD, HVDIAG, EVTXGEN, SRC = sys.argv[1:5]
SAMPLE = os.path.join(SRC, "samples", "live-migration-spn")




class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def raw(self, data):
        self.s.sendall(data)
        line = self.f.readline()
        return json.loads(line) if line else None

    def ask(self, **req):
        return self.raw(json.dumps(req).encode() + b"\n")

    def close(self):
        self.f.close()
        self.s.close()



work = tempfile.mkdtemp(prefix="hvdiagd-test.")
inbox = os.path.join(work, "in")
os.mkdir(inbox)
rules = os.path.join(work, "rules")
shutil.copytree(os.path.join(SRC, "rules"), rules)
sock = os.path.join(work, "s.sock")
db = os.path.join(work, "d.db")
conf = os.path.join(work, "hvdiag.conf")
with open(conf, "w") as f:
    f.write("[daemon]\ndatabase = %s\nrules = %s\nsocket = %s\nlog_level = debug\n"
            "rescan_interval = 1\nsettle_time = 0\n\n[watch incoming]\npath = %s\n"
            "pattern = *.evtx *_cluster.log\n" % (db, rules, sock, inbox))


def start():
    log = open(os.path.join(work, "daemon.log"), "ab")
    p = subprocess.Popen([HVDIAGD, "-c", conf], stdout=log, stderr=log)
    wait_for("daemon answers ping", lambda: ask(sock, op="ping")["ok"])
    return p


def idle(jobs):
    """Waits until the daemon has read files jobs times and has nothing running."""
    def cond():
        h = ask(sock, op="health")
        return h if (not h["busy"] and h["files_ingested"] >= jobs) else None
    return wait_for("daemon reads %d files" % jobs, cond)


def diagnoses(path):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        rows = con.execute("SELECT key, count, first_time, last_time FROM diagnoses ORDER BY key").fetchall()
        ev = con.execute("SELECT d.key, e.path, e.record_id, e.line FROM evidence e JOIN diagnoses d"
                         " ON d.id = e.diagnosis ORDER BY 1, 2, 3, 4").fetchall()
        return rows, ev
    finally:
        con.close()


try:
    # --check-config: good, and bad with file:line.
    r = subprocess.run([HVDIAGD, "-c", conf, "--check-config"], capture_output=True, text=True)
    check("--check-config accepts a good file", r.returncode == 0 and "valid" in r.stdout, r.stderr)
    bad = os.path.join(work, "bad.conf")
    with open(bad, "w") as f:
        f.write("[daemon]\nsocket = %s\nbogus = 1\n\n[watch x]\nkind = sometimes\n" % sock)
    r = subprocess.run([HVDIAGD, "-c", bad, "--check-config"], capture_output=True, text=True)
    check("--check-config refuses a bad file, naming file:line",
          r.returncode == 2 and (bad + ":3:") in r.stderr and (bad + ":6:") in r.stderr, r.stderr)

    p = start()
    # Followers: one sees every new diagnosis, one only the critical ones.
    followers = [subprocess.Popen([HVDIAG, "query", "follow", "--json", "--socket", sock] + extra,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for extra in ([], ["--severity", "critical"])]
    wait_for("two followers", lambda: ask(sock, op="health")["followers"] >= 2)
    # Files dropped into the watched folder: the correlation across two files appears once.
    shutil.copy(os.path.join(SAMPLE, "HV-NODE02", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
                os.path.join(inbox, "n2.evtx"))
    shutil.copy(os.path.join(SAMPLE, "HV-NODE01", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
                os.path.join(inbox, "n1.evtx"))
    idle(2)
    inc = ask(sock, op="incidents")["incidents"]
    check("the correlated root cause is served on the socket",
          len(inc) == 1 and "migration SPN is missing" in inc[0]["title"], inc)
    before = ask(sock, op="health")["diagnoses"]
    for f in followers:
        f.terminate()
    streams = [[json.loads(l)["diagnosis"] for l in f.communicate(timeout=30)[0].splitlines()]
               for f in followers]
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    stored = con.execute("SELECT id, severity FROM diagnoses ORDER BY id").fetchall()
    con.close()
    ids = [d["id"] for d in streams[0]]
    check("a follower sees each new diagnosis once", sorted(ids) == [r[0] for r in stored] and
          len(ids) == len(set(ids)) and ids, (ids, stored))
    check("a --severity critical follower sees only the critical ones",
          [d["id"] for d in streams[1]] == [d["id"] for d in streams[0] if d["severity"] == "critical"]
          and streams[1], streams[1])
    # A re-export repeating the same records adds nothing.
    shutil.copy(os.path.join(inbox, "n1.evtx"), os.path.join(inbox, "n1-again.evtx"))
    idle(3)
    check("a re-export adds no diagnosis", ask(sock, op="health")["diagnoses"] == before)
    # A later export holding the old records and one more (SQL02 fails to migrate the same
    # way): only the new record counts.
    xml = open(os.path.join(SRC, "samples", "xml", "live-migration-spn", "HV-NODE01",
                            "Microsoft-Windows-Hyper-V-VMMS-Admin.xml")).read()
    last = xml.rindex("<Event ")
    extra = (xml[last:xml.rindex("</Events>")].replace("SQL01", "SQL02")
             .replace("<EventRecordID>1006<", "<EventRecordID>1007<")
             .replace("2024-03-05T10:12:10", "2024-03-05T11:30:00")
             .replace("6F1A2B3C-0000-4000-8000-000000000001", "6F1A2B3C-0000-4000-8000-000000000002"))
    more_xml = os.path.join(work, "more.xml")
    with open(more_xml, "w") as f:
        f.write(xml[:xml.rindex("</Events>")] + extra + "</Events>\n")
    db_before = diagnoses(db)
    subprocess.run([EVTXGEN, more_xml, os.path.join(inbox, "n1-more.evtx")], check=True)
    idle(4)
    db_after = diagnoses(db)
    old_keys = {r[0]: r for r in db_before[0]}
    new_rows = [r for r in db_after[0] if r[0] not in old_keys]
    check("a re-export with one more record adds only its diagnosis",
          len(new_rows) >= 1 and all("SQL02" in r[0] or "sql02" in r[0].lower() for r in new_rows)
          and all(old_keys[r[0]] == r for r in db_after[0] if r[0] in old_keys)
          and [e for e in db_after[1] if e[0] in old_keys] == db_before[1], new_rows)

    # A cluster.log that grows: only the new lines count.
    lines = open(os.path.join(SRC, "samples", "unplanned-failover", "HV-NODE02_cluster.log")).read().splitlines(True)
    clog = os.path.join(inbox, "HV-NODE02_cluster.log")
    with open(clog, "w") as f:
        f.writelines(lines[:7])
    idle(5)
    read_before = ask(sock, op="health")["events_read"]
    with open(clog, "a") as f:
        f.writelines(lines[7:])
    idle(6)

    def events_in(text):
        part = os.path.join(work, "part_cluster.log")
        with open(part, "w") as f:
            f.write(text)
        out = subprocess.run([HVDIAG, "dump", "--count", part], capture_output=True, text=True).stdout
        return int(out.split(": ")[1].split()[0])
    appended = events_in("".join(lines)) - events_in("".join(lines[:7]))
    grown_by = ask(sock, op="health")["events_read"] - read_before
    check("a grown cluster.log is read on from its checkpoint, not again from its start",
          grown_by == appended and appended > 0, (grown_by, appended))
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    hb = con.execute("SELECT count FROM diagnoses WHERE rule = 'cl-missed-hb'").fetchall()
    con.close()
    check("a grown cluster.log repeats nothing", hb == [(1,)], hb)

    # Rude clients: garbage and oversized requests get JSON errors; others still answered.
    other = Client(sock)
    rude = Client(sock)
    check("garbage gets a JSON error", rude.raw(b"}{ not json\n")["error"]["code"] == "bad_request")
    check("an unknown op gets a JSON error", rude.ask(op="format-disk")["error"]["code"] == "unknown_op")
    check("another client is still answered", other.ask(op="ping")["ok"])
    big = Client(sock)
    big.s.sendall(b"x" * (70 * 1024))
    resp = big.f.readline()
    check("an oversized request gets too_large", b"too_large" in resp, resp[:200])
    big.close()
    silent = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(50)]
    for s in silent:
        s.connect(sock)
        s.sendall(b'{"op":"incidents"}\n' * 20)  # never read the answers
    check("50 clients that never read do not block others", other.ask(op="ping")["ok"])
    for s in silent:
        s.close()
    rude.close()
    other.close()

    # SIGHUP with a broken rule file: the old rules stay, the daemon keeps serving.
    rules_before = ask(sock, op="health")["rules"]
    with open(os.path.join(rules, "broken.xml"), "w") as f:
        f.write('<rules xmlns="urn:hvdiag:rules:1"><rule id="x"></rules>')
    p.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    h = wait_for("the daemon answers after a broken reload", lambda: ask(sock, op="health"))
    check("the old rules are kept", h and h["rules"] == rules_before and rules_before > 0, h)
    os.remove(os.path.join(rules, "broken.xml"))

    # SIGTERM: exit 0, socket gone.
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=30)
    check("SIGTERM exits 0", rc == 0, rc)
    check("the socket is removed", not os.path.exists(sock))

    # Under systemd (Type=notify, WatchdogSec): READY, then WATCHDOG pings, STOPPING at the end.
    nsock_path = os.path.join(work, "notify.sock")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(nsock_path)
    nsock.settimeout(30)
    env = dict(os.environ, NOTIFY_SOCKET=nsock_path, WATCHDOG_USEC="400000")
    log = open(os.path.join(work, "daemon.log"), "ab")
    p = subprocess.Popen([HVDIAGD, "-c", conf], stdout=log, stderr=log, env=env)
    said = []
    try:
        while "WATCHDOG=1" not in said:
            said += nsock.recv(4096).decode().split("\n")
        p.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in said:
            said += nsock.recv(4096).decode().split("\n")
    except socket.timeout:
        pass
    check("sd_notify: READY=1 first, then WATCHDOG=1, and STOPPING=1 on SIGTERM",
          said and said[0] == "READY=1" and "WATCHDOG=1" in said and "STOPPING=1" in said, said)
    check("and it exits 0", p.wait(timeout=30) == 0)
    nsock.close()

    # A restart between the cause and the failure: the root cause is still made, once.
    for name in os.listdir(inbox):
        os.remove(os.path.join(inbox, name))
    os.remove(db)
    p = start()
    shutil.copy(os.path.join(SAMPLE, "HV-NODE02", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
                os.path.join(inbox, "n2.evtx"))
    idle(1)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    p = start()
    shutil.copy(os.path.join(SAMPLE, "HV-NODE01", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
                os.path.join(inbox, "n1.evtx"))
    idle(1)
    inc = ask(sock, op="incidents")["incidents"]
    roots = [k for k, *_ in diagnoses(db)[0] if k.startswith("lm-spn-missing-on-destination|")]
    check("a cause read before a restart explains a failure read after it, once",
          len(roots) == 1 and len(inc) == 1 and "migration SPN is missing" in inc[0]["title"],
          (roots, inc))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)

    # kill -9 in the middle of a large file, restart: the database equals a clean run's.
    big_xml = os.path.join(work, "big.xml")
    big_evtx = os.path.join(work, "big.evtx")
    subprocess.run([sys.executable, os.path.join(SRC, "bench", "gen_events.py"), "30000", big_xml], check=True)
    subprocess.run([EVTXGEN, big_xml, big_evtx], check=True)
    for name in os.listdir(inbox):
        os.remove(os.path.join(inbox, name))
    os.remove(db)
    p = start()
    shutil.copy(big_evtx, os.path.join(inbox, "big.evtx"))
    wait_for("the large file is being read", lambda: ask(sock, op="health")["busy"], timeout=30)
    p.send_signal(signal.SIGKILL)
    p.wait()
    if os.path.exists(sock):
        os.remove(sock)
    p = start()
    idle(1)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    clean = os.path.join(work, "clean.db")
    subprocess.run([HVDIAG, "analyze", "--rules", rules, "--db", clean, os.path.join(inbox, "big.evtx")],
                   capture_output=True)
    a, b = diagnoses(db), diagnoses(clean)
    check("after kill -9 and restart the diagnoses equal a clean run's", a[0] == b[0] and len(a[0]) > 0,
          (len(a[0]), len(b[0])))
    check("and so does the evidence", len(a[1]) == len(b[1]) and len(a[1]) > 0, (len(a[1]), len(b[1])))
finally:
    for proc in subprocess.run(["pgrep", "-f", conf], capture_output=True, text=True).stdout.split():
        try:
            os.kill(int(proc), signal.SIGKILL)
        except OSError:
            pass
    if failures():
        print(open(os.path.join(work, "daemon.log")).read()[-4000:])
    shutil.rmtree(work, ignore_errors=True)

print("daemon integration: all checks passed" if not failures()
      else "daemon integration: %d checks failed" % failures())
sys.exit(1 if failures() else 0)
