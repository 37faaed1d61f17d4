#!/bin/sh
# Installs a build into a temporary DESTDIR and checks what packages rely on: the installed
# layout, that the installed hvdiag accepts the installed rules, that the default
# configuration agrees with the systemd unit, the man pages (groff warnings), that
# hvdiag-rules(5) covers every element of rules/FORMAT.md, and the unit (systemd-analyze
# verify). Checks whose tool is missing are skipped with a message.
# usage: packaging_check.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "packaging: $*" >&2
    exit 1
}

# A prefix inside DESTDIR: even a build configured with absolute directories (Debian's
# /etc) installs inside $tmp.
prefix=/opt/hvdiag
if ! DESTDIR="$tmp/d" cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    fail "cmake --install failed"
fi
p="$tmp/d$prefix"
# The path of an installed file: under the prefix, or under DESTDIR for an absolute dir.
installed() {
    if [ -f "$p/$1" ]; then
        echo "$p/$1"
    elif [ -f "$tmp/d/$1" ]; then
        echo "$tmp/d/$1"
    else
        fail "not installed: $1"
    fi
}
for f in bin/hvdiag sbin/hvdiagd; do
    [ -x "$p/$f" ] || fail "not installed or not executable: $f"
done
for f in share/man/man1/hvdiag.1 share/man/man5/hvdiag-rules.5 share/man/man8/hvdiagd.8 \
    share/hvdiag/rules/hvdiag-rules.xsd; do
    installed "$f" >/dev/null
done
nrules=$(find "$p/share/hvdiag/rules" -name '*.xml' | wc -l)
[ "$nrules" -gt 0 ] || fail "no rule files in share/hvdiag/rules"
unit=$(installed lib/systemd/system/hvdiagd.service)
conf=$(installed etc/hvdiag/hvdiag.conf)

"$p/bin/hvdiag" rules check "$p/share/hvdiag/rules" >"$tmp/rules.out" 2>&1 ||
    { cat "$tmp/rules.out" >&2; fail "the installed hvdiag rejects the installed rules"; }

# The configuration and the unit name the same places.
unit_get() { sed -n "s/^$1=//p" "$unit" | head -n 1; }
conf_get() { sed -n "s/^$1[ ]*=[ ]*//p" "$conf" | head -n 1; }
state=$(unit_get StateDirectory)
runtime=$(unit_get RuntimeDirectory)
confdir=$(unit_get ConfigurationDirectory)
case "$(unit_get ExecStart)" in
"/usr/sbin/hvdiagd -c /etc/$confdir/hvdiag.conf") ;;
*) fail "ExecStart does not read /etc/$confdir/hvdiag.conf: $(unit_get ExecStart)" ;;
esac
[ "$(dirname "$(conf_get database)")" = "/var/lib/$state" ] ||
    fail "database $(conf_get database) is not in StateDirectory /var/lib/$state"
[ "$(dirname "$(conf_get socket)")" = "/run/$runtime" ] ||
    fail "socket $(conf_get socket) is not in RuntimeDirectory /run/$runtime"
[ "$(conf_get rules)" = /usr/share/hvdiag/rules ] || fail "rules is not /usr/share/hvdiag/rules"
grep -q '^\[watch ' "$conf" || fail "the default configuration watches nothing"

if command -v groff >/dev/null 2>&1; then
    for m in "$p"/share/man/man*/*; do
        out=$(groff -man -Tutf8 -ww -z "$m" 2>&1)
        [ -z "$out" ] || fail "$m: $out"
    done
else
    echo "groff not installed: man pages not linted"
fi

# Every element FORMAT.md names (`<event-id>`...) is described in hvdiag-rules(5).
sed 's/\\-/-/g' "$p/share/man/man5/hvdiag-rules.5" >"$tmp/rules5"
for e in $(grep -o '`<[A-Za-z][a-z-]*' "$src/rules/FORMAT.md" | cut -c2- | sort -u); do
    grep -qF "$e" "$tmp/rules5" || fail "hvdiag-rules.5 does not describe $e (rules/FORMAT.md does)"
done

if command -v systemd-analyze >/dev/null 2>&1 && [ -x /bin/kill ]; then
    # The unit as installed, pointed at the installed daemon; man pages are checked above.
    mkdir "$tmp/unit"
    sed "s#/usr/sbin/hvdiagd#$p/sbin/hvdiagd#" "$unit" >"$tmp/unit/hvdiagd.service"
    # It reports unknown or malformed settings as warnings with status 0: any output fails.
    if ! out=$(systemd-analyze verify --man=no "$tmp/unit/hvdiagd.service" 2>&1) ||
        [ -n "$out" ]; then
        fail "systemd-analyze verify: $out"
    fi
else
    echo "systemd-analyze not available: unit not verified"
fi
echo "packaging: layout, configuration, man pages and unit checked"
