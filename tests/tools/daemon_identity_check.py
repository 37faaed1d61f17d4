#!/usr/bin/env python3
"""Integration test of what hvdiagd takes for already read: the real daemon, kill -9 and
restarts, files replaced and rotated the way collectors deliver them.

usage: daemon_identity_check.py HVDIAGD HVDIAG EVTXGEN SOURCE_DIR
Each case runs on a fresh folder and database and compares with 'hvdiag analyze' of the
same content. Waits with deadlines, never fixed sleeps. Exits 1 on any failure."""
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

import checklib
from checklib import ask, check, failures, wait_for

HVDIAGD, HVDIAG, EVTXGEN, SRC = sys.argv[1:5]


def query(db, sql):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def diagnoses(db):
    return query(db, "SELECT key, count, first_time, last_time FROM diagnoses ORDER BY key")


def per_rule(db):
    """Events counted per rule: the same whatever way one rule's diagnoses were folded."""
    return query(db, "SELECT rule, sum(count) FROM diagnoses GROUP BY rule ORDER BY rule")


def evtx(work, name, n, more=None):
    """An EVTX of n synthetic events (the first n of any longer run: the same records)."""
    xml = os.path.join(work, name + ".xml")
    out = os.path.join(work, name + ".evtx")
    subprocess.run([sys.executable, os.path.join(SRC, "bench", "gen_events.py"), str(n), xml],
                   check=True)
    subprocess.run([EVTXGEN, xml, out], check=True, capture_output=True)
    return out


def clog_lines(first, last):
    """cluster.log lines [first, last): a diagnosis every third, a minute apart from 08:00."""
    out = []
    for i in range(first, last):
        hh, mm = 8 + i // 60, i % 60
        if i % 3 == 0:
            out.append("00001320.00001724::2024/07/24-%02d:%02d:30.789 WARN  [NETWORK] Missed 40%% of"
                       " the heart beats with node 'sqlnode%02d' (2) on route"
                       " 10.10.20.18:~3343~->10.10.148.18:~3343~\n" % (hh, mm, i % 4))
        else:
            out.append("00001320.00002cf8::2024/07/24-%02d:%02d:35.251 WARN  [NETWORK] Lost connection"
                       " to node sqlnode%02d\n" % (hh, mm, i % 4))
    return "".join(out)


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def drop(src, dst):
    """Puts a file in place at once, as a collector's rename does."""
    tmp = os.path.join(os.path.dirname(dst), ".incoming.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def analyze(work, name, files):
    db = os.path.join(work, name + ".db")
    r = subprocess.run([HVDIAG, "analyze", "--rules", os.path.join(SRC, "rules"), "--db", db] + files,
                       capture_output=True, text=True)
    check("hvdiag analyze %s" % name, r.returncode in (0, 1), r.stderr[-2000:])
    return db


class Daemon(checklib.Daemon):
    """hvdiagd on work watching a tree. The libevtx reader reads a large export in a child
    process whose file position shows how far it got: the replace-during-read case waits
    on it."""

    def __init__(self, work):
        super().__init__(HVDIAGD, work, os.path.join(SRC, "rules"), daemon="evtx_reader = libevtx\n",
                         watch="pattern = *.evtx *_cluster.log *_cluster.log.1\nrecursive = yes\n")

    def reader_pos(self, path, ino):
        """The offset at which the EVTX reader's child process (a worker's child: it exists
        only once the file is open and its kind checked) reads inode ino at path, or None."""
        pids = subprocess.run(["pgrep", "-f", self.db], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                with open("/proc/%s/stat" % pid) as f:
                    ppid = f.read().rsplit(")", 1)[1].split()[1]
                if ppid not in pids:
                    continue
                fds = "/proc/%s/fd" % pid
                for fd in os.listdir(fds):
                    if os.readlink(os.path.join(fds, fd)) == path and \
                            os.stat(os.path.join(fds, fd)).st_ino == ino:
                        with open("/proc/%s/fdinfo/%s" % (pid, fd)) as info:
                            pos = int(info.readline().split()[1])
                        if pos > 0:
                            return pos
            except (OSError, ValueError, IndexError):
                pass
        return None

    def wait_reading(self, path):
        """Waits until a worker reads the file now at path record by record: its reader's
        child exists and has moved on since first seen."""
        ino = os.stat(path).st_ino
        first = wait_for("a worker is reading the export", lambda: self.reader_pos(path, ino),
                         timeout=300)
        wait_for("and moving on", lambda: (self.reader_pos(path, ino) or first) != first,
                 timeout=300)

    def kill(self):
        """kill -9 of the daemon and of every worker it started."""
        for pid in subprocess.run(["pgrep", "-f", self.db], capture_output=True,
                                  text=True).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def case_replaced_during_a_read_then_kill(root):
    """A 24k-record export is being read, a re-export with 200 more records is renamed over
    it, kill -9 once the first file's checkpoint is committed, restart: the re-export is
    read, and the database holds what reading the re-export alone gives."""
    work = os.path.join(root, "replace-kill")
    d = Daemon(work)
    old, new = evtx(work, "old", 24000), evtx(work, "new", 24200)
    path = os.path.join(d.inbox, "HV-NODE01_System.evtx")
    d.start()
    drop(old, path)
    d.wait_reading(path)
    drop(new, path)
    wait_for("its checkpoint is committed",
             lambda: query(d.db, "SELECT count(*) FROM sources WHERE path = '%s'" % path)[0][0],
             timeout=600)
    d.kill()
    d.start()
    d.idle(1)
    d.stop()
    clean = analyze(work, "clean", [new])
    check("replaced during a read, kill -9, restart: the re-export's diagnoses are all there",
          diagnoses(d.db) == diagnoses(clean) and len(diagnoses(clean)) > 0,
          (len(diagnoses(d.db)), len(diagnoses(clean))))
    check("(and the 200 records make a difference)",
          diagnoses(analyze(work, "old-only", [old])) != diagnoses(clean))
    return d


def case_same_size_and_mtime_while_down(root):
    """A re-export copied over the file read, in place, with the same size and mtime (EVTX
    grows in 64 KiB chunks; cp -p and robocopy keep times), while the daemon is down."""
    work = os.path.join(root, "same-size")
    d = Daemon(work)
    small, big = evtx(work, "small", 30), evtx(work, "big", 40)
    check("the two exports have one size", os.path.getsize(small) == os.path.getsize(big))
    path = os.path.join(d.inbox, "HV-NODE02_System.evtx")
    d.start()
    drop(small, path)
    d.idle(1)
    d.stop()
    st = os.stat(path)
    with open(big, "rb") as src, open(path, "r+b") as dst:
        dst.write(src.read())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    check("same inode, size and mtime", (after.st_ino, after.st_size, after.st_mtime_ns)
          == (st.st_ino, st.st_size, st.st_mtime_ns))
    d.start()
    d.idle(1)
    d.stop()
    clean = analyze(work, "clean", [big])
    check("replaced with the same size and mtime while down: read again, nothing twice",
          diagnoses(d.db) == diagnoses(clean) and diagnoses(clean) != diagnoses(
              analyze(work, "small-only", [small])),
          (diagnoses(d.db), diagnoses(clean)))
    rows = query(d.db, "SELECT fresh, repeated FROM sources WHERE path = '%s'" % path)
    check("its source row counts 10 fresh and 30 repeated events", rows == [(10, 30)], rows)
    return d


def case_late_older_cluster_log(root):
    """b/ (10:00-12:00) then a/ (08:00-10:00) of one node: a is read, not taken for old."""
    work = os.path.join(root, "late-older")
    d = Daemon(work)
    a = os.path.join(d.inbox, "a", "HV-NODE09_cluster.log")
    b = os.path.join(d.inbox, "b", "HV-NODE09_cluster.log")
    d.start()
    write(b, clog_lines(120, 240))
    d.idle(1)
    write(a, clog_lines(0, 121))
    d.idle(2)
    c = os.path.join(d.inbox, "c", "HV-NODE09_cluster.log")
    write(c, clog_lines(100, 200))  # a copy of what was read: a row that says so
    d.idle(3)
    rows = [r for r in ask(d.sock, op="sources")["sources"] if r["path"] in (a, c)]
    check("sources marks the file that brought only repeats",
          sorted((r["path"] == c, r["all_repeats"], r["fresh"]) for r in rows)
          == [(False, False, 120), (True, True, 0)], rows)
    d.stop()
    rows = query(d.db, "SELECT fresh, repeated FROM sources WHERE path = '%s'" % a)
    check("a late older cluster.log export is read (one line shared with the newer)",
          rows == [(120, 1)], rows)
    whole = os.path.join(work, "whole", "HV-NODE09_cluster.log")
    write(whole, clog_lines(0, 240))
    clean = analyze(work, "clean", [whole])
    check("every line counted once, per rule as in one file", per_rule(d.db) == per_rule(clean),
          (per_rule(d.db), per_rule(clean)))
    return d


def case_rotation_while_down(root, new_first):
    """A followed cluster.log is rotated by rename while the daemon is down, with lines it
    had not read yet; the new cluster.log is listed before the rotated one or after it."""
    work = os.path.join(root, "rotate-%s" % ("new-first" if new_first else "old-first"))
    d = Daemon(work)
    log = os.path.join(d.inbox, "HV-NODE09_cluster.log")
    rotated = log + ".1"
    held = os.path.join(work, "held.log")
    d.start()
    write(log, clog_lines(0, 100))
    d.idle(1)
    d.stop()
    write(log, clog_lines(100, 150), "a")  # written while nobody read
    os.rename(log, held if new_first else rotated)
    write(log, clog_lines(150, 200))
    d.start()
    d.idle(1)
    if new_first:
        os.rename(held, rotated)
    d.idle(2)
    d.stop()
    whole = os.path.join(work, "whole", "HV-NODE09_cluster.log")
    write(whole, clog_lines(0, 200))
    clean = analyze(work, "clean", [whole])
    lines = query(d.db, "SELECT sum(n) FROM clog_lines")
    check("rotation while down, %s listed first: every line read once"
          % ("the new file" if new_first else "the rotated file"),
          lines == [(200,)] and per_rule(d.db) == per_rule(clean),
          (lines, per_rule(d.db), per_rule(clean)))
    return d


root = tempfile.mkdtemp(prefix="hvdiagd-identity.")
try:
    for case in (case_replaced_during_a_read_then_kill, case_same_size_and_mtime_while_down,
                 case_late_older_cluster_log, lambda r: case_rotation_while_down(r, True),
                 lambda r: case_rotation_while_down(r, False)):
        before = failures()
        d = case(root)
        if failures() > before:
            print(d.log_tail())
finally:
    for pid in subprocess.run(["pgrep", "-f", root], capture_output=True, text=True).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)

print("daemon identity: all checks passed" if not failures()
      else "daemon identity: %d checks failed" % failures())
sys.exit(1 if failures() else 0)
