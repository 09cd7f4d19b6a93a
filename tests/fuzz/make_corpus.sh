#!/usr/bin/env bash
# Makes the seed corpora of the fuzz targets from the project's samples:
#
#   tests/fuzz/make_corpus.sh EXTRACT_RECORDS OUT_DIR
#
#   OUT_DIR/fuzz_nflog_decode    the NFLOG records inside samples/recordings/*.pcap[ng]
#   OUT_DIR/fuzz_nfqueue_decode  the NFQUEUE packet messages of nfqueue-session.netlink.pcapng
#                                (both extracted by EXTRACT_RECORDS, nfcap_fuzz_extract_records)
#   OUT_DIR/fuzz_replay          the recordings themselves
#   OUT_DIR/fuzz_comment         every distinct comment of samples/golden/*.pcapng (tshark),
#                                once after a "\n" separator byte and once after a " " one
#
# OUT_DIR's four directories are emptied first. Needs tshark.
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: $0 EXTRACT_RECORDS OUT_DIR" >&2
  exit 2
fi
extract=$1
out=$2
samples="$(cd "$(dirname "$0")/../.." && pwd)/samples"

for target in fuzz_nflog_decode fuzz_nfqueue_decode fuzz_replay fuzz_comment; do
  rm -rf "${out:?}/$target"
  mkdir -p "$out/$target"
done

recordings=("$samples"/recordings/*.pcap "$samples"/recordings/*.pcapng)
"$extract" "$out/fuzz_nflog_decode" "$out/fuzz_nfqueue_decode" "${recordings[@]}"
cp "${recordings[@]}" "$out/fuzz_replay/"

n=0
while IFS= read -r comment; do
  [ -n "$comment" ] || continue
  n=$((n + 1))
  printf '\n%s' "$comment" >"$out/fuzz_comment/golden-$n-newline"
  printf ' %s' "$comment" >"$out/fuzz_comment/golden-$n-space"
done < <(for f in "$samples"/golden/*.pcapng; do
           tshark -r "$f" -T fields -e frame.comment 2>/dev/null
         done | sort -u)
if [ "$n" -eq 0 ]; then
  echo "make_corpus: tshark found no comments in samples/golden" >&2
  exit 1
fi

for target in fuzz_nflog_decode fuzz_nfqueue_decode fuzz_replay fuzz_comment; do
  echo "make_corpus: $target: $(find "$out/$target" -type f | wc -l) seeds," \
       "$(du -sb "$out/$target" | cut -f1) bytes" >&2
done
