"""Accept-all NFQUEUE reader on nfcap's own module in its batch form: the verdict is a policy
given in C++ to each receive batch, and Python is not called per packet. For bench/run.sh.

    nfcap_accept.py QUEUE

Prints records=N (packets the queue received) when it ends on SIGINT or SIGTERM."""

import signal
import sys

import nfcap


def stop(signum, frame):
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, stop)
with nfcap.Queue(int(sys.argv[1]), None, policy="accept", names=False) as queue:
    try:
        queue.run()
    except KeyboardInterrupt:
        pass
    received = queue.packets
print(f"records={received}", flush=True)
