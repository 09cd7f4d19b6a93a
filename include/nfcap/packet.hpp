#pragma once
// One netfilter record as a value: the payload view plus everything the kernel said about it.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>

namespace nfcap {

// A record (netlink message, TLV, file record) that does not follow its format.
class DecodeError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Protocol family of the record (nfgenmsg.nfgen_family): it decides how `hook` is named.
enum class Family : std::uint8_t {
    unspec = 0,
    inet = 1,
    ipv4 = 2,
    arp = 3,
    netdev = 5,
    bridge = 7,
    ipv6 = 10,
};

// Which way the packet was going at the hook, as far as the hook tells.
enum class Direction : std::uint8_t { unknown, inbound, outbound };

// Where the record's timestamp came from.
enum class TimestampSource : std::uint8_t { kernel, receive, file };

struct Timestamp {
    std::int64_t sec = 0;
    std::uint32_t nsec = 0;
    friend bool operator==(const Timestamp&, const Timestamp&) = default;
    // Chronological for normalised values (nsec below 10^9).
    friend auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

struct HardwareAddress {
    std::array<std::byte, 8> bytes{};
    std::uint8_t length = 0; // valid bytes in `bytes`, at most 8
    std::span<const std::byte> view() const { return {bytes.data(), length}; }
};

struct Vlan {
    std::uint16_t proto = 0; // TPID, host order
    std::uint16_t tci = 0;   // host order
};

// Conntrack facts the kernel attached (NFULA_CT / NFULA_CT_INFO, NFQA_CT / NFQA_CT_INFO).
struct Conntrack {
    std::optional<std::uint32_t> info; // enum ip_conntrack_info
    std::optional<std::uint32_t> status;
    std::optional<std::uint32_t> mark;
    std::optional<std::uint32_t> id;
    std::optional<std::uint16_t> zone;
};

// A record as a recording cut it: its captured length is below its original length (a file
// whose records were cut to a snaplen after the fact, by editcap -s or an old libpcap).
struct RecordCut {
    std::uint32_t captured = 0; // record bytes the recording holds
    std::uint32_t original = 0; // the record's length before the cut
};

// A decoded record. Spans point into the buffer the record was decoded from: a Packet lives
// only as long as that buffer (one receive batch, or one replayed record).
struct Packet {
    Family family = Family::unspec;
    std::uint16_t resource_id = 0; // NFLOG group or NFQUEUE queue number
    std::uint16_t hw_protocol = 0; // ethertype, host order (0 when the kernel gave none)
    std::uint8_t hook = 0;
    bool has_packet_header = false;

    std::span<const std::byte> payload; // network-layer bytes as copied by the kernel
    // The record carried no payload attribute at all: the queue or group copies metadata only
    // (CopyMode none or meta). Never set for a record a recording cut (see `cut`).
    bool metadata_only = false;
    std::uint32_t original_length = 0; // network-layer length before the copy range cut it

    std::optional<Timestamp> timestamp; // kernel timestamp, absent on output paths
    std::optional<std::uint32_t> mark;
    std::optional<std::uint32_t> indev, outdev, physindev, physoutdev;
    std::optional<std::uint32_t> uid, gid;
    std::optional<std::uint32_t> seq, seq_global;
    std::optional<HardwareAddress> hwaddr;
    std::optional<std::uint16_t> hwtype;
    std::span<const std::byte> hwheader; // NFULA_HWHEADER (the link-layer header), may be empty
    std::optional<Vlan> vlan;
    std::optional<Conntrack> conntrack;
    std::string_view prefix; // NFULA_PREFIX without its terminating NUL
    bool has_prefix = false;

    // NFQUEUE only.
    std::optional<std::uint32_t> packet_id; // NFQA_PACKET_HDR: the id a verdict names
    std::optional<std::uint32_t> skb_info;  // NFQA_SKB_INFO flags (checksum and GSO state)
    std::optional<std::uint32_t> priority;  // NFQA_PRIORITY (skb->priority)
    std::string_view secctx;                // NFQA_SECCTX without its terminating NUL

    // Replay only: the record itself was cut by the recording. Every whole attribute before the
    // cut is decoded, a cut payload is kept as far as it goes, attributes after it are missing.
    std::optional<RecordCut> cut;

    bool truncated() const { return original_length > payload.size(); }
};

// The direction a hook implies: prerouting/input/ingress are inbound, output/postrouting
// outbound; forward is both, so it is unknown.
Direction hook_direction(Family family, std::uint8_t hook);

// The hook's name in the family's own terms ("input", "postrouting", "brouting", ...), or an
// empty view for a hook number the family does not define.
std::string_view hook_name(Family family, std::uint8_t hook);

// "ipv4", "ipv6", "arp", "bridge", "netdev", "inet", or empty for an unknown family.
std::string_view family_name(Family family);

} // namespace nfcap
