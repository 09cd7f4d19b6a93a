#!/usr/bin/env bash
# Interfaces that change under a capture: every record carries the name its interface had when
# the packet passed, not the name it has when nfcap gets round to writing the record.
#
# Each round creates a veth pair, sends packets to UDP port 7701 through it under its first
# name, takes it down at once, renames it and brings it up again, sends packets to port 7702
# under the new name and deletes it at once. A long NFLOG flush timeout keeps the records in
# the kernel well past each rename and deletion, so names resolved at write time would be wrong.
# Odd rounds change the link in one `ip -batch` (down, rename, up microseconds apart), even
# rounds with one `ip` command each. Port 7701 must carry the first name, 7702 the second.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark nft
ensure_test_tools
make_workdir

rounds=${NFCAP_CHURN_ROUNDS:-20}
per_phase=10 # packets per name
deadline=$((SECONDS + 90))

NS_A="nfcapA_$$"
NS_B="nfcapB_$$"
new_ns "$NS_A"
new_ns "$NS_B"

group=12
cat >"$WORK/rules.nft" <<EOF
table inet churn {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport { 7701, 7702 } log group $group prefix "churn" drop
  }
}
EOF
nft_b "$WORK/rules.nft"

out="$WORK/churn.pcapng"
# 20/100 s: records of a round are still in the kernel when its link is renamed and deleted.
bg_in "$NS_B" "$NFCAP" -g "$group" --flush-timeout 20 -w "$out" 2>"$WORK/nfcap.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"

send() { in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 "$1" "$per_phase" 32 --timeout 5 >/dev/null; }

: >"$WORK/expected" # lines: ifindex first-name second-name
done_rounds=0
for ((r = 1; r <= rounds && SECONDS < deadline; r++)); do
    first="churn$r"
    second="moved$r"
    # Fixed addresses and a permanent neighbour entry: no ARP, which a link flap would restart.
    ip link add ca netns "$NS_A" address 02:00:00:00:00:01 type veth \
        peer name "$first" netns "$NS_B" address 02:00:00:00:00:02 || fail "round $r: veth pair"
    ip -n "$NS_A" addr add 192.0.2.1/24 dev ca
    ip -n "$NS_B" addr add 192.0.2.2/24 dev "$first"
    ip -n "$NS_A" link set ca up
    ip -n "$NS_B" link set "$first" up
    ip -n "$NS_A" neigh replace 192.0.2.2 lladdr 02:00:00:00:00:02 dev ca nud permanent
    index=$(ip -n "$NS_B" -o link show "$first" | cut -d: -f1)
    echo "$index $first $second" >>"$WORK/expected"

    send 7701 # right before the link goes down
    if ((r % 2 == 1)); then
        printf 'link set %s down\nlink set %s name %s\nlink set %s up\n' \
            "$first" "$first" "$second" "$second" | ip -n "$NS_B" -batch - ||
            fail "round $r: rename"
    else
        ip -n "$NS_B" link set "$first" down
        ip -n "$NS_B" link set "$first" name "$second"
        ip -n "$NS_B" link set "$second" up
    fi
    send 7702 # right after it is up again
    ip -n "$NS_B" link del "$second" # its records are still in the kernel
    done_rounds=$r
done
sleep 0.5 # longer than the flush timeout: every record reaches nfcap

rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/nfcap.err" >&2
check_eq "nfcap exit status" 0 "$rc"
((done_rounds >= 5)) || fail "only $done_rounds rounds within the time limit"

tshark -r "$out" -Y 'udp.dstport == 7701 || udp.dstport == 7702' \
    -T fields -e udp.dstport -e frame.comment >"$WORK/records" 2>/dev/null
# For each record: its port, its in= value, and whether the kernel stamped it (a pcapng comment
# without ts= has the kernel's time).
awk -F'\t' '{
    name = ""; ts = "kernel"
    n = split($2, pairs, " ")
    for (i = 1; i <= n; i++) {
        if (pairs[i] ~ /^in=/) name = substr(pairs[i], 4)
        if (pairs[i] ~ /^ts=/) ts = substr(pairs[i], 4)
    }
    print $1, name, ts
}' "$WORK/records" >"$WORK/seen"

# shellcheck disable=SC2016 # awk's own $1
result=$(awk '
    NR == FNR { first[$1] = $2; second[$1] = $3; next }
    {
        split($2, parts, "/"); index_ = parts[2]; name = parts[1]
        expected = ($1 == 7701) ? first[index_] : second[index_]
        if (expected == "") { unknown++ }
        else if (name != expected) {
            wrong++
            if (shown++ < 5) print "mismatch: port " $1 " in=" $2 " expected " expected > "/dev/stderr"
        }
        if ($3 != "kernel") unstamped++
        total++
    }
    END { printf "%d %d %d %d\n", total, wrong + 0, unknown + 0, unstamped + 0 }
' "$WORK/expected" "$WORK/seen")
read -r total wrong unknown unstamped <<<"$result"
echo "rounds=$done_rounds records=$total mismatches=$wrong unknown=$unknown without-kernel-time=$unstamped"

check_eq "records" "$((done_rounds * 2 * per_phase))" "$total"
check_eq "records of an unexpected interface" 0 "$unknown"
check_eq "records without the kernel's timestamp" 0 "$unstamped"
check_eq "records with the wrong interface name" 0 "$wrong"
echo "1 passed, 0 failed"
