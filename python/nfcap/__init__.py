"""nfcap for Python: NFQUEUE queues whose packets a program decides, now or later.

    import nfcap

    def decide(packet):          # runs for each packet, on the thread that calls run()
        if packet.payload[9] == 17:
            packet.drop()        # decided now: sent with the batch's other verdicts
        else:
            packet.retain()      # keep it past the callback; decide later, from any thread
            later.append(packet)

    with nfcap.Queue(5, decide) as queue:
        queue.run()              # Ctrl-C or queue.stop() from another thread ends it

Give a source `writer=nfcap.Writer("out.pcapng")` to record what it receives, and what the
program decided, as annotated pcapng. A packet given no verdict in its callback is held; when the queue closes, every packet still
held is accepted (the fallback verdict). See README.md, "Python".
"""

from nfcap import _nfcap
from nfcap._nfcap import (
    BindError,
    ChecksumError,
    CopyMode,
    LogRecord,
    OverrunError,
    Packet,
    Queue,
    Reader,
    RecordingEntry,
    RecordingError,
    VerdictError,
    Writer,
    fix_checksums,
)

__all__ = [
    "BindError",
    "ChecksumError",
    "CopyMode",
    "Log",
    "LogRecord",
    "OverrunError",
    "Packet",
    "Queue",
    "Reader",
    "RecordingEntry",
    "RecordingError",
    "VerdictError",
    "Writer",
    "fix_checksums",
]


class Log(_nfcap.Log):
    """NFLOG groups: pull records with next(timeout) or iteration, or hand each to a callback
    with run(). See _nfcap.pyi for the constructor's keywords."""

    def run(self, callback, count=-1):
        """Calls callback(record) for each record as it comes, `count` of them (-1: until
        stop() or close()); returns how many it handled."""
        handled = 0
        while count < 0 or handled < count:
            record = self.next()
            if record is None:
                break
            callback(record)
            handled += 1
        return handled
