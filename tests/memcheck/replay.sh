#!/usr/bin/env bash
# valgrind memcheck on replays: every committed recording (NFLOG from tcpdump and dumpcap, both
# byte orders, one with damaged records, a netlink session) to pcapng in each link type, to text
# and to JSON. Any invalid read or write, use of uninitialised memory, or leak (definite,
# indirect or possible) fails the test. Not run on sanitizer builds (valgrind cannot run them).
set -euo pipefail
: "${NFCAP:?set NFCAP to the nfcap binary}" "${NFCAP_SOURCE_DIR:?set NFCAP_SOURCE_DIR}"
if ! command -v valgrind >/dev/null 2>&1; then
    [ -n "${CI:-}" ] && { echo "FAIL: valgrind is not installed" >&2; exit 1; }
    echo "SKIP: needs valgrind"
    exit 77
fi
rec="$NFCAP_SOURCE_DIR/samples/recordings"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=0

# memcheck EXPECTED_STATUS ARGS...: nfcap ARGS under memcheck exits with EXPECTED_STATUS (its
# own status: valgrind's error status is 99) and valgrind reports no error and no leak.
memcheck() {
    local want=$1 rc=0
    shift
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
        --log-file="$work/vg.log" "$NFCAP" "$@" >"$work/stdout" 2>"$work/stderr" || rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -q "ERROR SUMMARY: 0 errors" "$work/vg.log"; then
        echo "FAIL: nfcap $*: status $rc (expected $want)" >&2
        cat "$work/stderr" "$work/vg.log" >&2
        exit 1
    fi
    if grep -qE "definitely lost: [1-9]|indirectly lost: [1-9]|possibly lost: [1-9]" "$work/vg.log"; then
        echo "FAIL: nfcap $*: leaks" >&2
        cat "$work/vg.log" >&2
        exit 1
    fi
    runs=$((runs + 1))
}

for lt in sll2 raw nflog; do
    memcheck 0 -r "$rec/nflog-tcpdump.pcap" --linktype "$lt" -w "$work/out.pcapng"
done
memcheck 0 -r "$rec/nflog-tcpdump-be.pcap" -w "$work/out.pcapng" -f "udp or icmp6"
memcheck 0 -r "$rec/nflog-dumpcap.pcapng" -s 64 -c 10 -w "$work/out.pcapng"
memcheck 0 -r "$rec/nflog-families.pcap" -w "$work/out.pcapng"
memcheck 3 -r "$rec/nflog-malformed.pcap" -w "$work/out.pcapng"
memcheck 0 -r "$rec/nfqueue-session.netlink.pcapng" -w "$work/out.pcapng"
memcheck 0 -r "$rec/nflog-families.pcap"
memcheck 0 -r "$rec/nflog-families.pcap" --json-payload
memcheck 0 -r - -w - <"$rec/nflog-tcpdump.pcap" >/dev/null
memcheck 1 -r "$work/missing.pcap" -w "$work/out.pcapng"
memcheck 2 -g 1 --bogus
echo "ok: $runs replays under memcheck: no errors, no leaks"
