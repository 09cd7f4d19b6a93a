#!/usr/bin/env bash
# Real ICMP, UDP and TCP over IPv4 and IPv6 through a veth pair, logged by nft `log group` rules
# at the input and output hooks of host B (with prefixes, a mark, and a socket-owner rule),
# recorded by the real nfcap binary and checked with tshark and capinfos: every packet present,
# payloads identical to what was sent, every metadata key and interface name right.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft setpriv
ensure_test_tools
setup_pair

group=5
uid=4321
cat >"$WORK/rules.nft" <<EOF
table inet nfcaptest {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 icmp type echo-request log group $group prefix "in icmp4"
    ip6 saddr 2001:db8::1 icmpv6 type echo-request log group $group prefix "in icmp6"
    ip saddr 192.0.2.1 udp dport 7001 log group $group prefix "in udp4"
    ip6 saddr 2001:db8::1 udp dport 7002 meta mark set 0x10 log group $group prefix "in udp6"
    ip saddr 192.0.2.1 tcp dport 7003 log group $group prefix "in tcp4"
    ip6 saddr 2001:db8::1 tcp dport 7004 log group $group prefix "in tcp6"
  }
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr 192.0.2.1 icmp type echo-reply log group $group prefix "out icmp4"
    ip6 daddr 2001:db8::1 icmpv6 type echo-reply log group $group prefix "out icmp6"
    meta skuid $uid udp dport 7101 log group $group prefix "out uid"
  }
}
EOF
nft_b "$WORK/rules.nft"

out="$WORK/out.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$out" 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"

in_a ping -c 3 -i 0.1 -q 192.0.2.2 >/dev/null
in_a ping -c 3 -i 0.1 -q 2001:db8::2 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7001 5 100 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 2001:db8::2 7002 5 1200 >/dev/null
tcp_bytes=20000
for spec in "192.0.2.2 7003" "2001:db8::2 7004"; do
    set -- $spec
    bg_in "$NS_B" "$NFCAP_TRAFFIC" tcp-server "$2" "$tcp_bytes" --timeout 20 >/dev/null
    server=$BG_PID
    wait_port "$NS_B" tcp "$2"
    in_a "$NFCAP_TRAFFIC" tcp-client "$1" "$2" "$tcp_bytes" --timeout 20 >/dev/null
    wait_pid "$server" 20 || fail "TCP server on port $2 did not receive the stream intact"
done
# Sent by B as another user: the socket owner's uid and gid must appear.
in_b setpriv --reuid "$uid" --regid "$uid" --clear-groups \
    "$NFCAP_TRAFFIC" udp-send 192.0.2.1 7101 2 64 >/dev/null

sleep 0.3 # one flush timeout is 10 ms; leave time for the last batch
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"

# --- the file is well-formed for independent readers
capinfos -M "$out" >"$WORK/capinfos.txt" 2>&1 || {
    cat "$WORK/capinfos.txt" >&2
    fail "capinfos refused the file"
}
grep -q "File encapsulation: *linux-sll2" "$WORK/capinfos.txt" ||
    fail "not SLL2: $(cat "$WORK/capinfos.txt")"
frames=$(tshark -r "$out" 2>"$WORK/tshark.err" | wc -l)
if grep -v '^Running as user' "$WORK/tshark.err" | grep -q .; then
    cat "$WORK/tshark.err" >&2
    fail "tshark complained"
fi
written=$(sed -n 's/^nfcap: \([0-9]*\) packets written.*/\1/p' "$WORK/nfcap.err")
check_eq "packets in the file vs. nfcap's summary" "$written" "$frames"
grep -q ", 0 lost, " "$WORK/nfcap.err" || fail "unexpected loss: $(cat "$WORK/nfcap.err")"

fields() { # fields FILTER FIELD... -> one line per frame, fields separated by '|'
    local filter=$1 f
    shift
    local args=()
    for f in "$@"; do args+=(-e "$f"); done
    tshark -r "$out" -Y "$filter" -T fields -E separator='|' "${args[@]}" 2>/dev/null
}
count() { fields "$1" frame.number | wc -l; }
comment_has() { # comment_has FILTER REGEX: every frame matching FILTER has a comment matching REGEX
    local bad
    [ "$(count "$1")" -gt 0 ] || fail "no frame matches '$1'"
    bad=$(fields "$1" frame.comment | grep -Ecv -- "$2" || true)
    [ "$bad" -eq 0 ] || fail "$bad frames matching '$1' lack /$2/: $(fields "$1" frame.comment | head -3)"
}

# --- every packet present
check_eq "IPv4 echo requests at input" 3 "$(count 'icmp.type == 8 && frame.comment contains "prefix=\"in icmp4\""')"
check_eq "IPv4 echo replies at output" 3 "$(count 'icmp.type == 0 && frame.comment contains "prefix=\"out icmp4\""')"
check_eq "IPv6 echo requests at input" 3 "$(count 'icmpv6.type == 128 && frame.comment contains "prefix=\"in icmp6\""')"
check_eq "IPv6 echo replies at output" 3 "$(count 'icmpv6.type == 129 && frame.comment contains "prefix=\"out icmp6\""')"
check_eq "UDP/IPv4 datagrams" 5 "$(count 'udp.dstport == 7001 && ip.src == 192.0.2.1')"
check_eq "UDP/IPv6 datagrams" 5 "$(count 'udp.dstport == 7002 && ipv6.src == 2001:db8::1')"
check_eq "datagrams sent as uid $uid" 2 "$(count 'udp.dstport == 7101')"
for port in 7003 7004; do
    # The end of the highest segment (relative sequence numbers start at 1): a retransmission
    # under load does not count twice.
    carried=$(fields "tcp.dstport == $port && tcp.len > 0" tcp.seq tcp.len |
        awk -F'|' '{ if ($1 + $2 > end) end = $1 + $2 } END { print end - 1 }')
    check_eq "TCP payload bytes to port $port" "$tcp_bytes" "$carried"
    check_eq "TCP SYNs to port $port" 1 "$(count "tcp.dstport == $port && tcp.flags.syn == 1")"
done

# --- payloads identical to what was sent: "NFCT", be64 index k, then byte i = (k + i) & 0xff
check_payloads() { # check_payloads PORT SIZE
    fields "udp.dstport == $1" data.data | awk -v size="$2" '
        { k = NR - 1
          want = "4e464354" sprintf("%016x", k)
          for (i = 12; i < size; i++) want = want sprintf("%02x", (k + i) % 256)
          if ($1 != want) { print "payload of datagram " k " differs"; bad = 1 } }
        END { exit bad }' || fail "UDP payloads to port $1 differ from what was sent"
}
check_payloads 7001 100
check_payloads 7002 1200
check_payloads 7101 64

# --- metadata keys
ifindex_b=$(ip -n "$NS_B" -o link show vethb | cut -d: -f1)
mac_a=$(ip -n "$NS_A" -o link show vetha | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
# The family (the payload's IP version), the hardware type and address (the SLL2 header, checked
# below) and ts=kernel are left out: the record states them. One group: no seq_global.
comment_has 'udp.dstport == 7001' "^nflog:$group hook=input prefix=\"in udp4\" in=vethb/$ifindex_b hwheader=[0-9a-f]{12}${mac_a//:/}0800 seq=[0-9]+$"
comment_has 'udp.dstport == 7002' "^nflog:$group hook=input prefix=\"in udp6\" in=vethb/$ifindex_b mark=0x10 hwheader=[0-9a-f]{12}${mac_a//:/}86dd seq=[0-9]+$"
comment_has 'icmp.type == 0' "^nflog:$group hook=output prefix=\"out icmp4\" out=vethb/$ifindex_b seq=[0-9]+ ts=receive$"
comment_has 'udp.dstport == 7101' "^nflog:$group hook=output prefix=\"out uid\" out=vethb/$ifindex_b uid=$uid gid=$uid .*ts=receive$"
comment_has 'tcp.dstport == 7003' "prefix=\"in tcp4\" in=vethb/$ifindex_b "
comment_has 'tcp.dstport == 7004' "prefix=\"in tcp6\" in=vethb/$ifindex_b "

# The cooked header agrees with the comment: interface, direction, source address.
check_eq "SLL2 ifindex of input packets" "$ifindex_b" "$(fields 'udp.dstport == 7001' sll.ifindex | sort -u)"
check_eq "SLL2 packet type of input packets" 0 "$(fields 'udp.dstport == 7001' sll.pkttype | sort -u)"
check_eq "SLL2 source address of input packets" "$mac_a" "$(fields 'udp.dstport == 7001' sll.src.eth | sort -u)"
check_eq "SLL2 hardware type of input packets (Ethernet)" 1 "$(fields 'udp.dstport == 7001' sll.hatype | sort -u)"
check_eq "SLL2 packet type of output packets" 4 "$(fields 'udp.dstport == 7101' sll.pkttype | sort -u)"
check_eq "inbound epb_flags on input packets" 5 "$(count 'udp.dstport == 7001 && frame.packet_flags_direction == 1')"
check_eq "outbound epb_flags on output packets" 2 "$(count 'udp.dstport == 7101 && frame.packet_flags_direction == 2')"

# Sequence numbers: exactly 0..N-1, no gap, no repeat.
fields 'frame' frame.comment | sed -En 's/.* seq=([0-9]+)( .*)?$/\1/p' | sort -n >"$WORK/seq.txt"
check_eq "sequence numbers" "$(seq 0 $((frames - 1)))" "$(cat "$WORK/seq.txt")"

# Kernel timestamps are in order for input packets.
fields 'not frame.comment contains " ts="' frame.time_epoch | sort -c -n || fail "kernel timestamps out of order"

echo "nflog_traffic: $frames packets recorded and checked"
echo "1 passed, 0 failed"
