#!/usr/bin/env bash
# The Python modules on a real kernel: pytest (Debian's python3-pytest, for /usr/bin/python3)
# runs tests/python inside namespace B of a veth pair made here, importing the modules from the
# build tree; every rule a test adds lives in B (or A) and goes with them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd iptables /usr/bin/python3
[ -n "${NFCAP_PYTHON_DIR:-}" ] || fail "NFCAP_PYTHON_DIR is not set (run through ctest)"
/usr/bin/python3 -c 'import pytest' 2>/dev/null || fail "pytest for /usr/bin/python3 is missing (scripts/setup.sh installs python3-pytest)"
setup_pair
tests="${NFCAP_SOURCE_DIR}/tests/python"
# A sanitized build's module: its runtimes go first (ASan must come before every other library).
# Leak checking is off: the interpreter keeps its objects to the end on purpose.
sanitized=()
if [ -n "${NFCAP_PYTHON_PRELOAD:-}" ]; then
  sanitized=(LD_PRELOAD="$NFCAP_PYTHON_PRELOAD" ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
  echo "python: the sanitized module, with $NFCAP_PYTHON_PRELOAD preloaded"
fi
rc=0
in_b env "${sanitized[@]}" PYTHONPATH="$NFCAP_PYTHON_DIR:$tests" NS_A="$NS_A" \
    NFCAP_PY_SENDER="$tests/sender.py" PYTHONDONTWRITEBYTECODE=1 timeout 300 /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    -o "cache_dir=$WORK" --durations=5 "$tests" || rc=$?
[ "$rc" -eq 0 ] || fail "pytest exit status $rc"
echo "python: every test passed"
