#!/usr/bin/env bash
# Self-test of tests/privileged/lib.sh and the traffic tool: a namespace pair, UDP over IPv4 and
# IPv6, a TCP stream, an NFLOG group seen bound by wait_nflog_bound, and proof that cleanup
# leaves no namespace behind, also after a forced `fail` and after SIGTERM.
#
# Runs standalone as root (`bash tests/privileged/selftest.sh`; builds the tools with g++ when
# NFCAP_TRAFFIC is unset) or under ctest. NFCAP_SELFTEST_MODE=fail|term is used internally.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$here/lib.sh"

require_root
ensure_test_tools
T=$NFCAP_TRAFFIC

case ${NFCAP_SELFTEST_MODE:-} in
fail)
    setup_pair
    bg_in "$NS_B" sleep 30
    echo "namespaces: $NS_A $NS_B pid: $BG_PID work: $WORK"
    fail "forced failure (expected by the self-test)"
    ;;
term)
    setup_pair
    bg_in "$NS_B" sleep 30
    echo "namespaces: $NS_A $NS_B pid: $BG_PID work: $WORK"
    # Bounded; the parent sends SIGTERM long before. `wait` (unlike a foreground command) lets
    # bash run the TERM trap at once.
    sleep 30 &
    track_pid $!
    wait $!
    exit 0
    ;;
"") ;;
*) fail "unknown NFCAP_SELFTEST_MODE '$NFCAP_SELFTEST_MODE'" ;;
esac

setup_pair
echo "pair: $NS_A <-> $NS_B, work dir $WORK"

# UDP, IPv4 then IPv6, 5 datagrams each, receiver bound before the sender starts.
for dst in 192.0.2.2 2001:db8::2; do
    bg_in "$NS_B" "$T" udp-recv 5000 5 --timeout 10 >"$WORK/recv.out"
    recv=$BG_PID
    wait_port "$NS_B" udp 5000
    in_a "$T" udp-send "$dst" 5000 5 100 --timeout 10 >"$WORK/send.out"
    rc=0
    wait_pid "$recv" 15 || rc=$?
    check_eq "udp-send to $dst" "sent=5" "$(cat "$WORK/send.out")"
    check_eq "udp-recv from $dst" "received=5 bad=0" "$(cat "$WORK/recv.out")"
    check_eq "udp-recv status" 0 "$rc"
done

# TCP stream A -> B.
bg_in "$NS_B" "$T" tcp-server 5001 200000 --timeout 10 >"$WORK/server.out"
server=$BG_PID
in_a "$T" tcp-client 192.0.2.2 5001 200000 --timeout 10 >"$WORK/client.out"
rc=0
wait_pid "$server" 15 || rc=$?
check_eq "tcp-client" "sent=200000" "$(cat "$WORK/client.out")"
check_eq "tcp-server" "received=200000 bad=0" "$(cat "$WORK/server.out")"
check_eq "tcp-server status" 0 "$rc"

# NFLOG: an nft rule in B, tcpdump bound to the group, 3 logged datagrams.
if command -v tcpdump >/dev/null 2>&1; then
    cat >"$WORK/rules.nft" <<'EOF'
table inet selftest {
    chain input {
        type filter hook input priority filter; policy accept;
        udp dport 5002 log group 42 prefix "selftest"
    }
}
EOF
    nft_b "$WORK/rules.nft"
    bg_in "$NS_B" tcpdump -n -U -i nflog:42 -w "$WORK/nflog.pcap" 2>"$WORK/tcpdump.err"
    cap=$BG_PID
    wait_nflog_bound "$NS_B" 42
    in_a "$T" udp-send 192.0.2.2 5002 3 64 >/dev/null
    sleep 1.5 # the kernel flushes a partial NFLOG batch after 1 s
    rc=0
    stop_pid "$cap" || rc=$?
    check_eq "tcpdump records" 3 "$(tcpdump -n -r "$WORK/nflog.pcap" 2>/dev/null | wc -l)"
fi

# Cleanup must leave nothing behind, whether the script fails or is killed.
leftovers() { # NS... : prints those still listed by `ip netns list`
    local ns list
    list=" $(ip netns list | awk '{ print $1 }' | tr '\n' ' ') "
    for ns in "$@"; do
        if [[ $list == *" $ns "* ]]; then echo "$ns"; fi
    done
}

rc=0
out=$(NFCAP_SELFTEST_MODE=fail bash "$here/selftest.sh" 2>&1) || rc=$?
check_eq "forced fail exit status" 1 "$rc"
read -r _ ns1 ns2 _ child _ child_work < <(grep '^namespaces:' <<<"$out")
[ -n "${ns1:-}" ] || fail "child printed no namespaces: $out"
check_eq "namespaces left after fail" "" "$(leftovers "$ns1" "$ns2")"
check_eq "child process left after fail" 1 "$(kill -0 "$child" 2>/dev/null && echo 0 || echo 1)"
check_eq "work dir left after fail" 1 "$([ -e "$child_work" ] && echo 0 || echo 1)"

NFCAP_SELFTEST_MODE=term bash "$here/selftest.sh" >"$WORK/term.out" 2>&1 &
child_shell=$!
track_pid "$child_shell"
for ((i = 0; i < 100; i++)); do
    grep -q '^namespaces:' "$WORK/term.out" && break
    sleep 0.1
done
read -r _ ns1 ns2 _ child _ child_work < <(grep '^namespaces:' "$WORK/term.out")
[ -n "${ns1:-}" ] || fail "SIGTERM child printed no namespaces"
rc=0
stop_pid "$child_shell" || rc=$?
check_eq "SIGTERM exit status" 143 "$rc"
check_eq "namespaces left after SIGTERM" "" "$(leftovers "$ns1" "$ns2")"
check_eq "child process left after SIGTERM" 1 "$(kill -0 "$child" 2>/dev/null && echo 0 || echo 1)"
check_eq "work dir left after SIGTERM" 1 "$([ -e "$child_work" ] && echo 0 || echo 1)"

echo "PASS: selftest"
