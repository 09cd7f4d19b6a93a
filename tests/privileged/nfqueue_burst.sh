#!/usr/bin/env bash
# A burst of 100,000 small UDP datagrams A->B, sent flat out, through an iptables
# `-j NFQUEUE --queue-num 5` INPUT rule in B (no bypass), tapped by nfcap `-q 5 --auto-accept` at
# default settings. A slow build may fall behind and lose packets, but never silently:
#   - the rule's own counter and a later-priority nft counter (what passed the queue) both say
#     100,000 (fail-open lets through what the socket could not take);
#   - nfcap's file holds distinct packet ids within 1..id_sequence, and written + not written +
#     lost (which nfcap must call exact) = the rule's counter; the kernel's id_sequence in
#     /proc/net/netfilter/nfnetlink_queue = written + not written + lost as well;
#   - the default queue length is above what the socket buffer holds: queue_dropped stays 0,
#     and no packet passes without an id;
#   - exit status 0 without loss, 4 with it.
# Then a burst larger than the queue: with --queue-maxlen 64 and fail-open, nfcap warns that
# packets may pass uncounted and calls its loss "at least"; with --no-fail-open the kernel drops
# and counts them, and written + lost is exact again. And a paused reader at the default queue
# length with a 256 KiB buffer: the socket overflows, packets pass with ids nfcap never sees,
# and the ids the kernel handed out after the last one received make the count exact.
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
summary=$(summary_of "$WORK/nfcap.err")
[ -n "$summary" ] || fail "no summary line from nfcap"
written=$(summary_field "$summary" "packets written")
read -r lost certainty <<<"$(loss_of "$summary")"
verdicts=$(summary_field "$summary" "verdicts")
not_written=$(summary_field "$summary" "not written (output behind)")

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
    "summary: written=$written lost=$lost ($certainty) verdicts=$verdicts not_written=$not_written" \
    "kernel: waiting=$k_waiting queue_dropped=$k_dropped user_dropped=$k_user_dropped id_sequence=$k_idseq" \
    "receiver=${received:-?} (not the oracle)"

if [ "$lost" -eq 0 ] && [ "$not_written" -eq 0 ]; then
    check_eq "nfcap exit status without loss" 0 "$rc"
else
    check_eq "nfcap exit status with loss" 4 "$rc"
fi
check_eq "the NFQUEUE rule's counter" "$burst" "$ruled"
check_eq "datagrams that passed the queue (later nft counter)" "$burst" "$passed"
check_eq "loss at the default queue length is exact" exact "$certainty"
check_eq "packets in the file" "$written" "$frames"
check_eq "packet ids in the file" "$frames" "$ids_count"
check_eq "distinct packet ids" "$frames" "$ids_distinct"
[ "$frames" -eq 0 ] || [ "$ids_min" -ge 1 ] && [ "${ids_max:-0}" -le "$k_idseq" ] ||
    fail "packet ids $ids_min..$ids_max outside 1..$k_idseq"
check_eq "verdicts (summary) vs. written + not written" "$verdicts" "$((written + not_written))"
check_accounting "default queue" "$written" "$summary" "$ruled"
check_eq "the kernel's id sequence vs. written + not written + lost" "$k_idseq" "$((written + not_written + lost))"
check_eq "kernel queue_dropped (the queue never filled)" 0 "$k_dropped"
check_eq "packets waiting for a verdict after the burst" 0 "$k_waiting"

# --- a burst larger than the queue ---
small_burst=20000
for mode in fail-open no-fail-open paused; do
    before=$(rule_counter)
    flags=(--queue-maxlen 64)
    [ "$mode" = no-fail-open ] && flags+=(--no-fail-open)
    # The default queue length with a small socket buffer: the socket overflows first, and the
    # ids handed out after the last packet received are counted from /proc at the end.
    [ "$mode" = paused ] && flags=(--rcvbuf 256K)
    err="$WORK/small-$mode.err"
    bg_in "$NS_B" "$NFCAP" -q "$queue" --auto-accept "${flags[@]}" -w "$WORK/small-$mode.pcapng" 2>"$err"
    cap=$BG_PID
    for ((i = 0; i < 100; i++)); do
        [ -n "$(queue_line)" ] && break
        sleep 0.1
    done
    [ -n "$(queue_line)" ] || fail "$mode: no listener on NFQUEUE queue $queue after 10 s"
    kill -STOP "$cap" # the queue fills at once
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$port" "$small_burst" 16 --timeout 40 >/dev/null ||
        fail "$mode: the sender failed"
    kill -CONT "$cap"
    sleep 0.5
    rc=0
    stop_pid "$cap" || rc=$?
    cat "$err" >&2
    queued=$(($(rule_counter) - before))
    summary=$(summary_of "$err")
    written=$(summary_field "$summary" "packets written")
    frames=$(capinfos -c -M "$WORK/small-$mode.pcapng" 2>/dev/null | sed -n 's/^Number of packets: *//p')
    check_eq "$mode: packets in the file vs. the summary" "$written" "$frames"
    read -r lost certainty <<<"$(loss_of "$summary")"
    echo "$mode: queued=$queued written=$written lost=$lost ($certainty) status=$rc"
    if [ "$mode" = paused ]; then
        check_eq "paused reader: the loss is exact" exact "$certainty"
        after=$(summary_field "$summary" "after the last packet received")
        [ "${after:-0}" -gt 0 ] || fail "paused reader: nothing counted after the last packet received"
        check_accounting "paused reader, default queue length" "$written" "$summary" "$queued"
        check_eq "paused reader: exit status with loss" 4 "$rc"
        stats=$(python3 "$NFCAP_SOURCE_DIR/tests/tools/pcapng_statistics.py" "$WORK/small-$mode.pcapng")
        grep -q "^nfqueue:$queue ifrecv=$queued ifdrop=$lost .* comment=$lost lost (.*after the last packet received.*); exact$" <<<"$stats" ||
            fail "paused reader: the statistics block does not say '$lost lost ... exact': $stats"
    elif [ "$mode" = fail-open ]; then
        grep -q "^nfcap: NFQUEUE queue $queue: with fail-open and a queue length of 64 .* pass uncounted" "$err" ||
            fail "fail-open with a short queue: no warning that packets may pass uncounted"
        check_eq "fail-open with a short queue: the loss is a lower bound" at-least "$certainty"
        check_accounting "fail-open, queue length 64" "$written" "$summary" "$queued"
        [ "$written" -lt "$queued" ] || fail "fail-open: the short queue let nothing pass ($written of $queued written)"
    else
        grep -q "pass uncounted" "$err" && fail "no-fail-open: a warning about uncounted packets"
        check_eq "no-fail-open: the loss is exact" exact "$certainty"
        dropped=$(summary_field "$summary" "dropped by the kernel queue")
        [ "${dropped:-0}" -gt 0 ] || fail "no-fail-open: the kernel dropped nothing from a queue of 64"
        check_accounting "no-fail-open, queue length 64" "$written" "$summary" "$queued"
        check_eq "no-fail-open: exit status with loss" 4 "$rc"
    fi
done
echo "1 passed, 0 failed"
