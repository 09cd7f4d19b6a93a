#!/usr/bin/env bash
# The real binary replays every committed recording to the committed golden pcapng, byte for
# byte, and independent readers (tshark, capinfos) accept what it wrote. The malformed recording
# gives one warning per bad record, exit status 3, and a readable file of the good records.
set -euo pipefail
: "${NFCAP:?set NFCAP to the nfcap binary}" "${NFCAP_SOURCE_DIR:?set NFCAP_SOURCE_DIR}"
rec="$NFCAP_SOURCE_DIR/samples/recordings"
gold="$NFCAP_SOURCE_DIR/samples/golden"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # $work, fail, ok, $passed

replay() { # replay RECORDING LINKTYPE OUT -> exit status of nfcap, stderr in OUT.err
    local rc=0
    "$NFCAP" -r "$rec/$1" --linktype "$2" -w "$3" 2>"$3.err" || rc=$?
    return "$rc"
}

for spec in nflog-tcpdump.pcap:sll2 nflog-tcpdump.pcap:raw nflog-tcpdump.pcap:nflog \
    nflog-dumpcap.pcapng:sll2 nflog-families.pcap:sll2; do
    file=${spec%%:*}
    lt=${spec##*:}
    out="$work/${file%.*}.$lt.pcapng"
    replay "$file" "$lt" "$out" || fail "nfcap -r $file --linktype $lt: $(cat "$out.err")"
    cmp -s "$out" "$gold/${file%.*}.$lt.pcapng" || fail "$file ($lt) differs from the golden file"
    tshark -r "$out" -V >/dev/null 2>"$work/tshark.err" || fail "tshark cannot read $out"
    if grep -v '^Running as user' "$work/tshark.err" | grep -q .; then
        fail "tshark complained about $out: $(cat "$work/tshark.err")"
    fi
    # LINKTYPE_NFLOG keeps the kernel's records verbatim, cut payloads included, so Wireshark
    # flags those exactly as in the original recording; the other link types carry the true
    # original length and show the cut as a cut.
    bad_in=0
    [ "$lt" != nflog ] || bad_in=$(tshark -r "$rec/$file" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
    bad_out=$(tshark -r "$out" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
    [ "$bad_out" -eq "$bad_in" ] || fail "tshark finds $bad_out malformed packets in $out (expected $bad_in)"
    capinfos "$out" >/dev/null 2>&1 || fail "capinfos cannot read $out"
    in=$(capinfos -c -M "$rec/$file" | sed -n 's/^Number of packets: *//p')
    got=$(capinfos -c -M "$out" | sed -n 's/^Number of packets: *//p')
    [ "$in" -eq "$got" ] || fail "$file ($lt): $in records in, $got out"
    ok "$file --linktype $lt: byte-identical to the golden file, $got packets read by tshark and capinfos"
done

# A live NFQUEUE session saved with --record-netlink: only the queued packets become records.
replay nfqueue-session.netlink.pcapng sll2 "$work/q.pcapng" || fail "netlink replay: $(cat "$work/q.pcapng.err")"
cmp -s "$work/q.pcapng" "$gold/nfqueue-session.sll2.pcapng" || fail "netlink replay differs from golden"
[ "$(tshark -r "$work/q.pcapng" -Y 'frame.comment matches "^nfqueue:5 hook=(input|output) .* id=[0-9]+ "' 2>/dev/null | wc -l)" -eq 12 ] ||
    fail "the 12 queued packets are not all there with their ids"
ok "NFQUEUE session recorded with --record-netlink: byte-identical replay, 12 packets"

# The big-endian copy of a recording gives exactly the same output.
replay nflog-tcpdump-be.pcap sll2 "$work/be.pcapng" || fail "big-endian replay: $(cat "$work/be.pcapng.err")"
cmp -s "$work/be.pcapng" "$gold/nflog-tcpdump.sll2.pcapng" || fail "big-endian replay differs"
ok "big-endian recording replays to the same bytes"

# Every comment in the output is one line of the documented grammar, and the exotic prefixes
# survive byte for byte (compared with the NFLOG dissector's view of the verbatim records).
tshark -r "$gold/nflog-tcpdump.sll2.pcapng" -T fields -e frame.comment 2>/dev/null >"$work/comments.txt"
bad=$(grep -cvE '^nflog:7 hook=(input|output) prefix=' "$work/comments.txt" || true)
[ "$bad" -eq 0 ] || fail "$bad comments do not follow the grammar"
# Every record is an inet-family IPv4 or IPv6 packet with a kernel timestamp or the file's: the
# family, the kernel as timestamp source, and the SLL2 header's hardware type and address are
# left out of the comment (README, "Keys left out because the record states them").
grep -qE ' (family|hwtype|hwaddr)=|ts=kernel' "$work/comments.txt" && fail "a comment repeats what its record states"
grep -q ' ts=file$' "$work/comments.txt" || fail "records without the kernel's time do not say ts=file"
grep -qF 'prefix="say \"hi\" $x \\ é"' "$work/comments.txt" || fail "quoted prefix not escaped as documented"
grep -qF 'prefix="k=v é\x09\\ \x01\xff"' "$work/comments.txt" || fail "control bytes not escaped as documented"
ok "comments follow the grammar; exotic prefixes escaped as documented"

# The malformed recording: record 3 has an impossible TLV length, the last record is cut short.
rc=0
replay nflog-malformed.pcap sll2 "$work/bad.pcapng" || rc=$?
[ "$rc" -eq 3 ] || fail "malformed replay exit status $rc, expected 3"
grep -q "^nfcap: record 3 (nflog:7) skipped: attribute type 10 at offset .* has length 188" "$work/bad.pcapng.err" ||
    fail "no warning naming record 3: $(cat "$work/bad.pcapng.err")"
grep -q "record 31 is damaged" "$work/bad.pcapng.err" || fail "no warning naming the cut record: $(cat "$work/bad.pcapng.err")"
grep -q "^nfcap: 29 packets written, 0 filtered, 2 malformed$" "$work/bad.pcapng.err" ||
    fail "summary: $(cat "$work/bad.pcapng.err")"
cmp -s "$work/bad.pcapng" "$gold/nflog-malformed.sll2.pcapng" || fail "malformed replay differs from golden"
[ "$(tshark -r "$work/bad.pcapng" 2>/dev/null | wc -l)" -eq 29 ] || fail "tshark does not read 29 packets"
ok "malformed recording: two named warnings, exit 3, the 29 good records converted"

# -F pcap (-P): classic pcap in each link type, the same packets as the pcapng (times to the
# microsecond, which classic pcap holds), read by tcpdump (libpcap) and tshark; LINKTYPE_NFLOG
# pcap is tcpdump's own format, so nfcap replays it back to the golden pcapng.
for lt in sll2 raw nflog; do
    out="$work/tcpdump.$lt.pcap"
    "$NFCAP" -r "$rec/nflog-tcpdump.pcap" -F pcap --linktype "$lt" -w "$out" 2>"$out.err" ||
        fail "nfcap -F pcap --linktype $lt: $(cat "$out.err")"
    capinfos -t "$out" | grep -q 'pcap$' || fail "$out is not classic pcap: $(capinfos -t "$out")"
    want=$(tshark -r "$gold/nflog-tcpdump.$lt.pcapng" -T fields -e frame.time_epoch -e frame.len -e frame.cap_len -e data.data -e ip.id 2>/dev/null |
        awk -F'\t' '{ $1 = substr($1, 1, index($1, ".") + 6); print }')
    got=$(tshark -r "$out" -T fields -e frame.time_epoch -e frame.len -e frame.cap_len -e data.data -e ip.id 2>/dev/null |
        awk -F'\t' '{ $1 = substr($1, 1, index($1, ".") + 6); print }')
    [ -n "$got" ] && [ "$got" = "$want" ] || fail "-F pcap --linktype $lt: tshark reads other packets than in the pcapng"
    [ "$(tcpdump -nr "$out" 2>/dev/null | wc -l)" -eq 31 ] || fail "tcpdump does not read 31 packets from $out"
    ok "-F pcap --linktype $lt: 31 packets, as in the pcapng, read by tshark and tcpdump"
done
"$NFCAP" -r "$work/tcpdump.nflog.pcap" -w "$work/again.pcapng" 2>"$work/again.err" || fail "replay of nfcap's NFLOG pcap: $(cat "$work/again.err")"
# The packets, comments included, are the golden file's; only the statistics block's span
# differs (the recording's own record times: tcpdump's receive times, nfcap's packet times).
fields() { tshark -r "$1" -T fields -e frame.time_epoch -e frame.len -e frame.comment -e data.data -e ip.id 2>/dev/null; }
[ "$(fields "$work/again.pcapng")" = "$(fields "$gold/nflog-tcpdump.sll2.pcapng")" ] ||
    fail "nfcap's LINKTYPE_NFLOG pcap does not replay to the golden pcapng's packets"
[ "$(fields "$work/again.pcapng" | grep -c 'prefix=')" -eq 31 ] || fail "the replayed NFLOG pcap lost its metadata"
"$NFCAP" -r "$rec/nflog-tcpdump.pcap" -P -w "$work/p.pcap" 2>/dev/null || fail "nfcap -P failed"
cmp -s "$work/p.pcap" "$work/tcpdump.sll2.pcap" || fail "-P differs from -F pcap"
ok "-P is -F pcap; nfcap's NFLOG pcap replays to the golden pcapng's packets and comments"

# --json-sidecar: one JSON line per packet written, naming its file and number there, with the
# metadata tshark's reading of the pcapng shows; a ring rotates it with its files.
"$NFCAP" -r "$rec/nflog-tcpdump.pcap" -P -w "$work/side.pcap" --json-sidecar "$work/side.jsonl" 2>"$work/side.err" ||
    fail "nfcap --json-sidecar: $(cat "$work/side.err")"
/usr/bin/python3 - "$work/side.jsonl" "$work/side.pcap" <<'PY' || fail "the sidecar does not match its pcap"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
packets = [l for l in lines if "packet" in l]
stats = [l for l in lines if "statistics" in l]
assert [l["packet"] for l in packets] == list(range(1, 32)), [l.get("packet") for l in packets]
assert all(l["file"] == sys.argv[2] for l in lines), lines[0]
assert all(l["source"] == "nflog:7" and "prefix" in l for l in packets)
assert packets[0]["prefix"] == "nfcap in" and packets[0]["hook"] == "input", packets[0]
assert len(stats) == 1 and stats[0]["statistics"]["written"] == 31, stats
PY
# (frame.len counts the 20-byte LINUX_SLL2 header the JSON length leaves out)
want=$(tshark -r "$gold/nflog-tcpdump.sll2.pcapng" -T fields -E separator=, -e frame.number -e ip.src -e ipv6.src -e frame.len 2>/dev/null |
    awk -F, '{ print $1, $2 $3, $4 - 20 }')
got=$(/usr/bin/python3 -c 'import json, sys
for l in map(json.loads, open(sys.argv[1])):
    if "packet" in l: print(l["packet"], l.get("src", ""), l["length"])' "$work/side.jsonl")
[ "$got" = "$want" ] || fail "sidecar packet, source address and length differ from the pcapng's frames"
"$NFCAP" -r "$rec/nflog-tcpdump.pcap" -b filesize:2 -w "$work/ring.pcapng" --json-sidecar "$work/ring.jsonl" 2>"$work/ring.err" ||
    fail "nfcap -b --json-sidecar: $(cat "$work/ring.err")"
n=0
for f in "$work"/ring_*.pcapng; do
    side=${f%.pcapng}.jsonl
    [ -f "$side" ] || fail "no sidecar beside $f"
    packets=$(capinfos -c -M "$f" | sed -n 's/^Number of packets: *//p')
    [ "$(grep -c "^{\"file\":\"$f\",\"packet\":" "$side")" -eq "$packets" ] ||
        fail "$side does not hold one line for each of the $packets packets of $f"
    n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "the ring has $n files, expected several"
ok "--json-sidecar: one line per packet with its file and number, beside a pcap and beside each file of a ring ($n)"

# The library sample prints one line per record of a recording.
if [ -n "${NFCAP_PRINT_RECORDS:-}" ]; then
    "$NFCAP_PRINT_RECORDS" "$rec/nflog-tcpdump.pcap" >"$work/printed.txt" || fail "nfcap_print_records failed"
    [ "$(grep -c '^nflog:7 hook=' "$work/printed.txt")" -eq 31 ] || fail "nfcap_print_records: $(head -3 "$work/printed.txt")"
    ok "the library sample prints the 31 records of a recording"
fi

echo "$passed passed, 0 failed"
