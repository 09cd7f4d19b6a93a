#!/usr/bin/env bash
# Ring buffer and autostop on replay (deterministic): -b filesize splits the output into files
# that are each complete (section, interface and statistics blocks; tshark and capinfos read
# each alone), whose packets together are exactly the unsplit output's, in order, none twice;
# files:N keeps the newest N. -a filesize and -a packets stop where they should.
set -euo pipefail
: "${NFCAP:?set NFCAP to the nfcap binary}" "${NFCAP_SOURCE_DIR:?set NFCAP_SOURCE_DIR}"
rec="$NFCAP_SOURCE_DIR/samples/recordings/nflog-tcpdump.pcap"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # $work, fail, ok, $passed
packets() { # the packets of FILE..., one line each: time, comment
    local f
    for f in "$@"; do
        tshark -r "$f" -T fields -e frame.time_epoch -e frame.comment 2>/dev/null
    done
}

"$NFCAP" -r "$rec" -w "$work/whole.pcapng" 2>/dev/null
packets "$work/whole.pcapng" >"$work/whole.txt"

mkdir "$work/ring"
"$NFCAP" -r "$rec" -w "$work/ring/r.pcapng" -b filesize:2 2>"$work/ring.err" || fail "$(cat "$work/ring.err")"
mapfile -t files < <(ls "$work/ring"/r_*.pcapng | sort)
[ "${#files[@]}" -ge 3 ] || fail "expected several files, got ${#files[@]}"
for ((i = 0; i < ${#files[@]}; i++)); do
    name=$(basename "${files[$i]}")
    [[ $name =~ ^r_0000$((i + 1))_[0-9]{14}\.pcapng$ ]] || fail "file name $name is not dumpcap's"
    capinfos "${files[$i]}" >"$work/capinfos.txt" 2>&1 || fail "capinfos refuses $name"
    grep -q "Number of stat entries = 1" "$work/capinfos.txt" || fail "$name has no statistics block"
    grep -q "Name = nflog:7" "$work/capinfos.txt" || fail "$name has no interface block"
    [ "$(packets "${files[$i]}" | wc -l)" -gt 0 ] || fail "$name is empty"
    size=$(stat -c %s "${files[$i]}")
    # A file ends with the record that crossed 2 kB (one record of at most ~400 bytes here).
    [ "$i" -eq $((${#files[@]} - 1)) ] || [ "$size" -ge 2000 ] || fail "$name closed early at $size bytes"
    [ "$size" -lt 3000 ] || fail "$name grew to $size bytes"
done
ok "${#files[@]} files, each complete and readable alone, named as dumpcap names them"
packets "${files[@]}" >"$work/ring.txt"
cmp -s "$work/whole.txt" "$work/ring.txt" || fail "the files together differ from the unsplit output"
ok "together the files hold exactly the unsplit output's $(wc -l <"$work/whole.txt") packets, in order, none twice"

mkdir "$work/kept"
"$NFCAP" -r "$rec" -w "$work/kept/k.pcapng" -b filesize:2,files:2 2>/dev/null
mapfile -t kept < <(ls "$work/kept" | sort)
[ "${#kept[@]}" -eq 2 ] || fail "files:2 kept ${#kept[@]} files"
[[ ${kept[1]} == k_0000${#files[@]}_* ]] || fail "the newest file is not kept: ${kept[*]}"
packets "$work/kept/${kept[0]}" "$work/kept/${kept[1]}" >"$work/kept.txt"
tail -n "$(wc -l <"$work/kept.txt")" "$work/whole.txt" | cmp -s - "$work/kept.txt" || fail "kept files are not the newest packets"
ok "files:2 keeps the two newest files"

"$NFCAP" -r "$rec" -w "$work/five.pcapng" -a packets:5 2>/dev/null
[ "$(packets "$work/five.pcapng" | wc -l)" -eq 5 ] || fail "-a packets:5"
"$NFCAP" -r "$rec" -w "$work/small.pcapng" -a filesize:3 2>/dev/null
size=$(stat -c %s "$work/small.pcapng")
[ "$size" -ge 3000 ] && [ "$size" -lt 4500 ] || fail "-a filesize:3 stopped at $size bytes"
capinfos "$work/small.pcapng" >/dev/null 2>&1 || fail "-a filesize output unreadable"
ok "-a packets:5 and -a filesize:3 stop where they should"

rc=0
"$NFCAP" -r "$rec" -b filesize:2 2>"$work/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "give -w FILE" "$work/err" || fail "-b without -w: $(cat "$work/err")"
rc=0
"$NFCAP" -r "$rec" -w "$work/x.pcapng" -b files:3 2>"$work/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "needs filesize:kB or duration:S" "$work/err" || fail "-b files only: $(cat "$work/err")"
ok "bad ring options are one-line usage errors"
echo "$passed passed, 0 failed"
