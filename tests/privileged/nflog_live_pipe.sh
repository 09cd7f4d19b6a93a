#!/usr/bin/env bash
# Live output: `nfcap -w -` piped into `tshark -i -` shows the traffic while it happens; when
# tshark has had enough (-c) and exits, nfcap sees EPIPE and stops cleanly with a clear message.
# The same through a FIFO (`-w FIFO`), and the refusal to write binary to a terminal.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark nft script
ensure_test_tools
setup_pair

group=6
cat >"$WORK/rules.nft" <<EOF
table inet live {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport 7200 log group $group prefix "live in"
  }
}
EOF
nft_b "$WORK/rules.nft"

# --- pipe: tshark stops after 5 packets, nfcap must then stop by itself (EPIPE), exit 0.
want=5
(
    ip netns exec "$NS_B" "$NFCAP" -g "$group" -w - 2>"$WORK/nfcap.err"
    echo $? >"$WORK/nfcap.rc"
) | tshark -i - -c "$want" -l -T fields -e frame.comment -e udp.dstport >"$WORK/tshark.out" 2>"$WORK/tshark.err" &
pipeline=$!
track_pid "$pipeline"
wait_nflog_bound "$NS_B" "$group"

# Packets one at a time: each must show up while nfcap is still running (a live view).
for k in 1 2 3; do
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7200 1 64 >/dev/null
    for ((i = 0; i < 50; i++)); do
        [ "$(wc -l <"$WORK/tshark.out")" -ge "$k" ] && break
        sleep 0.1
    done
    check_eq "packets tshark shows live after $k sent" "$k" "$(wc -l <"$WORK/tshark.out")"
done
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7200 2 64 >/dev/null
# tshark exits after $want packets; nfcap notices at its next write.
for ((i = 0; i < 100; i++)); do
    [ -s "$WORK/nfcap.rc" ] && break
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7200 1 64 >/dev/null
    sleep 0.1
done
wait_pid "$pipeline" 10 || true
cat "$WORK/nfcap.err" >&2
[ -s "$WORK/nfcap.rc" ] || fail "nfcap did not stop after its reader went away"
check_eq "nfcap exit status after EPIPE" 0 "$(cat "$WORK/nfcap.rc")"
grep -q "the reader of standard output went away; stopping" "$WORK/nfcap.err" ||
    fail "no clear message about the reader going away"
grep -q "^nfcap: [0-9]* packets written" "$WORK/nfcap.err" || fail "no summary after EPIPE"
check_eq "frames tshark read from the pipe" "$want" "$(wc -l <"$WORK/tshark.out")"
bad=$(grep -cv "^nflog:$group hook=input prefix=\"live in\" in=vethb/[0-9]* hwheader=[0-9a-f]* seq=[0-9]*	7200$" "$WORK/tshark.out" || true)
check_eq "frames without the expected metadata" 0 "$bad"
if grep -iE "error|malformed|corrupt" "$WORK/tshark.err"; then
    fail "tshark reported a damaged stream"
fi

# --- FIFO: nfcap opens it when a reader arrives and streams into it.
mkfifo "$WORK/fifo"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$WORK/fifo" -c 3 2>"$WORK/fifo.err"
fifo_cap=$BG_PID
tshark -r "$WORK/fifo" -T fields -e udp.dstport >"$WORK/fifo.out" 2>/dev/null &
reader=$!
track_pid "$reader"
wait_nflog_bound "$NS_B" "$group"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7200 3 64 >/dev/null
rc=0
wait_pid "$fifo_cap" 20 || rc=$?
check_eq "nfcap -c 3 into a FIFO exit status" 0 "$rc"
wait_pid "$reader" 10 || true
check_eq "packets read from the FIFO" "7200 7200 7200" "$(tr '\n' ' ' <"$WORK/fifo.out" | sed 's/ $//')"

# --- a terminal is refused before anything is bound
rc=0
script -qec "ip netns exec $NS_B $NFCAP -g $group -w -" /dev/null >"$WORK/tty.out" 2>&1 || rc=$?
grep -q "refusing to write binary pcapng to a terminal" "$WORK/tty.out" ||
    fail "no refusal on a terminal: $(cat "$WORK/tty.out")"
[ "$rc" -ne 0 ] || fail "writing to a terminal did not fail"

echo "1 passed, 0 failed"
