// nfcap_set_snaplen: makes test recordings whose records run past the snaplen their header
// declares, as tcpdump and dumpcap write NFLOG recordings (the snaplen bounds the packet copied
// into each record, not the record with its TLVs).
//
//   nfcap_set_snaplen N IN OUT
//
// Rewrites the snaplen of a pcap file header, or of every Interface Description Block of a
// pcapng file (every section, either byte order), and changes nothing else: no record is cut.
//
// Standalone on purpose (no nfcap libraries). Exit status: 0 success, 1 failure, 2 bad usage.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

std::uint32_t get32(const Bytes& b, std::size_t at, bool big) {
    if (at + 4 > b.size()) {
        throw std::runtime_error("file cut short at offset " + std::to_string(at));
    }
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        v = (v << 8U) | b[big ? at + i : at + 3 - i];
    }
    return v;
}

void put32(Bytes& b, std::size_t at, bool big, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) {
        b[big ? at + 3 - i : at + i] = static_cast<std::uint8_t>(v & 0xffU);
        v >>= 8U;
    }
}

// Returns how many snaplen fields were rewritten.
int set_snaplen(Bytes& b, std::uint32_t snaplen) {
    const std::uint32_t magic = get32(b, 0, false);
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d || magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
        put32(b, 16, magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1, snaplen);
        return 1;
    }
    if (magic != 0x0a0d0d0a) {
        throw std::runtime_error("neither pcap nor pcapng");
    }
    int count = 0;
    bool big = false;
    for (std::size_t at = 0; at < b.size();) {
        if (get32(b, at, false) == 0x0a0d0d0a) {
            big = get32(b, at + 8, true) == 0x1a2b3c4d;
        }
        const std::uint32_t type = get32(b, at, big);
        const std::uint32_t length = get32(b, at + 4, big);
        if (length < 12 || length % 4 != 0 || at + length > b.size()) {
            throw std::runtime_error("bad block length at offset " + std::to_string(at));
        }
        if (type == 1) {
            put32(b, at + 12, big, snaplen); // after type, length, link type and reserved
            ++count;
        }
        at += length;
    }
    return count;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: nfcap_set_snaplen N IN OUT\n");
        return 2;
    }
    try {
        const auto snaplen = static_cast<std::uint32_t>(std::stoul(argv[1]));
        std::ifstream in(argv[2], std::ios::binary);
        if (!in) {
            throw std::runtime_error(std::string("cannot read ") + argv[2]);
        }
        Bytes b((std::istreambuf_iterator<char>(in)), {});
        if (set_snaplen(b, snaplen) == 0) {
            throw std::runtime_error("no interface block");
        }
        std::ofstream out(argv[3], std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
        if (!out) {
            throw std::runtime_error(std::string("cannot write ") + argv[3]);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nfcap_set_snaplen: %s\n", e.what());
        return 1;
    }
    return 0;
}
