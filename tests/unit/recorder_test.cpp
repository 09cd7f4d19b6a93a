// The recorder's bookkeeping when output fails, records never reach it, or are lost.
#include "nflog_message.hpp"

#include <nfcap/nfqueue_decode.hpp>
#include <nfcap/recorder.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <pcap/pcap.h>

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace {

std::vector<std::byte> nflog_record(std::uint16_t group, std::uint32_t seq) {
    nfcap::test::NflogMessage m(group, 2);
    m.packet_header(0x0800, 1)
        .timestamp(1700000000, seq)
        .u32(NFULA_SEQ, seq)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(300, 1500));
    return m.copy();
}

// Takes `room` bytes, then fails every write the way a full disk does.
class FullSink final : public nfcap::Sink {
  public:
    explicit FullSink(std::size_t room) : room_(room) {}
    void write(std::span<const std::byte> bytes) override {
        ++writes;
        if (bytes.size() > room_) {
            throw nfcap::WriteError("cannot write to full: No space left on device");
        }
        room_ -= bytes.size();
        data.insert(data.end(), bytes.begin(), bytes.end());
    }
    nfcap::SinkKind kind() const override { return nfcap::SinkKind::file; }
    const std::string& name() const override { return name_; }
    nfcap::ByteBuffer data;
    int writes = 0;

  private:
    std::size_t room_;
    std::string name_ = "full";
};

struct TempFile {
    TempFile() {
        char templ[] = "/tmp/nfcap-recorder-XXXXXX";
        const int fd = ::mkstemp(templ);
        ::close(fd);
        path = templ;
    }
    ~TempFile() { ::unlink(path.c_str()); }
    std::string path;
};

} // namespace

TEST(Recorder, FailedOutputIsKeptCountedAndNeverThrown) {
    FullSink sink(4096);
    nfcap::Recorder recorder(sink, {}, nullptr, [](const std::string&) {});
    recorder.add_nflog_group(4, true);
    std::uint32_t seq = 0;
    for (; seq < 3; ++seq) {
        recorder.record(nflog_record(4, seq), nfcap::Timestamp{1, 0});
    }
    recorder.flush(); // fits
    EXPECT_FALSE(recorder.output_failed());
    EXPECT_EQ(recorder.delivered(), 3U);
    for (; seq < 30; ++seq) {
        recorder.record(nflog_record(4, seq), nfcap::Timestamp{1, 0});
    }
    EXPECT_NO_THROW(recorder.flush()); // does not fit: the output fails
    ASSERT_TRUE(recorder.output_failed());
    EXPECT_EQ(*recorder.output_error(), "cannot write to full: No space left on device");
    EXPECT_EQ(recorder.failed(), 27U);
    const int writes = sink.writes;
    for (; seq < 40; ++seq) {
        recorder.record(nflog_record(4, seq), nfcap::Timestamp{1, 0});
    }
    recorder.finish({}, {1, 0}); // no statistics block goes out either
    EXPECT_EQ(sink.writes, writes) << "nothing is written once the output failed";
    EXPECT_EQ(recorder.failed(), 37U);
    EXPECT_EQ(recorder.delivered(), 3U);
    EXPECT_EQ(recorder.written(), 40U);
}

TEST(Recorder, SkippedRecordsAreNotWrittenAndLeaveNoGap) {
    nfcap::MemorySink sink;
    nfcap::Recorder recorder(sink, {}, nullptr, [](const std::string&) {});
    recorder.add_nflog_group(4, true);
    for (std::uint32_t seq = 0; seq < 10; ++seq) {
        recorder.record(nflog_record(4, seq), nfcap::Timestamp{1, 0});
    }
    recorder.skip(nfcap::RecordKind::nflog, 4, 5); // 10..14 never reached the writer
    recorder.record(nflog_record(4, 15), nfcap::Timestamp{1, 0});
    const auto& c = recorder.interfaces().at(0);
    EXPECT_EQ(c.not_written, 5U);
    EXPECT_EQ(c.lost, 0U);
    recorder.record(nflog_record(4, 20), nfcap::Timestamp{1, 0}); // the kernel lost 16..19
    EXPECT_EQ(c.lost, 4U);
    EXPECT_EQ(c.not_written, 5U);
    EXPECT_EQ(c.received, 12U);
}

// A real file on a real limit: the file that failed part-way is cut back to its last whole
// flush, and libpcap reads every packet of it without an error.
TEST(Recorder, FileThatFailedReadsBackWhole) {
    TempFile file;
    std::uint64_t delivered = 0;
    {
        auto sink = nfcap::open_output(file.path);
        nfcap::Recorder recorder(*sink, {}, nullptr, [](const std::string&) {});
        recorder.add_nflog_group(4, true);
        rlimit saved{};
        ::getrlimit(RLIMIT_FSIZE, &saved);
        auto* previous = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = saved;
        limit.rlim_cur = 20000;
        ::setrlimit(RLIMIT_FSIZE, &limit);
        for (std::uint32_t seq = 0; seq < 200 && !recorder.output_failed(); ++seq) {
            recorder.record(nflog_record(4, seq), nfcap::Timestamp{1, 0});
            if (seq % 7 == 6) {
                recorder.flush(); // flushes of 7 records: the limit falls inside one
            }
        }
        recorder.finish({}, {1, 0});
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, previous);
        ASSERT_TRUE(recorder.output_failed());
        EXPECT_NE(recorder.output_error()->find("File too large"), std::string::npos);
        delivered = recorder.delivered();
        EXPECT_GT(delivered, 0U);
    }
    std::array<char, PCAP_ERRBUF_SIZE> error{};
    pcap_t* pcap = pcap_open_offline(file.path.c_str(), error.data());
    ASSERT_NE(pcap, nullptr) << error.data();
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    std::uint64_t packets = 0;
    int rc = 0;
    while ((rc = pcap_next_ex(pcap, &header, &data)) == 1) {
        ++packets;
    }
    EXPECT_EQ(rc, PCAP_ERROR_BREAK) << pcap_geterr(pcap); // the end, not a truncated block
    pcap_close(pcap);
    EXPECT_EQ(packets, delivered);
}

namespace {

std::string text_of(const nfcap::ByteBuffer& bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

} // namespace

// A live capture's statistics block says how many records were lost and whether that count is
// exact (isb_ifdrop plus its comment).
TEST(Recorder, StatisticsSayWhetherTheLossIsExact) {
    nfcap::MemorySink sink;
    nfcap::Recorder recorder(sink, {}, nullptr, [](const std::string&) {});
    recorder.add_nflog_group(4, true);
    for (std::uint32_t seq = 0; seq < 10; ++seq) {
        recorder.record(nflog_record(4, seq), nfcap::Timestamp{1, 0});
    }
    recorder.record(nflog_record(4, 15), nfcap::Timestamp{1, 0}); // 10..14 lost
    nfcap::InterfaceCounters& c = *recorder.find(nfcap::RecordKind::nflog, 4);
    EXPECT_EQ(c.total_lost(), 5U);
    EXPECT_EQ(nfcap::loss_statement(c), "5 lost (5 in sequence gaps); exact");
    // The live engine adds what only the socket knows: batches dropped after the last record.
    c.unseen = 2;
    c.certainty = nfcap::LossCertainty::at_least;
    c.loss_note = "the socket dropped batches after the last record";
    recorder.finish({}, {2, 0});
    const std::string file = text_of(sink.data);
    EXPECT_NE(file.find("at least 7 lost (5 in sequence gaps, 2 in dropped batches no gap shows); "
                        "a lower bound: the socket dropped batches after the last record"),
              std::string::npos);
}

TEST(Recorder, JsonOutputEndsWithStatistics) {
    nfcap::MemorySink sink;
    nfcap::RecorderOptions options;
    options.format = nfcap::OutputFormat::json;
    nfcap::Recorder recorder(sink, options, nullptr, [](const std::string&) {});
    recorder.add_nflog_group(4, true);
    recorder.record(nflog_record(4, 0), nfcap::Timestamp{1, 0});
    recorder.record(nflog_record(4, 3), nfcap::Timestamp{1, 0});
    recorder.finish({}, {2, 0});
    const std::string out = text_of(sink.data);
    const std::size_t last_line = out.rfind('\n', out.size() - 2);
    ASSERT_NE(last_line, std::string::npos);
    EXPECT_EQ(
        out.substr(last_line + 1),
        "{\"statistics\":{\"interface\":\"nflog:4\",\"received\":2,\"written\":2,"
        "\"filtered\":0,\"malformed\":0,\"truncated\":0,\"lost\":2,\"lost_exact\":true,\"lost_in_"
        "gaps\":2,"
        "\"lost_unseen_at_least\":0,\"not_written\":0,\"loss\":\"2 lost (2 in sequence gaps); "
        "exact\"}}\n");
}

TEST(Recorder, TruncatedRecordsAreWrittenCountedApartAndNamedOnce) {
    nfcap::MemorySink sink;
    nfcap::RecorderOptions options;
    std::vector<std::string> warnings;
    nfcap::Recorder recorder(sink, options, nullptr,
                             [&](const std::string& w) { warnings.push_back(w); });
    const auto whole = nflog_record(7, 0);
    const auto original = static_cast<std::uint32_t>(whole.size());
    const std::span<const std::byte> cut = std::span(whole).first(whole.size() - 100);
    recorder.record(nfcap::RecordKind::nflog, cut, {}, 1, original);
    recorder.record(nfcap::RecordKind::nflog, cut, {}, 2, original);
    recorder.record(nfcap::RecordKind::nflog, whole, {}, 3, original);
    recorder.flush();
    ASSERT_EQ(recorder.interfaces().size(), 1U);
    const auto& c = recorder.interfaces()[0];
    EXPECT_EQ(c.truncated, 2U);
    EXPECT_EQ(c.malformed, 0U);
    EXPECT_EQ(c.written, 3U);
    ASSERT_EQ(warnings.size(), 1U) << "one line for the first, the rest counted";
    EXPECT_NE(warnings[0].find("record 1 (nflog:7) is truncated: the recording holds " +
                               std::to_string(cut.size()) + " of its " + std::to_string(original) +
                               " bytes"),
              std::string::npos)
        << warnings[0];
    const std::string text(reinterpret_cast<const char*>(sink.data.data()), sink.data.size());
    EXPECT_NE(
        text.find(" truncated=" + std::to_string(cut.size()) + "/" + std::to_string(original)),
        std::string::npos);
}

namespace {

// An NFQUEUE packet record (nfgenmsg + attributes) for packet `id` of `queue`.
std::vector<std::byte> nfqueue_record(std::uint16_t queue, std::uint32_t id) {
    nfcap::test::NflogMessage m(queue, 2); // the same nfgenmsg; NFQA_* attributes below
    nfqnl_msg_packet_hdr header{};
    header.packet_id = htonl(id);
    header.hw_protocol = htons(0x0800);
    header.hook = 1;
    m.raw(NFQA_PACKET_HDR, &header, sizeof header);
    const auto payload = nfcap::test::ipv4_udp(100, 128);
    m.raw(NFQA_PAYLOAD, payload.data(), payload.size());
    return m.copy();
}

std::vector<std::string> lines_of(const nfcap::ByteBuffer& data) {
    std::vector<std::string> lines;
    std::string line;
    for (const std::byte b : data) {
        if (b == std::byte{'\n'}) {
            lines.push_back(line);
            line.clear();
        } else {
            line.push_back(static_cast<char>(b));
        }
    }
    return lines;
}

bool has(const std::string& line, const std::string& part) {
    return line.find(part) != std::string::npos;
}

} // namespace

TEST(RecorderDecisions, EachRecordWaitsForItsDecisionAndARewriteAddsTheNewBytes) {
    nfcap::MemorySink sink;
    nfcap::RecorderOptions options;
    options.format = nfcap::OutputFormat::text;
    std::vector<std::string> warnings;
    nfcap::Recorder recorder(sink, options, nullptr,
                             [&](const std::string& w) { warnings.push_back(w); });
    recorder.add_source(nfcap::RecordKind::nfqueue, 5, true);
    recorder.record_decisions(5);
    const nfcap::Timestamp t{1700000000, 0};

    nfcap::PacketDecision at_once;
    at_once.queue = 5;
    at_once.id = 1;
    recorder.on_decision(at_once, t); // decided in the receive call: before its record
    recorder.record(nfcap::RecordKind::nfqueue, nfqueue_record(5, 1), t);
    recorder.record(nfcap::RecordKind::nfqueue, nfqueue_record(5, 2), t); // held
    recorder.record(nfcap::RecordKind::nfqueue, nfqueue_record(5, 3), t); // held
    recorder.record(nfcap::RecordKind::nfqueue, nfqueue_record(5, 4), t); // never decided
    recorder.flush();
    EXPECT_EQ(lines_of(sink.data).size(), 1U);

    nfcap::PacketDecision drop;
    drop.queue = 5;
    drop.id = 3;
    drop.verdict.kind = nfcap::VerdictKind::drop;
    drop.by = nfcap::DecidedBy::later;
    recorder.on_decision(drop, t);
    const auto bytes = nfcap::test::ipv4_udp(110, 138);
    std::vector<std::byte> new_bytes;
    for (const auto b : bytes) {
        new_bytes.push_back(static_cast<std::byte>(b));
    }
    nfcap::PacketDecision rewrite;
    rewrite.queue = 5;
    rewrite.id = 2;
    rewrite.verdict.mark = 0x33;
    rewrite.by = nfcap::DecidedBy::deadline;
    rewrite.payload = new_bytes;
    recorder.on_decision(rewrite, t);
    recorder.finish(t, t);

    const auto lines = lines_of(sink.data);
    ASSERT_EQ(lines.size(), 5U) << sink.data.size();
    EXPECT_TRUE(has(lines[0], "id=1 verdict=accept") && !has(lines[0], "decided=")) << lines[0];
    EXPECT_TRUE(has(lines[1], "id=3 verdict=drop decided=later")) << lines[1];
    EXPECT_TRUE(has(lines[2], "id=2 verdict=accept setmark=0x33/0xffffffff decided=deadline "
                              "payload=replaced"))
        << lines[2];
    EXPECT_TRUE(has(lines[3], "id=2 verdict=accept setmark=0x33/0xffffffff decided=deadline "
                              "payload=new"))
        << lines[3];
    EXPECT_TRUE(has(lines[4], "id=4 verdict=unknown")) << lines[4];
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_TRUE(has(warnings[0], "1 held packet written without a decision")) << warnings[0];
}

TEST(RecorderDecisions, ADecodedPacketIsWrittenAsItsRecordWouldBe) {
    // on_packet (a source that decoded the record already) writes what record() writes, and a
    // held packet's record outlives the buffer it was decoded from.
    const nfcap::Timestamp t{1700000000, 0};
    const auto run = [&](bool decoded) {
        nfcap::MemorySink sink;
        nfcap::RecorderOptions options;
        options.format = nfcap::OutputFormat::text;
        nfcap::Recorder recorder(sink, options, nullptr, [](const std::string&) {});
        recorder.add_source(nfcap::RecordKind::nfqueue, 5, true);
        recorder.record_decisions(5);
        for (std::uint32_t id = 1; id <= 3; ++id) {
            auto raw = nfqueue_record(5, id);
            if (decoded) {
                const nfcap::Packet packet = nfcap::decode_nfqueue(raw);
                recorder.on_packet(nfcap::RecordKind::nfqueue, packet, raw, t);
            } else {
                recorder.record(nfcap::RecordKind::nfqueue, raw, t);
            }
            std::fill(raw.begin(), raw.end(), std::byte{0xee}); // the receive buffer, reused
        }
        for (const std::uint32_t id : {3U, 1U, 2U}) {
            nfcap::PacketDecision d;
            d.queue = 5;
            d.id = id;
            d.by = nfcap::DecidedBy::later;
            recorder.on_decision(d, t);
        }
        recorder.finish(t, t);
        return lines_of(sink.data);
    };
    const auto by_record = run(false);
    const auto by_packet = run(true);
    ASSERT_EQ(by_packet.size(), 3U);
    EXPECT_EQ(by_packet, by_record);
    EXPECT_TRUE(has(by_packet[0], "id=3 verdict=accept decided=later")) << by_packet[0];
}

TEST(RecordRouter, HandsADecodedPacketToItsQueuesHandler) {
    struct Counting final : nfcap::RecordHandler {
        void on_record(std::span<const std::byte>, nfcap::Timestamp) override { ++records; }
        void on_packet(nfcap::RecordKind, const nfcap::Packet& p, std::span<const std::byte>,
                       nfcap::Timestamp) override {
            ids.push_back(*p.packet_id);
        }
        int records = 0;
        std::vector<std::uint32_t> ids;
    };
    struct Plain final : nfcap::RecordHandler { // no on_packet: the record comes undecoded
        void on_record(std::span<const std::byte>, nfcap::Timestamp) override { ++records; }
        int records = 0;
    };
    Counting five;
    Plain six;
    nfcap::RecordRouter router;
    router.route(5, five);
    router.route(6, six);
    const auto a = nfqueue_record(5, 7);
    const auto b = nfqueue_record(6, 8);
    const auto c = nfqueue_record(9, 9);
    router.on_packet(nfcap::RecordKind::nfqueue, nfcap::decode_nfqueue(a), a, {});
    router.on_packet(nfcap::RecordKind::nfqueue, nfcap::decode_nfqueue(b), b, {});
    router.on_packet(nfcap::RecordKind::nfqueue, nfcap::decode_nfqueue(c), c, {});
    EXPECT_EQ(five.ids, std::vector<std::uint32_t>{7});
    EXPECT_EQ(five.records, 0);
    EXPECT_EQ(six.records, 1);
    EXPECT_EQ(router.unrouted(), 1U);
}

namespace {

// Remembers the time each name was asked for.
class TimedNames final : public nfcap::InterfaceNames {
  public:
    std::string_view name(std::uint32_t, nfcap::Timestamp when) override {
        asked.push_back(when);
        return "eth7";
    }
    std::vector<nfcap::Timestamp> asked;
};

} // namespace

TEST(Recorder, NamesAreResolvedAtTheKernelTimeElseTheReceiveTime) {
    TimedNames names;
    nfcap::MemorySink sink;
    nfcap::RecorderOptions options;
    options.format = nfcap::OutputFormat::text;
    nfcap::Recorder recorder(sink, options, &names, [](const std::string&) {});
    const nfcap::Timestamp received{20, 7};

    nfcap::test::NflogMessage stamped(9, 2);
    stamped.packet_header(0x0800, 1)
        .u32(NFULA_IFINDEX_INDEV, 4)
        .timestamp(10, 5)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(28, 28));
    recorder.record(stamped.record(), received);
    ASSERT_EQ(names.asked.size(), 1U);
    EXPECT_EQ(names.asked[0], (nfcap::Timestamp{10, 5000}));

    nfcap::test::NflogMessage unstamped(9, 2);
    unstamped.packet_header(0x0800, 3)
        .u32(NFULA_IFINDEX_OUTDEV, 6)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(28, 28));
    recorder.record(unstamped.record(), received);
    ASSERT_EQ(names.asked.size(), 2U);
    EXPECT_EQ(names.asked[1], received);
    recorder.finish(received, received);
    const auto lines = lines_of(sink.data);
    ASSERT_EQ(lines.size(), 2U);
    EXPECT_TRUE(has(lines[0], " in=eth7/4 ")) << lines[0];
    EXPECT_TRUE(has(lines[1], " out=eth7/6 ")) << lines[1];
}
