#!/usr/bin/env python3
"""'hvdiag analyze --json' writes its report as the store answers, never holding it whole.

A generated EVTX export with hundreds of incidents is analysed once into a database; then
the table and the JSON report are printed from that database (the file is already read, so
both runs do the same ingest work) and their peak RSS compared. A report built whole costs
at least its own size again (the jansson tree is larger than its text); streamed, the JSON
run stays within a few MiB of the table's. The report must be big enough for the difference
to show, so the check cannot pass on a small one.

usage: json_stream_check.py HVDIAG EVTXGEN SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

EVENTS = 200000
MIN_REPORT = 8 << 20  # bytes: a whole report would add at least this to the peak
# Under AddressSanitizer freed memory waits in a quarantine (256 MiB) that would count in
# the peak of the run that frees more; the sizes compared here are live memory.
ENV = dict(os.environ)
ENV["ASAN_OPTIONS"] = ":".join(x for x in (ENV.get("ASAN_OPTIONS"), "quarantine_size_mb=0") if x)


def run(argv, out):
    """Runs argv with stdout to the file out; returns (exit code, peak RSS in bytes)."""
    with open(out, "wb") as f:
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.DEVNULL, env=ENV)
        _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, usage.ru_maxrss * 1024


def main():
    hvdiag, evtxgen, src = sys.argv[1:4]
    rules = os.path.join(src, "rules")
    with tempfile.TemporaryDirectory() as work:
        xml = os.path.join(work, "events.xml")
        evtx = os.path.join(work, "events.evtx")
        db = os.path.join(work, "a.db")
        subprocess.run([sys.executable, os.path.join(src, "bench", "gen_events.py"), str(EVENTS),
                        xml], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([evtxgen, xml, evtx], check=True, stdout=subprocess.DEVNULL)
        os.unlink(xml)
        base = [hvdiag, "analyze", "--db", db, "--rules", rules, evtx]
        rc, _ = run(base, os.path.join(work, "first.txt"))
        if rc not in (0, 1):
            print(f"FAIL: analyze exited {rc}", file=sys.stderr)
            return 1
        rc_t, table = run(base, os.path.join(work, "table.txt"))
        out = os.path.join(work, "report.json")
        rc_j, whole = run(base + ["--json"], out)
        size = os.path.getsize(out)
        print(f"table peak {table >> 10} KiB, --json peak {whole >> 10} KiB, "
              f"report {size >> 10} KiB")
        fail = 0
        if rc_j != rc_t:
            print(f"FAIL: --json exited {rc_j}, the table {rc_t}", file=sys.stderr)
            fail = 1
        if size < MIN_REPORT:
            print(f"FAIL: the report is {size} bytes, too small to tell", file=sys.stderr)
            fail = 1
        with open(out, "rb") as f:
            doc = json.load(f)
        if len(doc["incidents"]) < 100 or not doc["incidents"][0]["diagnoses"]:
            print("FAIL: the report lacks its incidents", file=sys.stderr)
            fail = 1
        if whole - table > size // 2:
            print(f"FAIL: --json peaks {(whole - table) >> 10} KiB above the table "
                  f"(report {size >> 10} KiB): held whole?", file=sys.stderr)
            fail = 1
        # a report that cannot be written is an error named on stderr, not a crash
        if os.path.exists("/dev/full"):
            with open("/dev/full", "wb") as full:
                r = subprocess.run(base + ["--json"], stdout=full, stderr=subprocess.PIPE,
                                   env=ENV)
            if r.returncode != 2 or b"cannot write the report" not in r.stderr:
                print(f"FAIL: --json to /dev/full exited {r.returncode}: {r.stderr!r}",
                      file=sys.stderr)
                fail = 1
        return fail


if __name__ == "__main__":
    sys.exit(main())
