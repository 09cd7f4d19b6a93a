#pragma once
// A live NFLOG source: one netlink socket bound to one or more NFLOG groups. It only moves
// bytes: every record is handed on as the span the kernel sent, valid during the callback.

#include <nfcap/loss.hpp>
#include <nfcap/netlink.hpp>
#include <nfcap/packet.hpp>
#include <nfcap/verdict.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nfcap {

namespace detail {
class NetlinkSocket; // the one netlink socket type of nfcap_io (internal)
}

// Binding or configuring a group failed. The message names the group and the cause: the
// process that already holds it, or the missing capability.
class BindError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What a source does when the kernel says its socket buffer overflowed (ENOBUFS: it dropped
// records because the program read too slowly).
enum class OverrunPolicy : std::uint8_t {
    count,   // count it and go on (default): sequence or id gaps and the socket's drop counter
             // say how much was lost (loss.hpp)
    raise,   // count it, and receive() throws OverrunError; what was read before was handed on,
             // and the next receive() goes on reading
    disable, // NETLINK_NO_ENOBUFS: the kernel reports nothing and keeps delivering; loss then
             // shows only in gaps and the drop counter, and NFLOG loss is a lower bound
};

// receive() saw an overrun with OverrunPolicy::raise.
class OverrunError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct NflogConfig {
    std::vector<std::uint16_t> groups;
    std::uint32_t copy_range = 0xffff;         // bytes of each packet the kernel copies
    CopyMode copy_mode = CopyMode::packet;     // metadata only: none or meta
    std::uint32_t receive_buffer = 64U << 20U; // SO_RCVBUFFORCE, bytes
    std::uint32_t netlink_buffer = 131072;     // NFULA_CFG_NLBUFSIZ: kernel batch size, bytes
    std::uint32_t queue_threshold = 100000;    // NFULA_CFG_QTHRESH: records per batch
    std::uint32_t flush_timeout = 1;           // NFULA_CFG_TIMEOUT, 1/100 s
    bool conntrack = false;                    // NFULNL_CFG_F_CONNTRACK
    OverrunPolicy on_overrun = OverrunPolicy::count;
    // A NETLINK_NETFILTER socket the caller opened, to use instead of a new one: one made in
    // another network namespace records there, without CAP_SYS_ADMIN in this process (a
    // netlink socket belongs to the namespace it was made in). nfcap works on a duplicate, so
    // the caller may close its own. The binding still needs CAP_NET_ADMIN in that namespace.
    std::optional<int> socket;
};

// Receives records. Called synchronously from receive(); spans die when it returns.
class RecordHandler {
  public:
    virtual ~RecordHandler() = default;
    // `record` is nfgenmsg + attributes (a LINKTYPE_NFLOG record); `receive_time` the wall
    // clock when the batch holding it was received.
    virtual void on_record(std::span<const std::byte> record, Timestamp receive_time) = 0;
    // The same, saying which kind of record it is (what the sources call); by default it goes
    // to on_record(). A handler that takes both kinds overrides this one.
    virtual void on_record_of(RecordKind /*kind*/, std::span<const std::byte> record,
                              Timestamp receive_time) {
        on_record(record, receive_time);
    }
    // A record the source already decoded (the NFQUEUE packets a decide function was asked
    // about): `packet` views `record`. By default it goes to on_record_of(), which decodes it
    // again; a handler that can use the decoded packet (Recorder) overrides this, so that each
    // record is decoded once.
    virtual void on_packet(RecordKind kind, const Packet& /*packet*/,
                           std::span<const std::byte> record, Timestamp receive_time) {
        on_record_of(kind, record, receive_time);
    }
    // The whole datagram as received, before it is split (for --record-netlink).
    virtual void on_datagram(std::span<const std::byte> /*datagram*/, Timestamp /*time*/) {}
    // Netlink messages nfcap sent to the kernel (NFQUEUE verdicts), for --record-netlink.
    virtual void on_sent(std::span<const std::byte> /*messages*/, Timestamp /*time*/) {}
    // False when only whole datagrams are wanted: the source then skips splitting them.
    virtual bool wants_records() const { return true; }
    // NFQUEUE with a decide function: each packet's decision (with a rewrite's new bytes), on
    // the receiving thread, when the handler wants them. A decision made at once comes before
    // its record; one made later (held packets) after it.
    virtual bool wants_decisions() const { return false; }
    virtual void on_decision(const PacketDecision& /*decision*/, Timestamp /*time*/) {}
};

// A socket's receive buffer as the kernel counts it: the truesize of the datagrams queued in it
// (sk_rmem_alloc) and the size past which it refuses more (sk_rcvbuf, twice what was asked).
struct BufferFill {
    std::uint64_t queued = 0;
    std::uint64_t size = 0;
};

struct SourceCounters {
    std::uint64_t datagrams = 0;
    std::uint64_t overruns = 0; // ENOBUFS: the socket buffer overflowed and records were lost
    std::uint64_t damaged = 0;  // truncated datagrams or netlink headers that do not add up
};

// Hands each record to the handler of its group or queue (the record's nfgenmsg res_id), so
// that one source recording several groups can give each its own handler. Records of a group
// without a handler go to `fallback` when set, else are counted (unrouted()).
class RecordRouter final : public RecordHandler {
  public:
    void route(std::uint16_t resource, RecordHandler& handler);
    void set_fallback(RecordHandler* handler) { fallback_ = handler; }
    void on_record(std::span<const std::byte> record, Timestamp receive_time) override;
    void on_record_of(RecordKind kind, std::span<const std::byte> record,
                      Timestamp receive_time) override;
    void on_packet(RecordKind kind, const Packet& packet, std::span<const std::byte> record,
                   Timestamp receive_time) override;
    std::uint64_t unrouted() const { return unrouted_; }

  private:
    RecordHandler* handler_for(std::span<const std::byte> record);
    std::vector<std::pair<std::uint16_t, RecordHandler*>> routes_;
    RecordHandler* fallback_ = nullptr;
    std::uint64_t unrouted_ = 0;
};

class NflogSource {
  public:
    // Opens the socket, sizes its buffer and binds every group with sequence numbers on.
    // Throws BindError (with the owner or missing capability) or std::system_error.
    explicit NflogSource(NflogConfig config);
    ~NflogSource(); // unbinds (closing the socket releases the groups)
    NflogSource(const NflogSource&) = delete;
    NflogSource& operator=(const NflogSource&) = delete;

    int fd() const;
    const NflogConfig& config() const { return config_; }
    // Warnings from setup (e.g. a receive buffer smaller than asked for).
    const std::vector<std::string>& warnings() const { return warnings_; }

    // Reads every datagram pending now (never blocks) and hands each record to `handler`.
    // Returns the number of datagrams read; 0 when nothing was pending.
    std::size_t receive(RecordHandler& handler);
    // The same, reading at most `max_datagrams` this time (each holds one or more records).
    std::size_t receive(RecordHandler& handler, std::size_t max_datagrams);
    // Handles one datagram the program read from fd() itself (an event loop that owns the
    // reading) as receive() does.
    void feed(std::span<const std::byte> datagram, RecordHandler& handler);

    // Stopping: unbinds every group, which makes the kernel send the batch it was still
    // filling (records logged less than a flush timeout ago), then reads what is pending, so
    // that every record the kernel logged before the stop reaches `handler` or is counted.
    // No record arrives after this.
    void stop(RecordHandler& handler);

    // Stops recording `group` alone: unbinds it (the kernel sends the batch it was still
    // filling, read here and handed to `handler`); the other groups go on. Throws
    // std::invalid_argument for a group this source does not record.
    void unbind(std::uint16_t group, RecordHandler& handler);

    // Datagrams the kernel could not deliver to the socket (its buffer was full), since it was
    // opened; nullopt when the kernel does not say. Each held one or more records. Safe to
    // call from another thread.
    std::optional<std::uint64_t> socket_drops() const;
    // How full the socket's receive buffer is now; nullopt when the kernel does not say. Safe
    // to call from another thread.
    std::optional<BufferFill> socket_fill() const;
    // The drop counter now and when each group's last record came (loss.hpp), for a count of
    // the records no sequence gap shows; nullopt when the kernel does not count drops. Call it
    // on the receiving thread, after stop().
    std::optional<NflogDrops> drop_history() const;

    const SourceCounters& counters() const { return counters_; }

  private:
    void configure();
    void dispatch(std::span<const std::byte> datagram, Timestamp time, RecordHandler& handler);
    void note_delivery(std::span<const std::byte> datagram);

    NflogConfig config_;
    std::unique_ptr<detail::NetlinkSocket> socket_;
    std::vector<std::string> warnings_;
    std::vector<std::vector<std::byte>> pending_; // records that arrived while binding
    SourceCounters counters_;
    // Loss accounting, only once an overrun was seen (before that nothing was dropped): the
    // drop counter as read just before a receive that found the socket empty (EAGAIN), and,
    // per group (as config_.groups), its value when the group's latest record was read.
    std::uint64_t drops_at_empty_ = 0;
    std::vector<std::uint64_t> drops_before_last_;
    // The drop counter as read right after the latest receive that delivered datagrams (or, for
    // a delivery before the first overrun, at that overrun): drops beyond it came after every
    // datagram delivered so far.
    std::uint64_t drops_at_last_delivery_ = 0;
    bool unsampled_delivery_ = false; // delivered since, without a reading yet
};

} // namespace nfcap
