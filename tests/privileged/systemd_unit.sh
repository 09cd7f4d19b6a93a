#!/usr/bin/env bash
# The systemd unit (packaging/systemd/nfcap@.service.in, configured into the build directory):
# systemd-analyze rates it at most 4.9 ("OK") offline, and its ExecStart works under the
# restrictions that can be had without systemd as PID 1: an unprivileged user with
# CAP_NET_ADMIN alone (bounding, inheritable and ambient sets), no_new_privs, umask 077, the
# state directory made for it. Traffic in a namespace of its own: every packet the rule
# counted is in the ring's files, which only that user may read.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd systemd-analyze setpriv capinfos nft
unit="${NFCAP_BUILD_DIR:?run through ctest}/nfcap@.service"
[ -f "$unit" ] || fail "no configured unit at $unit"
make_workdir

# --- the rating
cp "$unit" "$WORK/nfcap@.service"
rating=$(systemd-analyze security --offline=true "$WORK/nfcap@.service" 2>&1 | tail -1)
exposure=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$rating")
[ -n "$exposure" ] || fail "systemd-analyze gave no rating: $rating"
awk -v e="$exposure" 'BEGIN { exit !(e <= 4.9) }' || fail "the unit's exposure is $exposure (at most 4.9): $rating"
echo "ok: systemd-analyze security --offline=true: $exposure ($rating)"

# --- ExecStart, as the unit runs it, for instance 100
execstart=$(sed -n 's/^ExecStart=//p' "$unit")
ring=$(sed -n 's/^Environment="NFCAP_RING=\(.*\)"$/\1/p' "$unit")
[ -n "$execstart" ] && [ -n "$ring" ] || fail "cannot read ExecStart and NFCAP_RING from $unit"
user=nobody
state="$WORK/state/100" # StateDirectory=nfcap/%i, 0750, owned by the service's user
mkdir -p "$state"
chmod 0750 "$state"
chown "$user:" "$state"
chmod 0755 "$WORK" "$WORK/state"
# The installed path of the binary is this build's; the state directory the one made above;
# a 20 kB ring so that the test's traffic rotates it.
command=${execstart/#*nfcap -g/$NFCAP -g}
command=${command//%I/100}
command=${command//\/var\/lib\/nfcap\/%i/$state}
command=${command//\$NFCAP_RING/${ring/filesize:100000/filesize:20}}
command=${command//\$NFCAP_OPTIONS/}
echo "running: $command"

ns=nfcap-unit-$$
new_ns "$ns"
cat >"$WORK/rules.nft" <<'R'
table inet unit {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 9998 counter log group 100
  }
}
R
nft_in "$ns" "$WORK/rules.nft"
# shellcheck disable=SC2086 # the command line splits into words as systemd splits it
bg_in "$ns" setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
  --bounding-set=-all,+net_admin --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin \
  --no-new-privs sh -c 'umask 077 && exec "$@"' sh $command 2>"$WORK/unit.err"
pid=$BG_PID
wait_nflog_bound "$ns" 100
ip netns exec "$ns" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"u" * 200, ("127.0.0.1", 9998))'
sleep 0.5
stop_pid "$pid" || fail "the unit's command failed: $(cat "$WORK/unit.err")"
counted=$(ip netns exec "$ns" nft list chain inet unit input | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
written=0
files=0
for f in "$state"/nfcap_*.pcapng; do
  [ -f "$f" ] || fail "no ring file in $state: $(cat "$WORK/unit.err")"
  n=$(capinfos -c -M "$f" | sed -n 's/^Number of packets: *//p')
  written=$((written + n))
  files=$((files + 1))
  check_eq "$(basename "$f"): owner and mode" "$user 600" "$(stat -c '%U %a' "$f")"
done
check_eq "packets in the ring's files" "$counted" "$written"
[ "$files" -ge 2 ] || fail "the ring did not rotate ($files file)"
grep -q "^nfcap: $written packets written, 0 lost" "$WORK/unit.err" ||
  fail "summary: $(cat "$WORK/unit.err")"
echo "ok: the unit's ExecStart as $user with CAP_NET_ADMIN alone: $written packets in $files files, as the rule counted"
echo "systemd_unit: every check passed"
