#!/usr/bin/env bash
# Regenerates the README's Wireshark screenshot (docs/wireshark.png): Debian's Wireshark, run
# under Xvfb with a throwaway profile, opens a capture kept in the repo with
# samples/wireshark/nfcap.lua loaded and nfcap fields as packet-list columns, selects a packet,
# expands its nfcap subtree, and the screen is saved as a PNG.
#
# Usage: sudo scripts/screenshot.sh [OUT.png]     (default: docs/wireshark.png)
# Root is needed only to apt-get install what is missing (wireshark, xvfb, imagemagick, xdotool,
# fonts-dejavu-core). Nothing of the user's Wireshark profile or fonts is read or written: HOME,
# the Wireshark profile and the fontconfig setup (DejaVu only) live in a temporary directory.
# CAPTURE=file.pcapng and PACKET=N pick another capture or packet.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/docs/wireshark.png}
capture=${CAPTURE:-$repo/samples/golden/nflog-tcpdump.sll2.pcapng}
packet=${PACKET:-10}   # prefix "marked": mark, hardware address and header in its subtree
lua=$repo/samples/wireshark/nfcap.lua
width=1600 height=900
say() { echo "screenshot: $*" >&2; }

# --- Packages --------------------------------------------------------------------------------
need=()
command -v wireshark >/dev/null || need+=(wireshark)
command -v Xvfb >/dev/null || need+=(xvfb)
{ command -v import >/dev/null && command -v convert >/dev/null; } || need+=(imagemagick)
command -v xdotool >/dev/null || need+=(xdotool)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { say "missing ${need[*]}; run as root (sudo $0) to install them"; exit 1; }
  say "installing ${need[*]}"
  # wireshark-common asks whether non-root users may capture; the answer does not matter here.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi

# nfcap.lua must load and find nfcap comments, or the picture would show empty columns.
timeout 30 tshark -r "$capture" -X lua_script:"$lua" -Y nfcap -c 1 -T fields -e nfcap.source \
  2>/dev/null | grep -q . || { say "nfcap.lua finds no nfcap comment in $capture"; exit 1; }

# --- A throwaway X server and profile --------------------------------------------------------
tmp=$(mktemp -d /tmp/nfcap-screenshot.XXXXXX)
xvfb_pid='' ws_pid=''
stop() {  # stop PID: TERM, then KILL if it lingers
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
  kill "$1" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$1" 2>/dev/null || true
}
cleanup() {
  stop "$ws_pid"; stop "$xvfb_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Xvfb picks a free display number itself (-displayfd) and listens on no TCP port.
Xvfb -displayfd 3 -screen 0 "${width}x${height}x24" -nolisten tcp -noreset \
  3>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do [ -s "$tmp/display" ] && break; sleep 0.1; done
[ -s "$tmp/display" ] || { say "Xvfb did not start"; cat "$tmp/xvfb.log" >&2; exit 1; }
DISPLAY=:$(cat "$tmp/display")
export DISPLAY

export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_RUNTIME_DIR=$tmp/run
export XDG_CACHE_HOME=$tmp/home/.cache XDG_DATA_HOME=$tmp/home/.local/share
export LANG=C.UTF-8 LC_ALL=C.UTF-8 NO_AT_BRIDGE=1 QT_QPA_PLATFORM=xcb
export FONTCONFIG_FILE=$tmp/fonts.conf
mkdir -p "$XDG_CONFIG_HOME/wireshark" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

# Only the DejaVu fonts, whatever else is installed, so the picture is the same everywhere.
cat >"$FONTCONFIG_FILE" <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>/usr/share/fonts/truetype/dejavu</dir>
  <cachedir>$tmp/fontconfig</cachedir>
  <include ignore_missing="yes">/etc/fonts/conf.d</include>
</fontconfig>
EOF

# Columns: the usual five, then nfcap.lua's fields (custom columns, "%Cus:FIELD:OCCURRENCE:R"),
# then Info. Packet list on top, details and bytes side by side below (Wireshark's default).
cat >"$XDG_CONFIG_HOME/wireshark/preferences" <<'EOF'
gui.column.format:
	"No.", "%m",
	"Time", "%t",
	"Source", "%s",
	"Destination", "%d",
	"Protocol", "%p",
	"Prefix", "%Cus:nfcap.prefix:0:R",
	"Hook", "%Cus:nfcap.hook:0:R",
	"In", "%Cus:nfcap.in:0:R",
	"Out", "%Cus:nfcap.out:0:R",
	"UID", "%Cus:nfcap.uid:0:R",
	"Mark", "%Cus:nfcap.mark:0:R",
	"Info", "%i"
gui.layout_type: 2
gui.layout_content_1: PLIST
gui.layout_content_2: PDETAILS
gui.layout_content_3: PBYTES
EOF
# The window fills the screen (there is no window manager to maximize it).
cat >"$XDG_CONFIG_HOME/wireshark/recent_common" <<EOF
gui.geometry_main_x: 0
gui.geometry_main_y: 0
gui.geometry_main_width: $width
gui.geometry_main_height: $height
gui.geometry_main_maximized: FALSE
gui.geometry_main_upper_pane: 480
gui.geometry_main_lower_pane: 800
privs.warn_if_elevated: FALSE
EOF
# Column widths; a custom column is named by its field alone here.
cat >"$XDG_CONFIG_HOME/wireshark/recent" <<'EOF'
column.width:
	%m, 50,
	%t, 110,
	%s, 110,
	%d, 110,
	%p, 70,
	%Cus:nfcap.prefix, 140,
	%Cus:nfcap.hook, 70,
	%Cus:nfcap.in, 45,
	%Cus:nfcap.out, 45,
	%Cus:nfcap.uid, 60,
	%Cus:nfcap.mark, 95,
	%i, 500
EOF

# --- Wireshark -------------------------------------------------------------------------------
start=$SECONDS
wireshark -r "$capture" -X lua_script:"$lua" -g "$packet" >"$tmp/wireshark.log" 2>&1 &
ws_pid=$!
name=$(basename "$capture")
win=
while [ $((SECONDS - start)) -lt 60 ]; do
  kill -0 "$ws_pid" 2>/dev/null || { say "wireshark exited"; cat "$tmp/wireshark.log" >&2; exit 1; }
  # The title names the capture once it is loaded.
  win=$(timeout 5 xdotool search --onlyvisible --name "$name" 2>/dev/null | head -n 1) || true
  [ -n "$win" ] && break
  sleep 0.5
done
[ -n "$win" ] || { say "no Wireshark window after 60 s"; cat "$tmp/wireshark.log" >&2; exit 1; }
sleep 2   # let it finish drawing the list and the selected packet

# Expand the nfcap subtree: focus the details pane (click its empty lower part), End selects the
# last top-level item, which is the post-dissector's, Right expands it, and four Downs select its
# Prefix line (source, hook, family, prefix) so the status bar names the field, nfcap.prefix.
# Then the pointer goes to the corner, away from anything it would highlight.
timeout 10 xdotool mousemove --sync $((width / 5)) $((height * 88 / 100)) click 1
sleep 0.3
timeout 10 xdotool key End Right Down Down Down Down
timeout 10 xdotool mousemove --sync $((width - 1)) $((height - 1))
sleep 1

timeout 30 import -window root "$tmp/screen.png"
# A 256-colour palette, undithered: the same look at about a third of the size.
convert "$tmp/screen.png" -strip -dither None -colors 256 -define png:compression-level=9 \
  "$tmp/out.png"
mkdir -p "$(dirname "$out")"
mv "$tmp/out.png" "$out"
# Under sudo, hand the picture to the user who asked for it.
if [ -n "${SUDO_UID:-}" ]; then chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$out"; fi
say "wrote $out ($(stat -c %s "$out") bytes, ${width}x${height}) in $((SECONDS - start)) s"
