#!/bin/sh
# The HTML report of each sample bundle, opened in a real headless Chromium: no console
# message, every incident title and every host's timeline lane in the rendered DOM, nothing
# loaded from outside the file, times in the zone asked for; a screenshot of each is left in
# ARTIFACTS for a person to look at. Skipped (77) without Chromium.
# usage: report_check.sh HVDIAG SOURCE_DIR ARTIFACTS
set -u
hvdiag=$1
src=$2
art=$3
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "skipped: chromium is not installed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$art"
cd "$src" || exit 1
fail=0
browse() { # browse HTML OUT_PREFIX: DOM to OUT.dom, console to OUT.log, screenshot to OUT.png
    for what in dom shot; do
        set -- "$1" "$2"
        if [ $what = dom ]; then extra=--dump-dom; else extra="--screenshot=$2.png"; fi
        timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
            --no-first-run --disable-background-networking --disable-component-update \
            --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
            --window-size=1280,2400 --enable-logging=stderr --v=0 $extra "file://$1" \
            >"$2.$what.out" 2>"$2.$what.log"
    done
    mv "$2.dom.out" "$2.dom"
    cat "$2.dom.log" "$2.shot.log" >"$2.log"
}
for b in live-migration-spn unplanned-failover node-removal; do
    zone=utc
    [ $b = unplanned-failover ] && zone=+02:00
    "$hvdiag" analyze --rules rules --db "$work/$b.db" --json --html "$work/$b.html" \
        --time-zone "$zone" "samples/$b" >"$work/$b.json" 2>"$work/$b.err"
    if [ ! -s "$work/$b.html" ]; then
        echo "FAIL: $b: no report written" >&2
        cat "$work/$b.err" >&2
        fail=1
        continue
    fi
    browse "$work/$b.html" "$work/$b"
    cp "$work/$b.png" "$art/report-$b.png" 2>/dev/null
    python3 - "$work/$b.json" "$work/$b.dom" "$work/$b.log" "$work/$b.html" "$work/$b.png" \
        "$zone" <<'PY' || { echo "FAIL: $b" >&2; fail=1; }
import html, json, os, re, sys
from html.parser import HTMLParser

report, dom, log, page, png, zone = sys.argv[1:]
r = json.load(open(report))
d = open(dom, encoding="utf-8").read()
assert "<html" in d and "</html>" in d, "Chromium rendered no page"
console = [l for l in open(log, errors="replace") if ":CONSOLE" in l]
assert not console, "console messages: %s" % console

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text = []
        self.lanes = set()
        self.in_timeline = False
        self.ids = set()
        self.links = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and a.get("class") == "timeline":
            self.in_timeline = True
        if tag == "g" and self.in_timeline and "data-host" in a:
            self.lanes.add(a["data-host"])
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.append(a["href"][1:])
        for k in ("src", "srcset"):
            assert k not in a, "loads %s=%s" % (k, a[k])
        assert not (tag == "link" and a.get("rel") == "stylesheet"), "external stylesheet"
    def handle_endtag(self, tag):
        if tag == "svg":
            self.in_timeline = False
    def handle_data(self, data):
        self.text.append(data)

p = Dom()
p.feed(d)
text = re.sub(r"\s+", " ", "".join(p.text))
assert r["incidents"], "the sample gave no incident"
for inc in r["incidents"]:
    title = re.sub(r"\s+", " ", inc["title"])
    assert text.count(title) >= 2, "title missing (contents and section): %s" % title
    assert ("inc-%d" % inc["id"]) in p.ids, "no section for incident %d" % inc["id"]
    for h in filter(None, inc["hosts"].split(",")):
        assert h.upper() in p.lanes, "no timeline lane for %s (lanes %s)" % (h, sorted(p.lanes))
for target in p.links:
    assert target in p.ids, "link to a missing anchor #%s" % target
raw = open(page, encoding="utf-8").read()
assert "@import" not in raw and "url(" not in raw and "<script" not in raw, "outside resources"
stamps = re.findall(r'<time datetime="([^"]+)"', raw)
assert stamps, "no times"
want = "Z" if zone == "utc" else zone
assert all(s.endswith(want) for s in stamps), (want, set(s[-6:] for s in stamps))
assert os.path.getsize(png) > 20000, "screenshot too small"
PY
done
exit $fail
