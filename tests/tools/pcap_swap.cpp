// nfcap_pcap_swap: makes test fixtures out of classic pcap files.
//
//   nfcap_pcap_swap IN.pcap OUT.pcap                  byte-swap the whole file
//   nfcap_pcap_swap --corrupt-tlv N IN.pcap OUT.pcap  record N (1-based): 2nd TLV runs past the end
//   nfcap_pcap_swap --truncate-last IN.pcap OUT.pcap  drop the file's last 10 bytes
//
// Swapping writes the file in the byte order opposite to the one it is in (normally host order,
// so a little-endian recording becomes a big-endian one): the file header, every record header,
// and for LINKTYPE_NFLOG (239) each record's TLV headers, because the TLV length and type are
// stored in the writer's host order. The 4-byte NFLOG header (res_id is big-endian) and the TLV
// values are left alone. The TLV walk stops exactly where libpcap's reader stops when it swaps
// them back (non-zero NFLOG version, a TLV shorter than its header, a TLV running past the
// captured or original length), so swapping twice gives back the input byte for byte.
//
// Standalone on purpose (no nfcap libraries). Exit status: 0 success, 1 failure, 2 bad usage.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::uint32_t k_magic_usec = 0xa1b2c3d4;
constexpr std::uint32_t k_magic_nsec = 0xa1b23c4d;
constexpr std::size_t k_file_header_size = 24;
constexpr std::size_t k_record_header_size = 16;
constexpr std::uint32_t k_linktype_nflog = 239;
constexpr std::uint32_t k_linktype_mask = 0x03ffffff; // upper bits carry FCS information
constexpr std::size_t k_nflog_header_size = 4;
constexpr std::size_t k_tlv_header_size = 4;
constexpr std::size_t k_truncate_bytes = 10;

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class Order { little, big };

Order opposite(Order o) {
    return o == Order::little ? Order::big : Order::little;
}

// Bounds-checked access to fixed-width fields in a chosen byte order.
class Bytes {
  public:
    explicit Bytes(std::vector<std::uint8_t>& data) : data_(data) {}

    std::size_t size() const { return data_.size(); }

    std::uint32_t get(std::size_t offset, std::size_t width, Order order) const {
        check(offset, width);
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < width; ++i) {
            const std::size_t idx = order == Order::big ? offset + i : offset + width - 1 - i;
            v = (v << 8) | data_[idx];
        }
        return v;
    }

    void put(std::size_t offset, std::size_t width, Order order, std::uint32_t v) {
        check(offset, width);
        for (std::size_t i = 0; i < width; ++i) {
            const std::size_t idx = order == Order::little ? offset + i : offset + width - 1 - i;
            data_[idx] = static_cast<std::uint8_t>(v & 0xffU);
            v >>= 8;
        }
    }

    // Rewrites one field from byte order `from` into the opposite order.
    void swap_field(std::size_t offset, std::size_t width, Order from) {
        put(offset, width, opposite(from), get(offset, width, from));
    }

  private:
    void check(std::size_t offset, std::size_t width) const {
        if (offset > data_.size() || width > data_.size() - offset) {
            throw std::runtime_error("field at offset " + std::to_string(offset) +
                                     " runs past the end of the file");
        }
    }

    std::vector<std::uint8_t>& data_;
};

struct FileHeader {
    Order order;
    std::uint32_t linktype;
};

FileHeader read_file_header(const Bytes& b) {
    if (b.size() < k_file_header_size) {
        throw std::runtime_error("too short for a pcap file header");
    }
    for (Order o : {Order::little, Order::big}) {
        const std::uint32_t magic = b.get(0, 4, o);
        if (magic == k_magic_usec || magic == k_magic_nsec) {
            return {o, b.get(20, 4, o) & k_linktype_mask};
        }
    }
    throw std::runtime_error("not a classic pcap file (unknown magic number)");
}

struct Record {
    std::size_t data_offset; // first byte after the record header
    std::uint32_t caplen;
    std::uint32_t origlen;
};

// All records of a well-formed file; throws if a record runs past the end of the file.
std::vector<Record> read_records(const Bytes& b, Order order) {
    std::vector<Record> records;
    std::size_t offset = k_file_header_size;
    while (offset < b.size()) {
        if (b.size() - offset < k_record_header_size) {
            throw std::runtime_error("record " + std::to_string(records.size() + 1) +
                                     ": header cut short at the end of the file");
        }
        const std::uint32_t caplen = b.get(offset + 8, 4, order);
        const std::uint32_t origlen = b.get(offset + 12, 4, order);
        const std::size_t data = offset + k_record_header_size;
        if (caplen > b.size() - data) {
            throw std::runtime_error("record " + std::to_string(records.size() + 1) +
                                     ": data cut short at the end of the file");
        }
        records.push_back({data, caplen, origlen});
        offset = data + caplen;
    }
    return records;
}

// Offsets of the TLV headers of one NFLOG record, walked the way libpcap's reader walks them.
// `order` is the byte order the TLV headers are currently in.
std::vector<std::size_t> nflog_tlv_offsets(const Bytes& b, const Record& r, Order order) {
    std::vector<std::size_t> offsets;
    const std::size_t usable = std::min(r.caplen, r.origlen);
    if (usable < k_nflog_header_size || b.get(r.data_offset + 1, 1, order) != 0) {
        return offsets; // no room for TLVs, or an NFLOG version libpcap does not swap
    }
    std::size_t pos = k_nflog_header_size;
    while (usable - pos >= k_tlv_header_size) {
        offsets.push_back(r.data_offset + pos);
        const std::size_t wire_length = b.get(r.data_offset + pos, 2, order);
        const std::size_t stride = (wire_length + 3) & ~std::size_t{3};
        if (stride < k_tlv_header_size || stride > usable - pos) {
            break;
        }
        pos += stride;
    }
    return offsets;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot open " + path);
    }
    std::vector<std::uint8_t> data((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
    if (in.bad()) {
        throw std::runtime_error("cannot read " + path);
    }
    return data;
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& data,
                std::size_t length) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) {
        throw std::runtime_error("cannot create " + path);
    }
    for (std::size_t i = 0; i < length; ++i) {
        out.put(static_cast<char>(data[i]));
    }
    out.flush();
    if (!out) {
        throw std::runtime_error("cannot write " + path);
    }
}

void swap_file(std::vector<std::uint8_t>& data) {
    Bytes b(data);
    const FileHeader h = read_file_header(b);
    const std::vector<Record> records = read_records(b, h.order);
    // magic, version major, version minor, thiszone, sigfigs, snaplen, linktype
    static constexpr std::size_t header_fields[][2] = {{0, 4},  {4, 2},  {6, 2}, {8, 4},
                                                       {12, 4}, {16, 4}, {20, 4}};
    for (const auto& f : header_fields) {
        b.swap_field(f[0], f[1], h.order);
    }
    for (const Record& r : records) {
        if (h.linktype == k_linktype_nflog) {
            for (std::size_t tlv : nflog_tlv_offsets(b, r, h.order)) {
                b.swap_field(tlv, 2, h.order);     // length
                b.swap_field(tlv + 2, 2, h.order); // type
            }
        }
        const std::size_t rh = r.data_offset - k_record_header_size;
        for (std::size_t field = 0; field < 4; ++field) { // ts_sec, ts_frac, caplen, origlen
            b.swap_field(rh + 4 * field, 4, h.order);
        }
    }
}

void corrupt_tlv(std::vector<std::uint8_t>& data, std::size_t record_number) {
    Bytes b(data);
    const FileHeader h = read_file_header(b);
    if (h.linktype != k_linktype_nflog) {
        throw std::runtime_error("--corrupt-tlv needs a LINKTYPE_NFLOG (239) file, this one is " +
                                 std::to_string(h.linktype));
    }
    const std::vector<Record> records = read_records(b, h.order);
    if (record_number > records.size()) {
        throw std::runtime_error("record " + std::to_string(record_number) +
                                 " asked for, the file has " + std::to_string(records.size()));
    }
    const Record& r = records[record_number - 1];
    const std::vector<std::size_t> tlvs = nflog_tlv_offsets(b, r, h.order);
    if (tlvs.size() < 2) {
        throw std::runtime_error("record " + std::to_string(record_number) +
                                 " has fewer than two TLVs");
    }
    // A length 4 bytes beyond what is left of the record (capped at the u16 maximum).
    const std::size_t left = r.data_offset + r.caplen - tlvs[1];
    const std::size_t bad_length = std::min<std::size_t>(left + 4, 0xffff);
    if (bad_length <= left) {
        throw std::runtime_error("record too long to corrupt with a u16 TLV length");
    }
    b.put(tlvs[1], 2, h.order, static_cast<std::uint32_t>(bad_length));
}

void truncate_last(std::vector<std::uint8_t>& data) {
    Bytes b(data);
    const FileHeader h = read_file_header(b);
    const std::vector<Record> records = read_records(b, h.order);
    if (records.empty() || records.back().caplen < k_truncate_bytes) {
        throw std::runtime_error("--truncate-last needs a last record with at least " +
                                 std::to_string(k_truncate_bytes) + " bytes of data");
    }
}

int run(const std::vector<std::string_view>& args) {
    enum class Mode { swap, corrupt_tlv, truncate_last };
    Mode mode = Mode::swap;
    std::size_t record_number = 0;
    std::size_t first_path = 0;
    if (!args.empty() && args[0] == "--corrupt-tlv") {
        mode = Mode::corrupt_tlv;
        if (args.size() != 4) {
            throw UsageError("--corrupt-tlv takes N IN OUT");
        }
        const std::string n(args[1]);
        std::size_t used = 0;
        unsigned long value = 0;
        try {
            value = std::stoul(n, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != n.size() || value == 0 || n[0] == '-' || n[0] == '+') {
            throw UsageError("N must be a record number from 1, got '" + n + "'");
        }
        record_number = value;
        first_path = 2;
    } else if (!args.empty() && args[0] == "--truncate-last") {
        mode = Mode::truncate_last;
        if (args.size() != 3) {
            throw UsageError("--truncate-last takes IN OUT");
        }
        first_path = 1;
    } else if (args.size() != 2 || args[0].substr(0, 1) == "-") {
        throw UsageError("expected IN.pcap OUT.pcap");
    }
    const std::string in_path(args[first_path]);
    const std::string out_path(args[first_path + 1]);

    std::vector<std::uint8_t> data = read_file(in_path);
    std::size_t length = data.size();
    switch (mode) {
    case Mode::swap:
        swap_file(data);
        break;
    case Mode::corrupt_tlv:
        corrupt_tlv(data, record_number);
        break;
    case Mode::truncate_last:
        truncate_last(data);
        length -= k_truncate_bytes;
        break;
    }
    write_file(out_path, data, length);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    try {
        return run(args);
    } catch (const UsageError& e) {
        std::fprintf(stderr,
                     "nfcap_pcap_swap: %s (usage: nfcap_pcap_swap [--corrupt-tlv N | "
                     "--truncate-last] IN.pcap OUT.pcap)\n",
                     e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nfcap_pcap_swap: %s\n", e.what());
        return 1;
    }
}
