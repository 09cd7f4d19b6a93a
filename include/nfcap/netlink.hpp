#pragma once
// Splitting a datagram of netlink messages into the netfilter records nfcap reads. Pure.

#include <nfcap/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace nfcap {

enum class RecordKind { nflog, nfqueue };

// What the kernel copies of each packet (NFULNL_COPY_*, NFQNL_COPY_*): nothing but the
// metadata (none and meta send the same records), or the packet too, up to the copy range.
enum class CopyMode : std::uint8_t { none, meta, packet };

// The copy range the kernel applies when `asked` bytes of each packet are asked for: NFLOG
// keeps at most 65535, NFQUEUE at most 65531 (one netlink attribute, 4 bytes of it its
// header); 0 asks for the most. The one place nfcap clamps a copy range.
std::uint32_t kernel_copy_range(RecordKind kind, std::uint32_t asked);

// Walks the netlink messages of one datagram (as received from the kernel, or as stored in a
// LINKTYPE_NETLINK record) and yields the NFLOG and NFQUEUE packet messages' payloads
// (nfgenmsg + attributes); every other message (acknowledgements, NLMSG_DONE, verdicts,
// configuration) is skipped. next() throws DecodeError when a message header does not fit.
//
// DatagramExtent::cut is for a LINKTYPE_NETLINK record that a recording cut short (its captured
// length below its original length): the message the cut falls in is the last one, and a
// packet message is yielded as far as it goes, with original_length() its payload's length
// before the cut (0 for every whole message). A cut inside a message header still throws.
enum class DatagramExtent { whole, cut };

class NetlinkWalker {
  public:
    explicit NetlinkWalker(std::span<const std::byte> datagram,
                           DatagramExtent extent = DatagramExtent::whole)
        : data_(datagram), extent_(extent) {}
    bool next(RecordKind& kind, std::span<const std::byte>& record);
    std::uint32_t original_length() const { return original_length_; }

  private:
    std::span<const std::byte> data_;
    DatagramExtent extent_;
    std::size_t offset_ = 0;
    std::uint32_t original_length_ = 0;
};

} // namespace nfcap
