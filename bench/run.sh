#!/usr/bin/env bash
# nfcap's performance benchmark: one command, run as root from anywhere.
#
#   sudo bench/run.sh [--quick|--full|--flat|--memory|--verdicts|--python|--smoke] [OUT]
#
# Builds nfcap in Release, creates two private network namespaces joined by a veth pair, and
# measures nfcap against the null readers written for the benchmark (bench/src) and the peers
# installed from Debian packages, on identical traffic, interleaved, every reader pinned to one
# core:
#   nflog    NFLOG group 7: nfcap, null_nflog (null: counts; floor: also writes nfcap's bytes
#            per record), tcpdump -i nflog:7, dumpcap -i nflog:7, ulogd2 (NFLOG -> BASE -> PCAP),
#            at several offered rates and flat out;
#   nflog-x8 (full, flat and smoke modes) the same with 8 log rules per packet: 8 records per
#            packet, to push the record rate past what one sending core can do in packets;
#   nfqueue  NFQUEUE queue 5: nfcap --auto-accept, null_nfqueue (batch verdicts; null and
#            floor), tcpdump -Z root -i nfqueue:5; in the full and verdicts modes also the
#            library's deferred verdicts (samples/deferred_verdicts.cpp: every packet held and
#            decided by a worker thread in batches of 64: "deferred"; the same rewriting every
#            payload: "rewrite");
#   replay   nfcap -r and editcap -F pcapng on a 2,000,000-record NFLOG recording made with
#            tcpdump (and pcap_count, libpcap reading alone, as the floor);
#   callgrind instructions per record of nfcap -r (valgrind --tool=callgrind);
#   rss      nfcap's peak RSS over a 10,000,000-record replay and a long live capture.
# --full: every live point >= 1 M records (400,000 packets = 3.2 M records with 8 rules), 5
# repetitions, 48 minutes on 2 vCPUs. --flat: only the flat-out points of nflog and nflog-x8,
# with the full mode's counts and repetitions and every NFLOG reader (no NFQUEUE, replay,
# callgrind or long capture), about 4 minutes, for iterating on performance. --paced: every
# NFLOG point of the full mode (1 and 8 records per packet, paced and flat out) with the readers
# the targets name (null, floor, nfcap, tcpdump), about 30 minutes. --memory: the
# full mode's replay, callgrind and long live capture (10 M records), with the flat-out NFLOG
# point (1 record per packet, 3 repetitions) as the shorter runs the long capture's peak RSS is
# held against. --verdicts: only NFQUEUE at 50k packets/s and flat out, nfcap --auto-accept
# against deferred and rewrite, the null reader and tcpdump, the full mode's counts, about 11
# minutes. --python: NFQUEUE at 100k and 300k packets/s and flat out, nfcap --auto-accept
# against an accept-all script written for NetfilterQueue (bench/py/nfq_accept.py) on nfcap's
# netfilterqueue module, with the API's defaults ("python") and tuned ("python-tuned": max_len
# 65536, sock_len 64 MiB), and nfcap's own module in its batch form ("python-batch":
# bench/py/nfcap_accept.py, a policy verdict given in C++), about 7 minutes; with
# NFQ_ORIGINAL=DIR (a directory from which /usr/bin/python3 imports the original NetfilterQueue,
# built from its source: see bench/README.md) also the same script on the original, with its
# defaults ("original") and tuned ("original-tuned"), about 10 minutes.
# --quick (the default): smaller counts, 3 repetitions, about 3 minutes; the tables say so.
# --smoke: tiny counts, 2 repetitions, about a minute, to check that the harness works (its
# figures mean nothing).
# Results go to OUT (default bench/out/MODE): results.csv (one raw row per run), summary.md
# (the tables and the targets, also printed), callgrind-*.txt, rss-live-samples.txt (the long
# live capture's VmRSS in KiB every 0.2 s), system.txt, run.log. See
# bench/README.md for the method.
#
# Safety: all traffic is UDP over a veth pair between two namespaces created here; every
# process runs under a time limit; the namespace, the processes started in it and the large
# files are removed on exit by a trap, also when a step fails.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MODE=quick
OUT=""
for arg in "$@"; do
  case $arg in
  --quick) MODE=quick ;;
  --full) MODE=full ;;
  --flat) MODE=flat ;;
  --memory) MODE=memory ;;
  --verdicts) MODE=verdicts ;;
  --paced) MODE=paced ;;
  --python) MODE=python ;;
  --smoke) MODE=smoke ;;
  -h | --help)
    # The comment block at the top of this file, without its "# " prefixes.
    awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"
    exit 0
    ;;
  -*)
    echo "run.sh: unknown option $arg (usage: sudo bench/run.sh [--quick|--full|--flat|--paced|--memory|--verdicts|--python|--smoke] [OUT])" >&2
    exit 2
    ;;
  *) OUT=$arg ;;
  esac
done
OUT=${OUT:-$HERE/out/$MODE}
[ "$(id -u)" -eq 0 ] || {
  echo "run.sh: needs root (network namespace, nft and iptables rules): sudo $0 $*" >&2
  exit 1
}

# --- settings ---------------------------------------------------------------------------------
# A paced point sends max(rate x PACED_S, MIN_N) packets, a flat-out point MAX_N; every nflog-x8
# point sends X8_N packets (8 records each). Empty X8_RATES or NFQ_RATES: no such suite;
# LONG_N=0: no long live capture; REPLAY_RECORDS=0: no replay suite and no callgrind (which
# profiles the replay of that recording).
SIZE=64             # UDP payload bytes
GROUP=7             # NFLOG group
QUEUE=5             # NFQUEUE queue
PORT_LOG=9001       # nft: counter + log group 7, then dropped in prerouting
PORT_LOG8=9003      # nft: 8 log rules to group 7 (8 records per packet), then dropped
PORT_QUEUE=9002     # iptables -j NFQUEUE, then dropped in prerouting after the verdict
SENDER_CPU=0
READER_CPU=1
REPLAY_RECORDS=2000000
case $MODE in
quick)
  REPS=3
  NFLOG_RATES="200000 0"
  NFQ_RATES="100000 0"
  X8_RATES=""
  PACED_S=0.3    # seconds of traffic per paced run
  MIN_N=0        # packets per paced run at least
  MAX_N=150000   # packets per flat-out run
  X8_N=0         # packets per nflog-x8 run (no such suite)
  LONG_N=1000000 # packets of the long live capture (RSS)
  CALLGRIND_EDITCAP=0
  ;;
full)
  REPS=5
  NFLOG_RATES="50000 100000 200000 300000 0"
  NFQ_RATES="50000 100000 200000 300000 0"
  X8_RATES="50000 100000 0"
  PACED_S=2
  MIN_N=1000000 # every point >= 1 M records: 20 s of traffic at 50,000 packets/s
  MAX_N=1000000
  X8_N=400000 # 3.2 M records
  LONG_N=10000000
  CALLGRIND_EDITCAP=1
  ;;
flat) # the full mode's flat-out NFLOG points alone: same counts, repetitions and readers
  REPS=5
  NFLOG_RATES="0"
  NFQ_RATES=""
  X8_RATES="0"
  PACED_S=2
  MIN_N=1000000
  MAX_N=1000000
  X8_N=400000 # 3.2 M records
  LONG_N=0
  REPLAY_RECORDS=0
  CALLGRIND_EDITCAP=0
  ;;
memory) # replay (against editcap), callgrind and peak RSS over the full mode's long runs
  REPS=3
  NFLOG_RATES="0"
  NFQ_RATES=""
  X8_RATES=""
  PACED_S=2
  MIN_N=1000000
  MAX_N=1000000
  X8_N=0
  LONG_N=10000000
  CALLGRIND_EDITCAP=1
  ;;
paced) # every NFLOG point of the full mode (paced and flat out, 1 and 8 records per packet)
  REPS=5
  NFLOG_RATES="50000 100000 200000 300000 0"
  NFQ_RATES=""
  X8_RATES="50000 100000 0"
  PACED_S=2
  MIN_N=1000000
  MAX_N=1000000
  X8_N=400000
  LONG_N=0
  REPLAY_RECORDS=0
  CALLGRIND_EDITCAP=0
  ;;
verdicts) # NFQUEUE: --auto-accept against the library's deferred verdicts and rewrites
  REPS=5
  NFLOG_RATES=""
  NFQ_RATES="50000 0"
  X8_RATES=""
  PACED_S=2
  MIN_N=1000000
  MAX_N=1000000
  X8_N=0
  LONG_N=0
  REPLAY_RECORDS=0
  CALLGRIND_EDITCAP=0
  ;;
python) # NFQUEUE: --auto-accept against a NetfilterQueue script on nfcap's module
  REPS=5
  NFLOG_RATES=""
  NFQ_RATES="100000 300000 0"
  X8_RATES=""
  PACED_S=2
  MIN_N=1000000
  MAX_N=1000000
  X8_N=0
  LONG_N=0
  REPLAY_RECORDS=0
  CALLGRIND_EDITCAP=0
  ;;
smoke) # does the harness work? (a couple of minutes; the figures mean nothing)
  REPS=2
  NFLOG_RATES="100000 0"
  NFQ_RATES="50000 0"
  X8_RATES="0"
  PACED_S=0.2
  MIN_N=0
  MAX_N=20000
  X8_N=4000
  LONG_N=50000
  REPLAY_RECORDS=120000
  CALLGRIND_EDITCAP=0
  ;;
esac

# --- output, log, cleanup ---------------------------------------------------------------------
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$OUT/bin
CSV=$OUT/results.csv
LOG=$OUT/run.log
NS_A=nfcap-bench-a-$$ # the sender
NS_B=nfcap-bench-b-$$ # the firewall rules and the readers
NAMESPACES=()         # created by this run, deleted at exit
BG_PIDS=()            # runstat processes started in the background (they forward SIGTERM)
W=""                  # scratch directory (captures, recordings), made below, removed at exit

cleanup() {
  local rc=$? pid i pids ns
  trap - EXIT INT TERM
  set +e
  for pid in "${BG_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for ((i = 0; i < 30; i++)); do
    pids=""
    for pid in "${BG_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && pids+=" $pid"; done
    [ -z "$pids" ] && break
    sleep 0.1
  done
  for ns in "${NAMESPACES[@]}"; do
    # Whatever still runs in our namespaces was started by this script.
    pids=$(ip netns pids "$ns" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null || echo "cleanup: could not delete namespace $ns" >&2
  done
  [ -n "$W" ] && [ "${KEEP_WORK:-0}" != 1 ] && rm -rf -- "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$BIN"
W=$(mktemp -d "$OUT/work.XXXXXX")
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1

say() { echo "[$(date +%T)] $*"; }
t_begin=$(date +%s.%N)

# --- build ------------------------------------------------------------------------------------
say "setup and build (mode $MODE, output $OUT)"
"$ROOT/scripts/setup.sh"
(cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release >/dev/null)
NFCAP=$ROOT/build/release/nfcap
TRAFFIC=$ROOT/build/release/tests/nfcap_traffic
if [ ! -x "$NFCAP" ] || [ ! -x "$TRAFFIC" ]; then
  echo "run.sh: the release build has no nfcap or nfcap_traffic" >&2
  exit 1
fi
cflags=(-O2 -Wall -Wextra -Wconversion -Werror)
cc "${cflags[@]}" -o "$BIN/runstat" "$HERE/src/runstat.c"
cc "${cflags[@]}" -o "$BIN/null_nflog" "$HERE/src/null_nflog.c" -lmnl -lnetfilter_log
cc "${cflags[@]}" -o "$BIN/null_nfqueue" "$HERE/src/null_nfqueue.c" -lmnl -lnetfilter_queue
cc "${cflags[@]}" -o "$BIN/pcap_count" "$HERE/src/pcap_count.c" -lpcap
ULOGD_PLUGINS=$(dirname "$(dpkg -L ulogd2 | grep '/ulogd_inppkt_NFLOG.so$' | head -1)")
[ -f "$ULOGD_PLUGINS/ulogd_output_PCAP.so" ] || {
  echo "run.sh: ulogd2's PCAP output plugin is missing (package ulogd2-pcap)" >&2
  exit 1
}

# The original NetfilterQueue, a peer of the python mode: it must be what NFQ_ORIGINAL imports,
# not nfcap's module of the same name.
NFQ_ORIGINAL=${NFQ_ORIGINAL:-}
ORIGINAL_VERSION=""
if [ "$MODE" = python ] && [ -n "$NFQ_ORIGINAL" ]; then
  NFQ_ORIGINAL=$(cd "$NFQ_ORIGINAL" && pwd)
  ORIGINAL_VERSION=$(cd / && PYTHONPATH="$NFQ_ORIGINAL" /usr/bin/python3 -c '
import netfilterqueue, sys
if hasattr(netfilterqueue, "_nfcap") or not hasattr(netfilterqueue, "__version__"):
    sys.exit("not the original NetfilterQueue")
print(netfilterqueue.__version__, netfilterqueue.__file__)') || {
    echo "run.sh: NFQ_ORIGINAL=$NFQ_ORIGINAL: /usr/bin/python3 imports no original NetfilterQueue from there (see bench/README.md)" >&2
    exit 1
  }
fi

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command: sudo bench/run.sh --$MODE"
  echo "mode: $MODE"
  echo "cpus: sender $SENDER_CPU, reader $READER_CPU (taskset; the reader's threads inherit it)"
  echo "nfcap: $("$NFCAP" --version 2>&1 | head -1) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "kernel: $(uname -r)"
  echo "cpu: $(nproc) x $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
  echo "memory: $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "tcpdump: $(tcpdump --version 2>&1 | head -1 | sed 's/tcpdump version //'), $(tcpdump --version 2>&1 | sed -n 2p)"
  echo "dumpcap: $(dumpcap -v 2>&1 | head -1 | sed 's/ (Git.*//')"
  echo "ulogd2: $(dpkg-query -W -f='${Version}' ulogd2)"
  echo "editcap: $(editcap -v 2>&1 | head -1 | sed 's/ (Git.*//')"
  echo "valgrind: $(valgrind --version)"
  [ -n "$ORIGINAL_VERSION" ] && echo "original NetfilterQueue: $ORIGINAL_VERSION"
  echo "libraries: $(dpkg-query -W -f='${Package} ${Version}, ' libmnl0 libnetfilter-log1 libnetfilter-queue1 libpcap0.8 | sed 's/, $//')"
} >"$OUT/system.txt"
cat "$OUT/system.txt"
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  say "warning: load average $load: other work on this machine will disturb the figures"
fi

# --- the namespaces ---------------------------------------------------------------------------
# A sends to B over a veth pair (documentation addresses, nothing else attached). In B, nft logs
# the NFLOG ports to group 7 in prerouting and drops them in the same rule; iptables queues the
# NFQUEUE port (raw PREROUTING) and a later nft chain counts what passed the queue and drops it.
# Crossing the veth pair frees the sender's socket buffer, so a slow reader cannot slow the
# sender down: the queue fills and loss shows, as it would with traffic from the network.
for ns in "$NS_A" "$NS_B"; do
  ip netns add "$ns"
  NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
done
nsa() { ip netns exec "$NS_A" "$@"; }
nsb() { ip netns exec "$NS_B" "$@"; }
ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B"
ip -n "$NS_A" addr add 192.0.2.1/24 dev veth-a
ip -n "$NS_B" addr add 192.0.2.2/24 dev veth-b
ip -n "$NS_A" link set veth-a up
ip -n "$NS_B" link set veth-b up
# Permanent neighbour entries: no ARP traffic, and no resolution delay in any run.
ip -n "$NS_A" neigh replace 192.0.2.2 lladdr "$(nsb cat /sys/class/net/veth-b/address)" dev veth-a nud permanent
ip -n "$NS_B" neigh replace 192.0.2.1 lladdr "$(nsa cat /sys/class/net/veth-a/address)" dev veth-b nud permanent
{
  echo "table inet nfcapbench {"
  echo "  chain prerouting {"
  echo "    type filter hook prerouting priority -300; policy accept;"
  echo "    udp dport $PORT_LOG counter log group $GROUP drop"
  echo "    udp dport $PORT_LOG8 counter log group $GROUP"
  for ((i = 1; i < 7; i++)); do echo "    udp dport $PORT_LOG8 log group $GROUP"; done
  echo "    udp dport $PORT_LOG8 log group $GROUP drop"
  echo "  }"
  echo "  chain after_queue {"
  echo "    type filter hook prerouting priority -250; policy accept;"
  echo "    udp dport $PORT_QUEUE counter drop"
  echo "  }"
  echo "}"
} >"$W/rules.nft"
nsb nft -f "$W/rules.nft"
nsb iptables -t raw -A PREROUTING -p udp --dport "$PORT_QUEUE" -j NFQUEUE --queue-num "$QUEUE"
nsa ping -c 1 -W 2 -q 192.0.2.2 >/dev/null || {
  echo "run.sh: the veth pair between $NS_A and $NS_B does not work" >&2
  exit 1
}

# counter CHAIN PORT: packets counted by the first nft rule of CHAIN that matches PORT.
counter() {
  nsb nft list chain inet nfcapbench "$1" |
    awk -v p="dport $2 counter" 'index($0, p) { for (i = 1; i <= NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}
queue_rule_counter() { nsb iptables -t raw -L PREROUTING -v -x -n | awk '$3 == "NFQUEUE" { print $1; exit }'; }
# shellcheck disable=SC2016 # awk's own fields
# queue_line: queue portid waiting copy_mode copy_range dropped user_dropped id_seq 1
queue_line() { nsb awk -v q="$QUEUE" '$1 == q' /proc/net/netfilter/nfnetlink_queue 2>/dev/null; }
# shellcheck disable=SC2016 # awk's own fields
# log_line: group portid qlen copy_mode copy_range flush_timeout use
log_line() { nsb awk -v g="$GROUP" '$1 == g' /proc/net/netfilter/nfnetlink_log 2>/dev/null; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo gone; }
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2" 2>/dev/null | head -1 || true; } # kv KEY FILE
summary_field() {                                                      # nfcap's summary line
  sed -n "s/.*[:,] \([0-9]*\) $1.*/\1/p" "$2" 2>/dev/null | head -1 || true
}
# count_file FILE: records in a pcap or pcapng file (empty when it cannot be read).
count_file() { "$BIN/pcap_count" "$1" 2>/dev/null | sed -n 's/^records=\([0-9]*\).*/\1/p' || true; }

# file_bytes: the size of the reader's output file (0: it writes none); lost_certainty: exact or
# at_least for the reader's own loss count (reader_lost); cpus: the union of the CPUs every
# thread of the reader (and of any process it started) may run on, read from /proc after the
# traffic; threads: how many threads that was.
echo "suite,rep,tool,rate,records_per_packet,sent,send_wall_s,send_cpu_s,matched,passed,records,reader_lost,enobufs,q_dropped,q_user_dropped,utime_s,stime_s,maxrss_kb,wall_s,status,instructions,note,file_bytes,lost_certainty,cpus,threads" >"$CSV"
row() { # row FIELD... (26 fields)
  local IFS=,
  echo "$*" >>"$CSV"
}

# --- readers ----------------------------------------------------------------------------------
# reader_def TOOL KIND SUITE: sets CMD (array), FILE (capture file or ""), FLUSH (seconds to
# wait after the last packet: the reader's kernel flush timer plus a margin).
reader_def() {
  local tool=$1 kind=$2 suite=$3
  FILE=""
  FLUSH=0.15
  case $kind/$tool in
  nflog/null) CMD=("$BIN/null_nflog" -g "$GROUP" -d 300) ;;
  nflog/floor)
    # The null reader plus nfcap's bytes per record (calibrated below), into the same directory.
    FILE=$W/cap.floor
    CMD=("$BIN/null_nflog" -g "$GROUP" -d 300 -w "$FILE" -b "${FLOOR_BYTES[$suite]}")
    ;;
  nflog/nfcap)
    FILE=$W/cap.pcapng
    CMD=("$NFCAP" -g "$GROUP" -w "$FILE")
    ;;
  nflog/tcpdump)
    # -Z root: stay root so that it may write into $W (it drops to user tcpdump otherwise);
    # it changes nothing else. libpcap leaves the kernel's 1 s flush timer in place.
    FILE=$W/cap.pcap FLUSH=1.15
    CMD=(tcpdump -Z root -n -i "nflog:$GROUP" -w "$FILE")
    ;;
  nflog/dumpcap)
    FILE=$W/cap.pcapng FLUSH=1.15
    CMD=(dumpcap -q -i "nflog:$GROUP" -w "$FILE")
    ;;
  nflog/ulogd)
    FILE=$W/cap.pcap FLUSH=1.15
    sed -e "s|@PLUGINS@|$ULOGD_PLUGINS|g" -e "s|@GROUP@|$GROUP|g" -e "s|@FILE@|$FILE|g" \
      -e "s|@LOG@|$W/ulogd.log|g" "$HERE/ulogd.conf.in" >"$W/ulogd.conf"
    CMD=(ulogd -c "$W/ulogd.conf")
    ;;
  nfqueue/null) CMD=("$BIN/null_nfqueue" -n "$QUEUE" -d 300) ;;
  nfqueue/floor)
    FILE=$W/cap.floor
    CMD=("$BIN/null_nfqueue" -n "$QUEUE" -d 300 -w "$FILE" -b "${FLOOR_BYTES[$suite]}")
    ;;
  nfqueue/nfcap)
    FILE=$W/cap.pcapng
    CMD=("$NFCAP" -q "$QUEUE" --auto-accept -w "$FILE")
    ;;
  nfqueue/deferred) CMD=("$ROOT/build/release/nfcap_deferred_verdicts" "$QUEUE" --batch 64) ;;
  nfqueue/rewrite) CMD=("$ROOT/build/release/nfcap_deferred_verdicts" "$QUEUE" --batch 64 --rewrite) ;;
  nfqueue/python)
    CMD=(env PYTHONPATH="$ROOT/build/release/python" /usr/bin/python3 "$HERE/py/nfq_accept.py" "$QUEUE")
    ;;
  nfqueue/python-tuned)
    CMD=(env PYTHONPATH="$ROOT/build/release/python" /usr/bin/python3 "$HERE/py/nfq_accept.py" "$QUEUE" 65536 67108864)
    ;;
  nfqueue/python-batch)
    CMD=(env PYTHONPATH="$ROOT/build/release/python" /usr/bin/python3 "$HERE/py/nfcap_accept.py" "$QUEUE")
    ;;
  nfqueue/original)
    CMD=(env PYTHONPATH="$NFQ_ORIGINAL" /usr/bin/python3 "$HERE/py/nfq_accept.py" "$QUEUE")
    ;;
  nfqueue/original-tuned)
    CMD=(env PYTHONPATH="$NFQ_ORIGINAL" /usr/bin/python3 "$HERE/py/nfq_accept.py" "$QUEUE" 65536 67108864)
    ;;
  nfqueue/tcpdump)
    # -Z root is required: without it tcpdump loses CAP_NET_ADMIN and its verdicts fail.
    FILE=$W/cap.pcap
    CMD=(tcpdump -Z root -n -i "nfqueue:$QUEUE" -w "$FILE")
    ;;
  *)
    echo "run.sh: unknown reader $kind/$tool" >&2
    return 1
    ;;
  esac
}

# wait_bound KIND: until the group or queue has a listener in copy-packet mode (at most 10 s).
wait_bound() {
  local i line
  for ((i = 0; i < 200; i++)); do
    if [ "$1" = nflog ]; then line=$(log_line); else line=$(queue_line); fi
    [ -n "$line" ] && [ "$(awk '{ print $4 }' <<<"$line")" = 2 ] && return 0
    sleep 0.05
  done
  return 1
}

# stop_bg PID: SIGTERM to a runstat (it forwards it), wait at most 20 s, then SIGKILL.
stop_bg() {
  local pid=$1 i kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 400; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    [ -s "$W/reader.pid" ] && kill -KILL "$(cat "$W/reader.pid")" 2>/dev/null
    sleep 0.2
  fi
  wait "$pid" 2>/dev/null || true
  for p in "${BG_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  BG_PIDS=("${kept[@]}")
}

# tasks_of PID: PID and every process it started, recursively, as /proc/PID/task/TID paths.
tasks_of() {
  local t c kids
  for t in /proc/"$1"/task/*; do
    [ -d "$t" ] || continue
    echo "$t"
    kids=()
    read -ra kids <"$t/children" 2>/dev/null || true # no newline at its end
    for c in "${kids[@]}"; do tasks_of "$c"; done
  done
}

# affinity PID: "CPUS THREADS": the union of the Cpus_allowed_list of every thread of PID and of
# its descendants (one CPU when pinned), and how many threads there were.
affinity() {
  local t lists=() n=0
  for t in $(tasks_of "$1"); do
    lists+=("$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$t/status" 2>/dev/null)")
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || {
    echo "NA 0"
    return
  }
  echo "$(printf '%s\n' "${lists[@]}" | sort -u | paste -sd'+') $n"
}

declare -A FLOOR_BYTES=() # SUITE -> bytes per record the floor reader writes (see calibrate)

# live SUITE KIND TOOL RATE COUNT REP: one measurement, one CSV row. A SUITE ending in nflog-x8
# uses the port with eight log rules (8 records per packet).
live() {
  local suite=$1 kind=$2 tool=$3 rate=$4 count=$5 rep=$6
  local port=$PORT_LOG per_packet=1 note="" m0 m1 p0 p1 bg rpid i prev cur same
  case $suite in *nflog-x8) port=$PORT_LOG8 per_packet=8 ;; esac
  [ "$kind" = nfqueue ] && port=$PORT_QUEUE
  reader_def "$tool" "$kind" "$suite"
  rm -f "$W"/cap.* "$W"/reader.* "$W"/send.*
  if [ "$kind" = nflog ]; then
    m0=$(counter prerouting "$port") p0=$m0
  else
    m0=$(queue_rule_counter) p0=$(counter after_queue "$port")
  fi

  # Not through nsb: `ip netns exec` execs taskset, which execs runstat, so $! is runstat.
  ip netns exec "$NS_B" taskset -c "$READER_CPU" "$BIN/runstat" -o "$W/reader.rs" -p "$W/reader.pid" \
    -t 300 -- "${CMD[@]}" >"$W/reader.out" 2>"$W/reader.err" &
  bg=$!
  BG_PIDS+=("$bg")
  for ((i = 0; i < 100; i++)); do
    [ -s "$W/reader.pid" ] && break
    sleep 0.02
  done
  rpid=$(cat "$W/reader.pid" 2>/dev/null || echo 0)
  wait_bound "$kind" || note+=" not-bound"
  sleep 0.1 # the rest of the reader's configuration (batch sizes, timers) follows the bind
  # The long capture samples the reader's resident set every 0.2 s: whether it stays flat is
  # the peak of the run's second half against the first's, not only one peak.
  local sampler=""
  if [ "$suite" = rss-live ]; then
    while [ -r "/proc/$rpid/status" ]; do
      awk '/^VmRSS:/ { print $2 }' "/proc/$rpid/status" 2>/dev/null
      sleep 0.2
    done >"$W/reader.rss" &
    sampler=$!
    BG_PIDS+=("$sampler")
  fi

  local rate_opt=() limit
  limit=$(awk -v n="$count" -v r="$rate" 'BEGIN { t = (r > 0 ? 3 * n / r : n / 20000); printf "%d", (t < 20 ? 20 : t) }')
  [ "$rate" -gt 0 ] && rate_opt=(--rate "$rate")
  nsa taskset -c "$SENDER_CPU" "$BIN/runstat" -o "$W/send.rs" -t $((limit + 10)) -- \
    "$TRAFFIC" udp-send 192.0.2.2 "$port" "$count" "$SIZE" "${rate_opt[@]}" --batch 64 \
    --timeout "$limit" >"$W/send.out" 2>"$W/send.err" || note+=" sender-failed"

  # Drain: the reader's flush timer, then until its CPU time stops moving (and, for NFQUEUE,
  # nothing waits in the queue); at most 10 s.
  sleep "$FLUSH"
  prev=-1 same=0
  for ((i = 0; i < 200; i++)); do
    cur=$(cpu_ticks "$rpid")
    if [ "$kind" = nfqueue ] && [ "$(queue_line | awk '{ print $3 }')" != 0 ]; then
      same=0
    elif [ "$cur" = "$prev" ]; then
      same=$((same + 1))
      [ "$same" -ge 3 ] && break # 0.15 s without a single 10 ms CPU tick
    else
      same=0
    fi
    prev=$cur
    sleep 0.05
  done
  # Every thread of the reader now exists (nfcap starts its receive and writer threads before it
  # binds): check that they all run on the reader's CPU alone.
  local cpus threads
  read -r cpus threads <<<"$(affinity "$rpid")"
  [ "$cpus" = "$READER_CPU" ] || note+=" not-pinned($cpus)"
  local qd=NA qu=NA ql
  if [ "$kind" = nflog ]; then
    m1=$(counter prerouting "$port") p1=$m1
  else
    m1=$(queue_rule_counter) p1=$(counter after_queue "$port")
    ql=$(queue_line)
    qd=$(awk '{ print $6 }' <<<"$ql")
    qu=$(awk '{ print $7 }' <<<"$ql")
  fi
  if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    # "rss-halves-KB=FIRST/SECOND": the peak VmRSS of each half of the samples, sender and drain.
    note+=" rss-halves-KB=$(awk '{ v[NR] = $1 } END { h = int(NR / 2); for (i = 1; i <= NR; i++) if (i <= h) { if (v[i] > a) a = v[i] } else if (v[i] > b) b = v[i]; printf "%d/%d", a, b }' "$W/reader.rss")"
    # Kept: a peak says how far the hand-off filled once, the series whether memory grows.
    cp "$W/reader.rss" "$OUT/rss-live-samples.txt"
  fi
  stop_bg "$bg"

  local records lost=NA enobufs=NA certainty=NA file_bytes=0
  [ -n "$FILE" ] && file_bytes=$(stat -c %s "$FILE" 2>/dev/null || echo NA)
  case $tool in
  null | floor)
    records=$(kv records "$W/reader.out")
    # Sequence or id gaps: loss after the last record received shows in none.
    lost=$(kv lost "$W/reader.out") certainty=at_least
    enobufs=$(kv enobufs "$W/reader.out")
    if [ "$tool" = floor ] && [ "$(kv written "$W/reader.out")" != "$file_bytes" ]; then
      note+=" floor-wrote-$(kv written "$W/reader.out")-file-$file_bytes"
    fi
    ;;
  python | python-tuned | python-batch | original | original-tuned)
    records=$(kv records "$W/reader.out") # "records=N": packets its callback saw
    ;;
  deferred | rewrite)
    # "nfcap_deferred_verdicts: N packets held, ...": every packet it received.
    records=$(sed -n 's/^nfcap_deferred_verdicts: \([0-9]*\) packets held.*/\1/p' "$W/reader.err")
    ;;
  *)
    records=$(count_file "$FILE")
    if [ "$tool" = nfcap ]; then
      # "N lost" or "at least N lost" (a lower bound); nfcap reports no ENOBUFS count.
      lost=$(sed -n 's/^nfcap: .*packets written, \(at least \)\{0,1\}\([0-9]*\) lost.*/\2/p' "$W/reader.err" | head -1)
      certainty=exact
      grep -q '^nfcap: .*packets written, at least [0-9]* lost' "$W/reader.err" && certainty=at_least
      # Records nfcap received but could not write (its writer stalled: "N not written (output
      # behind)") are missing from the file too, and counted exactly: part of its own count.
      behind=$(sed -n 's/^nfcap: .*, \([0-9]*\) not written (output behind).*/\1/p' "$W/reader.err" | head -1)
      if [ -n "$lost" ] && [ "${behind:-0}" -gt 0 ]; then
        lost=$((lost + behind))
        note+=" not-written-$behind"
      fi
      grep -q '^nfcap: [0-9]* packets written' "$W/reader.err" || note+=" no-summary" certainty=NA
    fi
    ;;
  esac
  local sent send_wall send_cpu matched passed
  sent=$(kv sent "$W/send.out")
  send_wall=$(kv wall "$W/send.rs")
  send_cpu=$(awk -v u="$(kv utime "$W/send.rs")" -v s="$(kv stime "$W/send.rs")" 'BEGIN { printf "%.3f", u + s }')
  matched=$((m1 - m0))
  passed=$((p1 - p0))
  [ "$(kv timed_out "$W/reader.rs")" = 1 ] && note+=" reader-timed-out"
  row "$suite" "$rep" "$tool" "$rate" "$per_packet" "${sent:-NA}" "${send_wall:-NA}" "${send_cpu:-NA}" \
    "$matched" "$passed" "${records:-NA}" "${lost:-NA}" "${enobufs:-NA}" "$qd" "$qu" \
    "$(kv utime "$W/reader.rs")" "$(kv stime "$W/reader.rs")" "$(kv maxrss_kb "$W/reader.rs")" \
    "$(kv wall "$W/reader.rs")" "$(kv status "$W/reader.rs")" "" "${note# }" \
    "$file_bytes" "$certainty" "${cpus:-NA}" "${threads:-0}"
  awk -v s="$suite" -v r="$rep" -v t="$tool" -v rate="$rate" -v m="$matched" -v k="$per_packet" \
    -v rec="${records:-0}" -v p="$passed" -v w="${send_wall:-1}" -v q="$kind" -v note="$note" \
    -v fb="$file_bytes" -v cpus="$cpus" -v th="$threads" -v own="$lost" -v c="$certainty" '
    BEGIN {
      want = m * k; got = rec; if (q == "nfqueue" && p < got) got = p
      own = (own == "NA" || own == "" ? "-" : (c == "at_least" ? ">=" : "") own)
      printf "  %-8s rep %d %-8s %7s: %9d expected %9d recorded  loss %.3f%% (own %s)  %8.0f rec/s  %6.1f B/rec  cpu %s x%d%s\n",
        s, r, t, (rate == 0 ? "max" : rate / 1000 "k"), want, rec,
        (want ? 100 * (want - got) / want : 0), own, (w > 0 ? rec / w : 0), (rec > 0 ? fb / rec : 0),
        cpus, th, note }'
  rm -f "$W"/cap.*
  # The floor reader of this suite writes what nfcap's latest run wrote per record.
  if [ "$tool" = nfcap ] && [ "${records:-0}" != NA ] && [ "${records:-0}" -gt 0 ] &&
    [ "$file_bytes" != NA ] && [ "$file_bytes" -gt 0 ]; then
    FLOOR_BYTES[${suite#calib-}]=$(awk -v b="$file_bytes" -v n="$records" 'BEGIN { printf "%.3f", b / n }')
  fi
}

# point_count SUITE RATE: packets sent at one point (see the settings).
point_count() {
  if [ "$1" = nflog-x8 ]; then
    echo "$X8_N"
  elif [ "$2" = 0 ]; then
    echo "$MAX_N"
  else
    awk -v r="$2" -v s="$PACED_S" -v m="$MIN_N" 'BEGIN { n = r * s; printf "%d", (n < m ? m : n) }'
  fi
}

# suite NAME KIND "RATES" "TOOLS": every (rep, rate) slot runs every tool, in an order rotated
# by one per repetition so that no tool always runs first or last.
suite() {
  local name=$1 kind=$2 rates=$3 tools
  read -ra tools <<<"$4"
  local n=${#tools[@]} rep rate j count
  say "suite $name: rates ${rates// /, } (0 = flat out), tools ${tools[*]}, $REPS repetitions"
  for ((rep = 1; rep <= REPS; rep++)); do
    for rate in $rates; do
      count=$(point_count "$name" "$rate")
      for ((j = 0; j < n; j++)); do
        live "$name" "$kind" "${tools[(j + rep - 1) % n]}" "$rate" "$count" "$rep"
      done
    done
  done
}

# --- the floor reader's bytes per record ------------------------------------------------------
# Before a suite, one nfcap calibration run, flat out with the suite's flat-out count: its file
# size / records, the file's fixed blocks (section header, interface description, statistics:
# some hundreds of bytes) included, is what the floor reader writes per record until nfcap's
# first run of the suite; from then on it writes what nfcap's latest run of the suite wrote per
# record (live() updates FLOOR_BYTES). The latest, not a fixed figure: nfcap's comment carries
# the kernel's global NFLOG sequence number, which grows over the whole benchmark and gains
# digits, so the size of a record creeps up from run to run.
calibrate() { # calibrate SUITE KIND
  live "calib-$1" "$2" nfcap 0 "$(point_count "$1" 0)" 1
  [ -n "${FLOOR_BYTES[$1]:-}" ] || {
    echo "run.sh: calibration of the floor reader for $1 failed: nfcap recorded nothing" >&2
    exit 1
  }
  say "floor reader for $1: ${FLOOR_BYTES[$1]} bytes per record to begin with"
}
say "calibration: nfcap's bytes per record, for the floor reader"
[ -n "$NFLOG_RATES" ] && calibrate nflog nflog
[ -n "$X8_RATES" ] && calibrate nflog-x8 nflog
[ -n "$NFQ_RATES" ] && calibrate nfqueue nfqueue

NFLOG_TOOLS="null floor nfcap tcpdump dumpcap ulogd"
NFQ_TOOLS="null floor nfcap tcpdump"
case $MODE in
full) NFQ_TOOLS+=" deferred rewrite" ;;
memory) NFLOG_TOOLS="null nfcap" ;; # the long capture's shorter runs, and a reference
paced) NFLOG_TOOLS="null floor nfcap tcpdump" ;; # the readers NFLOG's targets name
verdicts) NFQ_TOOLS="null nfcap tcpdump deferred rewrite" ;; # null, tcpdump: NFQUEUE's targets
python)
  NFQ_TOOLS="nfcap python python-tuned python-batch"
  [ -n "$NFQ_ORIGINAL" ] && NFQ_TOOLS+=" original original-tuned"
  ;;
esac
[ -n "$NFLOG_RATES" ] && suite nflog nflog "$NFLOG_RATES" "$NFLOG_TOOLS"
[ -n "$X8_RATES" ] && suite nflog-x8 nflog "$X8_RATES" "$NFLOG_TOOLS"
[ -n "$NFQ_RATES" ] && suite nfqueue nfqueue "$NFQ_RATES" "$NFQ_TOOLS"

# --- long live capture: nfcap's peak RSS ------------------------------------------------------
if [ "$LONG_N" -gt 0 ]; then
  say "long live capture: $LONG_N records flat out into nfcap (peak RSS)"
  live rss-live nflog nfcap 0 "$LONG_N" 1
fi

# --- replay and callgrind (both use the recording) --------------------------------------------
if [ "$REPLAY_RECORDS" -gt 0 ]; then
  say "recording $REPLAY_RECORDS records with tcpdump for the replay suite"
  REC=$W/rec.pcap
  ip netns exec "$NS_B" taskset -c "$READER_CPU" "$BIN/runstat" -o "$W/rec.rs" -p "$W/reader.pid" -t 120 -- \
    tcpdump -Z root -n -B 4096 -c "$REPLAY_RECORDS" -i "nflog:$GROUP" -w "$REC" \
    >"$W/rec.out" 2>"$W/rec.err" &
  recbg=$!
  BG_PIDS+=("$recbg")
  wait_bound nflog || say "warning: tcpdump did not bind NFLOG group $GROUP"
  sleep 0.2
  nsa taskset -c "$SENDER_CPU" "$TRAFFIC" udp-send 192.0.2.2 "$PORT_LOG" $((REPLAY_RECORDS * 11 / 10)) \
    "$SIZE" --batch 64 --timeout 60 >/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$recbg" 2>/dev/null || break
    sleep 0.1
  done
  stop_bg "$recbg"
  rec_n=$(count_file "$REC")
  say "recording: ${rec_n:-0} records, $(du -m "$REC" | cut -f1) MB"
  [ "${rec_n:-0}" -gt 0 ] || {
    echo "run.sh: the replay recording is empty" >&2
    exit 1
  }
  editcap -r "$REC" "$W/rec100k.pcap" 1-100000 >/dev/null
  editcap -r "$REC" "$W/rec1k.pcap" 1-1000 >/dev/null

  # timed TOOL REP CMD...: runs CMD pinned to the reader CPU, one CSV row (suite replay).
  timed() {
    local tool=$1 rep=$2 out_records
    shift 2
    taskset -c "$READER_CPU" "$BIN/runstat" -o "$W/replay.rs" -t 600 -- "$@" >"$W/replay.out" 2>"$W/replay.err" || true
    case $tool in
    nfcap) out_records=$(summary_field "packets written" "$W/replay.err") ;;
    editcap) out_records=$(count_file "$W/replay.pcapng") ;;
    pcap_count) out_records=$(kv records "$W/replay.out") ;;
    esac
    local fb=0
    [ -f "$W/replay.pcapng" ] && fb=$(stat -c %s "$W/replay.pcapng")
    row replay "$rep" "$tool" 0 1 NA NA NA "$rec_n" NA "${out_records:-NA}" NA NA NA NA \
      "$(kv utime "$W/replay.rs")" "$(kv stime "$W/replay.rs")" "$(kv maxrss_kb "$W/replay.rs")" \
      "$(kv wall "$W/replay.rs")" "$(kv status "$W/replay.rs")" "" "" "$fb" NA NA NA
    awk -v t="$tool" -v r="$rep" -v n="${out_records:-0}" -v w="$(kv wall "$W/replay.rs")" \
      'BEGIN { printf "  replay   rep %d %-10s %9d records in %.2f s: %8.0f rec/s\n", r, t, n, w, n / w }'
    rm -f "$W/replay.pcapng"
  }
  say "suite replay: nfcap -r, editcap -F pcapng, pcap_count (floor), $REPS repetitions"
  replay_tools=(nfcap editcap pcap_count)
  for ((rep = 1; rep <= REPS; rep++)); do
    for ((j = 0; j < 3; j++)); do
      case ${replay_tools[(j + rep - 1) % 3]} in
      nfcap) timed nfcap "$rep" "$NFCAP" -r "$REC" -w "$W/replay.pcapng" ;;
      editcap) timed editcap "$rep" editcap -F pcapng "$REC" "$W/replay.pcapng" ;;
      pcap_count) timed pcap_count "$rep" "$BIN/pcap_count" "$REC" ;;
      esac
    done
  done

  # 10 M records: the recording five times over, as one pcap stream (its header once), piped in.
  say "replay of $((5 * rec_n)) records (peak RSS)"
  stream5() {
    cat "$REC"
    for ((i = 1; i < 5; i++)); do tail -c +25 "$REC"; done
  }
  stream5 | taskset -c "$READER_CPU" "$BIN/runstat" -o "$W/replay.rs" -t 600 -- \
    "$NFCAP" -r - -w - >/dev/null 2>"$W/replay.err" || true
  row rss-replay 1 nfcap 0 1 NA NA NA $((5 * rec_n)) NA "$(summary_field "packets written" "$W/replay.err")" \
    NA NA NA NA "$(kv utime "$W/replay.rs")" "$(kv stime "$W/replay.rs")" \
    "$(kv maxrss_kb "$W/replay.rs")" "$(kv wall "$W/replay.rs")" "$(kv status "$W/replay.rs")" "" "from a pipe to /dev/null" \
    NA NA NA NA

  # --- callgrind ------------------------------------------------------------------------------
  # Instructions per record: the whole run on 100,000 records divided by 100,000, and the marginal
  # cost (100,000-record run minus 1,000-record run, over 99,000) which leaves out start-up.
  callgrind() { # callgrind TOOL FILE RECORDS CMD...
    local tool=$1 file=$2 n=$3 ir
    shift 3
    valgrind --tool=callgrind --callgrind-out-file="$file" "$@" >/dev/null 2>"$file.log" || true
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$file")
    row callgrind 1 "$tool" 0 1 NA NA NA "$n" NA "$n" NA NA NA NA NA NA NA NA NA "${ir:-NA}" "" NA NA NA NA
    echo "  callgrind $tool on $n records: ${ir:-?} instructions"
  }
  say "callgrind: nfcap -r on 1,000 and 100,000 records"
  callgrind nfcap-1k "$W/cg.nfcap1k" 1000 "$NFCAP" -r "$W/rec1k.pcap" -w "$W/cg.pcapng"
  callgrind nfcap "$OUT/callgrind.nfcap.out" 100000 "$NFCAP" -r "$W/rec100k.pcap" -w "$W/cg.pcapng"
  callgrind_annotate "$OUT/callgrind.nfcap.out" 2>/dev/null | head -45 >"$OUT/callgrind-nfcap.txt" || true
  if [ "$CALLGRIND_EDITCAP" = 1 ]; then
    say "callgrind: editcap -F pcapng on 1,000 and 100,000 records"
    callgrind editcap-1k "$W/cg.editcap1k" 1000 editcap -F pcapng "$W/rec1k.pcap" "$W/cg.pcapng"
    callgrind editcap "$OUT/callgrind.editcap.out" 100000 editcap -F pcapng "$W/rec100k.pcap" "$W/cg.pcapng"
    callgrind_annotate "$OUT/callgrind.editcap.out" 2>/dev/null | head -45 >"$OUT/callgrind-editcap.txt" || true
  fi
fi

# --- tables -----------------------------------------------------------------------------------
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/system.txt"
elapsed=$(awk -v s="$t_begin" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')
say "done in ${elapsed}s; tables:"
/usr/bin/python3 "$HERE/analyze.py" "$CSV" --system "$OUT/system.txt" --elapsed "$elapsed" \
  >"$OUT/summary.md"
cat "$OUT/summary.md"
echo
where="raw rows: $CSV; tables: $OUT/summary.md"
[ "$REPLAY_RECORDS" -gt 0 ] && where+="; callgrind: $OUT/callgrind-nfcap.txt"
echo "$where"
