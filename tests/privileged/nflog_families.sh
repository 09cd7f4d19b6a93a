#!/usr/bin/env bash
# NFLOG records from the arp, bridge, ip6 and inet families, recorded live by the real nfcap
# binary and checked with tshark and capinfos.
#
# Topology: host B is a bridge (br0 holds 192.0.2.2 and 2001:db8::2) with two ports, vethb to
# host A (192.0.2.1) and vethbc to host C (192.0.2.3). Every rule in B logs to two groups: one
# nfcap records group 21 with the default link type (LINUX_SLL2), another records group 22 with
# --linktype raw, so both files see exactly the same records (44, of which 14 are ARP).
#
# Every neighbour entry is permanent except the three deleted on purpose below, so the ARP
# exchanges (and so every frame count) are exactly known:
#   1. A pings C twice (IPv4), A has forgotten C: ARP request flooded by the bridge, reply
#      forwarded, then 2 echo requests and 2 replies forwarded.
#   2. A pings B twice (IPv4), A has forgotten B: ARP request seen by B's bridge input hook, the
#      bridge's flood to C, and the arp input hook; B's reply goes out through the arp output
#      hook and the bridge output hook; the echoes pass the inet and bridge hooks.
#   3. A pings C twice over IPv6 (bridge forward).
#   4. A pings B twice over IPv6 (bridge input/output, ip6 input/output).
#   5. B pings A once, B has forgotten A: B's ARP request leaves by the arp output hook and is
#      flooded to both ports (bridge output, twice); A's reply comes in. This runs last, and
#      the whole traffic takes about 2 s: no entry re-learned here goes stale and re-probes.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft awk
[ -x "${NFCAP:-}" ] || fail "NFCAP=${NFCAP:-} is not an executable nfcap binary"
setup_pair
# shellcheck disable=SC2153 # NS_A and NS_B come from setup_pair
: "$NS_A" "$NS_B"

G_SLL2=21
G_RAW=22

# --- topology: B becomes a bridge br0 with ports vethb (to A) and vethbc (to C)
NS_C="nfcapC_$$"
new_ns "$NS_C"
ip link add vethc netns "$NS_C" type veth peer name vethbc netns "$NS_B" ||
    fail "cannot create the veth pair to C"
in_b ip addr flush dev vethb
in_b ip link add br0 type bridge || fail "cannot create br0"
in_b ip link set vethb master br0
in_b ip link set vethbc master br0
in_b ip addr add 192.0.2.2/24 dev br0
in_b ip addr add 2001:db8::2/64 dev br0 nodad
in_b ip link set vethbc up
in_b ip link set br0 up
ip -n "$NS_C" addr add 192.0.2.3/24 dev vethc
ip -n "$NS_C" addr add 2001:db8::3/64 dev vethc nodad
ip -n "$NS_C" link set vethc up
# With br_netfilter active, bridged IP and ARP would also pass the ip/ip6/arp hooks (and carry
# physin there): keep the families apart, whatever the host's default.
# (The bridge records' physin/physout need a kernel built with CONFIG_BRIDGE_NETFILTER: without
# it, nfnetlink_log reports the port as in=/out= and no physin=/physout=.)
for f in arptables iptables ip6tables; do
    f="/proc/sys/net/bridge/bridge-nf-call-$f"
    if in_b test -e "$f"; then
        in_b sh -c "echo 0 >$f" || fail "cannot write 0 to $f in $NS_B"
    fi
done
wait_ping "$NS_A" 192.0.2.3 50
wait_ping "$NS_A" 192.0.2.2 50
wait_ping "$NS_A" 2001:db8::3 50
wait_ping "$NS_A" 2001:db8::2 50
wait_ping "$NS_C" 192.0.2.2 50

mac_of() { ip -n "$1" -br link show "$2" | awk '{ print $3 }'; }
ifindex_of() { ip -n "$1" -o link show "$2" | cut -d: -f1; }
mac_a=$(mac_of "$NS_A" vetha)
mac_br=$(mac_of "$NS_B" br0)
mac_c=$(mac_of "$NS_C" vethc)
idx_br=$(ifindex_of "$NS_B" br0)
idx_vb=$(ifindex_of "$NS_B" vethb)
idx_vbc=$(ifindex_of "$NS_B" vethbc)
for v in "$mac_a" "$mac_br" "$mac_c" "$idx_br" "$idx_vb" "$idx_vbc"; do
    [ -n "$v" ] || fail "could not read the MAC addresses and interface indices"
done

# Permanent neighbour entries everywhere: no ARP or neighbour discovery but the deliberate one.
neigh() { # neigh NS DEV ADDR MAC
    ip -n "$1" neigh replace "$3" lladdr "$4" dev "$2" nud permanent || fail "neighbour $3 in $1"
}
for ns in "$NS_A" "$NS_B" "$NS_C"; do
    ip -n "$ns" neigh flush all
done
neigh "$NS_A" vetha 192.0.2.2 "$mac_br"
neigh "$NS_A" vetha 192.0.2.3 "$mac_c"
neigh "$NS_A" vetha 2001:db8::2 "$mac_br"
neigh "$NS_A" vetha 2001:db8::3 "$mac_c"
neigh "$NS_B" br0 192.0.2.1 "$mac_a"
neigh "$NS_B" br0 192.0.2.3 "$mac_c"
neigh "$NS_B" br0 2001:db8::1 "$mac_a"
neigh "$NS_B" br0 2001:db8::3 "$mac_c"
neigh "$NS_C" vethc 192.0.2.1 "$mac_a"
neigh "$NS_C" vethc 192.0.2.2 "$mac_br"
neigh "$NS_C" vethc 2001:db8::1 "$mac_a"
neigh "$NS_C" vethc 2001:db8::2 "$mac_br"

# --- rules: every log statement twice, once per group
log2() { printf 'log group %s prefix "%s" log group %s prefix "%s"' "$G_SLL2" "$1" "$G_RAW" "$1"; }
icmp6_echo='ip6 saddr 2001:db8::/64 icmpv6 type { echo-request, echo-reply }'
cat >"$WORK/rules.nft" <<EOF
table arp nfcaptest_arp {
  chain input {
    type filter hook input priority filter; policy accept;
    $(log2 "arp in")
  }
  chain output {
    type filter hook output priority filter; policy accept;
    $(log2 "arp out")
  }
}
table bridge nfcaptest_bridge {
  chain input {
    type filter hook input priority filter; policy accept;
    ether type arp $(log2 "bridge in")
    ip protocol icmp $(log2 "bridge in")
    $icmp6_echo $(log2 "bridge in")
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ether type arp $(log2 "bridge fwd")
    ip protocol icmp $(log2 "bridge fwd")
    $icmp6_echo $(log2 "bridge fwd")
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ether type arp $(log2 "bridge out")
    ip protocol icmp $(log2 "bridge out")
    $icmp6_echo $(log2 "bridge out")
  }
}
table ip6 nfcaptest_ip6 {
  chain input {
    type filter hook input priority filter; policy accept;
    ip6 saddr 2001:db8::1 icmpv6 type echo-request $(log2 "ip6 in")
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ip6 daddr 2001:db8::1 icmpv6 type echo-reply $(log2 "ip6 out")
  }
}
table inet nfcaptest_inet {
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    ip saddr 192.0.2.1 ip daddr 192.0.2.2 icmp type echo-request $(log2 "inet pre")
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr 192.0.2.1 ip daddr 192.0.2.2 icmp type echo-request $(log2 "inet in")
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ip saddr 192.0.2.2 ip daddr 192.0.2.1 icmp type echo-reply $(log2 "inet out")
  }
  chain postrouting {
    type filter hook postrouting priority filter; policy accept;
    ip saddr 192.0.2.2 ip daddr 192.0.2.1 icmp type echo-reply $(log2 "inet post")
  }
}
EOF
nft_b "$WORK/rules.nft"

# --- record
sll2="$WORK/sll2.pcapng"
raw="$WORK/raw.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$G_SLL2" -w "$sll2" 2>"$WORK/sll2.err"
cap_sll2=$BG_PID
bg_in "$NS_B" "$NFCAP" -g "$G_RAW" --linktype raw -w "$raw" 2>"$WORK/raw.err"
cap_raw=$BG_PID
wait_nflog_bound "$NS_B" "$G_SLL2"
wait_nflog_bound "$NS_B" "$G_RAW"

ping_from() { # ping_from NS ADDR COUNT
    ip netns exec "$1" ping -n -q -c "$3" -i 0.2 -W 2 "$2" >/dev/null || fail "$1: ping $2 failed"
}
in_a ip neigh del 192.0.2.3 dev vetha
ping_from "$NS_A" 192.0.2.3 2   # 1. across the bridge, with ARP
in_a ip neigh del 192.0.2.2 dev vetha
ping_from "$NS_A" 192.0.2.2 2   # 2. to B, with ARP answered by B
ping_from "$NS_A" 2001:db8::3 2 # 3. across the bridge, IPv6
ping_from "$NS_A" 2001:db8::2 2 # 4. to B, IPv6
in_b ip neigh del 192.0.2.1 dev br0
ping_from "$NS_B" 192.0.2.1 1 # 5. from B, with ARP asked by B

sleep 0.3 # one flush timeout is 10 ms; leave time for the last batch
rc=0
stop_pid "$cap_sll2" || rc=$?
check_eq "nfcap (sll2) exit status" 0 "$rc"
rc=0
stop_pid "$cap_raw" || rc=$?
check_eq "nfcap (raw) exit status" 0 "$rc"
echo "--- nfcap sll2:" && cat "$WORK/sll2.err"
echo "--- nfcap raw:" && cat "$WORK/raw.err"

# --- expected records (see the header); the ARP ones cannot be written in the raw file
ARP_RECORDS=14      # arp in 3, arp out 2, bridge in 3, bridge fwd 3, bridge out 3
IP_RECORDS=30       # bridge ICMP 10, bridge ICMPv6 8, inet 8, ip6 4
ALL_RECORDS=$((ARP_RECORDS + IP_RECORDS))

# --- both files well-formed for independent readers
for f in "$sll2" "$raw"; do
    if ! capinfos -M "$f" >"$f.capinfos" 2>&1; then
        cat "$f.capinfos" >&2
        fail "capinfos refused $f"
    fi
done
grep -q "File encapsulation: *linux-sll2" "$sll2.capinfos" || fail "not SLL2: $(cat "$sll2.capinfos")"
grep -q "File encapsulation: *rawip" "$raw.capinfos" || fail "not raw IP: $(cat "$raw.capinfos")"
check_eq "capinfos packet count (sll2)" "$ALL_RECORDS" "$(awk '/^Number of packets/ { print $NF }' "$sll2.capinfos")"
check_eq "capinfos packet count (raw)" "$IP_RECORDS" "$(awk '/^Number of packets/ { print $NF }' "$raw.capinfos")"

# table FILE: one tab-separated line per frame with the fields the checks below use.
COLUMNS_=(frame.number frame.packet_flags_direction sll.etype sll.pkttype sll.ifindex sll.hatype
    arp.opcode arp.src.proto_ipv4 arp.dst.proto_ipv4 icmp.type icmpv6.type ip.src ipv6.src
    frame.drop_count sll.src.eth frame.comment)
table() {
    local args=() f
    for f in "${COLUMNS_[@]}"; do args+=(-e "$f"); done
    tshark -n -r "$1" -T fields -E separator=/t -E occurrence=f "${args[@]}" >"$1.tsv" 2>"$1.tshark" ||
        fail "tshark failed on $1: $(cat "$1.tshark")"
    if grep -v '^Running as user' "$1.tshark" | grep -q .; then
        cat "$1.tshark" >&2
        fail "tshark complained about $1"
    fi
}
table "$sll2"
table "$raw"

# count FILE AWK-CONDITION: frames of FILE for which the condition holds. The condition sees
# the columns by name (dir etype pkttype ifindex hatype opcode arp_spa arp_tpa icmp icmp6 ipsrc
# ip6src dropcount ethsrc comment) and the comment's keys (hook family prefix in_ out physin
# physout hwtype hwaddr hwheader; "" when absent). A key the comment leaves out because the
# record states it (README, "Keys left out because the record states them") gets the value the
# record states: family from the IP version, hwtype and hwaddr from the SLL2 header.
count() {
    awk -F'\t' -v ncol="${#COLUMNS_[@]}" '
        function hex(s,   v, i) { # "0x0002" -> 2 (awks differ on hex input); "" stays ""
            if (s !~ /^0x[0-9a-fA-F]+$/) return s
            v = 0
            for (i = 3; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
            return v
        }
        function kv(key,   rest, i) {
            rest = " " rest_
            i = index(rest, " " key "=")
            if (i == 0) return ""
            rest = substr(rest, i + length(key) + 2)
            i = index(rest, " ")
            return i ? substr(rest, 1, i - 1) : rest
        }
        NF != ncol { print "bad table line: " $0 > "/dev/stderr"; exit 2 }
        {
            dir = hex($2); etype = $3; pkttype = $4; ifindex = $5; hatype = $6; opcode = $7
            arp_spa = $8; arp_tpa = $9; icmp = $10; icmp6 = $11; ipsrc = $12; ip6src = $13
            dropcount = $14; ethsrc = $15; comment = $16
            prefix = ""; rest_ = comment
            if (match(comment, / prefix="[^"]*"/)) {
                prefix = substr(comment, RSTART + 9, RLENGTH - 10)
                rest_ = substr(comment, 1, RSTART - 1) substr(comment, RSTART + RLENGTH)
            }
            hook = kv("hook"); family = kv("family"); in_ = kv("in"); out = kv("out")
            physin = kv("physin"); physout = kv("physout"); hwtype = kv("hwtype")
            hwaddr = kv("hwaddr"); hwheader = kv("hwheader")
            if (family == "") family = ipsrc != "" ? "ipv4" : ip6src != "" ? "ipv6" : ""
            if (hwtype == "" && hatype != "" && hatype != 65535) hwtype = hatype
            if (hwaddr == "") hwaddr = ethsrc
        }
        ('"$2"') { n++ }
        END { print n + 0 }' "$1.tsv" || fail "count: bad condition or table: $2"
}
# expect FILE WHAT N CONDITION: exactly N frames of FILE satisfy CONDITION.
expect() {
    check_eq "$2" "$3" "$(count "$1" "$4")"
}
# tshark_count FILE DISPLAY-FILTER: frames matching a Wireshark display filter.
tshark_count() {
    tshark -n -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l
}

# seqs: the seq= values of table lines on stdin, sorted, on one line.
seqs() { sed -En 's/.* seq=([0-9]+)( .*)?$/\1/p' | sort -n | paste -sd' '; }

br="br0/$idx_br"
vb="vethb/$idx_vb"
vbc="vethbc/$idx_vbc"
hdr_a_to_br=$(echo "$mac_br$mac_a" | tr -d :)0800
S=$sll2

# --- the sll2 file: every record, dissected right
check_eq "frames dissected as malformed (sll2)" 0 "$(tshark_count "$S" _ws.malformed)"
check_eq "frames with an expert error (sll2)" 0 "$(tshark_count "$S" '_ws.expert.severity >= error')"
expect "$S" "frames (sll2)" "$ALL_RECORDS" '1'
expect "$S" "ARP records dissected with an opcode" "$ARP_RECORDS" 'opcode != ""'
expect "$S" "records with SLL2 protocol 0x0806" "$ARP_RECORDS" 'etype == "0x0806"'
expect "$S" "records with SLL2 protocol 0x0806 not dissected as ARP" 0 'etype == "0x0806" && opcode == ""'
expect "$S" "frames with SLL2 protocol 0x0800, all ICMP" 18 'etype == "0x0800" && icmp != ""'
expect "$S" "frames with SLL2 protocol 0x86dd, all ICMPv6" 12 'etype == "0x86dd" && icmp6 != ""'
expect "$S" "ARP requests" 9 'opcode == 1'
expect "$S" "ARP replies" 5 'opcode == 2'
expect "$S" "received ARP broadcasts: SLL2 packet type broadcast" 6 'opcode == 1 && pkttype == 1 && dir != 2 && hwheader ~ /^ffffffffffff/'

# arp family, both hooks: the "arp out" records had their Ethernet header moved to hwheader.
expect "$S" "arp input records" 3 'family == "arp" && hook == "input" && prefix == "arp in" && in_ == "'"$br"'" && out == "" && opcode != ""'
expect "$S" "arp input: requests from A (1, 2)" 2 'prefix == "arp in" && opcode == 1 && arp_spa == "192.0.2.1" && hwaddr == "'"$mac_a"'" && hwheader ~ /^ffffffffffff/'
expect "$S" "arp input: reply from A (5)" 1 'prefix == "arp in" && opcode == 2 && arp_spa == "192.0.2.1" && arp_tpa == "192.0.2.2"'
expect "$S" "arp output records" 2 'family == "arp" && hook == "output" && prefix == "arp out" && out == "'"$br"'" && in_ == "" && pkttype == 4 && dir == 2'
expect "$S" "arp output: reply to A (2)" 1 'prefix == "arp out" && opcode == 2 && arp_spa == "192.0.2.2" && arp_tpa == "192.0.2.1" && hwheader == "'"$(echo "$mac_a$mac_br" | tr -d :)"'0806"'
expect "$S" "arp output: broadcast request (5)" 1 'prefix == "arp out" && opcode == 1 && arp_spa == "192.0.2.2" && arp_tpa == "192.0.2.1" && hwheader == "ffffffffffff'"$(echo "$mac_br" | tr -d :)"'0806"'

# bridge family: the bridge in in=, the port in physin=/physout=.
expect "$S" "bridge input records" 8 'family == "bridge" && hook == "input" && prefix == "bridge in" && in_ == "'"$br"'" && physin == "'"$vb"'" && out == "" && physout == "" && hwaddr == "'"$mac_a"'"'
expect "$S" "bridge input: ARP (1, 2 requests; 5 reply)" 3 'prefix == "bridge in" && opcode != ""'
expect "$S" "bridge input: ICMP echo requests (2)" 2 'prefix == "bridge in" && icmp == 8 && ipsrc == "192.0.2.1" && hwheader == "'"$hdr_a_to_br"'"'
expect "$S" "bridge input: ICMP echo reply (5)" 1 'prefix == "bridge in" && icmp == 0'
expect "$S" "bridge input: ICMPv6 echo requests (4)" 2 'prefix == "bridge in" && icmp6 == 128 && ip6src == "2001:db8::1"'
expect "$S" "bridge forward records" 11 'family == "bridge" && hook == "forward" && prefix == "bridge fwd" && in_ == "'"$br"'" && out == "'"$br"'"'
expect "$S" "bridge forward A->C (vethb -> vethbc)" 6 'prefix == "bridge fwd" && physin == "'"$vb"'" && physout == "'"$vbc"'" && hwaddr == "'"$mac_a"'"'
expect "$S" "bridge forward C->A (vethbc -> vethb)" 5 'prefix == "bridge fwd" && physin == "'"$vbc"'" && physout == "'"$vb"'" && hwaddr == "'"$mac_c"'"'
expect "$S" "bridge forward: ARP requests flooded (1, 2)" 2 'prefix == "bridge fwd" && opcode == 1 && physout == "'"$vbc"'"'
expect "$S" "bridge forward: ARP reply from C (1)" 1 'prefix == "bridge fwd" && opcode == 2 && arp_spa == "192.0.2.3"'
expect "$S" "bridge forward: ICMP echo requests A->C" 2 'prefix == "bridge fwd" && icmp == 8 && ipsrc == "192.0.2.1" && physout == "'"$vbc"'"'
expect "$S" "bridge forward: ICMP echo replies C->A" 2 'prefix == "bridge fwd" && icmp == 0 && ipsrc == "192.0.2.3" && physout == "'"$vb"'"'
expect "$S" "bridge forward: ICMPv6 echo requests A->C" 2 'prefix == "bridge fwd" && icmp6 == 128 && ip6src == "2001:db8::1" && physout == "'"$vbc"'"'
expect "$S" "bridge forward: ICMPv6 echo replies C->A" 2 'prefix == "bridge fwd" && icmp6 == 129 && ip6src == "2001:db8::3" && physout == "'"$vb"'"'
expect "$S" "bridge output records" 8 'family == "bridge" && hook == "output" && prefix == "bridge out" && out == "'"$br"'" && in_ == "" && physin == "" && pkttype == 4'
expect "$S" "bridge output: ARP request flooded to both ports (5)" 2 'prefix == "bridge out" && opcode == 1 && (physout == "'"$vb"'" || physout == "'"$vbc"'")'
expect "$S" "bridge output: ARP request to C's port (5)" 1 'prefix == "bridge out" && opcode == 1 && physout == "'"$vbc"'"'
expect "$S" "bridge output: ARP reply to A (2)" 1 'prefix == "bridge out" && opcode == 2 && physout == "'"$vb"'"'
expect "$S" "bridge output: ICMP echo replies (2)" 2 'prefix == "bridge out" && icmp == 0 && physout == "'"$vb"'"'
expect "$S" "bridge output: ICMP echo request (5)" 1 'prefix == "bridge out" && icmp == 8 && physout == "'"$vb"'"'
expect "$S" "bridge output: ICMPv6 echo replies (4)" 2 'prefix == "bridge out" && icmp6 == 129 && physout == "'"$vb"'"'

# ip6 and inet families
expect "$S" "ip6 input: ICMPv6 echo requests" 2 'family == "ipv6" && hook == "input" && prefix == "ip6 in" && icmp6 == 128 && in_ == "'"$br"'" && physin == ""'
expect "$S" "ip6 output: ICMPv6 echo replies" 2 'family == "ipv6" && hook == "output" && prefix == "ip6 out" && icmp6 == 129 && out == "'"$br"'" && physout == ""'
expect "$S" "inet prerouting: ICMP echo requests" 2 'family == "ipv4" && hook == "prerouting" && prefix == "inet pre" && icmp == 8 && in_ == "'"$br"'" && hwheader == "'"$hdr_a_to_br"'"'
expect "$S" "inet input: ICMP echo requests" 2 'family == "ipv4" && hook == "input" && prefix == "inet in" && icmp == 8 && in_ == "'"$br"'"'
expect "$S" "inet output: ICMP echo replies" 2 'family == "ipv4" && hook == "output" && prefix == "inet out" && icmp == 0 && out == "'"$br"'"'
expect "$S" "inet postrouting: ICMP echo replies" 2 'family == "ipv4" && hook == "postrouting" && prefix == "inet post" && icmp == 0 && out == "'"$br"'"'

# The cooked header and the epb_flags direction follow the hook.
expect "$S" "inbound (input, prerouting hooks)" 17 'dir == 1 && (hook == "input" || hook == "prerouting")'
expect "$S" "outbound (output, postrouting hooks)" 16 'dir == 2 && (hook == "output" || hook == "postrouting")'
expect "$S" "no direction (forward hook)" 11 'dir == "" && hook == "forward"'
expect "$S" "SLL2 outgoing packet type on outbound records" 16 'pkttype == 4 && dir == 2'
expect "$S" "SLL2 ifindex: br0 (the bridge, not the port)" "$ALL_RECORDS" 'ifindex == '"$idx_br"
expect "$S" "records with a dropcount" 0 'dropcount != ""'
# Sequence numbers: exactly 0..N-1, no gap, no repeat.
check_eq "sequence numbers (sll2)" "$(seq 0 $((ALL_RECORDS - 1)) | paste -sd' ')" "$(seqs <"$S.tsv")"

# --- the raw file: the IP records only, the ARP ones counted and reported
R=$raw
check_eq "frames dissected as malformed (raw)" 0 "$(tshark_count "$R" _ws.malformed)"
expect "$R" "frames (raw)" "$IP_RECORDS" '1'
expect "$R" "ARP frames (raw)" 0 'opcode != ""'
expect "$R" "ICMP frames (raw)" 18 'icmp != "" && etype == ""'
expect "$R" "ICMPv6 frames (raw)" 12 'icmp6 != "" && etype == ""'
expect "$R" "bridge ICMP/ICMPv6 records (raw)" 18 'family == "bridge"'
expect "$R" "inbound (raw)" 11 'dir == 1 && (hook == "input" || hook == "prerouting")'
expect "$R" "outbound (raw)" 11 'dir == 2 && (hook == "output" || hook == "postrouting")'
expect "$R" "no direction (raw)" 8 'dir == "" && hook == "forward"'
expect "$R" "records with a dropcount (raw)" 0 'dropcount != ""'
# Both groups saw the same records in the same order: the raw file holds exactly the sequence
# numbers of the sll2 file's IP records (the skipped ARP records leave holes, not losses).
check_eq "sequence numbers (raw) = those of the IP records (sll2)" \
    "$(awk -F'\t' '$7 == ""' "$S.tsv" | seqs)" "$(seqs <"$R.tsv")"

# ... and the same metadata: each raw comment is the comment of the sll2 record with that seq,
# but for the group, seq_global (namespace-wide, so it counts the other group's records too) and
# hwtype and hwaddr, which a raw record has no header for (an SLL2 record's header holds them).
same_meta() { sed -E 's/^nflog:[0-9]* //; s/ (seq_global|hwtype|hwaddr)=[^ ]*//g' | sort; }
check_eq "raw comments = sll2 comments of the IP records" \
    "$(awk -F'\t' '$7 == "" { print $16 }' "$S.tsv" | same_meta)" "$(cut -f16 "$R.tsv" | same_meta)"
check_eq "raw IP records with the hardware address in their comment" \
    "$(awk -F'\t' '$7 == "" && $15 != ""' "$S.tsv" | wc -l)" "$(grep -c ' hwaddr=' "$R.tsv")"

check_eq "nfcap summary (sll2)" \
    "nfcap: $ALL_RECORDS packets written, 0 lost, 0 filtered, 0 malformed" \
    "$(grep '^nfcap: [0-9]* packets written' "$WORK/sll2.err")"
check_eq "nfcap summary (raw)" \
    "nfcap: $IP_RECORDS packets written, 0 lost, 0 filtered, 0 malformed, $ARP_RECORDS not representable in this link type" \
    "$(grep '^nfcap: [0-9]* packets written' "$WORK/raw.err")"
check_eq "'cannot carry' warnings (raw)" 1 "$(grep -c 'cannot carry' "$WORK/raw.err")"
check_eq "'cannot carry' warnings (sll2)" 0 "$(grep -c 'cannot carry' "$WORK/sll2.err" || true)"
for run in sll2 raw; do
    check_eq "other lines on nfcap's stderr ($run)" "" "$(grep -v -e '^nfcap: recording nflog:' \
        -e '^nfcap: [0-9]* packets written' -e 'cannot carry' "$WORK/$run.err" || true)"
done

echo "nflog_families: $ALL_RECORDS records (sll2) and $IP_RECORDS (raw) recorded and checked"
echo "1 passed, 0 failed"
