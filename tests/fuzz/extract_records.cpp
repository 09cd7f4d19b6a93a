// nfcap_fuzz_extract_records: turns recordings into seed inputs for the decoder fuzz targets.
//
//   nfcap_fuzz_extract_records NFLOG_DIR NFQUEUE_DIR RECORDING...
//
// A LINKTYPE_NFLOG recording holds one NFLOG record per packet: each goes to NFLOG_DIR. A
// LINKTYPE_NETLINK recording (--record-netlink) holds a 16-byte cooked header and then whole
// netlink messages: NetlinkWalker picks the NFLOG and NFQUEUE packet messages, whose payloads
// (after the 16-byte nlmsghdr) go to NFLOG_DIR and NFQUEUE_DIR. Other link types are skipped.
// Files are named <recording>-<record>-<message>. Exit status: 0 success, 1 failure.

#include <nfcap/netlink.hpp>
#include <nfcap/packet.hpp>

#include <pcap/pcap.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>

namespace {

constexpr std::size_t netlink_cooked_header = 16;

void write_seed(const std::filesystem::path& path, std::span<const std::byte> bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

// Returns the number of seeds written.
std::size_t extract(const std::filesystem::path& recording, const std::filesystem::path& nflog,
                    const std::filesystem::path& nfqueue) {
    std::array<char, PCAP_ERRBUF_SIZE> error{};
    pcap_t* pcap = pcap_open_offline(recording.c_str(), error.data());
    if (pcap == nullptr) {
        throw std::runtime_error("cannot read " + recording.string() + ": " + error.data());
    }
    const int dlt = pcap_datalink(pcap);
    const std::string stem = recording.filename().string();
    std::size_t seeds = 0;
    std::size_t number = 0;
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    while (pcap_next_ex(pcap, &header, &data) == 1) {
        ++number;
        const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data),
                                               header->caplen);
        const std::string name = stem + "-" + std::to_string(number);
        if (dlt == DLT_NFLOG) {
            write_seed(nflog / (name + "-1"), bytes);
            ++seeds;
        } else if (dlt == DLT_NETLINK && bytes.size() >= netlink_cooked_header) {
            nfcap::NetlinkWalker walker(bytes.subspan(netlink_cooked_header));
            nfcap::RecordKind kind{};
            std::span<const std::byte> message;
            std::size_t index = 0;
            try {
                while (walker.next(kind, message)) {
                    const auto& dir = kind == nfcap::RecordKind::nflog ? nflog : nfqueue;
                    write_seed(dir / (name + "-" + std::to_string(++index)), message);
                    ++seeds;
                }
            } catch (const nfcap::DecodeError&) {
                // a damaged datagram: keep the messages before it
            }
        }
    }
    pcap_close(pcap);
    return seeds;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s NFLOG_DIR NFQUEUE_DIR RECORDING...\n", argv[0]);
        return 1;
    }
    try {
        const std::filesystem::path nflog = argv[1];
        const std::filesystem::path nfqueue = argv[2];
        std::filesystem::create_directories(nflog);
        std::filesystem::create_directories(nfqueue);
        std::size_t seeds = 0;
        for (int i = 3; i < argc; ++i) {
            seeds += extract(argv[i], nflog, nfqueue);
        }
        std::fprintf(stderr, "extract_records: %zu records\n", seeds);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "extract_records: %s\n", e.what());
        return 1;
    }
    return 0;
}
