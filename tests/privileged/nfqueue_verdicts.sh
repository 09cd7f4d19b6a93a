#!/usr/bin/env bash
# NFQUEUE verdict policies on a real kernel: --verdict drop drops (the sender sees the loss) and
# records; --verdict queue:N hands packets on to a second nfcap; --set-mark is visible to a
# later rule; --verdict repeat with a mark re-runs the hook once. Also the one-line refusals:
# no policy, a queue someone else holds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark iptables nft
ensure_test_tools
setup_pair

# Queue 5 takes UDP to 8201 in the mangle table; a later nft chain counts what came through,
# by mark.
in_b iptables -t mangle -A INPUT -p udp --dport 8201 -m mark ! --mark 0x20 -j NFQUEUE --queue-num 5
cat >"$WORK/count.nft" <<'EOF'
table inet after {
  chain input {
    type filter hook input priority 10; policy accept;
    udp dport 8201 meta mark 0x10 counter
    udp dport 8201 meta mark 0x20 counter
    udp dport 8201 counter
  }
}
EOF
nft_b "$WORK/count.nft"
counter() { # counter N: packets counted by the Nth rule of the later chain
    in_b nft list chain inet after input | grep -o 'counter packets [0-9]*' | sed -n "${1}p" | grep -o '[0-9]*$'
}
wait_queue() {
    local i
    for ((i = 0; i < 100; i++)); do
        in_b awk -v q="$1" '$1 == q { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue && return 0
        sleep 0.1
    done
    fail "queue $1 has no listener"
}
frames() { tshark -r "$1" ${2:+-Y "$2"} -T fields -e frame.number 2>/dev/null | wc -l; }
send5() { # send5 -> what a receiver in B got of 5 datagrams
    bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv 8201 5 --timeout 2 >"$WORK/recv.out"
    local receiver=$BG_PID
    wait_port "$NS_B" udp 8201
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8201 5 64 >/dev/null
    wait_pid "$receiver" 10 || true
    sed -n 's/^received=\([0-9]*\).*/\1/p' "$WORK/recv.out"
}
run_case() { # run_case NAME NFCAP-ARGS... : start nfcap on queue 5, send 5, stop; echo received
    local name=$1 rc=0 got
    shift
    bg_in "$NS_B" "$NFCAP" -q 5 -w "$WORK/$name.pcapng" "$@" 2>"$WORK/$name.err"
    local cap=$BG_PID
    wait_queue 5
    got=$(send5)
    sleep 0.2
    stop_pid "$cap" || rc=$?
    [ "$rc" -eq 0 ] || fail "$name: nfcap exit status $rc: $(cat "$WORK/$name.err")"
    echo "$got"
}

# --- drop: the receiver gets nothing, every packet is recorded with verdict=drop.
check_eq "datagrams received with --verdict drop" 0 "$(run_case drop --verdict drop)"
check_eq "dropped datagrams recorded" 5 "$(frames "$WORK/drop.pcapng" 'frame.comment contains "verdict=drop"')"
check_eq "dropped datagrams that reached the later chain" 0 "$(counter 3)"

# --- accept with a mark: a later rule sees the mark.
check_eq "datagrams received with --set-mark" 5 "$(run_case mark --auto-accept --set-mark 0x10)"
check_eq "marked datagrams seen by the later rule" 5 "$(counter 1)"
check_eq "recorded with the mark in the verdict" 5 \
    "$(frames "$WORK/mark.pcapng" 'frame.comment contains "verdict=accept setmark=0x10/0xffffffff"')"

# --- a mark with a mask changes only the masked bits, packet by packet: a packet marked 0x101
# before the queue leaves it with (0x101 & ~0xff0) | 0x30 = 0x031.
in_b nft add rule inet after input udp dport 8201 meta mark 0x31 counter
in_b iptables -t mangle -I INPUT 1 -p udp --dport 8201 -j MARK --set-mark 0x101
check_eq "datagrams received with a masked mark" 5 "$(run_case masked --auto-accept --set-mark 0x30/0xff0)"
check_eq "packets the later rule saw with mark 0x031" 5 "$(counter 4)"
in_b iptables -t mangle -D INPUT 1

# --- queue:6 hands each packet on to a second nfcap, which accepts.
bg_in "$NS_B" "$NFCAP" -q 6 --auto-accept -w "$WORK/second.pcapng" 2>"$WORK/second.err"
second=$BG_PID
wait_queue 6
check_eq "datagrams received through queue 5 then 6" 5 "$(run_case first --verdict queue:6)"
sleep 0.2
stop_pid "$second" || fail "second nfcap: $(cat "$WORK/second.err")"
check_eq "recorded by the first tap with verdict=queue:6" 5 "$(frames "$WORK/first.pcapng" 'frame.comment contains "verdict=queue:6"')"
check_eq "recorded by the second tap on nfqueue:6" 5 \
    "$(frames "$WORK/second.pcapng" 'frame.interface_name == "nfqueue:6" && frame.comment contains "verdict=accept"')"

# --- repeat: the hook runs again; with the mark the rule no longer matches, so once is all.
check_eq "datagrams received with --verdict repeat" 5 "$(run_case repeat --verdict repeat --set-mark 0x20)"
check_eq "each packet queued once" 5 "$(frames "$WORK/repeat.pcapng")"
check_eq "repeated packets seen by the later rule with mark 0x20" 5 "$(counter 2)"

# --- refusals, each one line, nothing bound.
rc=0
in_b "$NFCAP" -q 5 -w "$WORK/x.pcapng" 2>"$WORK/nopolicy.err" || rc=$?
check_eq "exit status without a policy" 2 "$rc"
grep -q "needs an explicit verdict policy: --auto-accept" "$WORK/nopolicy.err" || fail "$(cat "$WORK/nopolicy.err")"
bg_in "$NS_B" "$NFCAP" -q 5 --auto-accept -w "$WORK/owner.pcapng" 2>/dev/null
owner=$BG_PID
wait_queue 5
rc=0
in_b "$NFCAP" -q 5 --auto-accept -w "$WORK/second-owner.pcapng" 2>"$WORK/taken.err" || rc=$?
check_eq "exit status when the queue is taken" 1 "$rc"
check_eq "lines of error" 1 "$(wc -l <"$WORK/taken.err")"
grep -q "cannot bind NFQUEUE queue 5: it is already bound by process $owner (nfcap)" "$WORK/taken.err" ||
    fail "owner not named: $(cat "$WORK/taken.err")"
stop_pid "$owner" || true

echo "1 passed, 0 failed"
