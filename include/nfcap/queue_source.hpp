#pragma once
// A live NFQUEUE source: one netlink socket bound to one queue. It gives every packet its
// verdict as soon as it is received, before anything is written, and only then hands the
// bytes on, so a slow output can never hold traffic. Same shape as NflogSource.
//
// A program may instead hold a packet (its decide function answers `hold_packet`) and decide
// it later, from any thread, with decide(id, ...): out of order, with a new mark or new bytes.
// No packet is left without a verdict: one still held when its deadline passes, when the
// queue is unbound or when the source is destroyed gets the configured fallback verdict, and
// each of those cases is counted (HeldCounters).

#include <nfcap/nflog_source.hpp>
#include <nfcap/packet.hpp>
#include <nfcap/pcapng.hpp>
#include <nfcap/verdict.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nfcap {

struct QueueConfig {
    std::uint16_t queue = 0;
    // More queues, bound on the same socket with the same settings. Each packet's record names
    // its queue (RecordRouter gives each queue its own handler); a held packet is decided with
    // its queue named (DecisionFor::queue, decide(queue, id, ...)); unbind(queue, handler)
    // releases one alone.
    std::vector<std::uint16_t> more_queues;
    std::uint32_t copy_range = 0xffff; // bytes of each packet the kernel copies
    // Metadata only: none or meta. The kernel then says nothing of a packet's length; with
    // packet and a short copy_range it does (NFQA_CAP_LEN), so a header-sized range keeps
    // every length at little cost.
    CopyMode copy_mode = CopyMode::packet;
    // NFQA_CFG_QUEUE_MAXLEN: packets waiting for a verdict. By default more than the socket
    // buffer can hold (countable_queue_length, loss.hpp), so that with fail-open the socket
    // overflows before the queue does and every packet that passes unseen leaves an id gap.
    std::optional<std::uint32_t> max_length;
    std::uint32_t receive_buffer = 64U << 20U; // SO_RCVBUFFORCE, bytes
    bool fail_open = true;  // NFQA_CFG_F_FAIL_OPEN: a full queue lets packets pass
    bool gso = false;       // NFQA_CFG_F_GSO: GSO packets arrive whole
    bool uid_gid = true;    // NFQA_CFG_F_UID_GID
    bool secctx = false;    // NFQA_CFG_F_SECCTX
    bool conntrack = false; // NFQA_CFG_F_CONNTRACK
    OverrunPolicy on_overrun = OverrunPolicy::count; // see nflog_source.hpp
    // A NETLINK_NETFILTER socket the caller opened, to use instead of a new one (as NflogConfig's:
    // one made in another network namespace decides that namespace's queue; nfcap works on a
    // duplicate).
    std::optional<int> socket;

    // Held packets: the verdict a packet gets when no decision came before its deadline, when
    // the queue is unbound or the source destroyed, or when the decide function threw for it.
    Verdict fallback;
    // How long a packet may be held; zero: until the program decides it or stops. Deadlines
    // are checked in receive(), so poll with at most next_deadline_ms() as the timeout (or call
    // receive_waiting(), which waits no longer).
    std::chrono::milliseconds hold_timeout{0};
};

namespace detail {
class HeldPackets;
}

// A verdict for a packet this queue does not hold (never received, or already decided), a
// payload the kernel cannot take, or a verdict after unbind(). Nothing was sent.
class VerdictError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Decides a packet in an embedding program: a decision now (a Verdict converts to one), or
// `hold_packet` to decide it later with QueueSource::decide(). Runs on the receive thread,
// before the packet is written anywhere; it must be quick and must not block. The Packet is a
// view valid during the call: keep a RetainedPacket (retained_packet.hpp) to use it later.
using VerdictFunction = std::function<std::optional<Decision>(const Packet&)>;
inline constexpr std::nullopt_t hold_packet = std::nullopt;

// A decision for one held packet, for deciding many at once.
struct DecisionFor {
    DecisionFor() = default;
    DecisionFor(std::uint32_t packet_id, Decision d,
                std::optional<std::uint16_t> of_queue = std::nullopt)
        : id(packet_id), decision(std::move(d)), queue(of_queue) {}

    std::uint32_t id = 0;
    Decision decision;
    // The packet's queue; needed when the source binds several (QueueConfig::more_queues).
    std::optional<std::uint16_t> queue;
};

// What happened to held packets since the source was opened.
struct HeldCounters {
    std::uint64_t held = 0;              // held now, waiting for a decision
    std::uint64_t decided_later = 0;     // decided by decide()
    std::uint64_t refused = 0;           // decide() calls refused (VerdictError)
    std::uint64_t fallback_deadline = 0; // got the fallback: no decision before the deadline
    std::uint64_t fallback_close = 0;    // got the fallback: still held at unbind or destruction
    std::uint64_t fallback_error = 0;    // got the fallback: the decide function threw for it,
                                         // or answered with a payload the kernel cannot take
};

// The kernel's own counters for a queue (/proc/net/netfilter/nfnetlink_queue).
struct QueueKernelCounters {
    std::uint64_t waiting = 0;      // packets queued now, waiting for a verdict
    std::uint64_t dropped = 0;      // queue full without fail-open
    std::uint64_t user_dropped = 0; // the kernel could not deliver to our socket
    std::uint64_t id_sequence = 0;  // the last packet id handed out
    unsigned copy_mode = 0;
    std::uint32_t copy_range = 0;
};

class QueueSource {
  public:
    // Binds the queue. `policy` is given to every packet unless `decide` is set, in which case
    // decide() is asked for each one. Throws BindError naming the owner or missing capability.
    QueueSource(QueueConfig config, Verdict policy, VerdictFunction decide = {});
    // Gives every held packet the fallback verdict, then unbinds; see drain() for giving every
    // queued packet its verdict first.
    ~QueueSource();
    QueueSource(const QueueSource&) = delete;
    QueueSource& operator=(const QueueSource&) = delete;

    int fd() const;
    const QueueConfig& config() const { return config_; }
    const std::vector<std::string>& warnings() const { return warnings_; }

    // Reads every message pending now (never blocks), sends the verdicts (one batch verdict
    // when the policy allows), then hands each datagram and record to `handler`. Returns the
    // number of datagrams read. Also gives held packets past their deadline the fallback.
    // When the decide function throws, the packets of the batch it had not decided get the
    // fallback verdict, the records are handed on, and then the exception is rethrown.
    std::size_t receive(RecordHandler& handler);
    // The same, reading at most `max_datagrams` (one packet each) this time.
    std::size_t receive(RecordHandler& handler, std::size_t max_datagrams);
    // As receive(), but when nothing is pending, first waits up to `wait` (and no longer than
    // the next held packet's deadline) for a packet, in the receive call itself: a loop needs
    // no poll() before it, one system call less per wake-up, and at a paced rate a wake-up
    // brings one packet or a few. Returns 0 when none came.
    std::size_t receive_waiting(RecordHandler& handler, std::chrono::milliseconds wait);
    // Handles one datagram the program read from fd() itself (an event loop that owns the
    // reading): verdicts, held packets and hand-off exactly as receive() does.
    void feed(std::span<const std::byte> datagram, RecordHandler& handler);

    // Decides a held packet, from any thread, and sends the verdict at once. A run of decided
    // packets at the front of the held ones goes out as one batch verdict. Throws VerdictError
    // (see there); nothing is decided then. Without a queue, the source must bind one only.
    void decide(std::uint32_t id, Decision decision);
    void decide(std::uint16_t queue, std::uint32_t id, Decision decision);
    // Decides several held packets alike, in as few messages as their order allows. All or
    // nothing: one id that is not held refuses the whole call.
    void decide(std::span<const std::uint32_t> ids, const Decision& decision);
    // Decides several held packets, each its own way, sent together (rewrites too: one
    // sendto() for many). All or nothing, as above; the payloads are moved out only when the
    // call succeeds.
    void decide(std::span<DecisionFor> decisions);
    // Packets held now.
    std::size_t held() const;
    HeldCounters held_counters() const;
    // Milliseconds until the earliest deadline of a held packet (a poll() timeout), -1 if none.
    int next_deadline_ms() const;

    // Shutting down without holding traffic: every packet still queued is received and given
    // its verdict (bounded by `timeout_ms`). With fail-open and a plain accept policy, the
    // queue length is set to 0 first, so new packets pass straight through instead of queueing
    // behind; a drop, queue:N, repeat or marking policy keeps applying to new packets until the
    // queue is unbound.
    void drain(RecordHandler& handler, int timeout_ms = 2000);

    // Gives every held packet the fallback verdict and unbinds the queue now (closing the
    // socket); the destructor does it otherwise. With `handler`, the fallback decisions are
    // handed to it (RecordHandler::on_decision) as receive() hands the others.
    void unbind();
    void unbind(RecordHandler& handler);
    // Unbinds one queue of several, now: its held packets get the fallback (decisions handed to
    // `handler`), the kernel releases it (dropping what is still queued to it, as for unbind()),
    // and the other queues go on. Throws std::invalid_argument for a queue not bound here.
    void unbind(std::uint16_t queue, RecordHandler& handler);
    // The queues bound now: config().queue first, then more_queues, less any unbound.
    std::vector<std::uint16_t> queues() const;
    // True when a decide function decides each packet (rather than the policy).
    bool decides() const { return static_cast<bool>(decide_); }

    // Reads the kernel's counters for the queue (config().queue by default); nullopt when the
    // queue is not listed.
    std::optional<QueueKernelCounters> kernel_counters() const;
    std::optional<QueueKernelCounters> kernel_counters(std::uint16_t queue) const;

    // The queue length the kernel was given (the configured one, or the countable default).
    std::uint32_t max_length() const { return max_length_; }
    // False when, with fail-open, the queue can fill before the socket buffer does: packets
    // that find it full then pass without an id, counted nowhere (a warning says so). Held
    // packets count against the queue's length too: with the default length the source raises
    // it as holds grow, so that it stays countable; a length set in the config is kept, and
    // once holds eat into its margin this turns false.
    bool loss_countable() const { return loss_countable_.load(std::memory_order_relaxed); }
    // The highest packet id received so far (0: none), modulo 2^32, of config().queue or of
    // `queue`.
    std::uint32_t last_id() const;
    std::uint32_t last_id(std::uint16_t queue) const;
    // Datagrams (one packet each) the kernel could not deliver to the socket, since it was
    // opened; nullopt when the kernel does not say.
    std::optional<std::uint64_t> socket_drops() const;

    const SourceCounters& counters() const { return counters_; }
    std::uint64_t packets() const { return packets_; }
    // The verdict as the comment names it; empty when decide() chooses per packet.
    const std::string& verdict_text() const { return verdict_text_; }

  private:
    std::size_t receive_some(RecordHandler& handler, std::size_t max_datagrams,
                             std::chrono::milliseconds wait);
    void configure(std::uint16_t queue);
    void set_max_length(std::uint32_t length);
    void send_verdicts(std::span<const std::span<const std::byte>> datagrams, Timestamp time,
                       RecordHandler& handler);
    void ask(std::span<const std::span<const std::byte>> datagrams);
    // Hands the datagrams and their records to `handler`: with a decide function, the packets
    // ask() decoded, decoded; otherwise each record to be decoded by the handler.
    void hand_on(std::span<const std::span<const std::byte>> datagrams, Timestamp time,
                 RecordHandler& handler);
    // With the mutex held: turns every decision not sent yet into messages and sends them.
    void flush_held(std::vector<std::byte>& buffer, RecordHandler* handler, Timestamp time);
    void send_buffer(std::vector<std::byte>& buffer, RecordHandler* handler, Timestamp time);
    void close_socket();
    void deliver_decisions(RecordHandler& handler);

    QueueConfig config_;
    Verdict policy_;
    VerdictFunction decide_;
    std::string verdict_text_;
    std::unique_ptr<detail::NetlinkSocket> socket_;
    std::vector<std::string> warnings_;
    std::vector<std::vector<std::byte>> pending_;      // packets queued while configuring
    std::vector<std::byte> verdict_buffer_;            // verdict messages, reused
    std::vector<std::span<const std::byte>> received_; // one receive's, sized once
    SourceCounters counters_;
    std::uint64_t packets_ = 0;
    std::uint32_t max_length_ = 0;
    std::uint32_t countable_length_ = 0; // the least countable length without holds
    std::atomic<bool> loss_countable_{true};
    // With the mutex held, after packets were held: keeps the queue's length countable.
    void keep_countable(std::size_t held);
    // Each queue bound, with its held packets (shared with the threads that call decide(),
    // under held_mutex_) and the highest id received.
    struct Bound {
        std::uint16_t queue = 0;
        std::unique_ptr<detail::HeldPackets> held;
        std::uint32_t last_id = 0;
        std::optional<std::uint32_t> batch_highest; // the receive batch's, for its batch verdict
    };
    std::vector<Bound> bound_;
    Bound* bound(std::uint16_t queue);
    const Bound* bound(std::uint16_t queue) const;
    // The queue of a record (its nfgenmsg res_id); null for a queue no longer bound.
    Bound* bound_for(std::span<const std::byte> record);
    // With the mutex held: packets held in every queue.
    std::size_t held_now() const;
    // "nfqueue:5", or "nfqueue:5,6" for several, for messages.
    std::string queue_names() const;

    mutable std::mutex held_mutex_;
    HeldCounters held_counters_;
    std::vector<std::byte> decide_buffer_; // verdict messages of decide(), reused
    // The receive thread's scratch for asking the decide function.
    // Every NFQUEUE record of the batch: where it is, its decoded packet in asked_ (-1 when it
    // could not be decoded) and whether it is held.
    struct AskedRecord {
        std::span<const std::byte> record;
        std::size_t datagram = 0;
        std::ptrdiff_t packet = -1;
        bool held = false;
        Bound* queue = nullptr; // null: a queue unbound since
    };
    std::vector<Packet> asked_;
    std::vector<AskedRecord> asked_records_;
    struct Answer {
        Bound* queue = nullptr;
        std::uint32_t id = 0;
        Decision decision;
    };
    std::vector<Answer> answers_;
    std::exception_ptr decide_error_;
    // Decisions for a handler that wants them, logged as they are sent (any thread) and handed
    // on by the receive thread.
    struct LoggedDecision {
        PacketDecision decision;
        std::vector<std::byte> payload;
        Timestamp time;
    };
    std::atomic<bool> log_decisions_{false};
    std::vector<LoggedDecision> decision_log_;
    std::vector<LoggedDecision> delivering_;
};

} // namespace nfcap
