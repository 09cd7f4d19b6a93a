# shellcheck shell=bash
# Library for nfcap's privileged tests. Source it from a test script run with `bash script`:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   require_root
#   setup_pair                   # namespaces $NS_A / $NS_B joined by vetha <-> vethb, $WORK
#   nft_b "$WORK/rules.nft"
#   bg_in "$NS_B" "$NFCAP" -g 5 -w "$WORK/out.pcapng"; cap=$BG_PID
#   wait_nflog_bound "$NS_B" 5
#   in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 5000 10 100
#   rc=0; stop_pid "$cap" || rc=$?
#
# Environment (set by ctest): NFCAP, NFCAP_TRAFFIC, NFCAP_PCAP_SWAP, NFCAP_SOURCE_DIR.
#
# Safety contract: all traffic stays inside the namespaces created here (addresses 192.0.2.0/24
# and 2001:db8::/64 only), and everything created here (namespaces, processes in them, tracked
# processes, $WORK) is removed by an EXIT/INT/TERM trap, also when the test fails half-way.
# A test must not install its own EXIT trap; register extra cleanup with `on_cleanup CMD`.
#
# Works under `set -euo pipefail`. Functions that report a status (stop_pid) return it, so call
# them as `rc=0; stop_pid "$pid" || rc=$?`.

NFCAP_LIB_NAMESPACES=()  # namespaces to delete, in creation order
NFCAP_LIB_PIDS=()        # processes to kill at cleanup (see track_pid)
NFCAP_LIB_CLEANUPS=()    # extra commands from on_cleanup, run first, newest first
NFCAP_LIB_OWNER=""       # the shell that installed the trap; subshells never clean up
NFCAP_LIB_CLEANED=0
NFCAP_LIB_WORK_MADE=0    # 1 once make_workdir created $WORK for this script
NFCAP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# fail MSG...: print "FAIL: MSG" on stderr and exit 1 (cleanup runs from the EXIT trap).
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# check_eq WHAT EXPECTED ACTUAL: fail unless EXPECTED and ACTUAL are the same string.
check_eq() {
    if [ "$#" -ne 3 ]; then
        fail "check_eq needs WHAT EXPECTED ACTUAL, got $# arguments"
    fi
    if [ "$2" != "$3" ]; then
        fail "$1: expected '$2', got '$3'"
    fi
    echo "ok: $1 = '$3'"
}

# require_cmd CMD...: like require_root, for tools a test needs (skip locally, fail in CI).
require_cmd() {
    local c
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1; then
            if [ -n "${CI:-}" ]; then
                fail "'$c' is not installed (privileged tests must not skip in CI)"
            fi
            echo "SKIP: needs $c"
            exit 77
        fi
    done
}

# require_root: skip (exit 77) unless root with CAP_NET_ADMIN; in CI ($CI set) fail instead.
require_root() {
    local why="" capeff
    if [ "$(id -u)" -ne 0 ]; then
        why="not running as root (uid $(id -u))"
    else
        capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status 2>/dev/null || true)
        # CAP_NET_ADMIN is capability bit 12.
        if [ -z "$capeff" ] || (((16#$capeff >> 12 & 1) == 0)); then
            why="root but without CAP_NET_ADMIN (CapEff=${capeff:-unknown})"
        fi
    fi
    if [ -n "$why" ]; then
        if [ -n "${CI:-}" ]; then
            echo "FAIL: privileged test cannot run: $why (privileged tests must not skip in CI)" >&2
            exit 1
        fi
        echo "SKIP: needs root (CAP_NET_ADMIN)"
        exit 77
    fi
    require_cmd ip nft ping
}

# --- cleanup ----------------------------------------------------------------------------------

nfcap_lib_is_alive() {  # PID: running and not a zombie
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)
    [ -n "$state" ] && [ "$state" != Z ]
}

nfcap_lib_cleanup() {
    local rc=$? i pid ns pids
    # Only the shell that set things up cleans up, once (subshells may inherit the trap).
    if [ "${BASHPID:-$$}" != "$NFCAP_LIB_OWNER" ] || [ "$NFCAP_LIB_CLEANED" = 1 ]; then
        return "$rc"
    fi
    NFCAP_LIB_CLEANED=1
    trap - EXIT INT TERM
    set +e
    for ((i = ${#NFCAP_LIB_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${NFCAP_LIB_CLEANUPS[i]}"
    done
    # Tracked processes: only our own children, so that a reused pid is never hit.
    for pid in "${NFCAP_LIB_PIDS[@]}"; do
        if nfcap_lib_is_alive "$pid" &&
            [ "$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" = "$NFCAP_LIB_OWNER" ]; then
            kill -TERM "$pid" 2>/dev/null
        fi
    done
    for ((i = 0; i < 20; i++)); do
        pids=""
        for pid in "${NFCAP_LIB_PIDS[@]}"; do
            nfcap_lib_is_alive "$pid" && pids+=" $pid"
        done
        [ -z "$pids" ] && break
        sleep 0.1
    done
    for pid in $pids; do
        if [ "$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" = "$NFCAP_LIB_OWNER" ]; then
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    # Anything still running inside our namespaces was started by this test: a process left in
    # a namespace would keep it (and its NFLOG bindings) alive after `ip netns del`.
    for ns in "${NFCAP_LIB_NAMESPACES[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null
        fi
    done
    for ((i = ${#NFCAP_LIB_NAMESPACES[@]} - 1; i >= 0; i--)); do
        ns=${NFCAP_LIB_NAMESPACES[i]}
        if [ -e "/run/netns/$ns" ]; then
            ip netns del "$ns" 2>/dev/null || echo "cleanup: could not delete namespace $ns" >&2
        fi
    done
    if [ "$NFCAP_LIB_WORK_MADE" = 1 ] && [ -d "$WORK" ]; then
        rm -rf -- "$WORK"
    fi
    return "$rc"
}

nfcap_lib_install_trap() {
    if [ -z "$NFCAP_LIB_OWNER" ]; then
        NFCAP_LIB_OWNER=${BASHPID:-$$}
        trap 'nfcap_lib_cleanup' EXIT
        # exit runs the EXIT trap; 128+signal is the conventional status.
        trap 'exit 130' INT
        trap 'exit 143' TERM
    fi
}

# on_cleanup CMD: run CMD (a string, eval'd) at cleanup, before processes and namespaces go.
on_cleanup() {
    nfcap_lib_install_trap
    NFCAP_LIB_CLEANUPS+=("$1")
}

# track_pid PID: kill PID (SIGTERM, then SIGKILL) at cleanup if it still runs.
track_pid() {
    nfcap_lib_install_trap
    NFCAP_LIB_PIDS+=("$1")
}

nfcap_lib_untrack_pid() {
    local kept=() p
    for p in "${NFCAP_LIB_PIDS[@]}"; do
        [ "$p" = "$1" ] || kept+=("$p")
    done
    NFCAP_LIB_PIDS=("${kept[@]}")
}

# make_workdir: create $WORK (mktemp -d, removed at cleanup) once per script; export it.
# A WORK inherited from a parent script is never reused (nor deleted) here.
make_workdir() {
    nfcap_lib_install_trap
    if [ "$NFCAP_LIB_WORK_MADE" = 0 ]; then
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/nfcap-test.XXXXXX") || fail "mktemp -d failed"
        export WORK
        NFCAP_LIB_WORK_MADE=1
    fi
}

# new_ns NAME: create namespace NAME with lo up; it is deleted at cleanup.
new_ns() {
    nfcap_lib_install_trap
    ip netns add "$1" || fail "cannot create network namespace $1"
    NFCAP_LIB_NAMESPACES+=("$1")
    ip -n "$1" link set lo up || fail "cannot bring lo up in $1"
}

# ensure_test_tools: if NFCAP_TRAFFIC / NFCAP_PCAP_SWAP are unset (script run by hand, not by
# ctest), build them from tests/tools with g++ into $WORK/bin and export the variables.
ensure_test_tools() {
    local src="${NFCAP_SOURCE_DIR:-$NFCAP_LIB_DIR/../..}/tests/tools"
    local flags=(-std=c++20 -O2 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
        -Wold-style-cast -Wnon-virtual-dtor -Werror)
    if [ -z "${NFCAP_TRAFFIC:-}" ] || [ -z "${NFCAP_PCAP_SWAP:-}" ]; then
        make_workdir
        require_cmd g++
        mkdir -p "$WORK/bin"
    fi
    if [ -z "${NFCAP_TRAFFIC:-}" ]; then
        g++ "${flags[@]}" "$src/traffic.cpp" -o "$WORK/bin/nfcap_traffic" ||
            fail "cannot build $src/traffic.cpp"
        export NFCAP_TRAFFIC="$WORK/bin/nfcap_traffic"
    fi
    if [ -z "${NFCAP_PCAP_SWAP:-}" ]; then
        g++ "${flags[@]}" "$src/pcap_swap.cpp" -o "$WORK/bin/nfcap_pcap_swap" ||
            fail "cannot build $src/pcap_swap.cpp"
        export NFCAP_PCAP_SWAP="$WORK/bin/nfcap_pcap_swap"
    fi
    [ -x "$NFCAP_TRAFFIC" ] || fail "NFCAP_TRAFFIC=$NFCAP_TRAFFIC is not executable"
    [ -x "$NFCAP_PCAP_SWAP" ] || fail "NFCAP_PCAP_SWAP=$NFCAP_PCAP_SWAP is not executable"
}

# --- running things in the namespaces ---------------------------------------------------------

in_ns() {  # in_ns NS CMD...
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}
in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# bg_in NS CMD...: start CMD in NS in the background, set BG_PID to its pid and track it.
# Redirections on the call apply to CMD: `bg_in "$NS_B" tool >"$WORK/out" 2>&1`.
# (ip netns exec execs CMD in place, so BG_PID is CMD's own pid and signals reach it.)
# Non-interactive shells start background commands with SIGINT ignored; stop them with SIGTERM.
bg_in() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@" &
    BG_PID=$!
    track_pid "$BG_PID"
}

# nft_in NS FILE: load a (multi-line) nft ruleset file in NS, failing loudly with the file shown.
nft_in() {
    local ns=$1 file=$2 out
    [ -r "$file" ] || fail "nft ruleset $file is not readable"
    if ! out=$(ip netns exec "$ns" nft -f "$file" 2>&1); then
        echo "nft -f $file in $ns failed:" >&2
        echo "$out" >&2
        echo "--- $file:" >&2
        cat -n "$file" >&2
        fail "nft refused ruleset $file in $ns"
    fi
}
nft_a() { nft_in "$NS_A" "$1"; }
nft_b() { nft_in "$NS_B" "$1"; }

# --- setup ----------------------------------------------------------------------------------

# wait_ping NS ADDR [TRIES]: one echo answered, at most TRIES attempts (default 20, <= 1 s each).
wait_ping() {
    local ns=$1 addr=$2 tries=${3:-20} i
    for ((i = 0; i < tries; i++)); do
        if ip netns exec "$ns" ping -c 1 -W 1 -q "$addr" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    fail "$ns cannot ping $addr"
}

# setup_pair: namespaces NS_A=nfcapA_$$ and NS_B=nfcapB_$$ joined by a veth pair
# (vetha in A: 192.0.2.1/24, 2001:db8::1/64; vethb in B: 192.0.2.2/24, 2001:db8::2/64),
# both reachable by ping; creates $WORK. Everything is removed at exit.
setup_pair() {
    make_workdir
    NS_A="nfcapA_$$"
    NS_B="nfcapB_$$"
    export NS_A NS_B
    new_ns "$NS_A"
    new_ns "$NS_B"
    ip link add vetha netns "$NS_A" type veth peer name vethb netns "$NS_B" ||
        fail "cannot create the veth pair"
    ip -n "$NS_A" addr add 192.0.2.1/24 dev vetha || fail "address on vetha"
    ip -n "$NS_A" addr add 2001:db8::1/64 dev vetha nodad || fail "IPv6 address on vetha"
    ip -n "$NS_B" addr add 192.0.2.2/24 dev vethb || fail "address on vethb"
    ip -n "$NS_B" addr add 2001:db8::2/64 dev vethb nodad || fail "IPv6 address on vethb"
    ip -n "$NS_A" link set vetha up || fail "vetha up"
    ip -n "$NS_B" link set vethb up || fail "vethb up"
    wait_ping "$NS_A" 192.0.2.2
    wait_ping "$NS_B" 192.0.2.1
    wait_ping "$NS_A" 2001:db8::2
    wait_ping "$NS_B" 2001:db8::1
}

# wait_nflog_bound NS GROUP [TIMEOUT]: wait (default 10 s) until NFLOG GROUP has a listener in NS.
wait_nflog_bound() {
    local ns=$1 group=$2 timeout=${3:-10} i
    for ((i = 0; i < timeout * 10; i++)); do
        # /proc/net follows the reading process's namespace. Columns: group portid ...
        # shellcheck disable=SC2016 # awk's own $1
        if ip netns exec "$ns" awk -v g="$group" '$1 == g { found = 1 } END { exit !found }' \
            /proc/net/netfilter/nfnetlink_log 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    fail "no listener on NFLOG group $group in $ns after ${timeout}s"
}

# wait_started ERRFILE PID: wait (10 s) until nfcap, writing its stderr to ERRFILE, printed its
# start line ("nfcap: recording ..."), which comes once everything is bound and open (after -Z
# too); fails the test if it ended first.
wait_started() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q "^nfcap: recording" "$1" && return 0
        nfcap_lib_is_alive "$2" || fail "nfcap ended early: $(cat "$1")"
        sleep 0.1
    done
    fail "nfcap did not start within 10 s: $(cat "$1")"
}

# wait_port NS udp|tcp PORT [TIMEOUT]: wait (default 10 s) until a socket listens on PORT in NS.
wait_port() {
    local ns=$1 proto=$2 port=$3 timeout=${4:-10} i flag
    case $proto in
    udp) flag=-u ;;
    tcp) flag=-t ;;
    *) fail "wait_port: protocol must be udp or tcp, got '$proto'" ;;
    esac
    for ((i = 0; i < timeout * 10; i++)); do
        if [ -n "$(ip netns exec "$ns" ss -H -n -l "$flag" "sport = :$port" 2>/dev/null)" ]; then
            return 0
        fi
        sleep 0.1
    done
    fail "nothing listens on $proto port $port in $ns after ${timeout}s"
}

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; returns the process's exit status
# (128+signal if a signal ended it). PID must be a child of this shell (started with &).
stop_pid() {
    local pid=$1 i rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        nfcap_lib_is_alive "$pid" || break
        sleep 0.1
    done
    if nfcap_lib_is_alive "$pid"; then
        echo "stop_pid: $pid ignored SIGTERM for 10 s, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    nfcap_lib_untrack_pid "$pid"
    return "$rc"
}

# wait_pid PID [TIMEOUT]: wait (default 30 s) for PID to exit by itself; returns its status.
# Fails the test if it is still running after TIMEOUT.
wait_pid() {
    local pid=$1 timeout=${2:-30} i rc=0
    for ((i = 0; i < timeout * 10; i++)); do
        nfcap_lib_is_alive "$pid" || break
        sleep 0.1
    done
    if nfcap_lib_is_alive "$pid"; then
        fail "process $pid still running after ${timeout}s"
    fi
    wait "$pid" 2>/dev/null || rc=$?
    nfcap_lib_untrack_pid "$pid"
    return "$rc"
}

# --- nfcap's summary line ---------------------------------------------------------------------

# summary_of FILE: nfcap's summary line ("nfcap: N packets written, ...") in its stderr FILE.
summary_of() {
    grep '^nfcap: [0-9]* packets written' "$1" | tail -n 1
}

# summary_field SUMMARY TEXT: the number just before TEXT in a summary line ("verdicts",
# "not written (output behind)", "in sequence gaps"); empty when TEXT is not there.
summary_field() {
    sed -n "s/.*[ ,(]\([0-9][0-9]*\) $2.*/\1/p" <<<"$1"
}

# loss_of SUMMARY: "N exact" for "..., N lost" or "N at-least" for "..., at least N lost".
loss_of() {
    if [[ $1 =~ ,\ at\ least\ ([0-9]+)\ lost ]]; then
        echo "${BASH_REMATCH[1]} at-least"
    elif [[ $1 =~ ,\ ([0-9]+)\ lost ]]; then
        echo "${BASH_REMATCH[1]} exact"
    else
        fail "no loss count in nfcap's summary: $1"
    fi
}

# check_accounting WHAT WRITTEN SUMMARY KERNEL_COUNT: what nfcap wrote (plus records it
# received but did not write, as the summary counts them) and what it reported lost add up to
# the kernel's own count (a rule counter) when the summary calls the loss exact; when it says
# "at least", they add up to no more than the kernel's count. A slow build may lose records,
# but never silently.
check_accounting() {
    local what=$1 written=$2 summary=$3 kernel=$4 lost certainty behind failed
    read -r lost certainty <<<"$(loss_of "$summary")"
    behind=$(summary_field "$summary" "not written (output behind)")
    failed=$(summary_field "$summary" "not written (output failed)")
    local total=$((written + lost + ${behind:-0} + ${failed:-0}))
    if [ "$certainty" = exact ]; then
        check_eq "$what: written + not written + lost (exact) vs. the kernel's count" "$kernel" "$total"
    else
        [ "$total" -le "$kernel" ] ||
            fail "$what: written + not written + at least $lost lost = $total, more than the kernel's $kernel"
        echo "ok: $what: written + not written + at least $lost lost = $total <= $kernel (a lower bound)"
    fi
}
