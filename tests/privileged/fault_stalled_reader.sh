#!/usr/bin/env bash
# A reader that never reads: `nfcap ... -w - | sleep`, or a FIFO held open by `sleep`.
#
#   NFQUEUE (-w - into a pipe): the writer is stuck on a full pipe, yet every datagram and ping
#   through the queue gets through (verdicts never wait for the writer); SIGINT stops nfcap
#   within 2 s (it gives up on the reader with one line), status 1, and the summary accounts
#   for every queued packet: written + not written (output failed, output behind) = verdicts
#   = the rules' counter.
#
#   NFLOG (-w FIFO): 40,000 records of 1.4 KB (56 MB) against a reader that takes nothing.
#   nfcap's memory stays bounded (VmRSS sampled throughout, < 100 MiB: the hand-off holds at
#   most 32 MiB), what it could not hand on is counted, and the counts are exact: written +
#   not written (behind, failed) + lost in sequence gaps = the rule's counter. SIGINT stops it
#   within 2 s, status 1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd nft iptables mkfifo
ensure_test_tools
setup_pair

queue=7
group=23
qport=7700
lport=7701
max_rss_kib=$((100 * 1024))
max_stop_ms=2000

cat >"$WORK/rules.nft" <<EOF
table inet stall {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport $lport counter log group $group prefix "stall"
  }
}
EOF
nft_b "$WORK/rules.nft"
# No --queue-bypass: were the queue to stop giving verdicts, traffic would stop.
in_b iptables -A INPUT -s 192.0.2.1 -p udp --dport "$qport" -j NFQUEUE --queue-num "$queue" ||
    fail "iptables refused the NFQUEUE rule"
in_b iptables -A INPUT -s 192.0.2.1 -p icmp --icmp-type echo-request -j NFQUEUE --queue-num "$queue" ||
    fail "iptables refused the ICMP NFQUEUE rule"

queue_counter() { # packets the NFQUEUE rules have queued (UDP + ICMP)
    # shellcheck disable=SC2016 # awk's own fields
    in_b iptables -L INPUT -v -x -n | awk '$3 == "NFQUEUE" { s += $1 } END { print s + 0 }'
}
log_counter() {
    in_b nft list chain inet stall input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$'
}
field() { # field SUMMARY "TEXT": the number before TEXT in the summary line
    sed -n "s/.*[ ,]\([0-9]*\) $2.*/\1/p" <<<"$1"
}
now_ms() { date +%s%3N; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# wait_gone PID TIMEOUT_S: wait until PID (not a child of this shell) has exited.
wait_gone() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        nfcap_lib_is_alive "$1" || return 0
        sleep 0.05
    done
    fail "process $1 still running ${2} s after SIGINT"
}

# --- NFQUEUE into a pipe nobody reads (sleep: the reader that never reads)
# shellcheck disable=SC2216
(
    ip netns exec "$NS_B" "$NFCAP" -q "$queue" --auto-accept -w - 2>"$WORK/queue.err" &
    echo $! >"$WORK/queue.pid"
    rc=0
    wait $! || rc=$?
    echo "$rc" >"$WORK/queue.rc"
) | sleep 120 &
track_pid $!
for ((i = 0; i < 100; i++)); do
    [ -s "$WORK/queue.pid" ] && break
    sleep 0.1
done
cap=$(cat "$WORK/queue.pid")
for ((i = 0; i < 100; i++)); do
    # shellcheck disable=SC2016 # awk's own $1
    in_b awk -v q="$queue" '$1 == q { found = 1 } END { exit !found }' \
        /proc/net/netfilter/nfnetlink_queue 2>/dev/null && break
    sleep 0.1
done
# 30,000 datagrams of 1.4 KB: the pipe (64 KiB) is full after a few dozen, the hand-off
# (32 MiB) after some 23,000; all of them must get through.
n=30000
bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv "$qport" "$n" --timeout 30 >"$WORK/queue.recv"
recv=$BG_PID
wait_port "$NS_B" udp "$qport"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$qport" "$n" 1400 --rate 15000 --timeout 30 >/dev/null ||
    fail "queue: the sender failed"
wait_pid "$recv" 30 || fail "queue: datagrams did not get through: $(cat "$WORK/queue.recv")"
received=$(sed -n 's/^received=\([0-9]*\) .*/\1/p' "$WORK/queue.recv")
check_eq "queue: datagrams received through the queue while the pipe was stalled" "$n" "$received"
in_a ping -c 20 -i 0.05 -W 1 -q 192.0.2.2 >"$WORK/ping.txt" 2>&1 ||
    fail "queue: pings lost while the pipe was stalled: $(cat "$WORK/ping.txt")"
grep -q "20 packets transmitted, 20 received" "$WORK/ping.txt" || fail "queue: $(cat "$WORK/ping.txt")"
nfcap_lib_is_alive "$cap" || fail "queue: nfcap stopped: $(cat "$WORK/queue.err")"
queue_rss=$(rss_kib "$cap")
t0=$(now_ms)
kill -INT "$cap"
wait_gone "$cap" 10
queue_stop_ms=$(($(now_ms) - t0))
for ((i = 0; i < 50; i++)); do
    [ -s "$WORK/queue.rc" ] && break
    sleep 0.1
done
cat "$WORK/queue.err" >&2
check_eq "queue: exit status after giving up on the reader" 1 "$(cat "$WORK/queue.rc")"
[ "$queue_stop_ms" -le "$max_stop_ms" ] || fail "queue: SIGINT took $queue_stop_ms ms to stop nfcap"
echo "ok: queue: SIGINT stopped nfcap in $queue_stop_ms ms"
check_eq "queue: lines about giving up" 1 "$(grep -c "gave up writing to standard output" "$WORK/queue.err")"
grep -q "^nfcap: gave up writing to standard output: nfcap was asked to stop and its reader has taken nothing for [0-9]* ms; stopping$" \
    "$WORK/queue.err" || fail "queue: the give-up line is not the expected one"
summary=$(grep '^nfcap: [0-9]* packets written' "$WORK/queue.err") || fail "queue: no summary line"
written=$(sed -n 's/^nfcap: \([0-9]*\) packets written.*/\1/p' <<<"$summary")
failed=$(field "$summary" "not written (output failed)")
behind=$(field "$summary" "not written (output behind)")
verdicts=$(field "$summary" "verdicts")
total=$(queue_counter)
check_eq "queue: verdicts vs. packets the rules queued" "$total" "$verdicts"
check_eq "queue: written + not written (failed, behind) vs. verdicts" "$verdicts" "$((written + failed + behind))"
[ "$behind" -gt 0 ] || fail "queue: nothing counted as behind although the hand-off must have filled"
queue_line="queue: $total queued ($n datagrams + 20 pings), all got through; SIGINT -> exit 1 in $queue_stop_ms ms; written=$written not_written: failed=$failed behind=$behind; VmRSS before SIGINT ${queue_rss} KiB"
echo "ok: $queue_line"

# --- NFLOG into a FIFO nobody reads
mkfifo "$WORK/fifo"
# shellcheck disable=SC2217 # holds the FIFO open for reading, and never reads
sleep 120 <"$WORK/fifo" &
track_pid $!
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$WORK/fifo" 2>"$WORK/nflog.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
before=$(log_counter)
n=40000
bg_in "$NS_A" "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$lport" "$n" 1400 --rate 20000 --timeout 30 >/dev/null
sender=$BG_PID
max_rss=0
# Sample VmRSS while the stream runs and for 1.5 s after it (bounded: 30 s + 1.5 s).
for ((i = 0; i < 315; i++)); do
    r=$(rss_kib "$cap")
    [ "$r" -gt "$max_rss" ] && max_rss=$r
    if ! nfcap_lib_is_alive "$sender"; then
        [ -z "${done_at:-}" ] && done_at=$i
        [ $((i - done_at)) -ge 15 ] && break
    fi
    sleep 0.1
done
wait_pid "$sender" 5 || fail "nflog: the sender failed"
nfcap_lib_is_alive "$cap" || fail "nflog: nfcap stopped: $(cat "$WORK/nflog.err")"
[ "$max_rss" -le "$max_rss_kib" ] || fail "nflog: VmRSS reached $max_rss KiB (bound $max_rss_kib KiB)"
echo "ok: nflog: VmRSS at most $max_rss KiB while the reader was stalled"
t0=$(now_ms)
kill -INT "$cap"
rc=0
wait_pid "$cap" 10 || rc=$?
nflog_stop_ms=$(($(now_ms) - t0))
cat "$WORK/nflog.err" >&2
check_eq "nflog: exit status after giving up on the reader" 1 "$rc"
[ "$nflog_stop_ms" -le "$max_stop_ms" ] || fail "nflog: SIGINT took $nflog_stop_ms ms to stop nfcap"
echo "ok: nflog: SIGINT stopped nfcap in $nflog_stop_ms ms"
check_eq "nflog: lines about giving up" 1 "$(grep -c "gave up writing to $WORK/fifo" "$WORK/nflog.err")"
summary=$(grep '^nfcap: [0-9]* packets written' "$WORK/nflog.err") || fail "nflog: no summary line"
written=$(sed -n 's/^nfcap: \([0-9]*\) packets written.*/\1/p' <<<"$summary")
failed=$(field "$summary" "not written (output failed)")
behind=$(field "$summary" "not written (output behind)")
read -r lost certainty <<<"$(loss_of "$summary")"
counter=$(($(log_counter) - before))
check_eq "nflog: records the rule logged" "$n" "$counter"
if [ -z "$behind" ] || [ "$behind" -eq 0 ]; then
    fail "nflog: nothing counted as not handed on: $summary"
fi
check_accounting "nflog" "$written" "$summary" "$counter"
nflog_line="nflog: $counter logged into a stalled FIFO: written=$written not_written: failed=$failed behind=$behind lost=$lost ($certainty); max VmRSS $max_rss KiB; SIGINT -> exit 1 in $nflog_stop_ms ms"
echo "ok: $nflog_line"

echo "=== fault_stalled_reader:"
printf '%s\n' "$queue_line" "$nflog_line"
echo "1 passed, 0 failed"
