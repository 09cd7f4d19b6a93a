"""nfcap.Writer: what a Log or a Queue receives, and what a queue decided, written as annotated
pcapng; tshark (the real consumer) reads it back."""

import subprocess
import time

from conftest import queue_to, send_udp

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
    assert tshark(path, "udp.dstport") == ["8441"] * 3


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
