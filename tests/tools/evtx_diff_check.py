#!/usr/bin/env python3
"""Differential test of the two EVTX decoders.

Reads every .evtx file given (files, or folders searched for *.evtx) with
`hvdiag dump --evtx-reader libevtx` and `--evtx-reader native` and requires, for every
record libevtx decodes, the same event from the native decoder: record id, index, event id,
qualifiers, version, level, task, opcode, keywords, provider name and GUID, time, computer,
channel, user SID, EventRecordID and every named data value. Files libevtx cannot read at
all are only required to open with the native decoder.

  evtx_diff_check.py HVDIAG [--expect FILE=EVENTS ...] [--first-existing] PATH...

--expect NAME=N: the file whose name is NAME must give exactly N events with the native
decoder, each with a non-empty message (forwarded-event exports carry the rendered one).
--first-existing: only the first PATH that exists is read. No EVTX file at all: exit 77
(skipped).
"""
import json
import os
import subprocess
import sys

COMPARED = ("record_id", "index", "event_id", "qualifiers", "version", "level", "task",
            "opcode", "keywords", "provider", "provider_guid", "time", "host", "channel",
            "user_sid", "event_record_id", "fields", "message", "recovered", "rendering")


def dump(hvdiag, reader, path):
    out = subprocess.run([hvdiag, "dump", "--evtx-reader", reader, path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if out.returncode != 0:
        raise RuntimeError("%s reader: hvdiag dump %s exited %d: %s" %
                           (reader, path, out.returncode, out.stderr.decode(errors="replace")))
    events = {}
    for line in out.stdout.decode("utf-8").splitlines():
        ev = json.loads(line)
        events[ev["index"]] = ev
    return events


def int_sign_bug(a, b):
    """libevtx 20181227 prints a negative Int32/Int64 as '-' and the value without its sign
    bit (0x800710DF as -463071): both negative, magnitudes adding up to 2^31 or 2^63."""
    try:
        x, y = int(a), int(b)
    except (TypeError, ValueError):
        return False
    return x < 0 and y < 0 and -(x + y) in (1 << 31, 1 << 63)


def unescaped_xml(a, b):
    """libevtx 20181227 writes a string value that holds XML unescaped into the record's XML,
    so the XML parser sees elements where the value was and the value reads as ''."""
    return a == "" and b.startswith("<") and b.rstrip().endswith(">")


def astral_bug(a, b):
    """libevtx 20181227 decodes a UTF-16 surrogate pair to the wrong character (U+1D11E as
    U+1CD1F): the same text once characters past U+FFFF are masked."""
    def mask(t):
        return "".join("?" if ord(ch) > 0xFFFF else ch for ch in t)
    return isinstance(a, str) and isinstance(b, str) and a != b and mask(a) == mask(b)


def same_fields(a, b, known):
    if a is None or b is None or list(a) != list(b):
        return a == b
    for k in a:
        if a[k] != b[k]:
            if not (int_sign_bug(a[k], b[k]) or unescaped_xml(a[k], b[k]) or
                    astral_bug(a[k], b[k])):
                return False
            known.append(k)
    return True


def same_message(a, b, fields_a, fields_b):
    if a == b:
        return True
    # Without a rendered message, the message joins the non-empty field values: the same
    # known libevtx defects may show in it.
    if not fields_a or not fields_b or list(fields_a) != list(fields_b):
        return False
    la = [v for v in fields_a.values() if v]
    lb = [v for k, v in zip(fields_a, fields_b.values())
          if fields_a[k] and v]
    return ("\n".join(la) == a and "\n".join(v for v in fields_b.values() if v) == b and
            all(x == y or int_sign_bug(x, y) or astral_bug(x, y) for x, y in zip(la, lb)))


def files_of(paths):
    found = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                found += [os.path.join(root, n) for n in names if n.endswith(".evtx")]
        elif os.path.exists(p):
            found.append(p)
    return sorted(found)


def main(argv):
    hvdiag = argv[1]
    expect = {}
    paths = []
    first_existing = False
    i = 2
    while i < len(argv):
        if argv[i] == "--first-existing":
            first_existing = True
            i += 1
        elif argv[i] == "--expect":
            name, n = argv[i + 1].rsplit("=", 1)
            expect[name] = int(n)
            i += 2
        else:
            paths.append(argv[i])
            i += 1
    if first_existing:
        paths = [p for p in paths if os.path.exists(p)][:1]
    files = files_of(paths)
    if not files:
        print("no EVTX files under %s: skipped" % " ".join(paths))
        return 77
    problems = 0
    records = 0
    for path in files:
        ref = dump(hvdiag, "libevtx", path)
        nat = dump(hvdiag, "native", path)
        name = os.path.basename(path)
        bad = 0
        known = []
        for index, ev in sorted(ref.items()):
            other = nat.get(index)
            if other is None:
                print("%s: record %d: libevtx reads it, native does not" % (name, index))
                bad += 1
                continue
            for key in COMPARED:
                if key == "fields" and same_fields(ev.get(key), other.get(key), known):
                    continue
                if key == "message" and same_message(ev.get(key) or "", other.get(key) or "",
                                                     ev.get("fields"), other.get("fields")):
                    continue
                if ev.get(key) != other.get(key):
                    print("%s: record %d: %s differs:\n  libevtx %r\n  native  %r" %
                          (name, index, key, ev.get(key), other.get(key)))
                    bad += 1
            records += 1
        if name in expect:
            want = expect.pop(name)
            if len(nat) != want:
                print("%s: native reads %d events, expected %d" % (name, len(nat), want))
                bad += 1
            empty = [i for i, ev in nat.items() if not ev.get("message")]
            if empty:
                print("%s: %d events without a message (first index %d)" %
                      (name, len(empty), min(empty)))
                bad += 1
        print("%s: %d libevtx events, %d native events, %d differences%s" %
              (name, len(ref), len(nat), bad,
               ", %d values libevtx misrenders (negative integers, XML in strings, U+10000 and up)" % len(known)
               if known else ""))
        problems += bad
    for name in expect:
        print("%s: expected file not found" % name)
        problems += 1
    print("%d files, %d records compared, %d differences" % (len(files), records, problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
