#!/usr/bin/env bash
# A burst of 100,000 small UDP datagrams A->B, sent flat out, through an iptables
# `-j NFQUEUE --queue-num 5` INPUT rule in B (no bypass), tapped by nfcap `-q 5 --auto-accept` at
# default settings. Nothing may be lost anywhere:
#   - the rule's own counter and a later-priority nft counter (what passed the queue) both say
#     100,000; with fail-open, packets the kernel lets through because the queue is full show up
#     only there, so the file must hold every one of them too:
#   - nfcap's file has exactly 100,000 packets, packet ids 1..100,000 (contiguous, distinct);
#   - nfcap's summary: 0 ENOBUFS, 0 lost, 0 not written, 0 dropped by the kernel queue,
#     100,000 verdicts;
#   - the kernel's /proc/net/netfilter/nfnetlink_queue, read while nfcap still runs after the
#     burst: 0 queue_dropped, 0 user_dropped, nothing waiting, id sequence at 100,000.
# The receiver in B is not the oracle (its own socket buffer may overflow); its count is printed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft iptables
ensure_test_tools
setup_pair

queue=5
port=7500
burst=${NFCAP_BURST:-100000}

in_b iptables -A INPUT -s 192.0.2.1 -p udp --dport "$port" -j NFQUEUE --queue-num "$queue" ||
    fail "iptables refused the NFQUEUE rule"
cat >"$WORK/after.nft" <<EOF
table inet after {
  chain input {
    type filter hook input priority 10; policy accept;
    ip saddr 192.0.2.1 udp dport $port counter
  }
}
EOF
nft_b "$WORK/after.nft"

passed_counter() {
    in_b nft list chain inet after input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$'
}
rule_counter() {
    # shellcheck disable=SC2016 # awk's own fields
    in_b iptables -L INPUT -v -x -n | awk -v p="dpt:$port" '$3 == "NFQUEUE" && index($0, p) { print $1 }'
}
# queue_line: this queue's line of /proc/net/netfilter/nfnetlink_queue in B:
# queue portid waiting copy_mode copy_range queue_dropped user_dropped id_sequence 1
queue_line() {
    # shellcheck disable=SC2016 # awk's own $1
    in_b awk -v q="$queue" '$1 == q' /proc/net/netfilter/nfnetlink_queue
}

out="$WORK/burst.pcapng"
bg_in "$NS_B" "$NFCAP" -q "$queue" --auto-accept -w "$out" 2>"$WORK/nfcap.err"
cap=$BG_PID
for ((i = 0; i < 100; i++)); do
    [ -n "$(queue_line)" ] && break
    sleep 0.1
done
[ -n "$(queue_line)" ] || fail "no listener on NFQUEUE queue $queue after 10 s"

bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv "$port" "$burst" --timeout 40 >"$WORK/recv.txt" 2>/dev/null
recv=$BG_PID
wait_port "$NS_B" udp "$port"

start=$(date +%s.%N)
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$port" "$burst" 16 --timeout 40 >"$WORK/sent.txt" ||
    fail "the sender failed: $(cat "$WORK/sent.txt")"
end=$(date +%s.%N)
check_eq "datagrams the sender sent" "sent=$burst" "$(cat "$WORK/sent.txt")"

# Wait (bounded) until every packet has passed the queue or been dropped by it, and nothing
# waits for a verdict.
for ((i = 0; i < 100; i++)); do
    read -r _ _ waiting _ _ dropped user_dropped _ <<<"$(queue_line)"
    [ "$waiting" = 0 ] && [ $(($(passed_counter) + dropped + user_dropped)) -ge "$burst" ] && break
    sleep 0.1
done
settled=$(date +%s.%N)
# The kernel's view, while nfcap still runs.
kline=$(queue_line)
[ -n "$kline" ] || fail "queue $queue lost its listener before nfcap was stopped"
read -r _ _ k_waiting _ _ k_dropped k_user_dropped k_idseq _ <<<"$kline"

rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
wait_pid "$recv" 45 || true # the receiver may have lost datagrams in its own buffer
received=$(sed -n 's/^received=\([0-9]*\) .*/\1/p' "$WORK/recv.txt")

passed=$(passed_counter)
ruled=$(rule_counter)
summary=$(grep '^nfcap: [0-9]* packets written' "$WORK/nfcap.err") || fail "no summary line from nfcap"
field() { sed -n "s/.*[:,] \([0-9]*\) $1.*/\1/p" <<<"$summary"; }
written=$(field "packets written")
enobufs=$(field "kernel drops (ENOBUFS)")
lost=$(field "lost in sequence gaps")
verdicts=$(field "verdicts")
not_written=$(field "not written (output behind)")
kernel_dropped=$(field "dropped by the kernel queue")

frames=$(capinfos -c -M "$out" 2>/dev/null | sed -n 's/^Number of packets: *//p')
tshark -r "$out" -T fields -e frame.packet_id 2>/dev/null | sort -n >"$WORK/ids"
ids_count=$(wc -l <"$WORK/ids")
ids_distinct=$(uniq "$WORK/ids" | wc -l)
ids_min=$(head -1 "$WORK/ids")
ids_max=$(tail -1 "$WORK/ids")

rate=$(awk -v n="$burst" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')
drained=$(awk -v s="$end" -v e="$settled" 'BEGIN { printf "%.2f", e - s }')
echo "nfqueue_burst: sent=$burst in ${elapsed}s (sender ${rate}/s, queue drained ${drained}s after the last send)" \
    "rule_counter=$ruled passed=$passed recorded=$frames ids=$ids_min..$ids_max ($ids_distinct distinct)" \
    "summary: written=$written ENOBUFS=$enobufs lost=$lost verdicts=$verdicts not_written=$not_written kernel_queue_dropped=$kernel_dropped" \
    "kernel: waiting=$k_waiting queue_dropped=$k_dropped user_dropped=$k_user_dropped id_sequence=$k_idseq" \
    "receiver=${received:-?} (not the oracle)"

check_eq "nfcap exit status" 0 "$rc"
check_eq "the NFQUEUE rule's counter" "$burst" "$ruled"
check_eq "datagrams that passed the queue (later nft counter)" "$burst" "$passed"
check_eq "packets in the file" "$burst" "$frames"
check_eq "packets written (summary)" "$burst" "$written"
check_eq "packet ids in the file" "$burst" "$ids_count"
check_eq "distinct packet ids" "$burst" "$ids_distinct"
check_eq "lowest packet id" 1 "$ids_min"
check_eq "highest packet id" "$burst" "$ids_max"
check_eq "verdicts (summary)" "$burst" "$verdicts"
check_eq "ENOBUFS overruns (summary)" 0 "$enobufs"
check_eq "lost in sequence gaps (summary)" 0 "$lost"
check_eq "not written (summary)" 0 "$not_written"
check_eq "dropped by the kernel queue (summary)" 0 "$kernel_dropped"
check_eq "kernel queue_dropped while nfcap ran" 0 "$k_dropped"
check_eq "kernel user_dropped while nfcap ran" 0 "$k_user_dropped"
check_eq "packets waiting for a verdict after the burst" 0 "$k_waiting"
check_eq "kernel packet id sequence" "$burst" "$k_idseq"
echo "1 passed, 0 failed"
