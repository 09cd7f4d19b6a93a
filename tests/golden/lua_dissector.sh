#!/usr/bin/env bash
# Golden test for samples/wireshark/nfcap.lua, the Wireshark post-dissector for nfcap's packet
# comments. Builds a pcapng fixture with make_lua_fixture and checks, with tshark, which frames
# match each display filter and what some fields hold.
#
# Environment (set by ctest):
#   NFCAP_SOURCE_DIR   repository root (default: two levels above this script)
#   NFCAP_LUA_FIXTURE  the built make_lua_fixture binary (default: compiled here with ${CXX:-c++})
#   NFCAP              the nfcap binary (optional: enables the replay check at the end)
# Exit status: 0 all passed, 1 a check failed, 77 skipped (no tshark, no way to get the fixture).

set -u
set -o pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${NFCAP_SOURCE_DIR:-$(cd "$script_dir/../.." && pwd)}
lua="$src/samples/wireshark/nfcap.lua"

passed=0
fail() {
    echo "FAIL: $*" >&2
    echo "$passed passed, 1 failed" >&2
    exit 1
}
pass() { passed=$((passed + 1)); }
skip() {
    echo "SKIP: $*"
    exit 77
}

command -v tshark >/dev/null 2>&1 || skip "tshark is not installed"
[[ -f $lua ]] || fail "no Lua dissector at $lua"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nfcap-lua.XXXXXX") || fail "mktemp failed"
trap 'rm -rf -- "$tmp"' EXIT

# Keep tshark away from the user's preferences and personal plugins (an installed copy of
# nfcap.lua would register the protocol twice).
mkdir -p "$tmp/home"
tshark_clean() { HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" tshark "$@"; }

# --- The fixture -------------------------------------------------------------------------------
fixture_tool=${NFCAP_LUA_FIXTURE:-}
if [[ -z $fixture_tool ]]; then
    cxx=${CXX:-c++}
    command -v "$cxx" >/dev/null 2>&1 || skip "NFCAP_LUA_FIXTURE is not set and there is no $cxx to build it"
    "$cxx" -std=c++20 -O1 -o "$tmp/make_lua_fixture" "$src/tests/tools/make_lua_fixture.cpp" \
        || fail "cannot compile tests/tools/make_lua_fixture.cpp"
    fixture_tool="$tmp/make_lua_fixture"
fi
[[ -x $fixture_tool ]] || fail "NFCAP_LUA_FIXTURE=$fixture_tool is not an executable"
fixture="$tmp/fixture.pcapng"
"$fixture_tool" "$fixture" || fail "$fixture_tool $fixture failed"
[[ -s $fixture ]] || fail "$fixture_tool wrote nothing"

# --- Helpers -----------------------------------------------------------------------------------

# Runs tshark with the dissector on $1 (the file) and the remaining arguments; stdout goes to
# $out. Fails on a tshark error or on anything on stderr except the "running as root" notice
# (a Lua load error is printed there).
run_tshark() {
    local file=$1
    shift
    out=$(tshark_clean -r "$file" -X "lua_script:$lua" "$@" 2>"$tmp/stderr") \
        || fail "tshark $* exited with $?: $(cat "$tmp/stderr")"
    local err
    err=$(grep -v -e '^Running as user ' "$tmp/stderr")
    [[ -z $err ]] || fail "tshark $* printed on stderr: $err"
}

# frames_matching FILE FILTER [TSHARK_OPTION...]: the frame numbers that match, space-separated.
frames_matching() {
    local file=$1 filter=$2
    shift 2
    run_tshark "$file" "$@" -Y "$filter" -T fields -e frame.number
    paste -sd ' ' <<<"$out"
}

# expect_frames FILTER "N N N" [TSHARK_OPTION...]: exactly these frames of the fixture match.
expect_frames() {
    local filter=$1 expected=$2 got
    shift 2
    got=$(frames_matching "$fixture" "$filter" "$@") || exit 1
    [[ $got == "$expected" ]] || fail "filter '$filter': expected frames [$expected], got [$got]"
    pass
}

# expect_field FRAME FIELD VALUE: tshark -T fields prints VALUE for FIELD in that frame
# (several occurrences are joined with ',').
expect_field() {
    local frame=$1 field=$2 expected=$3
    run_tshark "$fixture" -Y "frame.number == $frame" -T fields -e "$field"
    [[ $out == "$expected" ]] || fail "frame $frame field $field: expected [$expected], got [$out]"
    pass
}

# expect_tree_line FRAME LINE: that frame's nfcap subtree (tshark -V -O nfcap) holds LINE, leading
# spaces aside. A generated item is shown in brackets.
expect_tree_line() {
    local frame=$1 expected=$2 line
    run_tshark "$fixture" -Y "frame.number == $frame" -V -O nfcap
    while IFS= read -r line; do
        if [[ ${line#"${line%%[! ]*}"} == "$expected" ]]; then
            pass
            return
        fi
    done <<<"$out"
    fail "frame $frame: no line [$expected] in the nfcap tree: $out"
}

# --- Sanity of the fixture (no dissector involved) ---------------------------------------------
expect_frames 'frame.comment' '1 2 3 4 5 6 7 8 9 10 11 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48'
expect_frames 'ip.checksum.status == 1' '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 35 37 38 39 40 43 44 47 48' \
    -o ip.check_checksum:TRUE
expect_frames 'udp.length == 12' '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48'

# --- No Lua errors at all ----------------------------------------------------------------------
# A runtime error in a Lua dissector does not reach stderr: it becomes a "_ws.lua.error" item.
expect_frames '_ws.lua.error' ''
expect_frames 'nfcap.malformed contains "internal error"' ''

# --- Which frames are nfcap's ------------------------------------------------------------------
expect_frames 'nfcap' '1 2 3 4 5 6 7 8 9 10 13 14 15 16 17 18 19 20 21 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48'
expect_frames '!nfcap' '11 12 22'
expect_frames 'nfcap.source == "nflog:123"' '2 3 4'
expect_frames 'nfcap.source.kind == "nfqueue"' '9 21 24 25 26 27 28 29 30 31 32 35 36 42'
expect_frames 'nfcap.source.kind == "nflog" && nfcap.source.group == 65535' '8'
expect_frames 'nfcap.source == "nflog:0" && !nfcap.hook && !nfcap.malformed' '23'

# --- Prefix: plain, spaces, escapes, UTF-8, empty ----------------------------------------------
expect_frames 'nfcap.prefix == "accept"' '1'
expect_frames 'nfcap.prefix == "DROP ssh"' '2 21'
expect_frames 'nfcap.prefix == "say \"hi\" c:\\tmp"' '3'
expect_field 3 nfcap.prefix 'say "hi" c:\tmp'
expect_frames 'nfcap.prefix == "café"' '5'
expect_frames 'nfcap.prefix == "caf\xc3\xa9"' '5'
expect_field 5 nfcap.prefix 'café'
expect_frames 'nfcap.prefix == "all keys é"' '8'
# 17 and 23 are NFLOG records without a prefix key: an empty prefix is implied.
expect_frames 'nfcap.prefix == ""' '6 17 23 33 34 38 39 40 41 43 44 45 46 48'
expect_frames 'nfcap.prefix' '1 2 3 4 5 6 7 8 9 17 21 23 33 34 37 38 39 40 41 43 44 45 46 48'
# "a\x00b\xffc\x0a\xAB": a display-filter string may hold \x00, but a Wireshark 4.0 string
# field cannot (it is a C string), so the exact bytes are in nfcap.prefix.bytes.
expect_frames 'nfcap.prefix.bytes == 61:00:62:ff:63:0a:ab' '4'
expect_frames 'nfcap.prefix.bytes' '4'
expect_field 4 nfcap.prefix.bytes '610062ff630aab'

# --- Hook, family, interfaces ------------------------------------------------------------------
expect_frames 'nfcap.hook == "input"' '2 3 4 9 10 13 14 15 16 17 18 24 28 29 35 36 42 43 44 46 47 48'
expect_frames 'nfcap.hook == "prerouting"' '8 27 33 34 40 41'
expect_frames 'nfcap.family == "ipv6"' '5 6 21 24 34 36 39 41 42 45 46'
expect_frames 'nfcap.family == "bridge"' '7 37'
expect_frames 'nfcap.in.name == "eth0" && nfcap.in.index == 2' '2 3 8'
expect_frames 'nfcap.in == "eth0/2"' '2 3 8'
expect_frames 'nfcap.in.index == 7 && !nfcap.in.name' '7'
expect_frames 'nfcap.in == "7"' '7'
expect_frames 'nfcap.out.name == "eth1" && nfcap.out.index == 3' '7 8'
expect_frames 'nfcap.out.name == "lo" && nfcap.out.index == 1' '1'
expect_frames 'nfcap.physin.name == "veth-a" && nfcap.physin.index == 12' '7'
expect_frames 'nfcap.physout.index == 9 && !nfcap.physout.name' '7'
expect_frames 'nfcap.physin.name == "swp1" && nfcap.physout.name == "swp2" && nfcap.physout.index == 11' '8'

# --- Numbers and the remaining keys ------------------------------------------------------------
expect_frames 'nfcap.uid == 1000' '2 24'
expect_frames 'nfcap.gid == 1000' '2 24'
expect_frames 'nfcap.uid == 0 && nfcap.gid == 0' '1'
expect_frames 'nfcap.uid == 4294967295 && nfcap.gid == 65534' '8'
expect_frames 'nfcap.mark == 0x10' '2 24'
expect_frames 'nfcap.mark == 0xdeadbeef' '8'
expect_field 2 nfcap.mark '0x00000010'
expect_frames 'nfcap.hwtype == 1 && nfcap.hwaddr == "52:54:00:12:34:56"' '2 8 41'
expect_frames 'nfcap.hwheader == "525400123456aabbccddeeff0800"' '8'
expect_frames 'nfcap.vlan == "0x8100/0x2005"' '8'
expect_frames 'nfcap.vlan.tpid == 0x8100 && nfcap.vlan.tci == 0x2005 && nfcap.vlan.id == 5 && nfcap.vlan.pcp == 1 && nfcap.vlan.dei == 0' '8'
expect_frames 'nfcap.ct == "established-reply" && nfcap.ctstatus == 0x18a && nfcap.ctmark == 0x2a' '8'
expect_frames 'nfcap.ctid == 3735928559 && nfcap.ctzone == 7' '8'
expect_frames 'nfcap.seq == 41 && nfcap.seq_global == 1002' '2'
expect_frames 'nfcap.seq == 100 && nfcap.seq_global == 200' '8'
# Written ts=kernel in 1 2 24 26 27 28 29 31; implied (no ts key) in the others that parse.
expect_frames 'nfcap.ts == "kernel"' '1 2 3 4 5 6 7 9 17 21 23 24 26 27 28 29 30 31 32 33 34 35 36 38 39 40 41 42 43 44 45 46 48'
expect_frames 'nfcap.ts == "receive"' '8 25 37'
expect_frames 'nfcap.trunc == 1500' '8 25'
expect_frames 'nfcap.truncated == "100/180"' '8'
expect_frames 'nfcap.truncated.captured == 100 && nfcap.truncated.original == 180' '8'
expect_frames 'nfcap.truncated' '8'

# --- NFQUEUE keys ------------------------------------------------------------------------------
expect_frames 'nfcap.priority == 6' '24'
expect_frames 'nfcap.priority == 0' '25'
expect_frames 'nfcap.priority == 4294967295' '27'
expect_frames 'nfcap.priority' '24 25 27'
expect_field 24 nfcap.priority '6'
expect_frames 'nfcap.id == 41' '24'
expect_frames 'nfcap.id == 17' '9'
expect_frames 'nfcap.id == 4294967295' '26'
expect_frames 'nfcap.id' '9 24 25 26 27 30 32 35 36 42'
expect_field 24 nfcap.id '41'
expect_frames 'nfcap.verdict == "queue:6"' '24'
expect_frames 'nfcap.verdict.queue == 6' '24'
expect_frames 'nfcap.verdict.queue' '24'
expect_frames 'nfcap.verdict == "accept"' '9 25 35 42'
expect_frames 'nfcap.verdict == "drop"' '26 36'
expect_frames 'nfcap.verdict == "repeat"' '27'
expect_frames 'nfcap.verdict == "stolen" && !nfcap.verdict.queue' '31'
expect_frames 'nfcap.verdict' '9 24 25 26 27 31 35 36 42'
expect_field 24 nfcap.verdict 'queue:6'
expect_frames 'nfcap.setmark == "0x10/0xffffffff"' '24'
expect_frames 'nfcap.setmark.value == 0x10' '24'
expect_frames 'nfcap.setmark.value == 0x10 && nfcap.setmark.mask == 0xffffffff' '24'
expect_frames 'nfcap.setmark.value == 0xdeadbeef && nfcap.setmark.mask == 0xff' '27'
expect_frames 'nfcap.setmark' '24 27'
expect_field 24 nfcap.setmark.value '0x00000010'
expect_field 27 nfcap.setmark.mask '0x000000ff'
expect_frames 'nfcap.skbinfo == "csum-not-ready,gso"' '24'
expect_frames 'nfcap.skbinfo.csum_not_ready' '24 31'
expect_frames 'nfcap.skbinfo.gso' '24 27'
expect_frames 'nfcap.skbinfo.csum_not_verified' '25'
expect_frames 'nfcap.skbinfo.csum_not_ready && nfcap.skbinfo.gso && !nfcap.skbinfo.csum_not_verified' '24'
expect_frames 'nfcap.skbinfo.unknown == 0x8' '25'
expect_frames 'nfcap.skbinfo.unknown' '25 31'
expect_frames 'nfcap.skbinfo' '24 25 27 31'
expect_field 31 nfcap.skbinfo 'csum-not-ready,new-flag,0x10'
expect_frames 'nfcap.secctx == "a b"' '24'
expect_frames 'nfcap.secctx == "system_u:object_r:x_t:s0"' '25'
expect_frames 'nfcap.secctx == "s\\t"' '27'
expect_frames 'nfcap.secctx' '24 25 27 30'
expect_field 24 nfcap.secctx 'a b'
expect_field 27 nfcap.secctx 's\t'
expect_frames 'nfcap.source.kind == "nfqueue" && nfcap.source.group == 65535' '27'

# --- Implied values: keys a compact comment leaves out -----------------------------------------
# Frames 33-48 (33-39 RAW, 40-48 LINUX_SLL2). The family is the outer IP header's version.
expect_frames 'frame.number >= 33 && nfcap.family == "ipv4"' '33 35 38 40 43 44 48'
expect_frames 'frame.number >= 33 && nfcap.family == "ipv6"' '34 36 39 41 42 45 46'
expect_frames 'nfcap.source == "nflog:7" && nfcap.seq == 5 && nfcap.family == "ipv4"' '33'
expect_frames 'nfcap.source == "nflog:7" && nfcap.seq == 5 && nfcap.family == "ipv6"' '34'
expect_field 38 nfcap.family 'ipv4'
expect_field 39 nfcap.family 'ipv6'
expect_frames 'frame.number >= 33 && nfcap.ts == "kernel"' '33 34 35 36 38 39 40 41 42 43 44 45 46 48'
expect_frames 'frame.number >= 33 && nfcap.prefix == ""' '33 34 38 39 40 41 43 44 45 46 48'
# NFQUEUE has no prefix: none is implied (9 and 21 write one).
expect_frames 'nfcap.source.kind == "nfqueue" && nfcap.prefix' '9 21'
expect_frames 'nfcap.source.kind == "nfqueue" && frame.number >= 33 && nfcap.family && nfcap.ts == "kernel"' '35 36 42'
# Hardware type and address from the SLL2 header: Ethernet (sll.src.eth) and other addresses
# (sll.src.other, sll.src.ipv4); only the first halen bytes; none when halen is 0; nothing for
# hatype 0xffff; nothing on RAW frames.
expect_frames 'sll.src.eth' '40 41 46 47'
expect_frames 'sll.src.other' '42 43'
expect_frames 'nfcap.hwaddr == "6a:10:73:4c:e6:27"' '40 46'
expect_frames 'nfcap.hwtype == 1' '2 8 40 41'
expect_frames 'nfcap.hwtype == 32 && nfcap.hwaddr == "80:00:00:48:fe:80:00:01"' '42'
expect_frames 'nfcap.hwtype == 4660 && nfcap.hwaddr == "0a:0b:0c"' '43'
expect_frames 'nfcap.hwtype == 778 && nfcap.hwaddr == "c0:00:02:09"' '48'
expect_frames 'nfcap.hwtype == 772 && !nfcap.hwaddr' '44'
expect_frames 'nfcap.hwtype == 65535' ''
expect_frames 'frame.number >= 40 && !nfcap.hwtype' '45 46 47'
expect_frames 'frame.number >= 40 && !nfcap.hwaddr' '44 45 47'
expect_frames 'frame.number >= 33 && frame.number <= 39 && (nfcap.hwtype || nfcap.hwaddr)' ''
# A key that is written wins, once: no implied copy beside it.
expect_frames 'nfcap.family == "bridge" && ip.version == 4' '7 37'
expect_frames 'nfcap.prefix == "br" && nfcap.ts == "receive"' '37'
expect_field 37 nfcap.family 'bridge'
expect_field 37 nfcap.ts 'receive'
expect_field 41 nfcap.hwaddr '52:54:00:12:34:56'
expect_field 41 nfcap.hwtype '1'
expect_field 41 nfcap.family 'ipv6'
# A malformed value is still a written key (46: hwtype); after a syntax error nothing is
# implied (10 13-16 18-20 47), a malformed value does not stop it (17 28-32 46).
expect_frames 'nfcap.malformed contains "for hwtype" && !nfcap.hwtype && nfcap.hwaddr == "6a:10:73:4c:e6:27"' '46'
expect_frames 'nfcap.malformed && nfcap.ts' '17 28 29 30 31 32 46'
expect_frames 'nfcap.malformed && !nfcap.ts' '10 13 14 15 16 18 19 20 47'
# Implied items are generated (in brackets); written ones are not.
expect_tree_line 33 '[Family: ipv4 (from the IP header)]'
expect_tree_line 33 '[Prefix: "" (none logged)]'
expect_tree_line 33 "[Timestamp source: kernel (the kernel's timestamp, not in the comment)]"
expect_tree_line 40 '[Hardware type (ARPHRD): 1 (from the LINUX_SLL2 header)]'
expect_tree_line 40 '[Hardware address: 6a:10:73:4c:e6:27 (from the LINUX_SLL2 header)]'
expect_tree_line 41 'Hardware address: 52:54:00:12:34:56'
expect_tree_line 41 'Prefix: '
expect_tree_line 37 'Family: bridge'

# --- Unknown keys ------------------------------------------------------------------------------
expect_frames 'nfcap.other' '9'
expect_frames 'nfcap.other == "newkey=x y"' '9'
expect_frames 'nfcap.other == "later=2"' '9'
expect_frames 'nfcap.other.key == "newkey" && nfcap.other.value == "x y"' '9'
expect_field 9 nfcap.other 'newkey=x y,later=2'
expect_frames 'nfcap.seq == 9 && nfcap.prefix == "q"' '9'
# The NFQUEUE keys are typed fields now, never nfcap.other.
expect_frames 'nfcap.other.key == "priority" || nfcap.other.key == "id" || nfcap.other.key == "verdict" || nfcap.other.key == "setmark" || nfcap.other.key == "skbinfo" || nfcap.other.key == "secctx"' ''

# --- Malformed comments ------------------------------------------------------------------------
expect_frames 'nfcap.malformed' '10 13 14 15 16 17 18 19 20 28 29 30 31 32 46 47'
expect_frames 'nfcap.malformed.expert' '10 13 14 15 16 17 18 19 20 28 29 30 31 32 46 47'
expect_frames 'nfcap.malformed contains "unterminated quote"' '10 47'
expect_frames 'nfcap.malformed contains "bad escape"' '13'
expect_frames 'nfcap.malformed contains "\\x escape"' '14'
expect_frames 'nfcap.malformed contains "without '"'"'='"'"'"' '15'
expect_frames 'nfcap.malformed contains "two spaces"' '16'
expect_frames 'nfcap.malformed contains "bad number for uid"' '17'
expect_field 17 nfcap.malformed 'bad number for uid: uid=abc,bad number for mark: mark=0xzz,bad number for seq: seq=99999999999,expected KEPT/LENGTH, KEPT < LENGTH for truncated: truncated=180/100'
expect_frames 'nfcap.malformed contains "after closing quote"' '18'
expect_frames 'nfcap.malformed contains "bad source token"' '19'
expect_frames 'nfcap.malformed contains "unquoted value"' '20'
# What was read before the error is still shown (10). A malformed value is no syntax error:
# the comment parses, so the family is still implied from the packet (17, 28-32).
expect_frames 'nfcap.malformed && nfcap.family == "ipv4"' '10 17 28 29 30 31 32'
# Malformed NFQUEUE values.
expect_frames 'nfcap.malformed contains "bad number for priority"' '28'
expect_frames 'nfcap.malformed contains "bad number for id"' '28 31'
expect_frames 'nfcap.malformed contains "for verdict"' '28 29 30 32'
expect_frames 'nfcap.malformed contains "for setmark"' '28 30'
expect_frames 'nfcap.malformed contains "for skbinfo"' '29 30 32'
expect_field 28 nfcap.malformed 'bad number for priority: priority=-1,bad number for id: id=0x10,expected queue:N with N up to 65535 for verdict: verdict=queue:70000,expected 0xVALUE/0xMASK for setmark: setmark=0x10'
expect_field 29 nfcap.malformed 'expected accept, drop, repeat or queue:N for verdict: verdict=Accept!,flag gso listed twice for skbinfo: skbinfo=gso,gso'
expect_field 30 nfcap.malformed 'expected queue:N with N up to 65535 for verdict: verdict=queue,expected 0xVALUE/0xMASK for setmark: setmark=0x10/0xzz,hex number not last in list for skbinfo: skbinfo=0x8,gso'
expect_field 32 nfcap.malformed 'expected queue:N with N up to 65535 for verdict: verdict=queue:+6,empty flag in list for skbinfo: skbinfo=gso,,csum-not-ready'
# A malformed value shows no typed field, the other pairs still do.
expect_frames 'nfcap.malformed && (nfcap.priority || nfcap.verdict.queue || nfcap.setmark.value || nfcap.skbinfo.gso)' ''
expect_frames 'nfcap.malformed && nfcap.secctx && nfcap.id == 3' '30'

# --- Recordings replayed by nfcap (optional: need the nfcap binary and the recordings) -----------
have_nfcap=false
[[ -n ${NFCAP:-} && -f $NFCAP && -x $NFCAP ]] && have_nfcap=true

recording="$src/samples/recordings/nflog-tcpdump.pcap"
if $have_nfcap && [[ -f $recording ]]; then
    replayed="$tmp/replayed.pcapng"
    "$NFCAP" -r "$recording" -w "$replayed" >"$tmp/nfcap.out" 2>&1 \
        || fail "$NFCAP -r $recording -w $replayed failed: $(cat "$tmp/nfcap.out")"
    by_field=$(frames_matching "$replayed" 'nfcap.prefix == "nfcap in"' | wc -w) || exit 1
    by_comment=$(frames_matching "$replayed" 'frame.comment contains "prefix=\"nfcap in\""' | wc -w) || exit 1
    [[ $by_field -gt 0 ]] || fail "replayed recording: no frame matches nfcap.prefix == \"nfcap in\""
    [[ $by_field -eq $by_comment ]] \
        || fail "replayed recording: $by_field frames match nfcap.prefix, $by_comment comments hold prefix=\"nfcap in\""
    pass
    lua_errors=$(frames_matching "$replayed" '_ws.lua.error || nfcap.malformed') || exit 1
    [[ -z $lua_errors ]] || fail "replayed recording: Lua errors or malformed comments in frames $lua_errors"
    pass
else
    why=()
    $have_nfcap || why+=("NFCAP does not name an executable")
    [[ -f $recording ]] || why+=("no $recording")
    echo "note: replay check skipped: $(printf '%s; ' "${why[@]}")"
fi

# The NFQUEUE session (netlink capture of a queue): 12 packets, each with its packet id.
recording="$src/samples/recordings/nfqueue-session.netlink.pcapng"
if $have_nfcap && [[ -f $recording ]]; then
    replayed="$tmp/q.pcapng"
    "$NFCAP" -r "$recording" -w "$replayed" >"$tmp/nfcap.out" 2>&1 \
        || fail "$NFCAP -r $recording -w $replayed failed: $(cat "$tmp/nfcap.out")"
    queued=$(frames_matching "$replayed" 'nfcap.source.kind == "nfqueue"' | wc -w) || exit 1
    [[ $queued -eq 12 ]] || fail "replayed NFQUEUE session: $queued frames match nfcap.source.kind == \"nfqueue\", expected 12"
    pass
    with_id=$(frames_matching "$replayed" 'nfcap.source.kind == "nfqueue" && nfcap.id' | wc -w) || exit 1
    [[ $with_id -eq 12 ]] || fail "replayed NFQUEUE session: $with_id of the 12 nfqueue frames have nfcap.id"
    pass
    all_frames=$(frames_matching "$replayed" 'frame' | wc -w) || exit 1
    [[ $all_frames -eq 12 ]] || fail "replayed NFQUEUE session: $all_frames frames, expected 12"
    pass
    by_field=$(frames_matching "$replayed" 'nfcap.skbinfo.csum_not_verified') || exit 1
    by_comment=$(frames_matching "$replayed" 'frame.comment matches "skbinfo=([a-z-]+,)*csum-not-verified([ ,]|$)"') || exit 1
    [[ -n $by_field ]] || fail "replayed NFQUEUE session: no frame has nfcap.skbinfo.csum_not_verified"
    [[ $by_field == "$by_comment" ]] \
        || fail "replayed NFQUEUE session: nfcap.skbinfo.csum_not_verified in frames [$by_field], comments say [$by_comment]"
    pass
    lua_errors=$(frames_matching "$replayed" '_ws.lua.error || nfcap.malformed || nfcap.other') || exit 1
    [[ -z $lua_errors ]] || fail "replayed NFQUEUE session: Lua errors, malformed or unknown keys in frames $lua_errors"
    pass
else
    why=()
    $have_nfcap || why+=("NFCAP does not name an executable")
    [[ -f $recording ]] || why+=("no $recording")
    echo "note: NFQUEUE replay check skipped: $(printf '%s; ' "${why[@]}")"
fi

# Two hosts' recordings merged: every packet names its host (nfcap.host, from the interface
# description), and each host's count is what its own file held.
nflog_recording="$src/samples/recordings/nflog-tcpdump.pcap"
if $have_nfcap && command -v mergecap >/dev/null 2>&1 && [[ -f $nflog_recording ]]; then
    for host in fw1 fw2; do
        "$NFCAP" -r "$nflog_recording" -w "$tmp/$host.pcapng" --host-name "$host" >"$tmp/nfcap.out" 2>&1 \
            || fail "$NFCAP -r $nflog_recording --host-name $host failed: $(cat "$tmp/nfcap.out")"
    done
    mergecap -w "$tmp/merged.pcapng" "$tmp/fw1.pcapng" "$tmp/fw2.pcapng" || fail "mergecap failed"
    each=$(frames_matching "$tmp/fw1.pcapng" 'frame' | wc -w) || exit 1
    [[ $each -gt 0 ]] || fail "the replayed NFLOG recording has no frames"
    for host in fw1 fw2; do
        n=$(frames_matching "$tmp/merged.pcapng" "nfcap.host == \"$host\" && frame.interface_description contains \" on $host (\"" | wc -w) || exit 1
        [[ $n -eq $each ]] || fail "merged file: $n frames name host $host, its own file has $each"
    done
    unnamed=$(frames_matching "$tmp/merged.pcapng" 'frame.comment && !nfcap.host' | wc -w) || exit 1
    [[ $unnamed -eq 0 ]] || fail "merged file: $unnamed frames with a comment name no host"
    "$NFCAP" -r "$nflog_recording" -w "$tmp/nohost.pcapng" >"$tmp/nfcap.out" 2>&1 \
        || fail "$NFCAP -r $nflog_recording failed: $(cat "$tmp/nfcap.out")"
    none=$(frames_matching "$tmp/nohost.pcapng" 'nfcap.host' | wc -w) || exit 1
    [[ $none -eq 0 ]] || fail "a replay without --host-name names a host in $none frames"
    pass
else
    echo "note: merged hosts check skipped: needs NFCAP, mergecap and $nflog_recording"
fi

# The plugin declares a field for every key of nfcap's metadata key table, of the table's type,
# as tshark registers it.
if [[ -x ${NFCAP_METADATA_KEYS:-} ]]; then
    tshark_clean -G fields -X "lua_script:$lua" >"$tmp/fields" 2>/dev/null \
        || fail "tshark -G fields with the plugin failed"
    "$NFCAP_METADATA_KEYS" >"$tmp/keys" || fail "$NFCAP_METADATA_KEYS failed"
    [[ $(wc -l <"$tmp/keys") -ge 30 ]] || fail "the key table lists only $(wc -l <"$tmp/keys") keys"
    while IFS=$'\t' read -r key kind lua_type; do
        want="FT_${lua_type^^}"
        got=$(awk -F'\t' -v f="nfcap.$key" '$1 == "F" && $3 == f { print $4 }' "$tmp/fields")
        [[ $got == "$want" ]] \
            || fail "key $key ($kind): the plugin's field nfcap.$key is '${got:-missing}', the key table says $want"
    done <"$tmp/keys"
    pass
else
    echo "note: key table check skipped: NFCAP_METADATA_KEYS does not name an executable"
fi

echo "$passed passed, 0 failed"
