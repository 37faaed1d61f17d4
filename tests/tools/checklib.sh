# Sourced by the shell checks: a private work folder removed at exit, and check(), which
# runs a command, names the check that failed and remembers the failure in $fail;
# need_samples, which stops a check whose sample bundles are missing.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...
    what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what" >&2
        fail=1
    fi
}
need_samples() { # need_samples BUNDLE...: exits 1 unless each samples/BUNDLE exists
    for s in "$@"; do
        test -d "samples/$s" || { echo "FAIL: samples/$s is missing" >&2; exit 1; }
    done
}
