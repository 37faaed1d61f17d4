#!/usr/bin/python3
"""Reads an EVTX file with python-evtx (Debian python3-evtx) as a second, independent reader.

usage: pyevtx_check.py FILE COUNT[:ID,ID,...]
Checks the file and chunk checksums, the record count, the event ids in order when given,
and random access to the last record from a fresh file object. Exit 0 when all hold.
"""
import re
import sys

import Evtx.Evtx as evtx


def main():
    path, spec = sys.argv[1], sys.argv[2]
    count, _, ids = spec.partition(":")
    want_ids = [int(x) for x in ids.split(",")] if ids else None
    with evtx.Evtx(path) as f:
        header = f.get_file_header()
        if not header.verify():
            sys.exit("%s: file header does not verify" % path)
        for chunk in header.chunks():
            if not chunk.verify():
                sys.exit("%s: a chunk does not verify" % path)
        records = list(f.records())
        if len(records) != int(count):
            sys.exit("%s: %d records, expected %s" % (path, len(records), count))
        if want_ids is not None:
            got = [int(re.search(r"<EventID[^>]*>(\d+)<", r.xml()).group(1)) for r in records]
            if got != want_ids:
                sys.exit("%s: event ids %s, expected %s" % (path, got, want_ids))
    with evtx.Evtx(path) as f:
        last = f.get_record(int(count))
        if last is None or last.record_num() != int(count):
            sys.exit("%s: random access to record %s failed" % (path, count))
    print("%s: %s records verified by python-evtx" % (path, count))


if __name__ == "__main__":
    main()
