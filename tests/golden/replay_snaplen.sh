#!/usr/bin/env bash
# Recordings whose records run past the snaplen their header declares, as tcpdump and dumpcap
# write NFLOG recordings (the snaplen bounds the packet copied into a record, not the record):
# the committed tcpdump and dumpcap recordings with their snaplen rewritten to 80 and 60
# (nfcap_set_snaplen; no record changes), also big-endian and through a pipe. The real binary
# must convert every record whole, exit 0, write exactly the golden output of the original
# recording, and agree with tshark's NFLOG dissector field by field. Then records really cut
# (editcap -s, which keeps each record's original length): written as far as they go, counted
# as truncated, named in their comment, exit status 3.
set -euo pipefail
: "${NFCAP:?set NFCAP to the nfcap binary}" "${NFCAP_SOURCE_DIR:?set NFCAP_SOURCE_DIR}"
: "${NFCAP_SET_SNAPLEN:?set NFCAP_SET_SNAPLEN}" "${NFCAP_PCAP_SWAP:?set NFCAP_PCAP_SWAP}"
for tool in tshark capinfos editcap python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done
rec="$NFCAP_SOURCE_DIR/samples/recordings"
gold="$NFCAP_SOURCE_DIR/samples/golden"
lua="$NFCAP_SOURCE_DIR/samples/wireshark/nfcap.lua"
agree="$NFCAP_SOURCE_DIR/tests/golden/nflog_agree.py"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # $work, fail, ok, $passed

# whole FILE GOLDEN [nfcap input: a path or "-" with FILE on stdin]
whole() {
    local file=$1 golden=$2 input=${3:-$1} out="$work/out.pcapng" rc=0
    "$NFCAP" -r "$input" -w "$out" <"$file" 2>"$work/err" || rc=$?
    [ "$rc" -eq 0 ] || fail "nfcap -r $input ($file): exit status $rc: $(cat "$work/err")"
    grep -q "^nfcap: [0-9]* packets written, 0 filtered, 0 malformed$" "$work/err" ||
        fail "$file: summary: $(cat "$work/err")"
    [ "$(wc -l <"$work/err")" -eq 1 ] || fail "$file: warnings: $(cat "$work/err")"
    cmp -s "$out" "$gold/$golden" || fail "$file: the replay differs from $golden"
}

for spec in nflog-tcpdump.pcap:nflog-tcpdump.sll2.pcapng nflog-dumpcap.pcapng:nflog-dumpcap.sll2.pcapng; do
    file=${spec%%:*}
    golden=${spec##*:}
    for snaplen in 80 60; do
        cut="$work/s$snaplen-$file"
        "$NFCAP_SET_SNAPLEN" "$snaplen" "$rec/$file" "$cut"
        # The premise: the header says $snaplen, and tshark reads records longer than that.
        # (pcap: the file header's "Packet size limit"; pcapng: each interface's "Capture length")
        capinfos "$cut" | grep -Eq "file hdr: $snaplen bytes|Capture length = $snaplen\$" ||
            fail "$cut: capinfos does not see snaplen $snaplen: $(capinfos "$cut")"
        longer=$(tshark -r "$cut" -Y "frame.cap_len > $snaplen" 2>/dev/null | wc -l)
        total=$(tshark -r "$cut" 2>/dev/null | wc -l)
        [ "$longer" -gt 0 ] && [ "$longer" -eq "$total" ] ||
            fail "$cut: $longer of $total records are longer than the snaplen (expected all)"
        whole "$cut" "$golden"
        python3 "$agree" "$cut" "$work/out.pcapng" "$lua" >"$work/agree" || {
            cat "$work/agree" >&2
            fail "$cut: nfcap's replay disagrees with tshark"
        }
        ok "$file with snaplen $snaplen: $total records longer than it, replayed whole (golden bytes); $(cat "$work/agree")"
    done
done

# The same records from a big-endian writer, and from a pipe.
"$NFCAP_PCAP_SWAP" "$work/s80-nflog-tcpdump.pcap" "$work/s80-be.pcap"
[ "$(head -c 4 "$work/s80-be.pcap" | od -An -tx1 | tr -d ' ')" = a1b2c3d4 ] || fail "not big-endian"
whole "$work/s80-be.pcap" nflog-tcpdump.sll2.pcapng
ok "big-endian pcap with snaplen 80: replayed whole"
whole "$work/s80-nflog-dumpcap.pcapng" nflog-dumpcap.sll2.pcapng -
whole "$work/s80-nflog-tcpdump.pcap" nflog-tcpdump.sll2.pcapng -
ok "pcapng and pcap with snaplen 80 on standard input (a pipe): replayed whole"

# Records really cut: editcap -s 100 keeps 100 bytes of each record and its original length.
editcap -s 100 "$rec/nflog-tcpdump.pcap" "$work/cut.pcap"
records=$(tshark -r "$rec/nflog-tcpdump.pcap" 2>/dev/null | wc -l)
expected=$(tshark -r "$rec/nflog-tcpdump.pcap" -Y 'frame.len > 100' 2>/dev/null | wc -l)
[ "$expected" -gt 0 ] || fail "no record of the sample is longer than 100 bytes"
rc=0
"$NFCAP" -r "$work/cut.pcap" -w "$work/cut.pcapng" 2>"$work/cut.err" || rc=$?
[ "$rc" -eq 3 ] || fail "cut records: exit status $rc, expected 3: $(cat "$work/cut.err")"
grep -q "^nfcap: $records packets written, 0 filtered, 0 malformed, $expected truncated$" "$work/cut.err" ||
    fail "cut records: summary: $(cat "$work/cut.err")"
grep -q "^nfcap: record 1 (nflog:7) is truncated: the recording holds 100 of its [0-9]* bytes" "$work/cut.err" ||
    fail "cut records: no warning naming the first: $(cat "$work/cut.err")"
[ "$(wc -l <"$work/cut.err")" -eq 2 ] || fail "cut records: one warning expected: $(cat "$work/cut.err")"
tagged=$(tshark -r "$work/cut.pcapng" -X "lua_script:$lua" -Y 'nfcap.truncated.captured == 100' 2>/dev/null | wc -l)
[ "$tagged" -eq "$expected" ] || fail "cut records: $tagged comments say truncated=100/..., expected $expected"
# Each comment's original length is the record's own, and what was before the cut is kept:
# the prefix (the second TLV) of every record, as tshark reads it from the cut file.
paste -d'|' <(tshark -r "$rec/nflog-tcpdump.pcap" -Y 'frame.len > 100' -T fields -e frame.len 2>/dev/null) \
    <(tshark -r "$work/cut.pcapng" -X "lua_script:$lua" -Y nfcap.truncated -T fields -e nfcap.truncated.original 2>/dev/null) |
    awk -F'|' '$1 != $2 { bad = 1 } END { exit bad }' || fail "cut records: original lengths differ"
[ "$(tshark -r "$work/cut.pcapng" -X "lua_script:$lua" -Y 'nfcap.prefix' 2>/dev/null | wc -l)" -eq "$records" ] ||
    fail "cut records: a prefix was lost"
ok "records cut by editcap -s 100: $expected of $records truncated, written with truncated=100/LEN, prefixes kept, exit 3"

# A netlink session cut the same way: each record's last message is a cut NFQUEUE packet.
editcap -s 120 "$rec/nfqueue-session.netlink.pcapng" "$work/q-cut.pcapng"
rc=0
"$NFCAP" -r "$work/q-cut.pcapng" -w "$work/q-cut.out.pcapng" 2>"$work/q-cut.err" || rc=$?
[ "$rc" -eq 3 ] || fail "cut netlink session: exit status $rc, expected 3: $(cat "$work/q-cut.err")"
grep -q "^nfcap: 12 packets written, 0 filtered, 0 malformed, 12 truncated$" "$work/q-cut.err" ||
    fail "cut netlink session: summary: $(cat "$work/q-cut.err")"
[ "$(tshark -r "$work/q-cut.out.pcapng" -X "lua_script:$lua" -Y 'nfcap.id && nfcap.truncated' 2>/dev/null | wc -l)" -eq 12 ] ||
    fail "cut netlink session: not every queued packet kept its id and the truncated key"
ok "netlink session cut by editcap -s 120: the 12 queued packets written truncated, with their ids"

echo "$passed passed, 0 failed"
