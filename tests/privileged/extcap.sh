#!/usr/bin/env bash
# Wireshark extcap: nfcap answers Wireshark's questions (interfaces, link types, configuration,
# filter check) in the extcap grammar, captures into a FIFO the way Wireshark starts it, and
# tshark captures NFLOG traffic through the "nflog" extcap interface in a namespace. The copy
# of nfcap put into Wireshark's global extcap folder is removed afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
require_cmd tshark nft
ensure_test_tools

# --- the protocol answers
"$NFCAP" --extcap-interfaces --extcap-version=4.0 >"${TMPDIR:-/tmp}/nfcap-extcap.$$" ||
    fail "--extcap-interfaces failed"
answers="${TMPDIR:-/tmp}/nfcap-extcap.$$"
on_cleanup "rm -f '$answers'"
grep -Eq '^extcap \{version=[0-9.]+\}' "$answers" || fail "no extcap line: $(cat "$answers")"
check_eq "interfaces offered" "nfcap-nflog nfcap-nfqueue" "$(sed -n 's/^interface {value=\([a-z-]*\)}.*/\1/p' "$answers" | tr '\n' ' ' | sed 's/ $//')"
check_eq "link type" "dlt {number=276}{name=LINUX_SLL2}{display=Linux cooked v2}" \
    "$("$NFCAP" --extcap-dlts --extcap-interface nfcap-nflog)"
"$NFCAP" --extcap-config --extcap-interface nfcap-nflog >"$answers"
check_eq "nflog arguments" "--group --snaplen --linktype" \
    "$(sed -n 's/^arg {number=[0-9]*}{call=\([^}]*\)}.*/\1/p' "$answers" | tr '\n' ' ' | sed 's/ $//')"
grep -q '^arg {number=0}{call=--group}.*{required=true}' "$answers" || fail "group is not required"
"$NFCAP" --extcap-config --extcap-interface nfcap-nfqueue >"$answers"
check_eq "nfqueue arguments" "--queue --verdict --set-mark --snaplen --linktype" \
    "$(sed -n 's/^arg {number=[0-9]*}{call=\([^}]*\)}.*/\1/p' "$answers" | tr '\n' ' ' | sed 's/ $//')"
grep -q '^value {arg=1}{value=accept}{display=Accept (auto-accept)}{default=true}' "$answers" ||
    fail "accept is not the default verdict"
check_eq "a valid filter" "0:" "$("$NFCAP" --extcap-capture-filter 'udp port 53' --extcap-interface nfcap-nflog; echo "$?:")"
rc=0
out=$("$NFCAP" --extcap-capture-filter 'udp port' --extcap-interface nfcap-nflog) || rc=$?
check_eq "an invalid filter's status" 1 "$rc"
[[ $out == *"syntax error"* ]] || fail "no reason for the invalid filter: $out"

setup_pair
group=13
cat >"$WORK/rules.nft" <<EOF
table inet extcap {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 7800 log group $group prefix "via extcap"
  }
}
EOF
nft_b "$WORK/rules.nft"

# --- a capture as Wireshark starts it: --capture --fifo, arguments from the config dialog.
mkfifo "$WORK/fifo"
bg_in "$NS_B" "$NFCAP" --capture --extcap-interface nfcap-nflog --fifo "$WORK/fifo" --group $group \
    --extcap-capture-filter "udp" 2>"$WORK/capture.err"
cap=$BG_PID
tshark -r "$WORK/fifo" -T fields -e frame.comment >"$WORK/fifo.out" 2>/dev/null &
reader=$!
track_pid $reader
wait_nflog_bound "$NS_B" $group
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7800 4 64 >/dev/null
sleep 0.5
stop_pid "$cap" || fail "extcap capture: $(cat "$WORK/capture.err")"
wait_pid "$reader" 10 || true
check_eq "packets Wireshark's reader got through the FIFO" 4 \
    "$(grep -c "^nflog:$group hook=input .*prefix=\"via extcap\"" "$WORK/fifo.out")"

# --- tshark through the extcap interface, nfcap installed where Wireshark looks.
folder=$(tshark -G folders 2>/dev/null | sed -n 's/^Extcap path:[[:space:]]*//p' | head -1)
[ -d "$folder" ] || fail "no global extcap folder (tshark -G folders)"
installed="$folder/nfcap-test-$$"
on_cleanup "rm -f '$installed'"
install -m 755 "$NFCAP" "$installed"
ip netns exec "$NS_B" tshark -D 2>/dev/null | grep -q "nfcap-nflog (nfcap: netfilter NFLOG groups)" ||
    fail "tshark does not list the nfcap-nflog interface: $(ip netns exec "$NS_B" tshark -D 2>&1 | tail -5)"
(
    sleep 2
    in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7800 5 64 --rate 10 >/dev/null
) &
track_pid $!
ip netns exec "$NS_B" timeout 30 tshark -i nfcap-nflog -o "extcap.nfcap_nflog.group:$group" -a duration:5 \
    -w "$WORK/tshark.pcapng" >/dev/null 2>"$WORK/tshark.err" || fail "tshark -i nfcap-nflog: $(cat "$WORK/tshark.err")"
check_eq "packets tshark captured through the extcap interface" 5 \
    "$(tshark -r "$WORK/tshark.pcapng" -Y "frame.comment contains \"via extcap\"" 2>/dev/null | wc -l)"
rm -f "$installed"
echo "1 passed, 0 failed"
