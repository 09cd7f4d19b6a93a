#!/usr/bin/python3
"""nflogr-style: one line per logged packet of an NFLOG group, with its prefix, interfaces
and user, until Ctrl-C. Written against nflogr's API, served by nfcap's nflogr module.

    iptables -A INPUT -p tcp --syn -j NFLOG --nflog-group 5 --nflog-prefix syn
    PYTHONPATH=build/dev/python /usr/bin/python3 samples/python/log_lines.py 5
"""
import sys

import nflogr

group = int(sys.argv[1]) if len(sys.argv) > 1 else 5
try:
    with nflogr.open(group, enobufs=nflogr.ENOBUFS_HANDLE) as nflog:
        for data in nflog:
            print(f"{data.timestamp:.6f} {data.prefix or '-'} in={data.indev or '-'} "
                  f"out={data.outdev or '-'} uid={data.uid} {len(data.payload)} bytes", flush=True)
except KeyboardInterrupt:
    print(f"\n{nflog.drops} overruns", file=sys.stderr)
