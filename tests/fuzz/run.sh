#!/usr/bin/env bash
# Builds and runs the libFuzzer targets:
#   1. configures and builds preset "fuzz" (clang, libFuzzer, ASan + UBSan) in build/fuzz;
#   2. makes the seed corpora from the samples (make_corpus.sh) in build/fuzz/seeds;
#   3. for each target: runs every committed regression input (regressions/<target>/) once,
#      replays the seeds and the inputs earlier runs kept (build/fuzz/corpus/<target>), then
#      fuzzes for NFCAP_FUZZ_SECONDS seconds (default 60) with a per-target -max_len.
# A crash, leak, timeout (10 s per input) or failed check fails the target; libFuzzer saves the
# input in build/fuzz/artifacts/<target>/. Every target runs; the script fails at the end if
# any failed. Usage: tests/fuzz/run.sh [TARGET...] (default: all four).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${NFCAP_FUZZ_SECONDS:-60}
unset NFCAP_FUZZ_KNOWN # every open finding fails here (see regressions/README.md)
all=(fuzz_nflog_decode fuzz_nfqueue_decode fuzz_replay fuzz_comment)
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=("${all[@]}"); fi
# Largest input tried: a netlink record carries at most 64 KiB of attributes, and a recording
# of that size already holds hundreds of records; comments are one line.
declare -A max_len=([fuzz_nflog_decode]=65536 [fuzz_nfqueue_decode]=65536 [fuzz_replay]=65536
                    [fuzz_comment]=4096)
for t in "${targets[@]}"; do
  if [ -z "${max_len[$t]:-}" ]; then
    echo "fuzz: unknown target $t (one of: ${all[*]})" >&2
    exit 2
  fi
done

build=build/fuzz
echo "== fuzz: build (preset fuzz)" >&2
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}" nfcap_fuzz_extract_records
tests/fuzz/make_corpus.sh "$build/tests/fuzz/nfcap_fuzz_extract_records" "$build/seeds"

failed=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/$t
  corpus=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/artifacts/$t.log
  regressions=tests/fuzz/regressions/$t
  mkdir -p "$corpus" "$artifacts"
  common=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/")

  mapfile -t fixtures < <(find "$regressions" -type f ! -name '*.md' 2>/dev/null | sort)
  echo "== fuzz: $t: ${#fixtures[@]} regression inputs, then the corpus" >&2
  still_failing=0
  for fixture in "${fixtures[@]}"; do
    if ! "$bin" "${common[@]}" "$fixture" >"$log" 2>&1; then
      echo "fuzz: $t FAILED on regression input $fixture:" >&2
      grep -E '^(nfcap fuzz check failed|==[0-9]+==ERROR|SUMMARY|terminate|  what)' "$log" >&2 || true
      still_failing=$((still_failing + 1))
    fi
  done
  if [ "$still_failing" -gt 0 ]; then
    failed+=("$t")
    continue # fuzzing would only find the same bugs again
  fi
  if ! "$bin" "${common[@]}" -runs=0 "$corpus" "$build/seeds/$t" >"$log" 2>&1; then
    grep -v '^ *#[0-9]* 0x' "$log" | tail -n 30 >&2
    echo "fuzz: $t FAILED replaying its corpus (log: $log, input in $artifacts/)" >&2
    failed+=("$t")
    continue
  fi

  echo "== fuzz: $t: ${seconds} s, -max_len=${max_len[$t]}" >&2
  if ! "$bin" "${common[@]}" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
      -print_final_stats=1 "$corpus" "$build/seeds/$t" >"$log" 2>&1; then
    grep -v '^ *#[0-9]* 0x' "$log" | tail -n 30 >&2
    echo "fuzz: $t FAILED (log: $log, input in $artifacts/)" >&2
    failed+=("$t")
    continue
  fi
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 >&2 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" >&2 || true
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed" >&2
