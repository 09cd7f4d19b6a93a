#include <nfcap/live_capture.hpp>
#include <nfcap/loss.hpp>
#include <nfcap/netlink.hpp>
#include <nfcap/version.hpp>

#include "system_error.hpp"
#include "thread_name.hpp"

#include <malloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace nfcap {
namespace {

using Clock = std::chrono::steady_clock;

// The hand-off queue between receive threads and the writer holds batches whose memory
// (capacity, not just the bytes in use: a vector keeps what it once grew to) adds up to at most
// this much. Only bytes bound it: under load a receive thread wakes often and hands on many
// small batches (measured: up to 3,000 batches of 20-35 packets in a 100,000-packet burst).
constexpr std::size_t max_queued_bytes = 32U << 20U;
constexpr std::size_t max_batches = 1U << 16U;
// A receive thread hands a batch on once it holds this much, so that one receive call that
// empties a full socket buffer (64 MiB) cannot go past the byte cap.
constexpr std::size_t batch_bytes = 1U << 20U;
// Returned batches keep their memory for reuse up to max_free_bytes in all, and a batch that
// once grew beyond kept_batch_capacity always gives its memory back (a full batch is
// batch_bytes plus one datagram: its capacity stays below this). So the queue and the free list
// together never hold more than 40 MiB (peak RSS was 66 MiB when only sizes were counted).
constexpr std::size_t max_free_bytes = 8U << 20U;
constexpr std::size_t kept_batch_capacity = 4U << 20U;
// Once the writer has caught up (the queue is empty at its periodic accounting), the free list
// gives back what it holds beyond this: the memory of the one time the writer fell behind
// (measured: +4 MiB for the rest of a 10 M-record capture, after the page cache's writeback
// slowed its writes) does not stay for the capture's life. Flat out, that costs at most a
// re-growth of a few MiB per flush_interval.
constexpr std::size_t idle_free_bytes = 2U << 20U;
constexpr auto writer_tick = std::chrono::milliseconds(100);
// Under continuous load the hand-off queue may never be empty: the writer flushes at least this
// often anyway, so a file killed at any moment holds everything the writer handled until half
// a second before.
constexpr auto flush_interval = std::chrono::milliseconds(500);
// Once the queue is empty, the writer writes what it holds when its oldest record has waited
// this long (a live view lags by at most this much more), not after every batch: at a paced
// rate a queue hands on a packet or a few per batch, and NFLOG a kernel batch per flush timer
// (10 ms by default), and a writer wake-up and a write() per batch cost more than its records.
// Holding costs a wake-up of its own (the end of the wait), so the writer holds only when
// batches come closer together than this: a batch after a quieter spell is written at once.
// At 10 ms the writer woke for every NFLOG kernel batch; at 50 ms, for about one in five, and
// nfcap used a quarter less CPU per record at 50,000 records/s, 14 % less flat out
// (bench/ab.sh; bench/RESULTS.md, "The writer wakes for 50 ms of records").
constexpr auto flush_delay = std::chrono::milliseconds(50);
// While the writer waits for that moment, a receive thread wakes it early only for this much
// (at 1 MiB flat out, every third kernel batch woke it). Busier, the writer is rarely idle.
constexpr std::size_t wake_bytes = 4U << 20U;
// A queue's receive thread waits at most this long in one receive call: the longest it takes
// to see that the capture stops.
constexpr auto queue_wait = std::chrono::milliseconds(100);
// Once woken, the writer takes batch after batch until the queue is empty or it has taken this
// much, and only then looks at the clock, the stop condition and its flush moment again.
constexpr std::size_t round_bytes = 1U << 20U;
// An NFLOG receive thread that finds the hand-off full waits for room while its socket can hold
// more, so that the socket buffer absorbs a slow output too. It stops waiting, and takes the
// datagram it holds out of the way by counting its records as not handed on, when either
// - the socket's buffer is more than socket_high_numerator/socket_high_denominator full. The
//   kernel drops a whole batch of records when the buffer is full, and only a later record of
//   the same group can show how many (none does after the end of a burst), so nfcap drains the
//   socket itself first and counts every record exactly. The rest of the buffer (32 MiB of the
//   default 128 MiB) takes 80 ms of the fastest stream measured (about 400 MB/s of datagrams),
//   checked every socket_check; or
// - the writer has taken nothing for writer_stall (an output that does not move: a flush of at
//   most a few MiB takes that long only on a stalled or pathologically slow output).
constexpr std::uint64_t socket_high_numerator = 3;
constexpr std::uint64_t socket_high_denominator = 4;
constexpr auto socket_check = std::chrono::milliseconds(1);
constexpr auto writer_stall = std::chrono::seconds(2);

// LINKTYPE_NETLINK's 16-byte cooked header (the LINKTYPE_LINUX_SLL layout): packet type,
// ARPHRD_NETLINK, no address, and the netlink protocol, all big-endian.
constexpr std::uint16_t arphrd_netlink = 824;
constexpr std::uint16_t netlink_netfilter = 12;

enum class EntryKind : std::uint8_t {
    received, // a datagram from the kernel
    sent,     // messages nfcap sent (verdicts)
    decision, // an NFQUEUE packet's decision (DecisionHeader, then a rewrite's new bytes)
};

struct Entry {
    std::size_t offset = 0;
    std::size_t length = 0;
    Timestamp time;
    EntryKind kind = EntryKind::received;
};

// A PacketDecision as the hand-off carries it, in this process's byte order.
struct DecisionHeader {
    std::uint32_t id = 0;
    std::uint32_t mark = 0;
    std::uint32_t mark_mask = 0;
    std::uint16_t queue = 0;
    std::uint16_t target_queue = 0;
    std::uint8_t kind = 0;
    std::uint8_t by = 0;
    std::uint8_t has_mark = 0;
    std::uint8_t pad = 0;
};

// Appends `d` to `out`: its header, then a rewrite's new bytes.
void pack(const PacketDecision& d, std::vector<std::byte>& out) {
    DecisionHeader h;
    h.id = d.id;
    h.mark = d.verdict.mark.value_or(0);
    h.mark_mask = d.verdict.mark_mask;
    h.queue = d.queue;
    h.target_queue = d.verdict.target_queue;
    h.kind = static_cast<std::uint8_t>(d.verdict.kind);
    h.by = static_cast<std::uint8_t>(d.by);
    h.has_mark = d.verdict.mark ? 1 : 0;
    const std::size_t at = out.size();
    out.resize(at + sizeof h + d.payload.size());
    std::memcpy(out.data() + at, &h, sizeof h);
    if (!d.payload.empty()) {
        std::memcpy(out.data() + at + sizeof h, d.payload.data(), d.payload.size());
    }
}

PacketDecision unpack(std::span<const std::byte> bytes) {
    DecisionHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    PacketDecision d;
    d.id = h.id;
    d.queue = h.queue;
    d.verdict.kind = static_cast<VerdictKind>(h.kind);
    d.verdict.target_queue = h.target_queue;
    if (h.has_mark != 0) {
        d.verdict.mark = h.mark;
    }
    d.verdict.mark_mask = h.mark_mask;
    d.by = static_cast<DecidedBy>(h.by);
    d.payload = bytes.subspan(sizeof h);
    return d;
}

// Records a receive thread could not hand on (the queue was full), per group or queue.
struct Skipped {
    RecordKind kind = RecordKind::nflog;
    std::uint16_t resource = 0;
    std::uint64_t count = 0;
};

// Datagrams one receive call brought in, copied: they outlive the receive buffer. `skipped`
// came before them, in the source's order.
struct Batch {
    std::size_t source = 0;
    std::vector<std::byte> bytes;
    std::vector<Entry> entries;
    std::vector<Skipped> skipped;
};

enum class Wait {
    no,                 // the queue is full: null at once (NFQUEUE, which must not wait)
    while_writer_moves, // wait while the writer takes batches and the caller's check says the
                        // socket has room (NFLOG); null once either stops
    until_closed,       // wait for room however long it takes, or until the queue is closed
};

class HandOff {
  public:
    // An empty batch to fill, or null when the queue is full and `wait` says not to wait
    // (longer), or when the queue was closed. With Wait::while_writer_moves, a `socket_has_room`
    // that returns false ends the wait too; it is called without the lock, every socket_check.
    Batch* acquire(Wait wait, const std::function<bool()>& socket_has_room = {}) {
        std::unique_lock lock(mutex_);
        for (;;) {
            if (queued_bytes_ < max_queued_bytes) {
                if (!free_.empty()) {
                    Batch* b = free_.back();
                    free_.pop_back();
                    free_bytes_ -= b->bytes.capacity();
                    return b;
                }
                if (all_.size() < max_batches) {
                    all_.push_back(std::make_unique<Batch>());
                    return all_.back().get();
                }
            }
            if (wait == Wait::no || closed_) {
                return nullptr;
            }
            if (wait == Wait::while_writer_moves) {
                if (Clock::now() - writer_seen_ >= writer_stall) {
                    return nullptr;
                }
                if (socket_has_room) {
                    lock.unlock();
                    const bool room = socket_has_room();
                    lock.lock();
                    if (!room) {
                        return nullptr;
                    }
                    space_.wait_for(lock, socket_check,
                                    [this] { return queued_bytes_ < max_queued_bytes || closed_; });
                    continue;
                }
            }
            space_.wait_for(lock, writer_tick);
        }
    }
    void submit(Batch* b) {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            queued_bytes_ += b->bytes.capacity();
            queued_used_ += b->bytes.size();
            ready_.push_back(b);
            // A writer that waits for its flush moment takes this batch then.
            wake = !writer_coalescing_ || queued_used_ >= wake_bytes;
        }
        if (wake) {
            ready_cv_.notify_one();
        }
    }
    void give_back(Batch* b) { // unused or processed
        {
            std::lock_guard lock(mutex_);
            recycle(b);
        }
        space_.notify_all();
    }
    // Gives the processed `done` back and takes the next queued batch in one lock, never
    // waiting: null when none is queued.
    Batch* give_back_and_take(Batch* done) {
        Batch* next = nullptr;
        {
            std::lock_guard lock(mutex_);
            recycle(done);
            writer_seen_ = Clock::now();
            if (!ready_.empty()) {
                next = pop_ready();
            }
        }
        space_.notify_all();
        return next;
    }
    // Wakes the writer without a batch (a receive thread finished).
    void wake() {
        {
            std::lock_guard lock(mutex_);
            woken_ = true;
        }
        ready_cv_.notify_all();
    }
    // A batch at once when one is queued; else waits up to `timeout` for one. `coalescing`: the
    // writer holds records it will write when the timeout ends; until then a submit wakes it
    // only for wake_bytes of batches (a finished receive thread, wake(), always does).
    Batch* take(Clock::duration timeout, bool coalescing = false) {
        std::unique_lock lock(mutex_);
        writer_seen_ = Clock::now(); // a writer asking for work is not stalled
        if (ready_.empty()) {
            // Coalescing, the batches that come meanwhile wait for the timeout (or for
            // wake_bytes of them): then the writer takes them one after the other.
            writer_coalescing_ = coalescing;
            ready_cv_.wait_for(lock, timeout, [this, coalescing] {
                return coalescing ? queued_used_ >= wake_bytes || woken_
                                  : !ready_.empty() || woken_;
            });
            writer_coalescing_ = false;
            woken_ = false;
        }
        writer_seen_ = Clock::now();
        if (ready_.empty()) {
            return nullptr; // timed out, or woken by a finished receive thread
        }
        return pop_ready();
    }
    bool empty() {
        std::lock_guard lock(mutex_);
        return ready_.empty();
    }
    // When the queue is empty: gives back the memory of the batches on the free list beyond
    // idle_free_bytes, least recently used first; true if it gave any back.
    bool trim() {
        std::lock_guard lock(mutex_);
        if (!ready_.empty()) {
            return false;
        }
        bool trimmed = false;
        for (Batch* b : free_) { // acquire() takes from the back
            if (free_bytes_ <= idle_free_bytes) {
                break;
            }
            if (b->bytes.capacity() == 0) {
                continue;
            }
            free_bytes_ -= b->bytes.capacity();
            std::vector<std::byte>().swap(b->bytes);
            std::vector<Entry>().swap(b->entries);
            trimmed = true;
        }
        return trimmed;
    }
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        space_.notify_all();
    }

  private:
    // Both with the lock held.
    Batch* pop_ready() {
        Batch* b = ready_.front();
        ready_.pop_front();
        queued_bytes_ -= b->bytes.capacity();
        queued_used_ -= b->bytes.size();
        return b;
    }
    void recycle(Batch* b) {
        b->bytes.clear();
        b->entries.clear();
        b->skipped.clear();
        if (b->bytes.capacity() > kept_batch_capacity ||
            free_bytes_ + b->bytes.capacity() > max_free_bytes) {
            b->bytes.shrink_to_fit(); // empty: the memory goes back
        }
        free_bytes_ += b->bytes.capacity();
        free_.push_back(b);
    }

    std::mutex mutex_;
    std::condition_variable ready_cv_;
    std::condition_variable space_;
    std::deque<Batch*> ready_;
    std::vector<std::unique_ptr<Batch>> all_;
    std::vector<Batch*> free_;
    std::size_t queued_bytes_ = 0; // capacity of the batches in ready_
    std::size_t queued_used_ = 0;  // bytes in use in those batches (what wakes the writer)
    std::size_t free_bytes_ = 0;   // capacity of the batches in free_
    bool closed_ = false;
    bool writer_coalescing_ = false; // the writer waits for its flush moment (see take())
    bool woken_ = false;             // wake() was called since the writer last waited
    Clock::time_point writer_seen_ = Clock::now(); // when the writer last asked for a batch
};

// Raises the calling thread's nice value by `increment` for the object's lifetime, and puts it
// back at the end when the system allows (an unprivileged thread may not lower its nice value
// again: it then keeps the raised one). Errors leave the priority as it was.
class LoweredPriority {
  public:
    explicit LoweredPriority(int increment) {
        if (increment <= 0) {
            return;
        }
        tid_ = static_cast<id_t>(::gettid());
        errno = 0;
        const int now = ::getpriority(PRIO_PROCESS, tid_); // per thread on Linux
        if (now == -1 && errno != 0) {
            return;
        }
        if (::setpriority(PRIO_PROCESS, tid_, std::min(now + increment, 19)) == 0) {
            before_ = now;
        }
    }
    ~LoweredPriority() {
        if (before_) {
            (void)::setpriority(PRIO_PROCESS, tid_, *before_);
        }
    }
    LoweredPriority(const LoweredPriority&) = delete;
    LoweredPriority& operator=(const LoweredPriority&) = delete;

  private:
    id_t tid_ = 0;
    std::optional<int> before_;
};

// The receive thread's handler: copies whole datagrams into a batch for the writer, and counts
// per group or queue the records it cannot hand on.
class Forwarder final : public RecordHandler {
  public:
    // `socket_has_room` (NFLOG): see HandOff::acquire.
    Forwarder(HandOff& handoff, std::size_t source, Wait wait, bool keep_sent, bool decisions,
              std::function<bool()> socket_has_room = {})
        : handoff_(handoff), source_(source), wait_(wait), keep_sent_(keep_sent),
          decisions_(decisions), socket_has_room_(std::move(socket_has_room)) {}

    bool wants_records() const override { return false; }
    bool wants_decisions() const override { return decisions_; }
    void on_decision(const PacketDecision& decision, Timestamp time) override {
        // Lost only with a full hand-off; its record then waits and is written at the end
        // with verdict=unknown.
        if (ensure_batch()) { // written straight into the batch
            const std::size_t offset = current_->bytes.size();
            pack(decision, current_->bytes);
            current_->entries.push_back(
                Entry{offset, current_->bytes.size() - offset, time, EntryKind::decision});
        }
    }
    void on_record(std::span<const std::byte>, Timestamp) override {}

    void on_datagram(std::span<const std::byte> datagram, Timestamp time) override {
        if (current_ != nullptr && current_->bytes.size() >= batch_bytes) {
            submit();
        }
        if (!ensure_batch()) {
            count_skipped(datagram);
            return;
        }
        append(datagram, time, EntryKind::received);
    }
    void on_sent(std::span<const std::byte> messages, Timestamp time) override {
        if (keep_sent_ && ensure_batch()) {
            append(messages, time, EntryKind::sent);
        }
    }
    // Hands the batch filled so far to the writer.
    void submit() {
        if (current_ == nullptr) {
            return;
        }
        if (current_->entries.empty() && current_->skipped.empty()) {
            handoff_.give_back(current_);
        } else {
            handoff_.submit(current_);
        }
        current_ = nullptr;
    }
    // The source stops: hands on the last batch, and the count of records not handed on
    // since, waiting for room if need be (the writer drains the queue while stopping).
    void finish() {
        submit();
        if (skipped_.empty()) {
            return;
        }
        current_ = handoff_.acquire(Wait::until_closed);
        if (current_ != nullptr) {
            current_->source = source_;
            current_->skipped.swap(skipped_);
            submit();
        }
    }

  private:
    bool ensure_batch() {
        if (current_ == nullptr) {
            // Each datagram asks again: one taken out of a socket past its mark may have brought
            // it back below, and then the next one waits.
            current_ = handoff_.acquire(wait_, socket_has_room_);
            if (current_ != nullptr) {
                current_->source = source_;
                current_->skipped.swap(skipped_); // they came before this batch's records
                skipped_.clear();
            }
        }
        return current_ != nullptr;
    }
    void count_skipped(std::span<const std::byte> datagram) {
        NetlinkWalker walker(datagram);
        RecordKind kind{};
        std::span<const std::byte> record;
        try {
            while (walker.next(kind, record)) {
                if (record.size() < 4) {
                    continue; // the writer would have found it malformed
                }
                // nfgenmsg: family, version, then res_id (the group or queue), big-endian.
                const auto resource =
                    static_cast<std::uint16_t>((std::to_integer<unsigned>(record[2]) << 8U) |
                                               std::to_integer<unsigned>(record[3]));
                add_skipped(kind, resource);
            }
        } catch (const DecodeError&) {
            // The rest of a damaged datagram holds no record anyone could count.
        }
    }
    void add_skipped(RecordKind kind, std::uint16_t resource) {
        for (Skipped& k : skipped_) {
            if (k.kind == kind && k.resource == resource) {
                ++k.count;
                return;
            }
        }
        skipped_.push_back(Skipped{kind, resource, 1});
    }
    void append(std::span<const std::byte> bytes, Timestamp time, EntryKind kind) {
        current_->entries.push_back(Entry{current_->bytes.size(), bytes.size(), time, kind});
        current_->bytes.insert(current_->bytes.end(), bytes.begin(), bytes.end());
    }

    HandOff& handoff_;
    std::size_t source_;
    Wait wait_;
    bool keep_sent_;
    bool decisions_;
    std::function<bool()> socket_has_room_;
    std::vector<Skipped> skipped_; // not handed on yet: they go with the next batch
    Batch* current_ = nullptr;
};

} // namespace

NetlinkRecorder::NetlinkRecorder(Sink& sink, const HostIdentity& host) : sink_(sink) {
    const std::string application = std::string("nfcap ") + version;
    append_section_header(buffer_, SectionHeader{application, host.hardware, host.os});
    const std::string description = "netfilter netlink messages" +
                                    (host.name.empty() ? std::string() : " on " + host.name) +
                                    " (NFLOG, NFQUEUE)";
    append_interface_description(
        buffer_, InterfaceDescription{LinkType::netlink, 0, "nfnetlink", description, host.os});
    flush();
}

void NetlinkRecorder::append(std::span<const std::byte> bytes, Timestamp time, bool outgoing) {
    std::array<std::byte, 16> cooked{};
    cooked[1] = std::byte{outgoing ? std::uint8_t{4} : std::uint8_t{0}}; // PACKET_OUTGOING / HOST
    cooked[2] = std::byte{arphrd_netlink >> 8U};
    cooked[3] = std::byte{arphrd_netlink & 0xffU};
    cooked[15] = std::byte{netlink_netfilter};
    EnhancedPacket epb;
    epb.timestamp = time;
    epb.link_header = cooked;
    epb.payload = bytes;
    epb.original_length = static_cast<std::uint32_t>(cooked.size() + bytes.size());
    epb.direction = outgoing ? EpbDirection::outbound : EpbDirection::inbound;
    append_enhanced_packet(buffer_, epb);
}

void NetlinkRecorder::received(std::span<const std::byte> datagram, Timestamp time) {
    append(datagram, time, false);
}

void NetlinkRecorder::sent(std::span<const std::byte> messages, Timestamp time) {
    append(messages, time, true);
}

void NetlinkRecorder::flush() {
    if (!buffer_.empty()) {
        sink_.write(buffer_);
        buffer_.clear();
    }
}

struct LiveCapture::Impl {
    struct Source {
        std::unique_ptr<NflogSource> nflog;
        std::unique_ptr<QueueSource> queue;
        std::thread thread;
        std::exception_ptr error;
        std::atomic<bool> finished{false};
        std::optional<QueueKernelCounters> kernel; // read just before the queue was unbound
        std::optional<std::uint64_t> socket_drops; // read last, before the socket closed
        std::optional<NflogDrops> nflog_drops;     // likewise
    };

    Recorder& recorder;
    InterfaceCache* names;
    NetlinkRecorder* netlink;
    std::vector<std::unique_ptr<Source>> sources;
    HandOff handoff;
    int stop_fd = -1;                  // written to stop the NFLOG receive threads
    std::atomic<bool> stopping{false}; // read by the queues' receive threads
    int writer_nice = 5;               // see LiveCapture::run

    Impl(Recorder& r, InterfaceCache* n, NetlinkRecorder* nl) : recorder(r), names(n), netlink(nl) {
        stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (stop_fd < 0) {
            detail::throw_errno("eventfd");
        }
    }
    ~Impl() {
        stop_threads();
        ::close(stop_fd);
    }

    void stop_threads() {
        stopping.store(true);
        const std::uint64_t one = 1;
        (void)!::write(stop_fd, &one, sizeof one);
    }

    void receive_loop(Source& s, std::size_t index) {
        detail::name_this_thread(s.nflog ? std::string("nflog-rx")
                                         : "nfq" + std::to_string(s.queue->config().queue) + "-rx");
        // NFQUEUE never waits (verdicts are given before the hand-off, and must keep flowing);
        // NFLOG waits while the writer moves and the socket has room, its buffer absorbing
        // the delay (see writer_stall).
        std::function<bool()> socket_has_room;
        if (s.nflog) {
            socket_has_room = [&source = *s.nflog] {
                const std::optional<BufferFill> fill = source.socket_fill();
                return !fill ||
                       fill->queued < fill->size / socket_high_denominator * socket_high_numerator;
            };
        }
        Forwarder forwarder(handoff, index, s.nflog ? Wait::while_writer_moves : Wait::no,
                            netlink != nullptr, s.queue && s.queue->decides(),
                            std::move(socket_has_room));
        try {
            if (s.queue) {
                // A queue's thread waits in its receive call (held packets' deadlines pass
                // without traffic too), at most queue_wait, then looks at `stopping`.
                while (!stopping.load()) {
                    s.queue->receive_waiting(forwarder, queue_wait);
                    forwarder.submit();
                }
            } else {
                // An NFLOG receive brings a kernel batch of records: a poll() per wake-up costs
                // nothing next to it.
                std::array<pollfd, 2> fds{pollfd{s.nflog->fd(), POLLIN, 0},
                                          pollfd{stop_fd, POLLIN, 0}};
                for (;;) {
                    if (::poll(fds.data(), fds.size(), -1) < 0) {
                        if (errno == EINTR) {
                            continue;
                        }
                        detail::throw_errno("poll");
                    }
                    if ((fds[1].revents & POLLIN) != 0) {
                        break;
                    }
                    s.nflog->receive(forwarder);
                    forwarder.submit();
                }
            }
            // Stopping: take what the kernel already delivered; a queue gives every packet it
            // still holds its verdict before it is unbound.
            if (s.nflog) {
                s.nflog->stop(forwarder);
                s.nflog_drops = s.nflog->drop_history();
            } else {
                s.queue->drain(forwarder);
                // Unbind at once: from here on the rule decides (--queue-bypass or not), and
                // no packet passes unseen while the writer finishes.
                s.kernel = s.queue->kernel_counters();
                s.queue->receive(forwarder); // ids handed out up to that reading
                s.socket_drops = s.queue->socket_drops();
                s.queue->unbind(forwarder); // held packets: the fallback, recorded
            }
            forwarder.finish();
        } catch (...) {
            forwarder.finish();
            s.error = std::current_exception();
        }
        s.finished = true;
        handoff.wake();
    }

    // Puts what only the sources know into the recorder's counters: loss no gap shows, and
    // whether the counts are exact. While running (`final` false) it reads the sockets' drop
    // counters; once the sources have stopped, what they read last (and a queue's id sequence).
    void account_loss(bool final) {
        for (const auto& s : sources) {
            if (s->nflog) {
                account_nflog(*s, final);
            } else {
                account_queue(*s, final);
            }
        }
    }

    void account_nflog(const Source& s, bool final) {
        const NflogSource& source = *s.nflog;
        std::vector<InterfaceCounters*> groups;
        std::uint64_t gap_records = 0;
        for (const std::uint16_t g : source.config().groups) {
            if (InterfaceCounters* c = recorder.find(RecordKind::nflog, g)) {
                groups.push_back(c);
                gap_records += c->lost;
            }
        }
        if (groups.empty()) {
            return;
        }
        std::optional<NflogDrops> drops = s.nflog_drops;
        // The receive thread's own counters are read only once it has finished.
        const std::uint64_t overruns = final ? source.counters().overruns : 0;
        if (!final) {
            // While running, only the count: nothing is known to come after the last delivery.
            drops.reset();
            if (const auto total = source.socket_drops()) {
                drops = NflogDrops{*total, 0, *total};
            }
        }
        const UnseenLoss unseen = nflog_unseen_loss(gap_records, drops, overruns);
        std::string note;
        if (unseen.certainty == LossCertainty::at_least) {
            note = drops ? "the socket buffer overflowed (ENOBUFS) and the kernel dropped " +
                               std::to_string(drops->total) + " batch" +
                               (drops->total == 1 ? "" : "es") +
                               " of records; a batch shows as a sequence gap only once a "
                               "later record of its group arrives, and not every one is known "
                               "to have been followed by one, so not all their records can be "
                               "counted (a larger --rcvbuf helps)" +
                               tail_estimate(*drops, groups, source)
                         : "the socket buffer overflowed (ENOBUFS) and the kernel does not say "
                           "how much it dropped; records lost after the last one delivered "
                           "cannot be counted";
        }
        // One socket serves every group: which group the unseen records belonged to is unknown,
        // so they go to the first group, and every group's count is a lower bound.
        for (std::size_t i = 0; i < groups.size(); ++i) {
            groups[i]->unseen = i == 0 ? unseen.records : 0;
            groups[i]->certainty = unseen.certainty;
            groups[i]->loss_note = note;
        }
    }

    // The size of the loss after the last delivery, as an estimate (loss.hpp), for the note.
    static std::string tail_estimate(const NflogDrops& drops,
                                     const std::vector<InterfaceCounters*>& groups,
                                     const NflogSource& source) {
        std::uint64_t records = 0;
        for (const InterfaceCounters* c : groups) {
            records += c->received + c->not_written;
        }
        const std::uint64_t after = drops_after_last_delivery(drops);
        const std::uint64_t estimate =
            nflog_tail_estimate(drops, records, source.counters().datagrams);
        if (estimate == 0) {
            return {};
        }
        return "; " + std::to_string(after) + " of those batches came after the last record " +
               "received, and at the " + std::to_string(records / source.counters().datagrams) +
               " records a batch received held on average they would be about " +
               std::to_string(estimate) + " records (an estimate, not a count)";
    }

    void account_queue(const Source& s, bool final) {
        const QueueSource& source = *s.queue;
        InterfaceCounters* c = recorder.find(RecordKind::nfqueue, source.config().queue);
        if (c == nullptr) {
            return;
        }
        c->certainty = LossCertainty::exact;
        c->loss_note.clear();
        if (final && s.kernel) {
            // Exact: every id the kernel handed out was received, or is a gap, or came after
            // the last one received. A queue full without fail-open drops without an id.
            c->lost_after_last = queue_ids_after(static_cast<std::uint32_t>(s.kernel->id_sequence),
                                                 source.last_id());
            c->kernel_dropped = s.kernel->dropped;
        } else {
            // Each datagram the socket dropped was one packet with an id: those no gap shows
            // yet are after the last packet received (or still on their way, while running).
            const std::optional<std::uint64_t> drops =
                final ? s.socket_drops : source.socket_drops();
            c->lost_after_last = drops && *drops > c->lost ? *drops - c->lost : 0;
            if (final) {
                c->certainty = LossCertainty::at_least;
                c->loss_note = "the queue's counters could not be read at the end "
                               "(/proc/net/netfilter/nfnetlink_queue)";
            }
        }
        if (!source.loss_countable()) {
            c->certainty = LossCertainty::at_least;
            c->loss_note = "with fail-open and a queue length of " +
                           std::to_string(source.max_length()) +
                           ", packets that found the queue full passed uncounted";
        }
    }

    void process(const Batch& batch, bool& reader_gone) {
        for (const Skipped& k : batch.skipped) {
            recorder.skip(k.kind, k.resource, k.count);
        }
        for (const Entry& e : batch.entries) {
            const std::span<const std::byte> bytes(batch.bytes.data() + e.offset, e.length);
            if (e.kind == EntryKind::sent) {
                continue;
            }
            if (e.kind == EntryKind::decision) {
                if (!reader_gone) {
                    recorder.on_decision(unpack(bytes), e.time);
                }
                continue;
            }
            if (netlink != nullptr) {
                netlink->received(bytes, e.time);
            }
            if (reader_gone) {
                continue;
            }
            NetlinkWalker walker(bytes);
            RecordKind kind{};
            std::span<const std::byte> record;
            try {
                while (walker.next(kind, record)) {
                    recorder.record(kind, record, e.time);
                }
            } catch (const DecodeError& error) {
                recorder.count_unreadable(std::string("a damaged netlink datagram was skipped: ") +
                                          error.what());
            }
        }
        if (netlink != nullptr) { // the verdicts went out after the packets came in
            for (const Entry& e : batch.entries) {
                if (e.kind == EntryKind::sent) {
                    netlink->sent({batch.bytes.data() + e.offset, e.length}, e.time);
                }
            }
        }
    }
};

LiveCapture::LiveCapture(Recorder& recorder, InterfaceCache* names, NetlinkRecorder* netlink)
    : impl_(std::make_unique<Impl>(recorder, names, netlink)) {}

LiveCapture::~LiveCapture() {
    if (impl_) {
        impl_->stop_threads();
        impl_->handoff.close();
        for (auto& s : impl_->sources) {
            if (s->thread.joinable()) {
                s->thread.join();
            }
        }
    }
}

void LiveCapture::add(std::unique_ptr<NflogSource> source) {
    auto s = std::make_unique<Impl::Source>();
    s->nflog = std::move(source);
    impl_->sources.push_back(std::move(s));
}

void LiveCapture::add(std::unique_ptr<QueueSource> source) {
    if (source->queues().size() > 1) {
        // The loss accounting at the end reads one queue's counters per source.
        throw std::invalid_argument("a live capture records one queue per QueueSource; give " +
                                    std::to_string(source->queues().size()) +
                                    " queues a source each");
    }
    if (source->decides()) { // each packet recorded with its own decision
        impl_->recorder.record_decisions(source->config().queue);
    }
    auto s = std::make_unique<Impl::Source>();
    s->queue = std::move(source);
    impl_->sources.push_back(std::move(s));
}

void LiveCapture::set_writer_nice(int increment) {
    if (increment < 0 || increment > 19) {
        throw std::invalid_argument("the writer's nice increment must be 0 to 19, not " +
                                    std::to_string(increment));
    }
    impl_->writer_nice = increment;
}

LiveCaptureResult LiveCapture::run(const std::function<bool()>& stop,
                                   const std::function<void()>& tick) {
    Impl& m = *impl_;
    for (std::size_t i = 0; i < m.sources.size(); ++i) {
        Impl::Source& s = *m.sources[i];
        s.thread = std::thread([&m, &s, i] { m.receive_loop(s, i); });
    }
    // Only now: the receive threads took this thread's priority as they started.
    const LoweredPriority writer_priority(m.writer_nice);
    LiveCaptureResult result;
    bool stopping = false;
    const auto all_finished = [&m] {
        for (const auto& s : m.sources) {
            if (!s->finished) {
                return false;
            }
        }
        return true;
    };
    const auto any_failed = [&m] {
        for (const auto& s : m.sources) {
            if (s->finished && s->error) {
                return true;
            }
        }
        return false;
    };
    bool queues = false;
    for (const auto& s : m.sources) {
        queues = queues || s->queue != nullptr;
    }
    auto last_flush = Clock::now();
    auto last_accounted = Clock::now();
    bool holding = false; // records processed, not written yet, since held_since
    Clock::time_point held_since;
    Clock::time_point last_round; // when the writer last took a batch
    for (;;) {
        // A failed output (a full disk) ends an NFLOG capture; a queue is kept: stopping it
        // would leave its traffic to the rule's bypass flag, so verdicts go on while what
        // cannot be written is counted.
        if (!stopping && (stop() || m.recorder.done() || result.reader_gone || any_failed() ||
                          (m.recorder.output_failed() && !queues))) {
            stopping = true;
            m.stop_threads();
        }
        if (stopping && all_finished() && m.handoff.empty()) {
            break;
        }
        // Records processed but not written yet wait for their flush moment (flush_delay after
        // the first of them); meanwhile the writer takes the batches that come.
        Batch* batch = nullptr;
        if (holding && !stopping) {
            const auto due = held_since + flush_delay;
            batch = m.handoff.take(std::max(due - Clock::now(), Clock::duration::zero()), true);
        } else {
            batch = m.handoff.take(writer_tick);
        }
        const bool took = batch != nullptr;
        if (took) {
            const auto now = Clock::now();
            if (!holding) {
                holding = true;
                // After a gap of flush_delay or more, the round is due at once (see there).
                held_since = now - last_round >= flush_delay ? now - flush_delay : now;
            }
            last_round = now;
            // Then every batch queued meanwhile, up to round_bytes, without this loop's checks:
            // at a paced rate a batch holds one packet or a few, and the stop test (a system
            // call in the command), the clock readings and a second lock for each batch cost
            // more than its packets.
            std::size_t round = 0;
            while (batch != nullptr) {
                round += batch->bytes.size();
                m.process(*batch, result.reader_gone);
                if (round >= round_bytes) {
                    m.handoff.give_back(batch);
                    break;
                }
                batch = m.handoff.give_back_and_take(batch);
            }
        }
        const auto now = Clock::now();
        const bool due = holding && now - held_since >= flush_delay;
        if (!took || due || stopping || now - last_flush >= flush_interval) {
            holding = false;
            last_flush = Clock::now();
            try {
                if (!result.reader_gone) {
                    m.recorder.flush();
                }
                if (m.netlink != nullptr) {
                    m.netlink->flush();
                }
            } catch (const ReaderGone&) {
                result.reader_gone = true;
            }
            if (m.names != nullptr) {
                m.names->update();
            }
            // For the status line and a ring's statistics; the sources' sockets close while
            // they stop.
            if (!stopping && Clock::now() - last_accounted >= flush_interval) {
                last_accounted = Clock::now();
                m.account_loss(false);
                if (m.handoff.trim()) {
#ifdef __GLIBC__
                    // The allocator keeps freed memory for reuse: have it return the free
                    // pages (of every thread's arena) to the system.
                    ::malloc_trim(0);
#endif
                }
            }
        }
        if (tick && !result.reader_gone) {
            tick();
        }
    }
    m.handoff.close();
    for (auto& s : m.sources) {
        s->thread.join();
    }
    for (auto& s : m.sources) {
        if (s->error) {
            std::rethrow_exception(s->error);
        }
    }
    m.account_loss(true);
    for (auto& s : m.sources) {
        if (s->nflog) {
            result.overruns += s->nflog->counters().overruns;
            continue;
        }
        result.overruns += s->queue->counters().overruns;
        result.verdicts += s->queue->packets();
    }
    return result;
}

} // namespace nfcap
