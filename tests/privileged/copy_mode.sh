#!/usr/bin/env bash
# --copy-mode meta: NFLOG and NFQUEUE records without the packet's bytes are still valid pcapng
# records that tshark and the Lua plugin read: a header-only LINUX_SLL2 frame and the comment
# saying copy=meta. With the packet copied but cut short (-s 28), NFQUEUE keeps each packet's
# length (NFQA_CAP_LEN: frame.len and trunc=). Every packet the rules saw is written or counted
# as lost.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark iptables nft
ensure_test_tools
setup_pair

cat >"$WORK/rules.nft" <<'EOF'
table inet copymode {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 8401 counter log group 41
  }
}
EOF
nft_b "$WORK/rules.nft"
in_b iptables -t mangle -A INPUT -p udp --dport 8402 -j NFQUEUE --queue-num 42
lua=(-X "lua_script:${NFCAP_SOURCE_DIR:-$NFCAP_LIB_DIR/../..}/samples/wireshark/nfcap.lua")
frames() { tshark -r "$1" ${2:+-Y "$2"} -T fields -e frame.number 2>/dev/null | wc -l | tr -d ' '; }

# --- NFLOG: 20 datagrams of 100 bytes (128 on the wire as IP).
bg_in "$NS_B" "$NFCAP" -g 41 --copy-mode meta -w "$WORK/log.pcapng" 2>"$WORK/log.err"
cap=$BG_PID
wait_started "$WORK/log.err" "$cap"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8401 20 100 --rate 1000 >/dev/null
sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || fail "nfcap -g: exit status $rc: $(cat "$WORK/log.err")"
kernel=$(in_b nft list chain inet copymode input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$')
written=$(frames "$WORK/log.pcapng")
check_accounting "NFLOG meta" "$written" "$(summary_of "$WORK/log.err")" "$kernel"
[ "$written" -gt 0 ] || fail "NFLOG meta: nothing written"
check_eq "NFLOG meta: records with the cooked header only" "$written" "$(frames "$WORK/log.pcapng" 'frame.cap_len == 20 && sll.etype == 0x0800')"
check_eq "NFLOG meta: records marked copy=meta" "$written" "$(frames "$WORK/log.pcapng" 'frame.comment contains "copy=meta"')"
check_eq "NFLOG meta: Lua nfcap.copy" "$written" "$(tshark -r "$WORK/log.pcapng" "${lua[@]}" -Y 'nfcap.copy == "meta"' 2>/dev/null | wc -l | tr -d ' ')"

# --- NFQUEUE: the same, accepted; then the packet cut to its IP and UDP headers (-s 28), and
# the kernel says each packet's length.
run_queue() { # run_queue NAME NFCAP-ARGS...
    local name=$1 rc=0
    shift
    bg_in "$NS_B" "$NFCAP" -q 42 --auto-accept "$@" -w "$WORK/$name.pcapng" 2>"$WORK/$name.err"
    local queue_cap=$BG_PID
    wait_started "$WORK/$name.err" "$queue_cap"
    local before
    before=$(in_b iptables -t mangle -L INPUT -v -x -n | awk '$3 == "NFQUEUE" { print $1; exit }')
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8402 20 100 --rate 1000 >/dev/null
    sleep 0.3
    stop_pid "$queue_cap" || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || fail "nfcap -q $*: exit status $rc: $(cat "$WORK/$name.err")"
    local after
    after=$(in_b iptables -t mangle -L INPUT -v -x -n | awk '$3 == "NFQUEUE" { print $1; exit }')
    written=$(frames "$WORK/$name.pcapng")
    check_accounting "NFQUEUE $name" "$written" "$(summary_of "$WORK/$name.err")" "$((after - before))"
    [ "$written" -gt 0 ] || fail "NFQUEUE $name: nothing written"
}
run_queue meta --copy-mode meta
check_eq "NFQUEUE meta: header-only records" "$written" "$(frames "$WORK/meta.pcapng" 'frame.cap_len == 20 && sll.etype == 0x0800')"
check_eq "NFQUEUE meta: records marked copy=meta" "$written" \
    "$(frames "$WORK/meta.pcapng" 'frame.comment contains "verdict=accept skbinfo=csum-not-ready copy=meta" || frame.comment contains "verdict=accept copy=meta"')"
run_queue headers -s 28
check_eq "NFQUEUE -s 28: the headers, and the packet's length (20 + 128)" "$written" \
    "$(frames "$WORK/headers.pcapng" 'frame.cap_len == 48 && frame.len == 148 && udp.srcport')"
check_eq "NFQUEUE -s 28: trunc= says the length, no copy=meta" "$written" \
    "$(frames "$WORK/headers.pcapng" 'frame.comment contains "trunc=128" && !(frame.comment contains "copy=")')"

echo "1 passed, 0 failed"
