#!/usr/bin/env bash
# nfcap stopped at any moment: what the file holds.
#
#   a. N packets, then 1.5 s without traffic, then SIGKILL: all N are in the file, and it ends
#      with a whole block (tshark and capinfos read it without any error).
#   b. SIGKILL during a steady stream: the file holds the stream's first n datagrams in order,
#      the newest of them logged less than a second before the kill (the writer flushes at
#      least every 0.5 s, also while it is never idle). A kill can land in the middle of a
#      write() call, so the last block may be cut short: tshark then reads every packet before
#      it and says only that the file "appears to have been cut short" (status 2); any other
#      complaint fails the test.
#   c. SIGTERM: status 0, a complete file with an Interface Statistics Block, every packet.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft
ensure_test_tools
setup_pair

group=21
port=7500
cat >"$WORK/rules.nft" <<EOF
table inet fault {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport $port counter log group $group prefix "fault"
  }
}
EOF
nft_b "$WORK/rules.nft"

# indices FILE: the payload index k of every datagram in FILE, in file order.
indices() {
    { tshark -r "$1" -d "udp.port==$port,data" -Y "udp.dstport == $port" -T fields -e data.data 2>/dev/null || true; } |
        while read -r hex; do
            [ -n "$hex" ] && echo $((16#${hex:8:16}))
        done
}

# check_prefix WHAT FILE N: FILE's datagrams are exactly 0..N-1, in order.
check_prefix() {
    local what=$1 file=$2 n=$3
    indices "$file" >"$file.k"
    check_eq "$what: datagrams read back" "$n" "$(wc -l <"$file.k")"
    if [ "$n" -gt 0 ]; then
        seq 0 $((n - 1)) | cmp -s - "$file.k" || fail "$what: the datagrams are not 0..$((n - 1)) in order"
    fi
    echo "ok: $what: datagrams 0..$((n - 1)) in order"
}

start_capture() { # start_capture NAME: nfcap -g $group into $WORK/NAME.pcapng; sets cap
    bg_in "$NS_B" "$NFCAP" -g "$group" -w "$WORK/$1.pcapng" 2>"$WORK/$1.err"
    cap=$BG_PID
    wait_nflog_bound "$NS_B" "$group"
}

kill_capture() { # kill_capture SIGNAL: signal nfcap and wait for it; its status in cap_rc
    cap_rc=0
    kill "-$1" "$cap"
    wait_pid "$cap" 10 || cap_rc=$?
}

# --- a. N packets, idle, SIGKILL
n=500
start_capture idle
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$port" "$n" 64 --rate 2000 >/dev/null
sleep 1.5
kill_capture KILL
check_eq "a: exit status on SIGKILL" 137 "$cap_rc"
tshark -r "$WORK/idle.pcapng" >/dev/null 2>"$WORK/idle.tshark" ||
    fail "a: tshark refused the file: $(cat "$WORK/idle.tshark")"
capinfos -c "$WORK/idle.pcapng" >"$WORK/idle.capinfos" 2>&1 ||
    fail "a: capinfos refused the file: $(cat "$WORK/idle.capinfos")"
check_eq "a: capinfos packet count" "$n" "$(sed -n 's/^Number of packets: *//p' "$WORK/idle.capinfos")"
check_prefix "a" "$WORK/idle.pcapng" "$n"
a_line="a: $n sent, 1.5 s idle, SIGKILL: $n read back, no reader error"

# --- b. SIGKILL while a stream runs (3 s at 5000/s, killed after 1.5 s)
start_capture stream
bg_in "$NS_A" "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$port" 15000 64 --rate 5000 --timeout 20 >/dev/null
sender=$BG_PID
sleep 1.5
kill_at=$(date +%s.%N)
kill_capture KILL
check_eq "b: exit status on SIGKILL" 137 "$cap_rc"
wait_pid "$sender" 20 || fail "b: the sender failed"
rc=0
tshark -r "$WORK/stream.pcapng" >/dev/null 2>"$WORK/stream.tshark" || rc=$?
if [ "$rc" -ne 0 ]; then
    check_eq "b: tshark status on a file cut short" 2 "$rc"
    grep -v "appears to have been cut short in the middle of a packet" "$WORK/stream.tshark" |
        grep -v "^Running as user" | grep -q . &&
        fail "b: tshark says more than 'cut short': $(cat "$WORK/stream.tshark")"
    echo "ok: b: the last block was cut short by the kill; tshark reads everything before it"
    b_reader="cut short in the last block (tshark status 2)"
else
    echo "ok: b: tshark reads the file without any error"
    b_reader="no reader error"
fi
capinfos -c "$WORK/stream.pcapng" >"$WORK/stream.capinfos" 2>&1 || true
got=$(sed -n 's/^Number of packets: *//p' "$WORK/stream.capinfos")
if [ -z "$got" ] || [ "$got" -eq 0 ]; then
    fail "b: capinfos read no packets: $(cat "$WORK/stream.capinfos")"
fi
check_prefix "b" "$WORK/stream.pcapng" "$got"
# The newest packet in the file was logged less than a second before the kill (kernel time).
last=$(tshark -r "$WORK/stream.pcapng" -T fields -e frame.time_epoch 2>/dev/null | tail -1)
age=$(awk -v k="$kill_at" -v l="$last" 'BEGIN { printf "%.3f", k - l }')
awk -v a="$age" 'BEGIN { exit !(a < 1.0) }' ||
    fail "b: the newest packet in the file is ${age} s older than the kill (flush bound 1 s)"
echo "ok: b: the newest packet in the file is ${age} s older than the kill"
b_line="b: SIGKILL 1.5 s into a 5000/s stream: $got read back (0..$((got - 1)) in order), newest ${age} s before the kill, $b_reader"

# --- c. SIGTERM: complete file with statistics
start_capture term
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$port" "$n" 64 --rate 2000 >/dev/null
sleep 0.3
kill_capture TERM
check_eq "c: exit status on SIGTERM" 0 "$cap_rc"
cat "$WORK/term.err" >&2
tshark -r "$WORK/term.pcapng" >/dev/null 2>"$WORK/term.tshark" ||
    fail "c: tshark refused the file: $(cat "$WORK/term.tshark")"
capinfos -M "$WORK/term.pcapng" >"$WORK/term.capinfos" 2>&1 ||
    fail "c: capinfos refused the file: $(cat "$WORK/term.capinfos")"
grep -q "Number of stat entries = 1" "$WORK/term.capinfos" ||
    fail "c: no Interface Statistics Block: $(cat "$WORK/term.capinfos")"
check_prefix "c" "$WORK/term.pcapng" "$n"
grep -q "^nfcap: $n packets written, 0 lost," "$WORK/term.err" ||
    fail "c: summary: $(tail -1 "$WORK/term.err")"
c_line="c: $n sent, SIGTERM: status 0, $n read back, one Interface Statistics Block"

echo "=== fault_kill:"
printf '%s\n' "$a_line" "$b_line" "$c_line"
echo "1 passed, 0 failed"
