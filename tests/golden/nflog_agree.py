#!/usr/bin/env python3
"""Checks, record by record, that nfcap's replay of an NFLOG recording says what tshark's own
NFLOG dissector says about the original recording.

    nflog_agree.py ORIGINAL REPLAYED LUA_SCRIPT

ORIGINAL is a LINKTYPE_NFLOG recording (tcpdump -i nflog:N, dumpcap -i nflog:N); REPLAYED is
`nfcap -r ORIGINAL -w REPLAYED` (LINUX_SLL2, the default); LUA_SCRIPT is nfcap's Wireshark
post-dissector, which turns each record's comment into fields. Compared for every record: the
prefix, the hook, the hardware protocol, the input and output interface indexes, uid and gid,
the kernel timestamp (when the record has one; otherwise nfcap writes the file's time and says
ts=file), and the network-layer bytes as tshark dissects them (the IP or IPv6 layer, as far as
it was captured). Meant for inet-family recordings: nfcap moves the Ethernet header of an
"arp out" record into hwheader=, so those bytes differ by design. Also: the same number of records, and no record called truncated.

Prints one line per disagreement and exits 1 if there is any; exits 0 with a summary line.
"""
import json
import os
import subprocess
import sys

# nfcap names hooks per family (README, "The metadata comment"); tshark shows the number.
HOOKS = {"prerouting": "0", "input": "1", "forward": "2", "output": "3", "postrouting": "4",
         "brouting": "5"}
ARP_HOOKS = {"input": "0", "output": "1", "forward": "2"}


def tshark(path, *options):
    env = dict(os.environ, TZ="UTC")  # both sides print absolute times the same way
    out = subprocess.run(["tshark", "-r", path, "-T", "json", "-x", *options],
                         check=True, capture_output=True, env=env).stdout
    # Prefixes may hold any byte; tshark's JSON repeats keys (one "nflog.tlv_tree" per TLV),
    # so every object is kept as its list of pairs.
    packets = json.loads(out.decode("utf-8", "surrogateescape"), object_pairs_hook=Pairs)
    return [dict(dict(packet)["_source"])["layers"] for packet in packets]


class Pairs(list):
    """A JSON object as the list of its (key, value) pairs, repeated keys included."""


def flatten(node, into):
    """Every "name": value pair at any depth; the first occurrence of a name wins."""
    if isinstance(node, Pairs):
        for key, value in node:
            if isinstance(value, list) and not key.endswith("_raw"):
                flatten(value, into)
            into.setdefault(key, value)
    elif isinstance(node, list):
        for item in node:
            flatten(item, into)
    return into


def network_bytes(fields):
    for layer in ("ip_raw", "ipv6_raw", "arp_raw"):
        raw = fields.get(layer)
        if isinstance(raw, list) and raw:
            return raw[0]
    return ""


def ascii_prefix(text, replacement):
    """tshark 4.0 shows each byte of a prefix above 0x7f as U+FFFD; a Lua string field keeps
    the bytes. Both become '?' per byte, so the rest can be compared exactly."""
    if replacement:
        return text.replace("\ufffd", "?")
    raw = text.encode("utf-8", "surrogateescape")
    return "".join(chr(b) if b < 0x80 else "?" for b in raw)


def original_view(fields):
    return {
        "prefix": ascii_prefix(fields.get("nflog.prefix", ""), True),
        "hook": fields.get("nflog.hook", ""),
        "protocol": fields.get("nflog.protocol", ""),
        "in": fields.get("nflog.ifindex_indev", ""),
        "out": fields.get("nflog.ifindex_outdev", ""),
        "uid": fields.get("nflog.uid", ""),
        "gid": fields.get("nflog.gid", ""),
        "time": fields.get("nflog.timestamp", ""),
        "bytes": network_bytes(fields),
    }


def replayed_view(fields):
    kernel_time = fields.get("nfcap.ts") == "kernel"
    return {
        "prefix": ascii_prefix(fields.get("nfcap.prefix", ""), False),
        "hook": (ARP_HOOKS if fields.get("nfcap.family") == "arp" else HOOKS).get(
            fields.get("nfcap.hook", ""), fields.get("nfcap.hook", "")),
        "protocol": fields.get("sll.etype", ""),
        "in": fields.get("nfcap.in.index", ""),
        "out": fields.get("nfcap.out.index", ""),
        "uid": fields.get("nfcap.uid", ""),
        "gid": fields.get("nfcap.gid", ""),
        "time": fields.get("frame.time", "") if kernel_time else "",
        "bytes": network_bytes(fields),
    }


def main():
    if len(sys.argv) != 4:
        print("usage: nflog_agree.py ORIGINAL REPLAYED LUA_SCRIPT", file=sys.stderr)
        return 2
    original_path, replayed_path, lua = sys.argv[1:]
    original = [original_view(flatten(p, {})) for p in tshark(original_path)]
    replayed_fields = [flatten(p, {}) for p in tshark(replayed_path, "-X", "lua_script:" + lua)]
    replayed = [replayed_view(f) for f in replayed_fields]
    problems = []
    if len(original) != len(replayed):
        problems.append(f"{len(original)} records in {original_path}, "
                        f"{len(replayed)} in {replayed_path}")
    for number, (o, r) in enumerate(zip(original, replayed), start=1):
        for key in o:
            if o[key] != r[key]:
                problems.append(f"record {number}: {key}: tshark says {o[key]!r} in the "
                                f"original, nfcap's replay says {r[key]!r}")
    for number, fields in enumerate(replayed_fields, start=1):
        if "nfcap.truncated" in fields or "nfcap.malformed" in fields:
            problems.append(f"record {number}: replayed as truncated or with a bad comment")
        if not fields.get("nfcap.prefix") and not fields.get("nfcap.hook"):
            problems.append(f"record {number}: no nfcap comment fields")
    for line in problems[:20]:
        print(line)
    if problems:
        return 1
    with_time = sum(1 for o in original if o["time"])
    print(f"{len(original)} records agree with tshark field by field "
          f"({with_time} with a kernel timestamp)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
