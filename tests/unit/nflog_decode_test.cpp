#include "nflog_message.hpp"

#include <nfcap/nflog_decode.hpp>

#include <gtest/gtest.h>

using nfcap::decode_nflog;
using nfcap::DecodeError;
using nfcap::Family;
using nfcap::test::NflogMessage;

namespace {

constexpr std::uint8_t hook_input = 1;

NflogMessage full_message() {
    NflogMessage m(123, 2);
    const auto payload = nfcap::test::ipv4_udp(60, 60);
    m.packet_header(0x0800, hook_input)
        .u32(NFULA_MARK, 0x10)
        .timestamp(1700000000, 123456)
        .u32(NFULA_IFINDEX_INDEV, 2)
        .u32(NFULA_IFINDEX_OUTDEV, 3)
        .u32(NFULA_IFINDEX_PHYSINDEV, 4)
        .u32(NFULA_IFINDEX_PHYSOUTDEV, 5)
        .hwaddr({0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
        .bytes(NFULA_PAYLOAD, payload)
        .prefix("DROP ssh")
        .u32(NFULA_UID, 1000)
        .u32(NFULA_SEQ, 41)
        .u32(NFULA_SEQ_GLOBAL, 1002)
        .u32(NFULA_GID, 1001)
        .u16(NFULA_HWTYPE, 1)
        .bytes(NFULA_HWHEADER,
               {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00})
        .u16(NFULA_HWLEN, 14)
        .conntrack(0x18e, 0x42, 77, 9)
        .u32(NFULA_CT_INFO, 2)
        .vlan(0x8100, 5);
    return m;
}

} // namespace

TEST(NflogDecode, EveryAttributeIsDecoded) {
    const NflogMessage m = full_message();
    const nfcap::Packet p = decode_nflog(m.record());
    EXPECT_EQ(p.family, Family::ipv4);
    EXPECT_EQ(p.resource_id, 123);
    EXPECT_TRUE(p.has_packet_header);
    EXPECT_EQ(p.hw_protocol, 0x0800);
    EXPECT_EQ(p.hook, hook_input);
    EXPECT_EQ(p.mark, 0x10U);
    ASSERT_TRUE(p.timestamp);
    EXPECT_EQ(p.timestamp->sec, 1700000000);
    EXPECT_EQ(p.timestamp->nsec, 123456000U);
    EXPECT_EQ(p.indev, 2U);
    EXPECT_EQ(p.outdev, 3U);
    EXPECT_EQ(p.physindev, 4U);
    EXPECT_EQ(p.physoutdev, 5U);
    ASSERT_TRUE(p.hwaddr);
    EXPECT_EQ(p.hwaddr->length, 6);
    EXPECT_EQ(p.hwaddr->bytes[5], std::byte{0x56});
    EXPECT_EQ(p.payload.size(), 60U);
    EXPECT_EQ(p.payload[0], std::byte{0x45});
    EXPECT_EQ(p.original_length, 60U);
    EXPECT_FALSE(p.truncated());
    EXPECT_TRUE(p.has_prefix);
    EXPECT_EQ(p.prefix, "DROP ssh");
    EXPECT_EQ(p.uid, 1000U);
    EXPECT_EQ(p.gid, 1001U);
    EXPECT_EQ(p.seq, 41U);
    EXPECT_EQ(p.seq_global, 1002U);
    EXPECT_EQ(p.hwtype, 1);
    EXPECT_EQ(p.hwheader.size(), 14U);
    ASSERT_TRUE(p.conntrack);
    EXPECT_EQ(p.conntrack->status, 0x18eU);
    EXPECT_EQ(p.conntrack->mark, 0x42U);
    EXPECT_EQ(p.conntrack->id, 77U);
    EXPECT_EQ(p.conntrack->zone, 9);
    EXPECT_EQ(p.conntrack->info, 2U);
    ASSERT_TRUE(p.vlan);
    EXPECT_EQ(p.vlan->proto, 0x8100);
    EXPECT_EQ(p.vlan->tci, 5);
}

TEST(NflogDecode, AbsentAttributesStayAbsent) {
    NflogMessage m(7, 10);
    const nfcap::Packet p = decode_nflog(m.record());
    EXPECT_EQ(p.family, Family::ipv6);
    EXPECT_EQ(p.resource_id, 7);
    EXPECT_FALSE(p.has_packet_header);
    EXPECT_FALSE(p.timestamp);
    EXPECT_FALSE(p.mark);
    EXPECT_FALSE(p.indev);
    EXPECT_FALSE(p.outdev);
    EXPECT_FALSE(p.uid);
    EXPECT_FALSE(p.gid);
    EXPECT_FALSE(p.seq);
    EXPECT_FALSE(p.hwaddr);
    EXPECT_FALSE(p.hwtype);
    EXPECT_FALSE(p.conntrack);
    EXPECT_FALSE(p.vlan);
    EXPECT_FALSE(p.has_prefix);
    EXPECT_TRUE(p.payload.empty());
    EXPECT_EQ(p.original_length, 0U);
}

TEST(NflogDecode, EachAttributeAloneIsDecodedAndOthersStayAbsent) {
    // One message per attribute: no attribute's presence depends on another's.
    const std::vector<std::uint16_t> scalar = {
        NFULA_MARK, NFULA_IFINDEX_INDEV, NFULA_IFINDEX_OUTDEV, NFULA_UID,
        NFULA_GID,  NFULA_SEQ,           NFULA_SEQ_GLOBAL};
    for (const std::uint16_t type : scalar) {
        NflogMessage m;
        m.u32(type, 99);
        const nfcap::Packet p = decode_nflog(m.record());
        const int present = p.mark.has_value() + p.indev.has_value() + p.outdev.has_value() +
                            p.uid.has_value() + p.gid.has_value() + p.seq.has_value() +
                            p.seq_global.has_value();
        EXPECT_EQ(present, 1) << "attribute " << type;
    }
}

TEST(NflogDecode, PrefixKeepsSpacesQuotesAndNonAsciiBytes) {
    for (const std::string& prefix :
         {std::string(""), std::string("a b  c"), std::string("say \"hi\" \\"),
          std::string("caf\xc3\xa9 \xff\x01")}) {
        NflogMessage m;
        m.prefix_bytes(prefix);
        const nfcap::Packet p = decode_nflog(m.record());
        EXPECT_TRUE(p.has_prefix);
        EXPECT_EQ(std::string(p.prefix), prefix);
    }
}

TEST(NflogDecode, PrefixWithoutTerminatingNulIsKeptWhole) {
    NflogMessage m;
    m.raw(NFULA_PREFIX, "abc", 3);
    EXPECT_EQ(decode_nflog(m.record()).prefix, "abc");
}

TEST(NflogDecode, TruncatedPayloadShowsOriginalLengthFromIpHeaders) {
    NflogMessage v4;
    v4.packet_header(0x0800, 1).bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(64, 1500));
    const auto p4 = decode_nflog(v4.record());
    EXPECT_EQ(p4.payload.size(), 64U);
    EXPECT_EQ(p4.original_length, 1500U);
    EXPECT_TRUE(p4.truncated());

    NflogMessage v6(1, 10);
    v6.packet_header(0x86dd, 1).bytes(NFULA_PAYLOAD, nfcap::test::ipv6_udp(64, 1000));
    const auto p6 = decode_nflog(v6.record());
    EXPECT_EQ(p6.original_length, 1040U);
}

TEST(NflogDecode, NonIpPayloadLengthIsItsOwnSize) {
    NflogMessage arp(1, 3);
    arp.packet_header(0x0806, 0).bytes(NFULA_PAYLOAD, std::vector<std::uint8_t>(28, 0x45));
    EXPECT_EQ(decode_nflog(arp.record()).original_length, 28U);
}

TEST(NflogDecode, UnknownAttributesAreSkipped) {
    NflogMessage m;
    m.u32(200, 1).u32(NFULA_MARK, 5).raw(NFULA_L2HDR, "\x01\x02", 2);
    const auto p = decode_nflog(m.record());
    EXPECT_EQ(p.mark, 5U);
}

TEST(NflogDecode, UndersizedKnownAttributeIsRefusedByName) {
    NflogMessage m;
    m.raw(NFULA_MARK, "\x01\x02", 2);
    try {
        decode_nflog(m.record());
        FAIL();
    } catch (const DecodeError& e) {
        EXPECT_NE(std::string(e.what()).find("NFULA_MARK"), std::string::npos) << e.what();
    }
    NflogMessage ts;
    ts.raw(NFULA_TIMESTAMP, "12345678", 8);
    EXPECT_THROW(decode_nflog(ts.record()), DecodeError);
    NflogMessage hdr;
    hdr.raw(NFULA_PACKET_HDR, "\x08", 1);
    EXPECT_THROW(decode_nflog(hdr.record()), DecodeError);
}

TEST(NflogDecode, OversizedHardwareAddressIsRefused) {
    NflogMessage m;
    nfulnl_msg_packet_hw hw{};
    hw.hw_addrlen = htons(9);
    m.raw(NFULA_HWADDR, &hw, sizeof hw);
    EXPECT_THROW(decode_nflog(m.record()), DecodeError);
}

TEST(NflogDecode, TimestampWithImpossibleMicrosecondsIsRefused) {
    NflogMessage m;
    m.timestamp(1, 1'000'000);
    EXPECT_THROW(decode_nflog(m.record()), DecodeError);
}

TEST(NflogDecode, AttributeLongerThanTheRecordIsRefused) {
    NflogMessage m;
    m.u32(NFULA_MARK, 1).u32(NFULA_UID, 2);
    auto bytes = m.copy();
    // The second attribute's length field (host order) now claims 200 bytes.
    const std::uint16_t bad = 200;
    std::memcpy(bytes.data() + 4 + 8, &bad, sizeof bad);
    try {
        decode_nflog(bytes);
        FAIL();
    } catch (const DecodeError& e) {
        EXPECT_NE(std::string(e.what()).find("length 200"), std::string::npos) << e.what();
    }
}

TEST(NflogDecode, AttributeShorterThanItsHeaderIsRefused) {
    NflogMessage m;
    m.u32(NFULA_MARK, 1);
    auto bytes = m.copy();
    const std::uint16_t bad = 2;
    std::memcpy(bytes.data() + 4, &bad, sizeof bad);
    EXPECT_THROW(decode_nflog(bytes), DecodeError);
}

TEST(NflogDecode, TruncatedRecordsAreRefusedNotOverread) {
    const NflogMessage m = full_message();
    const auto whole = m.copy();
    // Every cut that lands inside an attribute must throw; cuts on attribute boundaries decode.
    std::size_t refused = 0;
    for (std::size_t size = 0; size < whole.size(); ++size) {
        const std::vector<std::byte> cut(whole.begin(), whole.begin() + static_cast<long>(size));
        try {
            (void)decode_nflog(cut);
        } catch (const DecodeError&) {
            ++refused;
        }
    }
    EXPECT_GT(refused, whole.size() * 9 / 10);
    EXPECT_THROW(decode_nflog(std::span(whole.data(), 3)), DecodeError);
}

TEST(NflogDecode, UnsupportedNfnetlinkVersionIsRefused) {
    NflogMessage m;
    auto bytes = m.copy();
    bytes[1] = std::byte{1};
    EXPECT_THROW(decode_nflog(bytes), DecodeError);
}

TEST(NflogDecode, PayloadSpanExcludesAttributePadding) {
    NflogMessage m;
    m.bytes(NFULA_PAYLOAD, {1, 2, 3, 4, 5}).u32(NFULA_MARK, 7);
    const auto p = decode_nflog(m.record());
    EXPECT_EQ(p.payload.size(), 5U) << "wire length, not the aligned stride";
    EXPECT_EQ(p.mark, 7U);
}

TEST(NflogDecode, ArpOutputRecordsLoseTheirEthernetHeaderToHwheader) {
    // An "arp out" record as Linux 6.18 sends it: Ethernet header, then the ARP request.
    std::vector<std::uint8_t> frame = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x06,
                                       0xba, 0x75, 0x52, 0x2c, 0xb8, 0x08, 0x06};
    const std::vector<std::uint8_t> arp = {
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x06, 0xba, 0x75, 0x52, 0x2c, 0xb8,
        192,  0,    2,    2,    0,    0,    0,    0,    0,    0,    192,  0,    2,    1};
    frame.insert(frame.end(), arp.begin(), arp.end());
    NflogMessage m(9, 3);
    m.packet_header(0x0806, 1).bytes(NFULA_PAYLOAD, frame);
    const auto p = decode_nflog(m.record());
    EXPECT_EQ(p.payload.size(), 28U);
    EXPECT_EQ(p.payload[0], std::byte{0x00});
    EXPECT_EQ(p.payload[7], std::byte{0x01}) << "ARP opcode: request";
    EXPECT_EQ(p.hwheader.size(), 14U);
    EXPECT_EQ(p.original_length, 28U);

    NflogMessage in(9, 3); // an input record is already the bare ARP packet: left alone
    in.packet_header(0x0806, 0).bytes(NFULA_PAYLOAD, arp);
    EXPECT_EQ(decode_nflog(in.record()).payload.size(), 28U);
}

// --- Records a recording cut (replay): truncated, not malformed ------------------------------

namespace {

// PACKET_HDR, PREFIX, INDEV, TIMESTAMP, then a 200-byte IPv4 payload whose header says 200.
NflogMessage cut_candidate() {
    NflogMessage m(7, 2);
    m.packet_header(0x0800, hook_input)
        .prefix("cut here")
        .u32(NFULA_IFINDEX_INDEV, 2)
        .timestamp(1700000000, 5)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(200, 200));
    return m;
}

} // namespace

TEST(NflogDecode, RecordCutInsideThePayloadKeepsEveryWholeAttributeAndThePayloadThere) {
    const NflogMessage m = cut_candidate();
    const auto whole = m.record();
    const auto original = static_cast<std::uint32_t>(whole.size());
    const auto cut = whole.first(whole.size() - 150); // 50 payload bytes left
    EXPECT_THROW((void)decode_nflog(cut), DecodeError) << "without the original length: malformed";
    const auto p = decode_nflog(cut, original);
    ASSERT_TRUE(p.cut.has_value());
    EXPECT_EQ(p.cut->captured, cut.size());
    EXPECT_EQ(p.cut->original, original);
    EXPECT_EQ(p.prefix, "cut here");
    EXPECT_EQ(p.indev, 2U);
    ASSERT_TRUE(p.timestamp.has_value());
    EXPECT_EQ(p.payload.size(), 50U);
    EXPECT_EQ(p.original_length, 200U) << "the IP header still tells the packet's length";
    EXPECT_TRUE(p.truncated());
}

TEST(NflogDecode, RecordCutInsideAnAttributeBeforeThePayloadDropsThatAttributeAndTheRest) {
    const NflogMessage m = cut_candidate();
    const auto whole = m.record();
    const auto original = static_cast<std::uint32_t>(whole.size());
    // nfgenmsg 4 + PACKET_HDR 8: the prefix attribute starts at 12. Cut inside its value, then
    // inside its header.
    for (const std::size_t size : {std::size_t{18}, std::size_t{14}}) {
        const auto p = decode_nflog(whole.first(size), original);
        ASSERT_TRUE(p.cut.has_value()) << size;
        EXPECT_TRUE(p.has_packet_header);
        EXPECT_FALSE(p.has_prefix);
        EXPECT_FALSE(p.indev.has_value());
        EXPECT_TRUE(p.payload.empty());
    }
}

TEST(NflogDecode, RecordCutOnAnAttributeBoundaryIsStillTruncated) {
    const NflogMessage m = cut_candidate();
    const auto whole = m.record();
    const auto p = decode_nflog(whole.first(12), static_cast<std::uint32_t>(whole.size()));
    ASSERT_TRUE(p.cut.has_value());
    EXPECT_TRUE(p.has_packet_header);
    EXPECT_TRUE(p.payload.empty());
}

TEST(NflogDecode, WholeRecordsAndImpossibleRecordsAreNotTruncated) {
    const NflogMessage m = cut_candidate();
    const auto whole = m.record();
    const auto size = static_cast<std::uint32_t>(whole.size());
    EXPECT_FALSE(decode_nflog(whole, size).cut.has_value()) << "original == captured: whole";
    EXPECT_FALSE(decode_nflog(whole, 0).cut.has_value()) << "0: not known, whole";
    // Cut inside the 4-byte NFLOG header: nothing to write.
    EXPECT_THROW((void)decode_nflog(whole.first(3), size), DecodeError);
    // An attribute shorter than its own header before the cut is malformed whatever the cut.
    std::vector<std::byte> bad(whole.begin(), whole.end());
    bad[12] = std::byte{2}; // the prefix attribute's length
    bad[13] = std::byte{0};
    EXPECT_THROW((void)decode_nflog(std::span(bad).first(40), size), DecodeError);
}

TEST(HookDirection, AgreesWithTheHookNamesOfEveryFamily) {
    // Inbound hooks are those where the packet arrives, outbound those where it leaves;
    // forward (and any hook a family does not define) is neither.
    for (const auto family :
         {nfcap::Family::unspec, nfcap::Family::inet, nfcap::Family::ipv4, nfcap::Family::arp,
          nfcap::Family::netdev, nfcap::Family::bridge, nfcap::Family::ipv6}) {
        for (unsigned hook = 0; hook < 256; ++hook) {
            const auto h = static_cast<std::uint8_t>(hook);
            const std::string_view name = nfcap::hook_name(family, h);
            const nfcap::Direction expected =
                name == "prerouting" || name == "input" || name == "ingress" || name == "brouting"
                    ? nfcap::Direction::inbound
                : name == "output" || name == "postrouting" || name == "egress"
                    ? nfcap::Direction::outbound
                    : nfcap::Direction::unknown;
            EXPECT_EQ(nfcap::hook_direction(family, h), expected)
                << "family " << static_cast<int>(family) << " hook " << hook << " (" << name << ")";
        }
    }
}
