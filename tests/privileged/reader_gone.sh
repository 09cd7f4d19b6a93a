#!/usr/bin/env bash
# The reader of nfcap's output goes away while no traffic comes (Wireshark's stop button closing
# its FIFO, an ssh channel closing under sshdump's remote capture): nfcap notices within a
# second, without a record to write that would fail, stops, and frees its NFLOG group. Standard
# output as a pipe and as a socket (what sshd hands a remote command), and a FIFO.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd /usr/bin/python3
setup_pair

cat >"$WORK/gone.py" <<'PY'
"""gone.py MODE NFCAP NS GROUP WORK: nfcap -g GROUP -w (stdout or a FIFO) in NS; its reader
reads the file's start, waits 0.5 s (no traffic), closes; prints how long nfcap took to end."""
import os, socket, subprocess, sys, time

mode, nfcap, ns, group, work = sys.argv[1:]
err = open(os.path.join(work, f"gone-{mode}.err"), "w")
command = ["ip", "netns", "exec", ns, nfcap, "-g", group, "-w"]

def bound():
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/netfilter/nfnetlink_log"],
                         capture_output=True, text=True, check=True).stdout
    return any(line.split()[0] == group for line in out.splitlines())

if mode == "fifo":
    path = os.path.join(work, "gone.fifo")
    os.mkfifo(path)
    child = subprocess.Popen(command + [path], stderr=err)
    reader = open(path, "rb")  # nfcap's open of the FIFO returns once this one is made
    close = reader.close
    read = lambda: reader.read1(4096)
else:
    if mode == "pipe":
        read_end, write_end = os.pipe()
        ours = os.fdopen(read_end, "rb", buffering=0)
        theirs = write_end
    else:
        a, b = socket.socketpair()
        ours, theirs = a, b.fileno()
        keep = b
    child = subprocess.Popen(command + ["-"], stdout=theirs, stderr=err)
    os.close(theirs) if mode == "pipe" else keep.close()
    close = ours.close
    read = (lambda: ours.read(4096)) if mode == "pipe" else (lambda: ours.recv(4096))

end = time.monotonic() + 10
while not bound():
    if child.poll() is not None or time.monotonic() > end:
        sys.exit(f"{mode}: nfcap did not bind group {group}: {open(err.name).read()}")
    time.sleep(0.05)
first = read()
if first[:4] != b"\x0a\x0d\x0d\x0a":
    sys.exit(f"{mode}: the output does not start with a pcapng section header: {first[:8]!r}")
time.sleep(0.5)
closed = time.monotonic()
close()
try:
    status = child.wait(timeout=10)
except subprocess.TimeoutExpired:
    child.kill()
    sys.exit(f"{mode}: nfcap still ran 10 s after its reader went away")
took = time.monotonic() - closed
still_bound = bound()
print(f"{mode} took={took:.3f} status={status} bound={int(still_bound)}")
PY

for mode in pipe socket fifo; do
  result=$(/usr/bin/python3 "$WORK/gone.py" "$mode" "$NFCAP" "$NS_B" 61 "$WORK") \
    || fail "$mode: $result $(cat "$WORK/gone-$mode.err")"
  echo "$result"
  took=$(sed -n 's/.* took=\([0-9.]*\) .*/\1/p' <<<"$result")
  awk -v t="$took" 'BEGIN { exit !(t < 1.0) }' \
    || fail "$mode: nfcap took ${took} s to notice that its reader went away (at most 1 s)"
  check_eq "$mode: exit status" 0 "$(sed -n 's/.* status=\([0-9]*\) .*/\1/p' <<<"$result")"
  check_eq "$mode: group freed once nfcap ended" 0 "$(sed -n 's/.* bound=\([01]\)$/\1/p' <<<"$result")"
  grep -q "went away; stopping" "$WORK/gone-$mode.err" \
    || fail "$mode: nfcap did not say why it stopped: $(cat "$WORK/gone-$mode.err")"
done
echo "reader_gone: every check passed"
