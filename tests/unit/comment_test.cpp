#include "nflog_message.hpp"

#include <nfcap/comment.hpp>
#include <nfcap/nflog_decode.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

using nfcap::append_comment;
using nfcap::append_value;
using nfcap::parse_comment;
using nfcap::test::NflogMessage;

namespace {

class FixedNames final : public nfcap::InterfaceNames {
  public:
    std::string_view name(std::uint32_t ifindex, nfcap::Timestamp when) override {
        asked_at = when;
        const auto found = names.find(ifindex);
        return found == names.end() ? std::string_view{} : std::string_view(found->second);
    }
    std::map<std::uint32_t, std::string> names{{2, "eth0"}, {3, "veth-b"}};
    nfcap::Timestamp asked_at;
};

std::string comment_for(const NflogMessage& m, nfcap::InterfaceNames* names,
                        nfcap::TimestampSource source = nfcap::TimestampSource::kernel) {
    const nfcap::Packet packet = nfcap::decode_nflog(m.record());
    nfcap::InterfaceNamesOf resolved;
    if (names != nullptr) {
        nfcap::resolve_names(resolved, packet, *names, nfcap::Timestamp{});
    }
    std::string out;
    append_comment(
        out, packet,
        {"nflog:123", names != nullptr ? &resolved : nullptr, source, {}, nfcap::Timestamp{}});
    return out;
}

std::string escaped(std::string_view value) {
    std::string out;
    append_value(out, value);
    return out;
}

} // namespace

TEST(Comment, DesignExampleComesOutExactly) {
    NflogMessage m(123, 2);
    m.packet_header(0x0800, 1)
        .prefix("DROP ssh")
        .u32(NFULA_IFINDEX_INDEV, 2)
        .u32(NFULA_UID, 1000)
        .u32(NFULA_GID, 1000)
        .u32(NFULA_MARK, 0x10)
        .hwaddr({0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
        .u32(NFULA_SEQ, 41)
        .timestamp(1, 2)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(64, 64));
    FixedNames names;
    EXPECT_EQ(comment_for(m, &names),
              "nflog:123 hook=input family=ipv4 prefix=\"DROP ssh\" in=eth0/2 uid=1000 gid=1000 "
              "mark=0x10 hwaddr=52:54:00:12:34:56 seq=41 ts=kernel");
}

TEST(Comment, EveryKeyInItsFixedOrder) {
    NflogMessage m(5, 7);
    m.packet_header(0x0800, 2)
        .prefix("p")
        .u32(NFULA_IFINDEX_INDEV, 2)
        .u32(NFULA_IFINDEX_OUTDEV, 3)
        .u32(NFULA_IFINDEX_PHYSINDEV, 9)
        .u32(NFULA_IFINDEX_PHYSOUTDEV, 10)
        .u32(NFULA_UID, 0)
        .u32(NFULA_GID, 0)
        .u32(NFULA_MARK, 0xdeadbeef)
        .u16(NFULA_HWTYPE, 1)
        .hwaddr({1, 2, 3, 4, 5, 6})
        .bytes(NFULA_HWHEADER, {0xaa, 0xbb})
        .vlan(0x8100, 0x2005)
        .conntrack(0x8, 0x1, 42, 3)
        .u32(NFULA_CT_INFO, 3)
        .u32(NFULA_SEQ, 1)
        .u32(NFULA_SEQ_GLOBAL, 2)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(20, 100));
    FixedNames names;
    EXPECT_EQ(comment_for(m, &names, nfcap::TimestampSource::receive),
              "nflog:123 hook=forward family=bridge prefix=p in=eth0/2 out=veth-b/3 physin=9 "
              "physout=10 uid=0 gid=0 mark=0xdeadbeef hwtype=1 hwaddr=01:02:03:04:05:06 "
              "hwheader=aabb vlan=0x8100/0x2005 ct=established-reply ctstatus=0x8 ctmark=0x1 "
              "ctid=42 ctzone=3 seq=1 seq_global=2 ts=receive trunc=100");
}

TEST(Comment, ARecordCutByTheRecordingEndsWithTruncated) {
    NflogMessage m(5, 2);
    m.packet_header(0x0800, 1).prefix("p").bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(100, 100));
    const auto whole = m.record();
    const auto cut = whole.first(whole.size() - 60);
    std::string out;
    append_comment(out, nfcap::decode_nflog(cut, static_cast<std::uint32_t>(whole.size())),
                   {"nflog:5", nullptr, nfcap::TimestampSource::file, {}, nfcap::Timestamp{}});
    const std::string tail =
        " truncated=" + std::to_string(cut.size()) + "/" + std::to_string(whole.size());
    EXPECT_EQ(out, "nflog:5 hook=input family=ipv4 prefix=p ts=file trunc=100" + tail);
    const auto pairs = parse_comment(out);
    EXPECT_EQ(pairs.back().first, "truncated");
}

TEST(Comment, WithoutNamesInterfacesAreBareIndices) {
    NflogMessage m;
    m.u32(NFULA_IFINDEX_OUTDEV, 3).bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(64, 64));
    EXPECT_EQ(comment_for(m, nullptr, nfcap::TimestampSource::file),
              "nflog:123 family=ipv4 out=3 ts=file");
}

TEST(Comment, ARecordWithoutPacketBytesSaysCopyMeta) {
    NflogMessage m; // copy mode meta: no NFULA_PAYLOAD at all
    m.u32(NFULA_IFINDEX_OUTDEV, 3);
    EXPECT_EQ(comment_for(m, nullptr, nfcap::TimestampSource::file),
              "nflog:123 family=ipv4 out=3 ts=file copy=meta");
    NflogMessage empty; // a payload attribute, even an empty one, is a copied packet
    empty.u32(NFULA_IFINDEX_OUTDEV, 3).bytes(NFULA_PAYLOAD, {});
    EXPECT_EQ(comment_for(empty, nullptr, nfcap::TimestampSource::file),
              "nflog:123 family=ipv4 out=3 ts=file");
}

TEST(Comment, HooksAreNamedPerFamily) {
    NflogMessage arp(1, 3);
    arp.packet_header(0x0806, 1);
    EXPECT_NE(comment_for(arp, nullptr).find("hook=output family=arp"), std::string::npos);
    NflogMessage bridge(1, 7);
    bridge.packet_header(0x0800, 5);
    EXPECT_NE(comment_for(bridge, nullptr).find("hook=brouting"), std::string::npos);
    NflogMessage odd(1, 2);
    odd.packet_header(0x0800, 42);
    EXPECT_NE(comment_for(odd, nullptr).find("hook=42"), std::string::npos);
}

TEST(Comment, ValuesAreQuotedOnlyWhenNeeded) {
    EXPECT_EQ(escaped("plain"), "plain");
    EXPECT_EQ(escaped(""), "\"\"");
    EXPECT_EQ(escaped("a b"), "\"a b\"");
    EXPECT_EQ(escaped("say \"x\""), "\"say \\\"x\\\"\"");
    EXPECT_EQ(escaped("back\\slash"), "\"back\\\\slash\"");
    EXPECT_EQ(escaped("caf\xc3\xa9"), "caf\xc3\xa9") << "valid UTF-8 stays literal";
    EXPECT_EQ(escaped("bad\xff"), "\"bad\\xff\"");
    EXPECT_EQ(escaped("tab\tnl\n"), "\"tab\\x09nl\\x0a\"");
    EXPECT_EQ(escaped(std::string("nul\0x", 5)), "\"nul\\x00x\"");
    EXPECT_EQ(escaped("\xc0\xaf"), "\"\\xc0\\xaf\"") << "overlong UTF-8 is not valid";
    EXPECT_EQ(escaped("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"") << "surrogates are not valid";
    // The edges of the plain range: '!' and '~' stay, DEL and a lone continuation byte do not.
    EXPECT_EQ(escaped("!~"), "!~");
    EXPECT_EQ(escaped("del\x7f"), "\"del\\x7f\"");
    EXPECT_EQ(escaped("\x80"), "\"\\x80\"");
}

TEST(Comment, QuotingLooksAtEveryByteAtEveryLength) {
    // Plain values are checked eight bytes at a time, the last word overlapping: every byte
    // value at every position of every length up to 24 must still be found.
    for (std::size_t length = 1; length <= 24; ++length) {
        for (std::size_t at = 0; at < length; ++at) {
            for (int b = 0; b < 256; ++b) {
                std::string value(length, 'a');
                value[at] = static_cast<char>(b);
                const bool plain = b > 0x20 && b < 0x7f && b != '"' && b != '\\';
                const std::string out = escaped(value);
                ASSERT_EQ(out.front() != '"', plain)
                    << "byte " << b << " at " << at << " of " << length << ": " << out;
            }
        }
        // Valid UTF-8 anywhere stays literal; the word test sends it to the exact check.
        for (std::size_t at = 0; at + 2 <= length; ++at) {
            std::string value(length, 'z');
            value[at] = '\xc3';
            value[at + 1] = '\xa9';
            ASSERT_EQ(escaped(value), value) << at << " of " << length;
        }
    }
}

TEST(Comment, ParseRoundTripsEveryByteValue) {
    std::string all;
    for (int b = 1; b < 256; ++b) {
        all.push_back(static_cast<char>(b));
    }
    const std::vector<std::string> values = {
        "", "x", " ", "\"", "\\", "a=b", "DROP ssh", "caf\xc3\xa9", all, std::string("\0\0", 2)};
    for (const auto& value : values) {
        std::string line = "nflog:1 prefix=";
        append_value(line, value);
        line += " seq=5";
        const auto pairs = parse_comment(line);
        ASSERT_EQ(pairs.size(), 3U) << line;
        EXPECT_EQ(pairs[0].first, "source");
        EXPECT_EQ(pairs[0].second, "nflog:1");
        EXPECT_EQ(pairs[1].first, "prefix");
        EXPECT_EQ(pairs[1].second, value) << line;
        EXPECT_EQ(pairs[2].second, "5");
    }
}

TEST(Comment, PrefixFromTheKernelRoundTripsByteForByte) {
    const std::string prefix = "in \"odd\" \\ caf\xc3\xa9 \x01\xfe";
    NflogMessage m;
    m.prefix_bytes(prefix);
    const auto pairs = parse_comment(comment_for(m, nullptr));
    EXPECT_EQ(pairs.at(2).first, "prefix");
    EXPECT_EQ(pairs.at(2).second, prefix);
}

TEST(Comment, ParseRefusesMalformedComments) {
    for (const char* bad : {"", "key=value", "nflog:1 prefix=\"open", "nflog:1  double=space",
                            "nflog:1 novalue", "nflog:1 k=\"x\"y", "nflog:1 k=\"\\q\"",
                            "nflog:1 k=\"\\x4\"", "nflog:1 k=a\"b", "nflog:1 trailing=x "}) {
        EXPECT_THROW(parse_comment(bad), nfcap::DecodeError) << bad;
    }
}

TEST(Comment, AppendingReusesTheCallersBuffer) {
    NflogMessage m;
    m.prefix("x").u32(NFULA_SEQ, 1);
    const nfcap::Packet p = nfcap::decode_nflog(m.record());
    std::string out;
    out.reserve(256);
    const char* storage = out.data();
    for (int i = 0; i < 100; ++i) {
        out.clear();
        append_comment(out, p, {"nflog:1", nullptr, nfcap::TimestampSource::kernel, {}, {}});
    }
    EXPECT_EQ(out.data(), storage) << "no reallocation once the buffer is large enough";
}

TEST(Comment, NumbersComeOutInDecimalAtEveryDigitCount) {
    // Numbers are written two digits at a time after their digit count is worked out: every
    // count, both sides of every power of ten, and a sweep of the 32-bit range.
    std::vector<std::uint32_t> values;
    for (std::uint32_t v = 0; v < 20'000; ++v) {
        values.push_back(v);
    }
    for (std::uint64_t power = 10; power <= 1'000'000'000; power *= 10) {
        for (const std::uint64_t v : {power - 1, power, power + 1, 2 * power - 1, 5 * power}) {
            values.push_back(static_cast<std::uint32_t>(v));
        }
    }
    for (std::uint64_t v = 20'000; v <= 0xffffffffU; v += 104'729) {
        values.push_back(static_cast<std::uint32_t>(v));
    }
    values.push_back(0xffffffffU);
    for (const std::uint32_t v : values) {
        NflogMessage m;
        m.u32(NFULA_SEQ, v);
        const std::string comment = comment_for(m, nullptr);
        const std::string expected = " seq=" + std::to_string(v) + " ";
        ASSERT_NE(comment.find(expected), std::string::npos) << comment;
    }
}

TEST(Comment, HwheaderHexMatchesEveryByteAtEveryLength) {
    // The hex of a link-layer header is written four bytes at a time: every byte value, in
    // every position of a group of four and in the tail, must come out as two digits.
    constexpr char digits[] = "0123456789abcdef";
    for (std::size_t length = 1; length <= 40; ++length) {
        for (unsigned start = 0; start < 256; start += 37) {
            std::vector<std::uint8_t> header(length);
            std::string expected = " hwheader=";
            for (std::size_t i = 0; i < length; ++i) {
                header[i] = static_cast<std::uint8_t>((start + 97 * i) & 0xffU);
                expected += digits[header[i] >> 4U];
                expected += digits[header[i] & 0xfU];
            }
            NflogMessage m(123, 2);
            m.packet_header(0x0800, 1).bytes(NFULA_HWHEADER, header);
            const std::string comment = comment_for(m, nullptr);
            EXPECT_NE(comment.find(expected), std::string::npos) << comment;
        }
    }
    // All 256 values in one header.
    std::vector<std::uint8_t> all(256);
    std::string expected = " hwheader=";
    for (std::size_t v = 0; v < all.size(); ++v) {
        all[v] = static_cast<std::uint8_t>(v);
        expected += digits[v >> 4U];
        expected += digits[v & 0xfU];
    }
    NflogMessage m(123, 2);
    m.packet_header(0x0800, 1).bytes(NFULA_HWHEADER, all);
    EXPECT_NE(comment_for(m, nullptr).find(expected), std::string::npos);
}
