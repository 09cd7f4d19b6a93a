#!/usr/bin/env bash
# Where nfcap's time goes: a perf profile (user and kernel, with call graphs) of nfcap, Release
# build, recording NFLOG at 8 records per packet flat out (400,000 packets, 3.2 M records),
# pinned to CPU 1 as bench/run.sh pins its readers, with the sender on CPU 0.
#
#   sudo bench/profile.sh [OUT]     (default bench/out/profile)
#
# Leaves OUT/perf.data, OUT/report.txt (flat, by symbol) and OUT/callers.txt (with callers),
# and prints nfcap's summary line and the top of the flat report. perf's own sampling slows
# nfcap down, so the run usually loses records: the profile says where time goes, not how fast
# nfcap is (bench/run.sh measures that).
#
# Safety: traffic is UDP over a veth pair between two namespaces created here (documentation
# addresses), bounded in count and time; tests/privileged/lib.sh removes the namespaces and the
# processes started in them when the script ends, also when a step fails.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$HERE/out/profile}
PACKETS=${PROFILE_PACKETS:-400000}
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
cat >"$WORK/rules.nft" <<EOF
table inet profile {
  chain prerouting {
    type filter hook prerouting priority 0; policy accept;
    udp dport 7700 counter log group $group log group $group log group $group log group $group log group $group log group $group log group $group log group $group drop
  }
}
EOF
nft_b "$WORK/rules.nft"

bg_in "$NS_B" taskset -c 1 "$NFCAP" -g "$group" -w "$WORK/out.pcapng" 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
perf record -F 2000 -g -o "$OUT/perf.data" -p "$cap" -- sleep 8 >"$WORK/perf.log" 2>&1 &
perf_pid=$!
sleep 0.5
in_a taskset -c 0 "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7700 "$PACKETS" 64 --timeout 60 >/dev/null
wait "$perf_pid" || { cat "$WORK/perf.log" >&2; fail "perf record failed"; }
rc=0
stop_pid "$cap" || rc=$?
grep '^nfcap: [0-9]* packets written' "$WORK/nfcap.err" || true
echo "records logged: $((8 * $(in_b nft list chain inet profile prerouting | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$')))"
perf report -i "$OUT/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
  grep -v '^#' | grep -v '^$' >"$OUT/report.txt" || true
perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null >"$OUT/callers.txt" || true
head -n 25 "$OUT/report.txt"
echo "profile: $OUT/perf.data, $OUT/report.txt, $OUT/callers.txt (nfcap exit status $rc)"
