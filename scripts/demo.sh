#!/usr/bin/env bash
# The demo: sets up, builds nfcap, and records real NFLOG traffic in a private pair of network
# namespaces, then shows the pcapng with tshark (prefixes and interface names visible).
# Needs root (it creates namespaces and firewall rules, and removes them afterwards): run as
# root, or as a user who may sudo (the script then runs itself with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && exec sudo "$0" "$@"
  echo "demo: it creates namespaces and firewall rules, so it needs root, and there is no sudo here: run as root" >&2
  exit 1
fi

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target nfcap nfcap_traffic >/dev/null
bin=build/release
out=${1:-demo.pcapng}

a=nfcap-demo-a-$$ b=nfcap-demo-b-$$
nfcap_pid=
cleanup() {
  [ -n "$nfcap_pid" ] && kill "$nfcap_pid" 2>/dev/null || true
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
}
trap cleanup EXIT

# Two hosts joined by a veth pair, on documentation addresses that never leave the namespaces.
ip netns add "$a"; ip netns add "$b"
ip link add veth-a netns "$a" type veth peer name veth-b netns "$b"
ip -n "$a" link set lo up; ip -n "$b" link set lo up
ip -n "$a" addr add 192.0.2.1/24 dev veth-a; ip -n "$b" addr add 192.0.2.2/24 dev veth-b
ip -n "$a" addr add 2001:db8::1/64 dev veth-a nodad; ip -n "$b" addr add 2001:db8::2/64 dev veth-b nodad
ip -n "$a" link set veth-a up; ip -n "$b" link set veth-b up

# Host B logs what it receives and sends to NFLOG group 10.
ip netns exec "$b" nft -f - <<'NFT'
table inet demo {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request log group 10 prefix "demo in ping"
    icmpv6 type echo-request log group 10 prefix "demo in ping"
    udp dport 5353 log group 10 prefix "demo in udp"
    tcp dport 8080 log group 10 prefix "demo in tcp"
  }
  chain output {
    type filter hook output priority 0; policy accept;
    icmp type echo-reply log group 10 prefix "demo out ping"
    icmpv6 type echo-reply log group 10 prefix "demo out ping"
    tcp sport 8080 log group 10 prefix "demo out tcp"
  }
}
NFT

ip netns exec "$b" "$bin/nfcap" -g 10 -w "$out" &
nfcap_pid=$!
sleep 0.5

ip netns exec "$a" ping -c 2 -i 0.2 -q 192.0.2.2 >/dev/null
ip netns exec "$a" ping -c 2 -i 0.2 -q 2001:db8::2 >/dev/null
ip netns exec "$b" "$bin/tests/nfcap_traffic" udp-recv 5353 3 --timeout 10 >/dev/null &
receiver=$!
sleep 0.2
ip netns exec "$a" "$bin/tests/nfcap_traffic" udp-send 192.0.2.2 5353 3 64 >/dev/null
wait "$receiver"
ip netns exec "$b" "$bin/tests/nfcap_traffic" tcp-server 8080 2000 --timeout 10 >/dev/null &
server=$!
ip netns exec "$a" "$bin/tests/nfcap_traffic" tcp-client 192.0.2.2 8080 2000 --timeout 10 >/dev/null
wait "$server"
sleep 0.3

kill -TERM "$nfcap_pid"; wait "$nfcap_pid" || true; nfcap_pid=

echo
echo "== $out, as tshark shows it (nfcap metadata in each packet's comment):"
tshark -r "$out" -T fields -E header=y \
  -e frame.number -e _ws.col.Protocol -e _ws.col.Source -e _ws.col.Destination -e frame.comment 2>/dev/null
echo
echo "== the same through the Lua post-dissector, filtered on a log prefix:"
tshark -r "$out" -X lua_script:samples/wireshark/nfcap.lua -Y 'nfcap.prefix == "demo in tcp"' \
  -T fields -e frame.number -e nfcap.prefix -e nfcap.in.name -e nfcap.hook 2>/dev/null
