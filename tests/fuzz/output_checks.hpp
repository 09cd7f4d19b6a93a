#pragma once
// Checks shared by the fuzz targets on what nfcap writes: pcapng blocks read back field by
// field, comments that must parse, and a decoded record encoded in every link type. A failed
// check prints one line naming it and aborts, which libFuzzer reports as a crash with the input.

#include <nfcap/netlink.hpp>
#include <nfcap/packet.hpp>
#include <nfcap/pcapng.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nfcap::fuzz {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Prints "nfcap fuzz check failed: <what>" to stderr and aborts.
[[noreturn]] void fail(const std::string& what);

inline void require(bool condition, const char* what) {
    if (!condition) {
        fail(what);
    }
}

// True when the environment variable NFCAP_FUZZ_KNOWN (a comma-separated list) names `finding`.
// While a reported finding is not fixed yet, the check it trips can be made to let it pass when
// known("<name of its regression input>"), so that a campaign can look past it for new ones;
// the bypass goes when the fix lands. run.sh and CI never set the variable.
bool known(std::string_view finding);

// True when `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view text);

// What a pcapng byte stream held, as check_pcapng() read it.
struct PcapngContents {
    std::vector<LinkType> link_types;             // one per Interface Description Block, in order
    std::vector<std::string> comments;            // one per Enhanced Packet Block ("" when none)
    std::vector<std::span<const std::byte>> data; // each EPB's captured bytes (into `bytes`)
    std::vector<std::uint32_t> original_lengths;  // each EPB's original length
    std::vector<std::uint32_t> packet_interfaces; // each EPB's interface id
    std::size_t packets = 0;
    std::size_t statistics = 0;
};

// Reads a pcapng stream as nfcap writes it (host byte order, one section when
// `section_header` is true, otherwise bare blocks) and checks every block: both length fields
// equal and cover the block, fixed fields inside it, options well formed and closed by
// opt_endofopt, packet and statistics blocks naming a declared interface, captured length not
// above the original length, comments valid UTF-8 without control bytes.
PcapngContents check_pcapng(std::span<const std::byte> bytes, bool section_header);

// Parses a comment nfcap wrote and checks the grammar's promises: it parses, the source comes
// first and equals `source`, no key appears twice, `ts` is present. Returns the pairs.
Pairs check_comment(std::string_view comment, std::string_view source);

// The value of `key` in `pairs`, or null.
const std::string* find_value(const Pairs& pairs, std::string_view key);

// Encodes a decoded record as an Enhanced Packet Block in every link type (LINUX_SLL2, RAW,
// NFLOG, and LINUX_SLL2 again with a small snaplen that cuts the payload) and checks each
// block, its captured bytes and its comment (prefix and secctx byte for byte). The encoder may
// refuse only what the format cannot hold: a comment over 65535 bytes or a timestamp beyond 64
// bits of nanoseconds; RAW may refuse a record that is not IP. Anything else aborts.
void check_encodings(const Packet& packet, std::span<const std::byte> record,
                     std::string_view source, std::string_view verdict);

// The recorder's decoder (detail::RepeatedDecoder of `kind`), which reuses the decode of a
// record that repeats the last one, must give `record` decoded a second time the same block as
// `expected`, the plain decoder's Packet of it.
void check_repeated(RecordKind kind, std::span<const std::byte> record, std::uint32_t original,
                    const Packet& expected);

} // namespace nfcap::fuzz
