#pragma once
// Splitting a datagram of netlink messages into the netfilter records nfcap reads. Pure.

#include <nfcap/byte_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace nfcap {

enum class RecordKind { nflog, nfqueue };

// Walks the netlink messages of one datagram (as received from the kernel, or as stored in a
// LINKTYPE_NETLINK record) and yields the NFLOG and NFQUEUE packet messages' payloads
// (nfgenmsg + attributes); every other message (acknowledgements, NLMSG_DONE, verdicts,
// configuration) is skipped. next() throws DecodeError when a message header does not fit.
class NetlinkWalker {
  public:
    explicit NetlinkWalker(std::span<const std::byte> datagram) : data_(datagram) {}
    bool next(RecordKind& kind, std::span<const std::byte>& record);

  private:
    std::span<const std::byte> data_;
    std::size_t offset_ = 0;
};

} // namespace nfcap
