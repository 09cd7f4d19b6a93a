#include <nfcap/recording_reader.hpp>

#include "byte_reader.hpp"

#include "pcapng_format.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

namespace nfcap {
namespace {

using namespace pcapng_format;

// pcap magic numbers as a little-endian read of the first four bytes sees them.
constexpr std::uint32_t pcap_micro = 0xa1b2c3d4;
constexpr std::uint32_t pcap_micro_swapped = 0xd4c3b2a1;
constexpr std::uint32_t pcap_nano = 0xa1b23c4d;
constexpr std::uint32_t pcap_nano_swapped = 0x4d3cb2a1;
constexpr std::size_t pcap_file_header = 24;
constexpr std::size_t pcap_record_header = 16;

// pcapng's block and option numbers are in pcapng_format.hpp.
constexpr std::size_t block_frame = 12; // type, length before the body, length after it
constexpr std::size_t section_header_minimum = 28;

constexpr std::size_t first_buffer = 64U << 10U;
constexpr std::uint32_t nanoseconds_per_second = 1'000'000'000;

std::string hex(std::uint32_t v) {
    std::array<char, 16> text{};
    std::snprintf(text.data(), text.size(), "0x%08x", v);
    return text.data();
}

std::string n(std::uint64_t v) {
    return std::to_string(v);
}

std::uint32_t little32(std::span<const std::byte> four) {
    return ByteReader(four).u32(std::endian::little);
}

bool packet_block(std::uint32_t type) {
    return type == epb_block_type || type == spb_block_type || type == pb_block_type;
}

std::string block_name(std::uint32_t type) {
    switch (type) {
    case shb_block_type:
        return "Section Header Block";
    case idb_block_type:
        return "Interface Description Block";
    case epb_block_type:
        return "Enhanced Packet Block";
    case spb_block_type:
        return "Simple Packet Block";
    case pb_block_type:
        return "Packet Block";
    default:
        return "block of type " + hex(type);
    }
}

// "a Simple Packet Block", "an Enhanced Packet Block".
std::string a_block(std::uint32_t type) {
    const std::string name = block_name(type);
    return (name[0] == 'E' || name[0] == 'I' ? "an " : "a ") + name;
}

std::uint64_t power_of_ten(unsigned exponent) {
    std::uint64_t v = 1;
    for (unsigned i = 0; i < exponent; ++i) {
        v *= 10;
    }
    return v;
}

// seconds (unsigned) + offset (signed), saturated to what Timestamp holds: a time beyond it is
// refused later, per record, by the encoder.
std::int64_t add_seconds(std::uint64_t seconds, std::int64_t offset) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    const std::int64_t base =
        seconds > static_cast<std::uint64_t>(max) ? max : static_cast<std::int64_t>(seconds);
    std::int64_t sum = 0;
    if (__builtin_add_overflow(base, offset, &sum)) {
        return offset < 0 ? std::numeric_limits<std::int64_t>::min() : max;
    }
    return sum;
}

// LINKTYPE_NFLOG keeps the TLV length and type in the writer's byte order: a record from a file
// in the other byte order gets them swapped in place, as libpcap and Wireshark read such files.
// The walk stops where libpcap's stops (an NFLOG version other than 0, a TLV shorter than its
// header, a TLV running past the record), so both readers see the same bytes.
void swap_nflog_tlv_headers(std::span<std::byte> record) {
    constexpr std::size_t nflog_header = 4;
    constexpr std::size_t tlv_header = 4;
    if (record.size() < nflog_header || record[1] != std::byte{0}) {
        return;
    }
    std::size_t at = nflog_header;
    while (record.size() - at >= tlv_header) {
        std::swap(record[at], record[at + 1]);
        std::swap(record[at + 2], record[at + 3]);
        std::size_t size = ByteReader(record.subspan(at, 2)).host16();
        size = (size + 3U) & ~std::size_t{3};
        if (size < tlv_header || record.size() - at < size) {
            return;
        }
        at += size;
    }
}

// The first opt_comment among a packet block's options, read in `order`; empty when there is
// none. The walk ends at opt_endofopt or at an option running past the block.
std::string_view first_comment(std::span<const std::byte> options, std::endian order) {
    ByteReader r(options);
    while (r.remaining() >= 4) {
        const std::uint16_t code = r.u16(order);
        const std::uint16_t length = r.u16(order);
        if (code == opt_endofopt || length > r.remaining()) {
            break;
        }
        const auto value = r.bytes(length);
        if (code == opt_comment) {
            return {reinterpret_cast<const char*>(value.data()), value.size()}; // same bytes
        }
        r.skip(std::min<std::size_t>((4U - length % 4U) % 4U, r.remaining()));
    }
    return {};
}

} // namespace

std::size_t MemoryStream::read(std::span<std::byte> into) {
    const std::size_t n = std::min(into.size(), data_.size());
    std::copy_n(data_.begin(), n, into.begin());
    data_ = data_.subspan(n);
    return n;
}

RecordingReader::RecordingReader(ByteStream& in) : in_(in) {
    const std::size_t have = want(4);
    const std::uint32_t magic = have == 4 ? little32(front(4)) : 0;
    if (magic == shb_block_type) {
        format_ = RecordingFormat::pcapng;
        open_section();
        RecordingRecord record;
        // Blocks up to the first interface; a record before it is damage (it names nothing).
        if (next_pcapng(record) || interfaces_.empty()) {
            throw DecodeError("the pcapng file has no Interface Description Block");
        }
        opening_ = false;
        return;
    }
    if (magic == pcap_micro || magic == pcap_micro_swapped || magic == pcap_nano ||
        magic == pcap_nano_swapped) {
        open_pcap(magic);
        return;
    }
    throw DecodeError("unknown file format");
}

std::size_t RecordingReader::fill(std::size_t n) {
    while (end_ - begin_ < n && !at_end_) {
        if (buffer_.size() - begin_ < n && begin_ != 0) {
            // Move the unread bytes to the front (spans handed out before are now invalid).
            std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (end_ == buffer_.size()) {
            // Grow only as bytes arrive, so a corrupt length costs no more memory than the
            // bytes that are really there.
            buffer_.resize(std::max(first_buffer, std::min(buffer_.size() * 2, n + first_buffer)));
        }
        const std::size_t got = in_.read(std::span(buffer_).subspan(end_));
        if (got == 0) {
            at_end_ = true;
        }
        end_ += got;
    }
    return std::min(n, end_ - begin_);
}

void RecordingReader::consume(std::size_t count) {
    begin_ += count;
    offset_ += count;
}

void RecordingReader::damaged_record(const std::string& why) const {
    throw DecodeError("record " + n(count_ + 1) + " is damaged: " + why + " (block at offset " +
                      n(block_offset_) + ")");
}

void RecordingReader::damaged_after(const std::string& why) const {
    throw DecodeError(
        "the file is damaged " +
        (count_ == 0 ? std::string("before its first record") : "after record " + n(count_)) +
        ": " + why + " (at offset " + n(block_offset_) + ")");
}

// --- pcap ---------------------------------------------------------------------------------

void RecordingReader::open_pcap(std::uint32_t magic) {
    format_ = RecordingFormat::pcap;
    const bool swapped = magic == pcap_micro_swapped || magic == pcap_nano_swapped;
    order_ = swapped ? std::endian::big : std::endian::little;
    nanoseconds_ = magic == pcap_nano || magic == pcap_nano_swapped;
    const std::size_t have = want(pcap_file_header);
    if (have < pcap_file_header) {
        throw DecodeError("the pcap file header is cut short (" + n(have) + " of " +
                          n(pcap_file_header) + " bytes)");
    }
    ByteReader r(front(pcap_file_header));
    r.skip(4);
    const std::uint16_t major = r.u16(order_);
    const std::uint16_t minor = r.u16(order_);
    if (major != 2) {
        throw DecodeError("pcap version " + n(major) + "." + n(minor) +
                          " is not supported (2.4 is the format)");
    }
    r.skip(8); // thiszone, sigfigs: always 0 in practice
    snaplen_ = r.u32(order_);
    link_type_ = r.u32(order_) & 0xffffU; // the upper bits carry FCS information
    consume(pcap_file_header);
}

bool RecordingReader::next_pcap(RecordingRecord& record) {
    record.comment = {};
    record.interface_name = {};
    const std::size_t have = want(pcap_record_header);
    if (have == 0) {
        return false;
    }
    block_offset_ = offset_;
    if (have < pcap_record_header) {
        damaged_record("the file ends inside its 16-byte record header (" + n(have) +
                       " bytes are there)");
    }
    ByteReader r(front(pcap_record_header));
    const std::uint32_t seconds = r.u32(order_);
    const std::uint32_t fraction = r.u32(order_);
    const std::uint32_t captured = r.u32(order_);
    const std::uint32_t original = r.u32(order_);
    if (captured > max_record_size) {
        damaged_record("its captured length " + n(captured) + " is absurd (more than " +
                       n(max_record_size) + " bytes)");
    }
    const std::size_t total = pcap_record_header + captured;
    if (const std::size_t there = want(total); there < total) {
        damaged_record("the file ends inside it: its header says " + n(captured) +
                       " captured bytes, " + n(there - pcap_record_header) + " are there");
    }
    // The fraction is normalised: a writer's out-of-range value carries into the seconds.
    const std::uint32_t per_second = nanoseconds_ ? nanoseconds_per_second : 1'000'000U;
    const std::uint32_t scale = nanoseconds_ ? 1U : 1000U;
    ++count_;
    record.number = count_;
    record.data = front(total).subspan(pcap_record_header);
    record.original_length = original;
    // Two divisions only for a fraction out of range: this runs for every record.
    record.time = fraction < per_second
                      ? Timestamp{static_cast<std::int64_t>(seconds), fraction * scale}
                      : Timestamp{static_cast<std::int64_t>(seconds) + fraction / per_second,
                                  (fraction % per_second) * scale};
    record.link_type = link_type_;
    record.interface_id = 0;
    own_order(record);
    consume(total);
    return true;
}

// --- pcapng -------------------------------------------------------------------------------

void RecordingReader::open_section() {
    block_offset_ = offset_;
    const std::size_t have = want(block_frame);
    if (have < block_frame) {
        damaged_after("the file ends inside a Section Header Block (" + n(have) + " bytes)");
    }
    const auto head = front(block_frame);
    const std::uint32_t magic = little32(head.subspan(8, 4));
    if (magic == byte_order_magic) {
        order_ = std::endian::little;
    } else if (ByteReader(head.subspan(8, 4)).be32() == byte_order_magic) {
        order_ = std::endian::big;
    } else {
        damaged_after("a Section Header Block without the byte-order magic (" + hex(magic) + ")");
    }
    const std::uint32_t length = ByteReader(head.subspan(4, 4)).u32(order_);
    if (length < section_header_minimum || length % 4 != 0 || length > max_record_size) {
        damaged_after("a Section Header Block of impossible length " + n(length));
    }
    if (const std::size_t there = want(length); there < length) {
        damaged_after("the file ends inside a Section Header Block (its length says " + n(length) +
                      " bytes, " + n(there) + " are there)");
    }
    ByteReader r(front(length));
    r.skip(12);
    const std::uint16_t major = r.u16(order_);
    if (major != 1) {
        damaged_after("pcapng version " + n(major) + " is not supported (1.0 is the format)");
    }
    const std::uint32_t trailer = ByteReader(front(length).subspan(length - 4)).u32(order_);
    if (trailer != length) {
        damaged_after("the Section Header Block's lengths disagree (" + n(length) +
                      " at the start, " + n(trailer) + " at the end)");
    }
    interfaces_.clear(); // a section's packets name the section's own interfaces
    ++sections_;
    consume(length);
}

void RecordingReader::add_interface(std::span<const std::byte> body) {
    const std::string which = "interface " + n(interfaces_.size()) + " of section " + n(sections_);
    if (body.size() < 8) {
        damaged_after("the Interface Description Block of " + which + " is " + n(body.size()) +
                      " bytes long, shorter than its fixed fields");
    }
    ByteReader r(body);
    Interface interface;
    interface.link_type = r.u16(order_);
    r.skip(2);
    interface.snaplen = r.u32(order_);
    while (r.remaining() >= 4) {
        const std::uint16_t code = r.u16(order_);
        const std::uint16_t length = r.u16(order_);
        if (length > r.remaining()) {
            damaged_after("option " + n(code) + " of " + which + " runs past its block");
        }
        const auto value = r.bytes(length);
        r.skip(std::min<std::size_t>((4U - length % 4U) % 4U, r.remaining()));
        if (code == opt_endofopt) {
            break;
        }
        if (code == if_tsresol && length >= 1) {
            const auto v = std::to_integer<std::uint8_t>(value[0]);
            interface.binary_resolution = (v & 0x80U) != 0;
            interface.exponent = static_cast<std::uint8_t>(v & 0x7fU);
            // 10^19 and 2^63 are the finest units a 64-bit timestamp can count in whole seconds.
            if (interface.exponent > (interface.binary_resolution ? 63 : 19)) {
                damaged_after(which + " has if_tsresol " +
                              (interface.binary_resolution ? "2^-" : "10^-") +
                              n(interface.exponent) + ", finer than 64-bit timestamps can count");
            }
        } else if (code == if_name) {
            interface.name.assign(reinterpret_cast<const char*>(value.data()), // same bytes
                                  value.size());
        } else if (code == if_tsoffset && length == 8) {
            interface.offset_seconds =
                static_cast<std::int64_t>(ByteReader(value).u64(order_)); // two's complement
        }
    }
    if (!interface.binary_resolution) {
        interface.units_per_second = power_of_ten(interface.exponent);
        interface.finer_than_nanoseconds = interface.exponent > 9;
        interface.nanosecond_factor = interface.finer_than_nanoseconds
                                          ? power_of_ten(interface.exponent - 9U)
                                          : power_of_ten(9U - interface.exponent);
    }
    if (opening_) {
        link_type_ = interface.link_type;
        snaplen_ = interface.snaplen;
    }
    interfaces_.push_back(interface);
}

Timestamp RecordingReader::pcapng_time(const Interface& interface, std::uint64_t units) const {
    std::uint64_t seconds = 0;
    std::uint64_t nanoseconds = 0;
    if (interface.binary_resolution) {
        const unsigned e = interface.exponent;
        seconds = e == 0 ? units : units >> e;
        const std::uint64_t fraction = e == 0 ? 0 : units & ((std::uint64_t{1} << e) - 1U);
        // fraction * 10^9 / 2^e without 128-bit arithmetic: fraction = high * 2^32 + low.
        const std::uint64_t high = (fraction >> 32U) * nanoseconds_per_second;
        const std::uint64_t low = (fraction & 0xffffffffU) * nanoseconds_per_second;
        nanoseconds = e < 32 ? low >> e : (high + (low >> 32U)) >> (e - 32U);
    } else {
        seconds = units / interface.units_per_second;
        const std::uint64_t fraction = units - seconds * interface.units_per_second;
        nanoseconds = interface.finer_than_nanoseconds ? fraction / interface.nanosecond_factor
                                                       : fraction * interface.nanosecond_factor;
    }
    return Timestamp{add_seconds(seconds, interface.offset_seconds),
                     static_cast<std::uint32_t>(nanoseconds)};
}

void RecordingReader::packet_record(RecordingRecord& record, std::uint32_t interface_id,
                                    std::span<const std::byte> data, std::uint32_t original,
                                    std::optional<std::uint64_t> units) {
    const Interface& interface = interfaces_[interface_id];
    ++count_;
    record.number = count_;
    record.data = data;
    record.original_length = original;
    record.time = units ? pcapng_time(interface, *units) : Timestamp{};
    record.link_type = interface.link_type;
    record.interface_id = interface_id;
    record.interface_name = interface.name;
}

// The common record: an Enhanced Packet Block in this machine's byte order, whole in the
// buffer, its lengths and its interface in order. Its fields are read as they lie, with no
// byte-order choice and no bounds check per field (about 100 instructions a record less).
// Anything else (another block, the other byte order, a block not read in yet, any
// inconsistency) returns false and takes next_pcapng's checked path, which says what is wrong.
bool RecordingReader::next_native_epb(RecordingRecord& record) {
    constexpr std::size_t fixed = 28; // type, length, interface, time (2), captured, original
    const std::size_t buffered = end_ - begin_;
    if (order_ != std::endian::native || buffered < fixed) {
        return false;
    }
    const std::byte* const at = buffer_.data() + begin_;
    std::array<std::uint32_t, fixed / 4> f{};
    std::memcpy(f.data(), at, fixed);
    const auto [type, length, interface_id, high, low, captured, original] = f;
    if (type != epb_block_type || length > buffered || length < fixed + 4 || length % 4 != 0 ||
        length > max_record_size || captured > length - fixed - 4 ||
        interface_id >= interfaces_.size()) {
        return false;
    }
    std::uint32_t trailer = 0;
    std::memcpy(&trailer, at + length - 4, 4);
    if (trailer != length) {
        return false;
    }
    block_offset_ = offset_;
    packet_record(record, interface_id, {at + fixed, captured}, original,
                  (std::uint64_t{high} << 32U) | low);
    // Padding to 32 bits, then the options (none in most files): the first comment is kept.
    const std::size_t options = fixed + ((captured + 3U) & ~std::uint32_t{3});
    record.comment = options + 4 < length
                         ? first_comment({at + options, length - 4 - options}, order_)
                         : std::string_view{};
    consume(length);
    return true;
}

bool RecordingReader::next_pcapng(RecordingRecord& record) {
    if (next_native_epb(record)) {
        return true;
    }
    for (;;) {
        const std::size_t have = want(8);
        if (have == 0) {
            return false;
        }
        block_offset_ = offset_;
        if (have < 8) {
            damaged_after("the file ends inside a block header (" + n(have) + " of 8 bytes)");
        }
        ByteReader head(front(8));
        const std::uint32_t type = head.u32(order_);
        if (type == shb_block_type) {
            open_section();
            continue;
        }
        const std::uint32_t length = head.u32(order_);
        const bool is_record = packet_block(type);
        const auto bad = [&](const std::string& why) {
            if (is_record) {
                damaged_record(why);
            }
            damaged_after(why);
        };
        if (length < block_frame || length % 4 != 0 || length > max_record_size) {
            bad(a_block(type) + " of impossible length " + n(length));
        }
        if (const std::size_t there = want(length); there < length) {
            bad("the file ends inside " + a_block(type) + " (its length says " + n(length) +
                " bytes, " + n(there) + " are there)");
        }
        const auto block = front(length);
        const std::uint32_t trailer = ByteReader(block.subspan(length - 4)).u32(order_);
        if (trailer != length) {
            bad("the " + block_name(type) + "'s lengths disagree (" + n(length) +
                " at the start, " + n(trailer) + " at the end)");
        }
        const auto body = block.subspan(8, length - block_frame);
        if (type == idb_block_type) {
            add_interface(body);
            consume(length);
            if (opening_) {
                return false; // the constructor waits for the first interface; next() goes on
            }
            continue;
        }
        if (!is_record) {
            consume(length); // name resolution, statistics, journal, custom blocks: not records
            continue;
        }
        ByteReader r(body);
        std::uint32_t interface_id = 0;
        std::uint64_t units = 0;
        std::uint32_t captured = 0;
        std::uint32_t original = 0;
        const std::size_t fixed = type == spb_block_type ? 4 : 20;
        if (body.size() < fixed) {
            bad(a_block(type) + " of " + n(length) + " bytes, shorter than its fixed fields");
        }
        if (type == spb_block_type) {
            original = r.u32(order_);
            // No captured length: the packet fills the block, padding aside.
            captured = static_cast<std::uint32_t>(std::min<std::size_t>(original, r.remaining()));
        } else {
            interface_id = type == epb_block_type ? r.u32(order_) : r.u16(order_);
            if (type == pb_block_type) {
                r.skip(2); // drops count
            }
            const std::uint64_t high = r.u32(order_);
            units = (high << 32U) | r.u32(order_);
            captured = r.u32(order_);
            original = r.u32(order_);
            if (captured > r.remaining()) {
                bad("its captured length " + n(captured) + " does not fit in its " + n(length) +
                    "-byte block");
            }
        }
        if (interface_id >= interfaces_.size()) {
            bad("it names interface " + n(interface_id) + ", but its section declares " +
                n(interfaces_.size()) + " before it");
        }
        packet_record(record, interface_id, r.bytes(captured), original,
                      type == spb_block_type ? std::nullopt : std::optional(units));
        record.comment = {};
        if (type == epb_block_type) {
            // Padding to 32 bits, then the options: the first comment is kept.
            r.skip(std::min<std::size_t>((4U - captured % 4U) % 4U, r.remaining()));
            record.comment = first_comment(body.subspan(r.position()), order_);
        }
        own_order(record);
        consume(length);
        return true;
    }
}

void RecordingReader::own_order(RecordingRecord& record) {
    constexpr std::uint32_t linktype_nflog = 239;
    if (record.link_type != linktype_nflog || order_ == std::endian::native) {
        return;
    }
    // record.data points into buffer_, which the reader owns: swap there.
    const auto at = static_cast<std::size_t>(record.data.data() - buffer_.data());
    swap_nflog_tlv_headers(std::span(buffer_).subspan(at, record.data.size()));
}

bool RecordingReader::next(RecordingRecord& record) {
    return format_ == RecordingFormat::pcap ? next_pcap(record) : next_pcapng(record);
}

} // namespace nfcap
