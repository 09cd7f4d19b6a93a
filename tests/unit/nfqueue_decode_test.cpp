#include <nfcap/netlink.hpp>
#include <nfcap/nfqueue_decode.hpp>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using nfcap::decode_nfqueue;
using nfcap::DecodeError;

namespace {

// An NFQUEUE packet message built with libmnl's builders, as the kernel lays it out.
class QueueMessage {
  public:
    explicit QueueMessage(std::uint16_t queue = 5, std::uint8_t family = 2)
        : buffer_(70000 + 4096) {
        nlh_ = mnl_nlmsg_put_header(buffer_.data());
        nlh_->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
        auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(nfgenmsg)));
        nfg->nfgen_family = family;
        nfg->version = NFNETLINK_V0;
        nfg->res_id = htons(queue);
    }
    QueueMessage& header(std::uint32_t id, std::uint16_t protocol, std::uint8_t hook) {
        nfqnl_msg_packet_hdr h{};
        h.packet_id = htonl(id);
        h.hw_protocol = htons(protocol);
        h.hook = hook;
        mnl_attr_put(nlh_, NFQA_PACKET_HDR, sizeof h, &h);
        return *this;
    }
    QueueMessage& u32(std::uint16_t type, std::uint32_t v) {
        mnl_attr_put_u32(nlh_, type, htonl(v));
        return *this;
    }
    QueueMessage& raw(std::uint16_t type, const void* data, std::size_t size) {
        mnl_attr_put(nlh_, type, size, data);
        return *this;
    }
    std::span<const std::byte> record() const {
        return {reinterpret_cast<const std::byte*>(buffer_.data()) + sizeof(nlmsghdr),
                nlh_->nlmsg_len - sizeof(nlmsghdr)};
    }
    nlmsghdr* nlh() { return nlh_; }

  private:
    std::vector<char> buffer_;
    nlmsghdr* nlh_;
};

std::vector<std::uint8_t> ipv6_packet(std::size_t size) {
    std::vector<std::uint8_t> p(size, 0x5a);
    p[0] = 0x60;
    const auto payload = static_cast<std::uint16_t>(size - 40);
    p[4] = static_cast<std::uint8_t>(payload >> 8);
    p[5] = static_cast<std::uint8_t>(payload);
    return p;
}

} // namespace

TEST(NfqueueDecode, EveryAttributeIsDecoded) {
    QueueMessage m(5, 10);
    const auto payload = ipv6_packet(120);
    nfqnl_msg_packet_timestamp ts{};
    ts.sec = htobe64(1700000001);
    ts.usec = htobe64(42);
    nfqnl_msg_packet_hw hw{};
    hw.hw_addrlen = htons(6);
    std::memcpy(hw.hw_addr, "\x52\x54\x00\xaa\xbb\xcc", 6);
    m.header(77, 0x86dd, 1)
        .u32(NFQA_MARK, 0x10)
        .raw(NFQA_TIMESTAMP, &ts, sizeof ts)
        .u32(NFQA_IFINDEX_INDEV, 2)
        .u32(NFQA_IFINDEX_OUTDEV, 3)
        .u32(NFQA_IFINDEX_PHYSINDEV, 4)
        .u32(NFQA_IFINDEX_PHYSOUTDEV, 5)
        .raw(NFQA_HWADDR, &hw, sizeof hw)
        .raw(NFQA_PAYLOAD, payload.data(), payload.size())
        .u32(NFQA_CAP_LEN, 1500)
        .u32(NFQA_SKB_INFO, 3)
        .u32(NFQA_UID, 1000)
        .u32(NFQA_GID, 1001)
        .raw(NFQA_SECCTX, "system_u:object_r:x_t\0", 22)
        .u32(NFQA_PRIORITY, 6)
        .u32(NFQA_CT_INFO, 2);
    nlattr* ct = mnl_attr_nest_start(m.nlh(), NFQA_CT);
    mnl_attr_put_u32(m.nlh(), CTA_MARK, htonl(9));
    mnl_attr_put_u16(m.nlh(), CTA_ZONE, htons(3));
    mnl_attr_nest_end(m.nlh(), ct);
    nlattr* vlan = mnl_attr_nest_start(m.nlh(), NFQA_VLAN);
    mnl_attr_put_u16(m.nlh(), NFQA_VLAN_PROTO, htons(0x8100));
    mnl_attr_put_u16(m.nlh(), NFQA_VLAN_TCI, htons(7));
    mnl_attr_nest_end(m.nlh(), vlan);
    m.raw(NFQA_L2HDR, "\x01\x02\x03", 3);

    const nfcap::Packet p = decode_nfqueue(m.record());
    EXPECT_EQ(p.family, nfcap::Family::ipv6) << "IPv6 stays IPv6";
    EXPECT_EQ(p.resource_id, 5);
    EXPECT_EQ(p.packet_id, 77U);
    EXPECT_EQ(p.hw_protocol, 0x86dd);
    EXPECT_EQ(p.hook, 1);
    EXPECT_EQ(p.mark, 0x10U);
    ASSERT_TRUE(p.timestamp);
    EXPECT_EQ(p.timestamp->sec, 1700000001);
    EXPECT_EQ(p.timestamp->nsec, 42000U);
    EXPECT_EQ(p.indev, 2U);
    EXPECT_EQ(p.outdev, 3U);
    EXPECT_EQ(p.physindev, 4U);
    EXPECT_EQ(p.physoutdev, 5U);
    ASSERT_TRUE(p.hwaddr);
    EXPECT_EQ(p.hwaddr->length, 6);
    EXPECT_EQ(p.payload.size(), 120U);
    EXPECT_EQ(p.original_length, 1500U) << "NFQA_CAP_LEN is the true length";
    EXPECT_TRUE(p.truncated());
    EXPECT_EQ(p.skb_info, 3U);
    EXPECT_EQ(p.uid, 1000U);
    EXPECT_EQ(p.gid, 1001U);
    EXPECT_EQ(p.secctx, "system_u:object_r:x_t");
    EXPECT_EQ(p.priority, 6U);
    ASSERT_TRUE(p.conntrack);
    EXPECT_EQ(p.conntrack->info, 2U);
    EXPECT_EQ(p.conntrack->mark, 9U);
    EXPECT_EQ(p.conntrack->zone, 3);
    ASSERT_TRUE(p.vlan);
    EXPECT_EQ(p.vlan->tci, 7);
    EXPECT_EQ(p.hwheader.size(), 3U);
    EXPECT_EQ(nfcap::nfqueue_packet_id(m.record()), 77U);
}

TEST(NfqueueDecode, MinimalPacketLeavesTheRestAbsent) {
    QueueMessage m;
    m.header(1, 0x0800, 3);
    const auto p = decode_nfqueue(m.record());
    EXPECT_EQ(p.packet_id, 1U);
    EXPECT_FALSE(p.timestamp);
    EXPECT_FALSE(p.mark);
    EXPECT_FALSE(p.uid);
    EXPECT_FALSE(p.skb_info);
    EXPECT_TRUE(p.secctx.empty());
    EXPECT_TRUE(p.payload.empty());
}

TEST(NfqueueDecode, GsoSizedPayloadArrivesWhole) {
    QueueMessage m;
    std::vector<std::uint8_t> big(65000, 0x11);
    big[0] = 0x45;
    big[2] = 0; // a GSO super-packet may carry 0 in the IPv4 total length
    big[3] = 0;
    m.header(2, 0x0800, 1).raw(NFQA_PAYLOAD, big.data(), big.size()).u32(NFQA_SKB_INFO, 2);
    const auto p = decode_nfqueue(m.record());
    EXPECT_EQ(p.payload.size(), 65000U);
    EXPECT_EQ(p.original_length, 65000U);
    EXPECT_FALSE(p.truncated());
    EXPECT_EQ(p.skb_info, 2U);
}

TEST(NfqueueDecode, PacketWithoutHeaderIsRefused) {
    QueueMessage m;
    m.u32(NFQA_MARK, 1);
    EXPECT_THROW(decode_nfqueue(m.record()), DecodeError);
    EXPECT_THROW(nfcap::nfqueue_packet_id(m.record()), DecodeError);
    EXPECT_THROW(nfcap::nfqueue_packet_id_and_mark(m.record()), DecodeError);
}

TEST(NfqueueDecode, IdAndMarkAreReadAloneAsTheFullDecodeReadsThem) {
    QueueMessage marked;
    marked.header(41, 0x0800, 1).u32(NFQA_MARK, 0xabcd0001);
    const auto both = nfcap::nfqueue_packet_id_and_mark(marked.record());
    EXPECT_EQ(both.id, 41U);
    EXPECT_EQ(both.mark, 0xabcd0001U);
    EXPECT_EQ(both.mark, decode_nfqueue(marked.record()).mark);

    QueueMessage unmarked;
    unmarked.header(42, 0x0800, 1);
    EXPECT_EQ(nfcap::nfqueue_packet_id_and_mark(unmarked.record()).mark, std::nullopt);

    QueueMessage short_mark; // a mark attribute too short for its 4 bytes is refused
    short_mark.header(43, 0x0800, 1).raw(NFQA_MARK, "ab", 2);
    EXPECT_THROW(nfcap::nfqueue_packet_id_and_mark(short_mark.record()), DecodeError);
}

TEST(NfqueueDecode, TruncatedAttributesAreRefusedNotOverread) {
    QueueMessage m;
    const auto payload = ipv6_packet(60);
    m.header(3, 0x86dd, 1).u32(NFQA_MARK, 5).raw(NFQA_PAYLOAD, payload.data(), payload.size());
    const auto whole = m.record();
    std::size_t refused = 0;
    for (std::size_t size = 0; size < whole.size(); ++size) {
        try {
            (void)decode_nfqueue(whole.first(size));
        } catch (const DecodeError&) {
            ++refused;
        }
    }
    // Only cuts on an attribute boundary leave a shorter valid record: after the packet header
    // (with or without its padding byte) and after the mark. Every other cut is refused.
    EXPECT_EQ(refused, whole.size() - 3);
    QueueMessage small;
    small.raw(NFQA_PACKET_HDR, "\x00\x00\x00\x01\x08", 5);
    EXPECT_THROW(decode_nfqueue(small.record()), DecodeError);
}

TEST(NfqueueDecode, PacketCutByARecordingKeepsItsHeaderAndThePayloadThere) {
    QueueMessage m;
    const auto payload = ipv6_packet(100);
    m.header(7, 0x86dd, 1).u32(NFQA_MARK, 5).raw(NFQA_PAYLOAD, payload.data(), payload.size());
    const auto whole = m.record();
    const auto original = static_cast<std::uint32_t>(whole.size());
    const auto cut = whole.first(whole.size() - 40);
    EXPECT_THROW((void)decode_nfqueue(cut), DecodeError) << "without the original length";
    const auto p = decode_nfqueue(cut, original);
    ASSERT_TRUE(p.cut.has_value());
    EXPECT_EQ(p.cut->captured, cut.size());
    EXPECT_EQ(p.cut->original, original);
    EXPECT_EQ(p.packet_id, 7U);
    EXPECT_EQ(p.mark, 5U);
    EXPECT_EQ(p.payload.size(), 60U);
    // Cut before the packet header is whole: there is no packet id to write.
    EXPECT_THROW((void)decode_nfqueue(whole.first(10), original), DecodeError);
}

TEST(NetlinkWalker, ACutDatagramYieldsItsLastPacketMessageAsFarAsItGoes) {
    QueueMessage first;
    first.header(1, 0x0800, 1).u32(NFQA_MARK, 1);
    QueueMessage second;
    const auto payload = ipv6_packet(100);
    second.header(2, 0x86dd, 1).raw(NFQA_PAYLOAD, payload.data(), payload.size());
    std::vector<std::byte> datagram;
    for (QueueMessage* m : {&first, &second}) {
        const auto* bytes = reinterpret_cast<const std::byte*>(m->nlh());
        datagram.insert(datagram.end(), bytes, bytes + m->nlh()->nlmsg_len);
    }
    const auto cut = std::span<const std::byte>(datagram).first(datagram.size() - 30);
    EXPECT_THROW(
        {
            nfcap::NetlinkWalker whole_walker(cut);
            nfcap::RecordKind kind{};
            std::span<const std::byte> message;
            while (whole_walker.next(kind, message)) {
            }
        },
        DecodeError);
    nfcap::NetlinkWalker walker(cut, nfcap::DatagramExtent::cut);
    nfcap::RecordKind kind{};
    std::span<const std::byte> message;
    ASSERT_TRUE(walker.next(kind, message));
    EXPECT_EQ(walker.original_length(), 0U) << "the first message is whole";
    ASSERT_TRUE(walker.next(kind, message));
    EXPECT_EQ(kind, nfcap::RecordKind::nfqueue);
    EXPECT_EQ(walker.original_length(), second.nlh()->nlmsg_len - sizeof(nlmsghdr));
    EXPECT_EQ(message.size(), walker.original_length() - 30);
    EXPECT_EQ(decode_nfqueue(message, walker.original_length()).packet_id, 2U);
    EXPECT_FALSE(walker.next(kind, message));
}
