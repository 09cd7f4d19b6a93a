"""The native module nfcap: what the netfilterqueue module does not show."""

import time

import pytest
from conftest import queue_to, send_udp, seqs

import nfcap


def test_queue_to_another_queue_and_context_manager(rules, receiver):
    queue_to(rules, 8421, 31)
    first, second = [], []

    def pass_on(pkt):
        first.append(pkt.queue)
        pkt.queue_to(32)

    def accept(pkt):
        second.append(pkt.queue)
        pkt.accept()

    r = receiver(8421)
    with nfcap.Queue(31, pass_on) as q31, nfcap.Queue(32, accept) as q32:
        send_udp(8421, 5)
        end = time.monotonic() + 10
        while len(second) < 5 and time.monotonic() < end:
            q31.run(False)
            q32.run(False)
            time.sleep(0.005)
        assert q31.packets == 5 and q32.packets == 5 and q31.held == 0
    assert first == [31] * 5 and second == [32] * 5
    assert sorted(seqs(r.take(5))) == list(range(5))
    with pytest.raises(RuntimeError, match="unbound"):
        q31.fileno()  # closed by the with block


def test_fix_checksums_refuses_what_is_not_ip():
    with pytest.raises(ValueError):
        nfcap.fix_checksums(b"\x00" * 10)
    with pytest.raises(TypeError):
        nfcap.Queue(33, "not callable")


def test_pull_next_and_iteration_then_decide_later(rules, receiver):
    queue_to(rules, 8422, 34)
    r = receiver(8422)
    with nfcap.Queue(34, None) as q:
        assert q.next(timeout=0) is None
        send_udp(8422, 6)
        first = q.next(timeout=5)
        assert first is not None and first.payload[28:] == b"seq=0"
        assert first.indev_name == "vethb" and first.outdev_name is None
        assert first.indev > 0 and len(first.hwaddr) == 6 and first.get_timestamp() > 0
        rest = []
        for packet in q:  # blocks for each; the loop ends it
            rest.append(packet)
            if len(rest) == 5:
                break
        assert q.held == 6  # every pulled packet is held until its verdict
        for packet in reversed(rest):
            packet.accept()
        first.drop()
        assert q.held == 0
    assert seqs(r.take(5)) == [5, 4, 3, 2, 1]
    with pytest.raises(RuntimeError, match="without a callback"):
        nfcap.Queue(35, lambda p: None).next(0)


def test_log_of_several_groups(rules):
    for port, group in ((8423, 36), (8424, 37)):
        rules.add("INPUT", "-p", "udp", "--dport", str(port), "-j", "NFLOG", "--nflog-group",
                  str(group))
    with nfcap.Log([36, 37], flush_timeout=0.01) as log:
        send_udp(8423, 2)
        send_udp(8424, 2)
        records = [log.next(timeout=5) for _ in range(4)]
    assert sorted(r.group for r in records) == [36, 36, 37, 37]
    assert all(r.indev == "vethb" and r.kernel_timestamp and r.seq is not None for r in records)


def test_the_stub_names_what_the_module_has():
    # python/nfcap/_nfcap.pyi must type every class, method and function it names, and name
    # every public one the module has.
    import ast
    import os

    stub_path = os.path.join(os.path.dirname(nfcap.__file__), "_nfcap.pyi")
    with open(stub_path) as f:
        stub = ast.parse(f.read())
    native = nfcap._nfcap
    typed = set()
    for node in stub.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            typed.add(node.name)
            assert hasattr(native, node.name), node.name
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                name = getattr(member, "name", None) or getattr(getattr(member, "target", None), "id", None)
                if name:
                    assert hasattr(getattr(native, node.name), name), f"{node.name}.{name}"
    public = {n for n in dir(native) if not n.startswith("_")}
    assert public <= typed, public - typed


def test_sample_decide_later(rules, receiver):
    from conftest import interrupt, start_sample, wait_listed

    queue_to(rules, 8426, 38)
    queue_to(rules, 9, 38)
    rules.add("INPUT", "-p", "udp", "--dport", "8426", "-m", "mark", "--mark", "0x1")
    accepted, discarded = receiver(8426), receiver(9)
    sample = start_sample("decide_later.py", "38")
    try:
        wait_listed("nfnetlink_queue", 38)
        send_udp(8426, 5)
        send_udp(9, 3)
        assert sorted(seqs(accepted.take(5))) == list(range(5))
        assert discarded.take(1, timeout=0.3) == []
    finally:
        _, err = interrupt(sample)
    assert sample.returncode == 0, err
    assert "8 packets, 0 still held" in err
    assert rules.packets("filter", "INPUT", "mark match 0x1") == 5


def test_counters_say_what_the_kernel_counted(rules):
    queue_to(rules, 8427, 40)
    with nfcap.Queue(40, lambda p: p.accept()) as q:
        send_udp(8427, 4)
        end = time.monotonic() + 10
        while q.packets < 4 and time.monotonic() < end:
            q.run(False)
            time.sleep(0.01)
        c = q.counters()
    assert c["received"] == 4 and c["id_sequence"] == 4 and c["after_last_received"] == 0
    assert c["waiting"] == 0 and c["queue_dropped"] == 0 and c["user_dropped"] == 0
    assert c["loss_countable"] is True and c["max_length"] > 4 and c["held"] == 0
    assert q.counters() is None  # unbound


def test_log_run_hands_records_to_a_callback_until_count_or_stop(rules):
    import threading

    rules.add("INPUT", "-p", "udp", "--dport", "8428", "-j", "NFLOG", "--nflog-group", "50")
    seen = []
    with nfcap.Log([50], flush_timeout=0.01) as log:
        send_udp(8428, 3)
        assert log.run(lambda r: seen.append(r.payload[28:]), count=2) == 2
        threading.Timer(0.5, log.stop).start()
        assert log.run(lambda r: seen.append(r.payload[28:])) == 1  # the third, then stop()
    assert seen == [b"seq=0", b"seq=1", b"seq=2"]


def test_policy_queue_decides_in_cpp_and_records(rules, receiver, tmp_path):
    import subprocess

    queue_to(rules, 8429, 42)
    r = receiver(8429)
    path = tmp_path / "policy.pcapng"
    with nfcap.Writer(path) as writer, nfcap.Queue(42, None, policy="accept",
                                                   writer=writer) as q:
        send_udp(8429, 4)
        end = time.monotonic() + 10
        while q.packets < 4 and time.monotonic() < end:
            q.run(False)
            time.sleep(0.01)
        with pytest.raises(RuntimeError, match="policy"):
            q.next(0)
    assert sorted(seqs(r.take(4))) == list(range(4))
    comments = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.comment"],
                              check=True, capture_output=True, text=True,
                              timeout=60).stdout.split("\n")
    assert sum("verdict=accept" in c for c in comments) == 4
    with pytest.raises(ValueError):
        nfcap.Queue(43, None, policy="maybe")
    with pytest.raises(TypeError):
        nfcap.Queue(43, lambda p: None, policy="drop")
