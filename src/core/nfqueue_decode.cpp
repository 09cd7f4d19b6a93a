// The NFQUEUE adapter: the only file of nfcap_core that knows NFQA_* numbers.
#include <nfcap/nfqueue_decode.hpp>

#include "attributes.hpp"

#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <cstring>

namespace nfcap {
namespace {

using detail::be16_attr;
using detail::be32_attr;
using detail::fixed;

std::string_view nul_terminated(std::span<const std::byte> value) {
    const auto* chars = reinterpret_cast<const char*>(value.data()); // byte-to-char view
    return {chars, strnlen(chars, value.size())};
}

ByteReader packet_header(std::span<const std::byte> value) {
    // struct nfqnl_msg_packet_hdr { __be32 packet_id; __be16 hw_protocol; __u8 hook; }
    return fixed(value, 7, "NFQA_PACKET_HDR");
}

std::span<const std::byte> attributes(std::span<const std::byte> record, Packet* p) {
    if (record.size() < 4) {
        throw DecodeError("record of " + std::to_string(record.size()) +
                          " bytes is shorter than the 4-byte nfgenmsg header");
    }
    ByteReader header(record);
    const auto family = static_cast<Family>(header.u8());
    const std::uint8_t version = header.u8();
    if (version != 0) {
        throw DecodeError("unsupported nfnetlink version " + std::to_string(version));
    }
    const std::uint16_t queue = header.be16();
    if (p != nullptr) {
        p->family = family;
        p->resource_id = queue;
    }
    return record.subspan(4);
}

} // namespace

std::uint32_t nfqueue_packet_id(std::span<const std::byte> record) {
    std::optional<std::uint32_t> id;
    detail::for_each_attribute(attributes(record, nullptr),
                               [&id](std::uint16_t type, std::span<const std::byte> value) {
                                   if (type == NFQA_PACKET_HDR) {
                                       id = packet_header(value).be32();
                                   }
                               });
    if (!id) {
        throw DecodeError("NFQUEUE packet without NFQA_PACKET_HDR");
    }
    return *id;
}

Packet decode_nfqueue(std::span<const std::byte> record) {
    Packet p;
    std::optional<std::uint32_t> cap_len;
    detail::for_each_attribute(attributes(record, &p), [&](std::uint16_t type,
                                                           std::span<const std::byte> value) {
        switch (type) {
        case NFQA_PACKET_HDR: {
            ByteReader r = packet_header(value);
            p.packet_id = r.be32();
            p.hw_protocol = r.be16();
            p.hook = r.u8();
            p.has_packet_header = true;
            break;
        }
        case NFQA_MARK:
            p.mark = be32_attr(value, "NFQA_MARK");
            break;
        case NFQA_TIMESTAMP: {
            ByteReader r = fixed(value, 16, "NFQA_TIMESTAMP");
            const std::uint64_t sec = r.be64();
            const std::uint64_t usec = r.be64();
            if (usec >= 1'000'000 || sec > static_cast<std::uint64_t>(INT64_MAX)) {
                throw DecodeError("NFQA_TIMESTAMP out of range (usec " + std::to_string(usec) +
                                  ")");
            }
            p.timestamp =
                Timestamp{static_cast<std::int64_t>(sec), static_cast<std::uint32_t>(usec * 1000)};
            break;
        }
        case NFQA_IFINDEX_INDEV:
            p.indev = be32_attr(value, "NFQA_IFINDEX_INDEV");
            break;
        case NFQA_IFINDEX_OUTDEV:
            p.outdev = be32_attr(value, "NFQA_IFINDEX_OUTDEV");
            break;
        case NFQA_IFINDEX_PHYSINDEV:
            p.physindev = be32_attr(value, "NFQA_IFINDEX_PHYSINDEV");
            break;
        case NFQA_IFINDEX_PHYSOUTDEV:
            p.physoutdev = be32_attr(value, "NFQA_IFINDEX_PHYSOUTDEV");
            break;
        case NFQA_HWADDR: {
            // struct nfqnl_msg_packet_hw { __be16 hw_addrlen; __u16 _pad; __u8 hw_addr[8]; }
            ByteReader r = fixed(value, 12, "NFQA_HWADDR");
            const std::uint16_t length = r.be16();
            r.skip(2);
            if (length > 8) {
                throw DecodeError("NFQA_HWADDR length " + std::to_string(length) + " exceeds 8");
            }
            HardwareAddress address;
            address.length = static_cast<std::uint8_t>(length);
            const auto bytes = r.bytes(8);
            std::copy(bytes.begin(), bytes.end(), address.bytes.begin());
            p.hwaddr = address;
            break;
        }
        case NFQA_PAYLOAD:
            p.payload = value;
            break;
        case NFQA_CT: {
            Conntrack& ct = p.conntrack ? *p.conntrack : p.conntrack.emplace();
            detail::for_each_attribute(value, [&ct](std::uint16_t t, std::span<const std::byte> v) {
                if (t == CTA_STATUS) {
                    ct.status = be32_attr(v, "CTA_STATUS");
                } else if (t == CTA_MARK) {
                    ct.mark = be32_attr(v, "CTA_MARK");
                } else if (t == CTA_ID) {
                    ct.id = be32_attr(v, "CTA_ID");
                } else if (t == CTA_ZONE) {
                    ct.zone = be16_attr(v, "CTA_ZONE");
                }
            });
            break;
        }
        case NFQA_CT_INFO: {
            Conntrack& ct = p.conntrack ? *p.conntrack : p.conntrack.emplace();
            ct.info = be32_attr(value, "NFQA_CT_INFO");
            break;
        }
        case NFQA_CAP_LEN:
            cap_len = be32_attr(value, "NFQA_CAP_LEN");
            break;
        case NFQA_SKB_INFO:
            p.skb_info = be32_attr(value, "NFQA_SKB_INFO");
            break;
        case NFQA_UID:
            p.uid = be32_attr(value, "NFQA_UID");
            break;
        case NFQA_GID:
            p.gid = be32_attr(value, "NFQA_GID");
            break;
        case NFQA_SECCTX:
            p.secctx = nul_terminated(value);
            break;
        case NFQA_VLAN: {
            Vlan vlan;
            detail::for_each_attribute(value,
                                       [&vlan](std::uint16_t t, std::span<const std::byte> v) {
                                           if (t == NFQA_VLAN_PROTO) {
                                               vlan.proto = be16_attr(v, "NFQA_VLAN_PROTO");
                                           } else if (t == NFQA_VLAN_TCI) {
                                               vlan.tci = be16_attr(v, "NFQA_VLAN_TCI");
                                           }
                                       });
            p.vlan = vlan;
            break;
        }
        case NFQA_L2HDR:
            p.hwheader = value;
            break;
        case NFQA_PRIORITY:
            p.priority = be32_attr(value, "NFQA_PRIORITY");
            break;
        default:
            break; // NFQA_EXP, NFQA_VERDICT_HDR (never sent by the kernel), newer attributes
        }
    });
    if (!p.has_packet_header) {
        throw DecodeError("NFQUEUE packet without NFQA_PACKET_HDR");
    }
    // NFQA_CAP_LEN is present only when the copy range cut the packet; it is the true length.
    p.original_length = std::max(static_cast<std::uint32_t>(p.payload.size()), cap_len.value_or(0));
    return p;
}

} // namespace nfcap
