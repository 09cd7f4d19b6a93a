#!/usr/bin/python3
"""Prints the Interface Statistics Blocks of a pcapng file, one line each, for shell tests:

    nflog:5 ifrecv=3000 ifdrop=12 usrdeliv=991 comment=at least 12 lost (...); a lower bound: ...

Options absent from a block are left out. Exits 1 with one line on a file it cannot read.
"""
import struct
import sys

OPTIONS = {4: "ifrecv", 5: "ifdrop", 6: "filteraccept", 7: "osdrop", 8: "usrdeliv"}


def main(path):
    data = open(path, "rb").read()
    names = []
    offset = 0
    endian = "<"
    while offset + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, offset)[0]
        if btype == 0x0A0D0D0A:
            magic = data[offset + 8 : offset + 12]
            endian = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
            names = []
        length = struct.unpack_from(endian + "I", data, offset + 4)[0]
        if length < 12 or offset + length > len(data):
            sys.exit(f"{path}: block at offset {offset} is cut short")
        body = data[offset + 8 : offset + length - 4]
        if btype == 1:  # Interface Description Block
            name = ""
            for code, value in options(body[8:], endian):
                if code == 2:
                    name = value.decode("utf-8", "replace")
            names.append(name)
        elif btype == 5:  # Interface Statistics Block
            interface = struct.unpack_from(endian + "I", body, 0)[0]
            fields = [names[interface] if interface < len(names) else f"#{interface}"]
            comment = None
            for code, value in options(body[12:], endian):
                if code in OPTIONS:
                    fields.append(f"{OPTIONS[code]}={struct.unpack(endian + 'Q', value)[0]}")
                elif code == 1:
                    comment = value.decode("utf-8", "replace")
            if comment is not None:
                fields.append(f"comment={comment}")
            print(" ".join(fields))
        offset += length


def options(body, endian):
    offset = 0
    while offset + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, offset)
        if code == 0:
            return
        yield code, body[offset + 4 : offset + 4 + length]
        offset += 4 + ((length + 3) & ~3)


if __name__ == "__main__":
    main(sys.argv[1])
