#pragma once
// Interface index -> the name the interface had when the packet passed.
//
// A thread of the cache's own waits on an rtnetlink socket subscribed to link events and reads
// each RTM_NEWLINK / RTM_DELLINK as soon as the kernel queues it, stamping it with the wall
// clock (CLOCK_REALTIME, the clock of the kernel's packet timestamps) when it read it. The
// events build an InterfaceHistory: per index, its names and the times each became valid. A
// record is resolved by its time: the kernel's timestamp when present (NFULA_TIMESTAMP,
// NFQA_TIMESTAMP: the time the packet was received), else the time nfcap received the record.
//
// What is exact, and the bounds where it is not:
//  - A rename needs the link down (dev_change_name refuses an up device), so every packet
//    received under the old name was stamped before the link went down, before the rename's
//    event was queued, so before nfcap read it: such records always get the old name.
//  - Packets received under the new name were stamped after the link came up again. They get
//    the new name as long as the thread read the rename's event before then. The thread blocks
//    in poll() on the socket and wakes when the event is queued, so it is late only by its
//    wake-up latency (microseconds; more when the machine is overloaded), while bringing a link
//    back up and a packet through it takes a separate request. Handing events to the thread
//    that resolves names adds no delay: an event's time is read only after the counter that
//    update() checks has moved, so a record resolved without it predates that time.
//  - A deleted interface keeps its last name, for its records still in flight.
//  - Records without the kernel's timestamp (NFLOG on output paths) are resolved by their
//    receive time, which is later than the packet by the time the record waited: up to the
//    NFLOG flush timeout (default 10 ms) plus any backlog in the socket buffer. A rename
//    within that window names such records by their new name. The live sources turn the
//    kernel's receive timestamps on (SO_TIMESTAMPNS, as libpcap does), so only records of
//    output paths (locally generated packets) lack one.
//  - Events lost to a full rtnetlink buffer (ENOBUFS) are replaced by a fresh listing, valid
//    from when it was taken; names that came and went in between are lost.
//  - Not covered: links the kernel renames while up (IFF_LIVE_RENAME_OK, net_failover
//    slaves), an output device renamed between a packet's reception and its forwarding (the
//    record's time is the reception), and steps of the wall clock.
//  - Memory: InterfaceHistory::names_per_index names per index and
//    InterfaceHistory::deleted_kept deleted interfaces at most.

#include <nfcap/comment.hpp>
#include <nfcap/interface_history.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace nfcap {

namespace detail {
class NetlinkSocket; // the one netlink socket type of nfcap_io (internal)
}

class InterfaceCache final : public InterfaceNames {
  public:
    enum class Start { now, later };
    // Subscribes to link events of the calling thread's network namespace, loads its current
    // interfaces and starts the event thread (with every signal blocked), or with Start::later
    // leaves that to start(). Without an rtnetlink socket it still works, resolving each unknown
    // index once with if_indextoname().
    explicit InterfaceCache(Start when = Start::now);
    // Starts the event thread if it is not running. nfcap calls this only once it has given up
    // root (-Z): capabilities belong to each thread, and a thread started before the switch
    // would keep a different set. Events that came meanwhile wait in the socket.
    void start();
    // Stops and joins the event thread.
    ~InterfaceCache() override;
    InterfaceCache(const InterfaceCache&) = delete;
    InterfaceCache& operator=(const InterfaceCache&) = delete;

    // Applies the link events read so far. name() does this itself; calling it when idle only
    // keeps the work off the next record. Never blocks for long (a mutex the event thread holds
    // for a few copies). update() and name() must be called from one thread.
    void update();

    // Allocates nothing unless link events arrived or the index is unknown.
    std::string_view name(std::uint32_t ifindex, Timestamp when) override;
    std::string_view name_with_span(std::uint32_t ifindex, Timestamp when, NameSpan& span) override;
    std::uint64_t version() override; // update(), then the history's version

  private:
    struct LinkEvent {
        std::uint32_t ifindex = 0;
        bool deleted = false;
        std::string name;
        Timestamp time;
    };
    void watch();
    void read_events();
    void parse(std::span<const std::byte> datagram);
    void relist();
    void publish();
    void apply(const LinkEvent& event);

    std::unique_ptr<detail::NetlinkSocket> socket_; // link events, read by the event thread
    int stop_fd_ = -1;                              // eventfd: tells the event thread to end
    std::thread thread_;

    // Event thread only: each index's last name, to pass on changes only.
    std::unordered_map<std::uint32_t, std::string> current_;
    std::vector<LinkEvent> parsed_;

    // Shared: events read, not yet applied. `published_` goes up by one before an event batch
    // gets its time and again once it is queued (so it is odd while a batch is being queued).
    std::mutex mutex_;
    std::vector<LinkEvent> pending_;
    std::atomic<std::uint64_t> published_{0};

    // The caller's thread only.
    std::uint64_t applied_ = 0;
    std::vector<LinkEvent> applying_;
    InterfaceHistory history_;
};

} // namespace nfcap
