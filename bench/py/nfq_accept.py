"""Accept-all NFQUEUE reader written against NetfilterQueue 1.1's API, as a user's script is:
bench/run.sh runs it on nfcap's netfilterqueue module (PYTHONPATH=build/release/python) and,
given NFQ_ORIGINAL, on the original NetfilterQueue (PYTHONPATH=$NFQ_ORIGINAL).

    nfq_accept.py QUEUE [MAX_LEN [SOCK_LEN]]   (no MAX_LEN: the API's defaults)

Prints records=N (packets its callback saw) when it ends on SIGINT or SIGTERM."""

import signal
import sys

from netfilterqueue import NetfilterQueue

seen = 0


def accept(packet):
    global seen
    seen += 1
    packet.accept()


def stop(signum, frame):
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, stop)
options = {}
if len(sys.argv) > 2:
    options["max_len"] = int(sys.argv[2])
if len(sys.argv) > 3:
    options["sock_len"] = int(sys.argv[3])
nfqueue = NetfilterQueue()
nfqueue.bind(int(sys.argv[1]), accept, **options)
try:
    nfqueue.run()
except KeyboardInterrupt:
    pass
nfqueue.unbind()
print(f"records={seen}", flush=True)
