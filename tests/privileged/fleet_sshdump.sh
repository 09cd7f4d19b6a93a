#!/usr/bin/env bash
# Many firewalls, one view: two "firewalls" (namespaces fw1 and fw2, each with its own UTS host
# name and an sshd, key only, on its own address) and an admin namespace that runs Wireshark's
# sshdump against both with `nfcap -g 100 -w -` as the remote capture command. Each firewall
# logs its own traffic to group 100. Checks: each file's packets equal that firewall's rule
# counter; after mergecap, every packet names its host (frame.interface_description, the Lua
# plugin's nfcap.host); stopping sshdump frees the group within a second with no further
# traffic.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd ssh-keygen mergecap tshark nft unshare
sshdump=/usr/lib/x86_64-linux-gnu/wireshark/extcap/sshdump
[ -x "$sshdump" ] || fail "no sshdump at $sshdump (wireshark-common; scripts/setup.sh installs it)"
sshd=/usr/sbin/sshd
[ -x "$sshd" ] || sshd=/var/cache/nfcap-sshd/usr/sbin/sshd
[ -x "$sshd" ] || fail "no sshd (scripts/setup.sh unpacks openssh-server's into /var/cache/nfcap-sshd)"
make_workdir
lua="${NFCAP_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/samples/wireshark/nfcap.lua"

# sshd's privilege separation directory; made here only when missing, and removed again.
if [ ! -d /run/sshd ]; then
  mkdir -m 755 /run/sshd
  on_cleanup "rmdir /run/sshd"
fi
ssh-keygen -q -t ed25519 -N '' -C nfcap-test -f "$WORK/key"
ssh-keygen -q -t ed25519 -N '' -C nfcap-test-host -f "$WORK/hostkey"
cp "$WORK/key.pub" "$WORK/authorized_keys"
chmod 600 "$WORK/authorized_keys"

admin=nfcap-admin-$$
new_ns "$admin"
declare -A addr=([fw1]=198.51.100.11 [fw2]=198.51.100.12) sent=([fw1]=7 [fw2]=4)
i=0
for fw in fw1 fw2; do
  i=$((i + 1))
  ns=nfcap-$fw-$$
  new_ns "$ns"
  ip link add "adm$i" netns "$admin" type veth peer name "fwlink$i" netns "$ns"
  ip -n "$admin" addr add "198.51.100.$i/32" dev "adm$i"
  ip -n "$admin" link set "adm$i" up
  ip -n "$admin" route add "${addr[$fw]}/32" dev "adm$i"
  ip -n "$ns" addr add "${addr[$fw]}/24" dev "fwlink$i"
  ip -n "$ns" link set "fwlink$i" up
  ip -n "$ns" route add "198.51.100.$i/32" dev "fwlink$i"
  cat >"$WORK/sshd_$fw" <<C
ListenAddress ${addr[$fw]}
HostKey $WORK/hostkey
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
C
  cat >"$WORK/rules_$fw.nft" <<R
table inet fleet {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 9999 counter log group 100
  }
}
R
  nft_in "$ns" "$WORK/rules_$fw.nft"
  # The firewall's own host name, in a UTS namespace of its own: what nfcap names.
  bg_in "$ns" unshare --uts sh -c 'hostname "$0" && exec "$1" -D -f "$2" -E "$3"' \
    "$fw" "$sshd" "$WORK/sshd_$fw" "$WORK/sshd_$fw.log"
  wait_port "$ns" tcp 22
done

capture() { # capture FW: sshdump in the admin namespace, into $WORK/FW.pcapng
  bg_in "$admin" "$sshdump" --extcap-interface=sshdump --capture --fifo "$WORK/$1.pcapng" \
    --remote-host "${addr[$1]}" --remote-username root --sshkey "$WORK/key" \
    --remote-capture-command-select other --remote-capture-command "$NFCAP -g 100 -w -" \
    >"$WORK/sshdump_$1.log" 2>&1
}
capture fw1
pid_fw1=$BG_PID
capture fw2
pid_fw2=$BG_PID
for fw in fw1 fw2; do
  wait_nflog_bound "nfcap-$fw-$$" 100 15
done

send() { # send FW N: N datagrams to the firewall's own port 9999, on its loopback
  ip netns exec "nfcap-$1-$$" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(b"fleet %d" % i, ("127.0.0.1", 9999))' "$2"
}
for fw in fw1 fw2; do send "$fw" "${sent[$fw]}"; done
sleep 1

# Wireshark's stop button: sshdump ends, the channel closes, and with no traffic nfcap must
# still notice and free group 100 within a second.
for fw in fw1 fw2; do
  pid_var=pid_$fw
  kill -TERM "${!pid_var}"
  start=$(date +%s%N)
  freed=""
  for ((j = 0; j < 50; j++)); do
    if ! ip netns exec "nfcap-$fw-$$" awk '$1 == 100 { found = 1 } END { exit !found }' \
      /proc/net/netfilter/nfnetlink_log; then
      freed=$((($(date +%s%N) - start) / 1000000))
      break
    fi
    sleep 0.02
  done
  [ -n "$freed" ] || fail "$fw: group 100 still bound 1 s after sshdump stopped: $(tail -3 "$WORK/sshdump_$fw.log")"
  echo "$fw: group 100 freed ${freed} ms after sshdump stopped"
  wait "${!pid_var}" 2>/dev/null || true
  nfcap_lib_untrack_pid "${!pid_var}"
done

for fw in fw1 fw2; do
  counted=$(ip netns exec "nfcap-$fw-$$" nft list chain inet fleet input | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
  check_eq "$fw: rule counter" "${sent[$fw]}" "$counted"
  check_eq "$fw: packets in its file" "$counted" "$(tshark -r "$WORK/$fw.pcapng" 2>/dev/null | wc -l)"
done
mergecap -w "$WORK/merged.pcapng" "$WORK/fw1.pcapng" "$WORK/fw2.pcapng"
for fw in fw1 fw2; do
  check_eq "merged: packets whose interface names $fw" "${sent[$fw]}" \
    "$(tshark -r "$WORK/merged.pcapng" -Y "frame.interface_description == \"NFLOG group 100 on $fw (LINUX_SLL2)\"" 2>/dev/null | wc -l)"
  check_eq "merged: the Lua plugin's nfcap.host == $fw" "${sent[$fw]}" \
    "$(tshark -r "$WORK/merged.pcapng" -X "lua_script:$lua" -Y "nfcap.host == \"$fw\"" 2>/dev/null | wc -l)"
done
echo "fleet_sshdump: every check passed"
