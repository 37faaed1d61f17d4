#!/usr/bin/env python3
"""Prints the cluster.log message regexes of a rule file as POSIX extended regexes for
grep -E -f (named groups become plain groups, escapes PCRE-only are simplified)."""
import re
import sys
import xml.etree.ElementTree as ET

NS = "{urn:hvdiag:rules:1}"
for rule in ET.parse(sys.argv[1]).getroot().iter(NS + "rule"):
    for m in rule.iter(NS + "message"):
        p = re.sub(r"\(\?<[a-z0-9_]+>", "(", m.text)
        p = p.replace("\\d", "[0-9]").replace("\\S", "[^ ]").replace("\\w", "[A-Za-z0-9_]").replace("(?i)", "")
        print(p)
