# shellcheck shell=bash
# What the unprivileged shell tests share. Source it after `set -euo pipefail`:
#   $work     a temporary directory, removed when the script exits
#   fail MSG  prints "FAIL: MSG" on stderr and exits 1
#   ok MSG    prints "ok: MSG" and counts it in $passed (scripts end with "$passed passed, 0 failed")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() {
    echo "ok: $*"
    passed=$((passed + 1))
}
