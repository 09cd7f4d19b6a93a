#pragma once
// Turns decoded records into pcapng Enhanced Packet Blocks in one link type, with the metadata
// in epb_flags, epb_dropcount, epb_packetid and the comment. Pure: no clock, no I/O.

#include <nfcap/comment.hpp>
#include <nfcap/packet.hpp>
#include <nfcap/pcapng.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nfcap {

enum class EncodeResult { written, unsupported, skipped };

// Everything about one record that does not come from the record itself.
struct RecordContext {
    std::uint32_t interface_id = 0;
    std::string_view source;                 // "nflog:123", first token of the comment
    const InterfaceNamesOf* names = nullptr; // resolved (resolve_names); null: bare indices
    Timestamp fallback_time;                 // used when the kernel gave no timestamp
    TimestampSource fallback_source = TimestampSource::receive;
    std::optional<std::uint64_t> dropcount; // records lost just before this one
    std::optional<std::uint64_t> packet_id; // overrides the record's NFQUEUE packet id
    std::string_view verdict;               // NFQUEUE: see CommentContext::verdict
    // Nonzero: the caller vouches that the record's comment keys up to the conntrack ones
    // (source, hook, family, prefix, interfaces and their names, uid, gid, marks, hardware
    // type, address and header, VLAN, conntrack) and its ethertype (Packet::hw_protocol) are
    // those of every record it gave the same value; the encoder then writes them, and the
    // LINKTYPE_LINUX_SLL2 header made of them, once and reuses them. The Recorder gives the
    // records of one repeated decode one value. 0: no such promise.
    std::uint64_t repeats = 0;
};

// The size of the LINKTYPE_LINUX_SLL2 header written in front of each payload.
inline constexpr std::size_t sll2_header_size = 20;

// Builds the LINKTYPE_LINUX_SLL2 header for a record: protocol, interface index (the input
// device for inbound hooks, the output device for outbound ones), ARPHRD type, packet type
// (outgoing, or host/broadcast/multicast from the link-layer header), source hardware address.
std::array<std::byte, sll2_header_size> sll2_header(const Packet& packet);

class RecordEncoder {
  public:
    // `snaplen` bounds the network-layer bytes kept from each payload.
    RecordEncoder(LinkType link_type, std::uint32_t snaplen);

    LinkType link_type() const { return link_type_; }

    // The snaplen for every Interface Description Block of the file (the same everywhere).
    std::uint32_t interface_snaplen() const;

    // Appends one EPB for `packet` to `out`. `record` is the raw record the packet was decoded
    // from (kept verbatim for LINKTYPE_NFLOG). Returns unsupported, writing nothing, when the
    // link type cannot carry the record (LINKTYPE_RAW and a record that is not IP).
    EncodeResult append(ByteBuffer& out, const Packet& packet, std::span<const std::byte> record,
                        const RecordContext& context);
    // The same packet as a classic pcap record (append_pcap_record): the same bytes and time,
    // without the comment or any other metadata.
    EncodeResult append_pcap(ByteBuffer& out, const Packet& packet,
                             std::span<const std::byte> record, const RecordContext& context);

    // The record's metadata comment with every key (text and JSON output); append() leaves out
    // what the record states elsewhere (CommentContext::leave_out_implied). Valid until the
    // next call.
    std::string_view comment(const Packet& packet, const RecordContext& context,
                             bool leave_out_implied = false);
    // What the comment of `packet` is written from (also the JSON output's keys).
    CommentContext comment_context(const Packet& packet, const RecordContext& context,
                                   bool leave_out_implied = false) const;
    // The record's time: the kernel's when it gave one, else the context's fallback.
    static Timestamp time(const Packet& packet, const RecordContext& context) {
        return packet.timestamp ? *packet.timestamp : context.fallback_time;
    }

  private:
    EncodeResult encode(ByteBuffer& out, const Packet& packet, std::span<const std::byte> record,
                        const RecordContext& context, bool pcap);
    [[gnu::noinline]] EncodeResult encode_cut(ByteBuffer& out, const Packet& packet,
                                              std::span<const std::byte> record,
                                              const RecordContext& context, bool pcap);

    LinkType link_type_;
    std::uint32_t snaplen_;
    std::string comment_; // scratch for every record: no allocation once it has grown
    // What the first head_size_ bytes of comment_ were written for (RecordContext::repeats,
    // with what else decides them); head_repeats_ 0: for nothing to reuse.
    std::size_t head_size_ = 0;
    std::uint64_t head_repeats_ = 0;
    bool head_implied_ = false;
    unsigned head_version_ = 0;
    // The LINKTYPE_LINUX_SLL2 header of the records the head was written for: it is built from
    // the metadata the head promises (protocol, interfaces, hardware type, address and header,
    // hook), so it holds while the head does, and so does the hook's direction. False: build
    // them again.
    std::array<std::byte, sll2_header_size> cooked_{};
    Direction cooked_direction_ = Direction::unknown; // the hook's, which it was built for
    bool cooked_fresh_ = false;
};

} // namespace nfcap
