#!/usr/bin/env bash
# --netns: nfcap started in the root namespace records NFLOG groups of another network namespace,
# named as `ip netns` names it, by its /run/netns path or by /proc/PID/ns/net. Every thread and
# socket lives there: the groups are bound there, and the interface names in the comments are
# the namespace's own, followed through a rename (the rtnetlink socket is there too). A missing
# namespace or a file that is not one is a one-line error.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos nft readlink
ensure_test_tools
setup_pair

ns_id() { ip netns exec "$1" readlink /proc/self/ns/net; }
# check_threads_in PID NS: every thread of PID is in network namespace NS.
check_threads_in() {
    local pid=$1 ns=$2 want task
    want=$(ns_id "$ns")
    for task in /proc/"$pid"/task/*; do
        check_eq "namespace of thread ${task##*/}" "$want" "$(readlink "$task/ns/net")"
    done
    [ "$(readlink /proc/self/ns/net)" != "$want" ] || fail "the test itself runs in $ns"
}
comments() { tshark -r "$1" -Y "$2" -T fields -e frame.comment 2>/dev/null; }

for ns in "$NS_A" "$NS_B"; do
    cat >"$WORK/rules.nft" <<EOF
table inet nsrec {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7800 log group 21 prefix "in-ns"
  }
}
EOF
    nft_in "$ns" "$WORK/rules.nft"
done

# --- by name, from the root namespace.
"$NFCAP" --netns "$NS_B" -g 21 -w "$WORK/name.pcapng" 2>"$WORK/name.err" &
cap=$!
track_pid "$cap"
wait_started "$WORK/name.err" "$cap"
wait_nflog_bound "$NS_B" 21
grep -q "^nfcap: recording nflog:21 to $WORK/name.pcapng (.*), in network namespace $NS_B\$" \
    "$WORK/name.err" || fail "start line: $(cat "$WORK/name.err")"
check_threads_in "$cap" "$NS_B"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7800 5 64 >/dev/null
sleep 0.3 # the writer applies link events when idle (every 100 ms at most): let it see them
# Renamed while recording: the cache's rtnetlink socket must be in the namespace to see it.
ifindex_b=$(ip -n "$NS_B" -o link show vethb | cut -d: -f1)
ip -n "$NS_B" link set vethb down
ip -n "$NS_B" link set vethb name nsport0
ip -n "$NS_B" link set nsport0 up
wait_ping "$NS_A" 192.0.2.2
sleep 0.3
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7800 3 64 >/dev/null
sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/name.err" >&2
check_eq "nfcap exit status" 0 "$rc"
capinfos "$WORK/name.pcapng" | grep -q "Name = nflog:21" || fail "no nflog:21 interface block"
check_eq "records before the rename, with the namespace's interface name" 5 \
    "$(comments "$WORK/name.pcapng" udp.dstport==7800 | grep -c "^nflog:21 hook=input prefix=in-ns in=vethb/$ifindex_b ")"
check_eq "records after the rename, with the new name" 3 \
    "$(comments "$WORK/name.pcapng" udp.dstport==7800 | grep -c " in=nsport0/$ifindex_b ")"

# --- by path: /run/netns/NAME, and /proc/PID/ns/net of a process in namespace A.
bg_in "$NS_A" sleep 60
holder=$BG_PID
for target in "/run/netns/$NS_B:$NS_B:192.0.2.2:$NS_A" "/proc/$holder/ns/net:$NS_A:192.0.2.1:$NS_B"; do
    IFS=: read -r path ns dst from <<<"$target"
    out="$WORK/path-$ns.pcapng"
    "$NFCAP" --netns "$path" -g 21 -w "$out" 2>"$WORK/path.err" &
    cap=$!
    track_pid "$cap"
    wait_started "$WORK/path.err" "$cap"
    wait_nflog_bound "$ns" 21
    grep -q ", in network namespace $path\$" "$WORK/path.err" || fail "start line: $(cat "$WORK/path.err")"
    check_threads_in "$cap" "$ns"
    in_ns "$from" "$NFCAP_TRAFFIC" udp-send "$dst" 7800 4 64 >/dev/null
    sleep 0.3
    rc=0
    stop_pid "$cap" || rc=$?
    check_eq "nfcap --netns $path exit status" 0 "$rc"
    dev=$([ "$ns" = "$NS_A" ] && echo vetha || echo nsport0)
    ifindex=$(ip -n "$ns" -o link show "$dev" | cut -d: -f1)
    check_eq "records via $path, with $ns's interface" 4 \
        "$(comments "$out" udp.dstport==7800 | grep -c " in=$dev/$ifindex ")"
done

# --- errors: one line each; a missing namespace or a file that is not one is status 1.
# error_case WHAT STATUS MESSAGE ARGS...
error_case() {
    local what=$1 status=$2 message=$3 rc=0
    shift 3
    "$NFCAP" "$@" 2>"$WORK/error.err" || rc=$?
    check_eq "exit status for $what" "$status" "$rc"
    check_eq "message for $what" "$message" "$(cat "$WORK/error.err")"
}
missing="nfcap-missing-$$"
error_case "a missing namespace name" 1 \
    "nfcap: no network namespace $missing (/run/netns/$missing); \`ip netns add $missing\` makes one, \`ip netns list\` shows them" \
    --netns "$missing" -g 21 -w "$WORK/none.pcapng"
error_case "a missing path" 1 \
    "nfcap: cannot open network namespace /proc/0/ns/net: No such file or directory" \
    --netns /proc/0/ns/net -g 21 -w "$WORK/none.pcapng"
echo "not a namespace" >"$WORK/plain"
error_case "a file that is not a namespace" 1 \
    "nfcap: $WORK/plain is not a network namespace" \
    --netns "$WORK/plain" -g 21 -w "$WORK/none.pcapng"
error_case "a mount namespace" 1 \
    "nfcap: /proc/self/ns/mnt is not a network namespace" \
    --netns /proc/self/ns/mnt -g 21 -w "$WORK/none.pcapng"
[ ! -e "$WORK/none.pcapng" ] || fail "an output file was created although the namespace was wrong"
error_case "an empty name" 2 "nfcap: invalid --netns '': give a name from \`ip netns list\` or a path such as /proc/PID/ns/net (see nfcap --help)" \
    --netns "" -g 21 -w "$WORK/none.pcapng"
echo "1 passed, 0 failed"
