# Sourced by the shell checks: a private work folder removed at exit, and check(), which
# runs a command, names the check that failed and remembers the failure in $fail.
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
