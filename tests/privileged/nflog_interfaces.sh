#!/usr/bin/env bash
# Interface names are resolved at capture time and follow the interfaces: a link renamed during
# the capture shows its new name from then on, a link created during the capture is named,
# and records of a link deleted afterwards keep the name it had.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark nft
ensure_test_tools
setup_pair

group=11
cat >"$WORK/rules.nft" <<EOF
table inet ifs {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7600 log group $group prefix "ifs"
  }
}
EOF
nft_b "$WORK/rules.nft"

out="$WORK/ifs.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$out" 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
index=$(ip -n "$NS_B" -o link show vethb | cut -d: -f1)

send() { in_a "$NFCAP_TRAFFIC" udp-send "$1" 7600 "$2" 32 >/dev/null; }
settle() { sleep 0.3; } # longer than the 10 ms flush timeout: records are read before the next step

send 192.0.2.2 2
settle
ip -n "$NS_B" link set vethb down
ip -n "$NS_B" link set vethb name renamedb
ip -n "$NS_B" link set renamedb up
ip -n "$NS_B" addr add 192.0.2.2/24 dev renamedb 2>/dev/null || true
wait_ping "$NS_A" 192.0.2.2
settle
send 192.0.2.2 3
settle

# A second link pair created while nfcap runs.
ip link add vetha2 netns "$NS_A" type veth peer name newlink netns "$NS_B"
ip -n "$NS_A" addr add 198.51.100.1/24 dev vetha2
ip -n "$NS_B" addr add 198.51.100.2/24 dev newlink
ip -n "$NS_A" link set vetha2 up
ip -n "$NS_B" link set newlink up
new_index=$(ip -n "$NS_B" -o link show newlink | cut -d: -f1)
wait_ping "$NS_A" 198.51.100.2
send 198.51.100.2 4
settle
# Deleted after its packets were logged: they keep its name.
ip -n "$NS_B" link del newlink
settle

rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"

ins=$(tshark -r "$out" -Y 'udp.dstport == 7600' -T fields -e frame.comment 2>/dev/null |
    sed -n 's/.* in=\([^ ]*\) .*/\1/p' | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')
check_eq "input interface per record, in order" \
    "2xvethb/$index 3xrenamedb/$index 4xnewlink/$new_index " "$ins"
echo "1 passed, 0 failed"
