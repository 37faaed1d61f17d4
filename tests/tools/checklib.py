"""What the Python integration checks share: one line per check, waits with deadlines,
questions to hvdiagd's socket, a free loopback port. A script imports it from its own
folder (python3 puts that folder on sys.path) and exits with 1 if failures() > 0."""
import http.client
import json
import socket
import sqlite3
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
