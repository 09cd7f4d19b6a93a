// libFuzzer target: the replay path on a whole recording (pcap or pcapng, LINKTYPE_NFLOG or
// LINKTYPE_NETLINK, either byte order). The input becomes a file (a memfd, opened by name the
// way `nfcap -r` opens one) and goes through ReplaySource (nfcap's own pcap/pcapng reader,
// RecordingReader, which must refuse any damage with a message), Recorder and replay_into into a
// MemorySink, then finish(), in one of three settings picked by the input's size modulo 3:
// LINUX_SLL2; RAW with a 64-byte snaplen and a capture filter; NFLOG with a packet limit. (One
// setting per input, not all three: every Recorder and check costs time under ASan, and the
// settings cover each other's code.) Opening may fail with std::runtime_error (not a
// recording nfcap replays); after that nothing may throw. nfcap's output must then pass
// check_pcapng (output_checks), its comments must parse, and libpcap must read back exactly
// the packets written, byte for byte.
#include "output_checks.hpp"

#include <nfcap/recorder.hpp>
#include <nfcap/replay_source.hpp>
#include <nfcap/sink.hpp>

#include <pcap/pcap.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>

namespace {

using nfcap::fuzz::fail;
using nfcap::fuzz::require;

struct Run {
    nfcap::LinkType link_type;
    std::uint32_t snaplen;
    const char* filter;
    std::uint64_t max_packets;
};

constexpr std::array<Run, 3> runs{{{nfcap::LinkType::linux_sll2, 262144, "", 0},
                                   {nfcap::LinkType::raw, 64, "udp or tcp or icmp or icmp6", 0},
                                   {nfcap::LinkType::nflog, 262144, "", 20}}};

// The input as a named file without touching the disk: one memfd for the whole process,
// rewritten for every input and opened through /proc/self/fd.
class InputFile {
  public:
    InputFile() : fd_(memfd_create("nfcap_fuzz_replay", MFD_CLOEXEC)) {
        if (fd_ < 0) {
            fail(std::string("memfd_create: ") + std::strerror(errno));
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~InputFile() { close(fd_); }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    void assign(const std::uint8_t* data, std::size_t size) {
        require(ftruncate(fd_, 0) == 0, "ftruncate on the memfd");
        std::size_t done = 0;
        while (done < size) {
            const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            require(n > 0, "pwrite to the memfd");
            done += static_cast<std::size_t>(n);
        }
    }
    const std::string& path() const { return path_; }

  private:
    int fd_;
    std::string path_;
};

// The DLT_ value libpcap reports for a LINKTYPE_ value (they differ for RAW: DLT_RAW is 12).
int dlt_of(nfcap::LinkType type) {
    switch (type) {
    case nfcap::LinkType::raw:
        return DLT_RAW;
    case nfcap::LinkType::nflog:
        return DLT_NFLOG;
    case nfcap::LinkType::netlink:
        return DLT_NETLINK;
    case nfcap::LinkType::linux_sll2:
        return DLT_LINUX_SLL2;
    }
    return -1;
}

// libpcap must read nfcap's output back: the link type, and every packet's bytes as written.
void read_back(nfcap::ByteBuffer& bytes, const Run& run, const nfcap::fuzz::PcapngContents& c) {
    std::FILE* file = fmemopen(bytes.data(), bytes.size(), "rb");
    require(file != nullptr, "fmemopen");
    std::array<char, PCAP_ERRBUF_SIZE> error{};
    pcap_t* pcap =
        pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, error.data());
    if (pcap == nullptr) {
        std::fclose(file);
        fail(std::string("libpcap cannot open nfcap's output: ") + error.data());
    }
    require(pcap_datalink(pcap) == dlt_of(run.link_type), "libpcap reads another link type");
    std::size_t count = 0;
    for (;;) {
        pcap_pkthdr* header = nullptr;
        const u_char* data = nullptr;
        const int rc = pcap_next_ex(pcap, &header, &data);
        if (rc == PCAP_ERROR_BREAK) {
            break;
        }
        if (rc != 1) {
            const std::string why = pcap_geterr(pcap);
            pcap_close(pcap);
            fail("libpcap fails on packet " + std::to_string(count + 1) +
                 " of nfcap's output: " + why);
        }
        require(count < c.packets, "libpcap reads more packets than nfcap wrote");
        const auto expected = c.data[count];
        require(header->caplen == expected.size() && header->len == c.original_lengths[count] &&
                    std::equal(expected.begin(), expected.end(),
                               reinterpret_cast<const std::byte*>(data)),
                "libpcap reads other bytes than nfcap wrote");
        ++count;
    }
    pcap_close(pcap);
    require(count == c.packets, "libpcap reads fewer packets than nfcap wrote");
}

void replay(const std::string& path, const Run& run) {
    std::unique_ptr<nfcap::ReplaySource> source;
    try {
        source = std::make_unique<nfcap::ReplaySource>(path);
    } catch (const std::runtime_error&) {
        return; // not a recording nfcap replays: refused up front, as documented
    }
    nfcap::MemorySink sink;
    nfcap::RecorderOptions options;
    options.link_type = run.link_type;
    options.snaplen = run.snaplen;
    options.filter = run.filter;
    options.max_packets = run.max_packets;
    options.fallback_source = nfcap::TimestampSource::file;
    nfcap::Recorder recorder(sink, options, nullptr, [](const std::string&) {});
    try {
        const nfcap::ReplaySpan span = nfcap::replay_into(*source, recorder, nullptr);
        recorder.finish(span.first, span.last);
    } catch (const nfcap::EncodeError& e) {
        fail(std::string("replay threw nfcap::EncodeError: ") + e.what());
    } catch (const nfcap::DecodeError& e) {
        fail(std::string("replay threw nfcap::DecodeError: ") + e.what());
    } catch (const std::exception& e) {
        fail(std::string("replay threw: ") + e.what());
    }

    const auto& interfaces = recorder.interfaces();
    const nfcap::fuzz::PcapngContents contents = nfcap::fuzz::check_pcapng(sink.data, true);
    // One IDB per source; LINKTYPE_RAW sources share one (libpcap 1.10 refuses a second raw
    // IDB), and a file with no source still gets one so readers accept it.
    const std::size_t expected_blocks =
        interfaces.empty() ? 1U
                           : (options.link_type == nfcap::LinkType::raw ? 1U : interfaces.size());
    require(contents.link_types.size() == expected_blocks, "one IDB per interface");
    require(std::all_of(contents.link_types.begin(), contents.link_types.end(),
                        [&run](nfcap::LinkType t) { return t == run.link_type; }),
            "an IDB with another link type");
    require(contents.packets == recorder.written(), "EPB count differs from written()");
    require(contents.statistics == (options.link_type == nfcap::LinkType::raw
                                        ? std::min<std::size_t>(interfaces.size(), 1)
                                        : interfaces.size()),
            "one ISB per interface");
    require(run.max_packets == 0 || recorder.written() <= run.max_packets, "packet limit passed");
    for (std::size_t i = 0; i < contents.packets; ++i) {
        std::string_view name = interfaces[contents.packet_interfaces[i]].name;
        if (run.link_type == nfcap::LinkType::raw) { // one shared IDB: the comment names the source
            const std::string_view comment = contents.comments[i];
            const std::string_view first = comment.substr(0, comment.find(' '));
            for (const auto& c : interfaces) {
                name = c.name == first ? std::string_view(c.name) : name;
            }
        }
        nfcap::fuzz::check_comment(contents.comments[i], name);
    }
    read_back(sink.data, run, contents);
}

} // namespace

// ASan defaults for this target (ASAN_OPTIONS still overrides them): clear the shadow of large
// buffers (the Recorder's and the sink's, as they grow) with memset rather than fresh pages,
// which saves an mmap and munmap per execution and changes nothing ASan detects.
extern "C" const char* __asan_default_options() {
    return "clear_shadow_mmap_threshold=1073741824";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static InputFile input;
    input.assign(data, size);
    replay(input.path(), runs[size % runs.size()]);
    return 0;
}
