#!/bin/sh
# The configuration keys hvdiagd accepts (the daemon_keys, output_keys and watch_keys tables of
# lib/config.c) are exactly those hvdiagd(8) describes under CONFIGURATION and those the
# packaged hvdiag.conf sets or shows commented out ("#key = value"): none missing, none
# extra.
# usage: config_keys_check.sh SOURCE_DIR
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# The quoted names in 'static const char *const NAME[] = { ... };'.
table() {
    awk -v start="static const char *const $1[] = {" '
        index($0, start) == 1 { on = 1 }
        on { print }
        on && /};/ { exit }' "$src/lib/config.c" | grep -o '"[a-z_]*"' | tr -d '"' | sort -u
}
# The '.TP' '.B key' items of one .SS subsection of the man page's CONFIGURATION.
man_keys() {
    awk -v sec="$1" '
        /^\.SH / { inconf = ($0 ~ /^\.SH CONFIGURATION/); insec = 0 }
        /^\.SS / { insec = inconf && index($0, sec) > 0 }
        insec && prev == ".TP" && /^\.B [a-z_]+$/ { print $2 }
        { prev = $0 }' "$src/packaging/man/hvdiagd.8" | sort -u
}
# Keys of hvdiag.conf, set or commented out, in [daemon] (before any other header),
# [outputs] or after the first [watch] header.
conf_keys() {
    awk -v want="$1" '
        BEGIN { s = "daemon" }
        /^#?\[outputs\]/ { s = "outputs" }
        /^#?\[watch / { s = "watch" }
        /^#?[a-z_]+ = / { k = $1; sub(/^#/, "", k); if (s == want) print k }
    ' "$src/packaging/hvdiag.conf" | sort -u
}
compare() { # what, accepted keys file, documented keys file
    if ! diff -u "$2" "$3" >"$tmp/diff"; then
        echo "config keys: $1 differs from lib/config.c (-: accepted, +: documented):" >&2
        cat "$tmp/diff" >&2
        status=1
    fi
}

table daemon_keys >"$tmp/daemon"
table watch_keys >"$tmp/watch"
table output_keys >"$tmp/outputs"
if [ ! -s "$tmp/daemon" ] || [ ! -s "$tmp/watch" ] || [ ! -s "$tmp/outputs" ]; then
    echo "config keys: daemon_keys/watch_keys/output_keys tables not found in lib/config.c" >&2
    exit 1
fi
man_keys '[daemon]' >"$tmp/man.daemon"
man_keys '[watch NAME]' >"$tmp/man.watch"
man_keys '[outputs]' >"$tmp/man.outputs"
conf_keys daemon >"$tmp/conf.daemon"
conf_keys watch >"$tmp/conf.watch"
conf_keys outputs >"$tmp/conf.outputs"
compare "hvdiagd.8 [daemon]" "$tmp/daemon" "$tmp/man.daemon"
compare "hvdiagd.8 [watch NAME]" "$tmp/watch" "$tmp/man.watch"
compare "hvdiag.conf [daemon]" "$tmp/daemon" "$tmp/conf.daemon"
compare "hvdiag.conf [watch]" "$tmp/watch" "$tmp/conf.watch"
compare "hvdiagd.8 [outputs]" "$tmp/outputs" "$tmp/man.outputs"
compare "hvdiag.conf [outputs]" "$tmp/outputs" "$tmp/conf.outputs"
[ "$status" -eq 0 ] && echo "config keys: $(cat "$tmp/daemon" "$tmp/watch" "$tmp/outputs" | wc -l) keys," \
    "all in hvdiagd.8 and hvdiag.conf"
exit "$status"
