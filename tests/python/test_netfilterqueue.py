"""The netfilterqueue module: NetfilterQueue 1.1's API as its documentation describes it, on a
real queue in namespace B (see conftest.py)."""

import asyncio
import os
import socket
import subprocess
import threading
import time

import pytest
from conftest import NS_A, queue_to, send_udp, seqs, wait_listed

import nfcap
from netfilterqueue import COPY_META, COPY_PACKET, NetfilterQueue


def run_until(nfq, done, timeout=10.0):
    """run() in the background until done() or the timeout; then stop() and join."""
    errors = []

    def body():
        try:
            nfq.run()
        except BaseException as error:  # handed to the test
            errors.append(error)

    thread = threading.Thread(target=body)
    thread.start()
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end and thread.is_alive():
        time.sleep(0.01)
    nfq.stop()
    thread.join(5)
    assert not thread.is_alive(), "run() did not return after stop()"
    return errors


def test_accept_drop_and_mark(rules, receiver):
    queue_to(rules, 8401, 21)
    rules.add("INPUT", "-p", "udp", "--dport", "8401", "-m", "mark", "--mark", "0x33")
    seen = []

    def decide(pkt):
        n = int(pkt.get_payload()[28:].split(b"=")[1])
        seen.append((n, str(pkt), pkt.id, pkt.hook, pkt.hw_protocol))
        assert pkt.indev > 0 and pkt.outdev == 0 and len(pkt.get_hw()) == 6
        assert abs(pkt.get_timestamp() - time.time()) < 30
        if n % 2:
            pkt.drop()
        else:
            pkt.set_mark(0x33)
            assert pkt.get_mark() == 0x33 and pkt.mark == 0
            pkt.accept()

    nfq = NetfilterQueue()
    nfq.bind(21, decide)
    r = receiver(8401)
    send_udp(8401, 40)
    errors = run_until(nfq, lambda: len(seen) >= 40)
    nfq.unbind()
    assert errors == []
    assert sorted(seqs(r.take(20))) == list(range(0, 40, 2))
    assert r.take(1, timeout=0.3) == []
    assert rules.packets("filter", "INPUT", "mark match 0x33") == 20
    n, text, packet_id, hook, hw_protocol = seen[0]
    assert text == "UDP packet, 33 bytes"  # 20 + 8 + len("seq=0")
    assert packet_id >= 1 and hook == 1 and hw_protocol == 0x0800


def test_set_payload_longer_arrives_with_valid_checksums(rules, receiver):
    queue_to(rules, 8402, 22)
    done = []

    def rewrite(pkt):
        data = pkt.get_payload()
        new = nfcap.fix_checksums(data[:28] + b"REWRITTEN:" + data[28:])
        pkt.set_payload(new)
        assert pkt.get_payload() == new and pkt.get_payload_len() == len(new)
        pkt.accept()
        done.append(1)

    nfq = NetfilterQueue()
    nfq.bind(22, rewrite)
    r = receiver(8402)
    send_udp(8402, 10)
    assert run_until(nfq, lambda: len(done) >= 10) == []
    nfq.unbind()
    # A rewritten packet's checksum is checked on arrival (the kernel no longer trusts the
    # offload state): a wrong one would be dropped, not received.
    got = r.take(10)
    assert sorted(got) == sorted(f"REWRITTEN:seq={n}".encode() for n in range(10))


def test_retain_and_accept_in_reverse_order(rules, receiver):
    queue_to(rules, 8403, 23)
    kept = []

    def keep(pkt):
        pkt.retain()
        kept.append(pkt)

    nfq = NetfilterQueue()
    nfq.bind(23, keep)
    r = receiver(8403)
    send_udp(8403, 50)
    assert run_until(nfq, lambda: len(kept) >= 50) == []
    assert r.take(1, timeout=0.2) == []  # every packet is held
    for pkt in reversed(kept):
        assert pkt.get_payload().endswith(b"seq=%d" % (kept.index(pkt)))
        pkt.accept()
    assert seqs(r.take(50)) == list(range(49, -1, -1))
    nfq.unbind()


def test_verdict_from_another_thread(rules, receiver):
    queue_to(rules, 8404, 24)
    handed = []
    ready = threading.Condition()

    def hand_on(pkt):
        with ready:
            handed.append(pkt)
            ready.notify()

    def worker():
        decided = 0
        while decided < 30:
            with ready:
                ready.wait_for(lambda: len(handed) > decided, timeout=5)
                batch = handed[decided:]
            if not batch:
                return
            for pkt in batch:
                pkt.accept()
            decided += len(batch)

    nfq = NetfilterQueue()
    nfq.bind(24, hand_on)
    thread = threading.Thread(target=worker)
    thread.start()
    r = receiver(8404)
    send_udp(8404, 30)
    assert run_until(nfq, lambda: len(handed) >= 30) == []
    thread.join(10)
    assert sorted(seqs(r.take(30))) == list(range(30))
    nfq.unbind()


def test_run_stopped_from_another_thread():
    nfq = NetfilterQueue()
    nfq.bind(25, lambda pkt: pkt.accept())
    timer = threading.Timer(0.3, nfq.stop)
    start = time.monotonic()
    timer.start()
    nfq.run()  # no traffic at all: only stop() ends it
    assert time.monotonic() - start < 2
    nfq.unbind()


def test_asyncio_add_reader_and_run_nonblocking(rules, receiver):
    queue_to(rules, 8406, 26)
    seen = []

    def accept(pkt):
        seen.append(pkt.id)
        pkt.accept()

    nfq = NetfilterQueue()
    nfq.bind(26, accept)
    r = receiver(8406)

    async def main():
        loop = asyncio.get_running_loop()
        loop.add_reader(nfq.get_fd(), nfq.run, False)
        sender = loop.run_in_executor(None, send_udp, 8406, 20)
        end = loop.time() + 10
        while len(seen) < 20 and loop.time() < end:
            await asyncio.sleep(0.01)
        await sender
        loop.remove_reader(nfq.get_fd())

    asyncio.run(main())
    nfq.unbind()
    assert len(seen) == 20
    assert sorted(seqs(r.take(20))) == list(range(20))


def test_sockfd_from_another_namespace(rules, tmp_path):
    # A process in namespace A opens the NETLINK_NETFILTER socket and passes it over a Unix
    # socket; the queue bound on it is namespace A's.
    path = str(tmp_path / "fd.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    helper = subprocess.Popen(["ip", "netns", "exec", NS_A, "/usr/bin/python3", "-c",
                               "import socket, sys\n"
                               "s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)\n"
                               "u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
                               "u.connect(sys.argv[1])\n"
                               "socket.send_fds(u, [b'fd'], [s.fileno()])\n", path])
    server.settimeout(10)
    conn, _ = server.accept()
    _, fds, _, _ = socket.recv_fds(conn, 16, 1)
    helper.wait(10)
    conn.close()
    server.close()
    queue_to(rules, 8407, 27, netns=NS_A, chain="OUTPUT")
    seen = []

    def accept(pkt):
        seen.append(pkt.get_payload())
        pkt.accept()

    nfq = NetfilterQueue(sockfd=fds[0])
    nfq.bind(27, accept)
    send_udp(8407, 10)  # leaves A through its OUTPUT chain, where A's rule queues it
    assert run_until(nfq, lambda: len(seen) >= 10) == []
    nfq.unbind()
    os.close(fds[0])
    assert sorted(int(p[28:].split(b"=")[1]) for p in seen) == list(range(10))


def test_copy_meta_gives_no_payload(rules):
    queue_to(rules, 8408, 28)
    seen = []

    def accept(pkt):
        seen.append((pkt.get_payload(), pkt.get_payload_len()))
        pkt.accept()

    nfq = NetfilterQueue()
    nfq.bind(28, accept, mode=COPY_META)
    send_udp(8408, 3)
    assert run_until(nfq, lambda: len(seen) >= 3) == []
    nfq.unbind()
    assert seen == [(b"", 0)] * 3


def test_callback_that_raises_stops_run_and_its_packet_is_accepted(rules, receiver):
    queue_to(rules, 8409, 29)

    class Boom(Exception):
        pass

    def explode(pkt):
        raise Boom("from the callback")

    nfq = NetfilterQueue()
    nfq.bind(29, explode)
    r = receiver(8409)
    send_udp(8409, 1)
    with pytest.raises(Boom):
        nfq.run()
    assert seqs(r.take(1)) == [0]  # the fallback verdict let it through
    nfq.unbind()


def test_misuse_raises_documented_errors(rules, receiver):
    queue_to(rules, 8410, 30)
    kept = []

    def twice(pkt):
        pkt.accept()
        with pytest.raises(RuntimeError):
            pkt.drop()
        kept.append(pkt)

    nfq = NetfilterQueue()
    nfq.bind(30, twice)
    with pytest.raises(RuntimeError):
        nfq.bind(30, twice)  # already bound
    with pytest.raises(OSError):
        NetfilterQueue().bind(30, twice)  # the kernel refuses a queue another socket holds
    send_udp(8410, 2)
    assert run_until(nfq, lambda: len(kept) >= 2) == []
    with pytest.raises(RuntimeError, match="without retain"):
        kept[0].get_payload()  # read after its callback, not retained
    nfq.unbind()

    held = []
    nfq = NetfilterQueue()
    nfq.bind(30, held.append, mode=COPY_PACKET)
    send_udp(8410, 1)
    assert run_until(nfq, lambda: len(held) >= 1) == []
    nfq.unbind()
    with pytest.raises(RuntimeError, match="unbound"):
        held[0].accept()  # its queue is gone (unbind gave it the fallback)
    with pytest.raises(RuntimeError):
        nfq.get_fd()

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(OSError, match="NETLINK_NETFILTER"):
        NetfilterQueue(sockfd=udp.fileno())
    udp.close()


def test_netfilterqueue_example_runs_unchanged(rules, receiver):
    # samples/python/print_and_accept.py is NetfilterQueue's documented example, unchanged.
    sample = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "python",
                          "print_and_accept.py")
    queue_to(rules, 8411, 1)
    r = receiver(8411)
    script = subprocess.Popen(["/usr/bin/python3", "-u", sample], stdout=subprocess.PIPE,
                              text=True)
    try:
        wait_listed("nfnetlink_queue", 1)
        send_udp(8411, 3)
        assert sorted(seqs(r.take(3))) == [0, 1, 2]
    finally:
        script.send_signal(2)  # Ctrl-C
        out, _ = script.communicate(timeout=10)
    assert out.splitlines()[:3] == ["UDP packet, 33 bytes"] * 3
    assert script.returncode == 0


def test_no_4096_byte_limit_on_a_payload(rules):
    # The original cuts payloads at 4096 bytes; loopback in namespace B carries 8028 whole.
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=30)
    rules.add("OUTPUT", "-t", "mangle", "-o", "lo", "-p", "udp", "--dport", "8412", "-j",
              "NFQUEUE", "--queue-num", "41")
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 8412))
    sink.settimeout(5)
    seen = []

    def accept(pkt):
        seen.append((pkt.get_payload_len(), pkt.get_payload()))
        pkt.accept()

    nfq = NetfilterQueue()
    nfq.bind(41, accept)
    data = bytes(range(256)) * 31 + b"x" * 64  # 8000 bytes
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.sendto(data, ("127.0.0.1", 8412))
    out.close()
    assert run_until(nfq, lambda: seen) == []
    nfq.unbind()
    assert seen[0][0] == 8028 and seen[0][1][28:] == data
    assert sink.recv(65536) == data
    sink.close()
