#!/usr/bin/env bash
# Installs every Debian package nfcap needs to build, test and run its demo.
# Idempotent; safe to run again. Needs root (or sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format
  libmnl-dev libnetfilter-log-dev libnetfilter-queue-dev libpcap-dev libcap-dev
  libboost-program-options-dev libgtest-dev libgmock-dev
  # the Python modules, for Debian's /usr/bin/python3, and their tests
  python3-dev pybind11-dev python3-pybind11 python3-pytest
  # fuzzing: libFuzzer and the sanitizer runtimes for clang (only recommended by clang-14)
  libclang-rt-14-dev
  # test and demo: real consumers and real firewalls
  tshark tcpdump nftables iptables iproute2 iputils-ping procps util-linux
  # benchmark (bench/run.sh): the peers it measures and its tools
  python3 ulogd2 ulogd2-pcap valgrind wireshark-common linux-perf
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo_cmd[@]}" debconf-set-selections
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present" >&2
