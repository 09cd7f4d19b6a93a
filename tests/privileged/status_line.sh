#!/usr/bin/env bash
# The live status line a terminal shows (nfcap redraws it every second when stderr is a tty)
# says whether its loss count is exact, as the summary does. nfcap runs on a pseudo-terminal
# (tests/tools/on_pty.py), once per kind of source, paused while a burst overflows a small socket buffer:
#   - NFLOG, no record after the pause: batches dropped after the last record, so the line says
#     "at least N lost" with N > 0, and so does the summary;
#   - NFQUEUE: every dropped datagram is one packet with an id, so the line counts them exactly
#     ("N lost", N > 0) before the stop, and the summary's exact count matches the rule counter.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd python3 nft iptables
ensure_test_tools
setup_pair

group=11
queue=12
cat >"$WORK/rules.nft" <<EOF
table inet status {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7800 counter log group $group
  }
}
EOF
nft_b "$WORK/rules.nft"
in_b iptables -A INPUT -p udp --dport 7801 -j NFQUEUE --queue-num "$queue" ||
    fail "iptables refused the NFQUEUE rule"

# on_tty NAME ARGS...: nfcap ARGS on a pseudo-terminal in B; its terminal output goes to
# $WORK/NAME.tty. Sets CAP (the terminal's pid) and NFCAP_PID (nfcap's, its only child).
on_tty() {
    local name=$1 i
    shift
    bg_in "$NS_B" python3 "$NFCAP_SOURCE_DIR/tests/tools/on_pty.py" "$WORK/$name.tty" "$NFCAP" "$@" \
        </dev/null
    CAP=$BG_PID
    for ((i = 0; i < 100; i++)); do
        NFCAP_PID=$(pgrep -P "$CAP" | head -n 1 || true)
        if [ -n "$NFCAP_PID" ] && grep -q "nfcap: recording" "$WORK/$name.tty" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    fail "$name: nfcap did not start on the terminal: $(cat "$WORK/$name.tty" 2>/dev/null)"
}

# last_status NAME: the last status line drawn on the terminal (lines are redrawn after \r).
last_status() {
    tr '\r' '\n' <"$WORK/$1.tty" | sed 's/\x1b\[K//g' | { grep -a 'packets (.*/s), ' || true; } |
        tail -n 1
}

# summary_on NAME: the summary line nfcap printed on the terminal.
summary_on() {
    tr '\r' '\n' <"$WORK/$1.tty" | { grep -a '^nfcap: [0-9]* packets written' || true; } | tail -n 1
}

# pause_burst PID PORT COUNT: pause PID, send COUNT datagrams, let the kernel's flush timer
# send its last batch into the full buffer, resume, and wait for two redraws of the line.
pause_burst() {
    kill -STOP "$1"
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$2" "$3" 100 --timeout 30 >/dev/null ||
        fail "the sender failed"
    sleep 0.3
    kill -CONT "$1"
    sleep 2.5
}

# --- NFLOG
on_tty nflog -g "$group" --rcvbuf 64K -w "$WORK/nflog.pcapng"
pause_burst "$NFCAP_PID" 7800 3000
line=$(last_status nflog)
echo "NFLOG status line: $line"
[[ $line =~ ,\ at\ least\ ([0-9]+)\ lost, ]] ||
    fail "NFLOG: the status line does not say 'at least N lost': $line"
[ "${BASH_REMATCH[1]}" -gt 0 ] || fail "NFLOG: 'at least 0 lost' although batches were dropped: $line"
kill -TERM "$NFCAP_PID"
wait "$CAP" || true
summary=$(summary_on nflog)
echo "NFLOG summary: $summary"
[[ $summary =~ ,\ at\ least\ [0-9]+\ lost ]] || fail "NFLOG: the summary does not say 'at least': $summary"

# --- NFQUEUE
queue_counter() {
    # shellcheck disable=SC2016 # awk's own fields
    in_b iptables -L INPUT -v -x -n | awk '$3 == "NFQUEUE" { print $1 }'
}
before=$(queue_counter)
on_tty nfqueue -q "$queue" --auto-accept --rcvbuf 256K -w "$WORK/queue.pcapng"
pause_burst "$NFCAP_PID" 7801 20000
line=$(last_status nfqueue)
echo "NFQUEUE status line: $line"
[[ $line =~ ,\ ([0-9]+)\ lost, ]] || fail "NFQUEUE: the status line does not say 'N lost': $line"
live_lost=${BASH_REMATCH[1]}
[ "$live_lost" -gt 0 ] || fail "NFQUEUE: the status line shows no loss after an overflow: $line"
kill -TERM "$NFCAP_PID"
wait "$CAP" || true
queued=$(($(queue_counter) - before))
summary=$(summary_on nfqueue)
echo "NFQUEUE summary: $summary (rule counter $queued)"
written=$(summary_field "$summary" "packets written")
check_accounting "NFQUEUE on a terminal" "$written" "$summary" "$queued"
read -r lost certainty <<<"$(loss_of "$summary")"
check_eq "NFQUEUE: the summary's count is exact" exact "$certainty"
check_eq "NFQUEUE: the status line's count vs. the summary's" "$lost" "$live_lost"
echo "1 passed, 0 failed"

