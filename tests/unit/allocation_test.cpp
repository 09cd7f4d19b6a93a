// The hot path allocates nothing per record: once buffers have grown, decoding, filtering,
// encoding and handing a batch to the sink must not touch the heap. Counted with a replaced
// global operator new that only counts while a test asks it to.
#include "nflog_message.hpp"

#include <nfcap/recorder.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};

// Accepts bytes and keeps nothing, so the sink itself never allocates.
class CountingSink final : public nfcap::Sink {
  public:
    void write(std::span<const std::byte> bytes) override { total += bytes.size(); }
    nfcap::SinkKind kind() const override { return nfcap::SinkKind::stream; }
    const std::string& name() const override { return name_; }
    std::size_t total = 0;

  private:
    std::string name_ = "counting";
};

} // namespace

void* operator new(std::size_t size) {
    if (counting.load(std::memory_order_relaxed)) {
        allocations.fetch_add(1, std::memory_order_relaxed);
    }
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}

void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

TEST(HotPath, RecordingAllocatesNothingPerRecord) {
    nfcap::test::NflogMessage m(4, 2);
    m.packet_header(0x0800, 1)
        .u32(NFULA_IFINDEX_INDEV, 1)
        .prefix("DROP \"odd\" prefix")
        .u32(NFULA_UID, 1000)
        .u32(NFULA_MARK, 0x10)
        .hwaddr({1, 2, 3, 4, 5, 6})
        .timestamp(1700000000, 1)
        .u32(NFULA_SEQ, 0)
        .u32(NFULA_SEQ_GLOBAL, 1)
        .bytes(NFULA_PAYLOAD, nfcap::test::ipv4_udp(300, 1500));
    auto record = m.copy();

    CountingSink sink;
    nfcap::RecorderOptions options;
    options.filter = "udp or icmp"; // the filter runs on the hot path too
    nfcap::Recorder recorder(sink, options, nullptr, [](const std::string&) {});
    recorder.add_nflog_group(4, true);

    // Sequence number at a fixed offset near the end of the record, bumped per record so the
    // sequence check sees no gap. Find it by value once.
    const auto seq_offset = [&] {
        for (std::size_t i = 4; i + 8 <= record.size(); ++i) {
            std::uint16_t length = 0;
            std::uint16_t type = 0;
            std::memcpy(&length, record.data() + i, 2);
            std::memcpy(&type, record.data() + i + 2, 2);
            if (length == 8 && type == NFULA_SEQ) {
                return i + 4;
            }
        }
        return std::size_t{0};
    }();
    ASSERT_NE(seq_offset, 0U);
    const auto feed = [&](std::uint32_t seq) {
        const std::uint32_t be = htonl(seq);
        std::memcpy(record.data() + seq_offset, &be, 4);
        recorder.record(record, nfcap::Timestamp{1, 0});
    };

    std::uint32_t seq = 0;
    for (; seq < 200; ++seq) { // warm-up: buffers grow to their working size (one batch)
        feed(seq);
    }
    recorder.flush();
    counting = true;
    delete new int(1); // the counter itself works
    EXPECT_EQ(allocations.exchange(0), 1U);
    for (int batch = 0; batch < 50; ++batch) {
        for (int i = 0; i < 200; ++i) {
            feed(seq++);
        }
        recorder.flush();
    }
    counting = false;
    EXPECT_EQ(allocations.load(), 0U) << "allocations during 10,000 records";
    EXPECT_EQ(recorder.written(), seq);
    EXPECT_EQ(recorder.interfaces().at(0).lost, 0U);
    EXPECT_GT(sink.total, 10000U * 300U);
}
