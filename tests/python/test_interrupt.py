"""Ctrl-C while a module waits for traffic that never comes: the wait ends at once with
KeyboardInterrupt, in each module's blocking call (NetfilterQueue's users asked for this)."""

import os
import signal
import subprocess
import textwrap
import time

import pytest
from conftest import wait_listed

WAITS = {
    "netfilterqueue run()": ("nfnetlink_queue", 50, """
        from netfilterqueue import NetfilterQueue
        q = NetfilterQueue()
        q.bind(50, lambda packet: packet.accept())
        ready()
        q.run()
    """),
    "nfcap Queue.next()": ("nfnetlink_queue", 51, """
        import nfcap
        q = nfcap.Queue(51, None)
        ready()
        q.next()
    """),
    "nflogr next()": ("nfnetlink_log", 52, """
        import nflogr
        log = nflogr.open(52)
        ready()
        log.next()
    """),
    "nfcap Log.run()": ("nfnetlink_log", 53, """
        import nfcap
        log = nfcap.Log([53])
        ready()
        log.run(lambda record: None)
    """),
}

PROLOGUE = """
import sys
def ready():
    print("ready", flush=True)
try:
"""

EPILOGUE = """
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit("the wait ended without KeyboardInterrupt")
"""


@pytest.mark.parametrize("wait", sorted(WAITS))
def test_ctrl_c_ends_a_wait_at_once(wait):
    proc_file, number, body = WAITS[wait]
    script = PROLOGUE + textwrap.indent(textwrap.dedent(body), "    ") + EPILOGUE
    child = subprocess.Popen(["/usr/bin/python3", "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        wait_listed(proc_file, number)
        time.sleep(0.3)  # well inside the blocking call
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
        elapsed = time.monotonic() - start
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0 and out == "interrupted\n", (out, err)
    # "At once": the modules look at signals every 100 ms; the interpreter's exit is in this too.
    assert elapsed < 1.0, f"{wait} took {elapsed:.2f} s to end after Ctrl-C"
