// pcapng encoder: byte-exact blocks against hand-written expectations, block framing, refusals,
// and a read-back of whole files by libpcap as an independent reader.
//
// The expected byte arrays are written out field by field in little-endian order: the encoder
// writes host byte order, so the tests skip themselves on a big-endian host.

#include <nfcap/pcapng.hpp>

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace nfcap {
namespace {

ByteBuffer bytes_of(std::initializer_list<int> values) {
    ByteBuffer out;
    out.reserve(values.size());
    for (int v : values) {
        out.push_back(static_cast<std::byte>(v));
    }
    return out;
}

// Four bytes per line, so a mismatch shows up as a diff of whole 32-bit fields.
std::string hex(const ByteBuffer& data) {
    std::string out;
    char cell[4];
    for (std::size_t i = 0; i < data.size(); ++i) {
        std::snprintf(cell, sizeof cell, "%02x", std::to_integer<unsigned>(data[i]));
        out += cell;
        out += (i % 4 == 3) ? '\n' : ' ';
    }
    return out;
}

std::uint32_t read_u32(const ByteBuffer& data, std::size_t offset) {
    std::uint32_t v = 0;
    std::memcpy(&v, data.data() + offset, sizeof v);
    return v;
}

// Expectations are little-endian byte arrays.
class Pcapng : public ::testing::Test {
  protected:
    void SetUp() override {
        if (std::endian::native != std::endian::little) {
            GTEST_SKIP() << "expected bytes are written for a little-endian host";
        }
    }
};

// ---------------------------------------------------------------- Section Header Block

TEST_F(Pcapng, SectionHeaderWithoutOptions) {
    ByteBuffer out;
    SectionHeader shb;
    append_section_header(out, shb);
    const ByteBuffer expected = bytes_of({
        0x0a, 0x0d, 0x0d, 0x0a,                         // block type: SHB
        0x1c, 0x00, 0x00, 0x00,                         // block total length: 28
        0x4d, 0x3c, 0x2b, 0x1a,                         // byte-order magic 0x1A2B3C4D
        0x01, 0x00, 0x00, 0x00,                         // version 1.0 (major 1, minor 0)
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length: -1 (unknown)
        0x1c, 0x00, 0x00, 0x00,                         // block total length: 28
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, SectionHeaderWritesNonEmptyOptionsInOrder) {
    ByteBuffer out;
    SectionHeader shb;
    shb.user_application = "nfcap 0.1.0";
    shb.hardware = "x86_64";
    shb.os = "Linux";
    append_section_header(out, shb);
    const ByteBuffer expected = bytes_of({
        0x0a, 0x0d, 0x0d, 0x0a,                         // block type: SHB
        0x48, 0x00, 0x00, 0x00,                         // block total length: 72
        0x4d, 0x3c, 0x2b, 0x1a,                         // byte-order magic
        0x01, 0x00, 0x00, 0x00,                         // version 1.0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length: -1
        0x02, 0x00, 0x06, 0x00,                         // shb_hardware, length 6
        'x',  '8',  '6',  '_',                          //
        '6',  '4',  0x00, 0x00,                         //   + 2 bytes padding
        0x03, 0x00, 0x05, 0x00,                         // shb_os, length 5
        'L',  'i',  'n',  'u',                          //
        'x',  0x00, 0x00, 0x00,                         //   + 3 bytes padding
        0x04, 0x00, 0x0b, 0x00,                         // shb_userappl, length 11
        'n',  'f',  'c',  'a',                          //
        'p',  ' ',  '0',  '.',                          //
        '1',  '.',  '0',  0x00,                         //   + 1 byte padding
        0x00, 0x00, 0x00, 0x00,                         // opt_endofopt
        0x48, 0x00, 0x00, 0x00,                         // block total length: 72
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, SectionHeaderOmitsEmptyOptions) {
    ByteBuffer out;
    SectionHeader shb;
    shb.user_application = "nfcap";
    shb.hardware = "";
    shb.os = "";
    append_section_header(out, shb);
    const ByteBuffer expected = bytes_of({
        0x0a, 0x0d, 0x0d, 0x0a,                         // block type: SHB
        0x2c, 0x00, 0x00, 0x00,                         // block total length: 44
        0x4d, 0x3c, 0x2b, 0x1a,                         // byte-order magic
        0x01, 0x00, 0x00, 0x00,                         // version 1.0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length: -1
        0x04, 0x00, 0x05, 0x00,                         // shb_userappl, length 5
        'n',  'f',  'c',  'a',                          //
        'p',  0x00, 0x00, 0x00,                         //   + 3 bytes padding
        0x00, 0x00, 0x00, 0x00,                         // opt_endofopt
        0x2c, 0x00, 0x00, 0x00,                         // block total length: 44
    });
    EXPECT_EQ(hex(out), hex(expected));
}

// ---------------------------------------------------------- Interface Description Block

TEST_F(Pcapng, InterfaceDescriptionCarriesNameDescriptionAndTsresol) {
    ByteBuffer out;
    InterfaceDescription idb;
    idb.link_type = LinkType::linux_sll2;
    idb.snaplen = 262144;
    idb.name = "nflog:123";
    idb.description = "NFLOG group 123";
    append_interface_description(out, idb);
    const ByteBuffer expected = bytes_of({
        0x01, 0x00, 0x00, 0x00, // block type: IDB
        0x44, 0x00, 0x00, 0x00, // block total length: 68
        0x14, 0x01, 0x00, 0x00, // link type 276 (LINUX_SLL2), reserved 0
        0x00, 0x00, 0x04, 0x00, // snaplen 262144
        0x02, 0x00, 0x09, 0x00, // if_name, length 9
        'n',  'f',  'l',  'o',  //
        'g',  ':',  '1',  '2',  //
        '3',  0x00, 0x00, 0x00, //   + 3 bytes padding
        0x03, 0x00, 0x0f, 0x00, // if_description, length 15
        'N',  'F',  'L',  'O',  //
        'G',  ' ',  'g',  'r',  //
        'o',  'u',  'p',  ' ',  //
        '1',  '2',  '3',  0x00, //   + 1 byte padding
        0x09, 0x00, 0x01, 0x00, // if_tsresol, length 1
        0x09, 0x00, 0x00, 0x00, //   9 (10^-9 s) + 3 bytes padding
        0x00, 0x00, 0x00, 0x00, // opt_endofopt
        0x44, 0x00, 0x00, 0x00, // block total length: 68
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, InterfaceDescriptionCarriesTheHostsOperatingSystem) {
    ByteBuffer out;
    InterfaceDescription idb;
    idb.link_type = LinkType::raw;
    idb.name = "q";
    idb.os = "Linux 6";
    append_interface_description(out, idb);
    const ByteBuffer expected = bytes_of({
        0x01, 0x00, 0x00, 0x00, // block type: IDB
        0x34, 0x00, 0x00, 0x00, // block total length: 52
        0x65, 0x00, 0x00, 0x00, // link type 101 (RAW), reserved 0
        0x00, 0x00, 0x00, 0x00, // snaplen 0
        0x02, 0x00, 0x01, 0x00, // if_name, length 1
        'q',  0x00, 0x00, 0x00, //   + 3 bytes padding
        0x09, 0x00, 0x01, 0x00, // if_tsresol, length 1
        0x09, 0x00, 0x00, 0x00, //   9 (10^-9 s) + 3 bytes padding
        0x0c, 0x00, 0x07, 0x00, // if_os, length 7
        'L',  'i',  'n',  'u',  //
        'x',  ' ',  '6',  0x00, //   + 1 byte padding
        0x00, 0x00, 0x00, 0x00, // opt_endofopt
        0x34, 0x00, 0x00, 0x00, // block total length: 52
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, InterfaceDescriptionWithoutNameStillHasTsresol) {
    ByteBuffer out;
    InterfaceDescription idb;
    idb.link_type = LinkType::raw;
    append_interface_description(out, idb);
    const ByteBuffer expected = bytes_of({
        0x01, 0x00, 0x00, 0x00, // block type: IDB
        0x20, 0x00, 0x00, 0x00, // block total length: 32
        0x65, 0x00, 0x00, 0x00, // link type 101 (RAW), reserved 0
        0x00, 0x00, 0x00, 0x00, // snaplen 0 (no limit)
        0x09, 0x00, 0x01, 0x00, // if_tsresol, length 1
        0x09, 0x00, 0x00, 0x00, //   9 + 3 bytes padding
        0x00, 0x00, 0x00, 0x00, // opt_endofopt
        0x20, 0x00, 0x00, 0x00, // block total length: 32
    });
    EXPECT_EQ(hex(out), hex(expected));
}

// ------------------------------------------------------------- Enhanced Packet Block

TEST_F(Pcapng, EnhancedPacketWithoutOptions) {
    const ByteBuffer payload = bytes_of({0xde, 0xad, 0xbe, 0xef});
    ByteBuffer out;
    EnhancedPacket epb;
    epb.interface_id = 0;
    epb.timestamp = Timestamp{.sec = 1, .nsec = 2};
    epb.payload = payload;
    epb.original_length = 4;
    append_enhanced_packet(out, epb);
    const ByteBuffer expected = bytes_of({
        0x06, 0x00, 0x00, 0x00, // block type: EPB
        0x24, 0x00, 0x00, 0x00, // block total length: 36
        0x00, 0x00, 0x00, 0x00, // interface id 0
        0x00, 0x00, 0x00, 0x00, // timestamp high: 1000000002 ns >> 32 = 0
        0x02, 0xca, 0x9a, 0x3b, // timestamp low: 0x3b9aca02
        0x04, 0x00, 0x00, 0x00, // captured length 4
        0x04, 0x00, 0x00, 0x00, // original length 4
        0xde, 0xad, 0xbe, 0xef, // packet data, no padding needed
        0x24, 0x00, 0x00, 0x00, // block total length: 36
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, EnhancedPacketPadsDataToFourBytes) {
    const ByteBuffer data = bytes_of({0x11, 0x22, 0x33});
    const auto encode = [&](std::size_t length) {
        ByteBuffer out;
        EnhancedPacket epb;
        epb.interface_id = 3;
        epb.timestamp = Timestamp{.sec = 1, .nsec = 2};
        epb.payload = std::span<const std::byte>(data).first(length);
        epb.original_length = 60;
        append_enhanced_packet(out, epb);
        return out;
    };

    const ByteBuffer three_bytes_padding = bytes_of({
        0x06, 0x00, 0x00, 0x00, // block type: EPB
        0x24, 0x00, 0x00, 0x00, // block total length: 36
        0x03, 0x00, 0x00, 0x00, // interface id 3
        0x00, 0x00, 0x00, 0x00, // timestamp high
        0x02, 0xca, 0x9a, 0x3b, // timestamp low
        0x01, 0x00, 0x00, 0x00, // captured length 1
        0x3c, 0x00, 0x00, 0x00, // original length 60
        0x11, 0x00, 0x00, 0x00, // 1 data byte + 3 bytes padding
        0x24, 0x00, 0x00, 0x00, // block total length: 36
    });
    EXPECT_EQ(hex(encode(1)), hex(three_bytes_padding));

    const ByteBuffer two_bytes_padding = bytes_of({
        0x06, 0x00, 0x00, 0x00, // block type: EPB
        0x24, 0x00, 0x00, 0x00, // block total length: 36
        0x03, 0x00, 0x00, 0x00, // interface id 3
        0x00, 0x00, 0x00, 0x00, // timestamp high
        0x02, 0xca, 0x9a, 0x3b, // timestamp low
        0x02, 0x00, 0x00, 0x00, // captured length 2
        0x3c, 0x00, 0x00, 0x00, // original length 60
        0x11, 0x22, 0x00, 0x00, // 2 data bytes + 2 bytes padding
        0x24, 0x00, 0x00, 0x00, // block total length: 36
    });
    EXPECT_EQ(hex(encode(2)), hex(two_bytes_padding));

    const ByteBuffer one_byte_padding = bytes_of({
        0x06, 0x00, 0x00, 0x00, // block type: EPB
        0x24, 0x00, 0x00, 0x00, // block total length: 36
        0x03, 0x00, 0x00, 0x00, // interface id 3
        0x00, 0x00, 0x00, 0x00, // timestamp high
        0x02, 0xca, 0x9a, 0x3b, // timestamp low
        0x03, 0x00, 0x00, 0x00, // captured length 3
        0x3c, 0x00, 0x00, 0x00, // original length 60
        0x11, 0x22, 0x33, 0x00, // 3 data bytes + 1 byte padding
        0x24, 0x00, 0x00, 0x00, // block total length: 36
    });
    EXPECT_EQ(hex(encode(3)), hex(one_byte_padding));
}

TEST_F(Pcapng, EnhancedPacketConcatenatesLinkHeaderAndPayload) {
    const ByteBuffer link_header = bytes_of({0xaa, 0xbb, 0xcc});
    const ByteBuffer payload = bytes_of({0x01, 0x02});
    ByteBuffer out;
    EnhancedPacket epb;
    epb.interface_id = 1;
    epb.timestamp = Timestamp{.sec = 1700000000, .nsec = 123456789};
    epb.link_header = link_header;
    epb.payload = payload;
    epb.original_length = 100;
    append_enhanced_packet(out, epb);
    const ByteBuffer expected = bytes_of({
        0x06, 0x00, 0x00, 0x00, // block type: EPB
        0x28, 0x00, 0x00, 0x00, // block total length: 40
        0x01, 0x00, 0x00, 0x00, // interface id 1
        0xfe, 0x9c, 0x97, 0x17, // timestamp high: 1700000000123456789 ns = 0x17979cfe'3d85cd15
        0x15, 0xcd, 0x85, 0x3d, // timestamp low
        0x05, 0x00, 0x00, 0x00, // captured length 5 (3 link header + 2 payload)
        0x64, 0x00, 0x00, 0x00, // original length 100
        0xaa, 0xbb, 0xcc, 0x01, // link header, then payload
        0x02, 0x00, 0x00, 0x00, //   + 3 bytes padding
        0x28, 0x00, 0x00, 0x00, // block total length: 40
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, EnhancedPacketWritesOptionsInOrder) {
    const ByteBuffer payload = bytes_of({0x01, 0x02, 0x03, 0x04, 0x05, 0x06});
    ByteBuffer out;
    EnhancedPacket epb;
    epb.interface_id = 2;
    epb.timestamp = Timestamp{.sec = 1700000001, .nsec = 0};
    epb.payload = payload;
    epb.original_length = 1500;
    epb.direction = EpbDirection::inbound;
    epb.dropcount = 7;
    epb.packet_id = 0x0102030405060708;
    epb.comment = "hi";
    append_enhanced_packet(out, epb);
    const ByteBuffer expected = bytes_of({
        0x06, 0x00, 0x00, 0x00,                         // block type: EPB
        0x54, 0x00, 0x00, 0x00,                         // block total length: 84
        0x02, 0x00, 0x00, 0x00,                         // interface id 2
        0xfe, 0x9c, 0x97, 0x17,                         // timestamp high (0x17979cfe'71c4ca00)
        0x00, 0xca, 0xc4, 0x71,                         // timestamp low
        0x06, 0x00, 0x00, 0x00,                         // captured length 6
        0xdc, 0x05, 0x00, 0x00,                         // original length 1500
        0x01, 0x02, 0x03, 0x04,                         // packet data
        0x05, 0x06, 0x00, 0x00,                         //   + 2 bytes padding
        0x01, 0x00, 0x02, 0x00,                         // opt_comment, length 2
        'h',  'i',  0x00, 0x00,                         //   + 2 bytes padding
        0x02, 0x00, 0x04, 0x00,                         // epb_flags, length 4
        0x01, 0x00, 0x00, 0x00,                         //   direction 01 = inbound
        0x04, 0x00, 0x08, 0x00,                         // epb_dropcount, length 8
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   7
        0x05, 0x00, 0x08, 0x00,                         // epb_packetid, length 8
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, //   0x0102030405060708
        0x00, 0x00, 0x00, 0x00,                         // opt_endofopt
        0x54, 0x00, 0x00, 0x00,                         // block total length: 84
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, EnhancedPacketWritesPresentOptionsEvenWhenZero) {
    ByteBuffer out;
    EnhancedPacket epb;
    epb.interface_id = 0;
    epb.timestamp = Timestamp{.sec = 0, .nsec = 0};
    epb.original_length = 60;
    epb.direction = EpbDirection::unknown;
    epb.dropcount = 0;
    append_enhanced_packet(out, epb);
    const ByteBuffer expected = bytes_of({
        0x06, 0x00, 0x00, 0x00,                         // block type: EPB
        0x38, 0x00, 0x00, 0x00,                         // block total length: 56
        0x00, 0x00, 0x00, 0x00,                         // interface id 0
        0x00, 0x00, 0x00, 0x00,                         // timestamp high: epoch
        0x00, 0x00, 0x00, 0x00,                         // timestamp low
        0x00, 0x00, 0x00, 0x00,                         // captured length 0 (no data)
        0x3c, 0x00, 0x00, 0x00,                         // original length 60
        0x02, 0x00, 0x04, 0x00,                         // epb_flags, length 4
        0x00, 0x00, 0x00, 0x00,                         //   direction 00 = not available
        0x04, 0x00, 0x08, 0x00,                         // epb_dropcount, length 8
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   0
        0x00, 0x00, 0x00, 0x00,                         // opt_endofopt
        0x38, 0x00, 0x00, 0x00,                         // block total length: 56
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, EnhancedPacketAppendsAfterExistingBytes) {
    const ByteBuffer payload = bytes_of({0xde, 0xad, 0xbe, 0xef});
    ByteBuffer out = bytes_of({0x99, 0x98, 0x97, 0x96});
    EnhancedPacket epb;
    epb.interface_id = 0;
    epb.timestamp = Timestamp{.sec = 1, .nsec = 2};
    epb.payload = payload;
    epb.original_length = 4;
    append_enhanced_packet(out, epb);
    const ByteBuffer expected = bytes_of({
        0x99, 0x98, 0x97, 0x96, // what the buffer held before, untouched
        0x06, 0x00, 0x00, 0x00, // block type: EPB
        0x24, 0x00, 0x00, 0x00, // block total length: 36
        0x00, 0x00, 0x00, 0x00, // interface id 0
        0x00, 0x00, 0x00, 0x00, // timestamp high
        0x02, 0xca, 0x9a, 0x3b, // timestamp low
        0x04, 0x00, 0x00, 0x00, // captured length 4
        0x04, 0x00, 0x00, 0x00, // original length 4
        0xde, 0xad, 0xbe, 0xef, // packet data
        0x24, 0x00, 0x00, 0x00, // block total length: 36
    });
    EXPECT_EQ(hex(out), hex(expected));
}

// ----------------------------------------------------------- Interface Statistics Block

TEST_F(Pcapng, InterfaceStatisticsWithoutOptions) {
    ByteBuffer out;
    InterfaceStatistics isb;
    isb.interface_id = 7;
    isb.timestamp = Timestamp{.sec = 1, .nsec = 2};
    append_interface_statistics(out, isb);
    const ByteBuffer expected = bytes_of({
        0x05, 0x00, 0x00, 0x00, // block type: ISB
        0x18, 0x00, 0x00, 0x00, // block total length: 24
        0x07, 0x00, 0x00, 0x00, // interface id 7
        0x00, 0x00, 0x00, 0x00, // timestamp high
        0x02, 0xca, 0x9a, 0x3b, // timestamp low
        0x18, 0x00, 0x00, 0x00, // block total length: 24
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, InterfaceStatisticsWritesAllOptionsInOrder) {
    ByteBuffer out;
    InterfaceStatistics isb;
    isb.interface_id = 0;
    isb.timestamp = Timestamp{.sec = 1700000100, .nsec = 999999999};
    isb.start_time = Timestamp{.sec = 1700000000, .nsec = 123456789};
    isb.end_time = Timestamp{.sec = 1700000100, .nsec = 999999999};
    isb.received = 1000;
    isb.dropped = 2;
    isb.filter_accepted = 900;
    isb.os_dropped = 3;
    isb.delivered = 895;
    isb.comment = "end";
    append_interface_statistics(out, isb);
    const ByteBuffer expected = bytes_of({
        0x05, 0x00, 0x00, 0x00,                         // block type: ISB
        0x78, 0x00, 0x00, 0x00,                         // block total length: 120
        0x00, 0x00, 0x00, 0x00,                         // interface id 0
        0x15, 0x9d, 0x97, 0x17,                         // timestamp high (0x17979d15'ba3bb1ff)
        0xff, 0xb1, 0x3b, 0xba,                         // timestamp low
        0x01, 0x00, 0x03, 0x00,                         // opt_comment, length 3
        'e',  'n',  'd',  0x00,                         //   + 1 byte padding
        0x02, 0x00, 0x08, 0x00,                         // isb_starttime, length 8
        0xfe, 0x9c, 0x97, 0x17,                         //   high (0x17979cfe'3d85cd15)
        0x15, 0xcd, 0x85, 0x3d,                         //   low
        0x03, 0x00, 0x08, 0x00,                         // isb_endtime, length 8
        0x15, 0x9d, 0x97, 0x17,                         //   high (0x17979d15'ba3bb1ff)
        0xff, 0xb1, 0x3b, 0xba,                         //   low
        0x04, 0x00, 0x08, 0x00,                         // isb_ifrecv, length 8
        0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   1000
        0x05, 0x00, 0x08, 0x00,                         // isb_ifdrop, length 8
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   2
        0x06, 0x00, 0x08, 0x00,                         // isb_filteraccept, length 8
        0x84, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   900
        0x07, 0x00, 0x08, 0x00,                         // isb_osdrop, length 8
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   3
        0x08, 0x00, 0x08, 0x00,                         // isb_usrdeliv, length 8
        0x7f, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   895
        0x00, 0x00, 0x00, 0x00,                         // opt_endofopt
        0x78, 0x00, 0x00, 0x00,                         // block total length: 120
    });
    EXPECT_EQ(hex(out), hex(expected));
}

TEST_F(Pcapng, InterfaceStatisticsSkipsAbsentOptions) {
    ByteBuffer out;
    InterfaceStatistics isb;
    isb.interface_id = 1;
    isb.timestamp = Timestamp{.sec = 1, .nsec = 2};
    isb.end_time = Timestamp{.sec = 1, .nsec = 2};
    isb.delivered = 5;
    append_interface_statistics(out, isb);
    const ByteBuffer expected = bytes_of({
        0x05, 0x00, 0x00, 0x00,                         // block type: ISB
        0x34, 0x00, 0x00, 0x00,                         // block total length: 52
        0x01, 0x00, 0x00, 0x00,                         // interface id 1
        0x00, 0x00, 0x00, 0x00,                         // timestamp high
        0x02, 0xca, 0x9a, 0x3b,                         // timestamp low
        0x03, 0x00, 0x08, 0x00,                         // isb_endtime, length 8
        0x00, 0x00, 0x00, 0x00,                         //   high
        0x02, 0xca, 0x9a, 0x3b,                         //   low
        0x08, 0x00, 0x08, 0x00,                         // isb_usrdeliv, length 8
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   5
        0x00, 0x00, 0x00, 0x00,                         // opt_endofopt
        0x34, 0x00, 0x00, 0x00,                         // block total length: 52
    });
    EXPECT_EQ(hex(out), hex(expected));
}

// ------------------------------------------------------------------------ framing

TEST_F(Pcapng, BlockLengthsMatchAtBothEndsAndAreMultiplesOfFour) {
    const ByteBuffer data = bytes_of({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});
    const std::string_view text = "abcdefghij";
    const std::span<const std::byte> all(data);

    ByteBuffer out;
    std::size_t blocks = 0;
    SectionHeader shb;
    shb.user_application = "t";
    shb.hardware = "hw";
    append_section_header(out, shb);
    InterfaceDescription idb;
    idb.name = "x";
    append_interface_description(out, idb);
    blocks += 2;
    for (std::size_t header = 0; header <= 3; ++header) {
        for (std::size_t length = header; length <= data.size(); ++length) {
            const bool options = (length % 2) == 1;
            EnhancedPacket epb;
            epb.timestamp = Timestamp{.sec = 1, .nsec = 2};
            epb.link_header = all.first(header);
            epb.payload = all.subspan(header, length - header);
            epb.original_length = static_cast<std::uint32_t>(length);
            epb.direction = options ? std::optional(EpbDirection::outbound) : std::nullopt;
            epb.comment = text.substr(0, length % text.size());
            append_enhanced_packet(out, epb);
            ++blocks;
        }
    }
    InterfaceStatistics isb;
    isb.comment = "abcde";
    isb.received = 1;
    append_interface_statistics(out, isb);
    ++blocks;

    std::size_t offset = 0;
    std::size_t seen = 0;
    while (offset < out.size()) {
        ASSERT_LE(offset + 12, out.size()) << "block at " << offset;
        const std::uint32_t length = read_u32(out, offset + 4);
        ASSERT_EQ(length % 4, 0U) << "block at " << offset;
        ASSERT_GE(length, 12U) << "block at " << offset;
        ASSERT_LE(offset + length, out.size()) << "block at " << offset;
        EXPECT_EQ(read_u32(out, offset + length - 4), length) << "block at " << offset;
        offset += length;
        ++seen;
    }
    EXPECT_EQ(offset, out.size());
    EXPECT_EQ(seen, blocks);
}

// ------------------------------------------------------------------------ refusals

// Runs `append` on a buffer that already holds a block and checks that it throws EncodeError
// and leaves the buffer exactly as it was: same bytes, same storage, same capacity.
void expect_refused(const std::function<void(ByteBuffer&)>& append) {
    ByteBuffer out;
    SectionHeader shb;
    shb.user_application = "before";
    append_section_header(out, shb);
    const ByteBuffer before = out;
    const std::byte* storage = out.data();
    const std::size_t capacity = out.capacity();
    EXPECT_THROW(append(out), EncodeError);
    EXPECT_EQ(out, before);
    EXPECT_EQ(out.data(), storage);
    EXPECT_EQ(out.capacity(), capacity);
}

TEST_F(Pcapng, OptionLongerThan65535BytesIsRefused) {
    const std::string too_long(65536, 'a');
    expect_refused([&](ByteBuffer& out) {
        SectionHeader shb;
        shb.user_application = too_long;
        append_section_header(out, shb);
    });
    expect_refused([&](ByteBuffer& out) {
        SectionHeader shb;
        shb.hardware = too_long;
        append_section_header(out, shb);
    });
    expect_refused([&](ByteBuffer& out) {
        SectionHeader shb;
        shb.os = too_long;
        append_section_header(out, shb);
    });
    expect_refused([&](ByteBuffer& out) {
        InterfaceDescription idb;
        idb.name = too_long;
        append_interface_description(out, idb);
    });
    expect_refused([&](ByteBuffer& out) {
        InterfaceDescription idb;
        idb.description = too_long;
        append_interface_description(out, idb);
    });
    expect_refused([&](ByteBuffer& out) {
        EnhancedPacket epb;
        epb.comment = too_long;
        append_enhanced_packet(out, epb);
    });
    expect_refused([&](ByteBuffer& out) {
        InterfaceStatistics isb;
        isb.comment = too_long;
        append_interface_statistics(out, isb);
    });
}

TEST_F(Pcapng, OptionOf65535BytesIsAccepted) {
    const std::string longest(65535, 'a');
    ByteBuffer out;
    EnhancedPacket epb;
    epb.comment = longest;
    append_enhanced_packet(out, epb);
    // 28 fixed + (4 + 65535 + 1 padding) comment + 4 opt_endofopt + 4 trailing length
    ASSERT_EQ(out.size(), 65576U);
    EXPECT_EQ(read_u32(out, 4), 65576U);
    EXPECT_EQ(read_u32(out, 65572), 65576U);
    EXPECT_EQ(std::to_integer<int>(out[28]), 1); // opt_comment
    EXPECT_EQ(std::to_integer<int>(out[30]), 0xff);
    EXPECT_EQ(std::to_integer<int>(out[31]), 0xff); // length 65535
}

TEST_F(Pcapng, OriginalLengthShorterThanCapturedIsRefused) {
    const ByteBuffer link_header = bytes_of({0xaa, 0xbb, 0xcc});
    const ByteBuffer payload = bytes_of({0x01, 0x02});
    expect_refused([&](ByteBuffer& out) {
        EnhancedPacket epb;
        epb.link_header = link_header;
        epb.payload = payload;
        epb.original_length = 4;
        append_enhanced_packet(out, epb);
    });
    expect_refused([&](ByteBuffer& out) {
        EnhancedPacket epb;
        epb.payload = payload;
        epb.original_length = 0;
        append_enhanced_packet(out, epb);
    });
}

TEST_F(Pcapng, TimestampBeforeEpochIsRefused) {
    const Timestamp before_epoch{.sec = -1, .nsec = 999999999};
    expect_refused([&](ByteBuffer& out) {
        EnhancedPacket epb;
        epb.timestamp = before_epoch;
        append_enhanced_packet(out, epb);
    });
    expect_refused([&](ByteBuffer& out) {
        InterfaceStatistics isb;
        isb.timestamp = before_epoch;
        append_interface_statistics(out, isb);
    });
    expect_refused([&](ByteBuffer& out) {
        InterfaceStatistics isb;
        isb.start_time = before_epoch;
        append_interface_statistics(out, isb);
    });
    expect_refused([&](ByteBuffer& out) {
        InterfaceStatistics isb;
        isb.end_time = before_epoch;
        append_interface_statistics(out, isb);
    });
}

TEST_F(Pcapng, TimestampWithOneSecondOfNanosecondsIsRefused) {
    expect_refused([&](ByteBuffer& out) {
        EnhancedPacket epb;
        epb.timestamp = Timestamp{.sec = 1, .nsec = 1'000'000'000};
        append_enhanced_packet(out, epb);
    });
}

TEST_F(Pcapng, TimestampBeyondSixtyFourBitsOfNanosecondsIsRefused) {
    // 2^64 - 1 ns = 18446744073 s + 709551615 ns is the last representable instant.
    ByteBuffer out;
    EnhancedPacket last;
    last.timestamp = Timestamp{.sec = 18446744073, .nsec = 709551615};
    append_enhanced_packet(out, last);
    EXPECT_EQ(read_u32(out, 12), 0xffffffffU);
    EXPECT_EQ(read_u32(out, 16), 0xffffffffU);

    expect_refused([&](ByteBuffer& buffer) {
        EnhancedPacket epb;
        epb.timestamp = Timestamp{.sec = 18446744073, .nsec = 709551616};
        append_enhanced_packet(buffer, epb);
    });
    expect_refused([&](ByteBuffer& buffer) {
        EnhancedPacket epb;
        epb.timestamp = Timestamp{.sec = std::numeric_limits<std::int64_t>::max(), .nsec = 0};
        append_enhanced_packet(buffer, epb);
    });
}

TEST_F(Pcapng, DirectionOutsideTwoBitsIsRefused) {
    expect_refused([&](ByteBuffer& out) {
        EnhancedPacket epb;
        epb.direction = static_cast<EpbDirection>(3);
        append_enhanced_packet(out, epb);
    });
}

TEST_F(Pcapng, BlockLongerThanLengthFieldIsRefused) {
    // A 4 GiB span over inaccessible address space: the encoder must refuse from the lengths
    // alone, before touching (or allocating for) a single byte.
    constexpr std::size_t size = 0xFFFFFFF0;
    void* region =
        mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) {
        GTEST_SKIP() << "cannot reserve 4 GiB of address space: " << std::strerror(errno);
    }
    const std::span<const std::byte> huge(static_cast<const std::byte*>(region), size);
    expect_refused([&](ByteBuffer& out) {
        // 32 bytes of fixed fields + 0xFFFFFFF0 data bytes > 0xFFFFFFFF
        EnhancedPacket epb;
        epb.payload = huge;
        epb.original_length = 0xFFFFFFFF;
        append_enhanced_packet(out, epb);
    });
    expect_refused([&](ByteBuffer& out) {
        EnhancedPacket epb;
        epb.link_header = huge.first(16);
        epb.payload = huge;
        epb.original_length = 0xFFFFFFFF;
        append_enhanced_packet(out, epb);
    });
    munmap(region, size);
}

// ------------------------------------------------------------- read-back by libpcap

class TempFile {
  public:
    TempFile() {
        char name[] = "/tmp/nfcap_pcapng_test_XXXXXX";
        fd_ = mkstemp(name);
        if (fd_ >= 0) {
            path_ = name;
        }
    }
    ~TempFile() {
        if (fd_ >= 0) {
            close(fd_);
            unlink(path_.c_str());
        }
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    bool valid() const { return fd_ >= 0; }
    const std::string& path() const { return path_; }

    bool write_all(const ByteBuffer& data) const {
        std::size_t done = 0;
        while (done < data.size()) {
            const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

  private:
    int fd_ = -1;
    std::string path_;
};

struct ExpectedRecord {
    std::int64_t sec;
    std::uint32_t nsec;
    std::uint32_t original_length;
    ByteBuffer bytes; // link header followed by payload
};

using PcapHandle = std::unique_ptr<pcap_t, decltype(&pcap_close)>;

void expect_read_back(const ByteBuffer& file, int datalink,
                      const std::vector<ExpectedRecord>& records) {
    TempFile temp;
    ASSERT_TRUE(temp.valid()) << "mkstemp: " << std::strerror(errno);
    ASSERT_TRUE(temp.write_all(file)) << "write: " << std::strerror(errno);

    char errbuf[PCAP_ERRBUF_SIZE] = {};
    PcapHandle pcap(pcap_open_offline_with_tstamp_precision(temp.path().c_str(),
                                                            PCAP_TSTAMP_PRECISION_NANO, errbuf),
                    &pcap_close);
    ASSERT_NE(pcap, nullptr) << errbuf;
    EXPECT_EQ(pcap_datalink(pcap.get()), datalink);
    EXPECT_EQ(pcap_get_tstamp_precision(pcap.get()), PCAP_TSTAMP_PRECISION_NANO);

    std::size_t index = 0;
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    int rc = 0;
    while ((rc = pcap_next_ex(pcap.get(), &header, &data)) == 1) {
        ASSERT_LT(index, records.size()) << "more records than written";
        const ExpectedRecord& want = records[index];
        SCOPED_TRACE("record " + std::to_string(index));
        EXPECT_EQ(header->ts.tv_sec, want.sec);
        EXPECT_EQ(header->ts.tv_usec, static_cast<suseconds_t>(want.nsec)); // ns at this precision
        EXPECT_EQ(header->caplen, want.bytes.size());
        EXPECT_EQ(header->len, want.original_length);
        ASSERT_EQ(header->caplen, want.bytes.size());
        ByteBuffer got(header->caplen);
        std::memcpy(got.data(), data, got.size());
        EXPECT_EQ(hex(got), hex(want.bytes));
        ++index;
    }
    EXPECT_EQ(rc, PCAP_ERROR_BREAK) << pcap_geterr(pcap.get()); // -2: end of file
    EXPECT_EQ(index, records.size());
}

ByteBuffer sequence(std::size_t length, int first) {
    ByteBuffer out(length);
    for (std::size_t i = 0; i < length; ++i) {
        out[i] = static_cast<std::byte>((static_cast<std::size_t>(first) + i) & 0xffU);
    }
    return out;
}

ByteBuffer concat(const ByteBuffer& a, const ByteBuffer& b) {
    ByteBuffer out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

TEST_F(Pcapng, LinuxSll2FileReadsBackWithLibpcap) {
    // LINUX_SLL2 header: protocol 0x0800, reserved, ifindex 2, ARPHRD_ETHER, PACKET_HOST,
    // address length 6, the source MAC padded to 8.
    const ByteBuffer sll2 = bytes_of({0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01,
                                      0x00, 0x06, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00});
    ASSERT_EQ(sll2.size(), 20U);
    const ByteBuffer whole = sequence(28, 0x45);    // captured whole, no padding needed
    const ByteBuffer truncated = sequence(7, 0x10); // cut by the copy range, 1 byte padding
    const ByteBuffer odd = sequence(33, 0x80);      // 3 bytes padding

    ByteBuffer file;
    SectionHeader shb;
    shb.user_application = "nfcap unit test";
    append_section_header(file, shb);

    InterfaceDescription nflog;
    nflog.link_type = LinkType::linux_sll2;
    nflog.snaplen = 262144;
    nflog.name = "nflog:123";
    nflog.description = "NFLOG group 123";
    append_interface_description(file, nflog); // interface 0

    InterfaceDescription nfqueue = nflog;
    nfqueue.name = "nfqueue:5";
    nfqueue.description = "";
    append_interface_description(file, nfqueue); // interface 1

    EnhancedPacket first;
    first.interface_id = 0;
    first.timestamp = Timestamp{.sec = 1700000000, .nsec = 123456789};
    first.link_header = sll2;
    first.payload = whole;
    first.original_length = 48;
    first.direction = EpbDirection::inbound;
    first.comment = "nflog:123 hook=input";
    append_enhanced_packet(file, first);

    EnhancedPacket second;
    second.interface_id = 1;
    second.timestamp = Timestamp{.sec = 1700000001, .nsec = 0};
    second.link_header = sll2;
    second.payload = truncated;
    second.original_length = 20 + 1500;
    second.packet_id = 9;
    append_enhanced_packet(file, second);

    EnhancedPacket third;
    third.interface_id = 0;
    third.timestamp = Timestamp{.sec = 1700000100, .nsec = 999999999};
    third.link_header = sll2;
    third.payload = odd;
    third.original_length = 53;
    third.dropcount = 2;
    append_enhanced_packet(file, third);

    // libpcap skips statistics blocks; one here checks that it does so cleanly.
    InterfaceStatistics isb;
    isb.interface_id = 0;
    isb.timestamp = Timestamp{.sec = 1700000101, .nsec = 0};
    isb.received = 3;
    isb.dropped = 0;
    append_interface_statistics(file, isb);

    expect_read_back(file, DLT_LINUX_SLL2,
                     {
                         {1700000000, 123456789, 48, concat(sll2, whole)},
                         {1700000001, 0, 1520, concat(sll2, truncated)},
                         {1700000100, 999999999, 53, concat(sll2, odd)},
                     });
}

TEST_F(Pcapng, RawFileReadsBackWithLibpcap) {
    ByteBuffer ipv4 = sequence(21, 0);
    ipv4[0] = std::byte{0x45}; // version 4, IHL 5
    ByteBuffer ipv6 = sequence(42, 0);
    ipv6[0] = std::byte{0x60}; // version 6

    ByteBuffer file;
    SectionHeader shb;
    shb.user_application = "nfcap unit test";
    shb.hardware = "x86_64";
    shb.os = "Linux";
    append_section_header(file, shb);
    InterfaceDescription idb;
    idb.link_type = LinkType::raw;
    idb.snaplen = 65535;
    idb.name = "nflog:7";
    append_interface_description(file, idb);
    EnhancedPacket v4;
    v4.timestamp = Timestamp{.sec = 1, .nsec = 2};
    v4.payload = ipv4;
    v4.original_length = 21;
    append_enhanced_packet(file, v4);

    EnhancedPacket v6;
    v6.timestamp = Timestamp{.sec = 2000000000, .nsec = 500};
    v6.payload = ipv6;
    v6.original_length = 1280;
    v6.direction = EpbDirection::outbound;
    append_enhanced_packet(file, v6);

    // libpcap maps LINKTYPE_RAW (101) to its platform's DLT_RAW.
    expect_read_back(file, DLT_RAW,
                     {
                         {1, 2, 21, ipv4},
                         {2000000000, 500, 1280, ipv6},
                     });
}

} // namespace
} // namespace nfcap
