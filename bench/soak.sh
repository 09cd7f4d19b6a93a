#!/usr/bin/env bash
# Soak: a long live capture at a steady rate, watching nfcap's memory and descriptors.
#
#   sudo bench/soak.sh [SECONDS] [OUT]     (default 600 s, output bench/out/soak)
#
# nfcap records an NFLOG group and an NFQUEUE queue (--auto-accept) at once, into a ring of
# files (-b filesize, so files are opened, closed and removed all along), while a sender in a
# second namespace offers RATE UDP packets per second to each for SECONDS. Every 10 s the script
# samples nfcap's VmRSS, VmHWM, open descriptors and threads from /proc. It prints the samples
# and a verdict: after the warm-up (the first fifth of the run, at least a minute: buffers grow
# to their working size), RSS may not grow by more than 2 MiB and the descriptor count may not
# change. Raw samples go to OUT/soak.csv, the summary to OUT/soak.md. Exit status 0 flat, 1
# growth or failure.
#
# Safety: traffic is UDP over a veth pair between two namespaces created here (documentation
# addresses); the sender is bounded in count and time; a trap removes the namespaces and the
# processes started in them, also when a step fails.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SECONDS_TOTAL=${1:-600}
OUT=${2:-$HERE/out/soak}
RATE=${SOAK_RATE:-20000} # packets per second to each of NFLOG and NFQUEUE
GROUP=7
QUEUE=5
[ "$(id -u)" -eq 0 ] || {
  echo "soak.sh: needs root (network namespaces, nft and iptables rules)" >&2
  exit 1
}
case $SECONDS_TOTAL in
'' | *[!0-9]*)
  echo "soak.sh: SECONDS must be a whole number of seconds, got '$SECONDS_TOTAL'" >&2
  exit 2
  ;;
esac
[ "$SECONDS_TOTAL" -ge 120 ] || {
  echo "soak.sh: SECONDS must be at least 120 (the first minute is warm-up)" >&2
  exit 2
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NS_A=nfcap-soak-a-$$
NS_B=nfcap-soak-b-$$
NAMESPACES=()
W=$(mktemp -d "$OUT/work.XXXXXX")
cleanup() {
  local rc=$? ns pids
  trap - EXIT INT TERM
  set +e
  for ns in "${NAMESPACES[@]}"; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null && sleep 2
    pids=$(ip netns pids "$ns" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null || echo "cleanup: could not delete namespace $ns" >&2
  done
  rm -rf -- "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
say() { echo "[$(date +%T)] $*"; }

say "build (preset release)"
"$ROOT/scripts/setup.sh"
(cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release >/dev/null)
NFCAP=$ROOT/build/release/nfcap
TRAFFIC=$ROOT/build/release/tests/nfcap_traffic

for ns in "$NS_A" "$NS_B"; do
  ip netns add "$ns"
  NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
done
ip link add soaka netns "$NS_A" type veth peer name soakb netns "$NS_B"
ip -n "$NS_A" addr add 192.0.2.1/24 dev soaka
ip -n "$NS_B" addr add 192.0.2.2/24 dev soakb
ip -n "$NS_A" link set soaka up
ip -n "$NS_B" link set soakb up
ip netns exec "$NS_B" nft -f - <<RULES
table inet soak {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    udp dport 9001 counter log group $GROUP prefix "soak" drop
  }
  chain after_queue {
    type filter hook prerouting priority 0; policy accept;
    udp dport 9002 counter drop
  }
}
RULES
ip netns exec "$NS_B" iptables -t raw -A PREROUTING -p udp --dport 9002 -j NFQUEUE --queue-num $QUEUE
ip netns exec "$NS_A" ping -c 1 -W 2 192.0.2.2 >/dev/null 2>&1 || true

say "nfcap: NFLOG group $GROUP and NFQUEUE queue $QUEUE into a ring of 20 files of 10 MB"
ip netns exec "$NS_B" "$NFCAP" -g $GROUP -q $QUEUE --auto-accept --quiet \
  -b filesize:10000 -b files:20 -w "$W/soak.pcapng" 2>"$W/nfcap.err" &
cap=$!
sleep 1
kill -0 "$cap" 2>/dev/null || {
  cat "$W/nfcap.err" >&2
  echo "soak.sh: nfcap did not start" >&2
  exit 1
}

count=$((RATE * SECONDS_TOTAL))
limit=$((SECONDS_TOTAL + 60))
say "traffic: $RATE packets/s to each of NFLOG and NFQUEUE for ${SECONDS_TOTAL}s"
senders=()
for port in 9001 9002; do
  ip netns exec "$NS_A" timeout "$limit" "$TRAFFIC" udp-send 192.0.2.2 "$port" "$count" 64 \
    --rate "$RATE" --batch 16 --timeout "$limit" >"$W/send.$port" 2>&1 &
  senders+=($!)
done

echo "t_s,rss_kb,hwm_kb,fds,threads" >"$OUT/soak.csv"
status_of() { sed -n "s/^$1:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$cap/status"; }
start=$(date +%s)
while :; do
  now=$(($(date +%s) - start))
  kill -0 "$cap" 2>/dev/null || {
    cat "$W/nfcap.err" >&2
    echo "soak.sh: nfcap ended early" >&2
    exit 1
  }
  fds=$(find "/proc/$cap/fd" -mindepth 1 -maxdepth 1 | wc -l)
  echo "$now,$(status_of VmRSS),$(status_of VmHWM),$fds,$(status_of Threads)" >>"$OUT/soak.csv"
  [ "$now" -ge "$SECONDS_TOTAL" ] && break
  sleep 10
done
for pid in "${senders[@]}"; do wait "$pid" || echo "soak.sh: a sender failed: $(cat "$W"/send.*)" >&2; done
sleep 1
kill -TERM "$cap"
rc=0
wait "$cap" || rc=$?
summary=$(tail -1 "$W/nfcap.err")
logged=$(ip netns exec "$NS_B" nft list table inet soak | awk '/dport 9001 counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
passed=$(ip netns exec "$NS_B" nft list table inet soak | awk '/dport 9002 counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')

verdict=0
python3 - "$OUT/soak.csv" "$SECONDS_TOTAL" "$RATE" "$rc" "$summary" "${logged:-?}" "${passed:-?}" \
  >"$OUT/soak.md" <<'PY' || verdict=$?
import csv, sys
path, seconds, rate, rc, summary, logged, passed = sys.argv[1:]
rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(open(path))]
# Warm-up: the first fifth of the run, at least a minute (batches and buffers grow to their
# working size, and the hand-off's free list fills at the pace of the bursts).
warmup = max(60, int(seconds) // 5)
warm = [r for r in rows if r["t_s"] >= warmup]
first, last = warm[0], warm[-1]
growth = last["rss_kb"] - first["rss_kb"]
fds = sorted({r["fds"] for r in warm})
flat = growth <= 2048 and len(fds) == 1 and rc == "0"
print(f"# nfcap soak: {seconds} s at {rate} packets/s to NFLOG and to NFQUEUE\n")
print("| t (s) | VmRSS (MiB) | VmHWM (MiB) | open fds | threads |")
print("|---|---|---|---|---|")
for r in rows:
    if r["t_s"] % 60 < 10 or r is rows[-1]:
        print(f"| {r['t_s']} | {r['rss_kb'] / 1024:.1f} | {r['hwm_kb'] / 1024:.1f} | {r['fds']} | {r['threads']} |")
print()
print(f"- RSS from t={first['t_s']} s to t={last['t_s']} s: {first['rss_kb'] / 1024:.1f} -> "
      f"{last['rss_kb'] / 1024:.1f} MiB ({growth:+d} KiB); peak (VmHWM) {last['hwm_kb'] / 1024:.1f} MiB")
print(f"- open descriptors after warm-up: {', '.join(map(str, fds))}")
print(f"- rule counters: NFLOG rule {logged} packets, passed the queue {passed}")
print(f"- nfcap exit status {rc}; {summary}")
print(f"- verdict: {'FLAT' if flat else 'GROWTH OR FAILURE'}")
sys.exit(0 if flat else 1)
PY
[ -s "$OUT/soak.md" ] || verdict=1
cat "$OUT/soak.md"
exit "$verdict"
