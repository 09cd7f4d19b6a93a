#include <nfcap/checksum.hpp>

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
extern "C" { // these headers of libnetfilter_queue lack the C++ guard its main header has
#include <libnetfilter_queue/libnetfilter_queue_ipv4.h>
#include <libnetfilter_queue/libnetfilter_queue_tcp.h>
#include <libnetfilter_queue/libnetfilter_queue_udp.h>
}

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace nfcap {
namespace {

constexpr std::size_t ipv4_min_header = 20;
constexpr std::size_t ipv6_header = 40;
constexpr std::size_t udp_header = 8;
constexpr std::size_t tcp_min_header = 20;
constexpr std::size_t max_ip_length = 0xffff;

unsigned byte_at(std::span<const std::byte> b, std::size_t i) {
    return std::to_integer<unsigned>(b[i]);
}

void put_u16(std::span<std::byte> b, std::size_t at, std::size_t value) {
    b[at] = static_cast<std::byte>((value >> 8U) & 0xffU);
    b[at + 1] = static_cast<std::byte>(value & 0xffU);
}

// Where the transport header starts and which protocol it is; nullopt-like `protocol` 0 with
// `fragment` for bytes whose checksum cannot be computed here.
struct Transport {
    std::size_t offset = 0;
    unsigned protocol = 0;
    bool fragment = false;
};

Transport ipv6_transport(std::span<const std::byte> p) {
    // Skip the extension headers that carry their own length (hop-by-hop, routing, destination
    // options); a fragment header ends the walk.
    unsigned next = byte_at(p, 6);
    std::size_t at = ipv6_header;
    for (;;) {
        if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
            if (at + 2 > p.size()) {
                throw ChecksumError("IPv6 extension header at byte " + std::to_string(at) +
                                    " is cut off by the end of the packet");
            }
            const std::size_t length = (byte_at(p, at + 1) + 1) * 8;
            next = byte_at(p, at);
            at += length;
            continue;
        }
        if (next == IPPROTO_FRAGMENT) {
            return {at, next, true};
        }
        return {at, next, false};
    }
}

// Runs the libnetfilter_queue functions, which read the headers as structs: on bytes aligned
// for them (a copy when `packet` is not).
template <class Fix> void on_aligned(std::span<std::byte> packet, Fix&& fix) {
    if (reinterpret_cast<std::uintptr_t>(packet.data()) % alignof(std::uint32_t) == 0) {
        fix(packet.data());
        return;
    }
    std::vector<std::uint32_t> aligned((packet.size() + 3) / 4);
    std::memcpy(aligned.data(), packet.data(), packet.size());
    fix(reinterpret_cast<std::byte*>(aligned.data()));
    std::memcpy(packet.data(), aligned.data(), packet.size());
}

void check_transport(const Transport& t, std::size_t size, const char* family) {
    if (t.protocol == IPPROTO_UDP && t.offset + udp_header > size) {
        throw ChecksumError(std::string("the ") + family +
                            " packet is too short for its UDP header");
    }
    if (t.protocol == IPPROTO_TCP && t.offset + tcp_min_header > size) {
        throw ChecksumError(std::string("the ") + family +
                            " packet is too short for its TCP header");
    }
}

void fix_ipv4(std::span<std::byte> p) {
    if (p.size() < ipv4_min_header) {
        throw ChecksumError("an IPv4 packet needs at least 20 bytes, this one has " +
                            std::to_string(p.size()));
    }
    const std::size_t header = (byte_at(p, 0) & 0x0fU) * 4;
    if (header < ipv4_min_header || header > p.size()) {
        throw ChecksumError("the IPv4 header length (" + std::to_string(header) +
                            " bytes) does not fit the packet of " + std::to_string(p.size()));
    }
    put_u16(p, 2, p.size());
    const bool fragment = ((byte_at(p, 6) & 0x3fU) | byte_at(p, 7)) != 0; // MF or an offset
    const Transport t{header, byte_at(p, 9), fragment};
    if (!t.fragment) {
        check_transport(t, p.size(), "IPv4");
        if (t.protocol == IPPROTO_UDP) {
            put_u16(p, header + 4, p.size() - header);
        }
    }
    on_aligned(p, [&](std::byte* bytes) {
        auto* ip = reinterpret_cast<iphdr*>(bytes); // netinet ABI, aligned
        if (!t.fragment && t.protocol == IPPROTO_UDP) {
            auto* udp = reinterpret_cast<udphdr*>(bytes + header);
            nfq_udp_compute_checksum_ipv4(udp, ip);
            if (udp->check == 0) {
                udp->check = 0xffff; // 0 would mean "no checksum" (RFC 768)
            }
        } else if (!t.fragment && t.protocol == IPPROTO_TCP) {
            nfq_tcp_compute_checksum_ipv4(reinterpret_cast<tcphdr*>(bytes + header), ip);
        }
        nfq_ip_set_checksum(ip);
    });
}

void fix_ipv6(std::span<std::byte> p) {
    if (p.size() < ipv6_header) {
        throw ChecksumError("an IPv6 packet needs at least 40 bytes, this one has " +
                            std::to_string(p.size()));
    }
    put_u16(p, 4, p.size() - ipv6_header);
    const Transport t = ipv6_transport(p);
    if (t.fragment || (t.protocol != IPPROTO_UDP && t.protocol != IPPROTO_TCP)) {
        return;
    }
    if (t.offset > p.size()) {
        throw ChecksumError("the IPv6 extension headers run past the end of the packet");
    }
    check_transport(t, p.size(), "IPv6");
    if (t.protocol == IPPROTO_UDP) {
        put_u16(p, t.offset + 4, p.size() - t.offset);
    }
    on_aligned(p, [&](std::byte* bytes) {
        auto* ip = reinterpret_cast<ip6_hdr*>(bytes); // netinet ABI, aligned
        if (t.protocol == IPPROTO_UDP) {
            auto* udp = reinterpret_cast<udphdr*>(bytes + t.offset);
            nfq_udp_compute_checksum_ipv6(udp, ip);
            if (udp->check == 0) {
                udp->check = 0xffff; // IPv6 forbids a zero UDP checksum
            }
        } else {
            nfq_tcp_compute_checksum_ipv6(reinterpret_cast<tcphdr*>(bytes + t.offset), ip);
        }
    });
}

} // namespace

void set_ipv4_header_checksum(std::span<std::byte> packet) {
    if (packet.size() < ipv4_min_header || (byte_at(packet, 0) >> 4U) != 4 ||
        (byte_at(packet, 0) & 0x0fU) * 4 > packet.size()) {
        throw ChecksumError("not an IPv4 header");
    }
    on_aligned(packet, [](std::byte* bytes) {
        nfq_ip_set_checksum(reinterpret_cast<iphdr*>(bytes)); // netinet ABI, aligned
    });
}

void fix_lengths_and_checksums(std::span<std::byte> packet) {
    if (packet.empty()) {
        throw ChecksumError("an empty packet has no IP header");
    }
    if (packet.size() > max_ip_length) {
        throw ChecksumError("a packet of " + std::to_string(packet.size()) +
                            " bytes is longer than IP allows (65535)");
    }
    switch (byte_at(packet, 0) >> 4U) {
    case 4:
        fix_ipv4(packet);
        return;
    case 6:
        fix_ipv6(packet);
        return;
    default:
        throw ChecksumError("not an IP packet: version " +
                            std::to_string(byte_at(packet, 0) >> 4U));
    }
}

} // namespace nfcap
