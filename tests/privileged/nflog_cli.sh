#!/usr/bin/env bash
# Command-line behaviour against a real kernel: several groups in one file, snaplen, filter,
# link types, SIGINT with a complete file, and the one-line errors (group owned by another
# process, missing CAP_NET_ADMIN, bad filter, unreadable or foreign recordings).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft setpriv unshare tcpdump
ensure_test_tools
setup_pair

cat >"$WORK/rules.nft" <<'EOF'
table inet cli {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport 7401 log group 8 prefix "g8"
    ip saddr 192.0.2.1 udp dport 7402 log group 9 prefix "g9"
    ip6 saddr 2001:db8::1 udp dport 7402 log group 9 prefix "g9 v6"
  }
}
EOF
nft_b "$WORK/rules.nft"

send() { in_a "$NFCAP_TRAFFIC" udp-send "$@" >/dev/null; }
frames() { tshark -r "$1" ${2:+-Y "$2"} -T fields -e frame.number 2>/dev/null | wc -l; }

# --- two groups, one file, one interface block each; a snaplen that cuts; SIGINT ends cleanly.
out="$WORK/groups.pcapng"
set -m # job control: a background job then receives SIGINT as a terminal user's would
# In a UTS namespace of its own, as a firewall named fw-test: the file names that host.
ip netns exec "$NS_B" unshare --uts sh -c 'hostname fw-test && exec "$0" "$@"' \
    "$NFCAP" -g 8-9 -s 64 -w "$out" 2>"$WORK/groups.err" &
cap=$!
set +m
track_pid "$cap"
wait_nflog_bound "$NS_B" 8
wait_nflog_bound "$NS_B" 9
# -D lists what is bound in the namespace, and by which process (as dumpcap -D lists
# interfaces); outside it, group 8 is free.
"$NFCAP" -D --netns "$NS_B" >"$WORK/list.txt"
check_eq "-D: nflog:8 and nflog:9 bound by this capture" 2 \
    "$(grep -cE "^   nflog:[89] +process $cap \(nfcap\)$" "$WORK/list.txt")"
check_eq "-D: the first line names nflog:N" "1. nflog:N" "$(head -1 "$WORK/list.txt" | cut -d' ' -f1-2)"
send 192.0.2.2 7401 3 400
send 192.0.2.2 7402 4 400
send 2001:db8::2 7402 2 400
sleep 0.3
kill -INT "$cap"
rc=0
wait_pid "$cap" 10 || rc=$?
cat "$WORK/groups.err" >&2
check_eq "exit status after SIGINT" 0 "$rc"
capinfos "$out" >"$WORK/capinfos.txt" 2>&1 || fail "capinfos: $(cat "$WORK/capinfos.txt")"
check_eq "interface blocks" 2 "$(grep -c 'Name = nflog:' "$WORK/capinfos.txt")"
check_eq "statistics blocks written at SIGINT" 2 "$(grep -c 'Number of stat entries = 1' "$WORK/capinfos.txt")"
check_eq "interface blocks name the host" 2 "$(grep -c 'Description = NFLOG group [89] on fw-test (LINUX_SLL2)' "$WORK/capinfos.txt")"
check_eq "section header: the host's OS" "$(uname -s) $(uname -r)" "$(sed -n 's/^Capture oper-sys: *//p' "$WORK/capinfos.txt")"
check_eq "section header: the host's hardware" "$(uname -m)" "$(sed -n 's/^Capture hardware: *//p' "$WORK/capinfos.txt")"
check_eq "records on nflog:8" 3 "$(frames "$out" 'frame.interface_name == "nflog:8"')"
check_eq "records on nflog:9" 6 "$(frames "$out" 'frame.interface_name == "nflog:9"')"
check_eq "group 8 records carry prefix g8" 3 "$(frames "$out" 'frame.interface_name == "nflog:8" && frame.comment contains "prefix=g8 "')"
check_eq "captured length with -s 64" "84" "$(tshark -r "$out" -T fields -e frame.cap_len 2>/dev/null | sort -u)"
check_eq "original length kept" "448" "$(tshark -r "$out" -Y ip -T fields -e frame.len 2>/dev/null | sort -u)"
check_eq "truncated records say so" 9 "$(frames "$out" 'frame.comment contains " trunc="')"

# --- capture filter (BPF in user space), both families; the rest is counted as filtered.
out="$WORK/filter.pcapng"
bg_in "$NS_B" "$NFCAP" -i nflog:9 -w "$out" ip6 and udp 2>"$WORK/filter.err" # -i as tcpdump's
cap=$BG_PID
wait_nflog_bound "$NS_B" 9
send 192.0.2.2 7402 5 64
send 2001:db8::2 7402 3 64
sleep 0.3
stop_pid "$cap" || fail "nfcap with a filter failed: $(cat "$WORK/filter.err")"
check_eq "IPv6 records kept by the filter" 3 "$(frames "$out" ipv6)"
check_eq "records in the file" 3 "$(frames "$out")"
grep -q " 5 filtered" "$WORK/filter.err" || fail "filtered count missing: $(cat "$WORK/filter.err")"

# --- classic pcap (-P), live, for libpcap-based engines: tcpdump reads every record, each group.
out="$WORK/live.pcap"
bg_in "$NS_B" "$NFCAP" -g 8-9 -P -w "$out" --json-sidecar "$WORK/live.jsonl" 2>"$WORK/pcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" 8
# Each thread says what it does (top -H, ps -L, perf): the writer keeps the program's name.
# The socket is bound before the threads start: give them a moment.
threads=""
for ((i = 0; i < 50; i++)); do
    threads=$(cat /proc/"$cap"/task/*/comm | sort | tr '\n' ' ' | sed 's/ $//')
    [ "$threads" = "nfcap nfcap-names nflog-rx" ] && break
    sleep 0.1
done
check_eq "threads named: writer, interface names, receive thread" "nfcap nfcap-names nflog-rx" \
    "$threads"
send 192.0.2.2 7401 2 64
send 2001:db8::2 7402 3 64
sleep 0.3
stop_pid "$cap" || fail "nfcap -P failed: $(cat "$WORK/pcap.err")"
check_eq "-P: classic pcap" "pcap" "$(capinfos -t "$out" | sed -n 's/^File type: *.* - //p')"
check_eq "-P: the start line says what the file holds" 1 \
    "$(grep -c "^nfcap: recording nflog:8, nflog:9 to $out (classic pcap, link type LINUX_SLL2, no metadata in the file, snaplen 262144), metadata to $WORK/live.jsonl$" "$WORK/pcap.err")"
check_eq "-P: tcpdump reads every record" 5 "$(tcpdump -nr "$out" 2>/dev/null | wc -l)"
check_eq "-P: the summary counts them" "nfcap: 5 packets written, 0 lost, 0 filtered, 0 malformed" "$(summary_of "$WORK/pcap.err")"
# The sidecar carries what the pcap cannot: group, sequence number, prefix, per packet, in order.
check_eq "-P: sidecar lines, one per packet, numbered" "1 2 3 4 5" "$(grep -o '"packet":[0-9]*' "$WORK/live.jsonl" | cut -d: -f2 | paste -sd ' ')"
check_eq "-P: sidecar: group 8's two with seq and prefix" 2 "$(grep -c '"source":"nflog:8".*"prefix":"g8".*"seq":[01],' "$WORK/live.jsonl")"
check_eq "-P: sidecar: group 9's three" 3 "$(grep -c '"source":"nflog:9".*"prefix":"g9 v6".*"seq":[012],' "$WORK/live.jsonl")"
check_eq "-P: sidecar: statistics of each group, exact" 2 "$(grep -c '"statistics":{"interface":"nflog:[89]".*"lost":0,"lost_exact":true' "$WORK/live.jsonl")"

# --- link types raw and nflog, live.
for lt in raw nflog; do
    out="$WORK/$lt.pcapng"
    bg_in "$NS_B" "$NFCAP" -g 8 --linktype "$lt" -w "$out" 2>"$WORK/$lt.err"
    cap=$BG_PID
    wait_nflog_bound "$NS_B" 8
    send 192.0.2.2 7401 2 64
    sleep 0.3
    stop_pid "$cap" || fail "--linktype $lt: $(cat "$WORK/$lt.err")"
    check_eq "UDP records in a $lt file" 2 "$(frames "$out" 'udp.dstport == 7401')"
done
check_eq "raw file encapsulation" "rawip" "$(capinfos -T -E "$WORK/raw.pcapng" | tail -1 | cut -f2)"
check_eq "nflog file encapsulation" "nflog" "$(capinfos -T -E "$WORK/nflog.pcapng" | tail -1 | cut -f2)"
check_eq "nflog records keep the kernel's prefix TLV" 2 "$(frames "$WORK/nflog.pcapng" 'nflog.prefix == "g8"')"

# --- a group someone else holds: the error names that process.
bg_in "$NS_B" "$NFCAP" -g 8 -w "$WORK/first.pcapng" 2>/dev/null
first=$BG_PID
wait_nflog_bound "$NS_B" 8
rc=0
in_b "$NFCAP" -g 8 -w "$WORK/second.pcapng" 2>"$WORK/second.err" || rc=$?
check_eq "exit status when the group is taken" 1 "$rc"
check_eq "lines of error" 1 "$(wc -l <"$WORK/second.err")"
grep -q "cannot bind NFLOG group 8: it is already bound by process $first (nfcap)" "$WORK/second.err" ||
    fail "owner not named: $(cat "$WORK/second.err")"
stop_pid "$first" || true

# --- without CAP_NET_ADMIN: the error names the capability.
rc=0
in_b setpriv --reuid 4321 --regid 4321 --clear-groups --inh-caps=-all --bounding-set=-all \
    "$NFCAP" -g 8 -w "$WORK/unpriv.pcapng" 2>"$WORK/unpriv.err" || rc=$?
check_eq "exit status without privileges" 1 "$rc"
check_eq "lines of error" 1 "$(wc -l <"$WORK/unpriv.err")"
grep -q "CAP_NET_ADMIN" "$WORK/unpriv.err" || fail "capability not named: $(cat "$WORK/unpriv.err")"

# --- a bad filter is a usage error, before anything is bound.
rc=0
in_b "$NFCAP" -g 8 -w "$WORK/bad.pcapng" -f "udp port banana" 2>"$WORK/bad.err" || rc=$?
check_eq "exit status for a bad filter" 2 "$rc"
grep -q "bad filter expression \"udp port banana\"" "$WORK/bad.err" || fail "$(cat "$WORK/bad.err")"
check_eq "lines of error" 1 "$(wc -l <"$WORK/bad.err")"

# --- replaying something that is not an NFLOG recording, or nothing at all.
rc=0
"$NFCAP" -r "$WORK/raw.pcapng" -w "$WORK/x.pcapng" 2>"$WORK/foreign.err" || rc=$?
check_eq "exit status for a foreign recording" 1 "$rc"
grep -q "cannot be replayed" "$WORK/foreign.err" || fail "$(cat "$WORK/foreign.err")"
rc=0
"$NFCAP" -r "$WORK/missing.pcap" -w "$WORK/x.pcapng" 2>"$WORK/missing.err" || rc=$?
check_eq "exit status for a missing recording" 1 "$rc"
check_eq "lines of error" 1 "$(wc -l <"$WORK/missing.err")"

# --- replay from standard input gives the same bytes as from the file.
"$NFCAP" -r "$WORK/nflog.pcapng" -w "$WORK/from-file.pcapng" 2>/dev/null
"$NFCAP" -r - -w "$WORK/from-stdin.pcapng" <"$WORK/nflog.pcapng" 2>/dev/null
cmp -s "$WORK/from-file.pcapng" "$WORK/from-stdin.pcapng" || fail "replay from stdin differs"
check_eq "records replayed from a live nflog file" 2 "$(frames "$WORK/from-file.pcapng" 'frame.comment contains "prefix=g8 in=2 "')"

echo "1 passed, 0 failed"
