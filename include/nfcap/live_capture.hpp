#pragma once
// Live capture: one receive thread per source, one writer. Receive threads only receive, give
// NFQUEUE verdicts and copy datagrams into a bounded hand-off queue; the writer (the thread
// that calls run()) decodes, filters, encodes and writes. A slow, full or stopped output can
// therefore never hold NFQUEUE traffic: when the hand-off queue (32 MiB) is full, a queue source
// counts what it could not hand on and goes on giving verdicts. An NFLOG source waits instead
// while the writer moves (its kernel socket buffer absorbs the delay, and any loss there shows
// as sequence gaps); once the writer has taken nothing for 2 s (an output that does not
// move: a stalled reader), it counts what it cannot hand on too, so no loss goes unseen.
// Either count is the sources' "not written" (InterfaceCounters::not_written).

#include <nfcap/interface_cache.hpp>
#include <nfcap/nflog_source.hpp>
#include <nfcap/queue_source.hpp>
#include <nfcap/recorder.hpp>
#include <nfcap/sink.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nfcap {

// Writes the raw netlink messages of a session (received datagrams and the verdicts sent) as
// pcapng with LINKTYPE_NETLINK, which Wireshark dissects and `nfcap -r` replays. `host`, when
// named, is written as a Recorder writes it.
class NetlinkRecorder {
  public:
    explicit NetlinkRecorder(Sink& sink, const HostIdentity& host = {});
    void received(std::span<const std::byte> datagram, Timestamp time);
    void sent(std::span<const std::byte> messages, Timestamp time);
    void flush();

  private:
    void append(std::span<const std::byte> bytes, Timestamp time, bool outgoing);
    Sink& sink_;
    ByteBuffer buffer_;
};

struct LiveCaptureResult {
    bool reader_gone = false;
    std::uint64_t overruns = 0; // ENOBUFS seen by all sources
    std::uint64_t verdicts = 0; // NFQUEUE packets given a verdict
};

class LiveCapture {
  public:
    // `names` and `netlink` may be null. Nothing starts before run().
    LiveCapture(Recorder& recorder, InterfaceCache* names, NetlinkRecorder* netlink);
    ~LiveCapture();
    LiveCapture(const LiveCapture&) = delete;
    LiveCapture& operator=(const LiveCapture&) = delete;

    void add(std::unique_ptr<NflogSource> source);
    // A source binding one queue (throws std::invalid_argument for several: give each queue a
    // source of its own here).
    void add(std::unique_ptr<QueueSource> source);

    // Runs until `stop()` returns true (asked about every 100 ms), the recorder's packet limit
    // is reached, the reader of the output goes away, or the output fails (Recorder::
    // output_failed) and no queue is among the sources; with a queue, verdicts go on and the
    // recorder counts what it cannot write. Then every queue source drains (each packet already
    // queued gets its verdict) and unbinds, and the writer writes what the sources handed on.
    // The writer flushes whenever it has nothing to do and at least every 0.5 s.
    // Throws what a source or the writer threw.
    // `tick`, when set, runs on the writer thread between batches (at least every 100 ms), for
    // work that must not race the writer (rotating a ring buffer by age).
    // The writer is the calling thread. Once the receive threads have started (they take its
    // priority), run() raises its nice value by set_writer_nice()'s increment, 5 unless set,
    // and puts it back at the end where the system lets it (CAP_SYS_NICE or RLIMIT_NICE; else
    // the thread keeps the lower priority). So a receive thread that wakes preempts a busy
    // writer: when both want the one CPU, the writer falls behind and what it cannot take is
    // counted exactly, instead of the socket overflowing where the kernel's drops can only be
    // counted as a lower bound. A caller whose thread must keep its priority calls run() on a
    // thread of its own, or sets 0.
    LiveCaptureResult run(const std::function<bool()>& stop,
                          const std::function<void()>& tick = {});
    // How many nice steps run() puts the writer below the receive threads (0 to 19).
    void set_writer_nice(int increment);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace nfcap
