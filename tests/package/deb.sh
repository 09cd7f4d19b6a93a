#!/usr/bin/env bash
# The Debian package (debian/), as an operator meets it:
#   - dpkg-buildpackage builds nfcap, libnfcap-dev and python3-nfcap from a copy of this tree
#     with Debian's own compiler flags, without a compiler or dpkg warning, and lintian finds
#     nothing to say about them;
#   - each package depends on the Debian packages of the libraries its files link (and
#     libnfcap-dev on the -dev packages its CMake package finds), and on nothing else;
#   - dpkg -i installs them, and then: nfcap --version says the package's version, man nfcap
#     shows the page, tshark lists the extcap interfaces and loads the Lua dissector by itself,
#     systemd-analyze rates the installed unit, a live capture by the installed nfcap in a
#     namespace holds every packet its rule counted, Debian's python3 imports the modules from
#     outside the source tree and reads that capture, and a CMake project finds the library;
#   - dpkg -r removes every file the packages brought (and the byte code made at install), and
#     dpkg -P leaves no trace in dpkg's database.
# The packages are purged at the end, also when the test fails half-way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../privileged/lib.sh"
require_root
require_cmd dpkg-buildpackage dpkg-checkbuilddeps dpkg-parsechangelog lintian man tshark \
    systemd-analyze nft pkg-config readelf cmake
ensure_test_tools
: "${NFCAP_SOURCE_DIR:?run through ctest}"

packages=(nfcap libnfcap-dev python3-nfcap)
# This test installs and removes the packages: it will not run over an installation of yours.
present=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null |
    awk '$2 != "not-installed" { print $1 }' | tr '\n' ' ' || true)
[ -z "$present" ] || fail "already installed here: $present(this test installs and removes them; dpkg -P them first)"
make_workdir

# --- the version: debian/changelog, the CMake project and the program agree
version=$(dpkg-parsechangelog -l "$NFCAP_SOURCE_DIR/debian/changelog" -S Version)
check_eq "debian/changelog's version is the program's" "nfcap $version" "$("$NFCAP" --version)"

# --- build from a copy of the tree, without its build directories
src="$WORK/src"
mkdir "$src"
tar -C "$NFCAP_SOURCE_DIR" --exclude=./build --exclude=./.git --exclude='./obj-*' \
    --exclude=./debian/.debhelper --exclude=./debian/tmp -cf - . | tar -C "$src" -xf -
(cd "$src" && dpkg-checkbuilddeps) >"$WORK/builddeps.log" 2>&1 ||
    fail "build dependencies missing (scripts/setup.sh installs them): $(cat "$WORK/builddeps.log")"
started=$SECONDS
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -b -uc -us) \
    >"$WORK/build.log" 2>&1 || fail "dpkg-buildpackage failed; its log ends: $(tail -n 30 "$WORK/build.log")"
echo "ok: dpkg-buildpackage -b in $((SECONDS - started)) s"
if grep -n 'warning:' "$WORK/build.log" >"$WORK/warnings"; then
    fail "the package build warns: $(head -n 10 "$WORK/warnings")"
fi
echo "ok: no compiler or dpkg warning under Debian's build flags (hardening=+all)"

arch=$(dpkg-architecture -q DEB_HOST_ARCH)
multiarch=$(dpkg-architecture -q DEB_HOST_MULTIARCH)
debs=()
for p in "${packages[@]}"; do
    deb="$WORK/${p}_${version}_${arch}.deb"
    [ -f "$deb" ] || fail "dpkg-buildpackage made no $(basename "$deb"): $(ls "$WORK")"
    check_eq "$p's version" "$version" "$(dpkg-deb -f "$deb" Version)"
    debs+=("$deb")
done

lintian --allow-root --fail-on error,warning,info -I "$WORK/nfcap_${version}_${arch}.changes" \
    >"$WORK/lintian.log" 2>&1 || fail "lintian: $(cat "$WORK/lintian.log")"
echo "ok: lintian has nothing to say (errors, warnings and informational tags)"

# --- dependencies: the packages of the libraries each package's ELF files need, no others
owner() { # owner FILE: the package that holds FILE (merged /usr: either spelling), or nothing
    local path found
    for path in "$1" "${1#/usr}" "/usr$1"; do
        found=$(dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
        if [ -n "$found" ]; then
            echo "$found"
            return 0
        fi
    done
}
depends_names() { # the package names in a Depends field, without versions or alternatives' rest
    tr ',' '\n' <<<"$1" | sed 's/^ *//; s/[ (|:].*//' | sed '/^$/d' | sort -u
}
for deb in "${debs[@]}"; do
    p=$(dpkg-deb -f "$deb" Package)
    tree="$WORK/tree-$p"
    dpkg-deb -x "$deb" "$tree"
    needed=$(
        find "$tree" -type f -exec sh -c 'head -c 4 "$1" | grep -q "ELF"' _ {} \; -print |
            while read -r elf; do readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u
    )
    expected=""
    for soname in $needed; do
        # awk reads to the end: one that exits at the first match can leave ldconfig writing
        # into a closed pipe, and its SIGPIPE status (pipefail) would end the test without a word.
        path=$(ldconfig -p | awk -v s="$soname" '!found && $1 == s { print $NF; found = 1 }')
        [ -n "$path" ] || fail "$p needs $soname, which this machine does not have"
        lib_package=$(owner "$(readlink -f "$path")")
        [ -n "$lib_package" ] || lib_package=$(owner "$path")
        [ -n "$lib_package" ] || fail "no Debian package holds $path ($soname, needed by $p)"
        expected+="$lib_package"$'\n'
    done
    if [ "$p" = libnfcap-dev ]; then
        # The CMake package finds these through pkg-config: their -dev packages and pkg-config.
        for module in libmnl libnetfilter_log libnetfilter_queue libpcap libcap; do
            expected+="$(owner "$(pkg-config --path "$module")")"$'\n'
        done
        expected+="pkg-config"$'\n'
    fi
    if [ "$p" = python3-nfcap ]; then
        expected+="python3"$'\n' # dh_python3: the interpreter versions the extension was built for
    fi
    expected=$(sed '/^$/d' <<<"$expected" | sort -u | tr '\n' ' ')
    actual=$(depends_names "$(dpkg-deb -f "$deb" Depends)" | tr '\n' ' ')
    check_eq "$p depends on" "$expected" "$actual"
done

# --- what was on the machine before: dpkg -r must leave exactly that
for deb in "${debs[@]}"; do
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||' | sed '/^$/d'
done | sort -u >"$WORK/paths"
while read -r path; do
    if [ -e "$path" ] || [ -L "$path" ]; then echo "$path"; fi
done <"$WORK/paths" >"$WORK/before"
if grep -qx /usr/bin/nfcap "$WORK/before"; then
    fail "/usr/bin/nfcap exists before the package is installed"
fi

on_cleanup "dpkg -P ${packages[*]} >/dev/null 2>&1 || true"
dpkg -i "${debs[@]}" >"$WORK/install.log" 2>&1 || fail "dpkg -i: $(cat "$WORK/install.log")"
echo "ok: dpkg -i ${packages[*]}"

# --- the program, its manual, Wireshark's view of it
check_eq "nfcap on PATH" /usr/bin/nfcap "$(command -v nfcap)"
check_eq "nfcap --version" "nfcap $version" "$(nfcap --version)"
check_eq "dpkg's version of nfcap" "$version" "$(dpkg-query -W -f='${Version}' nfcap)"
check_eq "man -w nfcap" /usr/share/man/man1/nfcap.1.gz "$(man -w nfcap)"
MANPAGER=cat MANWIDTH=80 man nfcap 2>/dev/null | grep -q 'nfcap -g 123 -w out.pcapng' ||
    fail "man nfcap does not show the page: $(MANPAGER=cat man nfcap 2>&1 | head -n 5)"
echo "ok: man nfcap shows the page"

extcap_dir=$(tshark -G folders 2>/dev/null | sed -n 's/^Extcap path:[[:space:]]*//p' | head -n 1)
check_eq "the extcap in Wireshark's folder is the installed nfcap" /usr/bin/nfcap \
    "$(readlink -f "$extcap_dir/nfcap")"
tshark -D 2>/dev/null | grep -q 'nfcap-nflog (nfcap: netfilter NFLOG groups)' ||
    fail "tshark -D does not list the package's extcap: $(tshark -D 2>&1 | tail -n 5)"
echo "ok: tshark -D lists nfcap-nflog through /usr/lib/$multiarch/wireshark/extcap/nfcap"
tshark -G plugins 2>/dev/null | grep -q "nfcap.lua" ||
    fail "tshark does not load the Lua dissector by itself: $(tshark -G plugins 2>&1 | grep -i lua)"
echo "ok: tshark loads nfcap.lua from its global plugin folder"

rating=$(systemd-analyze security --offline=true nfcap@1.service 2>&1 | tail -n 1)
exposure=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$rating")
[ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 4.9) }' ||
    fail "systemd-analyze security --offline=true nfcap@1.service: $rating"
grep -q '^ExecStart=/usr/bin/nfcap ' /lib/systemd/system/nfcap@.service ||
    fail "the installed unit does not start /usr/bin/nfcap: $(grep ExecStart /lib/systemd/system/nfcap@.service)"
echo "ok: the installed nfcap@.service starts /usr/bin/nfcap, rated $exposure"

# --- a live capture by the installed program, read by tshark with the plugin it loaded itself
setup_pair
group=41
cat >"$WORK/rules.nft" <<EOF
table inet nfcappkg {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 192.0.2.1 udp dport 7900 counter log group $group prefix "from the package"
  }
}
EOF
nft_b "$WORK/rules.nft"
live="$WORK/live.pcapng"
bg_in "$NS_B" /usr/bin/nfcap -g "$group" -w "$live" 2>"$WORK/live.err"
cap=$BG_PID
wait_nflog_bound "$NS_B" "$group"
in_a "$NFCAP_TRAFFIC" udp-send 192.0.2.2 7900 25 200 >/dev/null
sleep 0.3
rc=0
stop_pid "$cap" || rc=$?
[ "$rc" -eq 0 ] || fail "the installed nfcap exited $rc: $(cat "$WORK/live.err")"
counted=$(ip netns exec "$NS_B" nft list chain inet nfcappkg input | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
check_eq "packets with the package's prefix, by the auto-loaded nfcap.prefix field" "$counted" \
    "$(tshark -r "$live" -Y 'nfcap.prefix == "from the package"' 2>/dev/null | wc -l)"

# --- the Python modules, for Debian's python3, from outside the source tree; -I ignores
# PYTHONPATH and the current directory
(cd "$WORK" && /usr/bin/python3 -I - "$live" "$counted") >"$WORK/python.log" 2>&1 <<'PYEOF' ||
import sys
import netfilterqueue, nflogr, nfcap
site = "/usr/lib/python3/dist-packages/"
for module in (nfcap, netfilterqueue, nflogr):
    assert module.__file__.startswith(site), module.__file__
with nfcap.Reader(sys.argv[1]) as reader:
    prefixes = [entry.fields.get("prefix") for entry in reader]
assert prefixes == ["from the package"] * int(sys.argv[2]), prefixes
print(f"read {len(prefixes)} records with {nfcap.__file__}")
PYEOF
    fail "Debian's python3 with the installed modules: $(cat "$WORK/python.log")"
echo "ok: /usr/bin/python3 -I imports nfcap, netfilterqueue, nflogr from /usr/lib/python3/dist-packages and $(cat "$WORK/python.log")"

# --- the library, found by a CMake project of its own without any path given
# shellcheck source=../install/consumer.sh
source "$NFCAP_SOURCE_DIR/tests/install/consumer.sh"
app="$WORK/app"
consumer "$app" "${version%.*} CONFIG REQUIRED"
cmake -S "$app" -B "$app/build" >"$WORK/configure.log" 2>&1 ||
    fail "find_package(nfcap ${version%.*} CONFIG REQUIRED) against the package: $(cat "$WORK/configure.log")"
check_eq "find_package(nfcap) finds" "/usr/lib/$multiarch/cmake/nfcap" \
    "$(sed -n 's/^nfcap_DIR:PATH=//p' "$app/build/CMakeCache.txt")"
cmake --build "$app/build" >"$WORK/app-build.log" 2>&1 || fail "building against the package: $(cat "$WORK/app-build.log")"
out=$("$app/build/count_records" "$NFCAP_SOURCE_DIR/samples/recordings/nflog-tcpdump.pcap") ||
    fail "count_records: $out"
[[ $out == "nfcap $version: records=31 decoded=31 "* ]] || fail "the installed library read: $out"
echo "ok: a program built against libnfcap-dev replays a recording: $out"

# --- removal: every file the packages brought goes, and what was there before stays
dpkg -r "${packages[@]}" >"$WORK/remove.log" 2>&1 || fail "dpkg -r: $(cat "$WORK/remove.log")"
left=""
while read -r path; do
    if { [ -e "$path" ] || [ -L "$path" ]; } && ! grep -qxF "$path" "$WORK/before"; then
        left+="$path "
    fi
done <"$WORK/paths"
[ -z "$left" ] || fail "dpkg -r left: $left"
left=$(find /usr/lib/python3/dist-packages/__pycache__ -name 'netfilterqueue.*' -o -name 'nflogr.*' 2>/dev/null || true)
[ -z "$left" ] || fail "dpkg -r left byte code: $left"
[ ! -e /usr/bin/nfcap ] || fail "/usr/bin/nfcap is still there"
echo "ok: dpkg -r removed all $(($(wc -l <"$WORK/paths") - $(wc -l <"$WORK/before"))) paths the packages brought"
dpkg -P "${packages[@]}" >"$WORK/purge.log" 2>&1 || fail "dpkg -P: $(cat "$WORK/purge.log")"
present=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null |
    awk '$2 != "not-installed" { print $1 }' | tr '\n' ' ' || true)
[ -z "$present" ] || fail "after dpkg -P dpkg still knows: $present"
echo "ok: dpkg -P: dpkg's database has no trace of them"
