#!/usr/bin/env bash
# Held packets and deferred verdicts on a real kernel, through the library (QueueSource) as an
# embedding program uses it (tests/tools/queue_hold.cpp):
#  - 200 packets held, then accepted from a second thread in reverse order with a mark: all
#    arrive, in reverse order, and a later rule sees the mark;
#  - 100 held, every other one dropped: the receiver gets exactly the others;
#  - UDP payloads rewritten longer and a TCP payload rewritten inside an open connection: the
#    receivers read the new bytes, and tshark finds every checksum of the rewritten packets good
#    (recorded by nfcap from an NFLOG rule after the queue);
#  - holding more packets than the queue's default length allows raises the length, so none
#    passes uncounted; a length the program set is kept and its loss count becomes a bound;
#  - the deadline's fallback fires and is counted; verdicts for bad ids are refused cleanly;
#  - a program that stops while holding packets gives them the fallback: they arrive, and no
#    packet stays queued;
#  - the pull API (QueueReader::next, LogReader::next) and a program that reads the socket
#    itself and feeds each datagram (QueueSource::feed);
#  - two NFLOG groups on one source, each with its own handler, one unbound alone;
#  - overrun policies: raise makes receive() throw, disable keeps the kernel from reporting
#    (the drop counter still counts);
#  - a socket made in the namespace and adopted by a program outside it decides that
#    namespace's packets (QueueConfig::socket);
#  - the recording of a live capture shows every decision: at once, later with a mark, a
#    rewrite (the new bytes as a second record with the same packet id), the deadline's
#    fallback; tshark and the Lua plugin read them;
#  - the sample samples/deferred_verdicts.cpp does what it says.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark iptables nft /usr/bin/python3
ensure_test_tools
[ -x "${NFCAP_QUEUE_HOLD:-}" ] || fail "NFCAP_QUEUE_HOLD is not set (run through ctest)"
PEER=(/usr/bin/python3 "${NFCAP_SOURCE_DIR:-$NFCAP_LIB_DIR/../..}/tests/tools/queue_peer.py")
setup_pair

in_b iptables -t mangle -A INPUT -p udp --dport 8301 -j NFQUEUE --queue-num 7
in_b iptables -t mangle -A INPUT -p tcp --dport 8302 -j NFQUEUE --queue-num 7
in_b iptables -t mangle -A INPUT -p udp --dport 9 -j NFQUEUE --queue-num 7
in_b iptables -t mangle -A INPUT -p udp --dport 8305 -j NFQUEUE --queue-num 8
in_b iptables -t mangle -A INPUT -p udp --dport 8306 -j NFQUEUE --queue-num 9
cat >"$WORK/after.nft" <<'EOF'
table inet after {
  chain input {
    type filter hook input priority 10; policy accept;
    udp dport 8301 meta mark 0x33 counter
    udp dport 8301 counter
    udp dport 8301 log group 31
    tcp dport 8302 log group 31
    udp dport 8303 log prefix "pulled" group 32
    udp dport 8304 log group 33
    udp dport 8301 meta mark 0x1 counter
    udp dport 8305 counter
    udp dport 8306 counter
  }
}
EOF
nft_b "$WORK/after.nft"
counter() { # counter N: packets counted by the Nth counter of the later chain
    in_b nft list chain inet after input | grep -o 'counter packets [0-9]*' | sed -n "${1}p" | grep -o '[0-9]*$'
}
queue_listed() { in_b awk '$1 == 7 { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue; }
wait_queue() {
    local i
    for ((i = 0; i < 100; i++)); do
        queue_listed && return 0
        sleep 0.1
    done
    fail "queue 7 has no listener"
}
field() { sed -n "s/^$1=//p" "$2"; }
# wait_unbound N OUT ERR: until the program printed "unbound N" (at most 10 s), else fail.
wait_unbound() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q "^unbound $1\$" "$2" && return 0
        sleep 0.1
    done
    fail "$1 was not unbound: $(cat "$3")"
}
frames() { tshark -r "$1" ${2:+-Y "$2"} -T fields -e frame.number 2>/dev/null | wc -l | tr -d ' '; }

# run_hold NAME MODE COUNT [ARGS...]: the holding program in B, COUNT datagrams from A to a
# receiver in B; leaves $WORK/NAME.out (the program), $WORK/NAME.recv (the receiver).
run_hold() {
    local name=$1 mode=$2 count=$3 rc=0
    shift 3
    bg_in "$NS_B" "$NFCAP_QUEUE_HOLD" 7 "$mode" "$count" --timeout 20 "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err"
    local holder=$BG_PID
    wait_queue
    bg_in "$NS_B" "${PEER[@]}" udp-recv 8301 "$count" 25 >"$WORK/$name.recv"
    local receiver=$BG_PID
    wait_port "$NS_B" udp 8301
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8301 "$count" 64 --rate 2000 >/dev/null
    wait_pid "$holder" 30 || rc=$?
    [ "$rc" -eq 0 ] || fail "$name: holding program exit status $rc: $(cat "$WORK/$name.err")"
    wait_pid "$receiver" 30 || true
    cat "$WORK/$name.out"
}

# --- hold 200, accept in reverse order from a second thread, with a mark.
run_hold reverse reverse 200
check_eq "reverse: decided later" 200 "$(field decided_later "$WORK/reverse.out")"
check_eq "reverse: datagrams received" 200 "$(field received "$WORK/reverse.recv")"
check_eq "reverse: distinct datagrams" 200 "$(grep -c '^seq=' "$WORK/reverse.recv" | tr -d ' ')"
check_eq "reverse: distinct sequence numbers" 200 "$(grep -o '^seq=[0-9]*' "$WORK/reverse.recv" | sort -u | wc -l | tr -d ' ')"
check_eq "reverse: the first to arrive was the last held" "seq=199" "$(grep -m1 -o '^seq=[0-9]*' "$WORK/reverse.recv")"
check_eq "reverse: packets the later rule saw with mark 0x33" 200 "$(counter 1)"

# --- hold 100, accept every other one, drop the rest.
run_hold alternate alternate 100
check_eq "alternate: held packets decided" 100 "$(field decided_later "$WORK/alternate.out")"
expected=$(seq 0 2 98 | sed 's/^/seq=/' | tr '\n' ' ')
got=$(grep -o '^seq=[0-9]*' "$WORK/alternate.recv" | sort -t= -k2 -n | tr '\n' ' ')
check_eq "alternate: the receiver got exactly the accepted half" "$expected" "$got"

# --- holds longer than the queue's countable length: the source raises the length (the kernel
# keeps every held packet queued, none passes uncounted by fail-open); a length the program
# set is kept, and the source then says its loss count is only a lower bound.
run_hold many hold-many 600
check_eq "hold-many: loss still countable" 1 "$(field loss_countable "$WORK/many.out")"
[ "$(field max_length "$WORK/many.out")" -ge 600 ] ||
    fail "hold-many: queue length $(field max_length "$WORK/many.out") below the 600 held"
check_eq "hold-many: datagrams received" 600 "$(field received "$WORK/many.recv")"
run_hold many-fixed hold-many 150 --max-length 200
check_eq "hold-many, length set: loss a lower bound" 0 "$(field loss_countable "$WORK/many-fixed.out")"
check_eq "hold-many, length set: kept" 200 "$(field max_length "$WORK/many-fixed.out")"
check_eq "hold-many, length set: datagrams received" 150 "$(field received "$WORK/many-fixed.recv")"

# --- rewrite: UDP longer, TCP in place, recorded after the queue by nfcap from NFLOG.
bg_in "$NS_B" "$NFCAP" -g 31 -w "$WORK/rewritten.pcapng" 2>"$WORK/nflog.err"
recorder=$BG_PID
wait_started "$WORK/nflog.err" "$recorder"
bg_in "$NS_B" "$NFCAP_QUEUE_HOLD" 7 rewrite 20 --timeout 20 >"$WORK/rewrite.out" 2>"$WORK/rewrite.err"
holder=$BG_PID
wait_queue
bg_in "$NS_B" "${PEER[@]}" tcp-recv 8302 10 >"$WORK/tcp.recv"
tcp_receiver=$BG_PID
wait_port "$NS_B" tcp 8302
text="lower case letters from the sender, 0123456789, inside one connection"
in_a "${PEER[@]}" tcp-send 192.0.2.2 8302 "$text" 10
wait_pid "$tcp_receiver" 15 || fail "the TCP receiver did not finish: $(cat "$WORK/tcp.recv")"
check_eq "rewrite: what the TCP receiver read" "$(echo "$text" | tr a-z A-Z)" "$(head -1 "$WORK/tcp.recv")"
bg_in "$NS_B" "${PEER[@]}" udp-recv 8301 20 25 >"$WORK/rewrite.recv"
receiver=$BG_PID
wait_port "$NS_B" udp 8301
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8301 20 64 --rate 2000 >/dev/null
rc=0
wait_pid "$holder" 30 || rc=$?
[ "$rc" -eq 0 ] || fail "rewrite: holding program exit status $rc: $(cat "$WORK/rewrite.err")"
wait_pid "$receiver" 30 || true
sleep 0.3
rc=0
stop_pid "$recorder" || rc=$?
[ "$rc" -eq 0 ] || fail "nfcap -g 31 exit status $rc: $(cat "$WORK/nflog.err")"
check_eq "rewrite: UDP datagrams received" 20 "$(field received "$WORK/rewrite.recv")"
check_eq "rewrite: UDP datagrams that carry the new bytes, 10 longer" 20 \
    "$(grep -c '^seq=[0-9]* len=74 tag=REWRITTEN: ' "$WORK/rewrite.recv" | tr -d ' ')"
checks=(-o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE)
tshark -r "$WORK/rewritten.pcapng" "${checks[@]}" -T fields -e ip.checksum.status \
    -e udp.checksum.status -e tcp.checksum.status -e udp.length -e tcp.len >"$WORK/checksums.txt"
check_eq "rewrite: UDP packets recorded after the queue" 20 "$(awk -F'\t' '$2 != ""' "$WORK/checksums.txt" | wc -l | tr -d ' ')"
check_eq "rewrite: UDP packets with a good IP and UDP checksum and the new length" 20 \
    "$(awk -F'\t' '$1 == 1 && $2 == 1 && $4 == 82' "$WORK/checksums.txt" | wc -l | tr -d ' ')"
tcp_total=$(awk -F'\t' '$3 != ""' "$WORK/checksums.txt" | wc -l | tr -d ' ')
[ "$tcp_total" -ge 3 ] || fail "rewrite: only $tcp_total TCP packets recorded"
check_eq "rewrite: TCP packets with a good IP and TCP checksum" "$tcp_total" \
    "$(awk -F'\t' '$3 != "" && $1 == 1 && $3 == 1' "$WORK/checksums.txt" | wc -l | tr -d ' ')"
check_eq "rewrite: TCP packets with the payload, upper-cased" 1 \
    "$(tshark -r "$WORK/rewritten.pcapng" -Y "tcp.payload contains \"LOWER CASE\"" | wc -l | tr -d ' ')"

# --- the deadline: held packets nobody decides get the fallback (accept) after 300 ms.
run_hold deadline deadline 10 --hold-ms 300
check_eq "deadline: fallbacks counted" 10 "$(field fallback_deadline "$WORK/deadline.out")"
check_eq "deadline: datagrams received" 10 "$(field received "$WORK/deadline.recv")"

# --- bad ids: refused with one clear line each, nothing else decided.
run_hold bad bad-ids 5
check_eq "bad ids: refusals counted" 7 "$(field refused "$WORK/bad.out")"
grep -q "^refused: nfqueue:7: packet [0-9]* is not held here (never received by this queue, or already decided)$" "$WORK/bad.out" ||
    fail "no refusal of an unknown id: $(cat "$WORK/bad.out")"
grep -q "^refused: nfqueue:7: packet [0-9]* was already decided$" "$WORK/bad.out" ||
    fail "no refusal of a second verdict: $(cat "$WORK/bad.out")"
grep -q "a new payload is at most 65531 bytes long" "$WORK/bad.out" ||
    fail "no refusal of a payload too long: $(cat "$WORK/bad.out")"
check_eq "bad ids: datagrams received" 5 "$(field received "$WORK/bad.recv")"

# --- unbinding while holding: the fallback for each, counted; later verdicts refused.
run_hold unbind unbind 10
check_eq "unbind: fallbacks at close counted" 10 "$(field fallback_close "$WORK/unbind.out")"
check_eq "unbind: datagrams received" 10 "$(field received "$WORK/unbind.recv")"
grep -q "^refused: nfqueue:7: the queue was unbound; its held packets got the fallback$" "$WORK/unbind.out" ||
    fail "no refusal after unbind: $(cat "$WORK/unbind.out")"

# --- a program that stops while holding: the fallback for each, none left queued.
run_hold exit exit 30
check_eq "exit: packets held when the program ended" 30 "$(field "left holding" "$WORK/exit.out")"
check_eq "exit: datagrams received" 30 "$(field received "$WORK/exit.recv")"
if queue_listed; then
    fail "queue 7 is still listed after the program ended: $(in_b cat /proc/net/netfilter/nfnetlink_queue)"
fi
echo "ok: queue 7 gone, nothing left queued"

# --- pull: packets one at a time from the program's loop, held until it decides them.
run_hold pull pull 25
check_eq "pull: pulled packets decided" 25 "$(field decided_later "$WORK/pull.out")"
check_eq "pull: datagrams received" 25 "$(field received "$WORK/pull.recv")"

# --- feed: the program reads the socket and hands each datagram on.
run_hold feed feed 15
check_eq "feed: datagrams fed" 15 "$(field fed "$WORK/feed.out")"
check_eq "feed: datagrams received" 15 "$(field received "$WORK/feed.recv")"

# --- NFLOG pulled: each record whole, prefix included.
bg_in "$NS_B" "$NFCAP_QUEUE_HOLD" 32 log-pull 12 --timeout 20 >"$WORK/logpull.out" 2>"$WORK/logpull.err"
puller=$BG_PID
wait_nflog_bound "$NS_B" 32
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8303 12 100 --rate 2000 >/dev/null
rc=0
wait_pid "$puller" 30 || rc=$?
[ "$rc" -eq 0 ] || fail "log-pull exit status $rc: $(cat "$WORK/logpull.err")"
check_eq "log-pull: records pulled" 12 "$(field records "$WORK/logpull.out")"
check_eq "log-pull: records with the prefix and the whole packet (20 + 8 + 100 bytes)" 12 \
    "$(grep -c '^record prefix=pulled length=128$' "$WORK/logpull.out" | tr -d ' ')"

# --- two groups on one source, routed to their own handlers; 33 unbound alone after 10 each.
bg_in "$NS_B" "$NFCAP_QUEUE_HOLD" 32 log-groups 10 --timeout 20 >"$WORK/groups.out" 2>"$WORK/groups.err"
grouped=$BG_PID
wait_nflog_bound "$NS_B" 32
wait_nflog_bound "$NS_B" 33
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8303 10 64 --rate 2000 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8304 10 64 --rate 2000 >/dev/null
wait_unbound 33 "$WORK/groups.out" "$WORK/groups.err"
logged_groups=$(in_b awk '{ print $1 }' /proc/net/netfilter/nfnetlink_log | sort -n | tr '\n' ' ')
check_eq "groups bound after unbinding 33 alone" "32 " "$logged_groups"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8303 5 64 --rate 2000 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8304 5 64 --rate 2000 >/dev/null
rc=0
wait_pid "$grouped" 30 || rc=$?
[ "$rc" -eq 0 ] || fail "log-groups exit status $rc: $(cat "$WORK/groups.err")"
check_eq "group 32's handler: its records, also after 33 was unbound" 15 "$(field first "$WORK/groups.out")"
check_eq "group 33's handler: its records until it was unbound" 10 "$(field second "$WORK/groups.out")"
check_eq "records no handler took" 0 "$(field unrouted "$WORK/groups.out")"

# --- two queues on one source: 8 accepted, 9 dropped, then 9 unbound alone after 10 each.
bg_in "$NS_B" "$NFCAP_QUEUE_HOLD" 8 queue-pair 10 --timeout 20 >"$WORK/pair.out" 2>"$WORK/pair.err"
paired=$BG_PID
for ((i = 0; i < 100; i++)); do
    [ "$(in_b awk '$1 == 8 || $1 == 9' /proc/net/netfilter/nfnetlink_queue | wc -l)" -eq 2 ] && break
    sleep 0.1
done
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8305 10 64 --rate 2000 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8306 10 64 --rate 2000 >/dev/null
wait_unbound 9 "$WORK/pair.out" "$WORK/pair.err"
queues_bound=$(in_b awk '$1 == 8 || $1 == 9 { print $1 }' /proc/net/netfilter/nfnetlink_queue | tr '\n' ' ')
check_eq "queues bound after unbinding 9 alone" "8 " "$queues_bound"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8305 5 64 --rate 2000 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8306 5 64 --rate 2000 >/dev/null
rc=0
wait_pid "$paired" 30 || rc=$?
[ "$rc" -eq 0 ] || fail "queue-pair exit status $rc: $(cat "$WORK/pair.err")"
grep -q '^refused: nfqueue:8,9: packet [0-9]*: this source binds several queues' "$WORK/pair.out" ||
    fail "queue-pair: a verdict without its queue was not refused: $(cat "$WORK/pair.out")"
check_eq "queue 8's handler: its records, also after 9 was unbound" 15 "$(field first "$WORK/pair.out")"
check_eq "queue 9's handler: its records until it was unbound" 10 "$(field second "$WORK/pair.out")"
check_eq "queue 8's packets accepted (they reach the later chain)" 15 "$(counter 4)"
check_eq "queue 9's packets dropped, then nobody listens (none reach it)" 0 "$(counter 5)"

# --- overruns: a 4 KiB buffer, 3000 records while the program sleeps.
for policy in raise disable; do
    bg_in "$NS_B" "$NFCAP_QUEUE_HOLD" 32 "log-overrun-$policy" 2 --timeout 20 \
        >"$WORK/overrun-$policy.out" 2>"$WORK/overrun-$policy.err"
    overrun=$BG_PID
    wait_nflog_bound "$NS_B" 32
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8303 3000 100 --rate 20000 >/dev/null
    rc=0
    wait_pid "$overrun" 30 || rc=$?
    [ "$rc" -eq 0 ] || fail "log-overrun-$policy exit status $rc: $(cat "$WORK/overrun-$policy.err")"
    drops=$(field drops "$WORK/overrun-$policy.out")
    [ "$drops" -gt 0 ] || fail "overrun-$policy: the kernel dropped nothing: $(cat "$WORK/overrun-$policy.out")"
    echo "ok: overrun-$policy: the kernel dropped $drops batches"
done
check_eq "overrun raise: receive() threw once per overflow seen" 1 "$(field raised "$WORK/overrun-raise.out")"
grep -q "^error: NFLOG: the socket buffer overflowed (ENOBUFS) and the kernel dropped records" "$WORK/overrun-raise.out" ||
    fail "overrun raise: $(cat "$WORK/overrun-raise.out")"
check_eq "overrun disable: receive() never threw" 0 "$(field raised "$WORK/overrun-disable.out")"
check_eq "overrun disable: the socket reported no ENOBUFS" 0 "$(field overruns "$WORK/overrun-disable.out")"
check_eq "overrun raise: the socket reported ENOBUFS once" 1 "$(field overruns "$WORK/overrun-raise.out")"

# --- an adopted socket: the program runs in the test's own namespace, its socket was made in B.
bg_in "$NS_B" "${PEER[@]}" udp-recv 8301 20 25 >"$WORK/adopted.recv"
receiver=$BG_PID
wait_port "$NS_B" udp 8301
"$NFCAP_QUEUE_HOLD" 7 reverse 20 --timeout 20 --socket-netns "/run/netns/$NS_B" \
    >"$WORK/adopted.out" 2>"$WORK/adopted.err" &
holder=$!
track_pid "$holder"
wait_queue
[ "$(readlink /proc/$holder/ns/net)" != "$(ip netns exec "$NS_B" readlink /proc/self/ns/net)" ] ||
    fail "the adopting program runs in $NS_B"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8301 20 64 --rate 2000 >/dev/null
rc=0
wait_pid "$holder" 30 || rc=$?
[ "$rc" -eq 0 ] || fail "adopted: holding program exit status $rc: $(cat "$WORK/adopted.err")"
wait_pid "$receiver" 30 || true
check_eq "adopted: packets of $NS_B decided through the adopted socket" 20 "$(field decided_later "$WORK/adopted.out")"
check_eq "adopted: datagrams received" 20 "$(field received "$WORK/adopted.recv")"

# --- the recording shows the decisions (LiveCapture with a decide function that holds).
bg_in "$NS_B" "${PEER[@]}" udp-recv 8301 40 25 >"$WORK/capture.recv"
receiver=$BG_PID
wait_port "$NS_B" udp 8301
bg_in "$NS_B" "$NFCAP_QUEUE_HOLD" 7 capture 40 --timeout 20 --hold-ms 300 --write "$WORK/decisions.pcapng" \
    >"$WORK/capture.out" 2>"$WORK/capture.err"
holder=$BG_PID
wait_queue
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8301 40 64 --rate 2000 >/dev/null
rc=0
wait_pid "$holder" 30 || rc=$?
[ "$rc" -eq 0 ] || fail "capture: exit status $rc: $(cat "$WORK/capture.err")"
wait_pid "$receiver" 30 || true
check_eq "capture: datagrams received" 40 "$(field received "$WORK/capture.recv")"
check_eq "capture: deadline fallbacks counted" 10 "$(field fallback_deadline "$WORK/capture.out")"
rec="$WORK/decisions.pcapng"
check_eq "capture: records (40 packets + 10 rewritten copies)" 50 "$(frames "$rec")"
check_eq "capture: decided at once" 10 "$(frames "$rec" 'frame.comment contains "verdict=accept" && !(frame.comment contains "decided=")')"
check_eq "capture: decided later with the mark" 10 \
    "$(frames "$rec" 'frame.comment contains "verdict=accept setmark=0x33/0xffffffff decided=later" && !(frame.comment contains "payload=")')"
check_eq "capture: rewritten, original bytes" 10 "$(frames "$rec" 'frame.comment contains "decided=later payload=replaced" && udp.length == 72')"
check_eq "capture: rewritten, new bytes" 10 \
    "$(frames "$rec" 'frame.comment contains "decided=later payload=new" && udp.length == 82 && udp.payload contains "REWRITTEN:"')"
check_eq "capture: the deadline's fallback" 10 "$(frames "$rec" 'frame.comment contains "verdict=accept decided=deadline"')"
pairs=$(tshark -r "$rec" -Y 'frame.comment contains "payload="' -T fields -e frame.packet_id 2>/dev/null | sort | uniq -c | awk '$1 == 2' | wc -l | tr -d ' ')
check_eq "capture: each rewrite's two records share the packet id" 10 "$pairs"
lua=(-X "lua_script:${NFCAP_SOURCE_DIR:-$NFCAP_LIB_DIR/../..}/samples/wireshark/nfcap.lua")
check_eq "capture: Lua nfcap.decided == later" 30 "$(tshark -r "$rec" "${lua[@]}" -Y 'nfcap.decided == "later"' 2>/dev/null | wc -l | tr -d ' ')"
check_eq "capture: Lua nfcap.payload == new" 10 "$(tshark -r "$rec" "${lua[@]}" -Y 'nfcap.payload == "new"' 2>/dev/null | wc -l | tr -d ' ')"

# --- the sample: a worker thread decides held packets in batches; port 9 dropped, the rest
# accepted with mark 0x1 and, with --rewrite, upper-cased.
bg_in "$NS_B" "$NFCAP_DEFERRED_SAMPLE" 7 --batch 8 --rewrite 2>"$WORK/sample.err"
sample=$BG_PID
wait_queue
bg_in "$NS_B" "${PEER[@]}" udp-recv 9 5 3 >"$WORK/discard.recv"
discard_receiver=$BG_PID
bg_in "$NS_B" "${PEER[@]}" udp-recv 8301 40 25 >"$WORK/sample.recv"
receiver=$BG_PID
wait_port "$NS_B" udp 9
wait_port "$NS_B" udp 8301
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 9 5 64 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8301 40 200 --rate 2000 >/dev/null
wait_pid "$receiver" 30 || true
wait_pid "$discard_receiver" 10 || true
rc=0
stop_pid "$sample" || rc=$?
[ "$rc" -eq 0 ] || fail "sample exit status $rc: $(cat "$WORK/sample.err")"
check_eq "sample: datagrams to port 9 received" 0 "$(field received "$WORK/discard.recv")"
check_eq "sample: datagrams to 8301 received" 40 "$(field received "$WORK/sample.recv")"
check_eq "sample: datagrams the later rule saw with mark 0x1" 40 "$(counter 3)"
# Every 200-byte datagram nfcap_traffic sends here holds lower-case letters.
check_eq "sample: datagrams rewritten (no lower-case letter left)" 40 \
    "$(grep -c '^seq=[0-9]* len=200 tag=- lower=0$' "$WORK/sample.recv" | tr -d ' ')"
grep -q "^nfcap_deferred_verdicts: 45 packets held, 45 decided by the worker, 0 got the fallback" "$WORK/sample.err" ||
    fail "sample summary: $(cat "$WORK/sample.err")"
echo "ok: sample summary: $(cat "$WORK/sample.err")"

echo "1 passed, 0 failed"
