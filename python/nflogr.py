"""nflogr's API, served by nfcap: a script written for nflogr runs unchanged.

    import nflogr

    with nflogr.open(123) as nflog:
        for data in nflog:
            print(data.prefix, data.indev, len(data.payload), dict(data)["uid"])

Differences from the original, in the user's favour: rcvbuf=0 and nlbuf=0 mean nfcap's
defaults (a 64 MiB socket buffer, 128 KiB kernel batches) rather than the system's, which lose
records under load; a record logged on an output hook, where the kernel gives no timestamp,
carries the time nfcap received it instead of zero; waiting releases the GIL, and Ctrl-C ends
a wait within 100 ms. With ENOBUFS_HANDLE (or DISABLE) a loop never ends on an overrun; with
ENOBUFS_RAISE it raises NflogDroppedError after the records read before it were queued.
"""

from nfcap import _nfcap

COPY_NONE = 0
COPY_META = 1
COPY_PACKET = 2
ENOBUFS_RAISE = 0
ENOBUFS_HANDLE = 1
ENOBUFS_DISABLE = 2

_COPY = {COPY_NONE: _nfcap.CopyMode.NONE, COPY_META: _nfcap.CopyMode.META, COPY_PACKET: _nfcap.CopyMode.PACKET}
_ENOBUFS = {ENOBUFS_RAISE: "raise", ENOBUFS_HANDLE: "count", ENOBUFS_DISABLE: "disable"}

NflogDroppedError = _nfcap.OverrunError

__all__ = [
    "open", "Nflog", "NflogData", "NflogDroppedError",
    "COPY_NONE", "COPY_META", "COPY_PACKET", "ENOBUFS_RAISE", "ENOBUFS_HANDLE", "ENOBUFS_DISABLE",
]

_FIELDS = ("proto", "hwtype", "nfmark", "timestamp", "timestamp_us", "indev", "physindev", "outdev",
           "physoutdev", "uid", "gid", "hwaddr", "hwhdr", "payload", "prefix")


class NflogData:
    """One logged packet; read-only attributes, and dict(data) gives them all."""

    __slots__ = ("_record",)

    def __init__(self, record):
        self._record = record

    proto = property(lambda self: self._record.proto)
    hwtype = property(lambda self: self._record.hwtype or 0)
    nfmark = property(lambda self: self._record.nfmark)
    timestamp = property(lambda self: self._record.timestamp)
    timestamp_us = property(lambda self: self._record.timestamp_us)
    indev = property(lambda self: self._record.indev)
    physindev = property(lambda self: self._record.physindev)
    outdev = property(lambda self: self._record.outdev)
    physoutdev = property(lambda self: self._record.physoutdev)
    uid = property(lambda self: self._record.uid)
    gid = property(lambda self: self._record.gid)
    hwaddr = property(lambda self: self._record.hwaddr or b"")
    hwhdr = property(lambda self: self._record.hwhdr)
    payload = property(lambda self: self._record.payload)
    prefix = property(lambda self: self._record.prefix or "")

    def __iter__(self):
        for name in _FIELDS:
            yield name, getattr(self, name)

    def __repr__(self):
        return f"<NflogData prefix={self.prefix!r} indev={self.indev!r} {len(self.payload)} bytes>"


class Nflog:
    """An NFLOG group handler (see open())."""

    def __init__(self, log, group):
        self._log = log
        self._group = group
        self._drops_seen = 0  # drops reads from here after `drops = 0`

    @property
    def rcvbuf(self):
        return self._log.receive_buffer if self._log is not None else 0

    @property
    def drops(self):
        return self._log.overruns - self._drops_seen

    @drops.setter
    def drops(self, value):
        if value != 0:
            raise ValueError("drops can only be set to zero")
        self._drops_seen = self._log.overruns

    @property
    def queued(self):
        return self._log.ready

    def queue(self, wait=True):
        """Reads messages from the socket into the queue; the number queued."""
        if self._closed():
            return 0
        return self._log.fill(None if wait else 0)

    def next(self, wait=True):
        """The next message (NflogData); without `wait`, None when none is there."""
        if self._closed():
            return self._queued_or_none()
        record = self._log.next(None if wait else 0)
        return NflogData(record) if record is not None else None

    def loop(self, fn, count=-1):
        """Passes messages to fn, `count` of them (-1: without end)."""
        handled = 0
        while count < 0 or handled < count:
            data = self.next()
            if data is None:
                return None
            fn(data)
            handled += 1
        return None

    def close(self):
        """Closes the handler; messages already queued can still be read."""
        if self._log is not None and not self._closed():
            self._log.close()
            self._closed_flag = True

    def getfd(self):
        return None if self._closed() else self._log.fileno()

    def getgroup(self):
        return self._group

    def __iter__(self):
        return self

    def __next__(self):
        data = self.next()
        if data is None:
            raise StopIteration
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _closed(self):
        return getattr(self, "_closed_flag", False)

    def _queued_or_none(self):
        if self._log.ready == 0:
            return None
        return NflogData(self._log.next(0))


def open(group, timeout=0, qthresh=1, rcvbuf=0, nlbuf=0, enobufs=ENOBUFS_RAISE, copymode=COPY_PACKET):  # noqa: A001
    """Opens NFLOG group `group` (root or CAP_NET_ADMIN). See the module's docstring."""
    if enobufs not in _ENOBUFS:
        raise ValueError("enobufs must be ENOBUFS_RAISE, ENOBUFS_HANDLE or ENOBUFS_DISABLE")
    if copymode not in _COPY:
        raise ValueError("copymode must be COPY_NONE, COPY_META or COPY_PACKET")
    log = _nfcap.Log(
        [group],
        copy_mode=_COPY[copymode],
        receive_buffer=rcvbuf or None,
        netlink_buffer=nlbuf or None,
        queue_threshold=max(1, qthresh),
        flush_timeout=timeout,
        on_overrun=_ENOBUFS[enobufs],
    )
    return Nflog(log, group)
