#!/usr/bin/env bash
# A/B comparison of two nfcap builds on one point: CPU per packet (in all and per thread) of
# `nfcap -q 5 --auto-accept -w FILE` (or `-g 7 -w FILE` with MODE=nflog) at a paced rate, runs
# interleaved B A B per round, reader pinned to CPU 1 and sender to CPU 0 as bench/run.sh does.
# For iterating on one change; bench/run.sh measures against the peers.
#
#   sudo bench/ab.sh OLD_NFCAP NEW_NFCAP [ROUNDS]
#   env: MODE=nfqueue|nflog|nflog8 (nfqueue; nflog8: 8 log rules, 8 records per packet),
#        RATE=packets/s (50000; 0 = flat out), N=packets per run (300000)
#
# Example: build the commit before a change in a worktree, then
#   git worktree add /tmp/old HEAD~1 && (cd /tmp/old && cmake --preset release &&
#     cmake --build --preset release --target nfcap)
#   sudo bench/ab.sh /tmp/old/build/release/nfcap build/release/nfcap
#
# Prints one line per run: the label, CPU ticks (1/100 s) of the whole process and of each
# thread while the traffic ran, and nfcap's summary; then the mean per build.
#
# Safety: traffic is UDP over a veth pair between two namespaces created here (documentation
# addresses), bounded in count and time; tests/privileged/lib.sh removes them at exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
[ $# -ge 2 ] || {
  echo "usage: sudo bench/ab.sh OLD_NFCAP NEW_NFCAP [ROUNDS]" >&2
  exit 2
}
OLD=$(realpath "$1")
NEW=$(realpath "$2")
ROUNDS=${3:-2}
MODE=${MODE:-nfqueue}
RATE=${RATE:-50000}
N=${N:-300000}
[ "$(id -u)" -eq 0 ] || {
  echo "ab.sh: needs root (network namespaces, rules)" >&2
  exit 1
}
cmake --preset release -S "$ROOT" >/dev/null
cmake --build --preset release --target nfcap_traffic >/dev/null
export NFCAP="$NEW" NFCAP_TRAFFIC="$ROOT/build/release/tests/nfcap_traffic" NFCAP_SOURCE_DIR="$ROOT"
# shellcheck source=../tests/privileged/lib.sh
source "$ROOT/tests/privileged/lib.sh"
setup_pair
if [ "$MODE" = nflog ] || [ "$MODE" = nflog8 ]; then
  logs=1
  [ "$MODE" = nflog8 ] && logs=8
  {
    echo "table inet ab {"
    echo "  chain prerouting {"
    echo "    type filter hook prerouting priority 0; policy accept;"
    for ((i = 1; i < logs; i++)); do echo "    udp dport 9002 log group 7"; done
    echo "    udp dport 9002 log group 7 drop"
    echo "  }"
    echo "}"
  } >"$WORK/rules.nft"
  nft_b "$WORK/rules.nft"
  args=(-g 7)
else
  in_b iptables -t raw -A PREROUTING -p udp --dport 9002 -j NFQUEUE --queue-num 5
  # An accepted packet goes on at the next hook priority, not at the raw chain's next rule:
  # dropped there, as bench/run.sh drops it, it draws no ICMP port-unreachable, whose cost
  # would land on the thread that gave the verdict.
  {
    echo "table inet ab {"
    echo "  chain after_queue {"
    echo "    type filter hook prerouting priority -250; policy accept;"
    echo "    udp dport 9002 drop"
    echo "  }"
    echo "}"
  } >"$WORK/rules.nft"
  nft_b "$WORK/rules.nft"
  args=(-q 5 --auto-accept)
fi

ticks() { # ticks PID: user+system ticks of each thread, space-separated
  local t
  for t in /proc/"$1"/task/*/stat; do awk '{ printf "%d ", $14 + $15 }' "$t" 2>/dev/null || true; done
}
sum() { local s=0 v; for v in $1; do s=$((s + v)); done; echo "$s"; }

declare -A total=([old]=0 [new]=0) runs=([old]=0 [new]=0)
run() { # run BIN LABEL
  bg_in "$NS_B" taskset -c 1 "$1" "${args[@]}" -w "$WORK/out.pcapng" 2>"$WORK/err"
  local pid=$BG_PID before after i line=""
  sleep 0.7 # bound, and its threads started
  read -r -a before <<<"$(ticks "$pid")"
  in_a taskset -c 0 "$NFCAP_TRAFFIC" udp-send 192.0.2.2 9002 "$N" 64 --rate "$RATE" --batch 64 \
    --timeout 120 >/dev/null
  sleep 0.3
  read -r -a after <<<"$(ticks "$pid")"
  stop_pid "$pid" || true
  for i in "${!after[@]}"; do line+="$((after[i] - ${before[i]:-0})) "; done
  local all
  all=$(sum "$line")
  total[$2]=$((total[$2] + all))
  runs[$2]=$((runs[$2] + 1))
  echo "$2: $all ticks (threads: ${line% }); $(grep 'packets written' "$WORK/err" || echo 'no summary')"
  rm -f "$WORK/out.pcapng"
}
echo "mode $MODE, $N packets at $RATE packets/s per run, $ROUNDS rounds"
for ((r = 0; r < ROUNDS; r++)); do
  run "$NEW" new
  run "$OLD" old
  run "$NEW" new
done
for k in old new; do
  echo "$k: mean $((total[$k] / runs[$k])) ticks per run over ${runs[$k]} runs"
done
