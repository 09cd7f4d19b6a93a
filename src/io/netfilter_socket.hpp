#pragma once
// What NFLOG and NFQUEUE sockets share: opening and sizing the socket, the clock that stamps a
// receive batch, and handing a datagram's records of one kind to a handler.

#include <nfcap/netlink.hpp>
#include <nfcap/nflog_source.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace nfcap::detail {

// The wall clock, as record timestamps use it.
Timestamp wall_clock();

// A NETLINK_NETFILTER socket with a `receive_buffer`-byte buffer (SO_RCVBUFFORCE, or the
// capped SO_RCVBUF with a warning when that is refused), bound to a kernel-chosen port.
// Throws std::system_error.
int open_netfilter_socket(std::uint32_t receive_buffer, std::vector<std::string>& warnings);

// Makes a duplicate of `fd`, a NETLINK_NETFILTER socket the caller opened (in this or another
// network namespace: a netlink socket stays in the namespace it was made in), sized like
// open_netfilter_socket and bound when it was not. Throws std::invalid_argument naming what
// `fd` is not, or std::system_error.
int adopt_netfilter_socket(int fd, std::uint32_t receive_buffer,
                           std::vector<std::string>& warnings);

// Opens `adopt` (when set) or a new socket, as above.
inline int netfilter_socket(std::optional<int> adopt, std::uint32_t receive_buffer,
                            std::vector<std::string>& warnings) {
    return adopt ? adopt_netfilter_socket(*adopt, receive_buffer, warnings)
                 : open_netfilter_socket(receive_buffer, warnings);
}

// Applies `policy` to the socket (NETLINK_NO_ENOBUFS for OverrunPolicy::disable).
void set_overrun_policy(int fd, OverrunPolicy policy);

// The socket's receive buffer as the kernel counts it (sk_rcvbuf: twice what was asked for).
std::uint64_t receive_buffer_size(int fd);

// Datagrams the kernel could not put into the socket's buffer since it was opened (sk_drops,
// from SO_MEMINFO); nullopt when the kernel does not say.
std::optional<std::uint64_t> socket_drops(int fd);

// Hands `datagram` to handler.on_datagram, then (when the handler wants records) each record of
// kind `wanted` to handler.on_record. Returns false when the datagram's netlink framing is
// damaged (the records before the damage were handed on).
bool dispatch(std::span<const std::byte> datagram, RecordKind wanted, Timestamp time,
              RecordHandler& handler);

} // namespace nfcap::detail
