#!/usr/bin/env bash
# valgrind memcheck on a short live capture: NFLOG group and NFQUEUE queue (--auto-accept) at
# once, with the rtnetlink name cache, the receive threads, the hand-off and the writer, a BPF
# filter, and --record-netlink; stopped with SIGTERM. No memcheck error and no leak (definite,
# indirect or possible); every packet sent is accounted for in the file. Needs root; not run on
# sanitizer builds (valgrind cannot run them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../privileged/lib.sh"
require_root
require_cmd valgrind tshark iptables nft
ensure_test_tools
setup_pair

group=7
queue=8
cat >"$WORK/rules.nft" <<RULES
table inet memcheck {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7201 log group $group prefix "memcheck"
  }
}
RULES
nft_b "$WORK/rules.nft"
in_b iptables -A INPUT -p udp --dport 7202 -j NFQUEUE --queue-num $queue

out="$WORK/out.pcapng"
bg_in "$NS_B" valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --log-file="$WORK/vg.log" "$NFCAP" -g $group -q $queue --auto-accept -f "udp" \
    --record-netlink "$WORK/netlink.pcapng" -w "$out" 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" $group 60
for ((i = 0; i < 600; i++)); do
    in_b awk -v q=$queue '$1 == q { found = 1 } END { exit !found }' \
        /proc/net/netfilter/nfnetlink_queue && break
    sleep 0.1
done

bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv 7202 50 --timeout 60 >"$WORK/udp.out"
receiver=$BG_PID
wait_port "$NS_B" udp 7202
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7201 50 200 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7202 50 200 >/dev/null
wait_pid "$receiver" 60 || true
check_eq "queued UDP passed the tap under memcheck" "received=50 bad=0" "$(cat "$WORK/udp.out")"
sleep 1

rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
if [ "$rc" -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$WORK/vg.log"; then
    cat "$WORK/vg.log" >&2
    fail "nfcap under memcheck: exit status $rc"
fi
if grep -qE "definitely lost: [1-9]|indirectly lost: [1-9]|possibly lost: [1-9]" "$WORK/vg.log"; then
    cat "$WORK/vg.log" >&2
    fail "leaks in a live capture"
fi
check_eq "NFLOG records in the file" 50 \
    "$(tshark -r "$out" -Y 'udp.dstport == 7201' 2>/dev/null | wc -l)"
check_eq "NFQUEUE records in the file" 50 \
    "$(tshark -r "$out" -Y 'udp.dstport == 7202' 2>/dev/null | wc -l)"
grep "ERROR SUMMARY" "$WORK/vg.log"
echo "ok: live capture under memcheck: no errors, no leaks"
