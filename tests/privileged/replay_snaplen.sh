#!/usr/bin/env bash
# Recordings made by the real tcpdump (`-i nflog:N -s S -w f.pcap`) and dumpcap (`-i nflog:N
# -s S -w f.pcapng`) at -s 60, 80, 128 and the default, of IPv4 and IPv6 ping and UDP with a
# known payload through nft `log group` rules at the input and output hooks, each replayed by
# nfcap: exit 0, nothing malformed or truncated (the kernel's records are whole: -s only makes
# NFULA_PAYLOAD shorter than the IP total length, which nfcap shows as trunc=LEN, as tshark
# shows the packet cut), every record converted, and field by field the same as tshark's own
# NFLOG dissector says about the original recording (tests/golden/nflog_agree.py: prefix, hook,
# protocol, interface indexes, uid/gid, kernel timestamp, network-layer bytes). tcpdump and
# dumpcap do not ask the kernel for sequence numbers, so the recordings carry none.
#
# Each capture listens on a group of its own (one listener per group), and every log rule has
# `queue-threshold 1`: libpcap receives NFLOG into a buffer of snaplen + 128 bytes, so a kernel
# batch of several records would not fit at a small -s (the records after the first come out
# garbled), and dumpcap 4.0 writes only the first record of a batch until the next one arrives.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark tcpdump dumpcap python3 setpriv
ensure_test_tools
setup_pair

snaplens=(60 80 128 default)
uid=4321
first_group=40
agree="$NFCAP_SOURCE_DIR/tests/golden/nflog_agree.py"
lua="$NFCAP_SOURCE_DIR/samples/wireshark/nfcap.lua"

# Two groups per snaplen: tcpdump on the first, dumpcap on the second.
groups=()
for ((i = 0; i < 2 * ${#snaplens[@]}; i++)); do
    groups+=($((first_group + i)))
done
{
    echo "table inet nfcapsnap {"
    echo "  chain input {"
    echo "    type filter hook input priority 0; policy accept;"
    for g in "${groups[@]}"; do
        echo "    ip saddr 192.0.2.1 icmp type echo-request log group $g queue-threshold 1 prefix \"i4\""
        echo "    ip6 saddr 2001:db8::1 icmpv6 type echo-request log group $g queue-threshold 1 prefix \"i6\""
        echo "    ip saddr 192.0.2.1 udp dport 7001 log group $g queue-threshold 1 prefix \"u4\""
        echo "    ip6 saddr 2001:db8::1 udp dport 7002 log group $g queue-threshold 1 prefix \"u6\""
    done
    echo "  }"
    echo "  chain output {"
    echo "    type filter hook output priority 0; policy accept;"
    for g in "${groups[@]}"; do
        echo "    ip daddr 192.0.2.1 icmp type echo-reply log group $g queue-threshold 1 prefix \"o4\""
        echo "    ip6 daddr 2001:db8::1 icmpv6 type echo-reply log group $g queue-threshold 1 prefix \"o6\""
        echo "    meta skuid $uid udp dport 7101 log group $g queue-threshold 1 prefix \"ou\""
    done
    echo "  }"
    echo "}"
} >"$WORK/rules.nft"
nft_b "$WORK/rules.nft"

# Start every capture; -Z root keeps tcpdump's capabilities (see DESIGN.md).
captures=()
pids=()
for ((i = 0; i < ${#snaplens[@]}; i++)); do
    s=${snaplens[i]}
    opt=()
    [ "$s" = default ] || opt=(-s "$s")
    g=${groups[2 * i]}
    bg_in "$NS_B" tcpdump -n -U -Z root "${opt[@]}" -i "nflog:$g" -w "$WORK/tcpdump-$s.pcap" \
        >/dev/null 2>"$WORK/tcpdump-$s.err"
    pids+=("$BG_PID")
    captures+=("tcpdump-$s.pcap")
    wait_nflog_bound "$NS_B" "$g"
    g=${groups[2 * i + 1]}
    bg_in "$NS_B" dumpcap -q "${opt[@]}" -i "nflog:$g" -w "$WORK/dumpcap-$s.pcapng" \
        >/dev/null 2>"$WORK/dumpcap-$s.err"
    pids+=("$BG_PID")
    captures+=("dumpcap-$s.pcapng")
    wait_nflog_bound "$NS_B" "$g"
done

# Traffic, paced so that each record travels alone. 3 + 3 ICMPv4, 3 + 3 ICMPv6 (84- and
# 104-byte packets), 3 UDP/IPv4 and 3 UDP/IPv6 datagrams of 300 bytes, 2 UDP datagrams sent by
# B as uid $uid: 20 records per group.
in_a ping -c 3 -i 0.2 -q 192.0.2.2 >/dev/null
in_a ping -c 3 -i 0.2 -q 2001:db8::2 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7001 3 300 --rate 20 >/dev/null
in_a "$NFCAP_TRAFFIC" udp-send 2001:db8::2 7002 3 300 --rate 20 >/dev/null
in_b setpriv --reuid "$uid" --regid "$uid" --clear-groups \
    "$NFCAP_TRAFFIC" udp-send 192.0.2.1 7101 2 64 --rate 20 >/dev/null
expected=20

# Wait (at most 5 s) until every capture has written its records, then stop them all.
for ((t = 0; t < 50; t++)); do
    done_all=1
    for c in "${captures[@]}"; do
        n=$(tshark -r "$WORK/$c" 2>/dev/null | wc -l || true)
        [ "$n" -ge "$expected" ] || done_all=0
    done
    [ "$done_all" = 1 ] && break
    sleep 0.1
done
for pid in "${pids[@]}"; do
    rc=0
    stop_pid "$pid" || rc=$?
done

checked=0
for c in "${captures[@]}"; do
    f="$WORK/$c"
    n=$(tshark -r "$f" 2>/dev/null | wc -l)
    check_eq "records in $c" "$expected" "$n"
    out="$WORK/$c.replayed.pcapng"
    rc=0
    "$NFCAP" -r "$f" -w "$out" 2>"$WORK/$c.nfcap.err" || rc=$?
    cat "$WORK/$c.nfcap.err"
    check_eq "nfcap exit status replaying $c" 0 "$rc"
    check_eq "nfcap summary for $c" "nfcap: $expected packets written, 0 filtered, 0 malformed" \
        "$(cat "$WORK/$c.nfcap.err")"
    python3 "$agree" "$f" "$out" "$lua" >"$WORK/$c.agree" || {
        cat "$WORK/$c.agree" >&2
        fail "$c: nfcap's replay disagrees with tshark"
    }
    echo "ok: $c: $(cat "$WORK/$c.agree")"
    checked=$((checked + 1))

    # The premise, where -s is below the record size: records longer than the header's snaplen.
    s=${c#*-}
    s=${s%%.*}
    if [ "$s" != default ]; then
        longer=$(tshark -r "$f" -Y "frame.len > $s" 2>/dev/null | wc -l)
        [ "$longer" -gt 0 ] || fail "$c: no record is longer than the snaplen $s"
        # Packets cut by -s: tshark sees fewer IP bytes than the IP header's total length; nfcap
        # says trunc=LEN with that total length, and writes the same bytes (checked above).
        cut=$(tshark -r "$f" -Y "ip.len > $s || ipv6.plen > $((s - 40))" 2>/dev/null | wc -l)
        marked=$(tshark -r "$out" -X "lua_script:$lua" -Y "nfcap.trunc" 2>/dev/null | wc -l)
        check_eq "$c: packets cut by -s $s, marked trunc= by nfcap" "$cut" "$marked"
        echo "ok: $c: $longer of $n records longer than the snaplen $s, $cut packets cut by it"
    else
        check_eq "$c: packets cut at the default snaplen" 0 \
            "$(tshark -r "$out" -X "lua_script:$lua" -Y "nfcap.trunc" 2>/dev/null | wc -l)"
    fi
    # Where -s keeps them whole, the 64-byte datagrams (92-byte packets) carry exactly what was
    # sent: "NFCT", be64 index k, then byte i = (k + i) & 0xff.
    [ "$s" = default ] || [ "$s" -ge 92 ] || continue
    tshark -r "$out" -Y 'udp.dstport == 7101' -T fields -e data.data 2>/dev/null | awk '
        { k = NR - 1; want = "4e464354" sprintf("%016x", k)
          for (i = 12; i < 64; i++) want = want sprintf("%02x", (k + i) % 256)
          if ($1 != want) bad = 1 }
        END { exit bad || NR != 2 }' || fail "$c: the uid $uid datagrams differ from what was sent"
done

echo "replay_snaplen: $checked recordings by tcpdump and dumpcap replayed and checked"
echo "1 passed, 0 failed"
