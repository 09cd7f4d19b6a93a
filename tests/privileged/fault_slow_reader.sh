#!/usr/bin/env bash
# A reader that reads, but more slowly than NFLOG records come: `nfcap -g G -w FIFO` with a
# reader that takes 128 KiB every 20 ms (6.4 MB/s) while 100,000 records of 1.4 KB (some
# 150 MB) arrive at 25,000 a second. The writer keeps moving, so nfcap never gives up on it; the
# hand-off (32 MiB) and then the socket buffer (64 MiB as the kernel counts it, --rcvbuf 32M)
# fill, and records must be lost.
#
# What is checked: the writer runs at a lower priority than the receive thread (nice 5
# against 0), and every record lost is counted exactly. nfcap takes datagrams out of the socket
# and counts their records as not handed on before the socket is full, so the kernel drops
# nothing: a kernel drop after the last record delivered would show in no sequence gap and make
# the count a lower bound. So the summary's loss is exact, something was not handed on, and
#   written + not written + lost = the rule's counter,
# with "written" counted by capinfos in what the reader received, equal to the summary's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd nft mkfifo capinfos
ensure_test_tools
setup_pair

group=24
port=7702
n=100000
rate=25000

cat >"$WORK/rules.nft" <<EOF
table inet slow {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport $port counter log group $group prefix "slow"
  }
}
EOF
nft_b "$WORK/rules.nft"
log_counter() {
    in_b nft list chain inet slow input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$'
}

# The reader: 128 KiB every 20 ms until $WORK/go exists, then everything at full speed, into
# out.pcapng, until the writer closes the FIFO (bounded: 120 s).
mkfifo "$WORK/fifo"
cat >"$WORK/reader.py" <<'PYEOF'
import os, sys, time
fifo, out, go = sys.argv[1:4]
deadline = time.monotonic() + 120
with open(fifo, "rb", buffering=0) as src, open(out, "wb") as dst:
    while time.monotonic() < deadline:
        fast = os.path.exists(go)
        chunk = src.read(1 << 20 if fast else 128 << 10)
        if not chunk:
            break
        dst.write(chunk)
        if not fast:
            time.sleep(0.02)
PYEOF
/usr/bin/python3 "$WORK/reader.py" "$WORK/fifo" "$WORK/out.pcapng" "$WORK/go" &
reader=$!
track_pid "$reader"

bg_in "$NS_B" "$NFCAP" -g "$group" --rcvbuf 32M -w "$WORK/fifo" 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
before=$(log_counter)
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$port" "$n" 1400 --rate "$rate" --timeout 60 >/dev/null ||
    fail "the sender failed"
counter=$(($(log_counter) - before))
check_eq "records the rule logged" "$n" "$counter"
# The writer (nfcap's main thread, in LiveCapture::run) runs 5 nice steps below the receive
# thread, so that receiving preempts writing and a writer that falls behind is what loses.
nice_of() { # nice_of TID: field 19 of /proc/PID/task/TID/stat (17th after "pid (comm) ")
    sed 's/^.*) //' "/proc/$cap/task/$1/stat" | awk '{ print $17 }'
}
check_eq "the writer's nice value" 5 "$(nice_of "$cap")"
others=""
for task in /proc/"$cap"/task/*; do
    tid=${task##*/}
    [ "$tid" = "$cap" ] || others+="$(nice_of "$tid") "
done
[[ " $others" == *" 0 "* ]] || fail "no thread of nfcap at nice 0 beside the writer: $others"
echo "ok: nice values: writer 5, the other threads ${others% }"
# The last batch leaves the kernel within its flush timeout (10 ms); then the reader may speed up.
sleep 0.5
touch "$WORK/go"
nfcap_lib_is_alive "$cap" || fail "nfcap stopped: $(cat "$WORK/nfcap.err")"
kill -INT "$cap"
rc=0
wait_pid "$cap" 60 || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap's exit status (4: records were lost or not written)" 4 "$rc"
wait_pid "$reader" 60 || fail "the reader failed"

summary=$(summary_of "$WORK/nfcap.err")
[ -n "$summary" ] || fail "no summary line"
written=$(sed -n 's/^nfcap: \([0-9]*\) packets written.*/\1/p' <<<"$summary")
behind=$(summary_field "$summary" "not written (output behind)")
read -r lost certainty <<<"$(loss_of "$summary")"
packets=$(capinfos -c -M "$WORK/out.pcapng" | sed -n 's/^Number of packets: *\([0-9]*\)$/\1/p')
check_eq "packets in the file (capinfos) vs. the summary's written" "$written" "$packets"
[ "${behind:-0}" -gt 0 ] || fail "nothing counted as not handed on, although the reader was slow: $summary"
check_eq "certainty of the loss count" exact "$certainty"
check_accounting "slow reader" "$written" "$summary" "$counter"
line="slow reader: $counter logged, written=$written not handed on=$behind lost=$lost ($certainty)"
echo "ok: $line"
echo "=== fault_slow_reader:"
echo "$line"
echo "1 passed, 0 failed"
