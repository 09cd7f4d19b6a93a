#!/usr/bin/python3
"""nfcap's own API: pull packets from an NFQUEUE queue and decide them on a worker thread, as a
program does that asks a service before letting a connection through. UDP to port 9 is
dropped, everything else accepted with mark 0x1, until Ctrl-C; packets still held then are
accepted when the queue closes.

    iptables -A INPUT -j NFQUEUE --queue-num 5 --queue-bypass
    PYTHONPATH=build/dev/python /usr/bin/python3 samples/python/decide_later.py 5
"""
import queue
import sys
import threading

import nfcap

work = queue.Queue(maxsize=4096)  # bounded: when the worker is behind, packets wait in the kernel


def worker():
    while (packet := work.get()) is not None:
        data = packet.payload
        if len(data) >= 24 and data[9] == 17 and int.from_bytes(data[22:24], "big") == 9:
            packet.drop()
        else:
            packet.set_mark(0x1)
            packet.accept()


thread = threading.Thread(target=worker)
thread.start()
with nfcap.Queue(int(sys.argv[1]) if len(sys.argv) > 1 else 5, None) as q:
    try:
        for packet in q:  # each one retained and held until the worker decides it
            work.put(packet)
    except KeyboardInterrupt:
        pass
    finally:
        work.put(None)
        thread.join()
        print(f"{q.packets} packets, {q.held} still held (accepted now)", file=sys.stderr)
