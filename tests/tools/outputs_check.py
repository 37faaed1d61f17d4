#!/usr/bin/env python3
"""Integration test of hvdiagd's outputs: the real daemon, a real JSON lines file, a real hook.

usage: outputs_check.py HVDIAGD SOURCE_DIR [journald]
  (default) --check-config names file:line for outputs that cannot work; a dropped export
            gives a new incident in the JSON file (ECS names) and a hook run (JSON on
            stdin, HVDIAG_* in the environment); the file goes on through a logrotate
            rename and a copytruncate; a failing hook is retried and reported in health,
            and a hanging one is killed at its time limit, while files are still read.
  kill      kill -9 at random moments while the sample exports are dropped one by one;
            after each restart the daemon goes on, and at the end every incident change
            in the database reached the file and the hook at least once, repeats only
            with the same stable id and the same content.
  journald  a new incident reaches journald (journalctl); exits 77 (skipped) when
            systemd-journald does not run here.
  syslog    a new incident reaches a real rsyslogd (started here on a loopback TCP port) as
            RFC 5424 with the stable id in its structured data; while rsyslogd is down the
            output retries and health says so; once it is back every change arrives. Exits
            77 (skipped) without rsyslogd.
Waits with deadlines, never fixed sleeps. Prints one line per check and exits 1 on any
failure."""
import glob
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

import checklib
from checklib import ask, check, failures, free_port, kill_all, wait_for

HVDIAGD, SRC = sys.argv[1:3]
MODE = sys.argv[3] if len(sys.argv) > 3 else "basic"


def Daemon(work, outputs):
    """hvdiagd on work with the [outputs] lines given."""
    return checklib.Daemon(HVDIAGD, work, os.path.join(SRC, "rules"), sections="[outputs]\n" + outputs)


def lines(path):
    try:
        with open(path, "rb") as f:
            return [json.loads(l) for l in f.read().splitlines() if l.strip()]
    except FileNotFoundError:
        return []


def write_hook(path, out_dir, extra=""):
    # Each run writes its own file: HVDIAG_ID, the environment's view, then stdin.
    with open(path, "w") as f:
        f.write("#!/bin/sh\n%s"
                "out=%s/$HVDIAG_ID.$$\n"
                "{ printf '%%s|%%s|%%s|%%s|%%s\\n' \"$HVDIAG_ID\" \"$HVDIAG_INCIDENT\" "
                "\"$HVDIAG_CHANGE\" \"$HVDIAG_SEVERITY\" \"$HVDIAG_TITLE\"; cat; } > $out.tmp\n"
                "mv $out.tmp $out\n"
                "echo \"hook saw $HVDIAG_ID\" >&2\n" % (extra, out_dir))
    os.chmod(path, 0o755)


def hook_runs(out_dir, partial=None):
    """{stable id: [(env header fields, stdin JSON)]} of the finished hook runs; a run whose
    stdin was not one whole JSON document is left out and its file named in partial."""
    runs = {}
    for p in glob.glob(os.path.join(out_dir, "*.*")):
        if p.endswith(".tmp"):
            continue
        with open(p) as f:
            head, _, body = f.read().partition("\n")
        try:
            doc = json.loads(body)
        except ValueError:
            if partial is not None:
                partial.append("%s: %r" % (os.path.basename(p), body[:80]))
            continue
        runs.setdefault(head.split("|")[0], []).append((head.split("|"), doc))
    return runs


def changes(db):
    """Every (incident, revision) the database made: each one an output must deliver."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        rows = con.execute("SELECT incident, revision FROM incident_revisions").fetchall()
    finally:
        con.close()
    return {"%d-%d" % (i, r) for i, n in rows for r in range(1, n + 1)}


SAMPLE = os.path.join(SRC, "samples")


def sample(*parts):
    return os.path.join(SAMPLE, *parts)


def drop(d, src, name):
    tmp = os.path.join(d.work, ".drop")
    shutil.copy(src, tmp)
    os.rename(tmp, os.path.join(d.inbox, name))


def basic(work):
    jf = os.path.join(work, "log", "incidents.json")
    os.mkdir(os.path.dirname(jf))
    hook_out = os.path.join(work, "hook-out")
    os.mkdir(hook_out)
    hook = os.path.join(work, "hook.sh")
    flag = os.path.join(work, "hook-fails")
    hang = os.path.join(work, "hook-hangs")
    write_hook(hook, hook_out, "[ -e %s ] && { echo 'refused by test' >&2; exit 3; }\n"
               "[ -e %s ] && exec sleep 300\n" % (flag, hang))

    # --check-config: each output that cannot work is named with file:line.
    d = Daemon(work, "journald = no\njson_file = %s/missing/x.json\non_incident = %s/nothere\n"
               % (work, work))
    r = subprocess.run([HVDIAGD, "-c", d.conf, "--check-config"], capture_output=True, text=True)
    check("--check-config refuses a json_file in a missing folder, with file:line",
          r.returncode == 2 and ("%s:11: json_file" % d.conf) in r.stderr, r.stderr)
    check("--check-config refuses a missing on_incident program, with file:line",
          ("%s:12: on_incident" % d.conf) in r.stderr, r.stderr)
    plain = os.path.join(work, "not-executable")
    open(plain, "w").close()
    d = Daemon(work, "journald = no\non_incident = %s\n" % plain)
    r = subprocess.run([HVDIAGD, "-c", d.conf, "--check-config"], capture_output=True, text=True)
    check("--check-config refuses an on_incident program that is not executable",
          r.returncode == 2 and ("%s:11: on_incident" % d.conf) in r.stderr
          and "not executable" in r.stderr, r.stderr)

    d = Daemon(work, "journald = no\njson_file = %s\non_incident = %s\non_incident_timeout = 2s\n"
               "retry_max = 2s\n" % (jf, hook))
    r = subprocess.run([HVDIAGD, "-c", d.conf, "--check-config"], capture_output=True, text=True)
    check("--check-config accepts working outputs", r.returncode == 0, r.stderr)
    d.start()

    # A dropped export: a new incident in the file and a hook run.
    drop(d, sample("live-migration-spn", "HV-NODE02", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
         "n2-vmms.evtx")
    got = wait_for("an incident line in the JSON file", lambda: lines(jf))
    if got:
        o = got[0]
        check("the line has ECS names",
              all(k in o for k in ("@timestamp", "message", "event", "host", "rule", "log"))
              and o["event"]["kind"] == "alert" and o["event"]["action"] == "incident-new"
              and isinstance(o["event"]["severity"], int) and o["host"]["name"]
              and o["rule"]["id"] and o["rule"]["name"] and o["message"], o)
        check("its stable id is incident-revision",
              o["event"]["id"] == "%d-%d" % (o["hvdiag"]["incident"]["id"],
                                             o["hvdiag"]["incident"]["revision"]), o["event"])
        check("the SPN incident is the one delivered", "SPN" in o["message"], o["message"])
    runs = wait_for("the hook ran for it", lambda: hook_runs(hook_out))
    if runs and got:
        sid = got[0]["event"]["id"]
        run = runs.get(sid)
        check("the hook got the incident as JSON on stdin and HVDIAG_* in its environment",
              run and run[0][1]["event"]["id"] == sid and run[0][0][1] == sid.split("-")[0]
              and run[0][0][2] == "new" and run[0][0][4] == got[0]["message"], runs)
    wait_for("the hook's exit status and stderr are logged",
             lambda: "exit status 0; stderr: hook saw" in open(d.log).read())

    # logrotate 'create': the file is renamed away; the next change goes to a new file.
    rotated = jf + ".1"
    os.rename(jf, rotated)
    before = len(lines(rotated))
    drop(d, sample("hypervisor-not-running", "HV-NODE02", "System.evtx"), "hnr-system.evtx")
    fresh = wait_for("after a rename, changes go to a new file at the path", lambda: lines(jf))
    check("nothing more went to the renamed file", len(lines(rotated)) == before)
    if fresh:
        old_ids = {l["event"]["id"] for l in lines(rotated)}
        check("the new file has whole JSON lines of new changes only",
              all(l["event"]["kind"] == "alert" and l["event"]["id"] not in old_ids
                  for l in fresh), fresh)

    # copytruncate: copied, then truncated in place; lines go on at the new end.
    copied = jf + ".ct"
    shutil.copy(jf, copied)
    os.truncate(jf, 0)
    drop(d, sample("unplanned-failover", "HV-NODE02_cluster.log"), "HV-NODE02_cluster.log")
    after = wait_for("after a copytruncate, new lines appear", lambda: lines(jf))
    with open(jf, "rb") as f:
        raw = f.read()
    check("no hole of NULs before them (written at the new end)",
          raw[:1] == b"{" and b"\0" not in raw, raw[:40])
    check("each line parses", after and all("event" in l for l in after))

    # A failing hook: retried with back-off, reported in health, files still read.
    open(flag, "w").close()
    n_file = len(lines(jf))
    drop(d, sample("node-removal-evtx", "HV-NODE01", "System.evtx"), "nr-n1-system.evtx")

    def hook_failing():
        h = d.health()["outputs"]["hook"]
        return h if h["failures"] >= 2 and h["state"] == "retrying" and h["pending"] > 0 else None
    h = wait_for("a failing hook is reported and retried", hook_failing)
    if h:
        check("its last error names the exit status", "exit status 3" in h["last_error"], h)
    check("the file output went on meanwhile", len(lines(jf)) > n_file)
    drop(d, sample("node-removal", "HV-NODE01_cluster.log"), "HV-NODE01_cluster.log")
    wait_for("files are still read while the hook fails",
             lambda: d.health()["files_ingested"] >= 5)
    # Now hanging: killed at the time limit, still failing.
    open(hang, "w").close()
    os.unlink(flag)
    wait_for("a hanging hook is killed at its time limit",
             lambda: "killed after 2000 ms" in open(d.log).read())
    os.unlink(hang)

    def all_delivered():
        h = d.health()["outputs"]
        want = changes(d.db)
        got_file = {l["event"]["id"] for l in lines(jf) + lines(rotated) + lines(copied)}
        return (want and want <= got_file and want <= set(hook_runs(hook_out))
                and h["hook"]["pending"] == 0 and h["file"]["pending"] == 0 and h)
    h = wait_for("once the hook works again every change reaches both outputs", all_delivered)
    if h:
        check("health shows the hook idle again with its failures counted",
              h["hook"]["state"] == "idle" and h["hook"]["failures"] >= 2
              and h["hook"]["delivered"] > 0, h["hook"])

    # SIGHUP: the outputs go on.
    d.proc.send_signal(signal.SIGHUP)
    wait_for("reload logged", lambda: "reloaded" in open(d.log).read())
    check("the outputs are still there after SIGHUP", set(d.health()["outputs"]) == {"file", "hook"})
    check("the daemon stops cleanly", d.stop() == 0)
    log = open(d.log).read()
    check("no sanitizer report", "Sanitizer" not in log and "runtime error" not in log, log[-2000:])


def kill_loop(work):
    jf = os.path.join(work, "incidents.json")
    hook_out = os.path.join(work, "hook-out")
    os.mkdir(hook_out)
    hook = os.path.join(work, "hook.sh")
    write_hook(hook, hook_out)
    d = Daemon(work, "journald = no\njson_file = %s\non_incident = %s\n" % (jf, hook))
    files = []
    for p in sorted(glob.glob(os.path.join(SAMPLE, "*", "*", "*.evtx")) +
                    glob.glob(os.path.join(SAMPLE, "*", "*_cluster.log"))):
        rel = os.path.relpath(p, SAMPLE)
        if rel.startswith("xml"):
            continue
        files.append((p, rel.replace(os.sep, "-")))
    check("sample exports found", len(files) >= 8, files)
    rng = random.Random(int(os.environ.get("HVD_KILL_SEED", "17")))
    kills = 0
    d.start()
    for i, (src, name) in enumerate(files):
        drop(d, src, name)
        # a random moment: right away, while the file is read, or (every third file) just
        # as the file output writes, between its lines and its cursor
        deadline = time.monotonic() + rng.uniform(0.0, 1.5)
        size = os.path.getsize(jf) if os.path.exists(jf) else 0
        while time.monotonic() < deadline:
            if i % 3 == 1 and os.path.exists(jf) and os.path.getsize(jf) != size:
                break
            time.sleep(0.005)
        if i % 2 == 0 or rng.random() < 0.5:
            d.kill9()
            kills += 1
            d.start()
    check("the daemon was killed several times", kills >= 4, kills)

    def done():
        want = changes(d.db)
        got = {l["event"]["id"] for l in lines(jf)}
        return want and want <= got and want <= set(hook_runs(hook_out)) and want
    want = wait_for("every incident change reached the file and the hook", done, timeout=400)
    if want:
        got = lines(jf)
        ids = [l["event"]["id"] for l in got]
        by_id = {}
        for l in got:
            by_id.setdefault(l["event"]["id"], []).append(json.dumps(l, sort_keys=True))
        check("no line names a change the database does not have", set(ids) <= want,
              set(ids) - want)
        check("repeats are the same change (same id, same content)",
              all(len(set(v)) == 1 for v in by_id.values()),
              [k for k, v in by_id.items() if len(set(v)) > 1])
        partial = []
        runs = hook_runs(hook_out, partial)
        check("no hook run read part of a change (the daemon killed while it started)",
              not partial, partial[:5])
        check("hook repeats carry the same id and content",
              all(len({json.dumps(r[1], sort_keys=True) for r in v}) == 1 for v in runs.values()))
        print("     %d changes, %d lines (%d repeats), %d hook runs, %d kills"
              % (len(want), len(ids), len(ids) - len(set(ids)),
                 sum(len(v) for v in runs.values()), kills))
        # nothing held back: the outbox is pruned behind both cursors
        h = wait_for("both outputs idle", lambda: all(
            o["pending"] == 0 for o in d.health()["outputs"].values()) and d.health())
    check("the daemon stops cleanly", d.stop() == 0)


def journald(work):
    if not os.path.exists("/run/systemd/journal/socket") or not shutil.which("journalctl"):
        print("skip: systemd-journald does not run here")
        sys.exit(77)
    d = Daemon(work, "journald = yes\n")
    marker = "HVDIAG_HOST"
    since = time.strftime("%Y-%m-%d %H:%M:%S")
    d.start()
    if "output journald" not in open(d.log).read():
        check("the journald output runs", False, open(d.log).read()[-2000:])
    drop(d, sample("live-migration-spn", "HV-NODE02", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
         "n2-vmms.evtx")

    def in_journal():
        r = subprocess.run(["journalctl", "--since", since, "-o", "json", "SYSLOG_IDENTIFIER=hvdiagd",
                            "--no-pager"], capture_output=True, text=True)
        ents = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        return [e for e in ents if marker in e and "HVDIAG_INCIDENT" in e]
    ents = wait_for("a journal entry with HVDIAG_* fields", in_journal)
    if ents:
        e = ents[0]
        check("its fields", e["PRIORITY"] in ("2", "3") and "SPN" in e["MESSAGE"]
              and e["HVDIAG_RULE"] and e["HVDIAG_CHANGE"] == "new", e)
    check("the daemon stops cleanly", d.stop() == 0)


class Rsyslogd:
    """A private rsyslogd: TCP input on a loopback port, each message's RFC 5424 fields
    written to one line of a file."""

    def __init__(self, work, exe):
        self.dir = os.path.join(work, "rsyslog")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.out = os.path.join(self.dir, "messages")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.exe = exe
        self.proc = None
        with open(self.conf, "w") as f:
            f.write('global(workDirectory="%s")\n'
                    'module(load="imtcp")\n'
                    'input(type="imtcp" address="127.0.0.1" port="%d")\n'
                    'template(name="fields" type="string" string="%%pri%%|%%app-name%%|'
                    '%%msgid%%|%%structured-data%%|%%msg%%\\n")\n'
                    'action(type="omfile" file="%s" template="fields")\n'
                    % (self.dir, self.port, self.out))

    def start(self):
        log = open(os.path.join(self.dir, "rsyslogd.log"), "ab")
        self.proc = subprocess.Popen([self.exe, "-n", "-f", self.conf, "-i",
                                      os.path.join(self.dir, "pid")], stdout=log, stderr=log)
        checklib.Daemon.started.append(self.proc)
        log.close()

        def listening():
            with socket.socket() as t:
                t.settimeout(1)
                return t.connect_ex(("127.0.0.1", self.port)) == 0
        wait_for("rsyslogd listens", listening, 30)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)

    def messages(self):
        try:
            with open(self.out, encoding="utf-8", errors="replace") as f:
                return [l.rstrip("\n").split("|", 4) for l in f if l.strip()]
        except FileNotFoundError:
            return []


def syslog(work):
    exe = next((p for p in ("/usr/sbin/rsyslogd", "/sbin/rsyslogd") if os.access(p, os.X_OK)),
               shutil.which("rsyslogd"))
    if not exe:
        print("skip: rsyslogd is not installed")
        sys.exit(77)
    rs = Rsyslogd(work, exe)
    rs.start()
    d = Daemon(work, "journald = no\nsyslog_target = tcp://127.0.0.1:%d\nsyslog_facility = local3\n"
               "retry_max = 2s\n" % rs.port)
    d.start()
    drop(d, sample("live-migration-spn", "HV-NODE02", "Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"),
         "n2-vmms.evtx")
    got = wait_for("an RFC 5424 message at rsyslogd", rs.messages)
    if got:
        pri, app, msgid, sd, msg = got[0]
        check("its header: facility local3, app hvdiagd, MSGID incident-new",
              int(pri) // 8 == 19 and app == "hvdiagd" and msgid == "incident-new", got[0])
        check("its structured data names the incident, revision and rule",
              sd.startswith("[hvdiag@32473 ") and 'incident="' in sd and 'revision="1"' in sd
              and 'rule="' in sd, sd)
        check("its message is the incident's title", "SPN" in msg, msg)

    def ids():
        out = set()
        for m in rs.messages():
            sd = m[3]
            try:
                inc = sd.split('incident="', 1)[1].split('"', 1)[0]
                rev = sd.split('revision="', 1)[1].split('"', 1)[0]
            except IndexError:
                continue
            out.add("%s-%s" % (inc, rev))
        return out

    # rsyslogd down: the output retries, health says so, files are still read.
    rs.stop()
    drop(d, sample("hypervisor-not-running", "HV-NODE02", "System.evtx"), "hnr-system.evtx")

    def retrying():
        h = d.health()["outputs"]["syslog"]
        return h if h["pending"] > 0 and h["failures"] >= 1 else None
    h = wait_for("with rsyslogd down the syslog output is retrying", retrying)
    if h:
        check("health names the receiver", "127.0.0.1" in h["target"], h)
    rs.start()
    wait_for("once rsyslogd is back every change arrives",
             lambda: changes(d.db) and changes(d.db) <= ids()
             and d.health()["outputs"]["syslog"]["pending"] == 0)
    check("the daemon stops cleanly", d.stop() == 0)
    rs.stop()
    log = open(d.log).read()
    check("no sanitizer report", "Sanitizer" not in log and "runtime error" not in log, log[-2000:])


work = tempfile.mkdtemp(prefix="hvdiag-outputs.")
try:
    {"basic": basic, "kill": kill_loop, "journald": journald, "syslog": syslog}[MODE](work)
finally:
    kill_all()
    if failures() and os.environ.get("HVD_KEEP"):
        print("kept " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
print("%d failure(s)" % failures())
sys.exit(1 if failures() else 0)
