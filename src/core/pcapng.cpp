#include <nfcap/pcapng.hpp>

#include "pcapng_format.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

// Block and option layouts follow the pcapng specification (draft-ietf-opsawg-pcapng), sections
// 4.1 (SHB), 4.2 (IDB), 4.3 (EPB), 4.6 (ISB) and 3.5 (options). Every block is built in three
// steps: validate everything and compute the exact size (nothing written yet, so a refusal
// leaves the caller's buffer untouched), grow the buffer once, then write field by field with
// memcpy. Both length fields are filled from the number of bytes actually written.

namespace nfcap {
namespace {

using namespace pcapng_format;

constexpr std::uint16_t version_major = 1;
constexpr std::uint16_t version_minor = 0;
constexpr std::int64_t section_length_unknown = -1;

// if_tsresol = 9: timestamps count units of 10^-9 s (most significant bit clear: power of 10).
constexpr std::uint8_t tsresol_nanoseconds = 9;

constexpr std::size_t max_option_length = std::numeric_limits<std::uint16_t>::max();
constexpr std::uint64_t max_block_length = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t nanoseconds_per_second = 1'000'000'000;

// Fixed parts of each block, including the 4-byte type and both 4-byte length fields.
constexpr std::uint64_t block_framing = 4 + 4 + 4;             // type, length, trailing length
constexpr std::uint64_t shb_fixed = block_framing + 4 + 4 + 8; // magic, version, section len
constexpr std::uint64_t idb_fixed = block_framing + 2 + 2 + 4; // linktype, reserved, snaplen
constexpr std::uint64_t epb_fixed = block_framing + 5 * 4;     // if id, ts hi/lo, caplen, len
constexpr std::uint64_t isb_fixed = block_framing + 3 * 4;     // if id, ts hi/lo
constexpr std::uint64_t option_header = 2 + 2;                 // code, length
constexpr std::uint64_t end_of_options = option_header;

constexpr std::uint64_t padded4(std::uint64_t n) {
    return (n + 3) & ~std::uint64_t{3};
}

[[noreturn]] void refuse(const char* block, const std::string& why) {
    throw EncodeError(std::string("pcapng ") + block + ": " + why);
}

// Why a timestamp cannot be written, out of line: to_nanoseconds runs for every record.
[[noreturn, gnu::cold, gnu::noinline]] void refuse_timestamp(const Timestamp& ts, const char* block,
                                                             const char* what) {
    if (ts.sec < 0) {
        refuse(block, std::string(what) + " is before 1970 (" + std::to_string(ts.sec) + " s)");
    }
    if (ts.nsec >= nanoseconds_per_second) {
        refuse(block, std::string(what) + " has " + std::to_string(ts.nsec) + " ns (>= 1 s)");
    }
    refuse(block, std::string(what) + " does not fit 64 bits of nanoseconds");
}

// Nanoseconds since the epoch, the unit of every timestamp this encoder writes (if_tsresol 9).
// Overflow checks rather than a division.
[[gnu::always_inline]] inline std::uint64_t to_nanoseconds(const Timestamp& ts, const char* block,
                                                           const char* what) {
    std::uint64_t ns = 0;
    if (ts.sec < 0 || ts.nsec >= nanoseconds_per_second ||
        __builtin_mul_overflow(static_cast<std::uint64_t>(ts.sec), nanoseconds_per_second, &ns) ||
        __builtin_add_overflow(ns, std::uint64_t{ts.nsec}, &ns)) {
        refuse_timestamp(ts, block, what);
    }
    return ns;
}

[[noreturn, gnu::cold, gnu::noinline]] void refuse_option(std::size_t value_length,
                                                          const char* block, const char* name) {
    refuse(block, std::string(name) + " is " + std::to_string(value_length) +
                      " bytes; an option holds at most 65535");
}

// Size of one option (header, value, padding), refusing a value its 16-bit length cannot hold.
std::uint64_t option_size(std::size_t value_length, const char* block, const char* name) {
    if (value_length > max_option_length) {
        refuse_option(value_length, block, name);
    }
    return option_header + padded4(value_length);
}

std::uint64_t text_option_size(std::string_view value, const char* block, const char* name) {
    return value.empty() ? 0 : option_size(value.size(), block, name);
}

void check_block_length(std::uint64_t total, const char* block) {
    if (total > max_block_length) {
        refuse(block, "block would be " + std::to_string(total) +
                          " bytes; the length field holds at most 4294967295");
    }
}

// Writes into bytes the buffer has already been grown to hold; it never allocates. Padding is
// written as zeros explicitly (the spec requires zero padding) rather than relying on the
// resize having zeroed it.
class BlockWriter {
  public:
    explicit BlockWriter(std::byte* at) : begin_(at), pos_(at) {}

    void u16(std::uint16_t v) { raw(&v, sizeof v); }
    void u32(std::uint32_t v) { raw(&v, sizeof v); }
    void u64(std::uint64_t v) { raw(&v, sizeof v); }
    void i64(std::int64_t v) { raw(&v, sizeof v); }

    // A 64-bit timestamp as pcapng writes it: high 32 bits, then low 32 bits, each host order.
    void timestamp(std::uint64_t ns) {
        u32(static_cast<std::uint32_t>(ns >> 32U));
        u32(static_cast<std::uint32_t>(ns & 0xFFFFFFFFU));
    }

    void bytes(std::span<const std::byte> data) { raw(data.data(), data.size()); }

    // Every pad is followed by at least the 4-byte trailing length within the block, so four
    // zero bytes always fit; only `fill` of them are kept (a call to memset for 0-3 bytes cost
    // more than the rest of the padding).
    void pad_to_4() {
        const auto fill = static_cast<std::size_t>(padded4(written()) - written());
        constexpr std::uint32_t zero = 0;
        std::memcpy(pos_, &zero, sizeof zero);
        pos_ += fill;
    }

    // Option lengths were checked while sizing the block, so the narrowing casts are exact.
    void option(std::uint16_t code, const void* value, std::size_t length) {
        u16(code);
        u16(static_cast<std::uint16_t>(length));
        raw(value, length);
        pad_to_4();
    }
    void text_option(std::uint16_t code, std::string_view value) {
        if (!value.empty()) {
            option(code, value.data(), value.size());
        }
    }
    void u32_option(std::uint16_t code, std::uint32_t v) { option(code, &v, sizeof v); }
    void u64_option(std::uint16_t code, std::uint64_t v) { option(code, &v, sizeof v); }
    void timestamp_option(std::uint16_t code, std::uint64_t ns) {
        u16(code);
        u16(8);
        timestamp(ns);
    }
    void end_of_options() {
        u16(opt_endofopt);
        u16(0);
    }

    std::size_t written() const { return static_cast<std::size_t>(pos_ - begin_); }
    std::byte* block_begin() const { return begin_; }

  private:
    void raw(const void* src, std::size_t n) {
        if (n != 0) { // memcpy from an empty span's null pointer would be undefined
            std::memcpy(pos_, src, n);
            pos_ += n;
        }
    }

    std::byte* begin_;
    std::byte* pos_;
};

// Grows `out` once for a block of `total` bytes and returns a writer positioned at the block's
// first byte. The caller writes the block type and a placeholder length first.
[[gnu::always_inline]] inline BlockWriter begin_block(ByteBuffer& out, std::uint64_t total,
                                                      std::uint32_t type) {
    const std::size_t start = out.size();
    if (total > out.max_size() - start) {
        throw EncodeError("pcapng: buffer cannot grow by " + std::to_string(total) + " bytes");
    }
    out.resize(start + static_cast<std::size_t>(total)); // geometric growth, one per block
    BlockWriter w(out.data() + start);
    w.u32(type);
    w.u32(0); // block total length, filled in by finish_block
    return w;
}

// Writes the trailing length and patches the leading one with what was actually written.
[[noreturn, gnu::cold, gnu::noinline]] void wrong_block_size(ByteBuffer& out, std::size_t written,
                                                             std::uint64_t expected) {
    // Only a bug in this file can get here; do not leave a corrupt block behind.
    out.resize(out.size() - static_cast<std::size_t>(expected));
    throw std::logic_error("pcapng encoder wrote " + std::to_string(written) +
                           " bytes for a block sized " + std::to_string(expected));
}

[[gnu::always_inline]] inline void finish_block(ByteBuffer& out, BlockWriter& w,
                                                std::uint64_t expected) {
    const auto length = static_cast<std::uint32_t>(w.written() + 4);
    w.u32(length);
    if (w.written() != expected) {
        wrong_block_size(out, w.written(), expected);
    }
    std::memcpy(w.block_begin() + 4, &length, sizeof length);
}

} // namespace

void append_section_header(ByteBuffer& out, const SectionHeader& shb) {
    constexpr const char* block = "section header";
    const std::uint64_t options = text_option_size(shb.hardware, block, "shb_hardware") +
                                  text_option_size(shb.os, block, "shb_os") +
                                  text_option_size(shb.user_application, block, "shb_userappl");
    const std::uint64_t total = shb_fixed + options + (options != 0 ? end_of_options : 0);
    check_block_length(total, block);

    BlockWriter w = begin_block(out, total, shb_block_type);
    w.u32(byte_order_magic);
    w.u16(version_major);
    w.u16(version_minor);
    w.i64(section_length_unknown); // not known while streaming
    w.text_option(shb_hardware, shb.hardware);
    w.text_option(shb_os, shb.os);
    w.text_option(shb_userappl, shb.user_application);
    if (options != 0) {
        w.end_of_options();
    }
    finish_block(out, w, total);
}

void append_interface_description(ByteBuffer& out, const InterfaceDescription& idb) {
    constexpr const char* block = "interface description";
    const std::uint64_t options = text_option_size(idb.name, block, "if_name") +
                                  text_option_size(idb.description, block, "if_description") +
                                  option_size(1, block, "if_tsresol") +
                                  text_option_size(idb.os, block, "if_os");
    const std::uint64_t total = idb_fixed + options + end_of_options;
    check_block_length(total, block);

    BlockWriter w = begin_block(out, total, idb_block_type);
    w.u16(static_cast<std::uint16_t>(idb.link_type));
    w.u16(0); // reserved
    w.u32(idb.snaplen);
    w.text_option(if_name, idb.name);
    w.text_option(if_description, idb.description);
    w.option(if_tsresol, &tsresol_nanoseconds, sizeof tsresol_nanoseconds);
    w.text_option(if_os, idb.os);
    w.end_of_options();
    finish_block(out, w, total);
}

void append_enhanced_packet(ByteBuffer& out, const EnhancedPacket& epb) {
    constexpr const char* block = "enhanced packet";
    const std::uint64_t ns = to_nanoseconds(epb.timestamp, block, "timestamp");

    // Each span is checked on its own first so that the sum below cannot wrap.
    if (epb.link_header.size() > max_block_length || epb.payload.size() > max_block_length) {
        refuse(block, "packet data longer than a block can hold");
    }
    const std::uint64_t captured =
        std::uint64_t{epb.link_header.size()} + std::uint64_t{epb.payload.size()};
    if (captured > epb.original_length) {
        refuse(block, "original length " + std::to_string(epb.original_length) +
                          " is less than the " + std::to_string(captured) + " bytes captured");
    }
    // Direction 3 is undefined in the spec's two-bit field; any wider value would set the
    // reception-type and FCS bits. Neither would read back as what was meant.
    if (epb.direction && *epb.direction != EpbDirection::unknown &&
        *epb.direction != EpbDirection::inbound && *epb.direction != EpbDirection::outbound) {
        refuse(block, "epb_flags direction " +
                          std::to_string(static_cast<std::uint32_t>(*epb.direction)) +
                          " is not 0, 1 or 2");
    }

    std::uint64_t options = text_option_size(epb.comment, block, "opt_comment");
    if (epb.direction) {
        options += option_size(4, block, "epb_flags");
    }
    if (epb.dropcount) {
        options += option_size(8, block, "epb_dropcount");
    }
    if (epb.packet_id) {
        options += option_size(8, block, "epb_packetid");
    }
    const std::uint64_t total =
        epb_fixed + padded4(captured) + options + (options != 0 ? end_of_options : 0);
    check_block_length(total, block); // also bounds `captured` to 32 bits

    BlockWriter w = begin_block(out, total, epb_block_type);
    w.u32(epb.interface_id);
    w.timestamp(ns);
    w.u32(static_cast<std::uint32_t>(captured));
    w.u32(epb.original_length);
    w.bytes(epb.link_header);
    w.bytes(epb.payload);
    w.pad_to_4();
    w.text_option(opt_comment, epb.comment);
    if (epb.direction) {
        // Bits 0-1 are the direction; reception type and FCS length (bits 2-8) stay unknown.
        w.u32_option(epb_flags, static_cast<std::uint32_t>(*epb.direction));
    }
    if (epb.dropcount) {
        w.u64_option(epb_dropcount, *epb.dropcount);
    }
    if (epb.packet_id) {
        w.u64_option(epb_packetid, *epb.packet_id);
    }
    if (options != 0) {
        w.end_of_options();
    }
    finish_block(out, w, total);
}

void append_interface_statistics(ByteBuffer& out, const InterfaceStatistics& isb) {
    constexpr const char* block = "interface statistics";
    const std::uint64_t ns = to_nanoseconds(isb.timestamp, block, "timestamp");
    const std::uint64_t start_ns =
        isb.start_time ? to_nanoseconds(*isb.start_time, block, "isb_starttime") : 0;
    const std::uint64_t end_ns =
        isb.end_time ? to_nanoseconds(*isb.end_time, block, "isb_endtime") : 0;

    // Every ISB option but the comment has an 8-byte value (a timestamp or a counter).
    constexpr std::uint64_t eight_byte_option = option_header + 8;
    std::uint64_t options = text_option_size(isb.comment, block, "opt_comment");
    for (bool present :
         {isb.start_time.has_value(), isb.end_time.has_value(), isb.received.has_value(),
          isb.dropped.has_value(), isb.filter_accepted.has_value(), isb.os_dropped.has_value(),
          isb.delivered.has_value()}) {
        options += present ? eight_byte_option : 0;
    }
    const std::uint64_t total = isb_fixed + options + (options != 0 ? end_of_options : 0);
    check_block_length(total, block);

    BlockWriter w = begin_block(out, total, isb_block_type);
    w.u32(isb.interface_id);
    w.timestamp(ns);
    w.text_option(opt_comment, isb.comment);
    if (isb.start_time) {
        w.timestamp_option(isb_starttime, start_ns);
    }
    if (isb.end_time) {
        w.timestamp_option(isb_endtime, end_ns);
    }
    const auto counter = [&w](std::uint16_t code, const std::optional<std::uint64_t>& value) {
        if (value) {
            w.u64_option(code, *value);
        }
    };
    counter(isb_ifrecv, isb.received);
    counter(isb_ifdrop, isb.dropped);
    counter(isb_filteraccept, isb.filter_accepted);
    counter(isb_osdrop, isb.os_dropped);
    counter(isb_usrdeliv, isb.delivered);
    if (options != 0) {
        w.end_of_options();
    }
    finish_block(out, w, total);
}

std::string_view link_type_name(LinkType type) {
    switch (type) {
    case LinkType::linux_sll2:
        return "LINUX_SLL2";
    case LinkType::raw:
        return "RAW";
    case LinkType::nflog:
        return "NFLOG";
    case LinkType::netlink:
        return "NETLINK";
    }
    return "?";
}

void append_pcap_header(ByteBuffer& out, LinkType link_type, std::uint32_t snaplen) {
    constexpr std::uint32_t magic_microseconds = 0xa1b2c3d4;
    constexpr std::uint16_t version_major_pcap = 2;
    constexpr std::uint16_t version_minor_pcap = 4;
    const std::uint32_t link = static_cast<std::uint32_t>(link_type);
    const std::uint32_t zero = 0; // thiszone, sigfigs
    const std::uint32_t length = snaplen == 0 ? 262144U : snaplen;
    std::byte header[24];
    std::byte* p = header;
    const auto put = [&p](const void* v, std::size_t n) {
        std::memcpy(p, v, n);
        p += n;
    };
    put(&magic_microseconds, 4);
    put(&version_major_pcap, 2);
    put(&version_minor_pcap, 2);
    put(&zero, 4);
    put(&zero, 4);
    put(&length, 4);
    put(&link, 4);
    out.insert(out.end(), header, header + sizeof header);
}

void append_pcap_record(ByteBuffer& out, Timestamp time, std::span<const std::byte> link_header,
                        std::span<const std::byte> payload, std::uint32_t original_length) {
    if (time.sec < 0 || time.sec > std::numeric_limits<std::uint32_t>::max() ||
        time.nsec >= nanoseconds_per_second) {
        throw EncodeError("pcap record: time " + std::to_string(time.sec) +
                          " s does not fit classic pcap (1970 to 2106)");
    }
    const std::uint64_t captured = std::uint64_t{link_header.size()} + payload.size();
    if (captured > std::numeric_limits<std::uint32_t>::max()) {
        throw EncodeError("pcap record: packet data longer than a record can hold");
    }
    const std::uint32_t header[] = {
        static_cast<std::uint32_t>(time.sec), time.nsec / 1000U,
        static_cast<std::uint32_t>(captured),
        std::max(original_length, static_cast<std::uint32_t>(captured))};
    const std::size_t at = out.size();
    out.resize(at + sizeof header + captured);
    std::byte* p = out.data() + at;
    std::memcpy(p, header, sizeof header);
    p += sizeof header;
    if (!link_header.empty()) {
        std::memcpy(p, link_header.data(), link_header.size());
        p += link_header.size();
    }
    if (!payload.empty()) {
        std::memcpy(p, payload.data(), payload.size());
    }
}

} // namespace nfcap
