#!/usr/bin/env bash
# Re-creates the NFLOG sample recordings in this directory from real kernel traffic.
#
#   sudo samples/recordings/make-recordings.sh [OUTDIR]     (OUTDIR defaults to this directory)
#
# Everything happens in private network namespaces (nfcapA_$$, nfcapB_$$, nfcapC_$$) joined by
# veth pairs, with addresses from 192.0.2.0/24 and 2001:db8::/64 only; the namespaces, the
# processes in them and the temporary directory are removed on exit, also on failure.
# Needs root, nft, tcpdump, dumpcap, tshark, capinfos, setpriv, ping and g++ (the two test tools
# are built from tests/tools unless NFCAP_TRAFFIC and NFCAP_PCAP_SWAP name built binaries).
# README.md beside this script describes every file; the rules below are quoted there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export NFCAP_SOURCE_DIR=${NFCAP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
# shellcheck source-path=SCRIPTDIR/../../tests/privileged
# shellcheck source=../../tests/privileged/lib.sh
source "$NFCAP_SOURCE_DIR/tests/privileged/lib.sh"

[ -d "${1:-$here}" ] || fail "output directory ${1:-$here} does not exist"
out_dir=$(cd "${1:-$here}" && pwd)
require_root
require_cmd nft tcpdump dumpcap tshark capinfos setpriv ping ss
ensure_test_tools

# NFLOG groups: one per recording, so the group (NFLOG res_id) tells the files apart.
G_TCPDUMP=7
G_DUMPCAP=8
G_FAMILIES=9
NOBODY=65534 # the uid the "uid nobody" sender runs as

setup_pair
# shellcheck disable=SC2153 # NS_A and NS_B come from setup_pair
: "$NS_A" "$NS_B"
# The traffic tool must be executable by uid 65534 for the socket-owner rule.
chmod 711 "$WORK"
mkdir -m 755 "$WORK/pub"
install -m 755 "$NFCAP_TRAFFIC" "$WORK/pub/nfcap_traffic"
T="$WORK/pub/nfcap_traffic"
mkdir "$WORK/out"

# Permanent neighbour entries: no ARP/NDP noise in the inet recordings, so their packet counts
# depend only on the traffic below.
mac_a=$(ip -n "$NS_A" -br link show vetha | awk '{ print $3 }')
mac_b=$(ip -n "$NS_B" -br link show vethb | awk '{ print $3 }')
ip -n "$NS_A" neigh replace 192.0.2.2 lladdr "$mac_b" dev vetha nud permanent
ip -n "$NS_A" neigh replace 2001:db8::2 lladdr "$mac_b" dev vetha nud permanent
ip -n "$NS_B" neigh replace 192.0.2.1 lladdr "$mac_a" dev vethb nud permanent
ip -n "$NS_B" neigh replace 2001:db8::1 lladdr "$mac_a" dev vethb nud permanent

# The most unusual prefixes nft takes. Text rule files take any byte except '"' (ends the
# string), '$' (starts a variable) and NUL (ends the prefix); no escapes are interpreted, so a
# backslash is itself. Here: space, '=', UTF-8 "é" (c3 a9), TAB, backslash, 0x01, and 0xff
# (not valid UTF-8). A double quote (and '$') only gets in through nft's JSON input.
EXOTIC_TEXT=$(printf 'k=v \xc3\xa9\t\\ \x01\xff')
# shellcheck disable=SC2016 # the $ is meant literally
EXOTIC_JSON_ESCAPED='say \"hi\" $x \\ \u00e9' # JSON string body; decodes to: say "hi" $x \ é

# inet_rules GROUP: the ruleset in B for the two "same traffic" recordings.
inet_rules() {
    local g=$1
    cat <<EOF
# IPv6 neighbour discovery, router solicitations and MLD reports come and go with timers, so
# they are not logged: the recordings then hold only the traffic sent on purpose.
define ipv6_housekeeping = { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report }
table inet nfcap_rec {
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "vethb" icmpv6 type \$ipv6_housekeeping accept
        iifname "vethb" udp dport 5002 log group $g snaplen 64 prefix "snaplen 64" accept
        iifname "vethb" udp dport 5003 meta mark set 0x10 log group $g prefix "marked" accept
        iifname "vethb" udp dport 5005 log group $g prefix "$EXOTIC_TEXT" accept
        iifname "vethb" log group $g prefix "nfcap in"
    }
    chain output {
        type filter hook output priority filter; policy accept;
        oifname "vethb" icmpv6 type \$ipv6_housekeeping accept
        oifname "vethb" meta skuid $NOBODY log group $g prefix "uid nobody" accept
        oifname "vethb" log group $g prefix "nfcap out"
    }
}
EOF
}

# inet_json_rule GROUP: inserted at the top of the input chain (JSON input is the only way to
# put a double quote into a prefix).
inet_json_rule() {
    local g=$1
    cat <<EOF
{"nftables": [{"insert": {"rule": {"family": "inet", "table": "nfcap_rec", "chain": "input",
  "expr": [
    {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "vethb"}},
    {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
               "right": 5007}},
    {"log": {"group": $g, "prefix": "$EXOTIC_JSON_ESCAPED"}},
    {"accept": null}]}}}]}
EOF
}

load_inet_rules() {
    in_b nft delete table inet nfcap_rec 2>/dev/null || true
    inet_rules "$1" >"$WORK/inet.nft"
    nft_b "$WORK/inet.nft"
    inet_json_rule "$1" >"$WORK/inet.json"
    in_b nft -j -f "$WORK/inet.json" || fail "nft refused the JSON rule $WORK/inet.json"
}

# start_capture NS GROUP FILE TOOL: start tcpdump or dumpcap on nflog:GROUP; sets CAP_PID.
start_capture() {
    local ns=$1 group=$2 file=$3 tool=$4
    case $tool in
    # -Z root: keep the file owned by root (tcpdump otherwise switches to its own user).
    tcpdump) bg_in "$ns" tcpdump -n -U -Z root -i "nflog:$group" -w "$file" 2>"$file.log" ;;
    dumpcap) bg_in "$ns" dumpcap -q -i "nflog:$group" -w "$file" 2>"$file.log" ;;
    *) fail "unknown capture tool $tool" ;;
    esac
    CAP_PID=$BG_PID
    wait_nflog_bound "$ns" "$group"
}

# stop_capture: wait for the kernel to flush its partial NFLOG batch (flush timeout 1 s), then
# SIGTERM the capture (tcpdump and dumpcap both finish their file on it).
stop_capture() {
    sleep 2
    local rc=0
    stop_pid "$CAP_PID" || rc=$?
    [ "$rc" = 0 ] || fail "capture exited with status $rc"
}

# udp_receiver NS PORT COUNT: start a checking receiver; its pid is appended to RECEIVERS.
RECEIVERS=()
udp_receiver() {
    bg_in "$1" "$T" udp-recv "$2" "$3" --timeout 20 >"$WORK/recv-$2.out"
    RECEIVERS+=("$BG_PID")
    wait_port "$1" udp "$2"
}
wait_receivers() {
    local pid rc
    for pid in "${RECEIVERS[@]}"; do
        rc=0
        wait_pid "$pid" 25 || rc=$?
        [ "$rc" = 0 ] || fail "a UDP receiver failed: $(cat "$WORK"/recv-*.out)"
    done
    RECEIVERS=()
}

# inet_traffic: the traffic both inet recordings see, A (192.0.2.1) <-> B (192.0.2.2).
inet_traffic() {
    udp_receiver "$NS_B" 5001 6 # 3 over IPv4, 3 over IPv6 (dual-stack socket)
    udp_receiver "$NS_B" 5002 2
    udp_receiver "$NS_B" 5003 2
    udp_receiver "$NS_B" 5005 1
    udp_receiver "$NS_B" 5007 1
    udp_receiver "$NS_A" 5004 2
    udp_receiver "$NS_B" 5009 1 # the end marker
    in_a ping -n -q -c 2 -i 0.2 -W 2 192.0.2.2 >/dev/null
    in_a "$T" udp-send 192.0.2.2 5001 3 100 >/dev/null
    in_a "$T" udp-send 192.0.2.2 5002 2 200 >/dev/null
    in_a "$T" udp-send 192.0.2.2 5003 2 64 >/dev/null
    in_a "$T" udp-send 192.0.2.2 5005 1 32 >/dev/null
    in_a "$T" udp-send 192.0.2.2 5007 1 32 >/dev/null
    in_b setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
        "$T" udp-send 192.0.2.1 5004 2 48 >/dev/null
    bg_in "$NS_B" "$T" tcp-server 5006 600 --timeout 20 >"$WORK/tcp-server.out"
    local server=$BG_PID rc=0
    wait_port "$NS_B" tcp 5006
    in_a "$T" tcp-client 192.0.2.2 5006 600 --timeout 20 >/dev/null
    wait_pid "$server" 25 || rc=$?
    [ "$rc" = 0 ] || fail "tcp-server: $(cat "$WORK/tcp-server.out")"
    in_a ping -n -q -c 2 -i 0.2 -W 2 2001:db8::2 >/dev/null
    in_a "$T" udp-send 2001:db8::2 5001 3 100 >/dev/null
    # End marker: one datagram in a kernel batch of its own (sent after the flush timeout).
    # dumpcap writes only the first record of each NFLOG batch when the batch arrives; the rest
    # wait in libpcap's buffer until the next batch wakes it up, so without the marker the tail
    # of the last real batch would be lost when dumpcap stops.
    sleep 1.5
    in_a "$T" udp-send 192.0.2.2 5009 1 16 >/dev/null
    wait_receivers
}

echo "== nflog-tcpdump.pcap (tcpdump, group $G_TCPDUMP)"
load_inet_rules "$G_TCPDUMP"
start_capture "$NS_B" "$G_TCPDUMP" "$WORK/out/nflog-tcpdump.pcap" tcpdump
inet_traffic
stop_capture

echo "== nflog-dumpcap.pcapng (dumpcap, group $G_DUMPCAP)"
load_inet_rules "$G_DUMPCAP"
start_capture "$NS_B" "$G_DUMPCAP" "$WORK/out/nflog-dumpcap.pcapng" dumpcap
inet_traffic
stop_capture
in_b nft delete table inet nfcap_rec

echo "== nflog-families.pcap (tcpdump, group $G_FAMILIES: arp, bridge, ip6)"
# B becomes a bridge: br0 holds B's addresses, with vethb (to A) and vethbc (to C) as ports.
NS_C="nfcapC_$$"
new_ns "$NS_C"
ip link add vethc netns "$NS_C" type veth peer name vethbc netns "$NS_B" ||
    fail "cannot create the veth pair to C"
in_b ip addr flush dev vethb
in_b ip link add br0 type bridge
in_b ip link set vethb master br0
in_b ip link set vethbc master br0
in_b ip addr add 192.0.2.2/24 dev br0
in_b ip addr add 2001:db8::2/64 dev br0 nodad
in_b ip link set vethbc up
in_b ip link set br0 up
ip -n "$NS_C" addr add 192.0.2.3/24 dev vethc
ip -n "$NS_C" addr add 2001:db8::3/64 dev vethc nodad
ip -n "$NS_C" link set vethc up
# The bridge forwards once its ports leave the (default 0 s with STP off) learning states.
wait_ping "$NS_A" 192.0.2.3 50
wait_ping "$NS_A" 192.0.2.2 50
wait_ping "$NS_A" 2001:db8::3 50
wait_ping "$NS_A" 2001:db8::2 50

# ICMPv6 is logged only from 2001:db8::/64: duplicate address detection of the link-local
# addresses (source ::) and link-local probes come and go with timers.
cat >"$WORK/families.nft" <<EOF
table arp nfcap_arp {
    chain input {
        type filter hook input priority filter; policy accept;
        log group $G_FAMILIES prefix "arp in"
    }
    chain output {
        type filter hook output priority filter; policy accept;
        log group $G_FAMILIES prefix "arp out"
    }
}
table bridge nfcap_bridge {
    chain input {
        type filter hook input priority filter; policy accept;
        ether type arp log group $G_FAMILIES prefix "bridge in"
        ip protocol icmp log group $G_FAMILIES prefix "bridge in"
        ip6 saddr 2001:db8::/64 icmpv6 type { echo-request, echo-reply, nd-neighbor-solicit, nd-neighbor-advert } log group $G_FAMILIES prefix "bridge in"
    }
    chain forward {
        type filter hook forward priority filter; policy accept;
        ether type arp log group $G_FAMILIES prefix "bridge fwd"
        ip protocol icmp log group $G_FAMILIES prefix "bridge fwd"
        ip6 saddr 2001:db8::/64 icmpv6 type { echo-request, echo-reply, nd-neighbor-solicit, nd-neighbor-advert } log group $G_FAMILIES prefix "bridge fwd"
    }
    chain output {
        type filter hook output priority filter; policy accept;
        ether type arp log group $G_FAMILIES prefix "bridge out"
        ip protocol icmp log group $G_FAMILIES prefix "bridge out"
        ip6 saddr 2001:db8::/64 icmpv6 type { echo-request, echo-reply, nd-neighbor-solicit, nd-neighbor-advert } log group $G_FAMILIES prefix "bridge out"
    }
}
table ip6 nfcap_ip6 {
    chain input {
        type filter hook input priority filter; policy accept;
        ip6 saddr 2001:db8::/64 icmpv6 type { echo-request, echo-reply, nd-neighbor-solicit, nd-neighbor-advert } log group $G_FAMILIES prefix "ip6 in"
    }
    chain output {
        type filter hook output priority filter; policy accept;
        ip6 saddr 2001:db8::/64 icmpv6 type { echo-request, echo-reply, nd-neighbor-solicit, nd-neighbor-advert } log group $G_FAMILIES prefix "ip6 out"
    }
}
EOF
nft_b "$WORK/families.nft"
# Forget all neighbours so that the pings below start with ARP and neighbour discovery.
for ns in "$NS_A" "$NS_B" "$NS_C"; do
    ip -n "$ns" neigh flush all
done
start_capture "$NS_B" "$G_FAMILIES" "$WORK/out/nflog-families.pcap" tcpdump
in_a ping -n -q -c 2 -i 0.2 -W 2 192.0.2.3 >/dev/null   # across the bridge (ARP + ICMP)
in_a ping -n -q -c 1 -W 2 192.0.2.2 >/dev/null          # to B itself (ARP in/out)
in_a ping -n -q -c 2 -i 0.2 -W 2 2001:db8::3 >/dev/null # across the bridge (ND + ICMPv6)
in_a ping -n -q -c 2 -i 0.2 -W 2 2001:db8::2 >/dev/null # to B itself (ip6 family)
stop_capture

echo "== derived files"
S=$NFCAP_PCAP_SWAP
"$S" "$WORK/out/nflog-tcpdump.pcap" "$WORK/out/nflog-tcpdump-be.pcap"
"$S" --corrupt-tlv 3 "$WORK/out/nflog-tcpdump.pcap" "$WORK/malformed-1.pcap"
"$S" --truncate-last "$WORK/malformed-1.pcap" "$WORK/out/nflog-malformed.pcap"

echo "== checks"
# The byte-swapped file must read back exactly like the original (libpcap swaps it back),
# and swapping twice must give the original bytes.
tcpdump -n -v -r "$WORK/out/nflog-tcpdump.pcap" >"$WORK/le.txt" 2>/dev/null
tcpdump -n -v -r "$WORK/out/nflog-tcpdump-be.pcap" >"$WORK/be.txt" 2>/dev/null
cmp -s "$WORK/le.txt" "$WORK/be.txt" || fail "tcpdump reads the big-endian file differently"
tshark -n -V -r "$WORK/out/nflog-tcpdump.pcap" >"$WORK/le-tshark.txt"
tshark -n -V -r "$WORK/out/nflog-tcpdump-be.pcap" >"$WORK/be-tshark.txt"
cmp -s "$WORK/le-tshark.txt" "$WORK/be-tshark.txt" || fail "tshark reads the big-endian file differently"
"$S" "$WORK/out/nflog-tcpdump-be.pcap" "$WORK/roundtrip.pcap"
cmp -s "$WORK/out/nflog-tcpdump.pcap" "$WORK/roundtrip.pcap" || fail "swapping twice is not identity"
[ "$(head -c 4 "$WORK/out/nflog-tcpdump-be.pcap" | od -An -tx1 | tr -d ' ')" = a1b2c3d4 ] ||
    fail "nflog-tcpdump-be.pcap does not start with the big-endian magic"

for f in nflog-tcpdump.pcap nflog-dumpcap.pcapng nflog-families.pcap nflog-tcpdump-be.pcap; do
    n=$(capinfos -M -c "$WORK/out/$f" | awk '/Number of packets/ { print $NF }')
    [ "$n" -gt 0 ] || fail "$f has no packets"
    size=$(stat -c %s "$WORK/out/$f")
    [ "$size" -lt 102400 ] || fail "$f is $size bytes, over 100 KB"
done
# Every prefix reached the file byte for byte (NFULA_PREFIX carries it NUL-terminated). tshark
# is no help here: it shows each non-ASCII byte of a prefix as U+FFFD.
# shellcheck disable=SC2016 # the $ is meant literally
for p in "nfcap in" "nfcap out" "uid nobody" "snaplen 64" "marked" "$EXOTIC_TEXT" \
    "$(printf 'say "hi" $x \\ \xc3\xa9')"; do
    LC_ALL=C grep -qaF -- "$p" "$WORK/out/nflog-tcpdump.pcap" ||
        fail "prefix '$p' missing from nflog-tcpdump.pcap"
done

# dumpcap got everything up to the end marker.
tshark -n -r "$WORK/out/nflog-dumpcap.pcapng" -T fields -e udp.dstport 2>/dev/null | tail -n 1 |
    grep -qx 5009 || fail "nflog-dumpcap.pcapng does not end with the marker datagram"
# Each family and hook of the families recording is there; bridge records carry the ports.
tshark -n -r "$WORK/out/nflog-families.pcap" -T fields -e nflog.prefix \
    -e nflog.ifindex_physindev -e nflog.ifindex_physoutdev 2>/dev/null >"$WORK/families.txt"
for p in "arp in" "arp out" "bridge in" "bridge fwd" "bridge out" "ip6 in" "ip6 out"; do
    grep -q "^$p"$'\t' "$WORK/families.txt" || fail "no '$p' record in nflog-families.pcap"
done
grep -q $'^bridge fwd\t[0-9][0-9]*\t[0-9][0-9]*$' "$WORK/families.txt" ||
    fail "bridge forward records lack physindev/physoutdev"

install -m 644 "$WORK"/out/nflog-*.pcap "$WORK"/out/nflog-*.pcapng "$out_dir/"
echo "== written to $out_dir"
for f in nflog-tcpdump.pcap nflog-dumpcap.pcapng nflog-families.pcap nflog-tcpdump-be.pcap \
    nflog-malformed.pcap; do
    printf '%-24s %6s bytes  %s packets\n' "$f" "$(stat -c %s "$out_dir/$f")" \
        "$(capinfos -M -c "$out_dir/$f" 2>/dev/null | awk '/Number of packets/ { print $NF }')"
done
