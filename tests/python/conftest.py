"""Fixtures for the Python modules' tests. They run as root inside network namespace B of a
veth pair that tests/privileged/python.sh creates (NS_A, 192.0.2.1, sends; NS_B, 192.0.2.2,
receives and queues), so every rule and packet stays in those namespaces."""

import os
import socket
import subprocess
import time

import pytest

NS_A = os.environ.get("NS_A", "")
SENDER = os.environ.get("NFCAP_PY_SENDER", "")
B_ADDRESS = "192.0.2.2"


def pytest_configure(config):
    if not NS_A or os.geteuid() != 0:
        raise pytest.UsageError("run through tests/privileged/python.sh (root, in namespace B)")


def in_a(*command, **kwargs):
    return subprocess.run(["ip", "netns", "exec", NS_A, *command], check=True, timeout=30, **kwargs)


def send_udp(port, count, rate=2000, size=None):
    """`count` datagrams "seq=N" (N from 0) from namespace A to B's `port`, `rate` a second."""
    args = [SENDER, "udp", B_ADDRESS, str(port), str(count), str(rate)]
    if size is not None:
        args.append(str(size))
    in_a("/usr/bin/python3", *args)


class Receiver:
    """Datagrams arriving at B's UDP `port`."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((B_ADDRESS, port))

    def take(self, count, timeout=5.0):
        got = []
        end = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                got.append(self.sock.recv(65536))
            except socket.timeout:
                break
        return got

    def close(self):
        self.sock.close()


@pytest.fixture
def receiver(request):
    opened = []

    def make(port):
        r = Receiver(port)
        opened.append(r)
        return r

    yield make
    for r in opened:
        r.close()


class Rules:
    """iptables rules of namespace B (or A), each deleted again when the test ends."""

    def __init__(self):
        self.added = []

    def add(self, *spec, netns=None):
        prefix = ["ip", "netns", "exec", netns] if netns else []
        subprocess.run([*prefix, "iptables", "-A", *spec], check=True, timeout=30)
        self.added.append((prefix, spec))

    def packets(self, table, chain, needle):
        """The packet counter of the rule in `chain` whose line contains `needle`."""
        out = subprocess.run(["iptables", "-t", table, "-L", chain, "-v", "-x", "-n"],
                             check=True, capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            if needle in line:
                return int(line.split()[0])
        raise AssertionError(f"no rule with {needle!r} in {table}/{chain}:\n{out}")

    def remove_all(self):
        for prefix, spec in reversed(self.added):
            subprocess.run([*prefix, "iptables", "-D", *spec], check=False, timeout=30)


@pytest.fixture
def rules():
    r = Rules()
    yield r
    r.remove_all()


def queue_to(rules, port, queue, netns=None, chain="INPUT"):
    rules.add(chain, "-t", "mangle", "-p", "udp", "--dport", str(port), "-j", "NFQUEUE",
              "--queue-num", str(queue), netns=netns)


def seqs(datagrams):
    return [int(d.split(b"=")[1].rstrip(b".")) for d in datagrams]


SAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "python")


def start_sample(name, *args):
    """samples/python/NAME running with ARGS, its stdout and stderr captured as text."""
    return subprocess.Popen(["/usr/bin/python3", "-u", os.path.join(SAMPLES, name), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_listed(proc_file, number, timeout=10):
    """Until /proc/net/netfilter/PROC_FILE lists group or queue NUMBER."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(f"/proc/net/netfilter/{proc_file}") as proc:
            if any(line.split()[0] == str(number) for line in proc):
                return
        time.sleep(0.05)
    raise AssertionError(f"{number} is not bound in {proc_file}")


def interrupt(process):
    """Ctrl-C to a sample; its (stdout, stderr)."""
    process.send_signal(2)
    return process.communicate(timeout=10)
