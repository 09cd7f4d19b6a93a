#!/usr/bin/env bash
# FIFO readers that come and go: with --fifo-reconnect, when the first reader closes, nfcap
# counts what arrives while nobody reads, and the next reader gets a valid stream of its own
# (fresh section and interface blocks). Without it, nfcap stops, as dumpcap does.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark nft
ensure_test_tools
setup_pair

group=14
cat >"$WORK/rules.nft" <<EOF
table inet fifo {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7900 log group $group prefix "fifo"
  }
}
EOF
nft_b "$WORK/rules.nft"
mkfifo "$WORK/fifo"
send() { in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7900 "$1" 32 --rate 50 >/dev/null; }

# The first reader takes 3 packets and leaves.
tshark -r "$WORK/fifo" -c 3 -T fields -e frame.comment >"$WORK/first.out" 2>/dev/null &
first=$!
track_pid $first
bg_in "$NS_B" "$NFCAP" -g $group -w "$WORK/fifo" --fifo-reconnect 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" $group
send 3
wait_pid $first 10 || true
check_eq "packets the first reader got" 3 "$(grep -c "prefix=fifo" "$WORK/first.out")"

# Nobody reads: these are counted, not written anywhere.
send 5
sleep 0.5

# The second reader gets a stream of its own (saved, then read by tshark).
cat "$WORK/fifo" >"$WORK/second.pcapng" &
second=$!
track_pid $second
sleep 0.5
send 4
sleep 0.5
rc=0
stop_pid "$cap" || rc=$?
wait_pid $second 10 || true
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"
tshark -r "$WORK/second.pcapng" -T fields -e frame.comment >"$WORK/second.out" 2>"$WORK/second.err" ||
    fail "the second reader's stream is not valid: $(cat "$WORK/second.err")"
check_eq "packets the second reader got" 4 "$(grep -c "prefix=fifo" "$WORK/second.out")"
capinfos "$WORK/second.pcapng" | grep -q "Number of stat entries = 1" || fail "the second stream has no statistics block"
grep -q " 5 unread (no reader on the FIFO)" "$WORK/nfcap.err" || fail "unread packets not counted: $(tail -1 "$WORK/nfcap.err")"

# Without --fifo-reconnect nfcap stops when its reader leaves.
tshark -r "$WORK/fifo" -c 1 >/dev/null 2>&1 &
track_pid $!
bg_in "$NS_B" "$NFCAP" -g $group -w "$WORK/fifo" 2>"$WORK/plain.err"
plain=$BG_PID
wait_nflog_bound "$NS_B" $group
# It notices at its first write after the reader left: keep sending until it stops (bounded).
for ((i = 0; i < 50; i++)); do
    nfcap_lib_is_alive "$plain" || break
    send 1
    sleep 0.2
done
rc=0
wait_pid "$plain" 10 || rc=$?
check_eq "exit status when the reader left" 0 "$rc"
grep -q "went away; stopping" "$WORK/plain.err" || fail "$(cat "$WORK/plain.err")"
echo "1 passed, 0 failed"
