// The NFQUEUE adapter: the only file of nfcap_core that knows NFQA_* numbers.
#include <nfcap/nfqueue_decode.hpp>

#include "decode_into.hpp"

#include "byte_reader.hpp"

#include "attributes.hpp"
#include "common_attributes.hpp"

#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <cstring>

namespace nfcap {
namespace {

using detail::be16_attr;
using detail::be32_attr;
using detail::fixed;

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

PacketIdAndMark nfqueue_packet_id_and_mark(std::span<const std::byte> record) {
    std::optional<std::uint32_t> id;
    PacketIdAndMark fields;
    detail::for_each_attribute(attributes(record, nullptr),
                               [&](std::uint16_t type, std::span<const std::byte> value) {
                                   if (type == NFQA_PACKET_HDR) {
                                       id = packet_header(value).be32();
                                   } else if (type == NFQA_MARK) {
                                       fields.mark = be32_attr(value, "NFQA_MARK");
                                   }
                               });
    if (!id) {
        throw DecodeError("NFQUEUE packet without NFQA_PACKET_HDR");
    }
    fields.id = *id;
    return fields;
}

void detail::decode_nfqueue_into(Packet& p, std::span<const std::byte> record,
                                 std::uint32_t original_length, RecordLayout* layout) {
    std::optional<std::uint32_t> cap_len;
    std::span<const std::byte> attribute_bytes = attributes(record, &p);
    std::span<const std::byte> cut_payload;
    bool saw_payload = false;
    if (original_length > record.size()) {
        const detail::CutAttribute cut = detail::find_cut(attribute_bytes);
        attribute_bytes = attribute_bytes.first(cut.whole);
        if (cut.type == NFQA_PAYLOAD) {
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
        attribute_bytes, [&](std::uint16_t type, std::span<const std::byte> value) {
            switch (type) {
            case NFQA_PACKET_HDR: {
                ByteReader r = packet_header(value);
                p.packet_id = r.be32();
                p.hw_protocol = r.be16();
                p.hook = r.u8();
                p.has_packet_header = true;
                if (layout != nullptr) {
                    layout->seq = offset(value);
                }
                break;
            }
            case NFQA_MARK:
                p.mark = be32_attr(value, "NFQA_MARK");
                break;
            case NFQA_TIMESTAMP:
                p.timestamp = detail::decode_timestamp(value, "NFQA_TIMESTAMP");
                if (layout != nullptr) {
                    layout->timestamp = offset(value);
                }
                break;
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
            case NFQA_HWADDR:
                p.hwaddr = detail::decode_hwaddr(value, "NFQA_HWADDR");
                break;
            case NFQA_PAYLOAD:
                p.payload = value;
                saw_payload = true;
                break;
            case NFQA_CT:
                detail::decode_conntrack(value, p.conntrack ? *p.conntrack : p.conntrack.emplace());
                break;
            case NFQA_CT_INFO: {
                Conntrack& ct = p.conntrack ? *p.conntrack : p.conntrack.emplace();
                ct.info = be32_attr(value, "NFQA_CT_INFO");
                break;
            }
            case NFQA_CAP_LEN:
                cap_len = be32_attr(value, "NFQA_CAP_LEN");
                if (layout != nullptr) {
                    layout->cap_len = offset(value);
                }
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
                p.secctx = detail::nul_terminated(value);
                break;
            case NFQA_VLAN:
                p.vlan = detail::decode_vlan(value);
                break;
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
    p.metadata_only = !saw_payload && !p.cut;
    if (p.cut && !cut_payload.empty()) {
        p.payload = cut_payload;
    }
    // NFQA_CAP_LEN is present only when the copy range cut the packet; it is the true length.
    p.original_length = std::max(static_cast<std::uint32_t>(p.payload.size()), cap_len.value_or(0));
}

Packet decode_nfqueue(std::span<const std::byte> record, std::uint32_t original_length) {
    Packet p;
    detail::decode_nfqueue_into(p, record, original_length);
    return p;
}

} // namespace nfcap
