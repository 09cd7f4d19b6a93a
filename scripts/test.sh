#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite:
#   1. installs the Debian packages (scripts/setup.sh);
#   2. checks formatting with clang-format;
#   3. builds with warnings as errors and runs every test (unit, golden, privileged, Python);
#   4. builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite again;
#   5. builds the libFuzzer targets with clang, runs each on its regression inputs and corpus and
#      fuzzes it for NFCAP_FUZZ_SECONDS (default 60) seconds (tests/fuzz/run.sh).
# Every stage runs even when one before it failed; the end is one summary of what passed,
# failed and was skipped, and the exit status is non-zero if anything failed.
# Needs root for the privileged tests: run as root, or as a user who may sudo (the script then
# runs itself with sudo). Under CI (CI=true) a privileged test that cannot run is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo --preserve-env=CI,NFCAP_FUZZ_SECONDS "$0" "$@"
  fi
  echo "test: the privileged tests need root, and there is no sudo here: run as root" >&2
  exit 1
fi

summary=() # one line per stage
failed=0
stage() { # stage NAME STATUS DETAIL
  local verdict=passed
  [ "$2" -eq 0 ] || {
    verdict=FAILED
    failed=1
  }
  summary+=("$(printf '%-22s %-7s %s' "$1" "$verdict" "$3")")
}

# ctest_stage PRESET: build and run one preset; its line says how many passed, failed, skipped.
ctest_stage() {
  local preset=$1 log rc=0
  log=$(mktemp)
  echo "== build and test: $preset" >&2
  if ! { cmake --preset "$preset" >/dev/null && cmake --build --preset "$preset" -j "$(nproc)"; }; then
    stage "build and test: $preset" 1 "the build failed"
    rm -f "$log"
    return
  fi
  ctest --preset "$preset" -j "$(nproc)" --timeout 600 2>&1 | tee "$log" || rc=$?
  local total failed_n skipped detail
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  failed_n=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .* \((Skipped|Not Run|Disabled)\)' "$log" || true)
  detail="${total:-?} tests: $((${total:-0} - ${failed_n:-0} - skipped)) passed, ${failed_n:-?} failed, $skipped skipped"
  if [ "${failed_n:-1}" -ne 0 ] || [ "$rc" -ne 0 ]; then
    detail+="; failed: $(sed -nE 's/^[[:space:]]*[0-9]+ - (.*) \((Failed|Timeout|SEGFAULT|Exception|Subprocess aborted)\).*/\1/p' "$log" | paste -sd ' ')"
    rc=1
  fi
  if [ "$skipped" -ne 0 ]; then
    detail+="; skipped: $(sed -nE 's/^[[:space:]]*[0-9]+ - (.*) \((Skipped|Not Run|Disabled)\).*/\1/p' "$log" | paste -sd ' ')"
  fi
  stage "build and test: $preset" "$rc" "$detail"
  rm -f "$log"
}

rc=0
scripts/setup.sh || rc=$?
stage "setup" "$rc" "Debian packages (scripts/setup.sh)"
if [ "$rc" -ne 0 ]; then
  # Nothing else can build without the packages.
  printf '\n== summary\n%s\n' "${summary[@]}" >&2
  exit 1
fi

echo "== clang-format" >&2
mapfile -t sources < <(find include src tests samples python -name '*.cpp' -o -name '*.hpp' | sort)
rc=0
clang-format --dry-run --Werror "${sources[@]}" || rc=$?
stage "clang-format" "$rc" "${#sources[@]} files"

for preset in dev asan; do
  ctest_stage "$preset"
done

echo "== fuzz" >&2
rc=0
tests/fuzz/run.sh || rc=$?
stage "fuzz" "$rc" "libFuzzer targets: regression inputs, corpus, ${NFCAP_FUZZ_SECONDS:-60} s each"

{
  echo
  echo "== summary"
  printf '%s\n' "${summary[@]}"
  [ "$failed" -eq 0 ] && echo "everything passed" || echo "something FAILED (see above)"
} >&2
exit "$failed"
