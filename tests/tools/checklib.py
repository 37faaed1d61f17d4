"""What the Python integration checks share: one line per check, waits with deadlines,
questions to hvdiagd's socket, a real hvdiagd on a folder of its own, a free loopback port. A script imports it from its own
folder (python3 puts that folder on sys.path) and exits with 1 if failures() > 0."""
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time

_failures = 0


def check(what, ok, detail=""):
    """Prints 'ok   what' or 'FAIL what: detail' and counts failures. Returns ok."""
    global _failures
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + str(detail)[:2000]),
          flush=True)
    if not ok:
        _failures += 1
    return ok


def failures():
    return _failures


def wait_for(what, cond, timeout=120.0):
    """Polls cond() until it returns something true, for at most timeout seconds; a
    timeout is a failed check. Errors of a daemon not ready yet count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except (OSError, ValueError, KeyError, TypeError, http.client.HTTPException,
                sqlite3.Error) as e:
            last = e
        time.sleep(0.1)
    check(what, False, "timed out (last: %r)" % (last,))
    return None


def ask(sock, **req):
    """One request line to the daemon's socket; its answer, or None when it closed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(sock)
        s.sendall(json.dumps(req).encode() + b"\n")
        f = s.makefile("rb")
        line = f.readline()
        f.close()
        return json.loads(line) if line else None
    finally:
        s.close()


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as t:
        t.bind(("127.0.0.1", 0))
        return t.getsockname()[1]


class Daemon:
    """A real hvdiagd on a folder of its own: its config, inbox (watched), socket, database
    and log are under work. daemon: more lines of [daemon]; sections: sections written after
    it; watch: the body of [watch incoming] after its path."""
    started = []  # every process started, for kill_all() whatever happened

    def __init__(self, exe, work, rules, daemon="", sections="",
                 watch="pattern = *.evtx *_cluster.log\n"):
        self.exe = exe
        self.work = work
        self.inbox = os.path.join(work, "in")
        os.makedirs(self.inbox, exist_ok=True)
        self.sock = os.path.join(work, "s.sock")
        self.db = os.path.join(work, "d.db")
        self.conf = os.path.join(work, "hvdiag.conf")
        self.log = os.path.join(work, "daemon.log")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write("[daemon]\ndatabase = %s\nrules = %s\nsocket = %s\nlog_level = debug\n"
                    "rescan_interval = 1\nsettle_time = 0\n%s\n%s\n[watch incoming]\npath = %s\n%s"
                    % (self.db, rules, self.sock, daemon, sections, self.inbox, watch))

    def start(self):
        """Starts it and waits until it answers; one that exits at start fails the script."""
        if os.path.exists(self.sock):
            os.remove(self.sock)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.exe, "-c", self.conf], stdout=log, stderr=log)
        Daemon.started.append(self.proc)
        wait_for("daemon answers ping", self.alive)

    def alive(self):
        if self.proc.poll() is not None:
            raise SystemExit("hvdiagd exited at start:\n" + self.log_tail())
        return ask(self.sock, op="ping")["ok"]

    def health(self):
        return ask(self.sock, op="health")

    def idle(self, jobs, timeout=300):
        """Waits until it read files jobs times since it started and has nothing running."""
        def cond():
            h = self.health()
            return h if (not h["busy"] and h["files_ingested"] >= jobs) else None
        return wait_for("daemon reads %d files" % jobs, cond, timeout)

    def stop(self):
        """SIGTERM, then SIGKILL after 60 s; its exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def log_tail(self, n=3000):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""


def kill_all():
    """Kills every process Daemon.started that still runs."""
    for p in Daemon.started:
        if p.poll() is None:
            p.kill()
            p.wait()
