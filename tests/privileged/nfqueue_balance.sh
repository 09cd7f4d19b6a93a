#!/usr/bin/env bash
# Several queues at once: `iptables ... --queue-balance 0:3` spreads flows over four queues and
# `nfcap -q 0-3` reads each with its own thread into one file. Every queue gets its own
# interface block, per-queue packet ids stay contiguous and in order, an NFLOG group can share
# the run, and nothing is lost.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos iptables nft taskset
ensure_test_tools
setup_pair

# The flow hash of --queue-balance covers addresses only; --queue-cpu-fanout spreads by the
# CPU that handles the packet, which the senders below choose with taskset.
in_b iptables -A INPUT -p udp --dport 8300 -j NFQUEUE --queue-balance 0:3 --queue-cpu-fanout
cat >"$WORK/log.nft" <<'EOF'
table inet both {
  chain input {
    type filter hook input priority -10; policy accept;
    udp dport 8300 log group 9 prefix "before the queue"
  }
}
EOF
nft_b "$WORK/log.nft"

out="$WORK/balance.pcapng"
bg_in "$NS_B" "$NFCAP" -q 0-3 -g 9 --auto-accept -w "$out" 2>"$WORK/nfcap.err"
cap=$BG_PID
for ((i = 0; i < 100; i++)); do
    [ "$(in_b awk '$1 <= 3' /proc/net/netfilter/nfnetlink_queue | wc -l)" -eq 4 ] && break
    sleep 0.1
done
wait_nflog_bound "$NS_B" 9

# 16 bursts of 50 packets, sent alternately from each CPU.
flows=16
per_flow=50
cpus=$(nproc)
for ((f = 0; f < flows; f++)); do
    in_a taskset -c $((f % cpus)) "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8300 $per_flow 64 >/dev/null
done
sleep 0.5
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"
total=$((flows * per_flow))

capinfos "$out" >"$WORK/capinfos.txt" 2>&1 || fail "capinfos: $(cat "$WORK/capinfos.txt")"
check_eq "interface blocks" 5 "$(grep -c 'Name = nf' "$WORK/capinfos.txt")"
check_eq "statistics blocks" 5 "$(grep -c 'Number of stat entries = 1' "$WORK/capinfos.txt")"
check_eq "NFLOG records" "$total" "$(tshark -r "$out" -Y 'frame.interface_name == "nflog:9"' 2>/dev/null | wc -l)"

busy=0
sum=0
for q in 0 1 2 3; do
    tshark -r "$out" -Y "frame.interface_name == \"nfqueue:$q\"" -T fields -e frame.packet_id 2>/dev/null >"$WORK/ids.$q"
    n=$(wc -l <"$WORK/ids.$q")
    sum=$((sum + n))
    [ "$n" -gt 0 ] && busy=$((busy + 1))
    # In file order, a queue's ids are exactly 1..n: nothing lost, nothing reordered.
    check_eq "ids of nfqueue:$q out of place in file order" 0 "$(awk '$1 != NR' "$WORK/ids.$q" | wc -l)"
    echo "nfqueue:$q carried $n packets"
done
check_eq "packets over all queues" "$total" "$sum"
[ "$busy" -ge 2 ] || [ "$cpus" -lt 2 ] || fail "the flows did not spread: only $busy queue(s) carried packets"
grep -q ", 0 lost, 0 filtered, 0 malformed, $total verdicts, 0 not written" "$WORK/nfcap.err" ||
    fail "summary: $(tail -1 "$WORK/nfcap.err")"
echo "1 passed, 0 failed"
