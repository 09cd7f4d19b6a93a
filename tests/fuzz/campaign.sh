#!/usr/bin/env bash
# The long fuzzing campaign: RUNS executions (default 10,000,000) of each libFuzzer target on
# both cores at the lowest priority: fuzz_replay, the slow one, in the background; the three
# others one after another beside it. Each keeps its corpus in build/fuzz/campaign/<target>
# (a second campaign goes on from there), logs to build/fuzz/campaign/<target>.log and saves a
# failing input as build/fuzz/campaign/<target>-crash-* etc. At the end it prints, per target,
# the executions, the rate, the corpus and whether libFuzzer found anything; exit status 1 if it
# did. Usage: tests/fuzz/campaign.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10000000}
build=build/fuzz
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target fuzz_nflog_decode fuzz_nfqueue_decode \
  fuzz_replay fuzz_comment nfcap_fuzz_extract_records >/dev/null
tests/fuzz/make_corpus.sh "$build/tests/fuzz/nfcap_fuzz_extract_records" "$build/seeds"
unset NFCAP_FUZZ_KNOWN

campaign() { # TARGET MAX_LEN
  local dir=$build/campaign/$1 rc=0
  mkdir -p "$dir"
  nice -n 19 "$build/tests/fuzz/$1" -runs="$runs" -max_len="$2" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir-" "$dir" "$build/seeds/$1" \
    >"$dir.log" 2>&1 || rc=$?
  echo "exit=$rc" >>"$dir.log"
}
echo "fuzz campaign: $runs executions per target; logs in $build/campaign/" >&2
campaign fuzz_replay 65536 &
replay=$!
campaign fuzz_comment 4096
campaign fuzz_nfqueue_decode 65536
campaign fuzz_nflog_decode 65536
wait "$replay"

found=0
printf '| target | executions | exec/s | corpus | result |\n|---|---|---|---|---|\n'
for t in fuzz_nflog_decode fuzz_nfqueue_decode fuzz_replay fuzz_comment; do
  log=$build/campaign/$t.log
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  corpus=$(find "$build/campaign/$t" -type f | wc -l)
  if grep -q '^exit=0$' "$log"; then
    result="no finding"
  else
    result="FINDING: $(grep -m1 -E 'ERROR|nfcap fuzz check failed|deadly signal' "$log" || echo "exit $(sed -n 's/^exit=//p' "$log")")"
    found=1
  fi
  printf '| %s | %s | %s | %s inputs | %s |\n' "$t" "${n:-?}" "${rate:-?}" "$corpus" "$result"
done
exit "$found"
