#!/usr/bin/env bash
# A full disk (a 256 KiB tmpfs):
#
#   NFLOG: one line names the file and "No space left on device"; the file is cut back to its
#   last complete block, so tshark and capinfos read it without any error; nfcap stops by
#   itself and exits with status 1 after the summary, which counts what was not written.
#
#   NFQUEUE (--auto-accept, a rule without --queue-bypass): the same line, but nfcap goes on
#   giving verdicts while the output fails: UDP datagrams and pings through the queue all get
#   through, the rule's counter goes on rising, and every queued packet is in the summary as
#   written or not written. SIGINT then stops it with status 1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft iptables mount umount mountpoint
ensure_test_tools
setup_pair

group=22
queue=6
lport=7600 # NFLOG
qport=7601 # NFQUEUE
size=256k
full="$WORK/full"
mkdir -p "$full"
mount -t tmpfs -o "size=$size,mode=0700" nfcap-test-full "$full" || fail "cannot mount a tmpfs on $full"
on_cleanup "mountpoint -q '$full' && umount '$full'"

cat >"$WORK/rules.nft" <<EOF
table inet fault {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport $lport counter log group $group prefix "full"
  }
}
EOF
nft_b "$WORK/rules.nft"
in_b iptables -A INPUT -s 192.0.2.1 -p udp --dport "$qport" -j NFQUEUE --queue-num "$queue" ||
    fail "iptables refused the NFQUEUE rule"
in_b iptables -A INPUT -s 192.0.2.1 -p icmp --icmp-type echo-request -j NFQUEUE --queue-num "$queue" ||
    fail "iptables refused the ICMP NFQUEUE rule"

# indices FILE PORT: the payload index k of every datagram to PORT in FILE, in file order.
indices() {
    { tshark -r "$1" -d "udp.port==$2,data" -Y "udp.dstport == $2" -T fields -e data.data 2>/dev/null || true; } |
        while read -r hex; do
            [ -n "$hex" ] && echo $((16#${hex:8:16}))
        done
}

# check_readable WHAT FILE: tshark and capinfos read FILE without a word of complaint; sets
# frames to its packet count.
# (Their output goes to $WORK: the tmpfs is full.)
check_readable() {
    local what=$1 file=$2 t="$WORK/$1.tshark" c="$WORK/$1.capinfos"
    tshark -r "$file" >/dev/null 2>"$t" || fail "$what: tshark refused the file: $(cat "$t")"
    if grep -v "^Running as user" "$t" | grep -q .; then
        fail "$what: tshark complained: $(cat "$t")"
    fi
    capinfos -c "$file" >"$c" 2>&1 || fail "$what: capinfos refused the file: $(cat "$c")"
    if grep -qiE "error|cut short" "$c"; then
        fail "$what: capinfos complained: $(cat "$c")"
    fi
    frames=$(sed -n 's/^Number of packets: *//p' "$c")
}

field() { # field SUMMARY "TEXT": the number before TEXT in the summary line
    sed -n "s/.*[ ,]\([0-9]*\) $2.*/\1/p" <<<"$1"
}

# wait_for_line FILE PATTERN: wait (10 s) until a line of FILE matches PATTERN.
wait_for_line() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q "$2" "$1" && return 0
        sleep 0.1
    done
    fail "no line matching '$2' in $1 after 10 s: $(cat "$1")"
}

# --- NFLOG: stops by itself
out="$full/out.pcapng"
bg_in "$NS_B" "$NFCAP" -g "$group" -w "$out" 2>"$WORK/nflog.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
# About 400 bytes a record: 4000 records are 1.6 MB, far beyond 256 KiB.
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$lport" 4000 300 --rate 4000 >/dev/null
rc=0
wait_pid "$cap" 20 || rc=$?
cat "$WORK/nflog.err" >&2
check_eq "nflog: exit status after the disk filled" 1 "$rc"
check_eq "nflog: lines about the failed write" 1 "$(grep -c "cannot write" "$WORK/nflog.err")"
grep -qx "nfcap: cannot write to $out: No space left on device; the file ends with its last complete block; stopping" \
    "$WORK/nflog.err" || fail "nflog: the error line is not the expected one"
summary=$(grep '^nfcap: [0-9]* packets written' "$WORK/nflog.err") || fail "nflog: no summary line"
written=$(sed -n 's/^nfcap: \([0-9]*\) packets written.*/\1/p' <<<"$summary")
failed=$(field "$summary" "not written (output failed)")
if [ -z "$failed" ] || [ "$failed" -eq 0 ]; then
    fail "nflog: the summary does not count what was not written: $summary"
fi
check_readable nflog "$out"
[ "$frames" -gt 0 ] || fail "nflog: no packet in the file"
check_eq "nflog: packets in the file vs. the summary" "$written" "$frames"
indices "$out" "$lport" >"$WORK/nflog.k"
seq 0 $((frames - 1)) | cmp -s - "$WORK/nflog.k" || fail "nflog: the file's datagrams are not 0..$((frames - 1)): $(head -3 "$WORK/nflog.k" | tr "\\n" " ")... ($(wc -l <"$WORK/nflog.k") lines)"
file_bytes=$(stat -c %s "$out")
nflog_line="nflog: 4000 sent into a $size tmpfs: status 1, one error line, $frames packets ($file_bytes bytes) read back without error, $failed not written (output failed)"
echo "ok: $nflog_line"
rm -f "$out"

# --- NFQUEUE: verdicts go on while the output fails
out="$full/queue.pcapng"
bg_in "$NS_B" "$NFCAP" -q "$queue" --auto-accept -w "$out" 2>"$WORK/queue.err"
cap=$BG_PID
for ((i = 0; i < 100; i++)); do
    # shellcheck disable=SC2016 # awk's own $1
    in_b awk -v q="$queue" '$1 == q { found = 1 } END { exit !found }' \
        /proc/net/netfilter/nfnetlink_queue 2>/dev/null && break
    sleep 0.1
done
rule_counter() { # packets the NFQUEUE rules have queued (UDP + ICMP)
    # shellcheck disable=SC2016 # awk's own fields
    in_b iptables -L INPUT -v -x -n | awk '$3 == "NFQUEUE" { s += $1 } END { print s + 0 }'
}
# Fill the disk through the queue.
bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv "$qport" 4000 --timeout 10 >"$WORK/fill.recv"
recv=$BG_PID
wait_port "$NS_B" udp "$qport"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$qport" 4000 300 --rate 4000 >/dev/null
wait_pid "$recv" 10 || fail "queue: datagrams lost while the disk filled: $(cat "$WORK/fill.recv")"
wait_for_line "$WORK/queue.err" "cannot write"
nfcap_lib_is_alive "$cap" || fail "queue: nfcap stopped when the output failed: $(cat "$WORK/queue.err")"
grep -qx "nfcap: cannot write to $out: No space left on device; the file ends with its last complete block; verdicts go on, and packets are counted as not written until nfcap is stopped" \
    "$WORK/queue.err" || fail "queue: the error line is not the expected one: $(cat "$WORK/queue.err")"
# While the output fails: a UDP batch and pings through the queue all get through.
before=$(rule_counter)
bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv "$qport" 2000 --timeout 10 >"$WORK/after.recv"
recv=$BG_PID
wait_port "$NS_B" udp "$qport"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$qport" 2000 64 --rate 2000 >/dev/null
wait_pid "$recv" 10 || fail "queue: datagrams lost while the output failed: $(cat "$WORK/after.recv")"
in_a ping -c 20 -i 0.05 -W 1 -q 192.0.2.2 >"$WORK/ping.txt" 2>&1 ||
    fail "queue: pings lost while the output failed: $(cat "$WORK/ping.txt")"
grep -q "20 packets transmitted, 20 received" "$WORK/ping.txt" || fail "queue: $(cat "$WORK/ping.txt")"
rose=$(($(rule_counter) - before))
check_eq "queue: packets the rules queued while the output failed" 2020 "$rose"
nfcap_lib_is_alive "$cap" || fail "queue: nfcap stopped while the output failed"
check_eq "queue: lines about the failed write" 1 "$(grep -c "cannot write" "$WORK/queue.err")"
kill -INT "$cap"
rc=0
wait_pid "$cap" 10 || rc=$?
cat "$WORK/queue.err" >&2
check_eq "queue: exit status on SIGINT after the output failed" 1 "$rc"
summary=$(grep '^nfcap: [0-9]* packets written' "$WORK/queue.err") || fail "queue: no summary line"
written=$(sed -n 's/^nfcap: \([0-9]*\) packets written.*/\1/p' <<<"$summary")
failed=$(field "$summary" "not written (output failed)")
behind=$(field "$summary" "not written (output behind)")
verdicts=$(field "$summary" "verdicts")
total=$(rule_counter)
check_eq "queue: verdicts vs. packets the rules queued" "$total" "$verdicts"
check_eq "queue: written + not written (failed, behind) vs. verdicts" "$verdicts" "$((written + failed + behind))"
[ "$failed" -ge 2020 ] || fail "queue: only $failed not written, but 2020 packets passed after the failure"
check_readable queue "$out"
[ "$frames" -gt 0 ] || fail "queue: no packet in the file"
check_eq "queue: packets in the file vs. the summary" "$written" "$frames"
queue_line="queue: $total queued, all got through (2000/2000 datagrams, 20/20 pings after the failure); status 1 on SIGINT; $frames written (read back without error), $failed not written (output failed), $behind behind"
echo "ok: $queue_line"

echo "=== fault_disk_full:"
printf '%s\n' "$nflog_line" "$queue_line"
echo "1 passed, 0 failed"
