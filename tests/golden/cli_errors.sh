#!/usr/bin/env bash
# Bad command lines, table-driven, against the real binary: every malformed flag, out-of-range
# value and conflicting pair gets exit status 2 and exactly one line on standard error, starting
# "nfcap: " and naming the problem; nothing on standard output, no output file, no kernel
# socket (these rows need no root: parsing refuses them before anything is bound). Runtime
# failures (a missing recording, a directory that does not exist) get one line and status 1.
set -euo pipefail
: "${NFCAP:?set NFCAP to the nfcap binary}" "${NFCAP_SOURCE_DIR:?set NFCAP_SOURCE_DIR}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'garbage\n' >not-a-recording
checked=0

# row STATUS EXPECTED ARGS...: nfcap ARGS must exit with STATUS after one stderr line that
# contains EXPECTED, write nothing to stdout and create no file in the working directory.
row() {
    local want=$1 expected=$2
    shift 2
    local rc=0 err out lines
    out=$(timeout 10 "$NFCAP" "$@" 2>stderr) || rc=$?
    err=$(cat stderr)
    rm -f stderr
    lines=$(printf '%s\n' "$err" | wc -l)
    local args
    args=$(printf '%q ' "$@")
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: nfcap $args: exit status $rc, expected $want (stderr: $err)" >&2
        exit 1
    fi
    if [ -z "$err" ] || [ "$lines" -ne 1 ]; then
        echo "FAIL: nfcap $args: expected one line on stderr, got $lines: $err" >&2
        exit 1
    fi
    case $err in
    "nfcap: "*"$expected"*) ;;
    *)
        echo "FAIL: nfcap $args: stderr does not say '$expected': $err" >&2
        exit 1
        ;;
    esac
    if [ -n "$out" ]; then
        echo "FAIL: nfcap $args: wrote to stdout: $out" >&2
        exit 1
    fi
    if [ -n "$(find . -mindepth 1 ! -name not-a-recording -print -quit)" ]; then
        echo "FAIL: nfcap $args: left files behind: $(ls -A)" >&2
        exit 1
    fi
    checked=$((checked + 1))
}

# Malformed flags and missing values.
row 2 "no source" -w out
row 2 "no source"
row 2 "unrecognised option '--bogus'" -g 1 -w out --bogus
row 2 "argument for option '--group' is missing" -g
row 2 "-w needs a file name" -g 1 -w ''
row 2 "invalid --linktype 'eth'" -g 1 -w out --linktype eth
row 2 "invalid verdict 'maybe'" -q 1 --verdict maybe -w out
row 2 "invalid mark 'zz'" -q 1 --auto-accept --set-mark zz -w out
row 2 "invalid mark mask '2/3'" -q 1 --auto-accept --set-mark 1/2/3 -w out
row 2 "invalid -b 'size:10'" -g 1 -w out -b size:10
row 2 "invalid -a 'forever:1'" -g 1 -w out -a forever:1
row 2 "invalid rcvbuf '12Q'" -g 1 -w out --rcvbuf 12Q
row 2 "invalid count '-5'" -g 1 -w out -c -5
row 2 "invalid group 'x'" -g x -w out
row 2 "invalid group '-1': give a number or a range" -g -1 -w out
row 2 "invalid queue '3-': give a number or a range" -q 3- --auto-accept -w out
row 2 'bad filter expression "tcp port"' -g 1 -w out tcp port
row 2 "invalid --file-mode 'abc'" -g 1 -w out --file-mode abc
row 2 "-Z: no such user 'no-such-user-xyz'" -g 1 -w out -Z no-such-user-xyz
row 2 "invalid --netns ''" -g 1 -w out --netns ''
row 2 "invalid -i 'eth0': nfcap captures nflog:N and nfqueue:N" -i eth0 -w out
row 2 "invalid group '': not a number" -i nflog: -w out
row 2 "group 3 is listed twice" -g 3 -i nflog:3 -w out
row 2 "-q needs an explicit verdict policy" -i nfqueue:3 -w out
row 2 "invalid -F 'pcapx': choose pcapng or pcap" -g 1 -w out -F pcapx
row 2 "-P and -F pcapng contradict each other" -g 1 -w out -P -F pcapng
row 2 "-F and -P choose the format of -w FILE" -g 1 -F pcap
row 2 "--host-name names the host in pcapng's interface blocks; pcap" -g 1 -w out -P --host-name fw1
row 2 "--json-sidecar goes beside a pcap or pcapng file" -g 1 --json-sidecar side.jsonl
row 2 "--json-sidecar needs a file of its own" -g 1 -w out --json-sidecar out
row 2 "invalid --host-name 'fw 1'" -g 1 -w out --host-name 'fw 1'
row 2 "invalid --host-name 'a(b)'" -g 1 -w out --host-name 'a(b)'
row 2 "--host-name names the host in pcapng's interface blocks" -g 1 --host-name fw1
# Values out of range.
row 2 "invalid --file-mode '999'" -g 1 -w out --file-mode 999
row 2 "invalid --file-mode '01777'" -g 1 -w out --file-mode 01777
row 2 "must be between 0 and 65535" -g 70000 -w out
row 2 "the end is below the start" -g 7-3 -w out
row 2 "group 1 is listed twice" -g 1,1 -w out
row 2 "too many" -g 0-65535 -w out
row 2 "invalid count '0'" -g 1 -w out -c 0
row 2 "invalid count '99999999999999999999999'" -g 1 -w out -c 99999999999999999999999
row 2 "invalid snaplen '0'" -g 1 -w out -s 0
row 2 "invalid snaplen '300000'" -g 1 -w out -s 300000
row 2 "between 4096 and 131072" -g 1 -w out --nlbufsiz 1M
row 2 "invalid flush-timeout '0'" -g 1 -w out --flush-timeout 0
row 2 "invalid qthresh '0'" -g 1 -w out --qthresh 0
row 2 "queue number above 65535" -q 1 --verdict queue:70000 -w out
row 2 "invalid queue-maxlen '0'" -q 1 --auto-accept --queue-maxlen 0 -w out
row 2 "invalid copy-range '70000'" -q 1 --auto-accept --copy-range 70000 -w out
row 2 "invalid -b filesize '0'" -g 1 -w out -b filesize:0
row 2 "invalid -a duration '0'" -g 1 -w out -a duration:0
# Options that conflict, or need another.
row 2 "exclude each other" -g 1 -r rec.pcap -w out
row 2 "exclude each other" -r rec.pcap -w out -g 1
row 2 "-q needs an explicit verdict policy" -q 1 -w out
row 2 "contradict each other" -q 1 --auto-accept --verdict drop -w out
row 2 "--verdict repeat needs --set-mark" -q 1 --verdict repeat -w out
row 2 "--auto-accept applies to NFQUEUE queues" -g 1 --auto-accept -w out
row 2 "--set-mark applies to NFQUEUE queues" -g 1 --set-mark 1 -w out
row 2 "--linktype applies to pcapng and pcap output" -g 1 --linktype raw
row 2 "--linktype applies to pcapng and pcap output" -g 1 -w out --json --linktype raw
row 2 "give the filter either with -f or as trailing words" -g 1 -w out -f tcp udp
row 2 "it has no effect with -r" -r rec.pcap -w out --rcvbuf 1M
row 2 "-b writes a ring of pcapng (or pcap) files; give -w FILE" -g 1 -w - -b filesize:10
row 2 "-b needs filesize:kB or duration:S" -g 1 -w out -b files:3
row 2 "--fifo-reconnect needs a live capture" -r rec.pcap -w out --fifo-reconnect
row 2 "--record-netlink needs a file of its own" -g 1 -w out --record-netlink ''
row 2 "--netns chooses where a live capture binds" -r rec.pcap -w out --netns ns1
# Runtime failures: status 1, still one line, nothing left behind.
row 1 "cannot read missing.pcap" -r missing.pcap -w out
row 1 "cannot read not-a-recording: unknown file format" -r not-a-recording -w out
row 1 "cannot create no-such-dir/out: No such file or directory" \
    -r "$NFCAP_SOURCE_DIR/samples/recordings/nflog-tcpdump.pcap" -w no-such-dir/out
echo "ok: $checked bad command lines, each refused with one line and the right status"
