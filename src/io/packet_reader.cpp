#include <nfcap/nflog_decode.hpp>
#include <nfcap/packet_reader.hpp>

#include "netlink_socket.hpp"

#include <poll.h>

#include <algorithm>

namespace nfcap {
namespace {

using Clock = std::chrono::steady_clock;

class Ignore final : public RecordHandler {
  public:
    void on_record(std::span<const std::byte>, Timestamp) override {}
    bool wants_records() const override { return false; }
};

// Waits until `fd` is readable or `left` has passed (at most `cap` milliseconds at a time).
void wait_readable(int fd, Clock::duration left, int cap) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    if (cap >= 0) {
        ms = std::min<std::int64_t>(ms, cap);
    }
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::clamp<std::int64_t>(ms, 0, 1 << 30)));
}

template <class Fill>
std::optional<RetainedPacket> next_from(std::deque<RetainedPacket>& ready, int fd,
                                        std::chrono::milliseconds timeout, Fill fill,
                                        const std::function<int()>& cap) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (ready.empty()) {
            fill();
        }
        if (!ready.empty()) {
            RetainedPacket packet = std::move(ready.front());
            ready.pop_front();
            return packet;
        }
        const auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero()) {
            return std::nullopt;
        }
        wait_readable(fd, left, cap ? cap() : -1);
    }
}

} // namespace

QueueReader::QueueReader(QueueConfig config, InterfaceNames* names) : names_(names) {
    source_ = std::make_unique<QueueSource>(
        config, Verdict{}, [this](const Packet& p) -> std::optional<Decision> {
            ready_.emplace_back(p, names_, p.timestamp.value_or(detail::wall_clock()));
            return hold_packet;
        });
}

std::optional<RetainedPacket> QueueReader::next(std::chrono::milliseconds timeout) {
    Ignore ignore;
    return next_from(
        ready_, source_->fd(), timeout, [&] { source_->receive(ignore); },
        [this] { return source_->next_deadline_ms(); }); // deadlines are checked in receive()
}

class LogReader::Collector final : public RecordHandler {
  public:
    explicit Collector(LogReader& reader) : reader_(reader) {}
    void on_record(std::span<const std::byte> record, Timestamp received) override {
        try {
            const Packet p = decode_nflog(record);
            reader_.ready_.emplace_back(p, reader_.names_, p.timestamp.value_or(received));
        } catch (const DecodeError&) {
            ++reader_.damaged_;
        }
    }

  private:
    LogReader& reader_;
};

LogReader::LogReader(NflogConfig config, InterfaceNames* names)
    : names_(names), source_(std::move(config)) {}

std::optional<RetainedPacket> LogReader::next(std::chrono::milliseconds timeout) {
    Collector collect(*this);
    return next_from(ready_, source_.fd(), timeout, [&] { source_.receive(collect); }, {});
}

} // namespace nfcap
