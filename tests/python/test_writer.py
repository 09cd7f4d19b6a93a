"""nfcap.Writer: what a Log or a Queue receives, and what a queue decided, written as annotated
pcapng; tshark (the real consumer) reads it back."""

import os
import subprocess
import time

from conftest import queue_to, send_udp, wait_listed

import nfcap


def tshark(path, *fields, display_filter=None):
    args = ["tshark", "-r", str(path), "-T", "fields"]
    for field in fields:
        args += ["-e", field]
    if display_filter:
        args += ["-Y", display_filter]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
    return [line for line in out.splitlines() if line]


def test_log_records_into_a_path(rules, tmp_path):
    rules.add("INPUT", "-p", "udp", "--dport", "8441", "-j", "NFLOG", "--nflog-group", "48",
              "--nflog-prefix", "written")
    path = tmp_path / "log.pcapng"
    with nfcap.Writer(str(path)) as writer:
        with nfcap.Log([48], flush_timeout=0.01, writer=writer) as log:
            send_udp(8441, 3)
            records = [log.next(timeout=5) for _ in range(3)]
        assert all(records) and writer.written == 3
    comments = tshark(path, "frame.comment")
    assert len(comments) == 3
    assert all(c.startswith("nflog:48 hook=input prefix=written in=vethb/") for c in comments), comments
    assert tshark(path, "frame.interface_name") == ["nflog:48"] * 3
    host = os.uname().nodename  # a Writer names this host, as nfcap's live capture does
    assert tshark(path, "frame.interface_description") == [f"NFLOG group 48 on {host} (LINUX_SLL2)"] * 3
    assert tshark(path, "udp.dstport") == ["8441"] * 3

    with nfcap.Reader(path) as reader:  # and back, with the metadata as fields
        assert reader.format == "pcapng" and reader.link_type == 276
        entries = list(reader)
    assert [e.payload[28:] for e in entries] == [b"seq=0", b"seq=1", b"seq=2"]
    assert all(e.interface == "nflog:48" and e.comment == c for e, c in zip(entries, comments))
    f = entries[0].fields
    assert f["source"] == "nflog:48" and f["prefix"] == "written" and f["seq"] == "0"
    assert f["in"].startswith("vethb/") and abs(entries[0].time - records[0].timestamp) < 1e-6


def test_writer_names_the_host_it_is_told_or_none(rules, tmp_path):
    rules.add("INPUT", "-p", "udp", "--dport", "8446", "-j", "NFLOG", "--nflog-group", "54")
    for name, description in (("fw9", "NFLOG group 54 on fw9 (LINUX_SLL2)"),
                              ("", "NFLOG group 54 (LINUX_SLL2)")):
        path = tmp_path / f"host-{name or 'none'}.pcapng"
        with nfcap.Writer(path, host_name=name) as writer:
            with nfcap.Log([54], flush_timeout=0.01, writer=writer) as log:
                send_udp(8446, 1)
                assert log.next(timeout=5)
        assert tshark(path, "frame.interface_description") == [description]
    try:
        nfcap.Writer(tmp_path / "bad.pcapng", host_name="fw 9")
    except ValueError as error:
        assert "host_name 'fw 9'" in str(error)
    else:
        raise AssertionError("a host name with a space was accepted")
    assert not (tmp_path / "bad.pcapng").exists()  # refused before the file was made


def test_reader_of_a_tcpdump_nflog_file_decodes_its_records(rules, tmp_path):
    # tcpdump writes LINKTYPE_NFLOG records without comments: the fields come from decoding.
    rules.add("INPUT", "-p", "udp", "--dport", "8443", "-j", "NFLOG", "--nflog-group", "49",
              "--nflog-prefix", "raw")
    path = tmp_path / "tcpdump.pcap"
    tcpdump = subprocess.Popen(["tcpdump", "-Z", "root", "-n", "-i", "nflog:49", "-c", "2", "-w",
                                str(path)], stderr=subprocess.PIPE, text=True)
    try:
        wait_listed("nfnetlink_log", 49)
        send_udp(8443, 2)
        tcpdump.wait(timeout=15)
    finally:
        tcpdump.kill()
        tcpdump.wait()
    with nfcap.Reader(str(path)) as reader:
        assert reader.format == "pcap" and reader.link_type == 239
        entries = list(reader)
    assert len(entries) == 2 and all(e.comment is None and e.interface is None for e in entries)
    f = entries[1].fields
    assert f["source"] == "nflog:49" and f["prefix"] == "raw" and f["hook"] == 1
    assert f["in"] > 0 and entries[1].payload[28:] == b"seq=1"


def test_reader_refuses_what_is_no_recording(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a capture file at all")
    import pytest

    with pytest.raises(nfcap.RecordingError, match="unknown file format"):
        nfcap.Reader(junk)


def test_queue_records_each_decision_into_a_file_object(rules, tmp_path):
    queue_to(rules, 8442, 39)
    path = tmp_path / "queue.pcapng"
    kept = []

    def decide(pkt):
        n = int(pkt.payload[28:].split(b"=")[1])
        if n == 0:
            pkt.accept()
        elif n == 1:
            pkt.drop()
        else:
            kept.append(pkt)  # decided after its callback

    with open(path, "wb") as f, nfcap.Writer(f) as writer:
        with nfcap.Queue(39, decide, writer=writer) as q:
            send_udp(8442, 3)
            end = time.monotonic() + 10
            while not kept and time.monotonic() < end:
                q.run(False)
                time.sleep(0.01)
            kept[0].set_mark(0x7)
            kept[0].accept()
            q.run(False)  # hands the later decision to the writer
    comments = tshark(path, "frame.comment")
    assert len(comments) == 3, comments
    assert "verdict=accept" in comments[0] and "decided=" not in comments[0]
    assert "verdict=drop" in comments[1]
    assert "verdict=accept setmark=0x7" in comments[2] and "decided=later" in comments[2]


def test_writer_into_a_fifo_that_tshark_reads(rules, tmp_path):
    import os

    rules.add("INPUT", "-p", "udp", "--dport", "8444", "-j", "NFLOG", "--nflog-group", "51",
              "--nflog-prefix", "fifo")
    fifo = tmp_path / "live"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["tshark", "-r", str(fifo), "-T", "fields", "-e", "frame.comment"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with nfcap.Writer(fifo) as writer:  # opens once tshark has the FIFO open
            with nfcap.Log([51], flush_timeout=0.01, writer=writer) as log:
                send_udp(8444, 2)
                assert log.next(timeout=5) and log.next(timeout=5)
        out, err = reader.communicate(timeout=60)
    finally:
        reader.kill()
    lines = [line for line in out.splitlines() if line]
    assert len(lines) == 2 and all("prefix=fifo" in line for line in lines), (out, err)
