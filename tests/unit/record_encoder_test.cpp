#include "nflog_message.hpp"

#include <nfcap/nflog_decode.hpp>
#include <nfcap/record_encoder.hpp>

#include <gtest/gtest.h>

#include <map>
#include <vector>

using nfcap::ByteBuffer;
using nfcap::EncodeResult;
using nfcap::LinkType;
using nfcap::RecordEncoder;
using nfcap::test::NflogMessage;

namespace {

std::uint32_t u32_at(const ByteBuffer& b, std::size_t offset) {
    std::uint32_t v = 0;
    std::memcpy(&v, b.data() + offset, 4);
    return v;
}

// EPB layout: type, length, interface, ts high, ts low, caplen, origlen, data...
struct EpbView {
    std::uint32_t interface_id, caplen, origlen;
    std::uint64_t ts;
    std::span<const std::byte> data;
};

EpbView view(const ByteBuffer& b) {
    EXPECT_EQ(u32_at(b, 0), 6U);
    EXPECT_EQ(u32_at(b, 4), b.size());
    EpbView v{};
    v.interface_id = u32_at(b, 8);
    v.ts = (std::uint64_t{u32_at(b, 12)} << 32U) | u32_at(b, 16);
    v.caplen = u32_at(b, 20);
    v.origlen = u32_at(b, 24);
    v.data = std::span(b).subspan(28, v.caplen);
    return v;
}

bool contains(const ByteBuffer& b, std::string_view text) {
    const std::string s(reinterpret_cast<const char*>(b.data()), b.size());
    return s.find(text) != std::string::npos;
}

NflogMessage input_record(std::size_t size, std::uint16_t total) {
    NflogMessage m(9, 2);
    m.packet_header(0x0800, 1)
        .u32(NFULA_IFINDEX_INDEV, 4)
        .u16(NFULA_HWTYPE, 1)
        .hwaddr({0x52, 0x54, 0, 1, 2, 3})
        .bytes(NFULA_HWHEADER, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 1, 2, 3, 8, 0})
        .timestamp(10, 5)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(size, total));
    return m;
}

nfcap::RecordContext context() {
    nfcap::RecordContext c;
    c.interface_id = 2;
    c.source = "nflog:9";
    c.fallback_time = {99, 1};
    return c;
}

} // namespace

TEST(RecordEncoder, Sll2HeaderCarriesProtocolInterfaceTypeAndAddress) {
    const auto m = input_record(40, 40);
    const auto h = nfcap::sll2_header(nfcap::decode_nflog(m.record()));
    const std::array<std::uint8_t, 20> expected{
        0x08, 0x00,             // protocol IPv4
        0x00, 0x00,             // reserved
        0x00, 0x00, 0x00, 0x04, // ifindex 4 (input device)
        0x00, 0x01,             // ARPHRD_ETHER
        0x01,                   // PACKET_BROADCAST: the Ethernet destination was ff:ff:...
        0x06,                   // address length
        0x52, 0x54, 0x00, 0x01, 0x02, 0x03, 0x00, 0x00};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(std::to_integer<unsigned>(h[i]), expected[i]) << "byte " << i;
    }
}

TEST(RecordEncoder, OutboundHooksAreOutgoingOnTheOutputDevice) {
    NflogMessage m(1, 10);
    m.packet_header(0x86dd, 3)
        .u32(NFULA_IFINDEX_OUTDEV, 7)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv6_udp(48, 8));
    const auto h = nfcap::sll2_header(nfcap::decode_nflog(m.record()));
    EXPECT_EQ(std::to_integer<unsigned>(h[0]), 0x86U);
    EXPECT_EQ(std::to_integer<unsigned>(h[1]), 0xddU);
    EXPECT_EQ(std::to_integer<unsigned>(h[7]), 7U);
    EXPECT_EQ(std::to_integer<unsigned>(h[10]), 4U) << "PACKET_OUTGOING";
    EXPECT_EQ(std::to_integer<unsigned>(h[11]), 0U) << "no address on output";
}

TEST(RecordEncoder, Sll2RecordKeepsKernelTimeLengthsAndComment) {
    const auto m = input_record(64, 1500);
    RecordEncoder encoder(LinkType::linux_sll2, 262144);
    ByteBuffer out;
    ASSERT_EQ(encoder.append(out, nfcap::decode_nflog(m.record()), m.record(), context()),
              EncodeResult::written);
    const EpbView v = view(out);
    EXPECT_EQ(v.interface_id, 2U);
    EXPECT_EQ(v.ts, 10'000'005'000ULL) << "kernel timestamp, usec scaled to ns";
    EXPECT_EQ(v.caplen, 20U + 64U);
    EXPECT_EQ(v.origlen, 20U + 1500U) << "truncation is visible";
    EXPECT_EQ(v.data[20], std::byte{0x45});
    // The record states the family (an IPv4 payload), the hardware type and address (the SLL2
    // header) and that the time is the kernel's (no ts key): the comment leaves them out.
    EXPECT_TRUE(contains(out, "nflog:9 hook=input in=4 "));
    EXPECT_FALSE(contains(out, "family="));
    EXPECT_FALSE(contains(out, "hwtype="));
    EXPECT_FALSE(contains(out, "ts="));
    EXPECT_TRUE(contains(out, " trunc=1500"));
    EXPECT_EQ(encoder.interface_snaplen(), 262144U + 20U);
    // The full comment (text and JSON output) keeps every key.
    const std::string full(encoder.comment(nfcap::decode_nflog(m.record()), context()));
    EXPECT_NE(full.find("nflog:9 hook=input family=ipv4 in=4 hwtype=1"), std::string::npos) << full;
    EXPECT_NE(full.find("ts=kernel trunc=1500"), std::string::npos) << full;
}

TEST(RecordEncoder, CommentKeepsWhatTheRecordDoesNotState) {
    // An IPv6 family whose payload is IPv4 (the record disagrees with itself): family stays.
    const auto m = input_record(64, 64);
    auto packet = nfcap::decode_nflog(m.record());
    packet.family = nfcap::Family::ipv6;
    packet.has_prefix = true; // an empty prefix is left out ...
    RecordEncoder raw(LinkType::raw, 262144);
    ByteBuffer out;
    ASSERT_EQ(raw.append(out, packet, m.record(), context()), EncodeResult::written);
    EXPECT_TRUE(contains(out, " family=ipv6 ")) << "the payload says IPv4";
    EXPECT_FALSE(contains(out, "prefix="));
    // ... and a RAW record has no header that holds the hardware type.
    EXPECT_TRUE(contains(out, " hwtype=1"));
    // A LINKTYPE_NFLOG frame holds attributes, not the IP packet: the family stays.
    RecordEncoder nflog(LinkType::nflog, 262144);
    out.clear();
    ASSERT_EQ(nflog.append(out, nfcap::decode_nflog(m.record()), m.record(), context()),
              EncodeResult::written);
    EXPECT_TRUE(contains(out, "nflog:9 hook=input family=ipv4 in=4 "));
    EXPECT_FALSE(contains(out, "ts="));
    packet.prefix = "x"; // a prefix that is not empty stays
    out.clear();
    ASSERT_EQ(raw.append(out, packet, m.record(), context()), EncodeResult::written);
    EXPECT_TRUE(contains(out, " prefix=x "));
}

TEST(RecordEncoder, MissingKernelTimeFallsBackAndSaysSo) {
    NflogMessage m(9, 2);
    m.packet_header(0x0800, 3).bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(28, 28));
    RecordEncoder encoder(LinkType::raw, 100);
    ByteBuffer out;
    encoder.append(out, nfcap::decode_nflog(m.record()), m.record(), context());
    const EpbView v = view(out);
    EXPECT_EQ(v.ts, 99'000'000'001ULL);
    EXPECT_EQ(v.caplen, 28U) << "raw: no link header";
    EXPECT_TRUE(contains(out, "ts=receive"));
}

TEST(RecordEncoder, SnaplenCutsThePayloadAndTheCommentSaysSo) {
    const auto m = input_record(200, 200);
    RecordEncoder encoder(LinkType::raw, 50);
    ByteBuffer out;
    encoder.append(out, nfcap::decode_nflog(m.record()), m.record(), context());
    const EpbView v = view(out);
    EXPECT_EQ(v.caplen, 50U);
    EXPECT_EQ(v.origlen, 200U);
    EXPECT_TRUE(contains(out, "trunc=200"));
}

TEST(RecordEncoder, RawRefusesNonIpRecordsWithoutWriting) {
    NflogMessage arp(1, 3);
    arp.packet_header(0x0806, 0).bytes(NFULA_PAYLOAD, std::vector<std::uint8_t>(28, 0));
    RecordEncoder encoder(LinkType::raw, 262144);
    ByteBuffer out;
    EXPECT_EQ(encoder.append(out, nfcap::decode_nflog(arp.record()), arp.record(), context()),
              EncodeResult::unsupported);
    EXPECT_TRUE(out.empty());
    RecordEncoder sll2(LinkType::linux_sll2, 262144);
    EXPECT_EQ(sll2.append(out, nfcap::decode_nflog(arp.record()), arp.record(), context()),
              EncodeResult::written);
}

TEST(RecordEncoder, NflogLinkTypeKeepsTheRecordVerbatim) {
    const auto m = input_record(64, 64);
    RecordEncoder encoder(LinkType::nflog, 10);
    ByteBuffer out;
    encoder.append(out, nfcap::decode_nflog(m.record()), m.record(), context());
    const EpbView v = view(out);
    ASSERT_EQ(v.caplen, m.record().size());
    EXPECT_TRUE(std::equal(v.data.begin(), v.data.end(), m.record().begin()));
}

TEST(RecordEncoder, DirectionDropcountAndPacketIdBecomeOptions) {
    const auto m = input_record(20, 20);
    RecordEncoder encoder(LinkType::linux_sll2, 262144);
    auto c = context();
    c.dropcount = 3;
    c.packet_id = 77;
    ByteBuffer out;
    encoder.append(out, nfcap::decode_nflog(m.record()), m.record(), c);
    // Options follow the padded data: walk them and collect codes.
    std::size_t at = 28 + ((view(out).caplen + 3U) & ~3U);
    std::map<std::uint16_t, std::uint64_t> numbers;
    while (at + 4 <= out.size() - 4) {
        std::uint16_t code = 0;
        std::uint16_t length = 0;
        std::memcpy(&code, out.data() + at, 2);
        std::memcpy(&length, out.data() + at + 2, 2);
        if (code == 0) {
            break;
        }
        std::uint64_t value = 0;
        if (length == 4 || length == 8) {
            std::memcpy(&value, out.data() + at + 4, length);
        }
        numbers[code] = value;
        at += 4 + ((length + 3U) & ~3U);
    }
    EXPECT_EQ(numbers.at(2), 1U) << "epb_flags inbound";
    EXPECT_EQ(numbers.at(4), 3U) << "epb_dropcount";
    EXPECT_EQ(numbers.at(5), 77U) << "epb_packetid";
    EXPECT_TRUE(numbers.count(1)) << "opt_comment";
}

TEST(RecordEncoder, ResolvedNamesAreWrittenWithTheirIndex) {
    nfcap::RecordContext c = context();
    nfcap::InterfaceNamesOf names;
    names.indev = "eth7";
    names.outdev = "odd name";
    c.names = &names;
    RecordEncoder encoder(LinkType::linux_sll2, 262144);
    NflogMessage both(9, 2);
    both.packet_header(0x0800, 3)
        .u32(NFULA_IFINDEX_INDEV, 4)
        .u32(NFULA_IFINDEX_OUTDEV, 6)
        .u32(NFULA_IFINDEX_PHYSINDEV, 8)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(28, 28));
    const std::string comment(encoder.comment(nfcap::decode_nflog(both.record()), c));
    EXPECT_NE(comment.find(" in=eth7/4 out=\"odd name/6\" physin=8"), std::string::npos) << comment;
}

TEST(RecordEncoder, AMetadataOnlyRecordIsAHeaderOnlyFrameMarkedCopyMeta) {
    // Copy mode meta: the kernel sends no payload attribute at all.
    NflogMessage m(9, 2);
    m.packet_header(0x0800, 1).u32(NFULA_IFINDEX_INDEV, 4).timestamp(10, 5);
    const nfcap::Packet packet = nfcap::decode_nflog(m.record());
    EXPECT_TRUE(packet.metadata_only);
    EXPECT_FALSE(nfcap::decode_nflog(input_record(64, 64).record()).metadata_only);

    RecordEncoder sll2(LinkType::linux_sll2, 262144);
    ByteBuffer out;
    ASSERT_EQ(sll2.append(out, packet, m.record(), context()), EncodeResult::written);
    EXPECT_EQ(view(out).caplen, 20U) << "the cooked header alone";
    EXPECT_TRUE(contains(out, " copy=meta"));
    EXPECT_TRUE(contains(out, "family=ipv4")) << "no bytes to state it";

    RecordEncoder raw(LinkType::raw, 262144);
    ByteBuffer raw_out;
    ASSERT_EQ(raw.append(raw_out, packet, m.record(), context()), EncodeResult::written);
    EXPECT_EQ(view(raw_out).caplen, 0U) << "an empty frame, still IP by its protocol";
    EXPECT_TRUE(contains(raw_out, " copy=meta"));
}
