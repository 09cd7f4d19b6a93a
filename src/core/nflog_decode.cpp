// The NFLOG adapter: the only file of nfcap_core that knows NFULA_* numbers.
#include <nfcap/nflog_decode.hpp>

#include "attributes.hpp"

#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>

#include <algorithm>
#include <cstring>

namespace nfcap {
namespace {

using detail::be16_attr;
using detail::be32_attr;
using detail::fixed;

constexpr std::uint16_t ethertype_ipv4 = 0x0800;
constexpr std::uint16_t ethertype_ipv6 = 0x86dd;

Timestamp decode_timestamp(std::span<const std::byte> value) {
    // struct nfulnl_msg_packet_timestamp { __be64 sec; __be64 usec; }
    ByteReader r = fixed(value, 16, "NFULA_TIMESTAMP");
    const std::uint64_t sec = r.be64();
    const std::uint64_t usec = r.be64();
    if (usec >= 1'000'000 || sec > static_cast<std::uint64_t>(INT64_MAX)) {
        throw DecodeError("NFULA_TIMESTAMP out of range (usec " + std::to_string(usec) + ")");
    }
    return Timestamp{static_cast<std::int64_t>(sec), static_cast<std::uint32_t>(usec * 1000)};
}

HardwareAddress decode_hwaddr(std::span<const std::byte> value) {
    // struct nfulnl_msg_packet_hw { __be16 hw_addrlen; __u16 _pad; __u8 hw_addr[8]; }
    ByteReader r = fixed(value, 12, "NFULA_HWADDR");
    const std::uint16_t length = r.be16();
    r.skip(2);
    if (length > 8) {
        throw DecodeError("NFULA_HWADDR length " + std::to_string(length) + " exceeds 8");
    }
    HardwareAddress address;
    address.length = static_cast<std::uint8_t>(length);
    const auto bytes = r.bytes(8);
    std::copy(bytes.begin(), bytes.end(), address.bytes.begin());
    return address;
}

Vlan decode_vlan(std::span<const std::byte> value) {
    Vlan vlan;
    detail::for_each_attribute(value, [&](std::uint16_t type, std::span<const std::byte> v) {
        if (type == NFULA_VLAN_PROTO) {
            vlan.proto = be16_attr(v, "NFULA_VLAN_PROTO");
        } else if (type == NFULA_VLAN_TCI) {
            vlan.tci = be16_attr(v, "NFULA_VLAN_TCI");
        }
    });
    return vlan;
}

void decode_conntrack(std::span<const std::byte> value, Conntrack& ct) {
    detail::for_each_attribute(value, [&](std::uint16_t type, std::span<const std::byte> v) {
        switch (type) {
        case CTA_STATUS:
            ct.status = be32_attr(v, "CTA_STATUS");
            break;
        case CTA_MARK:
            ct.mark = be32_attr(v, "CTA_MARK");
            break;
        case CTA_ID:
            ct.id = be32_attr(v, "CTA_ID");
            break;
        case CTA_ZONE:
            ct.zone = be16_attr(v, "CTA_ZONE");
            break;
        default:
            break; // tuples, timeouts, counters: not part of the record's metadata
        }
    });
}

std::string_view decode_prefix(std::span<const std::byte> value) {
    // The kernel sends the prefix with its terminating NUL; keep the bytes before it.
    const auto* chars = reinterpret_cast<const char*>(value.data()); // byte-to-char view
    const std::size_t length = strnlen(chars, value.size());
    return {chars, length};
}

// The arp family's output hook runs after the link-layer header was built, so the kernel logs
// those ARP packets from the Ethernet header on (seen on Linux 6.18: "arp out" records carry
// 14 bytes of Ethernet header before the ARP header). Move that header where it belongs, so
// the payload is the ARP packet as on every other hook.
void split_arp_link_header(Packet& p) {
    constexpr std::size_t ethernet_header = 14;
    if (p.family != Family::arp || !p.hwheader.empty() || p.payload.size() < ethernet_header + 8) {
        return;
    }
    ByteReader r(p.payload);
    r.skip(12);
    const std::uint16_t ethertype = r.be16();
    r.skip(4); // ARP hardware and protocol type
    const std::uint8_t hardware_length = r.u8();
    const std::uint8_t protocol_length = r.u8();
    if (ethertype == 0x0806 && hardware_length == 6 &&
        (protocol_length == 4 || protocol_length == 16)) {
        p.hwheader = p.payload.first(ethernet_header);
        p.payload = p.payload.subspan(ethernet_header);
    }
}

} // namespace

std::uint32_t network_length(std::uint16_t hw_protocol, Family family,
                             std::span<const std::byte> payload) {
    const auto size = static_cast<std::uint32_t>(payload.size());
    if (payload.empty()) {
        return size;
    }
    const unsigned version = std::to_integer<unsigned>(payload[0]) >> 4U;
    const bool ip_protocol =
        hw_protocol == ethertype_ipv4 || hw_protocol == ethertype_ipv6 ||
        (hw_protocol == 0 && (family == Family::ipv4 || family == Family::ipv6));
    if (!ip_protocol) {
        return size;
    }
    ByteReader r(payload);
    if (version == 4 && payload.size() >= 4) {
        r.skip(2);
        const std::uint32_t total = r.be16();
        // A GSO super-packet may carry 0 here; then the payload is all we know.
        return std::max(size, total >= 20 ? total : 0U);
    }
    if (version == 6 && payload.size() >= 6) {
        r.skip(4);
        const std::uint32_t payload_length = r.be16();
        // 0 means a jumbogram (or a GSO packet): the header does not know the length.
        return std::max(size, payload_length != 0 ? payload_length + 40U : 0U);
    }
    return size;
}

Packet decode_nflog(std::span<const std::byte> record) {
    ByteReader header(record);
    if (record.size() < 4) {
        throw DecodeError("record of " + std::to_string(record.size()) +
                          " bytes is shorter than the 4-byte NFLOG header");
    }
    Packet p;
    p.family = static_cast<Family>(header.u8());
    const std::uint8_t version = header.u8();
    if (version != 0) { // NFNETLINK_V0
        throw DecodeError("unsupported nfnetlink version " + std::to_string(version));
    }
    p.resource_id = header.be16();

    detail::for_each_attribute(
        record.subspan(4), [&p](std::uint16_t type, std::span<const std::byte> value) {
            switch (type) {
            case NFULA_PACKET_HDR: {
                // struct nfulnl_msg_packet_hdr { __be16 hw_protocol; __u8 hook; __u8 _pad; }
                ByteReader r = fixed(value, 4, "NFULA_PACKET_HDR");
                p.hw_protocol = r.be16();
                p.hook = r.u8();
                p.has_packet_header = true;
                break;
            }
            case NFULA_MARK:
                p.mark = be32_attr(value, "NFULA_MARK");
                break;
            case NFULA_TIMESTAMP:
                p.timestamp = decode_timestamp(value);
                break;
            case NFULA_IFINDEX_INDEV:
                p.indev = be32_attr(value, "NFULA_IFINDEX_INDEV");
                break;
            case NFULA_IFINDEX_OUTDEV:
                p.outdev = be32_attr(value, "NFULA_IFINDEX_OUTDEV");
                break;
            case NFULA_IFINDEX_PHYSINDEV:
                p.physindev = be32_attr(value, "NFULA_IFINDEX_PHYSINDEV");
                break;
            case NFULA_IFINDEX_PHYSOUTDEV:
                p.physoutdev = be32_attr(value, "NFULA_IFINDEX_PHYSOUTDEV");
                break;
            case NFULA_HWADDR:
                p.hwaddr = decode_hwaddr(value);
                break;
            case NFULA_PAYLOAD:
                p.payload = value;
                break;
            case NFULA_PREFIX:
                p.prefix = decode_prefix(value);
                p.has_prefix = true;
                break;
            case NFULA_UID:
                p.uid = be32_attr(value, "NFULA_UID");
                break;
            case NFULA_GID:
                p.gid = be32_attr(value, "NFULA_GID");
                break;
            case NFULA_SEQ:
                p.seq = be32_attr(value, "NFULA_SEQ");
                break;
            case NFULA_SEQ_GLOBAL:
                p.seq_global = be32_attr(value, "NFULA_SEQ_GLOBAL");
                break;
            case NFULA_HWTYPE:
                p.hwtype = be16_attr(value, "NFULA_HWTYPE");
                break;
            case NFULA_HWHEADER:
                p.hwheader = value;
                break;
            case NFULA_HWLEN:
                (void)be16_attr(value, "NFULA_HWLEN"); // implied by NFULA_HWHEADER's size
                break;
            case NFULA_CT:
                if (!p.conntrack) {
                    p.conntrack.emplace();
                }
                decode_conntrack(value, *p.conntrack);
                break;
            case NFULA_CT_INFO:
                if (!p.conntrack) {
                    p.conntrack.emplace();
                }
                p.conntrack->info = be32_attr(value, "NFULA_CT_INFO");
                break;
            case NFULA_VLAN:
                p.vlan = decode_vlan(value);
                break;
            default:
                break; // NFULA_L2HDR and attributes newer than this build: skipped
            }
        });
    split_arp_link_header(p);
    p.original_length = network_length(p.hw_protocol, p.family, p.payload);
    return p;
}

} // namespace nfcap
