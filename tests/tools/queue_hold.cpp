// nfcap_queue_hold: drives QueueSource's held packets and deferred verdicts on a real queue,
// for tests/privileged/nfqueue_hold.sh. Every wait is bounded by --timeout.
//
//   nfcap_queue_hold QUEUE MODE COUNT [--timeout S] [--hold-ms MS] [--socket-netns PATH]
//
// --socket-netns: the netlink socket is made in the network namespace PATH (/run/netns/NAME)
// and adopted (QueueConfig::socket) while the program itself stays in its own namespace.
//
//   reverse    hold COUNT packets, then accept them from a second thread in reverse order,
//              setting mark 0x33
//   alternate  hold COUNT packets, then from a second thread accept the 1st, 3rd, 5th, ... in
//              one call and drop the others in another
//   rewrite    hold each UDP packet; a second thread prepends "REWRITTEN:" to its payload,
//              or upper-cases the letters of a TCP payload, fixes lengths and checksums and
//              accepts it; runs for COUNT UDP packets, or until --timeout with TCP
//   deadline   hold COUNT packets and never decide them: --hold-ms passes and the fallback
//              (accept) is given
//   bad-ids    hold COUNT packets, check that verdicts for ids not held are refused, then
//              accept them all
//   hold-many  hold COUNT packets on a socket with a 16 KiB buffer (its countable queue length
//              is some 130), check that every one is still queued in the kernel, then accept
//              them; prints "max_length=N" and "loss_countable=0|1". With --max-length the
//              program sets the queue's length itself
//   exit       hold COUNT packets, then leave: the source's destructor gives the fallback
//   unbind     hold COUNT packets, then unbind(), which gives the fallback; a verdict after it
//              is refused
//   pull       QueueReader: take COUNT packets with next(), then accept them all in one call
//   feed       read the socket here (recv) and hand each datagram to QueueSource::feed(), whose
//              decide function accepts at once, until COUNT packets
//   log-pull   LogReader on NFLOG group QUEUE: take COUNT records as a range; prints each
//              record's prefix and payload length
//   capture    records queue QUEUE with LiveCapture into --write PATH (pcapng) while a decide
//              function answers by nfcap_traffic's sequence number k: k % 4 == 0 accepted at
//              once; 1 held, then accepted with mark 0x33 by a worker thread; 2 held, then
//              rewritten ("REWRITTEN:" before the UDP payload) by the worker; 3 held and never
//              decided (the --hold-ms deadline gives the fallback). Ends once COUNT packets came
//              and none is held; prints "seen=N" and the HeldCounters
//   log-groups NFLOG groups QUEUE and QUEUE+1 on one source, each record routed to its group's
//              handler (RecordRouter): after COUNT records of each, QUEUE+1 is unbound alone;
//              then reads for 2 more seconds; prints "first=N" and "second=N"
//   queue-pair queues QUEUE and QUEUE+1 on one QueueSource (QueueConfig::more_queues), each
//              record routed to its queue's handler: holds COUNT packets of each, checks that
//              a verdict without its queue is refused, accepts QUEUE's and drops QUEUE+1's in
//              one call, then unbinds QUEUE+1 alone and accepts QUEUE's packets at once for 2
//              more seconds; prints "first=N" and "second=N" (records per queue)
//   log-overrun-raise, log-overrun-disable
//              NFLOG group QUEUE with a 4 KiB socket buffer and OverrunPolicy raise or disable:
//              sleeps COUNT seconds (the test floods the group meanwhile), then reads for a
//              second; prints "raised=N" (OverrunError seen), "overruns=N" (ENOBUFS the
//              socket reported), "records=N" and "drops=N" (the kernel's drop counter)
//
// Prints "name=value" lines (held, decided, the HeldCounters). Exit status 0 when every check
// of the mode passed, 1 otherwise (a line on stderr says which), 2 on bad usage.
#include <nfcap/checksum.hpp>
#include <nfcap/live_capture.hpp>
#include <nfcap/packet_reader.hpp>
#include <nfcap/queue_source.hpp>
#include <nfcap/retained_packet.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

class Ignore final : public nfcap::RecordHandler {
  public:
    void on_record(std::span<const std::byte>, nfcap::Timestamp) override {}
    bool wants_records() const override { return false; }
};

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void check(bool ok, const std::string& what) {
    if (!ok) {
        throw Failure(what);
    }
}

// Receives until `done()` or the timeout; the decide function runs inside.
template <class Done>
void receive_until(nfcap::QueueSource& source, Clock::time_point deadline, Done done) {
    Ignore ignore;
    while (!done()) {
        check(Clock::now() < deadline, "timed out");
        const int next = source.next_deadline_ms();
        pollfd p{source.fd(), POLLIN, 0};
        ::poll(&p, 1, next >= 0 ? std::min(next, 50) : 50);
        source.receive(ignore);
    }
}

void print_counters(const nfcap::QueueSource& source) {
    const nfcap::HeldCounters c = source.held_counters();
    std::printf("held=%llu\ndecided_later=%llu\nrefused=%llu\nfallback_deadline=%llu\n"
                "fallback_close=%llu\nfallback_error=%llu\n",
                static_cast<unsigned long long>(c.held),
                static_cast<unsigned long long>(c.decided_later),
                static_cast<unsigned long long>(c.refused),
                static_cast<unsigned long long>(c.fallback_deadline),
                static_cast<unsigned long long>(c.fallback_close),
                static_cast<unsigned long long>(c.fallback_error));
}

// Holds `count` packets (their retained copies in `kept`), deciding none.
std::vector<nfcap::RetainedPacket> hold(nfcap::QueueConfig config, std::size_t count,
                                        Clock::time_point deadline,
                                        std::unique_ptr<nfcap::QueueSource>& source) {
    std::vector<nfcap::RetainedPacket> kept;
    source = std::make_unique<nfcap::QueueSource>(
        config, nfcap::Verdict{},
        [&kept](const nfcap::Packet& p) -> std::optional<nfcap::Decision> {
            kept.emplace_back(p);
            return nfcap::hold_packet;
        });
    receive_until(*source, deadline, [&] { return kept.size() >= count; });
    check(source->held() == kept.size(), "held() is " + std::to_string(source->held()) + " with " +
                                             std::to_string(kept.size()) + " packets kept");
    return kept;
}

std::uint32_t id_of(const nfcap::RetainedPacket& p) {
    return p->packet_id.value();
}

// The new bytes for a packet: UDP gets "REWRITTEN:" before its payload, TCP its letters
// upper-cased (same length, so the connection's sequence numbers stay right).
std::vector<std::byte> rewritten(const nfcap::Packet& p) {
    std::vector<std::byte> bytes(p.payload.begin(), p.payload.end());
    check(bytes.size() >= 20 && (std::to_integer<unsigned>(bytes[0]) >> 4U) == 4, "not IPv4");
    const std::size_t header = (std::to_integer<unsigned>(bytes[0]) & 0xfU) * 4;
    const unsigned protocol = std::to_integer<unsigned>(bytes[9]);
    if (protocol == 17) {
        const std::string tag = "REWRITTEN:";
        const auto at = bytes.begin() + static_cast<std::ptrdiff_t>(header + 8);
        bytes.insert(at, reinterpret_cast<const std::byte*>(tag.data()),
                     reinterpret_cast<const std::byte*>(tag.data()) + tag.size());
    } else if (protocol == 6) {
        const std::size_t offset =
            header + (std::to_integer<unsigned>(bytes[header + 12]) >> 4U) * 4;
        for (std::size_t i = offset; i < bytes.size(); ++i) {
            const auto c = std::to_integer<unsigned char>(bytes[i]);
            if (c >= 'a' && c <= 'z') {
                bytes[i] = static_cast<std::byte>(c - 'a' + 'A');
            }
        }
    }
    nfcap::fix_lengths_and_checksums(bytes);
    return bytes;
}

// Packets handed from the receive thread to the deciding one.
class Handoff {
  public:
    void push(nfcap::RetainedPacket p) {
        const std::lock_guard lock(mutex_);
        queue_.push_back(std::move(p));
        ready_.notify_one();
    }
    std::optional<nfcap::RetainedPacket> pop(Clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        if (!ready_.wait_until(lock, deadline, [&] { return !queue_.empty() || closed_; }) ||
            queue_.empty()) {
            return std::nullopt;
        }
        auto p = std::move(queue_.front());
        queue_.pop_front();
        return p;
    }
    void close() {
        const std::lock_guard lock(mutex_);
        closed_ = true;
        ready_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<nfcap::RetainedPacket> queue_;
    bool closed_ = false;
};

// A NETLINK_NETFILTER socket made in the namespace at `path`, this thread then back in its own.
int socket_in(const std::string& path) {
    const int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int there = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    check(home >= 0 && there >= 0, "cannot open the namespaces");
    check(::setns(there, CLONE_NEWNET) == 0, "cannot enter " + path);
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    check(::setns(home, CLONE_NEWNET) == 0, "cannot return to the own namespace");
    check(fd >= 0, "cannot open a netlink socket in " + path);
    ::close(there);
    ::close(home);
    return fd;
}

// nfcap_traffic's sequence number of an IPv4 UDP datagram it sent (0 for anything else).
std::uint64_t sequence_of(const nfcap::Packet& p) {
    const auto b = p.payload;
    if (b.size() < 40 || std::to_integer<unsigned>(b[9]) != 17) {
        return 0;
    }
    std::uint64_t k = 0;
    for (std::size_t i = 32; i < 40; ++i) {
        k = (k << 8U) | std::to_integer<std::uint64_t>(b[i]);
    }
    return k;
}

std::string write_path; // --write

int capture(nfcap::QueueConfig config, std::size_t count, Clock::time_point deadline) {
    const int fd = ::open(write_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    check(fd >= 0, "cannot create " + write_path);
    nfcap::FdSink sink(fd, write_path, nfcap::SinkKind::file, nfcap::FdSink::Ownership::owned);
    nfcap::Recorder recorder(sink, nfcap::RecorderOptions{}, nullptr, [](const std::string& w) {
        std::fprintf(stderr, "warning: %s\n", w.c_str());
    });
    recorder.add_source(nfcap::RecordKind::nfqueue, config.queue, true);
    Handoff handoff;
    std::atomic<std::size_t> seen{0};
    auto queue = std::make_unique<nfcap::QueueSource>(
        config, nfcap::Verdict{}, [&](const nfcap::Packet& p) -> std::optional<nfcap::Decision> {
            ++seen;
            switch (sequence_of(p) % 4) {
            case 0:
                return nfcap::Verdict{};
            case 3:
                return nfcap::hold_packet; // the deadline decides
            default:
                handoff.push(nfcap::RetainedPacket(p));
                return nfcap::hold_packet;
            }
        });
    nfcap::QueueSource* source = queue.get();
    std::thread worker([&] {
        nfcap::Verdict marked;
        marked.mark = 0x33;
        while (auto p = handoff.pop(deadline)) {
            const std::uint32_t id = p->packet().packet_id.value();
            try {
                if (sequence_of(p->packet()) % 4 == 1) {
                    source->decide(id, marked);
                } else {
                    source->decide(id, nfcap::Decision(nfcap::Verdict{}, rewritten(p->packet())));
                }
            } catch (const nfcap::VerdictError& e) { // the capture ended first (timeout)
                std::fprintf(stderr, "worker: %s\n", e.what());
            }
        }
    });
    nfcap::LiveCapture live(recorder, nullptr, nullptr);
    live.add(std::move(queue));
    const nfcap::Timestamp start = nfcap::Timestamp{::time(nullptr), 0};
    std::optional<Clock::time_point> quiet;
    live.run([&] {
        if (seen >= count && source->held() == 0) {
            quiet = quiet.value_or(Clock::now());
            return Clock::now() - *quiet > std::chrono::milliseconds(300);
        }
        return Clock::now() >= deadline;
    });
    handoff.close();
    worker.join();
    recorder.finish(start, nfcap::Timestamp{::time(nullptr), 0});
    std::printf("seen=%zu\n", seen.load());
    print_counters(*source);
    check(seen >= count, "timed out");
    return 0;
}

// Receives from `source` into `handler` until `done()`, failing at `deadline`.
template <class Source, class Done>
void receive_until(Source& source, nfcap::RecordHandler& handler, Clock::time_point deadline,
                   Done done) {
    while (!done()) {
        check(Clock::now() < deadline, "timed out");
        pollfd p{source.fd(), POLLIN, 0};
        ::poll(&p, 1, 100);
        source.receive(handler);
    }
}

int run(nfcap::QueueConfig config, const std::string& mode, std::size_t count,
        Clock::time_point deadline) {
    std::unique_ptr<nfcap::QueueSource> source;
    if (mode == "reverse" || mode == "alternate") {
        auto kept = hold(config, count, deadline, source);
        std::thread decider([&] {
            if (mode == "reverse") {
                nfcap::Verdict marked;
                marked.mark = 0x33;
                for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
                    source->decide(id_of(*it), marked);
                }
                return;
            }
            std::vector<std::uint32_t> accepted, dropped;
            for (std::size_t i = 0; i < kept.size(); ++i) {
                (i % 2 == 0 ? accepted : dropped).push_back(id_of(kept[i]));
            }
            nfcap::Verdict drop;
            drop.kind = nfcap::VerdictKind::drop;
            source->decide(dropped, drop);
            source->decide(accepted, nfcap::Verdict{});
        });
        decider.join();
        std::printf("decided=%zu\n", kept.size());
        print_counters(*source);
        const auto c = source->held_counters();
        check(c.held == 0 && c.decided_later == count, "not every held packet was decided");
        return 0;
    }
    if (mode == "rewrite") {
        Handoff handoff;
        std::size_t udp = 0;
        std::size_t rewrites = 0;
        source = std::make_unique<nfcap::QueueSource>(
            config, nfcap::Verdict{},
            [&](const nfcap::Packet& p) -> std::optional<nfcap::Decision> {
                if (p.payload.size() > 9 && std::to_integer<unsigned>(p.payload[9]) == 17) {
                    ++udp;
                }
                handoff.push(nfcap::RetainedPacket(p));
                return nfcap::hold_packet;
            });
        std::thread decider([&] {
            while (auto p = handoff.pop(deadline)) {
                source->decide(id_of(*p),
                               nfcap::Decision(nfcap::Verdict{}, rewritten(p->packet())));
                ++rewrites;
            }
        });
        try {
            receive_until(*source, deadline, [&] { return count > 0 && udp >= count; });
        } catch (const Failure&) {
            if (count > 0) {
                handoff.close();
                decider.join();
                throw;
            }
        }
        handoff.close();
        decider.join();
        std::printf("rewritten=%zu\n", rewrites);
        print_counters(*source);
        return 0;
    }
    if (mode == "deadline") {
        auto kept = hold(config, count, deadline, source);
        receive_until(*source, deadline, [&] { return source->held() == 0; });
        print_counters(*source);
        check(source->held_counters().fallback_deadline == count, "not every packet expired");
        return 0;
    }
    if (mode == "bad-ids") {
        auto kept = hold(config, count, deadline, source);
        const auto refused = [&](std::uint32_t id, const std::string& expected) {
            try {
                source->decide(id, nfcap::Verdict{});
            } catch (const nfcap::VerdictError& e) {
                std::printf("refused: %s\n", e.what());
                check(std::string(e.what()).find(expected) != std::string::npos,
                      std::string("unexpected refusal: ") + e.what());
                return;
            }
            throw Failure("a verdict for packet " + std::to_string(id) + " was not refused");
        };
        const std::uint32_t first = id_of(kept.front());
        const std::uint32_t last = id_of(kept.back());
        refused(last + 1000, "is not held here");
        refused(first - 1, "is not held here");
        source->decide(first, nfcap::Verdict{});
        refused(first, "was already decided");
        try {
            std::vector<std::byte> too_long(nfcap::max_rewrite_length + 1);
            source->decide(last, nfcap::Decision(nfcap::Verdict{}, too_long));
            throw Failure("a payload longer than an attribute was not refused");
        } catch (const nfcap::VerdictError& e) {
            std::printf("refused: %s\n", e.what());
        }
        const std::vector<std::uint32_t> with_bad = {last, last + 1};
        try {
            source->decide(with_bad, nfcap::Verdict{});
            throw Failure("a call with one bad id was not refused");
        } catch (const nfcap::VerdictError& e) {
            std::printf("refused: %s\n", e.what());
        }
        // A packet named twice in one call, out of order or next to itself: refused whole.
        for (const std::vector<std::uint32_t>& twice :
             {std::vector<std::uint32_t>{last, last - 1, last},
              std::vector<std::uint32_t>{last - 1, last - 1}}) {
            try {
                source->decide(twice, nfcap::Verdict{});
                throw Failure("a call naming a packet twice was not refused");
            } catch (const nfcap::VerdictError& e) {
                std::printf("refused: %s\n", e.what());
                check(std::string(e.what()).find("was already decided") != std::string::npos,
                      std::string("unexpected refusal: ") + e.what());
            }
        }
        check(source->held() == count - 1, "a refused call decided something");
        std::vector<std::uint32_t> rest;
        for (std::size_t i = 1; i < kept.size(); ++i) {
            rest.push_back(id_of(kept[i]));
        }
        source->decide(rest, nfcap::Verdict{});
        print_counters(*source);
        check(source->held_counters().refused == 7, "seven refusals expected");
        return 0;
    }
    if (mode == "hold-many") {
        config.receive_buffer = 16384;
        auto kept = hold(config, count, deadline, source);
        const auto kernel = source->kernel_counters();
        check(kernel.has_value(), "the queue is not listed");
        std::printf("max_length=%u\nloss_countable=%d\nwaiting=%llu\n", source->max_length(),
                    source->loss_countable() ? 1 : 0,
                    static_cast<unsigned long long>(kernel->waiting));
        check(kernel->waiting == count, "the kernel's queue does not hold every held packet");
        std::vector<std::uint32_t> ids;
        for (const auto& p : kept) {
            ids.push_back(id_of(p));
        }
        source->decide(ids, nfcap::Verdict{});
        print_counters(*source);
        return 0;
    }
    if (mode == "exit") {
        auto kept = hold(config, count, deadline, source);
        std::printf("left holding=%zu\n", source->held());
        source.reset(); // the destructor gives the fallback, then unbinds
        return 0;
    }
    if (mode == "unbind") {
        auto kept = hold(config, count, deadline, source);
        source->unbind();
        print_counters(*source);
        try {
            source->decide(id_of(kept.front()), nfcap::Verdict{});
            throw Failure("a verdict after unbind() was not refused");
        } catch (const nfcap::VerdictError& e) {
            std::printf("refused: %s\n", e.what());
        }
        return 0;
    }
    if (mode == "capture") {
        return capture(config, count, deadline);
    }
    if (mode == "pull") {
        nfcap::QueueReader reader(config);
        std::vector<std::uint32_t> ids;
        while (ids.size() < count) {
            check(Clock::now() < deadline, "timed out");
            if (auto p = reader.next(std::chrono::milliseconds(100))) {
                check(p->packet().payload.size() >= 20, "a pulled packet without its bytes");
                ids.push_back(p->packet().packet_id.value());
            }
        }
        check(reader.source().held() == count, "pulled packets are not held");
        reader.source().decide(ids, nfcap::Verdict{});
        print_counters(reader.source());
        return 0;
    }
    if (mode == "feed") {
        nfcap::QueueSource queue(config, nfcap::Verdict{},
                                 [](const nfcap::Packet&) { return nfcap::Verdict{}; });
        Ignore ignore;
        std::vector<std::byte> buffer(0x10000 + 4096);
        std::size_t fed = 0;
        while (queue.packets() < count) {
            check(Clock::now() < deadline, "timed out");
            pollfd p{queue.fd(), POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) {
                continue;
            }
            const ssize_t n = ::recv(queue.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n > 0) {
                queue.feed(std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(n)),
                           ignore);
                ++fed;
            }
        }
        std::printf("fed=%zu\npackets=%llu\n", fed,
                    static_cast<unsigned long long>(queue.packets()));
        return 0;
    }
    if (mode == "log-pull") {
        nfcap::NflogConfig log;
        log.groups = {config.queue};
        nfcap::LogReader reader(log);
        std::size_t records = 0;
        // As a range: it ends after 5 s without a record (the test sends within that).
        for (const nfcap::RetainedPacket& p : reader.packets(std::chrono::seconds(5))) {
            std::printf("record prefix=%.*s length=%zu\n", static_cast<int>(p->prefix.size()),
                        p->prefix.data(), p->payload.size());
            if (++records == count) {
                break;
            }
        }
        check(records == count, "the range ended after " + std::to_string(records) + " records");
        std::printf("records=%zu\ndamaged=%llu\n", records,
                    static_cast<unsigned long long>(reader.damaged()));
        return 0;
    }
    if (mode == "log-groups") {
        nfcap::NflogConfig log;
        const auto second_group = static_cast<std::uint16_t>(config.queue + 1);
        log.groups = {config.queue, second_group};
        nfcap::NflogSource both(log);
        struct Count final : nfcap::RecordHandler {
            std::size_t records = 0;
            void on_record(std::span<const std::byte>, nfcap::Timestamp) override { ++records; }
        } first, second;
        nfcap::RecordRouter router;
        router.route(config.queue, first);
        router.route(second_group, second);
        receive_until(both, router, deadline,
                      [&] { return first.records >= count && second.records >= count; });
        both.unbind(second_group, router);
        std::printf("unbound %u\n", static_cast<unsigned>(second_group));
        std::fflush(stdout);
        const auto end = Clock::now() + std::chrono::seconds(2);
        while (Clock::now() < end) {
            pollfd p{both.fd(), POLLIN, 0};
            ::poll(&p, 1, 100);
            both.receive(router);
        }
        std::printf("first=%zu\nsecond=%zu\nunrouted=%llu\n", first.records, second.records,
                    static_cast<unsigned long long>(router.unrouted()));
        return 0;
    }
    if (mode == "queue-pair") {
        const auto second_queue = static_cast<std::uint16_t>(config.queue + 1);
        config.more_queues = {second_queue};
        std::vector<nfcap::DecisionFor> pending;
        nfcap::QueueSource both(config, nfcap::Verdict{},
                                [&](const nfcap::Packet& p) -> std::optional<nfcap::Decision> {
                                    pending.emplace_back(p.packet_id.value(), nfcap::Verdict{},
                                                         p.resource_id);
                                    return nfcap::hold_packet;
                                });
        check(both.queues() == std::vector<std::uint16_t>{config.queue, second_queue},
              "queues() does not list both queues");
        struct Count final : nfcap::RecordHandler {
            std::size_t records = 0;
            std::uint16_t queue = 0;
            bool wrong = false;
            void on_record(std::span<const std::byte>, nfcap::Timestamp) override { ++records; }
            void on_packet(nfcap::RecordKind, const nfcap::Packet& p, std::span<const std::byte>,
                           nfcap::Timestamp) override {
                ++records;
                wrong = wrong || p.resource_id != queue;
            }
        } first, second;
        first.queue = config.queue;
        second.queue = second_queue;
        nfcap::RecordRouter router;
        router.route(config.queue, first);
        router.route(second_queue, second);
        receive_until(both, router, deadline,
                      [&] { return first.records >= count && second.records >= count; });
        check(both.held() == 2 * count, "not every packet of both queues is held");
        try {
            both.decide(pending.front().id, nfcap::Verdict{});
            throw Failure("a verdict without its queue was not refused on a two-queue source");
        } catch (const nfcap::VerdictError& e) {
            std::printf("refused: %s\n", e.what());
        }
        nfcap::Verdict drop;
        drop.kind = nfcap::VerdictKind::drop;
        for (auto& d : pending) {
            if (d.queue == second_queue) {
                d.decision = nfcap::Decision(drop);
            }
        }
        both.decide(std::span<nfcap::DecisionFor>(pending));
        pending.clear();
        check(both.held() == 0, "packets still held after deciding them all");
        both.unbind(second_queue, router);
        check(both.queues() == std::vector<std::uint16_t>{config.queue},
              "queues() still lists the unbound queue");
        std::printf("unbound %u\n", static_cast<unsigned>(second_queue));
        std::fflush(stdout);
        const auto end = Clock::now() + std::chrono::seconds(2);
        while (Clock::now() < end) {
            pollfd p{both.fd(), POLLIN, 0};
            ::poll(&p, 1, 100);
            both.receive(router);
            for (const auto& d : pending) {
                both.decide(d.queue.value(), d.id, nfcap::Verdict{});
            }
            pending.clear();
        }
        check(!first.wrong && !second.wrong, "a record reached the other queue's handler");
        both.unbind(config.queue, router); // the last one: the source then binds none
        check(both.queues().empty(), "queues() lists a queue after both were unbound");
        both.receive(router); // nothing bound: whatever still comes is passed over
        try {
            both.decide(config.queue, 1, nfcap::Verdict{});
            throw Failure("a verdict for a queue unbound was not refused");
        } catch (const nfcap::VerdictError& e) {
            std::printf("refused: %s\n", e.what());
        }
        std::printf("first=%zu\nsecond=%zu\nunrouted=%llu\n", first.records, second.records,
                    static_cast<unsigned long long>(router.unrouted()));
        print_counters(both);
        return 0;
    }
    if (mode == "log-overrun-raise" || mode == "log-overrun-disable") {
        nfcap::NflogConfig log;
        log.groups = {config.queue};
        log.receive_buffer = 4096;
        log.on_overrun = mode == "log-overrun-raise" ? nfcap::OverrunPolicy::raise
                                                     : nfcap::OverrunPolicy::disable;
        nfcap::NflogSource log_source(log);
        std::printf("bound\n");
        std::fflush(stdout);
        std::this_thread::sleep_for(std::chrono::seconds(count));
        class Count final : public nfcap::RecordHandler {
          public:
            void on_record(std::span<const std::byte>, nfcap::Timestamp) override { ++records; }
            std::size_t records = 0;
        } counted;
        std::size_t raised = 0;
        const auto end = Clock::now() + std::chrono::seconds(1);
        while (Clock::now() < end) {
            try {
                log_source.receive(counted);
            } catch (const nfcap::OverrunError& e) {
                if (raised++ == 0) {
                    std::printf("error: %s\n", e.what());
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        std::printf("raised=%zu\noverruns=%llu\nrecords=%zu\ndrops=%llu\n", raised,
                    static_cast<unsigned long long>(log_source.counters().overruns),
                    counted.records,
                    static_cast<unsigned long long>(log_source.socket_drops().value_or(0)));
        return 0;
    }
    std::fprintf(stderr, "nfcap_queue_hold: unknown mode '%s'\n", mode.c_str());
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr,
                     "usage: nfcap_queue_hold QUEUE MODE COUNT [--timeout S] [--hold-ms MS]\n");
        return 2;
    }
    try {
        nfcap::QueueConfig config;
        config.queue = static_cast<std::uint16_t>(std::stoul(argv[1]));
        const std::string mode = argv[2];
        const std::size_t count = std::stoul(argv[3]);
        double timeout = 20;
        for (int i = 4; i + 1 < argc; i += 2) {
            const std::string option = argv[i];
            if (option == "--timeout") {
                timeout = std::stod(argv[i + 1]);
            } else if (option == "--socket-netns") {
                const int fd = socket_in(argv[i + 1]);
                config.socket = fd;
                std::printf("adopted=%d\n", fd); // nfcap works on a duplicate of it
            } else if (option == "--write") {
                write_path = argv[i + 1];
            } else if (option == "--max-length") {
                config.max_length = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
            } else if (option == "--hold-ms") {
                config.hold_timeout = std::chrono::milliseconds(std::stoul(argv[i + 1]));
            } else {
                std::fprintf(stderr, "nfcap_queue_hold: unknown option '%s'\n", option.c_str());
                return 2;
            }
        }
        const auto deadline =
            Clock::now() + std::chrono::milliseconds(static_cast<long long>(timeout * 1000));
        const int rc = run(config, mode, count, deadline);
        std::fflush(stdout);
        return rc;
    } catch (const Failure& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "nfcap_queue_hold: FAILED: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "nfcap_queue_hold: %s\n", e.what());
        return 1;
    }
}
