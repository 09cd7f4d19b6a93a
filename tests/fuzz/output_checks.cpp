#include "output_checks.hpp"

#include "decode_into.hpp"

#include <nfcap/comment.hpp>
#include <nfcap/packet.hpp>
#include <nfcap/record_encoder.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>

namespace nfcap::fuzz {
namespace {

// Block types and option codes from the pcapng specification (draft-ietf-opsawg-pcapng).
constexpr std::uint32_t section_header_block = 0x0A0D0D0A;
constexpr std::uint32_t interface_description_block = 1;
constexpr std::uint32_t interface_statistics_block = 5;
constexpr std::uint32_t enhanced_packet_block = 6;
constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;
constexpr std::uint16_t opt_endofopt = 0;
constexpr std::uint16_t opt_comment = 1;
constexpr std::uint16_t if_tsresol = 9;
constexpr std::uint16_t epb_flags = 2;
constexpr std::uint16_t epb_dropcount = 4;
constexpr std::uint16_t epb_packetid = 5;
constexpr std::size_t max_option_length = 65535;

std::size_t padded4(std::size_t n) {
    return (n + 3) & ~std::size_t{3};
}

// Host-order reads from bytes the caller has already bounds-checked.
template <typename T> T load(std::span<const std::byte> bytes, std::size_t at) {
    T value{};
    std::memcpy(&value, bytes.data() + at, sizeof value);
    return value;
}

struct Option {
    std::uint16_t code = 0;
    std::span<const std::byte> value;
};

// Splits an options area; it is empty or ends with opt_endofopt exactly at its end, and every
// option's padding is zero.
std::vector<Option> read_options(std::span<const std::byte> area) {
    std::vector<Option> options;
    std::size_t pos = 0;
    bool ended = area.empty();
    while (pos < area.size()) {
        require(area.size() - pos >= 4, "option header runs past the block");
        const auto code = load<std::uint16_t>(area, pos);
        const auto length = load<std::uint16_t>(area, pos + 2);
        pos += 4;
        if (code == opt_endofopt) {
            require(length == 0, "opt_endofopt with a non-zero length");
            require(pos == area.size(), "bytes after opt_endofopt");
            ended = true;
            break;
        }
        require(padded4(length) <= area.size() - pos, "option value runs past the block");
        const auto value = area.subspan(pos, length);
        for (std::size_t i = length; i < padded4(length); ++i) {
            require(area[pos + i] == std::byte{0}, "option padding is not zero");
        }
        options.push_back({code, value});
        pos += padded4(length);
    }
    require(ended, "options not closed by opt_endofopt");
    return options;
}

std::string_view as_text(std::span<const std::byte> value) {
    return {reinterpret_cast<const char*>(value.data()), value.size()};
}

void check_comment_bytes(std::string_view comment) {
    require(valid_utf8(comment), "comment is not valid UTF-8");
    for (const char c : comment) {
        const auto b = static_cast<unsigned char>(c);
        require(b >= 0x20 && b != 0x7f, "comment holds a control byte");
    }
}

std::uint64_t max_seconds(std::uint32_t nsec) {
    return (std::numeric_limits<std::uint64_t>::max() - nsec) / 1'000'000'000U;
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

} // namespace

void fail(const std::string& what) {
    std::fprintf(stderr, "nfcap fuzz check failed: %s\n", what.c_str());
    std::abort();
}

bool known(std::string_view finding) {
    static const std::set<std::string, std::less<>> names = [] {
        std::set<std::string, std::less<>> list;
        const char* env = std::getenv("NFCAP_FUZZ_KNOWN");
        std::string_view rest = env != nullptr ? env : "";
        while (!rest.empty()) {
            const std::size_t comma = std::min(rest.find(','), rest.size());
            if (comma != 0) {
                list.emplace(rest.substr(0, comma));
            }
            rest.remove_prefix(std::min(comma + 1, rest.size()));
        }
        return list;
    }();
    return names.find(finding) != names.end();
}

bool valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t extra = 0;
        std::uint32_t code = 0;
        std::uint32_t smallest = 0;
        if ((lead & 0xe0U) == 0xc0U) {
            extra = 1, code = lead & 0x1fU, smallest = 0x80;
        } else if ((lead & 0xf0U) == 0xe0U) {
            extra = 2, code = lead & 0x0fU, smallest = 0x800;
        } else if ((lead & 0xf8U) == 0xf0U) {
            extra = 3, code = lead & 0x07U, smallest = 0x10000;
        } else {
            return false; // a continuation byte or 0xf8..0xff as a lead byte
        }
        if (text.size() - i <= extra) {
            return false;
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xc0U) != 0x80U) {
                return false;
            }
            code = (code << 6U) | (next & 0x3fU);
        }
        if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

PcapngContents check_pcapng(std::span<const std::byte> bytes, bool section_header) {
    PcapngContents contents;
    std::size_t offset = 0;
    while (offset < bytes.size()) {
        const auto rest = bytes.subspan(offset);
        require(rest.size() >= 12, "block shorter than its type and two lengths");
        const auto type = load<std::uint32_t>(rest, 0);
        const auto length = load<std::uint32_t>(rest, 4);
        require(length >= 12 && length % 4 == 0, "block length below 12 or not a multiple of 4");
        require(length <= rest.size(), "block length runs past the end of the stream");
        require(load<std::uint32_t>(rest, length - 4) == length, "the two block lengths differ");
        const auto body = rest.subspan(8, length - 12);
        if (section_header) {
            require((offset == 0) == (type == section_header_block),
                    "the Section Header Block is not first, or not alone");
        }
        switch (type) {
        case section_header_block: {
            require(section_header, "a Section Header Block among bare blocks");
            require(body.size() >= 16, "Section Header Block too short");
            require(load<std::uint32_t>(body, 0) == byte_order_magic, "byte-order magic");
            require(load<std::uint16_t>(body, 4) == 1 && load<std::uint16_t>(body, 6) == 0,
                    "pcapng version is not 1.0");
            for (const Option& o : read_options(body.subspan(16))) {
                require(o.code >= 2 && o.code <= 4, "unexpected Section Header Block option");
                require(valid_utf8(as_text(o.value)), "SHB text option is not UTF-8");
            }
            break;
        }
        case interface_description_block: {
            require(body.size() >= 8, "Interface Description Block too short");
            contents.link_types.push_back(static_cast<LinkType>(load<std::uint16_t>(body, 0)));
            require(load<std::uint16_t>(body, 2) == 0, "IDB reserved field is not zero");
            bool nanoseconds = false;
            for (const Option& o : read_options(body.subspan(8))) {
                if (o.code == if_tsresol) {
                    nanoseconds = o.value.size() == 1 && o.value[0] == std::byte{9};
                }
            }
            require(nanoseconds, "IDB without if_tsresol 9");
            break;
        }
        case enhanced_packet_block: {
            require(body.size() >= 20, "Enhanced Packet Block too short");
            const auto interface = load<std::uint32_t>(body, 0);
            const auto captured = load<std::uint32_t>(body, 12);
            const auto original = load<std::uint32_t>(body, 16);
            require(!section_header || interface < contents.link_types.size(),
                    "EPB names an undeclared interface");
            require(captured <= original, "EPB captured length above its original length");
            require(padded4(captured) <= body.size() - 20, "EPB packet data runs past the block");
            for (std::size_t i = captured; i < padded4(captured); ++i) {
                require(body[20 + i] == std::byte{0}, "EPB packet padding is not zero");
            }
            std::string comment;
            bool has_comment = false;
            for (const Option& o : read_options(body.subspan(20 + padded4(captured)))) {
                switch (o.code) {
                case opt_comment:
                    require(!has_comment, "EPB with two comments");
                    require(!o.value.empty() && o.value.size() <= max_option_length,
                            "EPB comment empty or too long");
                    has_comment = true;
                    comment = as_text(o.value);
                    check_comment_bytes(comment);
                    break;
                case epb_flags:
                    require(o.value.size() == 4 && load<std::uint32_t>(o.value, 0) <= 2,
                            "epb_flags is not a bare direction");
                    break;
                case epb_dropcount:
                case epb_packetid:
                    require(o.value.size() == 8, "epb_dropcount/epb_packetid is not 8 bytes");
                    break;
                default:
                    fail("unexpected EPB option " + std::to_string(o.code));
                }
            }
            contents.comments.push_back(std::move(comment));
            contents.data.push_back(body.subspan(20, captured));
            contents.original_lengths.push_back(original);
            contents.packet_interfaces.push_back(interface);
            ++contents.packets;
            break;
        }
        case interface_statistics_block: {
            require(body.size() >= 12, "Interface Statistics Block too short");
            require(!section_header || load<std::uint32_t>(body, 0) < contents.link_types.size(),
                    "ISB names an undeclared interface");
            for (const Option& o : read_options(body.subspan(12))) {
                require(o.code == opt_comment || o.value.size() == 8, "ISB option is not 8 bytes");
            }
            ++contents.statistics;
            break;
        }
        default:
            fail("unexpected block type " + std::to_string(type));
        }
        offset += length;
    }
    return contents;
}

Pairs check_comment(std::string_view comment, std::string_view source) {
    check_comment_bytes(comment);
    Pairs pairs;
    try {
        pairs = parse_comment(comment);
    } catch (const DecodeError& e) {
        fail(std::string("parse_comment refused a comment nfcap wrote: ") + e.what() + ": " +
             std::string(comment));
    }
    require(!pairs.empty() && pairs.front().first == "source" && pairs.front().second == source,
            "comment does not start with its source");
    std::set<std::string> keys;
    for (const auto& [key, value] : pairs) {
        if (!keys.insert(key).second) {
            fail("key " + key + " appears twice in: " + std::string(comment));
        }
    }
    // A kernel timestamp is the default a pcapng comment leaves out; the others are named.
    for (const auto& [key, value] : pairs) {
        require(key != "ts" || value == "receive" || value == "file",
                "ts is neither left out (kernel) nor receive nor file");
    }
    return pairs;
}

const std::string* find_value(const Pairs& pairs, std::string_view key) {
    for (const auto& [k, v] : pairs) {
        if (k == key) {
            return &v;
        }
    }
    return nullptr;
}

// The compact comment is the full one with only keys the record states taken out, in order:
// family (the frame holds the IP packet), an empty prefix, ts=kernel, and with LINUX_SLL2 the
// hardware type and address (its header holds them).
void check_left_out(const std::string& full, const Pairs& compact, LinkType type) {
    Pairs all;
    try {
        all = parse_comment(full);
    } catch (const DecodeError& e) {
        fail(std::string("parse_comment refused a full comment: ") + e.what());
    }
    std::size_t next = 0;
    for (const auto& [key, value] : all) {
        if (next < compact.size() && compact[next].first == key) {
            require(compact[next].second == value, "a key kept its name but not its value");
            ++next;
            continue;
        }
        const bool may_go = (key == "family" && type != LinkType::nflog) ||
                            (key == "prefix" && value.empty()) ||
                            (key == "ts" && value == "kernel") ||
                            ((key == "hwtype" || key == "hwaddr") && type == LinkType::linux_sll2);
        if (!may_go) {
            fail("the comment left out a key the record does not state: " + key);
        }
    }
    require(next == compact.size(), "the compact comment has a key the full one lacks");
}

void check_encodings(const Packet& packet, std::span<const std::byte> record,
                     std::string_view source, std::string_view verdict) {
    struct Encoding {
        LinkType type;
        std::uint32_t snaplen;
    };
    constexpr std::array<Encoding, 4> encodings{{{LinkType::linux_sll2, 262144},
                                                 {LinkType::raw, 262144},
                                                 {LinkType::nflog, 262144},
                                                 {LinkType::linux_sll2, 40}}};
    const bool time_too_large =
        packet.timestamp &&
        static_cast<std::uint64_t>(packet.timestamp->sec) > max_seconds(packet.timestamp->nsec);
    for (const Encoding& e : encodings) {
        const std::string where =
            std::string(link_type_name(e.type)) + ", snaplen " + std::to_string(e.snaplen) + ": ";
        // What the encoder will put in the block: the payload cut to the snaplen (not for
        // NFLOG, which keeps the record whole) and the comment for that cut packet.
        Packet cut = packet;
        if (e.type != LinkType::nflog && cut.payload.size() > e.snaplen) {
            cut.payload = cut.payload.first(e.snaplen);
        }
        const CommentContext full_context{
            source, nullptr, packet.timestamp ? TimestampSource::kernel : TimestampSource::file,
            verdict, packet.timestamp.value_or(Timestamp{1, 0})};
        std::string full; // every key, as text and JSON output have it
        append_comment(full, cut, full_context);
        // What a pcapng record's comment holds: the keys the record itself states left out.
        CommentContext compact_context = full_context;
        compact_context.leave_out_implied = true;
        compact_context.hw_in_link_header = e.type == LinkType::linux_sll2;
        compact_context.payload_is_frame =
            e.type == LinkType::linux_sll2 || e.type == LinkType::raw;
        std::string expected;
        append_comment(expected, cut, compact_context);
        const bool comment_too_long = expected.size() > max_option_length;

        RecordEncoder encoder(e.type, e.snaplen);
        RecordContext context;
        context.source = source;
        context.fallback_time = Timestamp{1, 0};
        context.fallback_source = TimestampSource::file;
        context.verdict = verdict;
        ByteBuffer out;
        EncodeResult result{};
        try {
            result = encoder.append(out, packet, record, context);
        } catch (const EncodeError& error) {
            if (!comment_too_long && !time_too_large) {
                fail(where + "RecordEncoder refused a decoded record: " + error.what());
            }
            require(out.empty(), "a refused record left bytes in the buffer");
            continue;
        }
        if (result == EncodeResult::unsupported) {
            require(e.type == LinkType::raw, "only RAW may refuse a record");
            require(out.empty(), "an unsupported record left bytes in the buffer");
            continue;
        }
        if (comment_too_long || time_too_large) {
            fail(where + "RecordEncoder wrote a record pcapng cannot hold (comment of " +
                 std::to_string(expected.size()) + " bytes or timestamp past 2^64 ns)");
        }
        const PcapngContents contents = check_pcapng(out, false);
        require(contents.packets == 1 && contents.link_types.empty() && contents.statistics == 0,
                "append wrote something other than one Enhanced Packet Block");
        const Pairs pairs = check_comment(contents.comments.front(), source);
        require(contents.comments.front() == expected, "the comment is not the compact one");
        check_left_out(full, pairs, e.type);
        const std::string* prefix = find_value(pairs, "prefix");
        require((packet.has_prefix && !packet.prefix.empty()) == (prefix != nullptr),
                "prefix key present iff a prefix that is not empty");
        require(prefix == nullptr || *prefix == packet.prefix, "prefix does not round-trip");
        const std::string* secctx = find_value(pairs, "secctx");
        require(packet.secctx.empty() == (secctx == nullptr), "secctx key present iff secctx");
        require(secctx == nullptr || *secctx == packet.secctx, "secctx does not round-trip");

        const auto data = contents.data.front();
        const std::uint32_t original = contents.original_lengths.front();
        switch (e.type) {
        case LinkType::nflog:
            require(same_bytes(data, record) && original == record.size(),
                    "NFLOG block does not hold the record verbatim");
            break;
        case LinkType::raw:
            require(same_bytes(data, cut.payload) && original == packet.original_length,
                    "RAW block does not hold the payload");
            break;
        default:
            require(data.size() == sll2_header_size + cut.payload.size() &&
                        same_bytes(data.subspan(sll2_header_size), cut.payload) &&
                        // saturating at 2^32 - 1: a claimed length near 2^32 must not wrap
                        original == std::min<std::uint64_t>(std::uint64_t{packet.original_length} +
                                                                sll2_header_size,
                                                            UINT32_MAX),
                    "LINUX_SLL2 block does not hold the cooked header and the payload");
            break;
        }
    }
}

namespace {

// The block of `packet` with every key in its comment, or empty when it cannot be encoded.
ByteBuffer block_of(RecordKind kind, const Packet& packet, std::span<const std::byte> record) {
    RecordEncoder encoder(LinkType::linux_sll2, 262144);
    RecordContext context;
    context.source = kind == RecordKind::nflog ? "nflog:1" : "nfqueue:1";
    ByteBuffer out;
    try {
        (void)encoder.append(out, packet, record, context);
    } catch (const EncodeError&) {
        out.clear();
    }
    return out;
}

} // namespace

void check_repeated(RecordKind kind, std::span<const std::byte> record, std::uint32_t original,
                    const Packet& expected) {
    detail::RepeatedDecoder decoder(kind);
    (void)decoder.decode(record, original);
    const Packet& again = decoder.decode(record, original);
    require(block_of(kind, again, record) == block_of(kind, expected, record),
            "a repeated record decodes to another block than the plain decoder's");
}

} // namespace nfcap::fuzz
