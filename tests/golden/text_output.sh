#!/usr/bin/env bash
# Text and JSON output, checked field by field against the pcapng nfcap writes for the same
# records (read back by tshark): time, every metadata key, addresses, ports, lengths, payload.
set -euo pipefail
: "${NFCAP:?set NFCAP to the nfcap binary}" "${NFCAP_SOURCE_DIR:?set NFCAP_SOURCE_DIR}"
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
rec="$NFCAP_SOURCE_DIR/samples/recordings"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0

for file in nflog-tcpdump.pcap nflog-families.pcap nfqueue-session.netlink.pcapng; do
    "$NFCAP" -r "$rec/$file" -w "$work/out.pcapng" 2>/dev/null
    "$NFCAP" -r "$rec/$file" --json-payload >"$work/out.json" 2>/dev/null
    TZ=UTC "$NFCAP" -r "$rec/$file" >"$work/out.txt" 2>/dev/null
    tshark -r "$work/out.pcapng" -T fields -E separator=/t -E occurrence=f \
        -e frame.time_epoch -e frame.comment -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
        -e tcp.srcport -e udp.srcport -e tcp.dstport -e udp.dstport -e frame.len -e frame.cap_len \
        -e sll.etype >"$work/tshark.tsv" 2>/dev/null
    python3 - "$work/out.json" "$work/tshark.tsv" "$work/out.txt" "$work/out.pcapng" "$file" <<'PY'
import json, struct, sys

def parse_comment(c):
    """The comment grammar: source, then key=value; values may be quoted with C escapes."""
    first, _, rest = c.partition(' ')
    pairs = [('source', first.encode())]
    i = 0
    while i < len(rest):
        eq = rest.index('=', i)
        key = rest[i:eq]
        i = eq + 1
        if i < len(rest) and rest[i] == '"':
            i += 1
            out = bytearray()
            while rest[i] != '"':
                if rest[i] == '\\':
                    if rest[i + 1] == 'x':
                        out.append(int(rest[i + 2:i + 4], 16))
                        i += 4
                    else:
                        out += rest[i + 1].encode()
                        i += 2
                else:
                    out += rest[i].encode()
                    i += 1
            i += 2  # closing quote and the space
            pairs.append((key, out))
        else:
            end = rest.find(' ', i)
            end = len(rest) if end < 0 else end
            pairs.append((key, rest[i:end].encode()))
            i = end + 1
    return pairs

def pcapng_payloads(path):
    """Captured bytes of every EPB (host byte order, as nfcap writes)."""
    data = open(path, 'rb').read()
    out, i = [], 0
    while i < len(data):
        btype, blen = struct.unpack_from('<II', data, i)
        if btype == 6:
            caplen = struct.unpack_from('<I', data, i + 20)[0]
            out.append(data[i + 28:i + 28 + caplen])
        i += blen
    return out

json_path, tsv_path, txt_path, pcapng_path, name = sys.argv[1:]
objects = [json.loads(line) for line in open(json_path)]
# The stream ends with one statistics object per interface, after every record.
records = [o for o in objects if 'statistics' not in o]
statistics = [o['statistics'] for o in objects if 'statistics' in o]
assert objects[len(records):] == [{'statistics': s} for s in statistics], (name, 'statistics first')
assert statistics and sum(s['written'] for s in statistics) == len(records), (name, statistics)
for s in statistics:
    assert s['lost'] == s['lost_in_gaps'] and not s['lost_exact'], (name, s)
    assert s['loss'].startswith(f"{s['lost']} missing in sequence gaps"), (name, s)
rows = [line.rstrip('\n').split('\t') for line in open(tsv_path)]
lines = open(txt_path).read().splitlines()
payloads = pcapng_payloads(pcapng_path)
numeric = {'uid', 'gid', 'seq', 'seq_global', 'id', 'trunc', 'priority', 'hwtype', 'ctid', 'ctzone'}
assert len(records) == len(rows) == len(lines) == len(payloads) > 0, \
    (name, len(records), len(rows), len(lines), len(payloads))
for n, (r, row, line, cap) in enumerate(zip(records, rows, lines, payloads), 1):
    epoch, comment, ip_src, ip_dst, ip6_src, ip6_dst, tsport, usport, tdport, udport, flen, caplen, etype = row
    where = f'{name} record {n}'
    assert r['epoch'] == f'{float(epoch):.9f}' or str(r['epoch']) == epoch or abs(float(r['epoch']) - float(epoch)) < 1e-6, (where, r['epoch'], epoch)
    pairs = parse_comment(comment)
    for key, value in pairs:
        got = r[key]
        if key in numeric:
            assert got == int(value), (where, key, got, value)
        else:
            # JSON carries every byte: non-ASCII bytes as the code point of the same value.
            assert got.encode('latin-1') == value, (where, key, got, value)
    src = ip_src or ip6_src
    if src:
        assert r['src'] == src and r['dst'] == (ip_dst or ip6_dst), (where, r.get('src'), src)
    sport = tsport or usport
    if sport:
        assert r['sport'] == int(sport) and r['dport'] == int(tdport or udport), where
    assert r['length'] + 20 == int(flen) and r['caplen'] + 20 == int(caplen), (where, r['length'], flen)
    assert bytes.fromhex(r['payload']) == cap[20:], (where, 'payload')
    # The text line carries the same facts.
    assert line.split(' ')[1] == r['source'], (where, line)
    if 'prefix' in r and all(0x21 <= ord(ch) < 0x7f for ch in r['prefix']):
        assert f'prefix={r["prefix"]}' in line, (where, line)
    if src:
        assert f' {src}' in line and f'> {ip_dst or ip6_dst}' in line, (where, line)
    assert line.endswith(f', length {r["length"]}'), (where, line)
print(f'ok: {name}: {len(records)} JSON objects and text lines match the pcapng field by field')
PY
    passed=$((passed + 1))
done
echo "$passed passed, 0 failed"
