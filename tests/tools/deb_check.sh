#!/bin/sh
# Builds the Debian package from the checkout (scripts/build-deb, tests not rerun) and checks
# what it holds: binaries where the unit looks for them, the rules and their schema, the
# unit, the configuration as a conffile, the man pages; that the packaged daemon accepts the
# packaged configuration and rules; and that lintian finds no error. dpkg-buildpackage,
# debhelper and lintian come with scripts/setup: a missing one fails the test.
# usage: deb_check.sh SOURCE_DIR
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "deb: $*" >&2
    exit 1
}
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (scripts/setup installs it)"
done
# The package build uses its own flags: nothing of the sanitizer run leaks into it.
if ! env -u ASAN_OPTIONS -u UBSAN_OPTIONS DEB_BUILD_OPTIONS="nocheck parallel=2" \
    "$src/scripts/build-deb" "$tmp/dist" >"$tmp/build.log" 2>&1; then
    tail -40 "$tmp/build.log" >&2
    fail "scripts/build-deb failed"
fi
deb=$(ls "$tmp"/dist/hvdiag_*_*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/contents"
for f in /usr/bin/hvdiag /usr/sbin/hvdiagd /usr/share/hvdiag/rules/hvdiag-rules.xsd \
    /usr/share/hvdiag/rules/hyperv-vmms.xml /usr/share/hvdiag/rules/correlations.xml \
    /lib/systemd/system/hvdiagd.service /etc/hvdiag/hvdiag.conf \
    /usr/share/man/man1/hvdiag.1.gz /usr/share/man/man5/hvdiag-rules.5.gz \
    /usr/share/man/man8/hvdiagd.8.gz /usr/share/doc/hvdiag/copyright; do
    grep -qx "$f" "$tmp/contents" || fail "not in the package: $f"
done
# Every shipped rule file is in it.
for r in "$src"/rules/*.xml; do
    grep -qx "/usr/share/hvdiag/rules/$(basename "$r")" "$tmp/contents" ||
        fail "rule file not packaged: $(basename "$r")"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/hvdiag/hvdiag.conf ||
    fail "/etc/hvdiag/hvdiag.conf is not a conffile"
for script in postinst postrm; do
    dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -qx "./$script" || fail "no $script"
done
dpkg-deb -f "$deb" Depends | grep -q adduser || fail "Depends lacks adduser (postinst needs it)"

dpkg -x "$deb" "$tmp/root"
root=$tmp/root
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/lib/systemd/system/hvdiagd.service")
[ -x "$root$exec_start" ] || fail "the unit starts $exec_start, which the package lacks"
# The packaged daemon with the packaged configuration, its paths moved into the extraction.
sed -e "s|^rules = .*|rules = $root/usr/share/hvdiag/rules|" \
    -e "s|^database = .*|database = $tmp/hvdiag.db|" \
    -e "s|^socket = .*|socket = $tmp/hvdiag.sock|" \
    "$root/etc/hvdiag/hvdiag.conf" >"$tmp/hvdiag.conf"
"$root/usr/sbin/hvdiagd" -c "$tmp/hvdiag.conf" --check-config >"$tmp/check.log" 2>&1 || {
    cat "$tmp/check.log" >&2
    fail "the packaged hvdiagd refuses the packaged configuration"
}
"$root/usr/bin/hvdiag" rules test "$root/usr/share/hvdiag/rules" >"$tmp/rules.log" 2>&1 || {
    tail -20 "$tmp/rules.log" >&2
    fail "the packaged rules fail their own examples"
}
# lintian: errors fail, warnings are shown.
rc=0
lintian --allow-root "$deb" >"$tmp/lintian.log" 2>&1 || rc=$?
cat "$tmp/lintian.log"
if [ "$rc" -gt 1 ]; then
    fail "lintian could not run (status $rc)"
fi
if [ "$rc" -ne 0 ] || grep -q '^E:' "$tmp/lintian.log"; then
    fail "lintian reports errors"
fi
echo "deb: $(basename "$deb") builds and holds $(wc -l <"$tmp/contents") entries"
