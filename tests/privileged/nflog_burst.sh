#!/usr/bin/env bash
# A burst of 100,000 small UDP packets, logged by an nft rule with a counter, recorded by nfcap
# at default settings. Captured + reported lost must equal the rule's counter when nfcap calls
# its count exact, and stay below it when it says "at least" (a slow build may lose records,
# never silently); zero loss at default settings is a benchmark target (bench/), not a test.
# Then a paused reader with a tiny buffer, twice: with records after the pause (the sequence
# gaps show every loss: exact, each gap in the next packet's epb_dropcount) and without (the loss
# after the last record shows in no gap: "at least", in the summary and the statistics block).
# Exit status 4 with loss, 0 with --no-loss-status; a replay of the lossy session counts the
# records missing from it and exits 4 too. Last, 8 records per packet flat out into a 1 MiB
# buffer: overflow mid-stream and at the end, and the count must still hold.
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
    ip saddr 192.0.2.1 udp dport 7301 counter log group $group log group $group log group $group log group $group log group $group log group $group log group $group log group $group drop
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

counter=$(in_b nft list chain inet burst input | grep -o 'counter packets [0-9]*' | head -n 1 | grep -o '[0-9]*$')
summary=$(summary_of "$WORK/nfcap.err")
written=$(summary_field "$summary" "packets written")
read -r lost certainty <<<"$(loss_of "$summary")"
frames=$(tshark -r "$out" -T fields -e frame.number 2>/dev/null | wc -l)

rate=$(awk -v n="$burst" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
echo "burst: rule counter=$counter captured=$frames written=$written lost=$lost ($certainty) sender_rate=${rate}pps"
if [ "$lost" -eq 0 ] && [ "$certainty" = exact ]; then
    check_eq "nfcap exit status without loss" 0 "$rc"
else
    check_eq "nfcap exit status with loss" 4 "$rc"
fi
check_eq "rule counter" "$burst" "$counter"
check_eq "records in the file vs. nfcap's summary" "$written" "$frames"
check_accounting "burst at default settings" "$frames" "$summary" "$counter"

counter_now() {
    in_b nft list chain inet burst input | grep -o 'counter packets [0-9]*' | head -n 1 | grep -o '[0-9]*$'
}

# --- loss is data: a paused reader with a tiny buffer loses records. With records after the
# pause, the gaps show every one: exact, each gap in the epb_dropcount of the next packet.
before=$(counter_now)
out2="$WORK/lossy.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$out2" --rcvbuf 4096 --record-netlink "$WORK/lossy.netlink.pcapng" \
    2>"$WORK/lossy.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
kill -STOP "$cap"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7300 20000 16 --timeout 30 >/dev/null
kill -CONT "$cap"
sleep 0.3
# Records after the gap reveal it.
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7300 10 16 --rate 100 >/dev/null
sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/lossy.err" >&2
counter=$(($(counter_now) - before))
summary=$(summary_of "$WORK/lossy.err")
read -r lost certainty <<<"$(loss_of "$summary")"
gaps=$(summary_field "$summary" "in sequence gaps")
frames=$(tshark -r "$out2" -T fields -e frame.number 2>/dev/null | wc -l)
dropcounts=$(tshark -r "$out2" -T fields -e frame.drop_count 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
echo "lossy: rule counter=$counter captured=$frames lost=$lost ($certainty) gaps=${gaps:-0} dropcount_sum=$dropcounts"
check_eq "nfcap exit status with loss" 4 "$rc"
[ "$lost" -gt 0 ] || fail "expected loss with a 4 KiB buffer and a paused reader"
check_eq "loss shown by later records" exact "$certainty"
check_accounting "paused reader, records after the pause" "$frames" "$summary" "$counter"
check_eq "sum of epb_dropcount vs. reported loss" "$lost" "$dropcounts"
stats=$(python3 "$NFCAP_SOURCE_DIR/tests/tools/pcapng_statistics.py" "$out2")
echo "statistics block: $stats"
grep -q "^nflog:$group ifrecv=$counter ifdrop=$lost .* comment=$lost lost (.*); exact$" <<<"$stats" ||
    fail "the statistics block does not say '$lost lost ... exact': $stats"

# A replay of that session (its netlink messages, sequence numbers included) shows the same gaps:
# records missing from the recording, exit status 4.
rc=0
"$NFCAP" -r "$WORK/lossy.netlink.pcapng" -w "$WORK/replayed.pcapng" 2>"$WORK/replay.err" || rc=$?
cat "$WORK/replay.err" >&2
check_eq "replay of a recording with gaps: exit status" 4 "$rc"
grep -q "^nfcap: $frames packets written, .*, $lost missing in sequence gaps (lost when the recording was made)" \
    "$WORK/replay.err" || fail "the replay does not count the recording's gaps: $(cat "$WORK/replay.err")"

# --- without records after the pause, the loss after the last record shows in no gap: nfcap
# says "at least" (the kernel's count of dropped batches), everywhere it reports the loss.
before=$(counter_now)
out3="$WORK/tail.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$out3" --rcvbuf 64K --json --no-loss-status 2>"$WORK/tail.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
kill -STOP "$cap"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7300 3000 100 --timeout 30 >/dev/null
sleep 0.3 # the kernel's flush timer (10 ms) sends its last batch into the full buffer: dropped
kill -CONT "$cap"
sleep 0.5
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/tail.err" >&2
# JSON lines have no link type: the start line does not speak of one.
grep -q "^nfcap: recording nflog:$group to $out3 (one JSON object per packet, snaplen 262144)$" "$WORK/tail.err" ||
    fail "JSON output's start line: $(head -1 "$WORK/tail.err")"
counter=$(($(counter_now) - before))
summary=$(summary_of "$WORK/tail.err")
read -r lost certainty <<<"$(loss_of "$summary")"
written=$(summary_field "$summary" "packets written")
records=$(grep -c '"time"' "$out3" || true)
echo "paused to the end: rule counter=$counter written=$written lost=$lost ($certainty)"
check_eq "exit status with --no-loss-status" 0 "$rc"
check_eq "JSON records vs. the summary" "$written" "$records"
[ "$written" -lt "$counter" ] || fail "a 64 KiB buffer and a paused reader lost nothing ($written of $counter)"
check_eq "loss after the last record" at-least "$certainty"
[ "$lost" -gt 0 ] || fail "the lower bound is 0 although batches were dropped: $summary"
check_accounting "paused reader to the end" "$written" "$summary" "$counter"
grep -q "^nfcap: nflog:$group: loss is a lower bound: the socket buffer overflowed (ENOBUFS)" "$WORK/tail.err" ||
    fail "no line saying why the loss is a lower bound"
python3 - "$out3" "$lost" <<'PY' || fail "the JSON statistics do not say the loss is a lower bound"
import json, sys
stats = [json.loads(l)["statistics"] for l in open(sys.argv[1]) if l.startswith('{"statistics"')]
assert len(stats) == 1, stats
s = stats[0]
assert s["lost"] == int(sys.argv[2]) and s["lost_exact"] is False, s
assert s["loss"].startswith("at least ") and "a lower bound" in s["loss"], s
print("ok: JSON statistics:", s["loss"])
PY
# --- overflow in the middle and at the end of a stream: 8 records per packet flat out into a
# 1 MiB buffer. Whatever nfcap reports must hold against the rule counter: exact means equal,
# "at least" means no more than it (a lower bound that overshoots would be a false count).
before=$(in_b nft list chain inet burst input | grep -o 'counter packets [0-9]*' | tail -n 1 | grep -o '[0-9]*$')
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$WORK/x8.pcapng" --rcvbuf 1M 2>"$WORK/x8.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7301 100000 16 --timeout 30 >/dev/null
sleep 1
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/x8.err" >&2
after=$(in_b nft list chain inet burst input | grep -o 'counter packets [0-9]*' | tail -n 1 | grep -o '[0-9]*$')
logged=$((8 * (after - before)))
summary=$(summary_of "$WORK/x8.err")
written=$(summary_field "$summary" "packets written")
echo "x8 into 1 MiB: logged=$logged summary: $summary (status $rc)"
check_accounting "8 records per packet into a 1 MiB buffer" "$written" "$summary" "$logged"
echo "1 passed, 0 failed"
