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
  # the fleet test: sshdump (in wireshark-common) against an sshd in each of its namespaces;
  # sshd's own libraries (the binary itself is unpacked below, not installed)
  openssh-client libwrap0 libaudit1 libpam0g libgssapi-krb5-2 libkrb5-3 libssl3 libsystemd0
  # the Debian package (debian/, tests/package/deb.sh): its build tools, lintian, man
  debhelper dh-python dpkg-dev lintian man-db
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

# The fleet test (tests/privileged/fleet_sshdump.sh) runs sshd inside namespaces of its own. The
# binary comes from Debian's openssh-server, unpacked under /var/cache/nfcap-sshd rather than
# installed, so that setting up starts no SSH service on this machine (a machine that has
# openssh-server already uses its /usr/sbin/sshd).
sshd_dir=/var/cache/nfcap-sshd
if [ ! -x /usr/sbin/sshd ] && [ ! -x "$sshd_dir/usr/sbin/sshd" ]; then
  echo "setup: unpacking openssh-server's sshd into $sshd_dir (not installed, no service)" >&2
  deb_dir=$(mktemp -d)
  chmod 755 "$deb_dir" # apt-get download may run as the _apt user
  (cd "$deb_dir" && "${sudo_cmd[@]}" apt-get download -qq openssh-server >/dev/null 2>&1)
  "${sudo_cmd[@]}" mkdir -p "$sshd_dir"
  "${sudo_cmd[@]}" dpkg-deb -x "$deb_dir"/openssh-server_*.deb "$sshd_dir"
  "${sudo_cmd[@]}" rm -rf "$deb_dir"
fi
# sshd drops privileges to this user, which openssh-server's own set-up would have made.
if ! getent passwd sshd >/dev/null; then
  "${sudo_cmd[@]}" useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
fi
echo "setup: sshd for the fleet test present" >&2
