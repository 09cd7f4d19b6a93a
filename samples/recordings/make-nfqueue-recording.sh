#!/usr/bin/env bash
# Re-creates nfqueue-session.netlink.pcapng: a live NFQUEUE session recorded by nfcap itself
# with --record-netlink (every netlink message the kernel sent, and every verdict nfcap sent),
# for the golden replay test.
#
#   sudo samples/recordings/make-nfqueue-recording.sh [OUTDIR]    (default: this directory)
#
# Needs root, iptables/ip6tables (nf_tables backend), ping, and a built nfcap (NFCAP, default
# build/dev/nfcap) and traffic tool (NFCAP_TRAFFIC, default build/dev/tests/nfcap_traffic).
# Everything happens in private namespaces that are removed on exit, with addresses from
# 192.0.2.0/24 and 2001:db8::/64 only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export NFCAP_SOURCE_DIR=${NFCAP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
export NFCAP=${NFCAP:-$NFCAP_SOURCE_DIR/build/dev/nfcap}
export NFCAP_TRAFFIC=${NFCAP_TRAFFIC:-$NFCAP_SOURCE_DIR/build/dev/tests/nfcap_traffic}
# shellcheck source=../../tests/privileged/lib.sh
source "$NFCAP_SOURCE_DIR/tests/privileged/lib.sh"

out_dir=$(cd "${1:-$here}" && pwd)
require_root
require_cmd iptables ip6tables ping capinfos
[ -x "$NFCAP" ] || fail "no nfcap binary at $NFCAP (build it, or set NFCAP)"
[ -x "$NFCAP_TRAFFIC" ] || fail "no traffic tool at $NFCAP_TRAFFIC (build it, or set NFCAP_TRAFFIC)"
setup_pair

# Permanent neighbours: no ARP or neighbour discovery in the session.
mac_a=$(ip -n "$NS_A" -br link show vetha | awk '{ print $3 }')
mac_b=$(ip -n "$NS_B" -br link show vethb | awk '{ print $3 }')
ip -n "$NS_A" neigh replace 192.0.2.2 lladdr "$mac_b" dev vetha nud permanent
ip -n "$NS_A" neigh replace 2001:db8::2 lladdr "$mac_b" dev vetha nud permanent
ip -n "$NS_B" neigh replace 192.0.2.1 lladdr "$mac_a" dev vethb nud permanent
ip -n "$NS_B" neigh replace 2001:db8::1 lladdr "$mac_a" dev vethb nud permanent

# Queue 5 in B: echo requests and UDP to 8001 coming in, UDP to 8101 going out.
in_b iptables -A INPUT -p icmp --icmp-type echo-request -j NFQUEUE --queue-num 5
in_b ip6tables -A INPUT -p icmpv6 --icmpv6-type echo-request -j NFQUEUE --queue-num 5
in_b iptables -A INPUT -p udp --dport 8001 -j NFQUEUE --queue-num 5
in_b ip6tables -A INPUT -p udp --dport 8001 -j NFQUEUE --queue-num 5
in_b iptables -A OUTPUT -p udp --dport 8101 -j NFQUEUE --queue-num 5

session="$WORK/nfqueue-session.netlink.pcapng"
bg_in "$NS_B" "$NFCAP" -q 5 --auto-accept --set-mark 0x10 -s 128 -w "$WORK/live.pcapng" \
    --record-netlink "$session" 2>"$WORK/nfcap.err"
cap=$BG_PID
for ((i = 0; i < 100; i++)); do
    in_b awk '$1 == 5 { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue && break
    sleep 0.1
done
in_a ping -c 2 -i 0.2 -q 192.0.2.2 >/dev/null
in_a ping -c 2 -i 0.2 -q 2001:db8::2 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8001 3 300 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 2001:db8::2 8001 3 300 >/dev/null
in_b "$NFCAP_TRAFFIC" udp-send 192.0.2.1 8101 2 64 >/dev/null
sleep 0.3
stop_pid "$cap" || fail "nfcap failed: $(cat "$WORK/nfcap.err")"
cat "$WORK/nfcap.err" >&2
install -m 644 "$session" "$out_dir/nfqueue-session.netlink.pcapng"
capinfos -c -M "$out_dir/nfqueue-session.netlink.pcapng" | tail -1
