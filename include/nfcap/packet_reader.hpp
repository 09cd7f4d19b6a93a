#pragma once
// Pull style: packets one at a time, from the program's own loop, instead of callbacks.
//
//   nfcap::QueueReader reader(config);
//   while (auto packet = reader.next(std::chrono::seconds(1))) {
//       reader.source().decide(*packet->packet().packet_id, nfcap::Verdict{}); // now or later
//   }
//
// Each packet comes as a RetainedPacket (it owns its bytes). A QueueReader's packets are held
// until the program decides them (QueueSource::decide, from any thread; the fallback verdict
// and deadline of QueueConfig apply as for any held packet). The fd (fd()) works with poll,
// epoll and asyncio: when it is readable, next(0) returns what arrived. A program that reads
// the socket itself hands each datagram to the source's feed().

#include <nfcap/comment.hpp>
#include <nfcap/nflog_source.hpp>
#include <nfcap/queue_source.hpp>
#include <nfcap/retained_packet.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>

namespace nfcap {

// A live source as a range: `for (const RetainedPacket& p : reader.packets(idle))` takes
// packets as they come, and ends once none came for `idle` (or the program breaks out).
template <class Reader> class PacketStream {
  public:
    PacketStream(Reader& reader, std::chrono::milliseconds idle) : reader_(reader), idle_(idle) {}

    class iterator {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = RetainedPacket;
        using difference_type = std::ptrdiff_t;
        using pointer = const RetainedPacket*;
        using reference = const RetainedPacket&;

        iterator() = default;
        explicit iterator(PacketStream* stream) : stream_(stream) { ++*this; }
        reference operator*() const { return *stream_->current_; }
        pointer operator->() const { return &*stream_->current_; }
        iterator& operator++() {
            stream_->current_ = stream_->reader_.next(stream_->idle_);
            if (!stream_->current_) {
                stream_ = nullptr; // the end
            }
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& a, const iterator& b) {
            return a.stream_ == b.stream_;
        }

      private:
        PacketStream* stream_ = nullptr;
    };

    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }

  private:
    Reader& reader_;
    std::chrono::milliseconds idle_;
    std::optional<RetainedPacket> current_;
};

class QueueReader {
  public:
    // Binds the queue (QueueSource's errors). With `names`, every packet carries its interface
    // names as of its time; `names` must outlive the reader and is used on the reading thread.
    explicit QueueReader(QueueConfig config, InterfaceNames* names = nullptr);
    QueueReader(const QueueReader&) = delete;
    QueueReader& operator=(const QueueReader&) = delete;

    // The next packet, waiting at most `timeout` (zero: only what is there now); nullopt when
    // none came. Gives the fallback to packets held past their deadline meanwhile.
    std::optional<RetainedPacket> next(std::chrono::milliseconds timeout);
    // Packets received and not yet returned by next().
    std::size_t ready() const { return ready_.size(); }
    // The packets as a range that ends after `idle` without one (see PacketStream).
    PacketStream<QueueReader> packets(std::chrono::milliseconds idle) { return {*this, idle}; }

    int fd() const { return source_->fd(); }
    QueueSource& source() { return *source_; }

  private:
    InterfaceNames* names_;
    std::deque<RetainedPacket> ready_;
    std::unique_ptr<QueueSource> source_;
};

class LogReader {
  public:
    // Binds the groups (NflogSource's errors); `names` as for QueueReader.
    explicit LogReader(NflogConfig config, InterfaceNames* names = nullptr);
    LogReader(const LogReader&) = delete;
    LogReader& operator=(const LogReader&) = delete;

    // The next record, waiting at most `timeout`; nullopt when none came. A record that cannot
    // be decoded is skipped and counted (damaged()).
    std::optional<RetainedPacket> next(std::chrono::milliseconds timeout);
    std::size_t ready() const { return ready_.size(); }
    std::uint64_t damaged() const { return damaged_; }
    PacketStream<LogReader> packets(std::chrono::milliseconds idle) { return {*this, idle}; }

    int fd() const { return source_.fd(); }
    NflogSource& source() { return source_; }

  private:
    class Collector;
    InterfaceNames* names_;
    std::deque<RetainedPacket> ready_;
    std::uint64_t damaged_ = 0;
    NflogSource source_;
};

} // namespace nfcap
