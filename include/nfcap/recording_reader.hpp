#pragma once
// Reads capture files (pcap and pcapng) record by record, every record whole. Pure: the bytes
// come through the ByteStream interface (nfcap_io reads a file descriptor, tests read memory),
// front to back, so a pipe works as well as a file.
//
// The snaplen in a pcap file header or a pcapng Interface Description Block is kept only as
// information: an NFLOG recording's snaplen bounds the packet copied into each record, not the
// record, so tcpdump and dumpcap at `-s 80` write records of about 180 bytes. (libpcap's
// offline reader cuts such records to the snaplen, or refuses them in pcapng.) A record's
// length is bounded only by max_record_size.
//
// pcap: magic 0xa1b2c3d4 (microseconds) or 0xa1b23c4d (nanoseconds), in either byte order.
// pcapng: sections in either byte order, one after the other; a section's packets name its own
// Interface Description Blocks (with if_tsresol, a power of 10 or of 2, and if_tsoffset);
// Enhanced, Simple and the obsolete Packet Blocks are records; other blocks are skipped.
// LINKTYPE_NFLOG records come back with their TLV headers in host order, whatever the file's
// byte order (they are stored in the writer's), as libpcap and Wireshark read them.

#include <nfcap/packet.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nfcap {

// A byte source read front to back. read() blocks until it has at least one byte or the end;
// it returns how many bytes it put at the front of `into`, 0 only at the end. I/O errors are
// thrown (std::system_error in nfcap_io).
class ByteStream {
  public:
    virtual ~ByteStream() = default;
    virtual std::size_t read(std::span<std::byte> into) = 0;
};

// A ByteStream over bytes the caller keeps alive (tests, the fuzz target).
class MemoryStream final : public ByteStream {
  public:
    explicit MemoryStream(std::span<const std::byte> data) : data_(data) {}
    std::size_t read(std::span<std::byte> into) override;

  private:
    std::span<const std::byte> data_;
};

enum class RecordingFormat { pcap, pcapng };

struct RecordingRecord {
    std::uint64_t number = 0;          // 1-based among the file's records
    std::span<const std::byte> data;   // the captured bytes; valid until the next call to next()
    std::uint32_t original_length = 0; // as the file recorded it (may exceed data.size())
    Timestamp time;                    // the file's timestamp, normalised (nsec below 10^9)
    std::uint32_t link_type = 0;       // LINKTYPE_ value of the record's interface
    std::uint32_t interface_id = 0;    // pcapng: the interface within its section; pcap: 0
    // pcapng: the Enhanced Packet Block's first opt_comment and its interface's if_name; empty
    // when there is none (and always for pcap). Valid until the next call to next(). A record
    // whose options are malformed keeps its packet; only what they hold is left out.
    std::string_view comment;
    std::string_view interface_name;
};

class RecordingReader {
  public:
    // Larger records and blocks are refused as damage: no capture tool writes them, and the
    // reader must not allocate what a corrupt length claims.
    static constexpr std::size_t max_record_size = 16U << 20U;

    // Reads the pcap file header, or the pcapng Section Header Block and the blocks up to the
    // first Interface Description Block (so that link_type() is known). Throws DecodeError:
    // "unknown file format" when the first four bytes are no pcap or pcapng magic, else what
    // is wrong with the header. `in` must outlive the reader.
    explicit RecordingReader(ByteStream& in);

    RecordingFormat format() const { return format_; }
    // The first interface's LINKTYPE_ value and snaplen (information only, see above).
    std::uint32_t link_type() const { return link_type_; }
    std::uint32_t snaplen() const { return snaplen_; }

    // The next record, or false at the end of the file. Throws DecodeError naming the record
    // (or the block after the last record) and the problem when the file is damaged; the
    // reader must not be used after that.
    bool next(RecordingRecord& record);

  private:
    struct Interface {
        std::uint32_t link_type = 0;
        std::uint32_t snaplen = 0;
        bool binary_resolution = false; // if_tsresol: units of 2^-exponent s, else 10^-exponent
        std::uint8_t exponent = 6;
        std::int64_t offset_seconds = 0; // if_tsoffset
        std::string name;                // if_name
        // Decimal resolutions, worked out once: units per second, and the factor from a
        // second's fraction to nanoseconds (a divisor for resolutions finer than 10^-9).
        std::uint64_t units_per_second = 1'000'000;
        std::uint64_t nanosecond_factor = 1'000;
        bool finer_than_nanoseconds = false;
    };

    // Makes `n` bytes available at the front of the buffer; returns how many are (fewer only
    // at the end of the stream).
    // Up to n bytes at the front, reading more when fewer are buffered: once per record, so
    // the common case (they are there) stays inline and the reading is out of line.
    std::size_t want(std::size_t n) { return end_ - begin_ >= n ? n : fill(n); }
    std::size_t fill(std::size_t n);
    std::span<const std::byte> front(std::size_t n) const { return {buffer_.data() + begin_, n}; }
    void consume(std::size_t n);

    void open_pcap(std::uint32_t magic);
    void open_section(); // the Section Header Block at the front of the buffer
    bool next_pcap(RecordingRecord& record);
    bool next_pcapng(RecordingRecord& record);
    bool next_native_epb(RecordingRecord& record); // next_pcapng's common case, or false
    // A packet block's record but its comment: counted, with its interface's fields; `units`
    // is the timestamp (none in a Simple Packet Block).
    void packet_record(RecordingRecord& record, std::uint32_t interface_id,
                       std::span<const std::byte> data, std::uint32_t original,
                       std::optional<std::uint64_t> units);
    void add_interface(std::span<const std::byte> body);
    Timestamp pcapng_time(const Interface& interface, std::uint64_t units) const;
    void own_order(RecordingRecord& record); // NFLOG TLV headers from the file's byte order
    // Throw DecodeError: "record N is damaged: why" for the record being read, "the file is
    // damaged after record N: why" for a block that is no record.
    [[noreturn]] void damaged_record(const std::string& why) const;
    [[noreturn]] void damaged_after(const std::string& why) const;

    ByteStream& in_;
    std::vector<std::byte> buffer_;
    std::size_t begin_ = 0; // the unread bytes are buffer_[begin_, end_)
    std::size_t end_ = 0;
    bool at_end_ = false;
    std::uint64_t offset_ = 0; // file offset of buffer_[begin_]

    RecordingFormat format_ = RecordingFormat::pcap;
    std::endian order_ = std::endian::little;
    std::uint32_t link_type_ = 0;
    std::uint32_t snaplen_ = 0;
    bool nanoseconds_ = false;          // pcap
    std::vector<Interface> interfaces_; // pcapng: the current section's
    std::uint64_t sections_ = 0;        // pcapng: sections seen
    std::uint64_t count_ = 0;           // records returned
    std::uint64_t block_offset_ = 0;    // file offset of the block being read
    bool opening_ = true;               // pcapng: the constructor is looking for the first IDB
};

} // namespace nfcap
