// The metadata key table drives the comment and the JSON output: every key the comment writes
// is in the table and comes in the table's order, and the JSON members built from the packet
// carry exactly the comment's keys and values (numbers as JSON numbers by the table's kind).
// golden/lua_dissector.sh checks the Wireshark plugin's fields against the same table.
#include "nflog_message.hpp"

#include "text_format.hpp"
#include <nfcap/comment.hpp>
#include <nfcap/metadata_keys.hpp>
#include <nfcap/nflog_decode.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using nfcap::test::NflogMessage;

// A record with as many keys as an NFLOG record can have (the message holds a pointer into
// itself, so it is filled in place).
void fill(NflogMessage& m) {
    m.packet_header(0x0800, 3)
        .prefix("odd \"prefix\" \xc3\xa9\x01")
        .u32(NFULA_IFINDEX_INDEV, 2)
        .u32(NFULA_IFINDEX_OUTDEV, 3)
        .u32(NFULA_IFINDEX_PHYSINDEV, 4)
        .u32(NFULA_IFINDEX_PHYSOUTDEV, 5)
        .u32(NFULA_UID, 1000)
        .u32(NFULA_GID, 100)
        .u32(NFULA_MARK, 0xbeef)
        .u16(NFULA_HWTYPE, 1)
        .hwaddr({0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
        .bytes(NFULA_HWHEADER, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0})
        .vlan(0x8100, 7)
        .conntrack(0x18e, 0x42, 77, 2)
        .u32(NFULA_SEQ, 41)
        .u32(NFULA_SEQ_GLOBAL, 99)
        .timestamp(1700000000, 5)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(64, 64));
}

nfcap::CommentContext context_for() {
    nfcap::CommentContext c;
    c.source = "nflog:9";
    c.verdict = "verdict=queue:3 setmark=0x1/0xffffffff decided=later payload=new";
    c.timestamp_source = nfcap::TimestampSource::receive;
    return c;
}

TEST(MetadataKeys, TheCommentWritesTableKeysInTableOrder) {
    NflogMessage m(9, 2);
    fill(m);
    const nfcap::Packet p = nfcap::decode_nflog(m.record());
    std::string comment;
    nfcap::append_comment(comment, p, context_for());
    const auto pairs = nfcap::parse_comment(comment);
    ASSERT_GE(pairs.size(), 26U) << comment;
    std::size_t last = 0;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        const auto key = nfcap::find_key(pairs[i].first);
        ASSERT_TRUE(key) << pairs[i].first << " is not in the key table";
        const auto index = static_cast<std::size_t>(*key);
        if (i > 0) {
            EXPECT_GT(index, last) << pairs[i].first << " comes out of the table's order";
        }
        last = index;
    }
}

TEST(MetadataKeys, JsonMembersAreTheCommentsKeysAndValues) {
    NflogMessage m(9, 2);
    fill(m);
    const nfcap::Packet p = nfcap::decode_nflog(m.record());
    std::string comment;
    nfcap::append_comment(comment, p, context_for());
    // What the comment says, as JSON: each value unescaped from the comment's grammar, then
    // written as a JSON number or string by the table's kind.
    std::string expected;
    for (const auto& [name, value] : nfcap::parse_comment(comment)) {
        expected += ",\"" + name + "\":";
        if (nfcap::metadata_key(*nfcap::find_key(name)).kind == nfcap::KeyKind::number) {
            expected += value;
        } else {
            nfcap::append_json_string(expected, value);
        }
    }
    std::string json;
    nfcap::append_json_fields(json, p, context_for());
    EXPECT_EQ(json, expected);
    EXPECT_NE(json.find(",\"uid\":1000,"), std::string::npos) << json;
    EXPECT_NE(json.find(",\"mark\":\"0xbeef\","), std::string::npos) << json;
    EXPECT_NE(json.find(",\"verdict\":\"queue:3\",\"setmark\":\"0x1/0xffffffff\""),
              std::string::npos)
        << json;
}

TEST(MetadataKeys, TheTableNamesEachKeyOnce) {
    std::set<std::string_view> names;
    for (const auto& k : nfcap::metadata_keys()) {
        EXPECT_TRUE(names.insert(k.name).second) << k.name;
        EXPECT_EQ(nfcap::find_key(k.name), k.key);
        EXPECT_TRUE(k.lua_type == "string" || k.lua_type == "uint32" || k.lua_type == "uint16")
            << k.name;
        EXPECT_EQ(k.lua_type == "string", k.kind == nfcap::KeyKind::text) << k.name;
    }
    EXPECT_EQ(nfcap::find_key("no-such-key"), std::nullopt);
}

} // namespace
