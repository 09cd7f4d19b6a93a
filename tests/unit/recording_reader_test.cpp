// The capture-file reader replay uses: pcap and pcapng in both byte orders, records longer than
// the snaplen read whole, timestamps in every resolution, and damaged files refused cleanly.
#include "nflog_message.hpp"

#include <nfcap/pcapng.hpp>
#include <nfcap/recording_reader.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <vector>

using nfcap::ByteBuffer;
using nfcap::DecodeError;
using nfcap::EnhancedPacket;
using nfcap::LinkType;
using nfcap::MemoryStream;
using nfcap::RecordingFormat;
using nfcap::RecordingReader;
using nfcap::RecordingRecord;
using nfcap::Timestamp;

namespace {

using Bytes = std::vector<std::byte>;

constexpr std::uint32_t linktype_nflog = 239;
constexpr std::uint32_t linktype_netlink = 253;
constexpr std::uint32_t linktype_ethernet = 1;

// Appends integers in a chosen byte order: the files a writer on either kind of machine makes.
class Writer {
  public:
    explicit Writer(std::endian order) : order_(order) {}
    Writer& u8(std::uint8_t v) {
        out.push_back(std::byte{v});
        return *this;
    }
    Writer& u16(std::uint16_t v) { return put(v, 2); }
    Writer& u32(std::uint32_t v) { return put(v, 4); }
    Writer& u64(std::uint64_t v) { return put(v, 8); }
    Writer& bytes(std::span<const std::byte> b) {
        out.insert(out.end(), b.begin(), b.end());
        return *this;
    }
    Writer& pad4() {
        while (out.size() % 4 != 0) {
            out.push_back(std::byte{0});
        }
        return *this;
    }
    Bytes out;

  private:
    Writer& put(std::uint64_t v, unsigned width) {
        for (unsigned i = 0; i < width; ++i) {
            const unsigned shift = order_ == std::endian::little ? 8 * i : 8 * (width - 1 - i);
            out.push_back(static_cast<std::byte>((v >> shift) & 0xffU));
        }
        return *this;
    }
    std::endian order_;
};

// An NFLOG record (host-order TLV headers) about 150 bytes long: longer than an 80-byte snaplen.
Bytes nflog_record(std::uint32_t seq, std::size_t payload = 100) {
    nfcap::test::NflogMessage m(7, 2);
    m.packet_header(0x0800, 1)
        .prefix("in")
        .u32(NFULA_SEQ, seq)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(payload, static_cast<std::uint16_t>(payload)));
    return m.copy();
}

// The record as a writer of the other byte order stores it: TLV length and type swapped.
Bytes swap_tlv_headers(Bytes r) {
    std::size_t at = 4;
    while (r.size() - at >= 4) {
        std::uint16_t length = 0;
        std::memcpy(&length, &r[at], 2);
        std::swap(r[at], r[at + 1]);
        std::swap(r[at + 2], r[at + 3]);
        at += (length + 3U) & ~3U;
    }
    return r;
}

Bytes stored(const Bytes& record, std::endian order) {
    return order == std::endian::native ? record : swap_tlv_headers(record);
}

Bytes pcap_file(std::endian order, bool nano, std::uint32_t snaplen, std::uint32_t link_type,
                const std::vector<Bytes>& records, std::uint32_t fraction = 250) {
    Writer w(order);
    w.u32(nano ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(snaplen).u32(link_type);
    std::uint32_t sec = 1700000000;
    for (const auto& r : records) {
        const Bytes data = link_type == linktype_nflog ? stored(r, order) : r;
        w.u32(sec++).u32(fraction).u32(static_cast<std::uint32_t>(data.size()));
        w.u32(static_cast<std::uint32_t>(data.size())).bytes(data);
    }
    return w.out;
}

// pcapng blocks: type, total length, body padded to 4, total length.
void block(Writer& w, std::uint32_t type, const Bytes& body) {
    const auto total = static_cast<std::uint32_t>(12 + ((body.size() + 3U) & ~std::size_t{3}));
    w.u32(type).u32(total).bytes(body).pad4().u32(total);
}

void section(Writer& w, std::endian order) {
    Writer body(order);
    body.u32(0x1a2b3c4d).u16(1).u16(0).u64(~std::uint64_t{0});
    block(w, 0x0a0d0d0a, body.out);
}

// An IDB; `tsresol` < 0 leaves the option out (microseconds), `offset` adds if_tsoffset.
void interface(Writer& w, std::endian order, std::uint32_t link_type, std::uint32_t snaplen,
               int tsresol = -1, std::int64_t offset = 0) {
    Writer body(order);
    body.u16(static_cast<std::uint16_t>(link_type)).u16(0).u32(snaplen);
    if (tsresol >= 0) {
        body.u16(9).u16(1).u8(static_cast<std::uint8_t>(tsresol)).pad4();
    }
    if (offset != 0) {
        body.u16(14).u16(8).u64(static_cast<std::uint64_t>(offset));
    }
    body.u16(0).u16(0);
    block(w, 1, body.out);
}

void enhanced(Writer& w, std::endian order, std::uint32_t interface_id, std::uint64_t units,
              const Bytes& data, std::uint32_t original = 0) {
    Writer body(order);
    body.u32(interface_id).u32(static_cast<std::uint32_t>(units >> 32U));
    body.u32(static_cast<std::uint32_t>(units)).u32(static_cast<std::uint32_t>(data.size()));
    body.u32(original != 0 ? original : static_cast<std::uint32_t>(data.size())).bytes(data);
    block(w, 6, body.out);
}

std::vector<RecordingRecord> read_all(RecordingReader& reader, std::vector<Bytes>& copies) {
    std::vector<RecordingRecord> records;
    RecordingRecord r;
    while (reader.next(r)) {
        copies.emplace_back(r.data.begin(), r.data.end()); // data lives until the next call
        records.push_back(r);
    }
    return records;
}

// Reads a whole file, expecting the open or a record to fail; returns the message.
std::string error_of(const Bytes& file) {
    try {
        MemoryStream in(file);
        RecordingReader reader(in);
        RecordingRecord r;
        while (reader.next(r)) {
        }
    } catch (const DecodeError& e) {
        return e.what();
    }
    return "no error";
}

// Hands out one byte per read(), as a slow pipe may.
class TricklingStream final : public nfcap::ByteStream {
  public:
    explicit TricklingStream(const Bytes& data) : data_(data) {}
    std::size_t read(std::span<std::byte> into) override {
        if (at_ == data_.size() || into.empty()) {
            return 0;
        }
        into[0] = data_[at_++];
        return 1;
    }

  private:
    const Bytes& data_;
    std::size_t at_ = 0;
};

} // namespace

TEST(RecordingReader, PcapBothByteOrdersMicroAndNanoReadRecordsLongerThanTheSnaplen) {
    const std::vector<Bytes> records{nflog_record(0), nflog_record(1, 300)};
    for (const auto order : {std::endian::little, std::endian::big}) {
        for (const bool nano : {false, true}) {
            const Bytes file = pcap_file(order, nano, 80, linktype_nflog, records, 250);
            MemoryStream in(file);
            RecordingReader reader(in);
            EXPECT_EQ(reader.format(), RecordingFormat::pcap);
            EXPECT_EQ(reader.link_type(), linktype_nflog);
            EXPECT_EQ(reader.snaplen(), 80U);
            std::vector<Bytes> copies;
            const auto read = read_all(reader, copies);
            ASSERT_EQ(read.size(), 2U);
            for (std::size_t i = 0; i < 2; ++i) {
                EXPECT_GT(copies[i].size(), 80U);
                EXPECT_TRUE(copies[i] == records[i]) << "record " << i + 1 << " not whole";
                EXPECT_EQ(read[i].original_length, records[i].size());
                EXPECT_EQ(read[i].number, i + 1);
                EXPECT_EQ(read[i].time.sec, 1700000000 + static_cast<std::int64_t>(i));
                EXPECT_EQ(read[i].time.nsec, nano ? 250U : 250000U);
            }
        }
    }
}

TEST(RecordingReader, PcapFractionBeyondOneSecondCarriesIntoTheSeconds) {
    const Bytes file =
        pcap_file(std::endian::little, false, 0, linktype_nflog, {nflog_record(0)}, 2'500'000);
    MemoryStream in(file);
    RecordingReader reader(in);
    RecordingRecord r;
    ASSERT_TRUE(reader.next(r));
    EXPECT_EQ(r.time, (Timestamp{1700000002, 500'000'000}));
}

TEST(RecordingReader, PcapngBothByteOrdersWithTimestampResolutions) {
    const Bytes record = nflog_record(5, 200);
    for (const auto order : {std::endian::little, std::endian::big}) {
        Writer w(order);
        section(w, order);
        interface(w, order, linktype_nflog, 80);            // 0: default, microseconds
        interface(w, order, linktype_nflog, 80, 9);         // 1: nanoseconds
        interface(w, order, linktype_nflog, 80, 0x80 | 10); // 2: 2^-10 s
        interface(w, order, linktype_nflog, 80, 3, -100);   // 3: milliseconds, offset -100 s
        interface(w, order, linktype_netlink, 0, 19);       // 4: 10^-19 s
        const Bytes data = stored(record, order);
        enhanced(w, order, 0, 1'700'000'000'123'456ULL, data);
        enhanced(w, order, 1, 1'700'000'000'123'456'789ULL, data);
        enhanced(w, order, 2, (1'700'000'000ULL << 10U) | 512U, data);
        enhanced(w, order, 3, 1'700'000'000'250ULL, data);
        enhanced(w, order, 4, 12'345'678'901'234'567'890ULL, record);
        MemoryStream in(w.out);
        RecordingReader reader(in);
        EXPECT_EQ(reader.format(), RecordingFormat::pcapng);
        EXPECT_EQ(reader.link_type(), linktype_nflog);
        EXPECT_EQ(reader.snaplen(), 80U);
        std::vector<Bytes> copies;
        const auto read = read_all(reader, copies);
        ASSERT_EQ(read.size(), 5U);
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_TRUE(copies[i] == record) << "record " << i + 1;
            EXPECT_EQ(read[i].interface_id, i);
        }
        EXPECT_EQ(read[0].time, (Timestamp{1700000000, 123'456'000}));
        EXPECT_EQ(read[1].time, (Timestamp{1700000000, 123'456'789}));
        EXPECT_EQ(read[2].time, (Timestamp{1700000000, 500'000'000}));
        EXPECT_EQ(read[3].time, (Timestamp{1699999900, 250'000'000}));
        EXPECT_EQ(read[4].time, (Timestamp{1, 234'567'890}));
        EXPECT_EQ(read[4].link_type, linktype_netlink);
    }
}

TEST(RecordingReader, PcapngSectionsEachNameTheirOwnInterfacesAndSkipOtherBlocks) {
    const Bytes record = nflog_record(1);
    Writer w(std::endian::little);
    section(w, std::endian::little);
    interface(w, std::endian::little, linktype_ethernet, 65535);
    interface(w, std::endian::little, linktype_nflog, 65535, 9);
    block(w, 4, Bytes(12, std::byte{0x55})); // a Name Resolution Block: skipped
    enhanced(w, std::endian::little, 1, 1'700'000'000'000'000'001ULL, record);
    // A second section written by a big-endian machine: one interface, in microseconds.
    Writer big(std::endian::big);
    section(big, std::endian::big);
    interface(big, std::endian::big, linktype_nflog, 80);
    enhanced(big, std::endian::big, 0, 1'700'000'001'000'002ULL, swap_tlv_headers(record));
    block(big, 0x40000bad, Bytes(8)); // a custom block: skipped
    Writer simple(std::endian::big);
    simple.u32(static_cast<std::uint32_t>(record.size())).bytes(swap_tlv_headers(record));
    block(big, 3, simple.out); // a Simple Packet Block: interface 0, no timestamp
    Writer obsolete(std::endian::big);
    constexpr std::uint64_t pb_time = 1'700'000'002'000'000ULL; // microseconds
    obsolete.u16(0).u16(0).u32(static_cast<std::uint32_t>(pb_time >> 32U));
    obsolete.u32(static_cast<std::uint32_t>(pb_time))
        .u32(static_cast<std::uint32_t>(record.size()));
    obsolete.u32(static_cast<std::uint32_t>(record.size())).bytes(swap_tlv_headers(record));
    block(big, 2, obsolete.out); // the obsolete Packet Block
    w.bytes(big.out);

    MemoryStream in(w.out);
    RecordingReader reader(in);
    EXPECT_EQ(reader.link_type(), linktype_ethernet) << "the first interface's";
    std::vector<Bytes> copies;
    const auto read = read_all(reader, copies);
    ASSERT_EQ(read.size(), 4U);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_TRUE(copies[i] == record) << "record " << i + 1;
        EXPECT_EQ(read[i].link_type, linktype_nflog);
    }
    EXPECT_EQ(read[0].time, (Timestamp{1700000000, 1}));
    EXPECT_EQ(read[1].time, (Timestamp{1700000001, 2000}));
    EXPECT_EQ(read[2].time, Timestamp{});
    EXPECT_EQ(read[3].time, (Timestamp{1700000002, 0}));

    // Interface 1 belonged to the first section: in the second it is unknown.
    Writer bad(std::endian::little);
    bad.bytes(w.out);
    section(bad, std::endian::little);
    interface(bad, std::endian::little, linktype_nflog, 80);
    enhanced(bad, std::endian::little, 1, 0, record);
    EXPECT_NE(error_of(bad.out).find(
                  "record 5 is damaged: it names interface 1, but its section declares 1"),
              std::string::npos)
        << error_of(bad.out);
}

TEST(RecordingReader, PcapngRecordsComeWithTheirCommentAndInterfaceName) {
    const Bytes record = nflog_record(1);
    ByteBuffer file;
    nfcap::append_section_header(file, {"test", "", ""});
    nfcap::append_interface_description(file, {LinkType::nflog, 0, "nflog:7", "", ""});
    nfcap::append_interface_description(file, {LinkType::nflog, 0, "", "", ""});
    EnhancedPacket epb;
    epb.payload = record;
    epb.original_length = static_cast<std::uint32_t>(record.size());
    epb.comment = "nflog:7 hook=input prefix=\"a b\"";
    epb.dropcount = 3; // another option after it
    nfcap::append_enhanced_packet(file, epb);
    epb.interface_id = 1;
    epb.comment = {};
    nfcap::append_enhanced_packet(file, epb);
    const Bytes bytes(file.begin(), file.end());

    MemoryStream in(bytes);
    RecordingReader reader(in);
    RecordingRecord r;
    ASSERT_TRUE(reader.next(r));
    EXPECT_EQ(r.comment, "nflog:7 hook=input prefix=\"a b\"");
    EXPECT_EQ(r.interface_name, "nflog:7");
    EXPECT_TRUE(std::equal(r.data.begin(), r.data.end(), record.begin(), record.end()));
    ASSERT_TRUE(reader.next(r));
    EXPECT_EQ(r.comment, "") << "a record without a comment has none, not the one before";
    EXPECT_EQ(r.interface_name, "");
    EXPECT_FALSE(reader.next(r));
}

TEST(RecordingReader, CutRecordsComeBackWithBothLengths) {
    const Bytes record = nflog_record(1, 200);
    Writer w(std::endian::little);
    section(w, std::endian::little);
    interface(w, std::endian::little, linktype_nflog, 80);
    const Bytes cut(record.begin(), record.begin() + 60);
    enhanced(w, std::endian::little, 0, 0, cut, static_cast<std::uint32_t>(record.size()));
    MemoryStream in(w.out);
    RecordingReader reader(in);
    RecordingRecord r;
    ASSERT_TRUE(reader.next(r));
    EXPECT_EQ(r.data.size(), 60U);
    EXPECT_EQ(r.original_length, record.size());
}

TEST(RecordingReader, ReadsFromAStreamThatHandsOutOneByteAtATime) {
    std::vector<Bytes> records;
    for (std::uint32_t i = 0; i < 20; ++i) {
        records.push_back(nflog_record(i, 100 + 50 * i));
    }
    records.push_back(nflog_record(99, 60000)); // larger than the reader's first buffer
    records.push_back(Bytes(200000, std::byte{0x42}));
    const Bytes file = pcap_file(std::endian::little, true, 80, linktype_nflog, records);
    TricklingStream in(file);
    RecordingReader reader(in);
    std::vector<Bytes> copies;
    const auto read = read_all(reader, copies);
    ASSERT_EQ(read.size(), records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        EXPECT_TRUE(copies[i] == records[i]) << "record " << i + 1;
    }
}

TEST(RecordingReader, NotARecordingIsAnUnknownFormat) {
    EXPECT_EQ(error_of({}), "unknown file format");
    EXPECT_EQ(error_of(Bytes(3, std::byte{0xa1})), "unknown file format");
    const std::string text = "garbage\n";
    Bytes garbage(text.size());
    std::memcpy(garbage.data(), text.data(), text.size());
    EXPECT_EQ(error_of(garbage), "unknown file format");
}

TEST(RecordingReader, DamagedPcapFilesGiveCleanErrors) {
    const std::vector<Bytes> records{nflog_record(0), nflog_record(1)};
    const Bytes file = pcap_file(std::endian::little, false, 80, linktype_nflog, records);
    const auto has = [](const std::string& error, const std::string& part) {
        EXPECT_NE(error.find(part), std::string::npos) << error;
    };
    has(error_of(Bytes(file.begin(), file.begin() + 10)), "pcap file header is cut short");
    // Cut inside the second record's header, then inside its data.
    const std::size_t second = 24 + 16 + records[0].size();
    has(error_of(Bytes(file.begin(), file.begin() + static_cast<long>(second) + 7)),
        "record 2 is damaged: the file ends inside its 16-byte record header (7 bytes");
    has(error_of(Bytes(file.begin(), file.end() - 5)),
        "record 2 is damaged: the file ends inside it: its header says");
    // An absurd captured length.
    Bytes absurd = file;
    const std::uint32_t huge = 0xfffffff0;
    std::memcpy(&absurd[24 + 8], &huge, 4);
    has(error_of(absurd), "record 1 is damaged: its captured length 4294967280 is absurd");
    // A pcap version nobody writes.
    Bytes version = file;
    version[4] = std::byte{7};
    has(error_of(version), "pcap version 7.4 is not supported");
}

TEST(RecordingReader, DamagedPcapngFilesGiveCleanErrors) {
    const Bytes record = nflog_record(0);
    Writer w(std::endian::little);
    section(w, std::endian::little);
    interface(w, std::endian::little, linktype_nflog, 80);
    enhanced(w, std::endian::little, 0, 0, record);
    const std::size_t epb = w.out.size();
    enhanced(w, std::endian::little, 0, 0, record);
    const Bytes file = w.out;
    const auto has = [](const std::string& error, const std::string& part) {
        EXPECT_NE(error.find(part), std::string::npos) << error;
    };
    EXPECT_EQ(error_of(file), "no error");
    // The second EPB's trailing length disagrees.
    Bytes disagree = file;
    disagree[disagree.size() - 4] = std::byte{0x10};
    has(error_of(disagree), "record 2 is damaged: the Enhanced Packet Block's lengths disagree");
    // Lengths that cannot be: not a multiple of 4, absurdly large, smaller than a block.
    for (const std::uint32_t length : {13U, 0x7ffffff0U, 8U}) {
        Bytes bad = file;
        std::memcpy(&bad[epb + 4], &length, 4);
        has(error_of(bad), "record 2 is damaged: an Enhanced Packet Block of impossible length " +
                               std::to_string(length));
    }
    // A captured length larger than the block.
    Bytes captured = file;
    const std::uint32_t more = 4000;
    std::memcpy(&captured[epb + 8 + 12], &more, 4);
    has(error_of(captured), "record 2 is damaged: its captured length 4000 does not fit");
    // Cut inside the block, and inside a block header.
    has(error_of(Bytes(file.begin(), file.end() - 9)),
        "record 2 is damaged: the file ends inside an Enhanced Packet Block");
    has(error_of(Bytes(file.begin(), file.begin() + static_cast<long>(epb) + 5)),
        "the file is damaged after record 1: the file ends inside a block header (5 of 8");
    // A section header whose byte-order magic is wrong, and one cut short.
    Bytes magic = file;
    magic[8] = std::byte{0};
    has(error_of(magic), "without the byte-order magic");
    has(error_of(Bytes(file.begin(), file.begin() + 20)),
        "the file ends inside a Section Header Block");
    // No interface at all, and a packet before the first interface.
    Writer lone(std::endian::little);
    section(lone, std::endian::little);
    has(error_of(lone.out), "the pcapng file has no Interface Description Block");
    enhanced(lone, std::endian::little, 0, 0, record);
    has(error_of(lone.out),
        "record 1 is damaged: it names interface 0, but its section declares 0");
    // A timestamp resolution no 64-bit timestamp can count in.
    Writer fine(std::endian::little);
    section(fine, std::endian::little);
    interface(fine, std::endian::little, linktype_nflog, 80, 30);
    has(error_of(fine.out), "has if_tsresol 10^-30");
}

namespace {

// One Enhanced Packet Block of the property test below, with every field a damaged file could
// get wrong set apart.
struct EpbSpec {
    std::uint32_t interface_id = 0;
    std::uint64_t units = 0;
    Bytes data;
    std::uint32_t captured = 0;
    std::uint32_t original = 0;
    std::string comment;             // empty: no option; "-": a dropcount option only
    std::int64_t length_change = 0;  // added to the leading total length
    std::int64_t trailer_change = 0; // added to the trailing total length
};

void write_epb(Writer& w, std::endian order, const EpbSpec& e) {
    Writer body(order);
    body.u32(e.interface_id).u32(static_cast<std::uint32_t>(e.units >> 32U));
    body.u32(static_cast<std::uint32_t>(e.units)).u32(e.captured).u32(e.original);
    body.bytes(e.data).pad4();
    if (!e.comment.empty()) {
        body.u16(4).u16(8).u64(7); // epb_dropcount
        if (e.comment != "-") {
            body.u16(1).u16(static_cast<std::uint16_t>(e.comment.size()));
            body.bytes(std::as_bytes(std::span(e.comment))).pad4();
        }
        body.u16(0).u16(0);
    }
    const auto total = static_cast<std::uint32_t>(12 + body.out.size());
    w.u32(6).u32(static_cast<std::uint32_t>(total + e.length_change));
    w.bytes(body.out).u32(static_cast<std::uint32_t>(total + e.trailer_change));
}

// Hands out what it holds in pieces of pseudo-random size, so that blocks straddle the
// reader's buffer refills.
class ChoppyStream final : public nfcap::ByteStream {
  public:
    ChoppyStream(const Bytes& data, std::uint32_t seed) : data_(data), state_(seed | 1U) {}
    std::size_t read(std::span<std::byte> into) override {
        state_ ^= state_ << 13U;
        state_ ^= state_ >> 17U;
        state_ ^= state_ << 5U;
        const std::size_t n =
            std::min({into.size(), data_.size() - at_, std::size_t{1} + state_ % 70000U});
        std::copy_n(data_.begin() + static_cast<long>(at_), n, into.begin());
        at_ += n;
        return n;
    }

  private:
    const Bytes& data_;
    std::uint32_t state_;
    std::size_t at_ = 0;
};

// Everything a reader gives, or the error it ends with.
std::string read_out(const Bytes& file, std::uint32_t seed) {
    std::string out;
    try {
        ChoppyStream in(file, seed);
        RecordingReader reader(in);
        RecordingRecord r;
        while (reader.next(r)) {
            out += std::to_string(r.number) + " " + std::to_string(r.time.sec) + "." +
                   std::to_string(r.time.nsec) + " " + std::to_string(r.original_length) + " " +
                   std::to_string(r.link_type) + " " + std::to_string(r.interface_id) + " [" +
                   std::string(r.interface_name) + "] [" + std::string(r.comment) + "] ";
            for (const std::byte b : r.data) {
                out += static_cast<char>(b);
            }
            out += '\n';
        }
    } catch (const DecodeError& e) {
        // Which record or block, and where: the values a message quotes may be bytes of a
        // damaged block, which read differently in the two byte orders.
        const std::string what = e.what();
        out += "error: " + what.substr(0, what.find(':')) + what.substr(what.rfind(" ("));
    }
    return out;
}

} // namespace

// The reader reads an Enhanced Packet Block in this machine's byte order on a path of its own,
// with no byte-order choice or bounds check per field; every other block, and every block of
// the other byte order, takes the checked path. The same files in both byte orders (a link
// type whose records have no byte order of their own) must read the same, records and errors
// alike, whatever damage a block carries and wherever the stream's reads end.
TEST(RecordingReader, TheNativeByteOrderPathReadsWhatTheCheckedPathReads) {
    std::uint32_t state = 2463534242U;
    const auto next = [&state](std::uint32_t bound) {
        state ^= state << 13U;
        state ^= state >> 17U;
        state ^= state << 5U;
        return state % bound;
    };
    int damaged = 0;
    for (int file = 0; file < 200; ++file) {
        std::vector<EpbSpec> blocks;
        const std::uint32_t interfaces = 1 + next(3);
        const int count = 1 + static_cast<int>(next(40));
        for (int i = 0; i < count; ++i) {
            EpbSpec e;
            e.interface_id = next(20) == 0 ? interfaces : next(interfaces);
            e.units = (std::uint64_t{next(0x7fffffffU)} << 20U) + next(1000000000U);
            e.data.resize(next(16) == 0 ? next(70000) : next(200));
            for (auto& b : e.data) {
                b = static_cast<std::byte>('a' + next(26));
            }
            e.captured = static_cast<std::uint32_t>(e.data.size());
            e.original = e.captured + (next(4) == 0 ? next(1000) : 0);
            switch (next(6)) {
            case 0:
                e.comment = "-";
                break;
            case 1:
                e.comment = "nflog:7 prefix=\"x\" seq=" + std::to_string(i);
                break;
            default:
                break;
            }
            if (next(60) == 0) { // damage
                ++damaged;
                switch (next(5)) {
                case 0:
                    e.trailer_change = 4;
                    break;
                case 1:
                    e.length_change = 2;
                    break;
                case 2:
                    e.length_change = -4;
                    break;
                case 3: // past the block: without options (whose bytes differ by byte order)
                    e.comment.clear();
                    e.captured += 4 + next(8);
                    break;
                default:
                    e.length_change = 0x7ffffff0;
                    break;
                }
            }
            blocks.push_back(std::move(e));
        }
        const int tsresol = static_cast<int>(next(3)) == 0 ? -1 : static_cast<int>(next(10));
        Bytes in_order[2];
        for (const auto order : {std::endian::little, std::endian::big}) {
            Writer w(order);
            section(w, order);
            for (std::uint32_t i = 0; i < interfaces; ++i) {
                interface(w, order, linktype_ethernet, 65535, tsresol);
            }
            for (const EpbSpec& e : blocks) {
                write_epb(w, order, e);
            }
            in_order[order == std::endian::big ? 1 : 0] = w.out;
        }
        // A file cut anywhere reads the same in both orders too.
        const std::size_t keep =
            next(10) == 0 ? next(static_cast<std::uint32_t>(in_order[0].size())) : 0;
        for (Bytes& b : in_order) {
            if (keep != 0) {
                b.resize(keep);
            }
        }
        const std::uint32_t seed = next(1000000);
        const std::string native = read_out(in_order[0], seed);
        const std::string checked = read_out(in_order[1], seed + 1);
        ASSERT_EQ(native, checked) << "file " << file;
    }
    EXPECT_GT(damaged, 30) << "the damage must be exercised";
}
