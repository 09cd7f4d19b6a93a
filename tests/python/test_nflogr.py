"""The nflogr module: nflogr's API as its README describes it, on real NFLOG groups in
namespace B (see conftest.py)."""

import socket
import threading
import time

import pytest
from conftest import B_ADDRESS, send_udp

import nflogr


def log_rule(rules, chain, port, group, prefix):
    rules.add(chain, "-p", "udp", "--dport", str(port), "-j", "NFLOG", "--nflog-group",
              str(group), "--nflog-prefix", prefix)


def test_iteration_shows_prefix_uid_gid_and_interface_names(rules):
    log_rule(rules, "INPUT", 8431, 41, "py-in")
    log_rule(rules, "OUTPUT", 8432, 41, "py-out")
    with nflogr.open(41) as nflog:
        assert nflog.getgroup() == 41 and isinstance(nflog.getfd(), int)
        send_udp(8431, 2)  # from A: input on vethb
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.sendto(b"seq=0", ("192.0.2.1", 8432))  # from here (uid 0): output on vethb
        out.close()
        got = []
        for data in nflog:
            got.append(data)
            if len(got) == 3:
                break
    inbound = [d for d in got if d.prefix == "py-in"]
    outbound = [d for d in got if d.prefix == "py-out"]
    assert len(inbound) == 2 and len(outbound) == 1
    d = inbound[0]
    assert d.indev == "vethb" and d.outdev is None and d.physindev is None
    assert d.proto == 0x0800 and d.hwtype == 1 and len(d.hwaddr) == 6 and len(d.hwhdr) == 14
    assert d.payload[28:] == b"seq=0" and d.uid is None
    assert abs(d.timestamp - time.time()) < 30 and d.timestamp_us // 1000000 == int(d.timestamp)
    o = outbound[0]
    assert o.outdev == "vethb" and o.indev is None and o.uid == 0 and o.gid == 0
    assert o.timestamp > 0  # no kernel timestamp on output: the time it was received
    fields = dict(d)
    assert set(fields) == {"proto", "hwtype", "nfmark", "timestamp", "timestamp_us", "indev",
                           "physindev", "outdev", "physoutdev", "uid", "gid", "hwaddr", "hwhdr",
                           "payload", "prefix"}
    assert fields["prefix"] == "py-in" and fields["nfmark"] == 0


def test_queue_next_loop_and_close(rules):
    log_rule(rules, "INPUT", 8433, 42, "loop")
    nflog = nflogr.open(42, qthresh=1, timeout=0.01)
    assert nflog.next(wait=False) is None
    send_udp(8433, 5)
    end = time.monotonic() + 5
    while nflog.queued < 5 and time.monotonic() < end:
        nflog.queue(wait=False)
        time.sleep(0.01)
    assert nflog.queued == 5
    seen = []
    nflog.loop(lambda data: seen.append(data.payload[28:]), 3)
    assert seen == [b"seq=0", b"seq=1", b"seq=2"] and nflog.queued == 2
    nflog.close()
    assert nflog.getfd() is None
    assert nflog.next().payload[28:] == b"seq=3"  # queued before close: still readable
    assert nflog.next().payload[28:] == b"seq=4"
    assert nflog.next() is None


def flood(rules, group, nflog):
    """Overflows the tiny socket buffer of `nflog`: 400 records while nobody reads."""
    log_rule(rules, "INPUT", 8434 + group, group, "flood")
    send_udp(8434 + group, 400, rate=100000)
    time.sleep(0.2)


def drain(nflog):
    """Reads every record queued or waiting now; how many."""
    read = 0
    while nflog.next(wait=False) is not None:
        read += 1
    return read


def test_enobufs_raise(rules):
    nflog = nflogr.open(43, rcvbuf=4096, enobufs=nflogr.ENOBUFS_RAISE)
    flood(rules, 43, nflog)
    with pytest.raises(nflogr.NflogDroppedError):
        for _ in range(1000):
            nflog.next(wait=False)
    assert nflog.drops >= 1
    nflog.close()


def test_enobufs_handle_counts_and_goes_on(rules):
    nflog = nflogr.open(44, rcvbuf=4096, enobufs=nflogr.ENOBUFS_HANDLE)
    flood(rules, 44, nflog)
    read = drain(nflog)
    assert nflog.drops >= 1 and 0 < read < 400
    nflog.drops = 0
    assert nflog.drops == 0
    with pytest.raises(ValueError):
        nflog.drops = 5
    nflog.close()


def test_enobufs_disable_reports_nothing(rules):
    nflog = nflogr.open(45, rcvbuf=4096, enobufs=nflogr.ENOBUFS_DISABLE)
    flood(rules, 45, nflog)
    read = drain(nflog)
    assert nflog.drops == 0 and 0 < read < 400
    nflog.close()


def test_a_waiting_next_is_stopped_from_another_thread():
    import nfcap

    log = nfcap.Log([46])
    threading.Timer(0.3, log.stop).start()
    start = time.monotonic()
    assert log.next() is None  # nothing logged: only stop() ends the wait
    assert time.monotonic() - start < 2
    log.close()
    with pytest.raises(RuntimeError, match="closed"):
        log.fileno()


def test_sample_log_lines(rules):
    from conftest import interrupt, start_sample, wait_listed

    log_rule(rules, "INPUT", 8439, 47, "sample")
    sample = start_sample("log_lines.py", "47")
    try:
        wait_listed("nfnetlink_log", 47)
        send_udp(8439, 3)
        time.sleep(1.5)  # the kernel's flush timeout, then the sample's print
    finally:
        out, err = interrupt(sample)
    lines = out.splitlines()
    assert len(lines) == 3, (out, err)
    assert all(" sample in=vethb out=- uid=None 33 bytes" in line for line in lines)
    assert sample.returncode == 0 and "0 overruns" in err
