#include <nfcap/retained_packet.hpp>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

struct FixedNames final : nfcap::InterfaceNames {
    std::map<std::uint32_t, std::string> names;
    std::string_view name(std::uint32_t ifindex, nfcap::Timestamp) override {
        const auto it = names.find(ifindex);
        return it == names.end() ? std::string_view() : std::string_view(it->second);
    }
};

std::vector<std::byte> bytes(std::string_view text) {
    std::vector<std::byte> out;
    for (const char c : text) {
        out.push_back(static_cast<std::byte>(c));
    }
    return out;
}

std::string text(std::span<const std::byte> b) {
    std::string out;
    for (const std::byte x : b) {
        out.push_back(static_cast<char>(x));
    }
    return out;
}

// A packet whose views point into `buffer`, as a decoded record's do.
nfcap::Packet view_into(std::vector<std::byte>& buffer) {
    buffer = bytes("PAYLOAD-BYTES|HWHDR|DROP ssh|system_u:object_r");
    nfcap::Packet p;
    p.family = nfcap::Family::ipv4;
    p.resource_id = 5;
    p.payload = std::span<const std::byte>(buffer).subspan(0, 13);
    p.original_length = 1500;
    p.hwheader = std::span<const std::byte>(buffer).subspan(14, 5);
    p.prefix = std::string_view(reinterpret_cast<const char*>(buffer.data()) + 20, 8);
    p.has_prefix = true;
    p.secctx = std::string_view(reinterpret_cast<const char*>(buffer.data()) + 29, 17);
    p.indev = 2;
    p.outdev = 7;
    p.mark = 0x10;
    p.packet_id = 99;
    return p;
}

void expect_whole(const nfcap::RetainedPacket& r) {
    EXPECT_EQ(text(r->payload), "PAYLOAD-BYTES");
    EXPECT_EQ(text(r->hwheader), "HWHDR");
    EXPECT_EQ(r->prefix, "DROP ssh");
    EXPECT_EQ(r->secctx, "system_u:object_r");
    EXPECT_EQ(r->original_length, 1500U);
    EXPECT_EQ(r->mark, 0x10U);
    EXPECT_EQ(r->packet_id, 99U);
    EXPECT_TRUE(r->truncated());
}

} // namespace

TEST(RetainedPacket, OutlivesTheBufferItWasDecodedFrom) {
    auto buffer = std::make_unique<std::vector<std::byte>>();
    const nfcap::Packet view = view_into(*buffer);
    nfcap::RetainedPacket kept(view);
    std::fill(buffer->begin(), buffer->end(), std::byte{'x'});
    buffer.reset();
    expect_whole(kept);
    EXPECT_TRUE(kept.names().indev.empty()); // no names asked for
}

TEST(RetainedPacket, CopiesAndMovesKeepEveryViewOnTheirOwnBytes) {
    std::vector<std::byte> buffer;
    nfcap::RetainedPacket original(view_into(buffer));
    nfcap::RetainedPacket copy(original);
    EXPECT_NE(copy->payload.data(), original->payload.data());
    nfcap::RetainedPacket assigned;
    assigned = copy;
    nfcap::RetainedPacket moved(std::move(original));
    original = nfcap::RetainedPacket(); // the moved-from object is reusable
    std::vector<nfcap::RetainedPacket> many;
    for (int i = 0; i < 100; ++i) { // reallocations move them
        many.push_back(assigned);
    }
    expect_whole(copy);
    expect_whole(assigned);
    expect_whole(moved);
    expect_whole(many.front());
    expect_whole(many.back());
    EXPECT_TRUE(original->payload.empty());
}

TEST(RetainedPacket, KeepsTheInterfaceNamesOfItsTime) {
    std::vector<std::byte> buffer;
    FixedNames names;
    names.names = {{2, "eth0"}, {7, "wan"}};
    const nfcap::RetainedPacket kept(view_into(buffer), &names, nfcap::Timestamp{1, 0});
    names.names[2] = "renamed";
    EXPECT_EQ(kept.names().indev, "eth0");
    EXPECT_EQ(kept.names().outdev, "wan");
    EXPECT_EQ(kept.names().physindev, "");
}

TEST(RetainedPacket, AnEmptyPacketStaysEmpty) {
    const nfcap::RetainedPacket kept{nfcap::Packet{}};
    const nfcap::RetainedPacket copy(kept);
    EXPECT_TRUE(copy->payload.empty());
    EXPECT_TRUE(copy->prefix.empty());
}
