#!/usr/bin/env bash
# Where nfcap's time goes: a perf profile (user and kernel, with call graphs) of nfcap, Release
# build, pinned to CPU 1 as bench/run.sh pins its readers, with the sender on CPU 0. By default
# it records NFLOG at 8 records per packet flat out (400,000 packets, 3.2 M records).
#
#   sudo bench/profile.sh [OUT]     (default bench/out/profile)
#   env: PROFILE_MODE=nflog8|nflog|nfqueue (nflog8: 8 log rules, 8 records per packet; nflog: 1;
#        nfqueue: nfcap -q 5 --auto-accept), PROFILE_RATE=packets/s (0, flat out),
#        PROFILE_PACKETS=N (400000)
#
# Leaves OUT/perf.data, OUT/report.txt (flat, by symbol), OUT/callers.txt (with callers) and
# OUT/threads.txt (each thread's share of the samples, its top symbols, and its voluntary
# context switches per 1,000 packets while the traffic ran: the threads are named, see
# docs/ARCHITECTURE.md), and prints nfcap's summary line, the threads and the top of the flat
# report. perf's own sampling slows nfcap down, so a flat-out run may lose records: the profile
# says where time goes, not how fast nfcap is (bench/run.sh measures that).
#
# Safety: traffic is UDP over a veth pair between two namespaces created here (documentation
# addresses), bounded in count and time; tests/privileged/lib.sh removes the namespaces and the
# processes started in them when the script ends, also when a step fails.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$HERE/out/profile}
PACKETS=${PROFILE_PACKETS:-400000}
MODE=${PROFILE_MODE:-nflog8}
RATE=${PROFILE_RATE:-0}
case "$MODE" in
nflog8) logs=8 ;;
nflog) logs=1 ;;
nfqueue) logs=0 ;;
*)
  echo "profile.sh: PROFILE_MODE must be nflog8, nflog or nfqueue, not $MODE" >&2
  exit 2
  ;;
esac
[ "$(id -u)" -eq 0 ] || {
  echo "profile.sh: needs root (network namespaces, nft rules, perf on another process)" >&2
  exit 1
}
"$ROOT/scripts/setup.sh"
cmake --preset release -S "$ROOT" >/dev/null
cmake --build --preset release --target nfcap nfcap_traffic -j "$(nproc)" >/dev/null
export NFCAP="$ROOT/build/release/nfcap" NFCAP_TRAFFIC="$ROOT/build/release/tests/nfcap_traffic"
export NFCAP_SOURCE_DIR="$ROOT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=../tests/privileged/lib.sh
source "$ROOT/tests/privileged/lib.sh"
setup_pair
group=7
port=7700
if [ "$logs" -gt 0 ]; then
  {
    echo "table inet profile {"
    echo "  chain prerouting {"
    echo "    type filter hook prerouting priority 0; policy accept;"
    printf '    udp dport %s counter' "$port"
    for ((i = 0; i < logs; i++)); do printf ' log group %s' "$group"; done
    echo " drop"
    echo "  }"
    echo "}"
  } >"$WORK/rules.nft"
  nft_b "$WORK/rules.nft"
  args=(-g "$group")
else
  in_b iptables -t raw -A PREROUTING -p udp --dport "$port" -j NFQUEUE --queue-num 5
  # An accepted packet goes on at the next hook priority, not at the raw chain's next rule:
  # dropped there, as bench/run.sh drops it, it draws no ICMP port-unreachable, whose cost
  # would land on the thread that gave the verdict.
  {
    echo "table inet profile {"
    echo "  chain after_queue {"
    echo "    type filter hook prerouting priority -250; policy accept;"
    echo "    udp dport $port drop"
    echo "  }"
    echo "}"
  } >"$WORK/rules.nft"
  nft_b "$WORK/rules.nft"
  args=(-q 5 --auto-accept)
fi

switches() { # switches PID: "name voluntary-switches" for each thread
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(cat "$t/comm" 2>/dev/null)" \
      "$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status" 2>/dev/null)"
  done
}

bg_in "$NS_B" taskset -c 1 "$NFCAP" "${args[@]}" -w "$WORK/out.pcapng" 2>"$WORK/nfcap.err"
cap=$BG_PID
if [ "$logs" -gt 0 ]; then
  wait_nflog_bound "$NS_B" "$group"
fi
sleep 0.7 # bound, and its threads started
perf record -F 2000 -g -o "$OUT/perf.data" -p "$cap" -- sleep 8 >"$WORK/perf.log" 2>&1 &
perf_pid=$!
sleep 0.5
switches "$cap" >"$WORK/switches.before"
in_a taskset -c 0 "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$port" "$PACKETS" 64 --rate "$RATE" \
  --batch 64 --timeout 60 >/dev/null
switches "$cap" >"$WORK/switches.after"
wait "$perf_pid" || { cat "$WORK/perf.log" >&2; fail "perf record failed"; }
rc=0
stop_pid "$cap" || rc=$?
grep '^nfcap: [0-9]* packets written' "$WORK/nfcap.err" || true
if [ "$logs" -gt 0 ]; then
  echo "records logged: $((logs * $(in_b nft list chain inet profile prerouting | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$')))"
fi
perf report -i "$OUT/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
  grep -v '^#' | grep -v '^$' >"$OUT/report.txt" || true
perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null >"$OUT/callers.txt" || true
{
  echo "mode $MODE, $PACKETS packets at ${RATE} packets/s (0: flat out)"
  echo
  echo "share of nfcap's samples per thread:"
  perf report -i "$OUT/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' || true
  echo
  echo "voluntary context switches per 1,000 packets while the traffic ran:"
  paste -d' ' "$WORK/switches.before" "$WORK/switches.after" |
    awk -v n="$PACKETS" '{ printf "  %-12s %8.2f\n", $1, ($4 - $2) * 1000 / n }'
  for comm in $(perf report -i "$OUT/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | awk '{ print $2 }'); do
    echo
    echo "top symbols of $comm (share of all samples):"
    perf report -i "$OUT/perf.data" --no-children --comms "$comm" --sort sym --stdio -g none \
      2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 15 || true
  done
} >"$OUT/threads.txt"
sed -n '1,/^top symbols/p' "$OUT/threads.txt" | sed '$d'
head -n 25 "$OUT/report.txt"
echo "profile: $OUT/perf.data, $OUT/report.txt, $OUT/callers.txt, $OUT/threads.txt (nfcap exit status $rc)"
