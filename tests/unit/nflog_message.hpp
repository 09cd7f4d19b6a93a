#pragma once
// Builds NFLOG records for tests with libmnl's own builders, the way the kernel lays them out.

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace nfcap::test {

class NflogMessage {
  public:
    explicit NflogMessage(std::uint16_t group = 123, std::uint8_t family = 2 /* AF_INET */)
        : buffer_(65536 + 4096) {
        nlh_ = mnl_nlmsg_put_header(buffer_.data());
        nlh_->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
        auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(nfgenmsg)));
        nfg->nfgen_family = family;
        nfg->version = NFNETLINK_V0;
        nfg->res_id = htons(group);
    }

    NflogMessage& packet_header(std::uint16_t hw_protocol, std::uint8_t hook) {
        nfulnl_msg_packet_hdr h{};
        h.hw_protocol = htons(hw_protocol);
        h.hook = hook;
        mnl_attr_put(nlh_, NFULA_PACKET_HDR, sizeof h, &h);
        return *this;
    }
    NflogMessage& u32(std::uint16_t type, std::uint32_t value) {
        mnl_attr_put_u32(nlh_, type, htonl(value));
        return *this;
    }
    NflogMessage& u16(std::uint16_t type, std::uint16_t value) {
        mnl_attr_put_u16(nlh_, type, htons(value));
        return *this;
    }
    NflogMessage& raw(std::uint16_t type, const void* data, std::size_t size) {
        mnl_attr_put(nlh_, type, size, data);
        return *this;
    }
    NflogMessage& bytes(std::uint16_t type, const std::vector<std::uint8_t>& data) {
        return raw(type, data.data(), data.size());
    }
    NflogMessage& prefix(const std::string& text) {
        mnl_attr_put_strz(nlh_, NFULA_PREFIX, text.c_str());
        return *this;
    }
    NflogMessage& prefix_bytes(const std::string& bytes) { // may hold anything but NUL
        std::string with_nul = bytes;
        with_nul.push_back('\0');
        return raw(NFULA_PREFIX, with_nul.data(), with_nul.size());
    }
    // The attribute types below are NFLOG's by default; NFQUEUE's (NFQA_*) lay the same bytes
    // out, so the builder serves both.
    NflogMessage& timestamp(std::uint64_t sec, std::uint64_t usec,
                            std::uint16_t type = NFULA_TIMESTAMP) {
        nfulnl_msg_packet_timestamp ts{};
        ts.sec = htobe64(sec);
        ts.usec = htobe64(usec);
        return raw(type, &ts, sizeof ts);
    }
    NflogMessage& hwaddr(const std::vector<std::uint8_t>& address,
                         std::uint16_t type = NFULA_HWADDR) {
        nfulnl_msg_packet_hw hw{};
        hw.hw_addrlen = htons(static_cast<std::uint16_t>(address.size()));
        std::memcpy(hw.hw_addr, address.data(), std::min<std::size_t>(address.size(), 8));
        return raw(type, &hw, sizeof hw);
    }
    NflogMessage& vlan(std::uint16_t proto, std::uint16_t tci, std::uint16_t type = NFULA_VLAN) {
        nlattr* nest = mnl_attr_nest_start(nlh_, type);
        mnl_attr_put_u16(nlh_, NFULA_VLAN_PROTO, htons(proto));
        mnl_attr_put_u16(nlh_, NFULA_VLAN_TCI, htons(tci));
        mnl_attr_nest_end(nlh_, nest);
        return *this;
    }
    NflogMessage& conntrack(std::uint32_t status, std::uint32_t mark, std::uint32_t id,
                            std::uint16_t zone, std::uint16_t type = NFULA_CT) {
        nlattr* nest = mnl_attr_nest_start(nlh_, type);
        mnl_attr_put_u32(nlh_, CTA_STATUS, htonl(status));
        mnl_attr_put_u32(nlh_, CTA_MARK, htonl(mark));
        mnl_attr_put_u32(nlh_, CTA_ID, htonl(id));
        mnl_attr_put_u16(nlh_, CTA_ZONE, htons(zone));
        mnl_attr_nest_end(nlh_, nest);
        return *this;
    }

    // nfgenmsg + attributes: the record the decoder takes (and a LINKTYPE_NFLOG record).
    std::span<const std::byte> record() const {
        return {reinterpret_cast<const std::byte*>(buffer_.data()) + sizeof(nlmsghdr),
                nlh_->nlmsg_len - sizeof(nlmsghdr)};
    }
    std::vector<std::byte> copy() const { return {record().begin(), record().end()}; }
    nlmsghdr* header() { return nlh_; }

  private:
    std::vector<char> buffer_;
    nlmsghdr* nlh_;
};

// A minimal IPv4/UDP packet whose header claims `total` bytes; `size` bytes are present.
inline std::vector<std::uint8_t> ipv4_udp(std::size_t size, std::uint16_t total) {
    std::vector<std::uint8_t> p(size, 0xab);
    p[0] = 0x45;
    p[1] = 0;
    p[2] = static_cast<std::uint8_t>(total >> 8);
    p[3] = static_cast<std::uint8_t>(total);
    p[9] = 17;
    return p;
}

inline std::vector<std::uint8_t> ipv6_udp(std::size_t size, std::uint16_t payload_length) {
    std::vector<std::uint8_t> p(size, 0xcd);
    p[0] = 0x60;
    p[4] = static_cast<std::uint8_t>(payload_length >> 8);
    p[5] = static_cast<std::uint8_t>(payload_length);
    p[6] = 17;
    return p;
}

} // namespace nfcap::test
