// RepeatedDecoder must give every record exactly what decode_nflog or decode_nfqueue gives it:
// the same Packet, or the same DecodeError. Records come as a firewall sends them: mostly the
// last record's metadata with a new timestamp, sequence numbers or packet id and payload, now
// and then something else changed.
#include "decode_into.hpp"
#include "nflog_message.hpp"

#include <nfcap/comment.hpp>
#include <nfcap/nflog_decode.hpp>
#include <nfcap/nfqueue_decode.hpp>
#include <nfcap/record_encoder.hpp>
#include <nfcap/recorder.hpp>
#include <nfcap/sink.hpp>

#include <gtest/gtest.h>

#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <array>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

using nfcap::DecodeError;
using nfcap::Packet;
using nfcap::RecordKind;
using nfcap::detail::RepeatedDecoder;
using nfcap::test::NflogMessage;

namespace {

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// Every field, spans by their bytes: a Packet is what it says, not where it points.
void expect_same(const Packet& a, const Packet& b, int step) {
    SCOPED_TRACE("step " + std::to_string(step));
    EXPECT_EQ(a.family, b.family);
    EXPECT_EQ(a.resource_id, b.resource_id);
    EXPECT_EQ(a.hw_protocol, b.hw_protocol);
    EXPECT_EQ(a.hook, b.hook);
    EXPECT_EQ(a.has_packet_header, b.has_packet_header);
    EXPECT_TRUE(same_bytes(a.payload, b.payload));
    EXPECT_EQ(a.metadata_only, b.metadata_only);
    EXPECT_EQ(a.original_length, b.original_length);
    EXPECT_EQ(a.timestamp, b.timestamp);
    EXPECT_EQ(a.mark, b.mark);
    EXPECT_EQ(a.indev, b.indev);
    EXPECT_EQ(a.outdev, b.outdev);
    EXPECT_EQ(a.physindev, b.physindev);
    EXPECT_EQ(a.physoutdev, b.physoutdev);
    EXPECT_EQ(a.uid, b.uid);
    EXPECT_EQ(a.gid, b.gid);
    EXPECT_EQ(a.seq, b.seq);
    EXPECT_EQ(a.seq_global, b.seq_global);
    EXPECT_EQ(a.hwaddr.has_value(), b.hwaddr.has_value());
    if (a.hwaddr && b.hwaddr) {
        EXPECT_TRUE(same_bytes(a.hwaddr->view(), b.hwaddr->view()));
    }
    EXPECT_EQ(a.hwtype, b.hwtype);
    EXPECT_TRUE(same_bytes(a.hwheader, b.hwheader));
    EXPECT_EQ(a.vlan.has_value(), b.vlan.has_value());
    if (a.vlan && b.vlan) {
        EXPECT_EQ(a.vlan->proto, b.vlan->proto);
        EXPECT_EQ(a.vlan->tci, b.vlan->tci);
    }
    EXPECT_EQ(a.conntrack.has_value(), b.conntrack.has_value());
    if (a.conntrack && b.conntrack) {
        EXPECT_EQ(a.conntrack->info, b.conntrack->info);
        EXPECT_EQ(a.conntrack->status, b.conntrack->status);
        EXPECT_EQ(a.conntrack->mark, b.conntrack->mark);
        EXPECT_EQ(a.conntrack->id, b.conntrack->id);
        EXPECT_EQ(a.conntrack->zone, b.conntrack->zone);
    }
    EXPECT_EQ(a.prefix, b.prefix);
    EXPECT_EQ(a.has_prefix, b.has_prefix);
    EXPECT_EQ(a.packet_id, b.packet_id);
    EXPECT_EQ(a.skb_info, b.skb_info);
    EXPECT_EQ(a.priority, b.priority);
    EXPECT_EQ(a.secctx, b.secctx);
    EXPECT_EQ(a.cut.has_value(), b.cut.has_value());
    if (a.cut && b.cut) {
        EXPECT_EQ(a.cut->captured, b.cut->captured);
        EXPECT_EQ(a.cut->original, b.cut->original);
    }
}

// What a record carries. Each field is one the decoder reads; a step changes a few of them.
struct Shape {
    bool queue = false;      // an NFQUEUE packet message, else an NFLOG one (never changed)
    std::uint16_t group = 7; // or the queue
    std::uint8_t family = 2;
    std::uint8_t hook = 0;
    std::uint16_t hw_protocol = 0x0800; // not always the payload's: the payload decides alone
    std::optional<std::string> prefix;
    std::optional<std::uint32_t> mark, indev, outdev, uid, gid;
    int hwheader = 0; // 0: none, else one of a few senders' Ethernet headers
    bool hwaddr = false;
    bool timestamp = true;
    std::uint64_t usec = 0; // above 999,999: a timestamp the decoder refuses
    bool seq = true, seq_global = false;
    bool vlan = false, conntrack = false;
    bool payload = true;
    std::size_t payload_size = 64;
    int payload_kind = 4; // 4: IPv4, 6: IPv6, 1: Ethernet and ARP, else bytes of no IP version
    bool after_payload = false; // an attribute after the payload
    int stray = 0;              // bytes after the last attribute
    bool reorder = false;       // the payload first
    bool cut = false;           // a recording cut the record
    // NFQUEUE only (NFLOG's own are prefix, hwtype, seq and seq_global).
    std::optional<std::uint32_t> skb_info, priority;
    bool cap_len = false; // NFQA_CAP_LEN: a length that changes now and then from packet to packet
    bool secctx = false;
};

std::vector<std::uint8_t> payload_of(const Shape& s, std::uint32_t n) {
    std::vector<std::uint8_t> p;
    const auto total = static_cast<std::uint16_t>(s.payload_size + n % 3);
    if (s.payload_kind == 4 && s.payload_size >= 10) {
        p = nfcap::test::ipv4_udp(s.payload_size, total);
    } else if (s.payload_kind == 6 && s.payload_size >= 10) {
        p = nfcap::test::ipv6_udp(s.payload_size, total);
    } else if (s.payload_kind == 1 && s.payload_size >= 22) { // Ethernet + ARP, arp output
        p.assign(s.payload_size, 0x22);
        const std::array<std::uint8_t, 8> arp{0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04};
        std::copy(arp.begin(), arp.end(), p.begin() + 12);
    } else {
        p.assign(s.payload_size, 0x11);
        if (!p.empty() && s.payload_kind != 0) { // a header too short to say its length
            p[0] = s.payload_kind == 4 ? std::uint8_t{0x45} : std::uint8_t{0x60};
        }
    }
    if (!p.empty()) {
        p.back() = static_cast<std::uint8_t>(n); // every packet its own bytes
    }
    return p;
}

// The attribute types with which NFLOG and NFQUEUE carry the same value.
struct Types {
    std::uint16_t payload, indev, outdev, mark, hwaddr, timestamp, uid, gid, vlan, ct, ct_info;
};
constexpr Types nflog_types{NFULA_PAYLOAD, NFULA_IFINDEX_INDEV, NFULA_IFINDEX_OUTDEV,
                            NFULA_MARK,    NFULA_HWADDR,        NFULA_TIMESTAMP,
                            NFULA_UID,     NFULA_GID,           NFULA_VLAN,
                            NFULA_CT,      NFULA_CT_INFO};
constexpr Types queue_types{
    NFQA_PAYLOAD, NFQA_IFINDEX_INDEV, NFQA_IFINDEX_OUTDEV, NFQA_MARK, NFQA_HWADDR, NFQA_TIMESTAMP,
    NFQA_UID,     NFQA_GID,           NFQA_VLAN,           NFQA_CT,   NFQA_CT_INFO};

std::vector<std::byte> build(const Shape& s, std::uint32_t n) {
    const Types& t = s.queue ? queue_types : nflog_types;
    NflogMessage m(s.group, s.family);
    const auto put_payload = [&] {
        if (s.payload) {
            m.bytes(t.payload, payload_of(s, n));
        }
    };
    if (s.reorder) {
        put_payload();
    }
    if (!s.queue) {
        m.packet_header(s.hw_protocol, s.hook);
        if (s.prefix) {
            m.prefix(*s.prefix);
        }
    } else if (s.seq) { // the packet id's attribute, nearly always there (its absence is an error)
        // struct nfqnl_msg_packet_hdr { __be32 packet_id; __be16 hw_protocol; __u8 hook; }
        const std::array<std::uint8_t, 7> header{static_cast<std::uint8_t>(n >> 24U),
                                                 static_cast<std::uint8_t>(n >> 16U),
                                                 static_cast<std::uint8_t>(n >> 8U),
                                                 static_cast<std::uint8_t>(n),
                                                 static_cast<std::uint8_t>(s.hw_protocol >> 8U),
                                                 static_cast<std::uint8_t>(s.hw_protocol),
                                                 s.hook};
        m.raw(NFQA_PACKET_HDR, header.data(), header.size());
    }
    if (s.indev) {
        m.u32(t.indev, *s.indev);
    }
    if (s.outdev) {
        m.u32(t.outdev, *s.outdev);
    }
    if (s.mark) {
        m.u32(t.mark, *s.mark);
    }
    if (s.queue && s.priority) {
        m.u32(NFQA_PRIORITY, *s.priority);
    }
    if (s.hwaddr) {
        m.hwaddr({0x52, 0x54, 0, 0x12, 0x34, static_cast<std::uint8_t>(s.hwheader)}, t.hwaddr);
    }
    if (s.hwheader != 0) {
        const auto h = static_cast<std::uint8_t>(s.hwheader);
        if (!s.queue) {
            m.u16(NFULA_HWTYPE, 1);
            m.u16(NFULA_HWLEN, 14);
        }
        m.bytes(s.queue ? std::uint16_t{NFQA_L2HDR} : std::uint16_t{NFULA_HWHEADER},
                {0xff, 0xff, 0xff, 0xff, 0xff, h, 0x52, 0x54, 0, 0x12, 0x34, h, 0x08, 0x00});
    }
    if (s.timestamp) {
        m.timestamp(1'700'000'000 + n / 1000, s.usec >= 1'000'000 ? s.usec : (n * 7919) % 1'000'000,
                    t.timestamp);
    }
    if (s.uid) {
        m.u32(t.uid, *s.uid);
    }
    if (s.gid) {
        m.u32(t.gid, *s.gid);
    }
    if (!s.queue && s.seq) {
        m.u32(NFULA_SEQ, n);
    }
    if (!s.queue && s.seq_global) {
        m.u32(NFULA_SEQ_GLOBAL, n * 3);
    }
    if (s.queue && s.secctx) {
        const std::string context = "system_u:object_r:ssh_t:s0";
        m.raw(NFQA_SECCTX, context.c_str(), context.size() + 1);
    }
    if (s.vlan) {
        m.vlan(0x8100, 5, t.vlan);
    }
    if (s.conntrack) {
        m.conntrack(0x18e, 0x42, 77, 9, t.ct);
        m.u32(t.ct_info, 2);
    }
    if (s.queue && s.cap_len) { // above the payload; the same for runs of packets
        m.u32(NFQA_CAP_LEN, static_cast<std::uint32_t>(s.payload_size + 1000 + n / 4 % 2));
    }
    if (s.queue && s.skb_info) {
        m.u32(NFQA_SKB_INFO, *s.skb_info);
    }
    if (!s.reorder) {
        put_payload();
    }
    if (s.after_payload) {
        m.u32(t.mark, 0x99);
    }
    std::vector<std::byte> record = m.copy();
    record.insert(record.end(), static_cast<std::size_t>(s.stray), std::byte{0x5a});
    return record;
}

// What the plain decoder of the shape's kind gives.
Packet plain_decode(const Shape& s, std::span<const std::byte> record, std::uint32_t original) {
    return s.queue ? nfcap::decode_nfqueue(record, original)
                   : nfcap::decode_nflog(record, original);
}

RecordKind kind_of(const Shape& s) {
    return s.queue ? RecordKind::nfqueue : RecordKind::nflog;
}

// One field of `s` changed at random.
void change(Shape& s, std::mt19937& rng) {
    const auto pick = [&](unsigned n) {
        return std::uniform_int_distribution<unsigned>(0, n - 1)(rng);
    };
    const auto maybe = [&](std::optional<std::uint32_t>& v, std::uint32_t a, std::uint32_t b) {
        const unsigned k = pick(3);
        v = k == 0 ? std::nullopt : std::optional<std::uint32_t>(k == 1 ? a : b);
    };
    switch (pick(26)) {
    case 0:
        s.group = pick(2) == 0 ? 7 : 8;
        break;
    case 1:
        s.family = std::array<std::uint8_t, 4>{2, 10, 7, 3}[pick(4)];
        break;
    case 2:
        s.hook = static_cast<std::uint8_t>(pick(5));
        s.hw_protocol = std::array<std::uint16_t, 3>{0x0800, 0x86dd, 0}[pick(3)];
        break;
    case 3: {
        const unsigned k = pick(3);
        s.prefix = k == 0 ? std::nullopt : std::optional<std::string>(k == 1 ? "" : "DROP ssh");
        break;
    }
    case 4:
        maybe(s.mark, 0x10, 0x20);
        break;
    case 5:
        maybe(s.indev, 2, 3);
        break;
    case 6:
        maybe(s.outdev, 2, 4);
        break;
    case 7:
        maybe(s.uid, 0, 1000);
        break;
    case 8:
        maybe(s.gid, 0, 1000);
        break;
    case 9:
        s.hwheader = static_cast<int>(pick(3));
        break;
    case 10:
        s.hwaddr = !s.hwaddr;
        break;
    case 11:
        s.timestamp = !s.timestamp;
        break;
    case 12:
        s.usec = pick(8) == 0 ? 1'000'000 : 0;
        break;
    case 13:
        s.seq = !s.seq;
        break;
    case 14:
        s.seq_global = !s.seq_global;
        break;
    case 15:
        s.vlan = !s.vlan;
        break;
    case 16:
        s.conntrack = !s.conntrack;
        break;
    case 17:
        s.payload = pick(6) != 0;
        break;
    case 18:
        s.payload_size = std::array<std::size_t, 5>{0, 1, 20, 64, 61}[pick(5)];
        break;
    case 19:
        s.payload_kind = std::array<int, 4>{4, 6, 1, 0}[pick(4)];
        break;
    case 20:
        s.after_payload = pick(4) == 0;
        break;
    case 22:
        maybe(s.skb_info, 1, 4);
        break;
    case 23:
        maybe(s.priority, 0, 6);
        break;
    case 24:
        s.cap_len = !s.cap_len;
        break;
    case 25:
        s.secctx = !s.secctx;
        break;
    default:
        s.stray = pick(3) == 0 ? static_cast<int>(pick(4)) : 0;
        s.reorder = pick(6) == 0;
        s.cut = pick(6) == 0;
        break;
    }
}

} // namespace

namespace {

// The property: 20,000 records of `start`'s kind, each decoded by one RepeatedDecoder and by the
// plain decoder. Removing any of the decoder's checks (the bytes compared, the payload ending the
// record, a cut record, the arp family) makes it fail.
void holds_to_the_plain_decoder(Shape shape, unsigned seed, int min_repeated) {
    std::mt19937 rng(seed);
    RepeatedDecoder decoder(kind_of(shape));
    int repeated = 0;
    int errors = 0;
    for (int step = 0; step < 20'000; ++step) {
        // Mostly the same metadata again, as in a flow; sometimes one change, now and then more.
        for (int k = std::uniform_int_distribution<int>(0, 9)(rng) < 7 ? 0 : 1; k > 0; --k) {
            change(shape, rng);
        }
        if (std::uniform_int_distribution<int>(0, 99)(rng) == 0) {
            change(shape, rng), change(shape, rng), change(shape, rng);
        }
        if (std::uniform_int_distribution<int>(0, 19)(rng) == 0) { // odd records stay rare
            shape.payload = true;
            shape.usec = 0;
            shape.after_payload = shape.reorder = shape.cut = false;
            shape.stray = 0;
            shape.seq = shape.seq || shape.queue; // NFQUEUE's packet header
        }
        std::vector<std::byte> record = build(shape, static_cast<std::uint32_t>(step));
        const std::span<const std::byte> bytes(record);
        // A cut: the recording kept all but the last 3 bytes.
        const std::span<const std::byte> kept = shape.cut ? bytes.first(bytes.size() - 3) : bytes;
        const auto original = static_cast<std::uint32_t>(bytes.size());

        std::optional<Packet> expected;
        std::string expected_error;
        try {
            expected = plain_decode(shape, kept, original);
        } catch (const DecodeError& e) {
            expected_error = e.what();
        }
        Packet got;
        std::string got_error;
        try {
            got = decoder.decode(kept, original);
        } catch (const DecodeError& e) {
            got_error = e.what();
        }
        ASSERT_EQ(got_error, expected_error) << "step " << step;
        if (expected) {
            expect_same(got, *expected, step);
            repeated += decoder.repeated() ? 1 : 0;
        } else {
            ++errors;
        }
        if (::testing::Test::HasFailure()) {
            break;
        }
        // The receive buffer is reused: a view the decoder kept into this record would read
        // these bytes in the next step, not the record's.
        std::fill(record.begin(), record.end(), std::byte{0xee});
    }
    // Both paths ran often: most records repeat the one before, some do not, some are refused.
    EXPECT_GT(repeated, min_repeated) << errors << " errors";
    EXPECT_LT(repeated, 19'000);
    EXPECT_GT(errors, 50) << repeated << " repeated";
}

// A step of a flow as the encoder tests walk it: now and then a change, and now and then back to
// an ordinary record (true then), so that odd records stay rare.
bool wander(Shape& shape, std::mt19937& rng) {
    if (std::uniform_int_distribution<int>(0, 9)(rng) >= 7) {
        change(shape, rng);
    }
    if (std::uniform_int_distribution<int>(0, 19)(rng) != 0) {
        return false;
    }
    shape.payload = true;
    shape.after_payload = shape.reorder = false;
    shape.stray = 0;
    return true;
}

// The records of such a walk, decoded by a RepeatedDecoder: `shapes` counts the decodes that were
// not repeated (so it is the Recorder's RecordContext::repeats), `reused` those that were.
struct Walk {
    explicit Walk(nfcap::RecordKind kind) : decoder(kind) {}
    // Builds and decodes the record of `step` into `record` and `packet`; false when it does not
    // decode.
    bool next(const Shape& shape, int step) {
        record = build(shape, static_cast<std::uint32_t>(step));
        try {
            packet = decoder.decode(record, static_cast<std::uint32_t>(record.size()));
        } catch (const DecodeError&) {
            return false;
        }
        shapes += decoder.repeated() ? 0U : 1U;
        reused += decoder.repeated() ? 1 : 0;
        return true;
    }
    RepeatedDecoder decoder;
    std::vector<std::byte> record;
    Packet packet;
    std::uint64_t shapes = 0;
    int reused = 0;
};

// The encoder's side of the same promise: given the Recorder's RecordContext::repeats (one value
// per decode that was not repeated), every comment is write_comment's, in both forms (implied
// keys left out for pcapng, every key for text), with names that change now and then.
void comments_hold_to_write_comment(Shape shape, int min_reused) {
    std::mt19937 rng(7);
    Walk walk(kind_of(shape));
    nfcap::RecordEncoder pcapng(nfcap::LinkType::linux_sll2, 262144);
    nfcap::RecordEncoder raw(nfcap::LinkType::raw, 262144);
    nfcap::RecordEncoder text(nfcap::LinkType::linux_sll2, 262144);
    nfcap::RecordEncoder both(nfcap::LinkType::linux_sll2, 262144);
    nfcap::InterfaceNamesOf names;
    std::string scratch;
    const std::string kind = shape.queue ? "nfqueue:" : "nflog:";
    for (int step = 0; step < 5'000; ++step) {
        if (wander(shape, rng)) {
            shape.seq = shape.seq || shape.queue;
        }
        shape.cut = false;
        if (!walk.next(shape, step)) {
            continue;
        }
        const Packet& p = walk.packet;
        nfcap::RecordContext context;
        const std::string source = kind + std::to_string(shape.group);
        context.source = source;
        context.names = &names;
        context.repeats = walk.shapes;
        if (std::uniform_int_distribution<int>(0, 49)(rng) == 0) { // a rename: a new value
            names.indev = names.indev == "eth0" ? "wan" : "eth0";
            context.repeats = ++walk.shapes;
        }
        if (shape.queue && step % 3 == 0) { // a queue's verdict, in the tail
            context.verdict = step % 2 == 0 ? "verdict=accept" : "verdict=drop";
        }
        // One encoder per form, and one that switches between the forms.
        const bool either = step % 2 == 0;
        for (auto [encoder, implied] : {std::pair{&pcapng, true}, std::pair{&raw, true},
                                        std::pair{&text, false}, std::pair{&both, either}}) {
            const std::string expected(
                nfcap::write_comment(scratch, p, encoder->comment_context(p, context, implied)));
            ASSERT_EQ(encoder->comment(p, context, implied), expected) << "step " << step;
        }
    }
    EXPECT_GT(walk.reused, min_reused);
}

// The same promise for whole blocks: an encoder given RecordContext::repeats (and now and then
// asked for a classic pcap record or a text comment in between) writes every record as a new
// encoder, which has nothing to reuse, writes it, cooked header included.
void blocks_hold_to_the_plain_encoder(Shape shape) {
    std::mt19937 rng(8);
    Walk walk(kind_of(shape));
    nfcap::RecordEncoder repeating(nfcap::LinkType::linux_sll2, 262144);
    const std::string source = shape.queue ? "nfqueue:5" : "nflog:7";
    for (int step = 0; step < 5'000; ++step) {
        wander(shape, rng);
        shape.cut = false;
        shape.seq = shape.seq || shape.queue;
        if (!walk.next(shape, step)) {
            continue;
        }
        const Packet& p = walk.packet;
        const std::vector<std::byte>& record = walk.record;
        nfcap::RecordContext context;
        context.source = source;
        nfcap::RecordContext promised = context;
        promised.repeats = walk.shapes;
        nfcap::ByteBuffer got;
        nfcap::ByteBuffer expected;
        nfcap::RecordEncoder plain(nfcap::LinkType::linux_sll2, 262144);
        switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
        case 0:
            (void)repeating.append_pcap(got, p, record, promised);
            (void)plain.append_pcap(expected, p, record, context);
            break;
        case 1:
            (void)repeating.comment(p, promised, false);
            [[fallthrough]];
        default:
            (void)repeating.append(got, p, record, promised);
            (void)plain.append(expected, p, record, context);
            break;
        }
        ASSERT_TRUE(got == expected) << "step " << step;
    }
    EXPECT_GT(walk.reused, 1'000);
}

Shape nflog_start() {
    Shape s;
    s.indev = 2;
    s.hwheader = 1;
    s.prefix = "";
    return s;
}

Shape queue_start() {
    Shape s;
    s.queue = true;
    s.group = 5;
    s.indev = 2;
    s.hwheader = 1;
    s.hwaddr = true;
    s.skb_info = 4;
    return s;
}

} // namespace

TEST(RepeatedDecoder, GivesEveryNflogRecordWhatDecodeNflogGivesIt) {
    holds_to_the_plain_decoder(nflog_start(), 20261207, 6'000);
}

TEST(RepeatedDecoder, GivesEveryQueueRecordWhatDecodeNfqueueGivesIt) {
    // Fewer repeat: NFQA_CAP_LEN changes every fourth packet, and a missing packet header
    // (its absence is an error) lasts until a change brings it back.
    holds_to_the_plain_decoder(queue_start(), 20261208, 4'000);
}

TEST(RepeatedDecoder, ReusesOnlyARecordThatRepeatsTheLastOnesMetadata) {
    Shape s;
    s.indev = 2;
    s.mark = 0x10;
    s.hwheader = 1;
    RepeatedDecoder decoder(RecordKind::nflog);
    const std::vector<std::byte> first = build(s, 1);
    decoder.decode(first, static_cast<std::uint32_t>(first.size()));
    EXPECT_FALSE(decoder.repeated());

    const std::vector<std::byte> second = build(s, 2); // new timestamp, seq and payload
    const Packet q = decoder.decode(second, static_cast<std::uint32_t>(second.size()));
    EXPECT_TRUE(decoder.repeated());
    EXPECT_EQ(q.seq, 2U);
    EXPECT_EQ(q.payload.back(), std::byte{2});
    EXPECT_EQ(q.payload.data(), second.data() + (second.size() - q.payload.size()));

    s.mark = 0x11; // one bit of the mark
    const std::vector<std::byte> third = build(s, 3);
    const Packet r = decoder.decode(third, static_cast<std::uint32_t>(third.size()));
    EXPECT_FALSE(decoder.repeated());
    EXPECT_EQ(r.mark, 0x11U);

    s.after_payload = true; // the same bytes before the payload, one attribute after it
    const std::vector<std::byte> fourth = build(s, 4);
    const Packet t = decoder.decode(fourth, static_cast<std::uint32_t>(fourth.size()));
    EXPECT_FALSE(decoder.repeated());
    EXPECT_EQ(t.mark, 0x99U);
}

TEST(RepeatedDecoder, ReusesAQueueRecordWithItsOwnPacketIdAndLength) {
    Shape s = queue_start();
    s.secctx = true;
    s.cap_len = true; // 1000 + payload size for packets 0-3, one more for 4-7
    RepeatedDecoder decoder(RecordKind::nfqueue);
    const std::vector<std::byte> first = build(s, 0);
    decoder.decode(first, static_cast<std::uint32_t>(first.size()));
    EXPECT_FALSE(decoder.repeated());

    const std::vector<std::byte> second = build(s, 1); // new id, timestamp and payload
    const Packet q = decoder.decode(second, static_cast<std::uint32_t>(second.size()));
    EXPECT_TRUE(decoder.repeated());
    EXPECT_EQ(q.packet_id, 1U);
    EXPECT_EQ(q.original_length, s.payload_size + 1000);
    EXPECT_EQ(q.secctx, "system_u:object_r:ssh_t:s0");
    EXPECT_EQ(q.payload.back(), std::byte{1});
    EXPECT_EQ(q.payload.data(), second.data() + (second.size() - q.payload.size()));

    const std::vector<std::byte> fifth = build(s, 4); // NFQA_CAP_LEN one more
    const Packet r = decoder.decode(fifth, static_cast<std::uint32_t>(fifth.size()));
    EXPECT_FALSE(decoder.repeated());
    EXPECT_EQ(r.packet_id, 4U);
    EXPECT_EQ(r.original_length, s.payload_size + 1001);

    s.skb_info = 1; // checksum state
    const std::vector<std::byte> sixth = build(s, 5);
    const Packet t = decoder.decode(sixth, static_cast<std::uint32_t>(sixth.size()));
    EXPECT_FALSE(decoder.repeated());
    EXPECT_EQ(t.skb_info, 1U);
}

TEST(RepeatedDecoder, RepeatedNflogRecordsGetTheSameCommentsAsWriteComment) {
    Shape s;
    s.indev = 2;
    s.hwheader = 1;
    comments_hold_to_write_comment(s, 1'500);
}

TEST(RepeatedDecoder, RepeatedRecordsGetTheSameBlocksAsWithoutThePromise) {
    blocks_hold_to_the_plain_encoder(nflog_start());
    blocks_hold_to_the_plain_encoder(queue_start());
}

TEST(RepeatedDecoder, RepeatedQueueRecordsGetTheSameCommentsAsWriteComment) {
    comments_hold_to_write_comment(queue_start(), 1'000);
}

namespace {

// eth7 until time 100, then wan0: a rename in the middle of a flow.
class RenamedAt100 final : public nfcap::InterfaceNames {
  public:
    std::string_view name(std::uint32_t, nfcap::Timestamp when) override {
        return when.sec < 100 ? "eth7" : "wan0";
    }
};

} // namespace

// A rename between two records of one flow gives the second its new name, though its decode
// was repeated.
TEST(RepeatedDecoder, ARenameInAFlowReachesTheComment) {
    RenamedAt100 names;
    nfcap::MemorySink sink;
    nfcap::RecorderOptions options;
    options.format = nfcap::OutputFormat::text;
    nfcap::Recorder recorder(sink, options, &names, [](const std::string&) {});
    Shape s;
    s.indev = 4;
    s.timestamp = false; // the receive time decides the name
    for (std::uint32_t n = 0; n < 4; ++n) {
        const std::vector<std::byte> record = build(s, n);
        recorder.record(record, nfcap::Timestamp{n < 2 ? 50 : 150, 0});
    }
    recorder.finish({}, {});
    const std::string out(reinterpret_cast<const char*>(sink.data.data()), sink.data.size());
    std::vector<std::string> lines;
    for (std::size_t at = 0, end = 0; (end = out.find('\n', at)) != std::string::npos;
         at = end + 1) {
        lines.push_back(out.substr(at, end - at));
    }
    ASSERT_GE(lines.size(), 4U);
    EXPECT_NE(lines[1].find(" in=eth7/4 "), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find(" in=wan0/4 "), std::string::npos) << lines[2];
    EXPECT_NE(lines[3].find(" in=wan0/4 "), std::string::npos) << lines[3];
}

// The Recorder holds both decoders to one promise: records of NFLOG flows and NFQUEUE flows,
// interleaved as a capture of a group and a queue hands them over, are written through record()
// exactly as through on_packet(), which decodes nothing and promises nothing. Each decoder
// repeats on its own, so a record whose decoder repeated after a record of the other kind must
// not reuse the other kind's comment head.
TEST(RepeatedDecoder, InterleavedNflogAndQueueRecordsAreWrittenAsThePlainPathWritesThem) {
    for (const auto format : {nfcap::OutputFormat::pcapng, nfcap::OutputFormat::text}) {
        nfcap::MemorySink repeated_sink;
        nfcap::MemorySink plain_sink;
        nfcap::RecorderOptions options;
        options.format = format;
        const auto quiet = [](const std::string&) {};
        nfcap::Recorder repeated(repeated_sink, options, nullptr, quiet);
        nfcap::Recorder plain(plain_sink, options, nullptr, quiet);
        std::mt19937 rng(format == nfcap::OutputFormat::pcapng ? 11 : 12);
        std::array<Shape, 2> shapes{nflog_start(), queue_start()};
        int records = 0;
        for (std::uint32_t n = 0; n < 4'000; ++n) {
            Shape& s = shapes[std::uniform_int_distribution<std::size_t>(0, 1)(rng)];
            if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) {
                change(s, rng);
            }
            s.cut = false;
            s.seq = s.seq || s.queue;
            const std::vector<std::byte> record = build(s, n);
            Packet p;
            try {
                p = plain_decode(s, record, 0);
            } catch (const DecodeError&) {
                continue;
            }
            const nfcap::Timestamp time{static_cast<std::int64_t>(1'000 + n), 0};
            repeated.record(kind_of(s), record, time);
            plain.on_packet(kind_of(s), p, record, time);
            ++records;
        }
        repeated.finish({}, {});
        plain.finish({}, {});
        EXPECT_GT(records, 2'000);
        EXPECT_EQ(repeated.written(), plain.written());
        ASSERT_EQ(repeated_sink.data.size(), plain_sink.data.size());
        EXPECT_TRUE(repeated_sink.data == plain_sink.data);
    }
}

// A classic pcap record between two records of one promise leaves the cooked header of the
// promise as it was: it went through no comment head, so the header it built is its own.
TEST(RepeatedDecoder, APcapRecordInBetweenLeavesThePromisedCookedHeader) {
    Shape a = nflog_start();
    Shape b = a;
    b.indev = 9; // another interface: another cooked header
    const std::vector<std::byte> first = build(a, 1);
    const std::vector<std::byte> other = build(b, 2);
    const std::vector<std::byte> again = build(a, 3);
    nfcap::RecordEncoder encoder(nfcap::LinkType::linux_sll2, 262144);
    nfcap::RecordContext promised;
    promised.source = "nflog:7";
    promised.repeats = 1;
    nfcap::RecordContext another = promised;
    another.repeats = 2;
    nfcap::ByteBuffer out;
    (void)encoder.append(out, nfcap::decode_nflog(first), first, promised);
    (void)encoder.append_pcap(out, nfcap::decode_nflog(other), other, another);
    nfcap::ByteBuffer got;
    (void)encoder.append(got, nfcap::decode_nflog(again), again, promised);
    nfcap::RecordEncoder plain(nfcap::LinkType::linux_sll2, 262144);
    nfcap::ByteBuffer expected;
    (void)plain.append(expected, nfcap::decode_nflog(again), again, promised);
    EXPECT_TRUE(got == expected);
}
