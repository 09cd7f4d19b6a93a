#pragma once
// A BPF capture filter compiled by libpcap and run in user space. Records are matched as
// LINKTYPE_LINUX_SLL2 packets, so one expression works for IPv4, IPv6 and ARP alike and
// `inbound`/`outbound` follow the hook.

#include <nfcap/packet.hpp>

#include <memory>
#include <string>
#include <vector>

namespace nfcap {

class PacketFilter {
  public:
    // Throws std::invalid_argument with libpcap's message when the expression does not compile.
    explicit PacketFilter(const std::string& expression);
    ~PacketFilter();
    PacketFilter(const PacketFilter&) = delete;
    PacketFilter& operator=(const PacketFilter&) = delete;

    bool matches(const Packet& packet);

  private:
    struct Program;
    std::unique_ptr<Program> program_;
    std::vector<std::byte> scratch_; // cooked header + payload, reused for every record
};

} // namespace nfcap
