#include <nfcap/checksum.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

unsigned u16(const std::vector<std::byte>& p, std::size_t at) {
    return (std::to_integer<unsigned>(p[at]) << 8U) | std::to_integer<unsigned>(p[at + 1]);
}

// The one's-complement sum of 16-bit words (RFC 1071), as a receiver checks it: a correct
// checksum makes the sum over the covered bytes 0xffff. The test's own oracle.
std::uint32_t add_words(std::uint32_t sum, const std::vector<std::byte>& p, std::size_t from,
                        std::size_t to) {
    for (std::size_t i = from; i < to; i += 2) {
        sum += (std::to_integer<unsigned>(p[i]) << 8U) |
               (i + 1 < to ? std::to_integer<unsigned>(p[i + 1]) : 0U);
    }
    while (sum > 0xffff) {
        sum = (sum & 0xffff) + (sum >> 16U);
    }
    return sum;
}

bool ipv4_header_ok(const std::vector<std::byte>& p) {
    const std::size_t header = (std::to_integer<unsigned>(p[0]) & 0xfU) * 4;
    return add_words(0, p, 0, header) == 0xffff;
}

bool ipv4_transport_ok(const std::vector<std::byte>& p, unsigned protocol) {
    const std::size_t header = (std::to_integer<unsigned>(p[0]) & 0xfU) * 4;
    std::uint32_t sum = add_words(0, p, 12, 20); // source and destination
    sum += protocol + static_cast<std::uint32_t>(p.size() - header);
    return add_words(sum, p, header, p.size()) == 0xffff;
}

bool ipv6_transport_ok(const std::vector<std::byte>& p, unsigned protocol, std::size_t at) {
    std::uint32_t sum = add_words(0, p, 8, 40);
    sum += protocol + static_cast<std::uint32_t>(p.size() - at);
    return add_words(sum, p, at, p.size()) == 0xffff;
}

std::vector<std::byte> ipv4(unsigned protocol, std::size_t transport_length) {
    std::vector<std::byte> p(20 + transport_length, std::byte{0x5a});
    p[0] = std::byte{0x45};
    p[1] = std::byte{0};
    p[6] = std::byte{0x40}; // don't fragment
    p[7] = std::byte{0};
    p[8] = std::byte{64};
    p[9] = static_cast<std::byte>(protocol);
    const unsigned char addresses[] = {192, 0, 2, 1, 192, 0, 2, 2};
    for (std::size_t i = 0; i < 8; ++i) {
        p[12 + i] = static_cast<std::byte>(addresses[i]);
    }
    if (protocol == 6 && transport_length >= 20) {
        p[20 + 12] = std::byte{0x50}; // data offset 5
    }
    return p;
}

std::vector<std::byte> ipv6_udp(std::size_t udp_length, bool hop_by_hop) {
    const std::size_t ext = hop_by_hop ? 8 : 0;
    std::vector<std::byte> p(40 + ext + udp_length, std::byte{0x33});
    p[0] = std::byte{0x60};
    p[6] = static_cast<std::byte>(hop_by_hop ? 0 : 17);
    if (hop_by_hop) {
        p[40] = std::byte{17}; // next header
        p[41] = std::byte{0};  // length (0 + 1) * 8
    }
    return p;
}

} // namespace

TEST(Checksum, LongerIpv4UdpGetsItsLengthsAndBothChecksums) {
    auto p = ipv4(17, 8 + 13);
    p.resize(p.size() + 100, std::byte{'N'}); // a payload rewritten longer
    nfcap::fix_lengths_and_checksums(p);
    EXPECT_EQ(u16(p, 2), p.size());
    EXPECT_EQ(u16(p, 24), p.size() - 20);
    EXPECT_TRUE(ipv4_header_ok(p));
    EXPECT_TRUE(ipv4_transport_ok(p, 17));
    EXPECT_NE(u16(p, 26), 0U);
}

TEST(Checksum, Ipv4TcpAndOddLengths) {
    auto p = ipv4(6, 20 + 7);
    nfcap::fix_lengths_and_checksums(p);
    EXPECT_TRUE(ipv4_header_ok(p));
    EXPECT_TRUE(ipv4_transport_ok(p, 6));
}

TEST(Checksum, WorksOnBytesNotAlignedForTheHeaders) {
    auto p = ipv4(17, 8 + 40);
    std::vector<std::byte> shifted(p.size() + 1);
    std::copy(p.begin(), p.end(), shifted.begin() + 1);
    nfcap::fix_lengths_and_checksums(std::span<std::byte>(shifted).subspan(1));
    const std::vector<std::byte> fixed(shifted.begin() + 1, shifted.end());
    EXPECT_TRUE(ipv4_header_ok(fixed));
    EXPECT_TRUE(ipv4_transport_ok(fixed, 17));
}

TEST(Checksum, Ipv6UdpAlsoBehindAHopByHopHeader) {
    for (const bool ext : {false, true}) {
        auto p = ipv6_udp(8 + 31, ext);
        nfcap::fix_lengths_and_checksums(p);
        const std::size_t at = ext ? 48 : 40;
        EXPECT_EQ(u16(p, 4), p.size() - 40);
        EXPECT_EQ(u16(p, at + 4), p.size() - at);
        EXPECT_TRUE(ipv6_transport_ok(p, 17, at)) << ext;
    }
}

TEST(Checksum, AFragmentGetsOnlyItsIpFields) {
    auto p = ipv4(17, 8 + 10);
    p[6] = std::byte{0x20}; // more fragments
    const auto transport_before = std::vector<std::byte>(p.begin() + 20, p.end());
    nfcap::fix_lengths_and_checksums(p);
    EXPECT_TRUE(ipv4_header_ok(p));
    EXPECT_EQ(std::vector<std::byte>(p.begin() + 20, p.end()), transport_before);
}

TEST(Checksum, RefusesWhatIsNotAWholeIpPacket) {
    std::vector<std::byte> empty;
    EXPECT_THROW(nfcap::fix_lengths_and_checksums(empty), nfcap::ChecksumError);
    auto short_udp = ipv4(17, 4);
    EXPECT_THROW(nfcap::fix_lengths_and_checksums(short_udp), nfcap::ChecksumError);
    auto arp = std::vector<std::byte>(28, std::byte{0});
    try {
        nfcap::fix_lengths_and_checksums(arp);
        FAIL() << "no error";
    } catch (const nfcap::ChecksumError& e) {
        EXPECT_STREQ(e.what(), "not an IP packet: version 0");
    }
    auto bad_ihl = ipv4(17, 8);
    bad_ihl[0] = std::byte{0x4f}; // 60-byte header in a 28-byte packet
    EXPECT_THROW(nfcap::fix_lengths_and_checksums(bad_ihl), nfcap::ChecksumError);
}
