#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite:
#   1. installs the Debian packages (scripts/setup.sh);
#   2. checks formatting with clang-format;
#   3. builds with warnings as errors and runs every test (unit, golden, privileged, Python);
#   4. builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs the suite again;
#   5. builds the libFuzzer targets with clang, runs each on its regression inputs and corpus and
#      fuzzes it for NFCAP_FUZZ_SECONDS (default 60) seconds (tests/fuzz/run.sh).
# Privileged tests need root (CAP_NET_ADMIN); without it they report SKIP, except under CI
# (CI=true), where a privileged test that cannot run is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== clang-format" >&2
mapfile -t sources < <(find include src tests samples python -name '*.cpp' -o -name '*.hpp' | sort)
clang-format --dry-run --Werror "${sources[@]}"

jobs=$(nproc)
for preset in dev asan; do
  echo "== build and test: $preset" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" --timeout 600
done

echo "== fuzz" >&2
tests/fuzz/run.sh
