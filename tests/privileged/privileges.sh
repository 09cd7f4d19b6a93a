#!/usr/bin/env bash
# Least privilege: with -Z USER nfcap binds as root, then runs as USER with CAP_NET_ADMIN alone
# (checked in /proc/PID/status for every thread), NFQUEUE verdicts still flow and a ring buffer
# still rotates, its files created by USER. Output files are 0600 unless --file-mode says
# otherwise; a symbolic link in a sticky world-writable directory and anything that is not a
# regular file or a FIFO are refused without writing. An unknown user is a usage error.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark capinfos iptables nft python3 stat
ensure_test_tools
setup_pair

# The user to become: nobody, or a system user made for this test (and removed after it).
user=nobody
if ! id -u "$user" >/dev/null 2>&1; then
    require_cmd useradd userdel
    user=nfcap-test
    if ! id -u "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$user" || fail "useradd $user"
        on_cleanup "userdel $user"
    fi
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
[ "$uid" -ne 0 ] || fail "$user is root"
echo "running as $user (uid $uid, gid $gid)"
# $WORK is root's; the captures write into directories the user owns (and can reach: new ring
# files are created by path after the switch).
chmod 0711 "$WORK"
mkdir -m 0700 "$WORK/out"
chown "$user:$gid" "$WORK/out"

# check_credentials PID: uid and gid are the user's (real, effective, saved, filesystem) and
# every thread holds CAP_NET_ADMIN and nothing else.
check_credentials() {
    local pid=$1 task status
    status=$(cat "/proc/$pid/status")
    check_eq "Uid of nfcap" "$uid $uid $uid $uid" "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' <<<"$status")"
    check_eq "Gid of nfcap" "$gid $gid $gid $gid" "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' <<<"$status")"
    check_eq "supplementary groups" "$(id -G "$user" | tr ' ' '\n' | sort -n | tr '\n' ' ')" \
        "$(awk '/^Groups:/ { for (i = 2; i <= NF; i++) print $i }' <<<"$status" | sort -n | tr '\n' ' ')"
    check_eq "CapEff (CAP_NET_ADMIN only)" 0000000000001000 "$(awk '/^CapEff:/ { print $2 }' <<<"$status")"
    check_eq "CapPrm (CAP_NET_ADMIN only)" 0000000000001000 "$(awk '/^CapPrm:/ { print $2 }' <<<"$status")"
    check_eq "CapInh" 0000000000000000 "$(awk '/^CapInh:/ { print $2 }' <<<"$status")"
    check_eq "CapAmb" 0000000000000000 "$(awk '/^CapAmb:/ { print $2 }' <<<"$status")"
    check_eq "CapBnd (root could drop the rest)" 0000000000001000 "$(awk '/^CapBnd:/ { print $2 }' <<<"$status")"
    for task in /proc/"$pid"/task/*; do
        if [ "$(awk '/^CapEff:/ { print $2 }' "$task/status")" != 0000000000001000 ] ||
            [ "$(awk '/^Uid:/ { print $2 }' "$task/status")" != "$uid" ]; then
            fail "thread ${task##*/} of nfcap: $(grep -E '^(Uid|CapEff):' "$task/status" | tr '\n' ' ')"
        fi
    done
    echo "ok: all $(find /proc/"$pid"/task -mindepth 1 -maxdepth 1 | wc -l) threads run as $user with CAP_NET_ADMIN only"
}

# --- NFQUEUE, started inside the namespace: verdicts keep flowing after the switch.
q=5
in_b iptables -A INPUT -p icmp --icmp-type echo-request -j NFQUEUE --queue-num $q
in_b iptables -A INPUT -p udp --dport 8001 -j NFQUEUE --queue-num $q
bg_in "$NS_B" "$NFCAP" -q $q --auto-accept -Z "$user" -w "$WORK/out/q.pcapng" \
    --record-netlink "$WORK/out/q.netlink.pcapng" 2>"$WORK/q.err"
cap=$BG_PID
wait_started "$WORK/q.err" "$cap"
grep -q ", as user $user\$" "$WORK/q.err" || fail "start line without the user: $(cat "$WORK/q.err")"
check_credentials "$cap"
check_eq "pings answered through the queue" 0 "$(in_a ping -c 5 -i 0.1 -W 2 -q 192.0.2.2 >/dev/null; echo $?)"
bg_in "$NS_B" "$NFCAP_TRAFFIC" udp-recv 8001 20 --timeout 10 >"$WORK/udp.out"
receiver=$BG_PID
wait_port "$NS_B" udp 8001
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 8001 20 200 >/dev/null
wait_pid "$receiver" 15 || true
check_eq "UDP through the queue" "received=20 bad=0" "$(cat "$WORK/udp.out")"
sleep 0.2
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/q.err" >&2
check_eq "nfcap exit status" 0 "$rc"
grep -q "nfcap: 25 packets written, .* 25 verdicts, 0 not written" "$WORK/q.err" ||
    fail "summary: $(tail -1 "$WORK/q.err")"
check_eq "echo requests recorded" 5 "$(tshark -r "$WORK/out/q.pcapng" -Y 'icmp.type == 8' 2>/dev/null | wc -l)"
check_eq "UDP recorded" 20 "$(tshark -r "$WORK/out/q.pcapng" -Y 'udp.dstport == 8001' 2>/dev/null | wc -l)"
for f in q.pcapng q.netlink.pcapng; do
    check_eq "owner and mode of $f (opened before the switch)" "$user $gid 600" \
        "$(stat -c '%U %g %a' "$WORK/out/$f")"
done

# --- NFLOG ring buffer, from the root namespace with --netns and -Z: the later files are
# created by the user, with --file-mode.
group=12
cat >"$WORK/rules.nft" <<EOF
table inet priv {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7700 log group $group prefix "priv"
  }
}
EOF
nft_b "$WORK/rules.nft"
mkdir -m 0750 "$WORK/out/ring"
chown "$user:$gid" "$WORK/out/ring"
"$NFCAP" --netns "$NS_B" -g $group -Z "$user" -b filesize:10 --file-mode 0640 \
    -w "$WORK/out/ring/r.pcapng" 2>"$WORK/ring.err" &
cap=$!
track_pid "$cap"
wait_started "$WORK/ring.err" "$cap"
wait_nflog_bound "$NS_B" $group
check_credentials "$cap"
sent=200 # about 50 kB of records: five files or more of 10 kB
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7700 $sent 200 --rate 400 --timeout 20 >/dev/null
sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
cat "$WORK/ring.err" >&2
check_eq "ring capture exit status" 0 "$rc"
mapfile -t files < <(find "$WORK/out/ring" -name 'r_*.pcapng' | sort)
[ "${#files[@]}" -ge 3 ] || fail "expected 3 files or more with filesize:10, got ${#files[@]}"
total=0
for f in "${files[@]}"; do
    check_eq "owner and mode of ${f##*/}" "$user $gid 640" "$(stat -c '%U %g %a' "$f")"
    n=$(capinfos -c -M "$f" 2>/dev/null | awk -F': *' '/Number of packets/ { print $2 }') ||
        fail "capinfos refuses $f"
    total=$((total + n))
done
check_eq "records in all ${#files[@]} ring files" $sent "$total"

# A ring in a directory the user cannot write to fails at once, not at the first rotation.
chmod 0755 "$WORK"
rc=0
"$NFCAP" --netns "$NS_B" -g $group -Z "$user" -b filesize:10 -w "$WORK/r.pcapng" \
    2>"$WORK/ring-dir.err" || rc=$?
check_eq "exit status of a ring the user cannot extend" 1 "$rc"
grep -q "^nfcap: -b: user $user cannot create the next files in $WORK (Permission denied)$" \
    "$WORK/ring-dir.err" || fail "message: $(cat "$WORK/ring-dir.err")"

# An unknown user: one line, status 2, nothing bound or created.
rc=0
"$NFCAP" --netns "$NS_B" -g $group -Z "nfcap-no-such-user" -w "$WORK/out/none.pcapng" \
    2>"$WORK/nouser.err" || rc=$?
check_eq "exit status for an unknown user" 2 "$rc"
check_eq "message for an unknown user" "nfcap: -Z: no such user 'nfcap-no-such-user'" "$(cat "$WORK/nouser.err")"
[ ! -e "$WORK/out/none.pcapng" ] || fail "a file was created for an unknown user"

# --- file modes without -Z: 0600 by default, --file-mode exactly (whatever the umask).
(
    umask 022
    "$NFCAP" --netns "$NS_B" -g $group -w "$WORK/default.pcapng" --record-netlink "$WORK/default.nl" \
        -a duration:1 2>/dev/null
    umask 077
    "$NFCAP" --netns "$NS_B" -g $group -w "$WORK/0640.pcapng" --file-mode 0640 -a duration:1 2>/dev/null
) || fail "captures for the file modes failed"
check_eq "default mode of -w" 600 "$(stat -c %a "$WORK/default.pcapng")"
check_eq "default mode of --record-netlink" 600 "$(stat -c %a "$WORK/default.nl")"
check_eq "--file-mode 0640 under umask 077" 640 "$(stat -c %a "$WORK/0640.pcapng")"

# --- refusals: exit 1, one line naming the file and why, nothing written.
# refused WHAT PATH MESSAGE: nfcap -w PATH must fail with exactly MESSAGE.
refused() {
    local what=$1 path=$2 message=$3 rc=0
    "$NFCAP" --netns "$NS_B" -g $group -w "$path" -a duration:1 2>"$WORK/refused.err" || rc=$?
    check_eq "exit status for $what" 1 "$rc"
    check_eq "message for $what" "nfcap: refusing to write to $path: $message" "$(cat "$WORK/refused.err")"
}
mkdir -m 1777 "$WORK/shared" # like /tmp
echo "precious" >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/shared/out.pcapng"
refused "a symbolic link in a sticky world-writable directory" "$WORK/shared/out.pcapng" \
    "it is a symbolic link in the world-writable directory $WORK/shared, where links are never followed"
check_eq "the link's target is untouched" precious "$(cat "$WORK/victim")"
ln -s "$WORK/not-there" "$WORK/shared/dangling.pcapng"
refused "a dangling link there" "$WORK/shared/dangling.pcapng" \
    "it is a symbolic link in the world-writable directory $WORK/shared, where links are never followed"
[ ! -e "$WORK/not-there" ] || fail "a file was created through the dangling link"
touch "$WORK/shared/theirs.pcapng"
chown "$user" "$WORK/shared/theirs.pcapng"
refused "another user's file there" "$WORK/shared/theirs.pcapng" \
    "it belongs to uid $uid in the world-writable directory $WORK/shared"
check_eq "their file is untouched" 0 "$(stat -c %s "$WORK/shared/theirs.pcapng")"
mkdir "$WORK/adir"
refused "a directory" "$WORK/adir" "it is a directory"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$WORK/sock"
refused "a unix socket" "$WORK/sock" "it is a socket"
[ -S "$WORK/sock" ] || fail "the socket was replaced"
refused "a character device" /dev/zero "it is a character device (only /dev/null is written to)"
[ -c /dev/zero ] || fail "/dev/zero is no longer a character device"
"$NFCAP" --netns "$NS_B" -g $group -w /dev/null -a duration:1 2>/dev/null ||
    fail "-w /dev/null refused"
[ -c /dev/null ] || fail "/dev/null is no longer a character device"
# Outside such a directory a link to a regular file is followed, as the shell's > does.
ln -s "$WORK/victim" "$WORK/link.pcapng"
"$NFCAP" --netns "$NS_B" -g $group -w "$WORK/link.pcapng" -a duration:1 2>/dev/null ||
    fail "writing through a link in a private directory failed"
capinfos "$WORK/victim" >/dev/null 2>&1 || fail "the link's target is not the capture"
echo "1 passed, 0 failed"
