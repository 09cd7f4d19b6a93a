#pragma once
// A live NFQUEUE source: one netlink socket bound to one queue. It gives every packet its
// verdict as soon as it is received, before anything is written, and only then hands the
// bytes on, so a slow output can never hold traffic. Same shape as NflogSource.

#include <nfcap/nflog_source.hpp>
#include <nfcap/packet.hpp>
#include <nfcap/pcapng.hpp>
#include <nfcap/verdict.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace nfcap {

struct QueueConfig {
    std::uint16_t queue = 0;
    std::uint32_t copy_range = 0xffff; // bytes of each packet the kernel copies
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
};

// Decides a packet's verdict in an embedding program. Runs on the receive thread, before the
// packet is written anywhere; it must be quick and must not block.
using VerdictFunction = std::function<Verdict(const Packet&)>;

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
    ~QueueSource(); // unbinds; see drain() for giving every queued packet its verdict first
    QueueSource(const QueueSource&) = delete;
    QueueSource& operator=(const QueueSource&) = delete;

    int fd() const { return fd_; }
    const QueueConfig& config() const { return config_; }
    const std::vector<std::string>& warnings() const { return warnings_; }

    // Reads every message pending now (never blocks), sends the verdicts (one batch verdict
    // when the policy allows), then hands each datagram and record to `handler`. Returns the
    // number of datagrams read.
    std::size_t receive(RecordHandler& handler);

    // Shutting down without holding traffic: every packet still queued is received and given
    // its verdict (bounded by `timeout_ms`). With fail-open and a plain accept policy, the
    // queue length is set to 0 first, so new packets pass straight through instead of queueing
    // behind; a drop, queue:N, repeat or marking policy keeps applying to new packets until the
    // queue is unbound.
    void drain(RecordHandler& handler, int timeout_ms = 2000);

    // Unbinds the queue now (closing the socket); the destructor does it otherwise.
    void unbind();

    // Reads the kernel's counters for this queue; nullopt when the queue is not listed.
    std::optional<QueueKernelCounters> kernel_counters() const;

    // The queue length the kernel was given (the configured one, or the countable default).
    std::uint32_t max_length() const { return max_length_; }
    // False when, with fail-open, the queue can fill before the socket buffer does: packets
    // that find it full then pass without an id, counted nowhere (a warning says so).
    bool loss_countable() const { return loss_countable_; }
    // The highest packet id received so far (0: none), modulo 2^32.
    std::uint32_t last_id() const { return last_id_; }
    // Datagrams (one packet each) the kernel could not deliver to the socket, since it was
    // opened; nullopt when the kernel does not say.
    std::optional<std::uint64_t> socket_drops() const;

    const SourceCounters& counters() const { return counters_; }
    std::uint64_t packets() const { return packets_; }
    // The verdict as the comment names it; empty when decide() chooses per packet.
    const std::string& verdict_text() const { return verdict_text_; }

  private:
    void configure();
    void set_max_length(std::uint32_t length);
    void send_verdicts(std::span<const std::span<const std::byte>> datagrams, Timestamp time,
                       RecordHandler& handler);

    QueueConfig config_;
    Verdict policy_;
    VerdictFunction decide_;
    std::string verdict_text_;
    int fd_ = -1;
    std::vector<std::string> warnings_;
    std::vector<std::byte> buffers_; // recvmmsg buffers, reused
    std::size_t datagram_size_ = 0;
    std::vector<std::byte> verdict_buffer_; // verdict messages, reused
    SourceCounters counters_;
    std::uint64_t packets_ = 0;
    std::uint32_t sequence_ = 0;
    std::uint32_t max_length_ = 0;
    bool loss_countable_ = true;
    std::uint32_t last_id_ = 0;
};

// Appends one verdict message for `queue` to `out`: NFQNL_MSG_VERDICT for packet `id`, or with
// `batch`, NFQNL_MSG_VERDICT_BATCH covering every packet up to and including `id`. `mark` is
// the mark to set (nullopt: leave it). Exposed for tests.
void append_verdict_message(std::vector<std::byte>& out, std::uint16_t queue, std::uint32_t id,
                            const Verdict& verdict, std::optional<std::uint32_t> mark, bool batch,
                            std::uint32_t sequence);

} // namespace nfcap
