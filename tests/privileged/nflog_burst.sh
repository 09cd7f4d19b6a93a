#!/usr/bin/env bash
# A burst of 100,000 small UDP packets, logged by an nft rule with a counter, recorded by nfcap
# at default settings. Captured + reported lost must equal the rule's counter exactly, and the
# defaults must absorb the burst with no loss at all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark nft
ensure_test_tools
setup_pair

group=7
burst=${NFCAP_BURST:-100000}
cat >"$WORK/rules.nft" <<EOF
table inet burst {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport 7300 counter log group $group prefix "burst"
  }
}
EOF
nft_b "$WORK/rules.nft"

out="$WORK/burst.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$out" 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"

start=$(date +%s.%N)
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7300 "$burst" 16 --timeout 60 >"$WORK/sent.txt"
end=$(date +%s.%N)
check_eq "datagrams the sender sent" "sent=$burst" "$(cat "$WORK/sent.txt")"

# Wait until the file stops growing (the last kernel batch goes out after 10 ms), bounded.
last=-1
for ((i = 0; i < 100; i++)); do
    size=$(stat -c %s "$out")
    [ "$size" -eq "$last" ] && break
    last=$size
    sleep 0.2
done
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"

counter=$(in_b nft list chain inet burst input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$')
summary=$(grep '^nfcap: [0-9]* packets written' "$WORK/nfcap.err")
written=$(sed -n 's/^nfcap: \([0-9]*\) packets written.*/\1/p' <<<"$summary")
enobufs=$(sed -n 's/.*, \([0-9]*\) kernel drops (ENOBUFS).*/\1/p' <<<"$summary")
lost=$(sed -n 's/.*, \([0-9]*\) lost in sequence gaps.*/\1/p' <<<"$summary")
frames=$(tshark -r "$out" -T fields -e frame.number 2>/dev/null | wc -l)

rate=$(awk -v n="$burst" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
echo "burst: rule counter=$counter captured=$frames written=$written lost=$lost ENOBUFS=$enobufs sender_rate=${rate}pps"
check_eq "rule counter" "$burst" "$counter"
check_eq "records in the file vs. nfcap's summary" "$written" "$frames"
check_eq "captured + reported lost vs. the rule counter" "$counter" "$((frames + lost))"
check_eq "records lost at default settings" 0 "$lost"
check_eq "ENOBUFS overruns at default settings" 0 "$enobufs"

# --- loss is data: a paused reader with a tiny buffer loses records, and nfcap reports exactly
# how many (sequence gaps), each gap in the epb_dropcount of the next packet.
before=$(in_b nft list chain inet burst input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$')
out2="$WORK/lossy.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$out2" --rcvbuf 4096 2>"$WORK/lossy.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
kill -STOP "$cap"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7300 20000 16 --timeout 30 >/dev/null
kill -CONT "$cap"
sleep 0.3
# Records after the gap reveal it (a loss at the very end could not be seen by any reader).
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7300 10 16 --rate 100 >/dev/null
sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/lossy.err" >&2
check_eq "nfcap exit status with loss" 0 "$rc"
counter=$(($(in_b nft list chain inet burst input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$') - before))
summary=$(grep '^nfcap: [0-9]* packets written' "$WORK/lossy.err")
lost=$(sed -n 's/.*, \([0-9]*\) lost in sequence gaps.*/\1/p' <<<"$summary")
enobufs=$(sed -n 's/.*, \([0-9]*\) kernel drops (ENOBUFS).*/\1/p' <<<"$summary")
frames=$(tshark -r "$out2" -T fields -e frame.number 2>/dev/null | wc -l)
dropcounts=$(tshark -r "$out2" -T fields -e frame.drop_count 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
echo "lossy: rule counter=$counter captured=$frames lost=$lost ENOBUFS=$enobufs dropcount_sum=$dropcounts"
[ "$lost" -gt 0 ] || fail "expected loss with a 4 KiB buffer and a paused reader"
[ "$enobufs" -gt 0 ] || fail "expected ENOBUFS to be reported"
check_eq "captured + reported lost vs. the rule counter (lossy)" "$counter" "$((frames + lost))"
check_eq "sum of epb_dropcount vs. reported loss" "$lost" "$dropcounts"
echo "1 passed, 0 failed"
