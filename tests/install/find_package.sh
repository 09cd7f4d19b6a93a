#!/usr/bin/env bash
# `cmake --install` of the build under test into a temporary prefix gives a complete tree (the
# binary, the static libraries, every header and the generated version.hpp, the CMake package,
# the man page, the Lua dissector), and a separate CMake project finds it with
# find_package(nfcap CONFIG REQUIRED), links nfcap::nfcap_io without naming any of its
# dependencies, replays a committed recording through the library and gets every record.
set -euo pipefail
: "${NFCAP_BUILD_DIR:?set NFCAP_BUILD_DIR to a configured and built nfcap build directory}"
: "${NFCAP_SOURCE_DIR:?set NFCAP_SOURCE_DIR}"
# shellcheck source=../golden/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../golden/lib.sh" # $work, fail, ok, $passed

cache="$NFCAP_BUILD_DIR/CMakeCache.txt"
[[ -f $cache ]] || fail "$NFCAP_BUILD_DIR is not a CMake build directory"
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n 1; }
# An absolute install directory would not move with --prefix: this test must not write there.
for var in BINDIR LIBDIR INCLUDEDIR DATADIR MANDIR; do
    dir=$(cache_value "CMAKE_INSTALL_$var")
    if [[ $dir == /* ]]; then
        echo "SKIP: CMAKE_INSTALL_$var is absolute ($dir); this test installs into a temporary prefix"
        exit 77
    fi
done
libdir=$(cache_value CMAKE_INSTALL_LIBDIR)
libdir=${libdir:-lib}
mandir=$(cache_value CMAKE_INSTALL_MANDIR)
mandir=${mandir:-share/man}

prefix="$work/prefix"
cmake --install "$NFCAP_BUILD_DIR" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    fail "cmake --install: $(cat "$work/install.log")"
ok "cmake --install into a temporary prefix"

# --- the installed tree
version=$("$prefix/bin/nfcap" --version) || fail "installed bin/nfcap --version failed"
[[ $version =~ ^nfcap\ ([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || fail "bin/nfcap --version printed '$version'"
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} number=${version#nfcap }
ok "bin/nfcap --version: $version"

# The extcap is a relative link to bin/nfcap, so it moves with the tree and answers as extcap.
extcap="$prefix/$libdir/wireshark/extcap/nfcap"
[[ -L $extcap ]] || fail "$libdir/wireshark/extcap/nfcap is not a symbolic link"
[[ $(readlink "$extcap") != /* ]] || fail "the extcap link is absolute: $(readlink "$extcap")"
[[ $(readlink -f "$extcap") == $(readlink -f "$prefix/bin/nfcap") ]] ||
    fail "the extcap link points to $(readlink -f "$extcap"), not bin/nfcap"
"$extcap" --extcap-interfaces | grep -q '^interface {value=nfcap-nflog}' ||
    fail "the extcap link does not list its interfaces"
ok "$libdir/wireshark/extcap/nfcap -> $(readlink "$extcap")"

for header in "$NFCAP_SOURCE_DIR"/include/nfcap/*.hpp; do
    cmp -s "$header" "$prefix/include/nfcap/${header##*/}" ||
        fail "include/nfcap/${header##*/} is missing or differs from the source"
done
grep -q "\"$number\"" "$prefix/include/nfcap/version.hpp" ||
    fail "include/nfcap/version.hpp does not say $number"
ok "include/nfcap: every header and the generated version.hpp"

for lib in nfcap_core nfcap_io; do
    [[ -f $prefix/$libdir/lib$lib.a ]] || fail "$libdir/lib$lib.a is missing"
done
ok "$libdir/libnfcap_core.a and $libdir/libnfcap_io.a"

for file in nfcapConfig.cmake nfcapConfigVersion.cmake nfcapTargets.cmake; do
    [[ -f $prefix/$libdir/cmake/nfcap/$file ]] || fail "$libdir/cmake/nfcap/$file is missing"
done
ok "$libdir/cmake/nfcap: package config, version file and exported targets"

cmp -s "$NFCAP_SOURCE_DIR/docs/nfcap.1" "$prefix/$mandir/man1/nfcap.1" ||
    fail "$mandir/man1/nfcap.1 is missing or differs from docs/nfcap.1"
if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww -z "$prefix/$mandir/man1/nfcap.1" 2>"$work/groff.err" ||
        fail "groff failed on nfcap.1: $(cat "$work/groff.err")"
    [[ ! -s $work/groff.err ]] || fail "groff warns about nfcap.1: $(cat "$work/groff.err")"
fi
ok "$mandir/man1/nfcap.1"

cmp -s "$NFCAP_SOURCE_DIR/samples/wireshark/nfcap.lua" "$prefix/share/nfcap/nfcap.lua" ||
    fail "share/nfcap/nfcap.lua is missing or differs from samples/wireshark/nfcap.lua"
ok "share/nfcap/nfcap.lua"

unit="$prefix/lib/systemd/system/nfcap@.service"
[ -f "$unit" ] || fail "lib/systemd/system/nfcap@.service is missing"
grep -q "^ExecStart=$prefix/bin/nfcap -g %I " "$unit" || fail "the unit does not start this prefix's nfcap: $(grep ExecStart "$unit")"
[ -f "$prefix/share/nfcap/nfcap.default" ] || fail "share/nfcap/nfcap.default is missing"
ok "lib/systemd/system/nfcap@.service (ExecStart $prefix/bin/nfcap) and share/nfcap/nfcap.default"

# --- the Python modules, where Debian's python3 imports them for this prefix, used from
# outside the source and build trees
if [[ -d $NFCAP_BUILD_DIR/python/nfcap ]]; then
    site="$prefix/lib/python3/dist-packages"
    # A sanitized build's module needs its runtimes preloaded (ctest sets NFCAP_PYTHON_PRELOAD).
    preload=()
    [[ -n ${NFCAP_PYTHON_PRELOAD:-} ]] &&
        preload=(LD_PRELOAD="$NFCAP_PYTHON_PRELOAD" ASAN_OPTIONS=detect_leaks=0)
    (cd "$work" && env "${preload[@]}" PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c '
import sys, nfcap, netfilterqueue, nflogr
for module in (nfcap, netfilterqueue, nflogr):
    assert module.__file__.startswith(sys.argv[1]), module.__file__
assert netfilterqueue.COPY_PACKET == 2 and callable(nfcap.fix_checksums)
' "$site") >"$work/python.log" 2>&1 || fail "import of the installed Python modules: $(cat "$work/python.log")"
    ok "lib/python3/dist-packages: nfcap, netfilterqueue, nflogr"
fi

# --- a project of its own against the installed tree (consumer.sh)
compiler=$(cache_value CMAKE_CXX_COMPILER)
generator=()
if command -v ninja >/dev/null; then
    generator=(-G Ninja)
fi
# shellcheck source=consumer.sh
source "$(dirname "${BASH_SOURCE[0]}")/consumer.sh"

app="$work/app"
consumer "$app" "$major.$minor CONFIG REQUIRED"
cmake -S "$app" -B "$app/build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$compiler" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" 2>&1 ||
    fail "configuring a project with find_package(nfcap $major.$minor CONFIG REQUIRED): $(cat "$work/configure.log")"
grep -q "^nfcap_DIR:PATH=$prefix/$libdir/cmake/nfcap\$" "$app/build/CMakeCache.txt" ||
    fail "find_package(nfcap) did not find the package in the temporary prefix: $(grep '^nfcap_DIR' "$app/build/CMakeCache.txt")"
ok "find_package(nfcap $major.$minor CONFIG REQUIRED) finds $prefix/$libdir/cmake/nfcap"

cmake --build "$app/build" >"$work/build.log" 2>&1 ||
    fail "building against nfcap::nfcap_io: $(cat "$work/build.log")"
ok "a program linking nfcap::nfcap_io builds (C++20 and the static libraries' dependencies come from the package)"

out=$("$app/build/count_records" "$NFCAP_SOURCE_DIR/samples/recordings/nflog-tcpdump.pcap") ||
    fail "count_records failed: $out"
echo "   $out"
[[ $out == "$version: records=31 decoded=31 "* ]] || fail "expected 31 records decoded by $version, got: $out"
if ! [[ $out =~ prefixes=([0-9]+)\ round_trips=([0-9]+)$ ]] || ((BASH_REMATCH[1] == 0)) ||
    [[ ${BASH_REMATCH[1]} != "${BASH_REMATCH[2]}" ]]; then
    fail "every prefix should survive the comment round trip: $out"
fi
ok "the installed library replays nflog-tcpdump.pcap: 31 records, every prefix round-trips"

# The version file refuses an incompatible request.
bad="$work/too-new"
consumer "$bad" "$((major + 1)).0 CONFIG REQUIRED"
if cmake -S "$bad" -B "$bad/build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$compiler" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$work/too-new.log" 2>&1; then
    fail "find_package(nfcap $((major + 1)).0) accepted version $number"
fi
grep -q "$number" "$work/too-new.log" || fail "the refusal does not name version $number: $(cat "$work/too-new.log")"
ok "find_package(nfcap $((major + 1)).0) is refused by nfcapConfigVersion.cmake"

echo "$passed passed, 0 failed"
