// Deferred NFQUEUE verdicts in an embedding program: every packet is held while a worker
// thread decides it, as a program does that asks a database, a reputation service or a user
// before letting a connection through. The receive thread only keeps a copy of each packet
// (RetainedPacket) and hands it on; the worker decides in batches: UDP to port 9 (discard) is
// dropped, everything else accepted with mark 0x1, and with --rewrite each UDP payload is
// replaced by an upper-cased copy (lengths and checksums fixed). A packet the worker does not
// decide within 2 seconds gets the fallback verdict (accept); so do the ones still held at exit.
//
//   iptables -A INPUT -j NFQUEUE --queue-num 5 --queue-bypass
//   nfcap_deferred_verdicts 5 [--batch N] [--rewrite]   # CAP_NET_ADMIN; Ctrl-C stops
//
// At the end it prints how many packets were held and decided and how many got the fallback.
#include <nfcap/checksum.hpp>
#include <nfcap/queue_source.hpp>
#include <nfcap/retained_packet.hpp>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

volatile std::sig_atomic_t stop = 0;
extern "C" void on_signal(int) {
    stop = 1;
}

// IPv4 without options: the protocol and, for UDP, the destination port.
bool is_udp(const nfcap::Packet& p) {
    return p.payload.size() >= 28 && (std::to_integer<unsigned>(p.payload[0]) >> 4U) == 4 &&
           std::to_integer<unsigned>(p.payload[9]) == 17;
}
bool is_discard(const nfcap::Packet& p) {
    return is_udp(p) && ((std::to_integer<unsigned>(p.payload[22]) << 8U) |
                         std::to_integer<unsigned>(p.payload[23])) == 9;
}

std::vector<std::byte> upper_cased(const nfcap::Packet& p) {
    std::vector<std::byte> bytes(p.payload.begin(), p.payload.end());
    const std::size_t data = (std::to_integer<unsigned>(bytes[0]) & 0xfU) * 4 + 8;
    for (std::size_t i = data; i < bytes.size(); ++i) {
        const auto c = std::to_integer<unsigned char>(bytes[i]);
        if (c >= 'a' && c <= 'z') {
            bytes[i] = static_cast<std::byte>(c - 'a' + 'A');
        }
    }
    nfcap::fix_lengths_and_checksums(bytes);
    return bytes;
}

// Held packets on their way from the receive thread to the worker, handed over a receive
// batch at a time: one lock and at most one wake-up per batch, not per packet. The two vectors
// are swapped back and forth, so after the first batches nothing is allocated here.
//
// Bounded: when the worker is `limit` packets behind, the receive thread waits for it instead
// of reading on. Packets then wait in the socket buffer, whose memory the kernel has already
// spent, rather than piling up here: an unbounded pile grows the heap (page faults) and turns
// the worker's data cold, which made a worker that fell behind fall further behind.
class Pending {
  public:
    explicit Pending(std::size_t limit) : limit_(limit) {}

    // Moves every packet of `arrived` over and leaves it empty; waits (at most 100 ms at a
    // time, so that a signal is seen) while the worker is `limit` packets behind.
    void push_all(std::vector<nfcap::RetainedPacket>& arrived) {
        if (arrived.empty()) {
            return;
        }
        bool was_empty = false;
        {
            std::unique_lock lock(mutex_);
            while (packets_.size() >= limit_ && !closed_ && stop == 0) {
                room_.wait_for(lock, std::chrono::milliseconds(100));
            }
            was_empty = packets_.empty();
            if (was_empty) {
                packets_.swap(arrived);
            } else {
                std::move(arrived.begin(), arrived.end(), std::back_inserter(packets_));
            }
        }
        arrived.clear();
        if (was_empty) { // the worker waits only for an empty queue
            ready_.notify_one();
        }
    }
    // Every packet waiting, into `out` (emptied first), waiting at most 100 ms for the first;
    // `out` stays empty when closed.
    void take_all(std::vector<nfcap::RetainedPacket>& out) {
        out.clear();
        {
            std::unique_lock lock(mutex_);
            ready_.wait_for(lock, std::chrono::milliseconds(100),
                            [&] { return !packets_.empty() || closed_; });
            packets_.swap(out);
        }
        room_.notify_one();
    }
    void close() {
        {
            const std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
        room_.notify_all();
    }
    bool closed() {
        const std::lock_guard lock(mutex_);
        return closed_ && packets_.empty();
    }

  private:
    const std::size_t limit_;
    std::mutex mutex_;
    std::condition_variable ready_, room_;
    std::vector<nfcap::RetainedPacket> packets_;
    bool closed_ = false;
};

// One call for many packets: consecutive ids go out as one batch verdict. The call is all or
// nothing, so when one packet was decided meanwhile (its deadline passed), decide the rest one
// by one.
void decide_all(nfcap::QueueSource& source, const std::vector<std::uint32_t>& ids,
                const nfcap::Verdict& verdict) {
    try {
        source.decide(ids, verdict);
    } catch (const nfcap::VerdictError&) {
        for (const std::uint32_t id : ids) {
            try {
                source.decide(id, verdict);
            } catch (const nfcap::VerdictError& e) {
                std::cerr << "nfcap_deferred_verdicts: " << e.what() << '\n';
            }
        }
    }
}

// The same for decisions of their own (rewrites), sent together.
void decide_all(nfcap::QueueSource& source, std::vector<nfcap::DecisionFor>& decisions) {
    try {
        source.decide(decisions);
    } catch (const nfcap::VerdictError&) { // nothing was decided or moved out
        for (auto& d : decisions) {
            try {
                source.decide(d.id, std::move(d.decision));
            } catch (const nfcap::VerdictError& e) {
                std::cerr << "nfcap_deferred_verdicts: " << e.what() << '\n';
            }
        }
    }
}

class Ignore final : public nfcap::RecordHandler {
  public:
    void on_record(std::span<const std::byte>, nfcap::Timestamp) override {}
    bool wants_records() const override { return false; }
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: nfcap_deferred_verdicts QUEUE [--batch N] [--rewrite]\n";
        return 2;
    }
    std::size_t batch = 64;
    bool rewrite = false;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--batch" && i + 1 < argc) {
            batch = std::max<std::size_t>(1, std::stoul(argv[++i]));
        } else if (arg == "--rewrite") {
            rewrite = true;
        } else {
            std::cerr << "nfcap_deferred_verdicts: unknown argument '" << arg << "'\n";
            return 2;
        }
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    try {
        nfcap::QueueConfig config;
        config.queue = static_cast<std::uint16_t>(std::stoul(argv[1]));
        config.hold_timeout = std::chrono::seconds(2);
        Pending pending(8 * batch);
        std::vector<nfcap::RetainedPacket> arrived; // this receive batch's, for the worker
        nfcap::QueueSource source(
            config, nfcap::Verdict{},
            [&arrived](const nfcap::Packet& p) -> std::optional<nfcap::Decision> {
                arrived.emplace_back(p);
                return nfcap::hold_packet; // decided by the worker
            });
        std::thread worker([&] {
            nfcap::Verdict accept;
            accept.mark = 0x1;
            nfcap::Verdict drop;
            drop.kind = nfcap::VerdictKind::drop;
            std::vector<std::uint32_t> accepted, dropped;
            std::vector<nfcap::DecisionFor> rewritten;
            std::vector<nfcap::RetainedPacket> taken;
            while (!pending.closed()) {
                pending.take_all(taken);
                for (std::size_t from = 0; from < taken.size(); from += batch) {
                    accepted.clear();
                    dropped.clear();
                    rewritten.clear();
                    const std::size_t to = std::min(taken.size(), from + batch);
                    for (std::size_t i = from; i < to; ++i) {
                        const nfcap::Packet& held = taken[i].packet();
                        const std::uint32_t id = *held.packet_id;
                        if (is_discard(held)) {
                            dropped.push_back(id);
                        } else if (rewrite && is_udp(held)) {
                            rewritten.push_back({id, nfcap::Decision(accept, upper_cased(held))});
                        } else {
                            accepted.push_back(id);
                        }
                    }
                    decide_all(source, accepted, accept);
                    decide_all(source, dropped, drop);
                    decide_all(source, rewritten);
                }
            }
        });
        Ignore ignore;
        while (stop == 0) {
            const int deadline = source.next_deadline_ms();
            pollfd p{source.fd(), POLLIN, 0};
            ::poll(&p, 1, deadline >= 0 && deadline < 200 ? deadline : 200);
            // At most a batch at a time, handed on at once: the worker decides while the socket
            // refills, instead of waiting for the receive thread to catch up with the sender.
            // receive() also gives the fallback to packets past their deadline.
            source.receive(ignore, batch);
            pending.push_all(arrived);
        }
        pending.close();
        worker.join();
        source.unbind(); // packets still held get the fallback
        const nfcap::HeldCounters c = source.held_counters();
        std::cerr << "nfcap_deferred_verdicts: " << source.packets() << " packets held, "
                  << c.decided_later << " decided by the worker, "
                  << c.fallback_deadline + c.fallback_close << " got the fallback ("
                  << c.fallback_deadline << " past their deadline, " << c.fallback_close
                  << " at exit), " << c.refused << " verdicts refused\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "nfcap_deferred_verdicts: " << e.what() << '\n';
        return 1;
    }
}
