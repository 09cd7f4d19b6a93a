#!/usr/bin/env bash
# Long captures: a live ring buffer rotated by duration (-b duration:1) while a steady stream
# flows: every file is complete and readable alone, and together they hold every packet sent,
# in order, none twice. -a duration stops a capture by itself with a complete file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft
ensure_test_tools
setup_pair

group=12
cat >"$WORK/rules.nft" <<EOF
table inet ring {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7700 log group $group prefix "ring"
  }
}
EOF
nft_b "$WORK/rules.nft"

mkdir "$WORK/ring"
bg_in "$NS_B" "$NFCAP" -g $group -w "$WORK/ring/live.pcapng" -b duration:1 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" $group
sent=350 # 3.5 s at 100 packets/s
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7700 $sent 32 --rate 100 --timeout 20 >/dev/null
sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"

mapfile -t files < <(ls "$WORK/ring"/live_*.pcapng | sort)
[ "${#files[@]}" -ge 3 ] || fail "expected at least 3 files after 3.5 s with duration:1, got ${#files[@]}"
for f in "${files[@]}"; do
    capinfos "$f" >"$WORK/capinfos.txt" 2>&1 || fail "capinfos refuses $f"
    grep -q "Number of stat entries = 1" "$WORK/capinfos.txt" || fail "$f has no statistics block"
done
echo "ok: ${#files[@]} files, each read by capinfos with its statistics block"
# The datagram index is in bytes 4..11 of the payload: every index once, in order.
for f in "${files[@]}"; do
    tshark -r "$f" -Y 'udp.dstport == 7700' -T fields -e data.data 2>/dev/null
done | cut -c9-24 | while read -r hex; do echo $((16#$hex)); done >"$WORK/indices.txt"
seq 0 $((sent - 1)) | cmp -s - "$WORK/indices.txt" ||
    fail "the files do not hold datagrams 0..$((sent - 1)) in order once each: $(head -c 300 "$WORK/indices.txt" | tr '\n' ' ')"
echo "ok: together the files hold all $sent datagrams, in order, none twice"

# -a duration:1 ends the capture by itself, with a complete file.
bg_in "$NS_B" "$NFCAP" -g $group -w "$WORK/auto.pcapng" -a duration:1 2>"$WORK/auto.err"
auto=$BG_PID
rc=0
wait_pid "$auto" 10 || rc=$?
check_eq "exit status after -a duration:1" 0 "$rc"
capinfos "$WORK/auto.pcapng" | grep -q "Number of stat entries = 1" || fail "-a duration file incomplete"
# On a terminal: a live status line every second; --quiet leaves only the summary.
require_cmd script
(sleep 0.5; in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7700 200 32 --rate 100 >/dev/null) &
track_pid $!
script -qec "ip netns exec $NS_B $NFCAP -g $group -w $WORK/tty.pcapng -a duration:3" /dev/null >"$WORK/tty.out" 2>&1
grep -q "packets ([0-9]*/s), 0 lost, 0 filtered -> $WORK/tty.pcapng" "$WORK/tty.out" ||
    fail "no status line on a terminal: $(cat -v "$WORK/tty.out")"
grep -q "^nfcap: [0-9]* packets written" "$WORK/tty.out" || fail "no summary: $(cat -v "$WORK/tty.out")"
script -qec "ip netns exec $NS_B $NFCAP -g $group -w $WORK/quiet.pcapng -a duration:2 --quiet" /dev/null >"$WORK/quiet.out" 2>&1
! grep -q "/s), " "$WORK/quiet.out" || fail "--quiet still shows the status line"
grep -q "packets written" "$WORK/quiet.out" || fail "--quiet lost the summary"
echo "ok: status line on a terminal, none with --quiet, the summary always"
echo "1 passed, 0 failed"
