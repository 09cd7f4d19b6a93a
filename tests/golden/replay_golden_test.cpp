// Golden tests: committed recordings made on a real kernel (samples/recordings, see the README
// there) replay to byte-stable pcapng (samples/golden), which libpcap then reads back.
// Set NFCAP_UPDATE_GOLDEN=1 to rewrite the expected files after an intended format change.
#include <nfcap/recorder.hpp>
#include <nfcap/replay_source.hpp>
#include <nfcap/sink.hpp>

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

const std::string recordings = std::string(NFCAP_SAMPLES_DIR) + "/recordings/";
const std::string golden = std::string(NFCAP_SAMPLES_DIR) + "/golden/";

struct Replayed {
    nfcap::ByteBuffer bytes;
    std::uint64_t written = 0;
    std::uint64_t malformed = 0;
    std::vector<std::string> warnings;
};

Replayed replay(const std::string& recording, nfcap::LinkType type,
                const std::string& filter = {}) {
    nfcap::ReplaySource source(recordings + recording);
    nfcap::MemorySink sink;
    nfcap::RecorderOptions options;
    options.link_type = type;
    options.filter = filter;
    options.fallback_source = nfcap::TimestampSource::file;
    Replayed result;
    nfcap::Recorder recorder(sink, options, nullptr,
                             [&](const std::string& w) { result.warnings.push_back(w); });
    const nfcap::ReplaySpan span = nfcap::replay_into(source, recorder, nullptr);
    recorder.finish(span.first, span.last);
    result.bytes = sink.data;
    result.written = recorder.written();
    result.malformed = recorder.malformed_without_group();
    for (const auto& c : recorder.interfaces()) {
        result.malformed += c.malformed;
    }
    return result;
}

nfcap::ByteBuffer read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> chars((std::istreambuf_iterator<char>(in)), {});
    nfcap::ByteBuffer bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

void write_file(const std::string& path, const nfcap::ByteBuffer& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

// Compares with the committed expected file (or rewrites it when asked to).
void expect_golden(const Replayed& r, const std::string& name) {
    const std::string path = golden + name;
    if (std::getenv("NFCAP_UPDATE_GOLDEN") != nullptr) {
        write_file(path, r.bytes);
    }
    const nfcap::ByteBuffer expected = read_file(path);
    ASSERT_FALSE(expected.empty()) << path << " is missing";
    ASSERT_EQ(r.bytes.size(), expected.size()) << name;
    EXPECT_TRUE(r.bytes == expected) << name << " differs from the committed golden file";
}

struct Read {
    int datalink = -1;
    std::vector<std::vector<std::byte>> packets;
    std::vector<std::uint32_t> lengths;
};

// An independent reader: libpcap, at nanosecond precision.
Read read_with_libpcap(const std::string& path) {
    std::array<char, PCAP_ERRBUF_SIZE> error{};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                        error.data());
    EXPECT_NE(p, nullptr) << error.data();
    Read read;
    if (p == nullptr) {
        return read;
    }
    read.datalink = pcap_datalink(p);
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc = 0;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        const auto* bytes = reinterpret_cast<const std::byte*>(data);
        read.packets.emplace_back(bytes, bytes + h->caplen);
        read.lengths.push_back(h->len);
    }
    EXPECT_EQ(rc, PCAP_ERROR_BREAK) << "libpcap stopped early: " << pcap_geterr(p);
    pcap_close(p);
    return read;
}

std::uint64_t records_in(const std::string& recording) {
    return read_with_libpcap(recordings + recording).packets.size();
}

} // namespace

TEST(Golden, TcpdumpRecordingReplaysToStableSll2) {
    const Replayed r = replay("nflog-tcpdump.pcap", nfcap::LinkType::linux_sll2);
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_EQ(r.written, records_in("nflog-tcpdump.pcap"));
    expect_golden(r, "nflog-tcpdump.sll2.pcapng");
    const Read back = read_with_libpcap(golden + "nflog-tcpdump.sll2.pcapng");
    EXPECT_EQ(back.datalink, DLT_LINUX_SLL2);
    EXPECT_EQ(back.packets.size(), r.written);
}

TEST(Golden, TcpdumpRecordingReplaysToStableRaw) {
    const Replayed r = replay("nflog-tcpdump.pcap", nfcap::LinkType::raw);
    EXPECT_EQ(r.written, records_in("nflog-tcpdump.pcap")) << "the recording is all IP";
    expect_golden(r, "nflog-tcpdump.raw.pcapng");
    EXPECT_EQ(read_with_libpcap(golden + "nflog-tcpdump.raw.pcapng").datalink, DLT_RAW);
}

TEST(Golden, NflogLinkTypeKeepsEveryRecordVerbatim) {
    const Replayed r = replay("nflog-tcpdump.pcap", nfcap::LinkType::nflog);
    expect_golden(r, "nflog-tcpdump.nflog.pcapng");
    const Read in = read_with_libpcap(recordings + "nflog-tcpdump.pcap");
    const Read out = read_with_libpcap(golden + "nflog-tcpdump.nflog.pcapng");
    EXPECT_EQ(out.datalink, DLT_NFLOG);
    ASSERT_EQ(in.packets.size(), out.packets.size());
    for (std::size_t i = 0; i < in.packets.size(); ++i) {
        EXPECT_TRUE(in.packets[i] == out.packets[i]) << "record " << i + 1;
    }
}

TEST(Golden, BigEndianRecordingGivesTheSameOutput) {
    const Replayed little = replay("nflog-tcpdump.pcap", nfcap::LinkType::linux_sll2);
    const Replayed big = replay("nflog-tcpdump-be.pcap", nfcap::LinkType::linux_sll2);
    EXPECT_TRUE(little.bytes == big.bytes);
}

TEST(Golden, DumpcapPcapngRecordingReplays) {
    const Replayed r = replay("nflog-dumpcap.pcapng", nfcap::LinkType::linux_sll2);
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_EQ(r.written, records_in("nflog-dumpcap.pcapng"));
    expect_golden(r, "nflog-dumpcap.sll2.pcapng");
}

TEST(Golden, FamiliesComeOutInSll2AndRawCountsTheRest) {
    const Replayed sll2 = replay("nflog-families.pcap", nfcap::LinkType::linux_sll2);
    EXPECT_EQ(sll2.written, records_in("nflog-families.pcap"));
    expect_golden(sll2, "nflog-families.sll2.pcapng");
    const Replayed raw = replay("nflog-families.pcap", nfcap::LinkType::raw);
    EXPECT_LT(raw.written, sll2.written) << "ARP records cannot be LINKTYPE_RAW";
    ASSERT_EQ(raw.warnings.size(), 1U) << "one warning per source, not per record";
    EXPECT_NE(raw.warnings[0].find("cannot carry"), std::string::npos) << raw.warnings[0];
}

TEST(Golden, MalformedRecordsAreSkippedNamedAndTheRestConverted) {
    const Replayed r = replay("nflog-malformed.pcap", nfcap::LinkType::linux_sll2);
    EXPECT_EQ(r.malformed, 2U) << "one bad TLV, one record cut short";
    ASSERT_EQ(r.warnings.size(), 2U);
    EXPECT_NE(r.warnings[0].find("record 3"), std::string::npos) << r.warnings[0];
    EXPECT_NE(r.warnings[1].find("damaged"), std::string::npos) << r.warnings[1];
    const std::uint64_t good = records_in("nflog-tcpdump.pcap") - 2;
    EXPECT_EQ(r.written, good);
    expect_golden(r, "nflog-malformed.sll2.pcapng");
    EXPECT_EQ(read_with_libpcap(golden + "nflog-malformed.sll2.pcapng").packets.size(), good);
}

TEST(Golden, FilterRunsOnReplayToo) {
    const Replayed all = replay("nflog-tcpdump.pcap", nfcap::LinkType::linux_sll2);
    const Replayed v6 = replay("nflog-tcpdump.pcap", nfcap::LinkType::linux_sll2, "ip6");
    const Replayed v4 = replay("nflog-tcpdump.pcap", nfcap::LinkType::linux_sll2, "ip");
    EXPECT_GT(v6.written, 0U);
    EXPECT_GT(v4.written, 0U);
    EXPECT_EQ(v4.written + v6.written, all.written);
}

TEST(Golden, NfqueueSessionRecordedWithRecordNetlinkReplays) {
    // 12 queued packets and the verdicts nfcap sent, as --record-netlink saved them.
    const Replayed r = replay("nfqueue-session.netlink.pcapng", nfcap::LinkType::linux_sll2);
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_EQ(r.written, 12U) << "verdict messages are not records";
    expect_golden(r, "nfqueue-session.sll2.pcapng");
    const Read back = read_with_libpcap(golden + "nfqueue-session.sll2.pcapng");
    EXPECT_EQ(back.packets.size(), 12U);
    for (std::size_t i = 0; i < back.packets.size(); ++i) {
        EXPECT_LE(back.packets[i].size(), 20U + 128U) << "-s 128 was the copy range";
    }
}
