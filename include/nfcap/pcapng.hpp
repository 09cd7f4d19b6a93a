#pragma once
// pcapng block encoder. Every function appends one complete block to a caller-owned buffer and
// fills both block-length fields from what it actually wrote. Blocks are written in host byte
// order (the Section Header Block's byte-order magic tells readers which). Timestamps are in
// nanoseconds: every interface block written here carries if_tsresol = 9.
//
// The encoder refuses (throws EncodeError, leaving the buffer as it was) what a reader could not
// read back: an option longer than 65535 bytes, a block longer than 2^32 - 1 bytes.

#include <nfcap/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace nfcap {

// Default-initialises what it constructs without arguments: growing a buffer by a block's size
// leaves the new bytes as they are instead of zero-filling them first, since every block is
// written whole right after (its padding explicitly). A zero-fill of every block was 2 % of a
// busy recorder's time.
template <typename T> struct UninitialisedAllocator : std::allocator<T> {
    template <typename U> struct rebind { using other = UninitialisedAllocator<U>; };
    UninitialisedAllocator() = default;
    template <typename U>
    UninitialisedAllocator(const UninitialisedAllocator<U>& /*other*/) noexcept {} // NOLINT
    template <typename U> void construct(U* at) noexcept { ::new (static_cast<void*>(at)) U; }
    template <typename U, typename... Args> void construct(U* at, Args&&... args) {
        ::new (static_cast<void*>(at)) U(std::forward<Args>(args)...);
    }
};

using ByteBuffer = std::vector<std::byte, UninitialisedAllocator<std::byte>>;

class EncodeError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// LINKTYPE_* values from the tcpdump.org link-layer header type registry.
enum class LinkType : std::uint16_t {
    raw = 101,        // LINKTYPE_RAW: the packet starts with an IPv4 or IPv6 header
    nflog = 239,      // LINKTYPE_NFLOG: nfgenmsg + NFULA_* TLVs, as the kernel sent them
    netlink = 253,    // LINKTYPE_NETLINK: whole netlink messages
    linux_sll2 = 276, // LINKTYPE_LINUX_SLL2: 20-byte Linux cooked header v2
};

// "LINUX_SLL2", "RAW", "NFLOG", "NETLINK".
std::string_view link_type_name(LinkType type);

// Direction bits of epb_flags (pcapng spec, section 4.3.1).
enum class EpbDirection : std::uint32_t { unknown = 0, inbound = 1, outbound = 2 };

struct SectionHeader {
    std::string_view user_application; // shb_userappl, e.g. "nfcap 0.1.0"
    std::string_view hardware;         // shb_hardware, omitted when empty
    std::string_view os;               // shb_os, omitted when empty
};

struct InterfaceDescription {
    LinkType link_type = LinkType::linux_sll2;
    std::uint32_t snaplen = 0;    // 0 means no limit
    std::string_view name;        // if_name, e.g. "nflog:123"
    std::string_view description; // if_description, omitted when empty
    std::string_view os;          // if_os, omitted when empty
};

struct EnhancedPacket {
    std::uint32_t interface_id = 0;
    Timestamp timestamp;
    // The captured bytes are link_header followed by payload (either may be empty), so a
    // cooked header never has to be copied in front of the payload first.
    std::span<const std::byte> link_header;
    std::span<const std::byte> payload;
    std::uint32_t original_length = 0;      // including the link header
    std::optional<EpbDirection> direction;  // epb_flags
    std::optional<std::uint64_t> dropcount; // epb_dropcount
    std::optional<std::uint64_t> packet_id; // epb_packetid
    std::string_view comment;               // opt_comment, omitted when empty
};

struct InterfaceStatistics {
    std::uint32_t interface_id = 0;
    Timestamp timestamp;
    std::optional<Timestamp> start_time;          // isb_starttime
    std::optional<Timestamp> end_time;            // isb_endtime
    std::optional<std::uint64_t> received;        // isb_ifrecv
    std::optional<std::uint64_t> dropped;         // isb_ifdrop
    std::optional<std::uint64_t> filter_accepted; // isb_filteraccept
    std::optional<std::uint64_t> os_dropped;      // isb_osdrop
    std::optional<std::uint64_t> delivered;       // isb_usrdeliv
    std::string_view comment;                     // opt_comment, omitted when empty
};

void append_section_header(ByteBuffer& out, const SectionHeader& shb);
void append_interface_description(ByteBuffer& out, const InterfaceDescription& idb);
void append_enhanced_packet(ByteBuffer& out, const EnhancedPacket& epb);
void append_interface_statistics(ByteBuffer& out, const InterfaceStatistics& isb);

// Classic pcap, libpcap's own format as dumpcap -P writes it, for the tools that read nothing
// else: one link type for the whole file, microsecond timestamps, host byte order, no options
// (so no comments, interfaces or statistics).
void append_pcap_header(ByteBuffer& out, LinkType link_type, std::uint32_t snaplen);
// One record; its captured bytes are link_header then payload. Throws EncodeError for a time
// classic pcap cannot hold (before 1970 or after 2106) or a record longer than 2^32 - 1 bytes.
void append_pcap_record(ByteBuffer& out, Timestamp time, std::span<const std::byte> link_header,
                        std::span<const std::byte> payload, std::uint32_t original_length);

} // namespace nfcap
