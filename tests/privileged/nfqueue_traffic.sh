#!/usr/bin/env bash
# NFQUEUE tap with --auto-accept: a TCP connection and UDP/ICMP over IPv4 and IPv6 pass through
# iptables NFQUEUE rules on host B, every packet is recorded with its metadata (IPv6 stays IPv6),
# the traffic arrives intact, and a live `nfcap -w - | tshark -i -` shows queued packets while
# they keep flowing. The raw netlink session (--record-netlink) replays to the same records.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos iptables ip6tables
ensure_test_tools
setup_pair

q=5
for t in iptables ip6tables; do
    in_b "$t" -A INPUT -p udp --dport 8001 -j NFQUEUE --queue-num $q
    in_b "$t" -A INPUT -p tcp --dport 8003 -j NFQUEUE --queue-num $q
done
in_b iptables -A INPUT -p icmp --icmp-type echo-request -j NFQUEUE --queue-num $q
in_b ip6tables -A INPUT -p icmpv6 --icmpv6-type echo-request -j NFQUEUE --queue-num $q
in_b iptables -A OUTPUT -p udp --dport 8101 -j NFQUEUE --queue-num $q

out="$WORK/q.pcapng"
netlink="$WORK/q.netlink.pcapng"
# --gso: whole GSO packets, and the kernel says how far their checksums are (NFQA_SKB_INFO).
bg_in "$NS_B" "$NFCAP" -q $q --auto-accept --gso -w "$out" --record-netlink "$netlink" 2>"$WORK/nfcap.err"
cap=$BG_PID
for ((i = 0; i < 100; i++)); do
    in_b awk -v q=$q '$1 == q { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue && break
    sleep 0.1
done
# The queue is bound before the threads start: give them a moment.
for ((i = 0; i < 50; i++)); do
    cat /proc/"$cap"/task/*/comm | grep -qx "nfq$q-rx" && break
    sleep 0.1
done
check_eq "the queue's receive thread is named after it" 1 \
    "$(cat /proc/"$cap"/task/*/comm | grep -cx "nfq$q-rx")"

check_eq "IPv4 ping through the queue" 0 "$(in_a ping -c 3 -i 0.1 -W 2 -q 192.0.2.2 >/dev/null; echo $?)"
check_eq "IPv6 ping through the queue" 0 "$(in_a ping -c 3 -i 0.1 -W 2 -q 2001:db8::2 >/dev/null; echo $?)"
for dst in 192.0.2.2 2001:db8::2; do
    bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv 8001 5 --timeout 10 >"$WORK/udp.out"
    receiver=$BG_PID
    wait_port "$NS_B" udp 8001
    in_a "$NFCAP_TRAFFIC" udp-send "$dst" 8001 5 300 >/dev/null
    wait_pid "$receiver" 15 || true
    check_eq "UDP to $dst received intact" "received=5 bad=0" "$(cat "$WORK/udp.out")"
    bg_in "$NS_B" "$NFCAP_TRAFFIC" tcp-server 8003 30000 --timeout 20 >"$WORK/tcp.out"
    server=$BG_PID
    wait_port "$NS_B" tcp 8003
    in_a "$NFCAP_TRAFFIC" tcp-client "$dst" 8003 30000 --timeout 20 >/dev/null
    wait_pid "$server" 20 || fail "TCP stream to $dst did not arrive intact: $(cat "$WORK/tcp.out")"
done
# Locally generated UDP at the output hook: its checksum is not filled in yet (skbinfo).
in_b "$NFCAP_TRAFFIC" udp-send 192.0.2.1 8101 2 100 >/dev/null

sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"
capinfos "$out" >"$WORK/capinfos.txt" 2>&1 || fail "capinfos: $(cat "$WORK/capinfos.txt")"
grep -q "Name = nfqueue:$q" "$WORK/capinfos.txt" || fail "no nfqueue:$q interface"

fields() {
    local filter=$1 f
    shift
    local args=()
    for f in "$@"; do args+=(-e "$f"); done
    tshark -r "$out" -Y "$filter" -T fields -E separator='|' "${args[@]}" 2>/dev/null
}
count() { fields "$1" frame.number | wc -l; }

frames=$(count frame)
check_eq "echo requests over IPv4" 3 "$(count 'icmp.type == 8')"
check_eq "echo requests over IPv6, as IPv6" 3 "$(count 'icmpv6.type == 128 && ipv6.src == 2001:db8::1')"
check_eq "UDP over IPv4" 5 "$(count 'udp.dstport == 8001 && ip')"
check_eq "UDP over IPv6, as IPv6" 5 "$(count 'udp.dstport == 8001 && ipv6')"
check_eq "nothing labelled wrongly" 0 "$(count '_ws.malformed')"
# Bytes carried: the end of the highest segment (relative sequence numbers start at 1), so a
# retransmission under load does not count twice.
for filter in 'tcp.dstport == 8003 && ip' 'tcp.dstport == 8003 && ipv6'; do
    check_eq "TCP payload bytes ($filter)" 30000 "$(fields "$filter && tcp.len > 0" tcp.seq tcp.len |
        awk -F'|' '{ if ($1 + $2 > end) end = $1 + $2 } END { print end - 1 }')"
done
check_eq "payloads identical to what was sent" 0 "$(fields 'udp.dstport == 8001' data.data | awk '
    { k = (NR - 1) % 5
      want = "4e464354" sprintf("%016x", k)
      for (i = 12; i < 300; i++) want = want sprintf("%02x", (k + i) % 256)
      if ($1 != want) bad++ }
    END { print bad + 0 }')"

ifindex_b=$(ip -n "$NS_B" -o link show vethb | cut -d: -f1)
mac_a=$(ip -n "$NS_A" -o link show vetha | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
# The hardware address is in the SLL2 header (checked below), the family in the payload.
want="^nfqueue:$q hook=input in=vethb/$ifindex_b id=[0-9]+ verdict=accept( skbinfo=[a-z,-]+)?( ts=receive)?$"
bad=$(fields 'udp.dstport == 8001' frame.comment | grep -Ev "$want" || true)
[ -z "$bad" ] || fail "UDP records without the expected metadata /$want/: $bad"
check_eq "SLL2 source address of incoming UDP records" "$mac_a" "$(fields 'udp.dstport == 8001' sll.src.eth | sort -u)"
check_eq "outgoing UDP records: owner, unfinished checksum, output hook" 2 \
    "$(count 'udp.dstport == 8101 && frame.comment matches "hook=output out=vethb/[0-9]+ uid=0 gid=0 id=[0-9]+ verdict=accept skbinfo=csum-not-ready ts=receive$"')"
# Packet ids: 1..N with no gap, and the same id in the epb_packetid option.
fields frame frame.comment frame.packet_id | sed -n 's/.* id=\([0-9]*\) .*|\([0-9]*\)$/\1 \2/p' >"$WORK/ids.txt"
check_eq "records with an id" "$frames" "$(wc -l <"$WORK/ids.txt")"
check_eq "packet ids" "$(seq 1 "$frames" | tr '\n' ' ')" "$(cut -d' ' -f1 "$WORK/ids.txt" | sort -n | tr '\n' ' ')"
check_eq "epb_packetid equals the comment's id" 0 "$(awk '$1 != $2' "$WORK/ids.txt" | wc -l)"
grep -q "nfcap: $frames packets written, 0 lost, 0 filtered, 0 malformed, $frames verdicts, 0 not written (output behind)" "$WORK/nfcap.err" ||
    fail "summary: $(tail -1 "$WORK/nfcap.err")"

# The raw netlink session: Wireshark dissects it, and replaying it gives the same records.
check_eq "netlink file encapsulation" "netlink" "$(capinfos -T -E "$netlink" | tail -1 | cut -f2)"
check_eq "verdict messages recorded" 1 "$([ "$(tshark -r "$netlink" -Y 'frame.packet_flags_direction == 2' 2>/dev/null | wc -l)" -gt 0 ] && echo 1 || echo 0)"
"$NFCAP" -r "$netlink" -w "$WORK/replayed.pcapng" 2>"$WORK/replay.err" || fail "replay: $(cat "$WORK/replay.err")"
tshark -r "$out" -T fields -e frame.time_epoch -e frame.len -e data.data -e frame.packet_id 2>/dev/null >"$WORK/live.txt"
tshark -r "$WORK/replayed.pcapng" -T fields -e frame.time_epoch -e frame.len -e data.data -e frame.packet_id 2>/dev/null >"$WORK/replayed.txt"
cmp -s "$WORK/live.txt" "$WORK/replayed.txt" || fail "the replayed session differs from the live file"
echo "ok: the netlink session replays to the same packets, times and ids"

# --- live view: queued packets appear in tshark while the traffic flows; when tshark has had
# enough, nfcap notices at its next write (EPIPE), gives its verdicts and stops cleanly.
(
    ip netns exec "$NS_B" "$NFCAP" -q $q --auto-accept -w - 2>"$WORK/live.err"
    echo $? >"$WORK/live.rc"
) | tshark -i - -l -c 4 -T fields -e frame.comment -e icmp.type >"$WORK/live.out" 2>/dev/null &
pipeline=$!
track_pid "$pipeline"
for ((i = 0; i < 100; i++)); do
    in_b awk -v q=$q '$1 == q { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue && break
    sleep 0.1
done
in_a ping -c 2 -i 0.2 -W 2 -q 192.0.2.2 >/dev/null || fail "ping through the live tap failed"
for ((i = 0; i < 50; i++)); do # at most about 10 s
    [ -s "$WORK/live.rc" ] && break
    in_a ping -c 1 -W 1 -q 192.0.2.2 >/dev/null || true
    sleep 0.2
done
[ -s "$WORK/live.rc" ] || fail "nfcap did not stop after tshark went away"
wait_pid "$pipeline" 10 || true
check_eq "nfcap exit status after its reader went away" 0 "$(cat "$WORK/live.rc")"
check_eq "packets tshark showed live" 4 "$(grep -c "^nfqueue:$q hook=input .*verdict=accept" "$WORK/live.out")"
grep -q "the reader of standard output went away" "$WORK/live.err" || fail "no clean stop: $(cat "$WORK/live.err")"
# No listener any more: without --queue-bypass the kernel drops what the rule queues.
check_eq "ping after the tap stopped (the kernel drops without a listener)" 1 \
    "$(in_a ping -c 1 -W 1 -q 192.0.2.2 >/dev/null 2>&1; echo $?)"

echo "nfqueue_traffic: $frames packets queued, accepted and recorded"
echo "1 passed, 0 failed"
