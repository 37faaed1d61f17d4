#!/bin/sh
# Builds the Debian package with scripts/build-deb (DEB_BUILD_OPTIONS=nocheck: the suites
# are not built or run again) into a temporary directory and checks the .deb:
#   - lintian finds no error or warning;
#   - its control data: conffiles holds /etc/hvdiag/hvdiag.conf, the maintainer scripts
#     create the hvdiag user and enable hvdiagd.service (dh_installsystemd);
#   - its files: binaries, every rule file of rules/ and the schema, the unit, the
#     configuration and the three man pages, with no sanitizer runtime in the binaries;
#   - that the unit's ExecStart binary and configuration are in the package, and that the
#     packaged hvdiagd accepts the packaged configuration with the packaged rules;
#   - that `cmake --install` of BUILD_DIR (the tree ctest runs in) with prefix /usr installs
#     the same files as the package.
# A missing dpkg-buildpackage is a failure, not a skip: scripts/debian-packages lists it.
# usage: deb_check.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "deb: $*" >&2
    exit 1
}

for tool in dpkg-buildpackage dh dpkg-deb dpkg readelf lintian; do
    command -v "$tool" >/dev/null 2>&1 ||
        fail "$tool not found: install the packages in scripts/debian-packages"
done

# dpkg-buildpackage configures and builds on its own, with dpkg-buildflags. Nothing of the
# calling build may reach it: compiler flags, sanitizer settings, a make jobserver. Its
# temporary tree goes under $tmp too (TMPDIR), so a killed test leaves nothing in /tmp.
mkdir "$tmp/out" "$tmp/t"
if ! env -u CFLAGS -u CPPFLAGS -u CXXFLAGS -u LDFLAGS -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS -u LD_PRELOAD -u DEB_BUILD_PROFILES \
    DEB_BUILD_OPTIONS="nocheck parallel=2" TMPDIR="$tmp/t" \
    sh "$src/scripts/build-deb" "$tmp/out" >"$tmp/build.log" 2>&1; then
    tail -n 40 "$tmp/build.log" >&2
    fail "scripts/build-deb failed (last 40 lines above)"
fi
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
deb=$tmp/out/hvdiag_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "scripts/build-deb made no $(basename "$deb")"
echo "deb: built $(basename "$deb")"

# lintian: errors and warnings fail (informational and pedantic tags do not). It warns on
# stderr when run as root, as CI does.
if ! lintian --fail-on error,warning "$deb" >"$tmp/lintian.out" 2>&1; then
    cat "$tmp/lintian.out" >&2
    fail "lintian reports errors or warnings"
fi

# Control data.
dpkg-deb -I "$deb" >"$tmp/info"
grep -q '^ Package: hvdiag$' "$tmp/info" || fail "package name is not hvdiag"
grep -q '^ Depends:.*adduser' "$tmp/info" || fail "Depends lacks adduser (postinst uses it)"
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/hvdiag/hvdiag.conf "$tmp/control/conffiles" ||
    fail "/etc/hvdiag/hvdiag.conf is not a conffile"
grep -q 'adduser --system' "$tmp/control/postinst" || fail "postinst does not create the user"
grep -q "deb-systemd-helper enable 'hvdiagd.service'" "$tmp/control/postinst" ||
    fail "postinst does not enable hvdiagd.service (dh_installsystemd)"
grep -q 'rm -rf /var/lib/hvdiag' "$tmp/control/postrm" || fail "postrm does not purge state"

# Files.
dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./||' >"$tmp/listing"
for f in usr/bin/hvdiag usr/sbin/hvdiagd usr/share/hvdiag/rules/hvdiag-rules.xsd \
    lib/systemd/system/hvdiagd.service etc/hvdiag/hvdiag.conf \
    usr/share/man/man1/hvdiag.1.gz usr/share/man/man5/hvdiag-rules.5.gz \
    usr/share/man/man8/hvdiagd.8.gz; do
    grep -qx "$f" "$tmp/listing" || fail "not in the package: /$f"
done
for r in "$src"/rules/*.xml; do
    f=usr/share/hvdiag/rules/$(basename "$r")
    grep -qx "$f" "$tmp/listing" || fail "not in the package: /$f"
done

root=$tmp/root
dpkg -x "$deb" "$root"
for b in usr/bin/hvdiag usr/sbin/hvdiagd; do
    [ -x "$root/$b" ] || fail "/$b is not executable"
    if readelf -d "$root/$b" | grep -q 'NEEDED.*lib[a-z]*san'; then
        fail "/$b links a sanitizer runtime: the calling build's flags leaked"
    fi
done
for m in man1/hvdiag.1 man5/hvdiag-rules.5 man8/hvdiagd.8; do
    gzip -dc "$root/usr/share/man/$m.gz" | grep -q '^\.TH ' || fail "$m.gz is not a man page"
done

# The unit starts a binary of the package, with the packaged configuration.
unit=$root/lib/systemd/system/hvdiagd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
# shellcheck disable=SC2086 # split into the program and its arguments
set -- $exec_start
[ -x "$root$1" ] || fail "ExecStart runs $1, which is not in the package"
if [ "${2-}" != -c ] || [ ! -f "$root${3-}" ]; then
    fail "ExecStart does not name a packaged configuration with -c: $exec_start"
fi
conf=$root$3

# The packaged daemon accepts the packaged configuration, pointed at the packaged rules (its
# compiled-in default is /usr/share/hvdiag/rules, which this machine need not have).
sed -e "s|^rules = /|rules = $root/|" -e "s|^database = .*|database = $tmp/hvdiag.db|" \
    "$conf" >"$tmp/hvdiag.conf"
grep -q "^rules = $root/usr/share/hvdiag/rules\$" "$tmp/hvdiag.conf" ||
    fail "the packaged configuration does not read /usr/share/hvdiag/rules"
if ! "$root$1" --check-config -c "$tmp/hvdiag.conf" >"$tmp/check.out" 2>&1; then
    cat "$tmp/check.out" >&2
    fail "the packaged hvdiagd rejects the packaged configuration"
fi
grep -q '^configuration .*: valid ([1-9][0-9]* rules)' "$tmp/check.out" ||
    fail "unexpected --check-config output: $(head -n 1 "$tmp/check.out")"
# The packaged rules pass their own examples with the packaged hvdiag.
if ! "$root/usr/bin/hvdiag" rules test "$root/usr/share/hvdiag/rules" >"$tmp/rules.out" 2>&1; then
    tail -20 "$tmp/rules.out" >&2
    fail "the packaged rules fail their own examples"
fi

# cmake --install (prefix /usr) installs what the package holds. Two differences are
# Debian's, not ours: it passes /etc and /lib/systemd/system as absolute directories,
# where a plain build keeps them relative to the prefix (usr/etc, usr/lib/systemd; /lib is
# /usr/lib on Debian 12). The package adds its copyright and changelog to /usr/share/doc/hvdiag
# and compresses man pages (and larger documents).
if ! DESTDIR="$tmp/inst" cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    fail "cmake --install $build failed"
fi
(cd "$tmp/inst" && find . ! -type d) | sed -e 's|^\./||' -e 's|^usr/etc/|etc/|' \
    -e 's|^usr/lib/systemd/|lib/systemd/|' | sort >"$tmp/cmake.files"
(cd "$root" && find . ! -type d) | sed -e 's|^\./||' \
    -e '/^usr\/share\/doc\/hvdiag\/\(copyright\|changelog[^/]*\)$/d' \
    -e 's|^\(usr/share/man/.*\)\.gz$|\1|' -e 's|^\(usr/share/doc/.*\)\.gz$|\1|' \
    | sort >"$tmp/deb.files"
if ! diff -u "$tmp/cmake.files" "$tmp/deb.files" >"$tmp/layout.diff"; then
    cat "$tmp/layout.diff" >&2
    fail "cmake --install (-) and the package (+) install different files"
fi

echo "deb: $(wc -l <"$tmp/deb.files") files, same layout as cmake --install;" \
    "conffile, unit, user and configuration checked"
