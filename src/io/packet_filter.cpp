#include <nfcap/packet_filter.hpp>
#include <nfcap/record_encoder.hpp>

#include <pcap/pcap.h>

#include <algorithm>
#include <stdexcept>

namespace nfcap {

struct PacketFilter::Program {
    bpf_program bpf{};
    ~Program() { pcap_freecode(&bpf); }
};

PacketFilter::PacketFilter(const std::string& expression) : program_(std::make_unique<Program>()) {
    constexpr int snaplen = 262144;
    pcap_t* dead = pcap_open_dead(DLT_LINUX_SLL2, snaplen);
    if (dead == nullptr) {
        throw std::runtime_error("libpcap cannot open a filter handle");
    }
    const int rc = pcap_compile(dead, &program_->bpf, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN);
    const std::string error = rc != 0 ? pcap_geterr(dead) : "";
    pcap_close(dead);
    if (rc != 0) {
        throw std::invalid_argument("bad filter expression \"" + expression + "\": " + error);
    }
    scratch_.reserve(65536 + sll2_header_size);
}

PacketFilter::~PacketFilter() = default;

bool PacketFilter::matches(const Packet& packet) {
    const auto header = sll2_header(packet);
    scratch_.assign(header.begin(), header.end());
    scratch_.insert(scratch_.end(), packet.payload.begin(), packet.payload.end());
    pcap_pkthdr h{};
    h.caplen = static_cast<bpf_u_int32>(scratch_.size());
    h.len = static_cast<bpf_u_int32>(sll2_header_size + packet.original_length);
    return pcap_offline_filter(&program_->bpf, &h,
                               reinterpret_cast<const u_char*>(scratch_.data())) != 0;
}

} // namespace nfcap
