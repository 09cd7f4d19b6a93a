#pragma once
// Making a rewritten packet consistent again before it goes back to the kernel with its verdict
// (Decision::payload). The checksums are computed by libnetfilter_queue's own functions.

#include <cstddef>
#include <span>
#include <stdexcept>

namespace nfcap {

// The packet cannot be fixed: not IPv4 or IPv6, or shorter than the headers it announces.
class ChecksumError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

// Sets the IPv4 header checksum (the header's length is its IHL).
void set_ipv4_header_checksum(std::span<std::byte> packet);

// For a whole IPv4 or IPv6 packet (IP header first, as a Packet's payload):
//  - sets the IP length field to the packet's size (IPv4 total length, IPv6 payload length);
//  - for UDP, sets the UDP length to what follows the IP header;
//  - recomputes the TCP or UDP checksum (IPv6: when TCP or UDP follows the fixed header
//    directly), and for IPv4 the header checksum.
// Other transports keep their bytes; only the IP lengths and header checksum change. A fragment
// (IPv4 offset or more-fragments set) gets its IP fields only: its transport checksum covers
// bytes other fragments carry. Throws ChecksumError naming the problem.
void fix_lengths_and_checksums(std::span<std::byte> packet);

} // namespace nfcap
