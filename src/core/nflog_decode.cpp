// The NFLOG adapter: the only file of nfcap_core that knows NFULA_* numbers.
#include <nfcap/nflog_decode.hpp>

#include "decode_into.hpp"

#include "byte_reader.hpp"

#include "attributes.hpp"
#include "common_attributes.hpp"

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

void detail::decode_nflog_into(Packet& p, std::span<const std::byte> record,
                               std::uint32_t original_length, RecordLayout* layout) {
    ByteReader header(record);
    if (record.size() < 4) {
        throw DecodeError("record of " + std::to_string(record.size()) +
                          " bytes is shorter than the 4-byte NFLOG header");
    }
    p.family = static_cast<Family>(header.u8());
    const std::uint8_t version = header.u8();
    if (version != 0) { // NFNETLINK_V0
        throw DecodeError("unsupported nfnetlink version " + std::to_string(version));
    }
    p.resource_id = header.be16();

    std::span<const std::byte> attributes = record.subspan(4);
    std::span<const std::byte> cut_payload;
    bool saw_payload = false;
    if (original_length > record.size()) {
        const detail::CutAttribute cut = detail::find_cut(attributes);
        attributes = attributes.first(cut.whole);
        if (cut.type == NFULA_PAYLOAD) {
            cut_payload = cut.partial;
            saw_payload = true;
        }
        p.cut = RecordCut{static_cast<std::uint32_t>(record.size()), original_length};
    }
    const std::byte* const start = record.data();
    const auto offset = [start](std::span<const std::byte> value) {
        return static_cast<std::size_t>(value.data() - start);
    };
    detail::for_each_attribute(
        attributes, [&](std::uint16_t type, std::span<const std::byte> value) {
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
                p.timestamp = detail::decode_timestamp(value, "NFULA_TIMESTAMP");
                if (layout != nullptr) {
                    layout->timestamp = offset(value);
                }
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
                p.hwaddr = detail::decode_hwaddr(value, "NFULA_HWADDR");
                break;
            case NFULA_PAYLOAD:
                p.payload = value;
                saw_payload = true;
                break;
            case NFULA_PREFIX:
                p.prefix = detail::nul_terminated(value); // the kernel adds a NUL
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
                if (layout != nullptr) {
                    layout->seq = offset(value);
                }
                break;
            case NFULA_SEQ_GLOBAL:
                p.seq_global = be32_attr(value, "NFULA_SEQ_GLOBAL");
                if (layout != nullptr) {
                    layout->seq_global = offset(value);
                }
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
                detail::decode_conntrack(value, p.conntrack ? *p.conntrack : p.conntrack.emplace());
                break;
            case NFULA_CT_INFO:
                if (!p.conntrack) {
                    p.conntrack.emplace();
                }
                p.conntrack->info = be32_attr(value, "NFULA_CT_INFO");
                break;
            case NFULA_VLAN:
                p.vlan = detail::decode_vlan(value);
                break;
            default:
                break; // NFULA_L2HDR and attributes newer than this build: skipped
            }
        });
    p.metadata_only = !saw_payload && !p.cut;
    if (p.cut && !cut_payload.empty()) {
        p.payload = cut_payload;
    }
    split_arp_link_header(p);
    p.original_length = network_length(p.hw_protocol, p.family, p.payload);
}

Packet decode_nflog(std::span<const std::byte> record, std::uint32_t original_length) {
    Packet p;
    detail::decode_nflog_into(p, record, original_length);
    return p;
}

} // namespace nfcap
