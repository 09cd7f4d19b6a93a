"""NetfilterQueue 1.1's API, served by nfcap: a script written for NetfilterQueue runs unchanged.

    from netfilterqueue import NetfilterQueue

    def print_and_accept(pkt):
        print(pkt)
        pkt.accept()

    nfqueue = NetfilterQueue()
    nfqueue.bind(1, print_and_accept)
    try:
        nfqueue.run()
    except KeyboardInterrupt:
        print()
    nfqueue.unbind()

Differences from the original, all in the user's favour: no 4096-byte limit on a packet's
payload; the socket buffer is 64 MiB unless sock_len says otherwise; verdicts given inside the
callback go out together with the batch's others; run() returns at once on Ctrl-C and when
stop() is called from another thread; a callback that raises stops run() with its exception
after its packet was accepted (never left without a verdict). Packets still held when the queue
is unbound are accepted.
"""

import socket as _socket

from nfcap import _nfcap

COPY_NONE = 0
COPY_META = 1
COPY_PACKET = 2

_MODES = {
    COPY_NONE: _nfcap.CopyMode.NONE,
    COPY_META: _nfcap.CopyMode.META,
    COPY_PACKET: _nfcap.CopyMode.PACKET,
}

_NETLINK_NETFILTER = 12
_DATAGRAM_SIZE = 65536 + 4096  # one queued packet's message, the largest payload included

Packet = _nfcap.Packet

__all__ = ["NetfilterQueue", "Packet", "COPY_NONE", "COPY_META", "COPY_PACKET"]


def _check_netfilter_socket(fd):
    try:
        probe = _socket.socket(fileno=fd)
    except OSError as error:
        raise OSError(error.errno, f"sockfd={fd} is not a usable socket: {error.strerror}") from None
    try:
        family, proto = probe.family, probe.proto
    finally:
        probe.detach()  # the caller's descriptor stays open
    if family != _socket.AF_NETLINK or proto != _NETLINK_NETFILTER:
        raise OSError(f"sockfd={fd} is not a NETLINK_NETFILTER socket (family {int(family)}, protocol {proto})")


class NetfilterQueue:
    """One queue: bind() it, then run() to hand its packets to the callback."""

    COPY_NONE = COPY_NONE
    COPY_META = COPY_META
    COPY_PACKET = COPY_PACKET

    def __init__(self, *, sockfd=None):
        if sockfd is not None:
            _check_netfilter_socket(sockfd)
        self._sockfd = sockfd
        self._queue = None

    def bind(self, queue_num, user_callback, max_len=1024, mode=COPY_PACKET, range=65535, sock_len=None):
        """Binds queue `queue_num`; `user_callback(packet)` runs for each of its packets."""
        if self._queue is not None:
            raise RuntimeError("A queue is already bound; use unbind() first")
        if mode not in _MODES:
            raise ValueError(f"mode must be COPY_NONE, COPY_META or COPY_PACKET, not {mode!r}")
        # As the original: a full queue drops new packets (the kernel counts them).
        self._queue = _nfcap.Queue(
            queue_num,
            user_callback,
            max_length=max_len,
            copy_mode=_MODES[mode],
            copy_range=range,
            receive_buffer=sock_len,
            fail_open=False,
            sockfd=self._sockfd,
            names=False,  # the original gives indexes only; names cost a look-up per packet
        )

    def unbind(self):
        """Releases the queue; packets still held are accepted."""
        if self._queue is not None:
            queue, self._queue = self._queue, None
            queue.close()

    def get_fd(self):
        """The socket's descriptor, to poll for readability (then call run(False))."""
        return self._bound().fileno()

    def run(self, block=True):
        """Hands packets to the callback; without `block`, only those pending now."""
        self._bound().run(block)

    def stop(self):
        """Makes run() return (safe from another thread)."""
        self._bound().stop()

    def run_socket(self, s):
        """As run(), reading datagrams with s.recv() (a socket gevent may have patched)."""
        queue = self._bound()
        while self._queue is queue:
            try:
                datagram = s.recv(_DATAGRAM_SIZE)
            except BlockingIOError:
                return
            queue.feed(datagram)

    def _bound(self):
        if self._queue is None:
            raise RuntimeError("No queue is bound; call bind() first")
        return self._queue

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.unbind()
        return False
