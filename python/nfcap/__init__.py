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

from nfcap._nfcap import (
    BindError,
    ChecksumError,
    CopyMode,
    Log,
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
