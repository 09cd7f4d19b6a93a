// nfcap._nfcap: NFQUEUE queues and their packets for Python, the native part of the `nfcap` and
// `netfilterqueue` modules (python/nfcap/__init__.py, python/netfilterqueue.py).
//
// A Queue binds one NFQUEUE queue through QueueSource. Its callback gets a Packet that views
// the receive buffer while the callback runs (no copy); retain() copies it so that it outlives
// the callback. A verdict given inside the callback goes out with the receive batch's other
// verdicts (one message for many packets); a packet left without one is held, and its verdict,
// given later from any thread, goes out when it is given. The GIL is released while waiting
// for packets and while sending a later verdict.
#include <nfcap/checksum.hpp>
#include <nfcap/interface_cache.hpp>
#include <nfcap/loss.hpp>
#include <nfcap/nflog_decode.hpp>
#include <nfcap/nflog_source.hpp>
#include <nfcap/queue_source.hpp>
#include <nfcap/recorder.hpp>
#include <nfcap/recording_reader.hpp>
#include <nfcap/replay_source.hpp>
#include <nfcap/retained_packet.hpp>
#include <nfcap/sink.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace {

py::bytes to_bytes(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; // same object bytes
}

std::vector<std::byte> from_bytes(const py::bytes& data) {
    char* buffer = nullptr;
    py::ssize_t length = 0;
    if (PYBIND11_BYTES_AS_STRING_AND_SIZE(data.ptr(), &buffer, &length) != 0) {
        throw py::error_already_set();
    }
    const auto* begin = reinterpret_cast<const std::byte*>(buffer); // same object bytes
    return {begin, begin + length};
}

// What a queue and its packets share: a packet may be decided after its callback, from any
// thread, and after the queue was unbound (then the verdict is refused).
struct QueueState {
    std::mutex mutex; // the source's lifetime against verdicts from other threads
    std::unique_ptr<nfcap::QueueSource> source;
    std::uint16_t queue = 0;
};

std::string_view protocol_name(unsigned protocol) {
    switch (protocol) {
    case 1:
        return "ICMP";
    case 2:
        return "IGMP";
    case 6:
        return "TCP";
    case 17:
        return "UDP";
    case 41:
        return "IPv6";
    case 47:
        return "GRE";
    case 50:
        return "ESP";
    case 51:
        return "AH";
    case 58:
        return "ICMPv6";
    case 132:
        return "SCTP";
    default:
        return "Unknown protocol";
    }
}

class Packet {
  public:
    Packet(std::shared_ptr<QueueState> state, const nfcap::Packet& p)
        : state_(std::move(state)), view_(&p), id_(p.packet_id.value_or(0)),
          hw_protocol_(p.hw_protocol), hook_(p.hook), mark_(p.mark.value_or(0)),
          indev_(p.indev.value_or(0)), outdev_(p.outdev.value_or(0)),
          physindev_(p.physindev.value_or(0)), physoutdev_(p.physoutdev.value_or(0)),
          payload_length_(p.payload.size()), uid_(p.uid), gid_(p.gid), timestamp_(p.timestamp),
          queue_(p.resource_id) {
        if (p.hwaddr) {
            hwaddr_ = to_bytes(p.hwaddr->view());
        }
        if (!p.payload.empty()) {
            const auto version = std::to_integer<unsigned>(p.payload[0]) >> 4U;
            if (version == 4 && p.payload.size() >= 20) {
                protocol_ = std::to_integer<unsigned>(p.payload[9]);
            } else if (version == 6 && p.payload.size() >= 40) {
                protocol_ = std::to_integer<unsigned>(p.payload[6]);
            }
        }
    }

    // A pulled packet (Queue.next): it owns its bytes already and is held until decided.
    Packet(std::shared_ptr<QueueState> state, nfcap::RetainedPacket kept)
        : Packet(std::move(state), kept.packet()) {
        names_ = kept.names();
        kept_ = std::move(kept); // the views move with the buffer
        view_ = nullptr;
    }

    // The names of its interfaces as of its time (a queue made with names=True).
    void set_names(const nfcap::InterfaceNamesOf& names) { names_ = names; }
    static py::object name(const std::string& n) {
        return n.empty() ? py::object(py::none()) : py::object(py::str(n));
    }
    py::object indev_name() const { return name(names_.indev); }
    py::object outdev_name() const { return name(names_.outdev); }
    py::object physindev_name() const { return name(names_.physindev); }
    py::object physoutdev_name() const { return name(names_.physoutdev); }

    // The callback returned: the view dies with the receive buffer. A verdict given inside it
    // goes out with the batch (the answer); none: the packet is held for a later one.
    std::optional<nfcap::Decision> callback_returned() {
        view_ = nullptr;
        if (!verdict_) {
            return nfcap::hold_packet;
        }
        decided_ = true;
        return decision();
    }
    // The callback raised: the source gives this packet the fallback verdict.
    void callback_raised() {
        view_ = nullptr;
        decided_ = true;
    }

    std::uint32_t id() const { return id_; }
    std::uint16_t hw_protocol() const { return hw_protocol_; }
    std::uint8_t hook() const { return hook_; }
    std::uint32_t mark() const { return mark_; }
    std::uint32_t indev() const { return indev_; }
    std::uint32_t outdev() const { return outdev_; }
    std::uint32_t physindev() const { return physindev_; }
    std::uint32_t physoutdev() const { return physoutdev_; }
    std::uint16_t queue() const { return queue_; }
    std::optional<std::uint32_t> uid() const { return uid_; }
    std::optional<std::uint32_t> gid() const { return gid_; }
    std::size_t payload_length() const {
        return new_payload_ ? new_payload_->size() : payload_length_;
    }

    py::bytes payload() const {
        if (new_payload_) {
            return to_bytes(*new_payload_);
        }
        if (view_ != nullptr) {
            return to_bytes(view_->payload);
        }
        if (kept_) {
            return to_bytes(kept_->packet().payload);
        }
        throw std::runtime_error("the payload of packet " + std::to_string(id_) +
                                 " was read after its callback returned without retain()");
    }
    void set_payload(const py::bytes& data) {
        auto bytes = from_bytes(data);
        if (bytes.size() > nfcap::max_rewrite_length) {
            throw std::invalid_argument("a payload of " + std::to_string(bytes.size()) +
                                        " bytes is longer than the kernel takes (" +
                                        std::to_string(nfcap::max_rewrite_length) + ")");
        }
        new_payload_ = std::move(bytes);
    }
    void retain() {
        if (view_ != nullptr && !kept_) {
            kept_.emplace(*view_);
        }
    }
    double timestamp() const {
        return timestamp_ ? static_cast<double>(timestamp_->sec) +
                                static_cast<double>(timestamp_->nsec) / 1e9
                          : 0.0;
    }
    py::object hw() const { return hwaddr_ ? py::object(*hwaddr_) : py::object(py::none()); }
    std::uint32_t get_mark() const { return new_mark_.value_or(mark_); }
    void set_mark(std::uint32_t mark) { new_mark_ = mark; }

    void give(nfcap::VerdictKind kind, std::optional<std::uint16_t> target = std::nullopt) {
        if (decided_ || verdict_) {
            throw std::runtime_error("packet " + std::to_string(id_) + " already has its verdict");
        }
        nfcap::Verdict v;
        v.kind = kind;
        v.target_queue = target.value_or(0);
        verdict_ = v;
        if (view_ != nullptr) {
            return; // inside the callback: sent with the batch once it returns
        }
        decided_ = true;
        nfcap::Decision d = decision();
        const py::gil_scoped_release unlocked;
        const std::lock_guard lock(state_->mutex);
        if (!state_->source) {
            throw std::runtime_error("packet " + std::to_string(id_) +
                                     ": its queue was unbound, the kernel already let it go");
        }
        state_->source->decide(queue_, id_, std::move(d));
    }

    std::string describe() const {
        std::string text(protocol_ ? protocol_name(*protocol_) : "Unknown protocol");
        text += " packet, ";
        text += std::to_string(payload_length());
        text += " bytes";
        return text;
    }

  private:
    nfcap::Decision decision() {
        nfcap::Verdict v = *verdict_;
        if (new_mark_) {
            v.mark = *new_mark_;
        }
        if (new_payload_) {
            return {v, *new_payload_};
        }
        return {v};
    }

    std::shared_ptr<QueueState> state_;
    const nfcap::Packet* view_; // valid while the callback runs
    std::optional<nfcap::RetainedPacket> kept_;
    std::uint32_t id_;
    std::uint16_t hw_protocol_;
    std::uint8_t hook_;
    std::uint32_t mark_;
    std::uint32_t indev_, outdev_, physindev_, physoutdev_;
    std::size_t payload_length_;
    std::optional<std::uint32_t> uid_, gid_;
    std::optional<nfcap::Timestamp> timestamp_;
    std::uint16_t queue_;
    std::optional<unsigned> protocol_;
    std::optional<py::bytes> hwaddr_;
    nfcap::InterfaceNamesOf names_;
    std::optional<nfcap::Verdict> verdict_;
    std::optional<std::uint32_t> new_mark_;
    std::optional<std::vector<std::byte>> new_payload_;
    bool decided_ = false;
};

// Adds one to the eventfd `stop_fd`, which wakes wait_readable. The write fails only when the
// counter is at its maximum, and then a wake-up is pending anyway.
void wake(int stop_fd) {
    const std::uint64_t one = 1;
    const ssize_t written = ::write(stop_fd, &one, sizeof one);
    static_cast<void>(written);
}

// Waits at most `ms` until `fd` is readable or `stop_fd` (an eventfd) was written; true for the
// latter, whose count it takes back. Call without the GIL.
bool wait_readable(int fd, int stop_fd, int ms) {
    std::array<pollfd, 2> fds{pollfd{fd, POLLIN, 0}, pollfd{stop_fd, POLLIN, 0}};
    if (::poll(fds.data(), fds.size(), ms) > 0 && (fds[1].revents & POLLIN) != 0) {
        // A second waiter on the same eventfd may have taken the count first (EAGAIN): the stop
        // was seen either way.
        std::uint64_t count = 0;
        const ssize_t taken = ::read(stop_fd, &count, sizeof count);
        static_cast<void>(taken);
        return true;
    }
    return false;
}

// A Writer's or Reader's target: a path (str or os.PathLike), else a file object or descriptor.
std::optional<std::string> path_of(const py::object& target) {
    if (py::isinstance<py::str>(target) || py::hasattr(target, "__fspath__")) {
        return std::string(py::str(py::module_::import("os").attr("fspath")(target)));
    }
    return std::nullopt;
}

// A descriptor of its own for a file object (fileno()) or a descriptor number; `name` says
// which, for messages.
int duplicate_of(const py::object& target, std::string& name) {
    const int given =
        py::hasattr(target, "fileno") ? target.attr("fileno")().cast<int>() : target.cast<int>();
    const int fd = ::fcntl(given, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(),
                                "cannot use descriptor " + std::to_string(given));
    }
    name = "descriptor " + std::to_string(given);
    return fd;
}

nfcap::Timestamp wall_clock() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return {now.tv_sec, static_cast<std::uint32_t>(now.tv_nsec)};
}

// Annotated pcapng from Python: a path (a FIFO too), a file object or a descriptor. The sources
// given it (Queue(writer=...), Log(writer=...)) hand it every record they receive, and a queue
// every decision, as nfcap's own recorder writes them.
class Writer {
  public:
    Writer(py::object target, const std::string& link_type, std::uint32_t snaplen, bool names,
           std::optional<std::string> host_name) {
        if (host_name && !host_name->empty() && !nfcap::valid_host_name(*host_name)) {
            throw std::invalid_argument("host_name '" + *host_name +
                                        "': 1 to 64 letters, digits, '.', '-' and '_'");
        }
        int fd = -1;
        std::string name;
        bool fifo = false;
        if (const auto path = path_of(target)) {
            name = *path;
            const py::gil_scoped_release unlocked; // a FIFO waits for its reader
            fd = nfcap::open_output_file(name, {}, &fifo);
        } else {
            if (py::hasattr(target, "flush")) {
                target.attr("flush")(); // what Python buffered goes first
            }
            fd = duplicate_of(target, name);
        }
        struct stat st {};
        const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        if (fifo) {
            sink_ = std::make_unique<nfcap::FdSink>(fd, name, name);
        } else {
            sink_ = std::make_unique<nfcap::FdSink>(
                fd, name, regular ? nfcap::SinkKind::file : nfcap::SinkKind::stream,
                nfcap::FdSink::Ownership::owned);
        }
        nfcap::RecorderOptions options;
        options.snaplen = snaplen;
        // As nfcap's live capture: this host, unless another name (or "" for none) is given.
        options.host = nfcap::this_host();
        if (host_name) {
            options.host.name = *host_name;
        }
        if (link_type == "raw") {
            options.link_type = nfcap::LinkType::raw;
        } else if (link_type == "nflog") {
            options.link_type = nfcap::LinkType::nflog;
        } else if (link_type != "sll2") {
            throw std::invalid_argument("link_type must be 'sll2', 'raw' or 'nflog', not '" +
                                        link_type + "'");
        }
        if (names) {
            names_ = std::make_unique<nfcap::InterfaceCache>();
        }
        start_ = wall_clock();
        recorder_ = std::make_unique<nfcap::Recorder>(
            *sink_, options, names_.get(),
            [this](const std::string& w) { warnings_.push_back(w); });
        recorder_->set_start(start_);
        recorder_->flush();
    }
    ~Writer() {
        try {
            close();
        } catch (...) { // a destructor cannot report it; close() does
        }
    }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // A source that will hand records on (declared up front, so loss shows from its start).
    void add(nfcap::RecordKind kind, std::uint16_t resource, bool decisions,
             const std::string& verdict = {}) {
        const std::lock_guard lock(mutex_);
        if (!recorder_) {
            throw std::runtime_error("the writer is closed");
        }
        recorder_->add_source(kind, resource, true, verdict);
        if (decisions) {
            recorder_->record_decisions(resource);
        }
    }

    // Runs `use` with the recorder (or does nothing once closed), then writes what it encoded.
    template <class Use> void with(Use use) {
        const std::lock_guard lock(mutex_);
        if (recorder_) {
            use(*recorder_);
            recorder_->flush();
        }
    }

    // Ends the file: an Interface Statistics Block per source, written out; the descriptor is
    // closed. Sources still open write nothing more.
    void close() {
        const std::lock_guard lock(mutex_);
        if (recorder_) {
            recorder_->finish(start_, wall_clock());
            recorder_.reset();
            sink_.reset();
        }
    }

    std::uint64_t written() const {
        const std::lock_guard lock(mutex_);
        return recorder_ ? nfcap::sum_of(recorder_->interfaces()).written : 0;
    }
    std::vector<std::string> warnings() const {
        const std::lock_guard lock(mutex_);
        return warnings_;
    }

  private:
    mutable std::mutex mutex_;
    std::unique_ptr<nfcap::Sink> sink_;
    std::unique_ptr<nfcap::InterfaceCache> names_;
    std::unique_ptr<nfcap::Recorder> recorder_;
    nfcap::Timestamp start_;
    std::vector<std::string> warnings_;
};

// What a source hands on goes to a Writer's recorder, one call at a time under its lock (a
// Python callback never runs while the lock is held); nothing once the writer is closed.
class ToWriter final : public nfcap::RecordHandler {
  public:
    explicit ToWriter(Writer& writer) : writer_(writer) {}
    void on_record(std::span<const std::byte> record, nfcap::Timestamp time) override {
        writer_.with([&](nfcap::Recorder& r) { r.on_record(record, time); });
    }
    void on_record_of(nfcap::RecordKind kind, std::span<const std::byte> record,
                      nfcap::Timestamp time) override {
        writer_.with([&](nfcap::Recorder& r) { r.on_record_of(kind, record, time); });
    }
    void on_packet(nfcap::RecordKind kind, const nfcap::Packet& packet,
                   std::span<const std::byte> record, nfcap::Timestamp time) override {
        writer_.with([&](nfcap::Recorder& r) { r.on_packet(kind, packet, record, time); });
    }
    bool wants_decisions() const override { return true; }
    void on_decision(const nfcap::PacketDecision& decision, nfcap::Timestamp time) override {
        writer_.with([&](nfcap::Recorder& r) { r.on_decision(decision, time); });
    }

  private:
    Writer& writer_;
};

class Ignore final : public nfcap::RecordHandler {
  public:
    void on_record(std::span<const std::byte>, nfcap::Timestamp) override {}
    bool wants_records() const override { return false; }
};

class Queue {
  public:
    Queue(std::uint16_t queue, py::object callback, std::optional<std::uint32_t> max_length,
          nfcap::CopyMode copy_mode, std::uint32_t copy_range,
          std::optional<std::uint32_t> receive_buffer, bool fail_open, bool gso, bool uid_gid,
          bool secctx, bool conntrack, std::optional<int> sockfd, std::shared_ptr<Writer> writer,
          bool names, std::optional<std::string> policy)
        : state_(std::make_shared<QueueState>()), callback_(std::move(callback)),
          writer_(std::move(writer)) {
        if (writer_) {
            to_writer_.emplace(*writer_);
        }
        if (names) {
            names_ = std::make_unique<nfcap::InterfaceCache>();
        }
        if (!callback_.is_none() && !PyCallable_Check(callback_.ptr())) {
            throw py::type_error("the callback must be callable (or None: pull with next())");
        }
        if (policy && !callback_.is_none()) {
            throw py::type_error("give a callback or a policy, not both");
        }
        stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (stop_fd_ < 0) {
            throw std::system_error(errno, std::generic_category(), "eventfd");
        }
        nfcap::QueueConfig config;
        config.queue = queue;
        config.max_length = max_length;
        config.copy_mode = copy_mode;
        config.copy_range = copy_range;
        if (receive_buffer) {
            config.receive_buffer = *receive_buffer;
        }
        config.fail_open = fail_open;
        config.gso = gso;
        config.uid_gid = uid_gid;
        config.secctx = secctx;
        config.conntrack = conntrack;
        config.socket = sockfd;
        state_->queue = queue;
        // The decide function runs inside receive(), on the thread that holds the GIL.
        if (policy) { // every packet gets it in C++: no Python call per packet
            policy_ = true;
            state_->source =
                std::make_unique<nfcap::QueueSource>(config, nfcap::parse_verdict(*policy));
        } else {
            state_->source = std::make_unique<nfcap::QueueSource>(
                config, nfcap::Verdict{},
                [this](const nfcap::Packet& p) -> std::optional<nfcap::Decision> {
                    return ask(p);
                });
        }
        if (writer_) {
            writer_->add(nfcap::RecordKind::nfqueue, queue, !policy_,
                         state_->source->verdict_text());
        }
    }
    ~Queue() {
        close_now();
        ::close(stop_fd_);
    }
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    int fileno() const {
        const std::lock_guard lock(state_->mutex);
        if (!state_->source) {
            throw std::runtime_error("the queue is unbound");
        }
        return state_->source->fd();
    }

    // Handles what is pending; with `block`, waits for more until stop(), close(), a signal's
    // exception or the callback's.
    void run(bool block) {
        nfcap::QueueSource* source = nullptr;
        {
            const std::lock_guard lock(state_->mutex);
            source = state_->source.get();
        }
        if (source == nullptr) {
            throw std::runtime_error("the queue is unbound");
        }
        const Busy busy(*this);
        for (;;) {
            if (block) {
                // At most 100 ms at a time, so that a signal's handler runs soon (Ctrl-C).
                const int deadline = source->next_deadline_ms();
                if (wait(*source, deadline >= 0 && deadline < 100 ? deadline : 100) || closing_) {
                    break;
                }
            }
            source->receive(handler());
            if (closing_ || !block) {
                break;
            }
        }
    }

    // Reads what is pending now, at most `max` datagrams (one packet each); the number read.
    std::size_t receive(std::size_t max) {
        nfcap::QueueSource& source = bound_source();
        return source.receive(handler(), max);
    }

    // Pull: the next packet, waiting at most `timeout` seconds (None: until one comes, stop()
    // or close()); None when none came. The packet is held until its verdict.
    py::object next(std::optional<double> timeout) {
        if (!callback_.is_none() || policy_) {
            throw std::runtime_error("next() is for a queue made without a callback or policy");
        }
        nfcap::QueueSource& source = bound_source();
        const Busy busy(*this);
        const auto deadline =
            timeout ? std::chrono::steady_clock::now() +
                          std::chrono::microseconds(static_cast<std::int64_t>(*timeout * 1e6))
                    : std::chrono::steady_clock::time_point::max();
        for (;;) {
            if (ready_.empty()) {
                source.receive(handler());
            }
            if (!ready_.empty()) {
                auto* packet = new Packet(state_, std::move(ready_.front()));
                ready_.pop_front();
                return py::cast(packet, py::return_value_policy::take_ownership);
            }
            const auto now = std::chrono::steady_clock::now();
            if (now >= deadline) {
                return py::none();
            }
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
            if (wait(source, left.count() < 100 ? static_cast<int>(left.count()) : 100)) {
                return py::none(); // stop()
            }
        }
    }

    // Makes run() return (from another thread or a signal handler's Python code).
    void stop() { wake(stop_fd_); }

    // Handles one datagram the program read from the socket itself (gevent-style).
    void feed(const py::bytes& datagram) {
        const auto bytes = from_bytes(datagram);
        nfcap::QueueSource* source = state_->source.get();
        if (source == nullptr) {
            throw std::runtime_error("the queue is unbound");
        }
        source->feed(bytes, handler());
    }

    // Unbinds: held packets get the fallback verdict (accept), later verdicts are refused.
    // Inside run() (from the callback or another thread) it takes effect when run() returns.
    void close() {
        if (running_) {
            closing_ = true;
            stop();
            return;
        }
        close_now();
    }

    std::size_t held() const {
        const std::lock_guard lock(state_->mutex);
        return state_->source ? state_->source->held() : 0;
    }
    std::uint64_t packets() const {
        const std::lock_guard lock(state_->mutex);
        return state_->source ? state_->source->packets() : 0;
    }

    // The kernel's counters of the queue (/proc/net/netfilter/nfnetlink_queue) and what the
    // source knows of its loss, as a dict; None once unbound.
    py::object counters() const {
        const std::lock_guard lock(state_->mutex);
        if (!state_->source) {
            return py::none();
        }
        const nfcap::QueueSource& source = *state_->source;
        py::dict d;
        if (const auto k = source.kernel_counters()) {
            d["waiting"] = k->waiting;
            d["queue_dropped"] = k->dropped;
            d["user_dropped"] = k->user_dropped;
            d["id_sequence"] = k->id_sequence;
            // Packets the kernel numbered after the last one received: lost unless still on
            // their way (read after traffic stopped, an exact count of the tail).
            d["after_last_received"] = nfcap::queue_ids_after(
                static_cast<std::uint32_t>(k->id_sequence), source.last_id());
        }
        d["received"] = source.packets();
        d["held"] = source.held();
        d["overruns"] = source.counters().overruns;
        d["socket_drops"] = source.socket_drops() ? py::object(py::int_(*source.socket_drops()))
                                                  : py::object(py::none());
        d["max_length"] = source.max_length();
        d["loss_countable"] = source.loss_countable();
        return d;
    }

  private:
    // While run() or next() uses the source on one thread: another thread's close() only asks
    // it to stop, and the close happens when that call returns.
    class Busy {
      public:
        explicit Busy(Queue& q) : q_(q) {
            if (q_.running_.exchange(true)) {
                throw std::runtime_error("run() or next() is already running for this queue");
            }
        }
        ~Busy() {
            q_.running_ = false;
            if (q_.closing_) {
                q_.close_now();
            }
        }
        Busy(const Busy&) = delete;
        Busy& operator=(const Busy&) = delete;

      private:
        Queue& q_;
    };

    nfcap::QueueSource& bound_source() {
        const std::lock_guard lock(state_->mutex);
        if (!state_->source) {
            throw std::runtime_error("the queue is unbound");
        }
        return *state_->source;
    }

    // Waits at most `ms` for the socket without the GIL; true when stop() was called. Runs the
    // signal handlers afterwards (Ctrl-C raises KeyboardInterrupt here).
    bool wait(nfcap::QueueSource& source, int ms) {
        bool stopped = false;
        {
            const py::gil_scoped_release unlocked;
            stopped = wait_readable(source.fd(), stop_fd_, ms);
        }
        if (PyErr_CheckSignals() != 0) {
            throw py::error_already_set();
        }
        return stopped;
    }

    nfcap::RecordHandler& handler() {
        if (to_writer_) {
            return *to_writer_;
        }
        return ignore_;
    }

    std::optional<nfcap::Decision> ask(const nfcap::Packet& p) {
        if (callback_.is_none()) { // pull: kept for next()
            ready_.emplace_back(p, names_.get(), p.timestamp.value_or(wall_clock()));
            return nfcap::hold_packet;
        }
        auto* packet = new Packet(state_, p);
        if (names_) {
            packet->set_names(resolution_.resolve(p, *names_, p.timestamp.value_or(wall_clock())));
        }
        py::object object = py::cast(packet, py::return_value_policy::take_ownership);
        try {
            callback_(object);
        } catch (...) {
            packet->callback_raised();
            throw; // the source gives the fallback and rethrows from receive()
        }
        return packet->callback_returned();
    }

    void close_now() {
        std::unique_ptr<nfcap::QueueSource> gone;
        {
            const std::lock_guard lock(state_->mutex);
            gone = std::move(state_->source);
        }
        if (gone) {
            const py::gil_scoped_release unlocked;
            gone->unbind(handler()); // the fallback for held packets (recorded), then unbind
            gone.reset();
        }
    }

    std::shared_ptr<QueueState> state_;
    py::object callback_;
    int stop_fd_ = -1;
    std::atomic<bool> running_{false};
    std::atomic<bool> closing_{false};
    std::deque<nfcap::RetainedPacket> ready_; // pull: received, not yet taken by next()
    std::shared_ptr<Writer> writer_;
    std::optional<ToWriter> to_writer_;
    Ignore ignore_;
    bool policy_ = false;                          // every packet gets one verdict, given in C++
    std::unique_ptr<nfcap::InterfaceCache> names_; // names=True: interface names per packet
    nfcap::NameResolution resolution_;             // each packet's names, kept while they hold
};

// One NFLOG record, owned: every field of the record as attributes, interface names resolved
// as of the record's time.
class LogRecord {
  public:
    LogRecord(nfcap::RetainedPacket kept, nfcap::Timestamp received)
        : kept_(std::move(kept)), received_(received) {}

    const nfcap::Packet& p() const { return kept_.packet(); }
    py::bytes payload() const { return to_bytes(p().payload); }
    py::bytes hwheader() const { return to_bytes(p().hwheader); }
    py::object hwaddr() const {
        return p().hwaddr ? py::object(to_bytes(p().hwaddr->view())) : py::object(py::none());
    }
    py::object prefix() const {
        return p().has_prefix ? py::object(py::str(std::string(p().prefix)))
                              : py::object(py::none());
    }
    // The kernel's timestamp; where it gives none (output hooks), when nfcap received the
    // record.
    nfcap::Timestamp time() const { return p().timestamp.value_or(received_); }
    double timestamp() const {
        return static_cast<double>(time().sec) + static_cast<double>(time().nsec) / 1e9;
    }
    std::int64_t timestamp_us() const { return time().sec * 1000000 + time().nsec / 1000; }
    bool kernel_timestamp() const { return p().timestamp.has_value(); }
    static py::object name(const std::string& name) {
        return name.empty() ? py::object(py::none()) : py::object(py::str(name));
    }
    py::object indev() const { return name(kept_.names().indev); }
    py::object outdev() const { return name(kept_.names().outdev); }
    py::object physindev() const { return name(kept_.names().physindev); }
    py::object physoutdev() const { return name(kept_.names().physoutdev); }

  private:
    nfcap::RetainedPacket kept_;
    nfcap::Timestamp received_;
};

nfcap::OverrunPolicy overrun_policy(const std::string& name) {
    if (name == "count") {
        return nfcap::OverrunPolicy::count;
    }
    if (name == "raise") {
        return nfcap::OverrunPolicy::raise;
    }
    if (name == "disable") {
        return nfcap::OverrunPolicy::disable;
    }
    throw std::invalid_argument("on_overrun must be 'count', 'raise' or 'disable', not '" + name +
                                "'");
}

// NFLOG groups, pulled: records are read into a queue of owned records (with the GIL released)
// and taken one at a time.
class Log {
  public:
    Log(std::vector<std::uint16_t> groups, nfcap::CopyMode copy_mode, std::uint32_t copy_range,
        std::optional<std::uint32_t> receive_buffer, std::optional<std::uint32_t> netlink_buffer,
        std::optional<std::uint32_t> queue_threshold, std::optional<double> flush_timeout,
        const std::string& on_overrun, bool conntrack, std::optional<int> sockfd, bool names,
        std::shared_ptr<Writer> writer)
        : writer_(std::move(writer)) {
        if (groups.empty()) {
            throw std::invalid_argument("no NFLOG group given");
        }
        nfcap::NflogConfig config;
        config.groups = std::move(groups);
        config.copy_mode = copy_mode;
        config.copy_range = copy_range;
        if (receive_buffer) {
            config.receive_buffer = *receive_buffer;
        }
        if (netlink_buffer) {
            config.netlink_buffer = *netlink_buffer;
        }
        if (queue_threshold) {
            config.queue_threshold = *queue_threshold;
        }
        if (flush_timeout) { // seconds, in the kernel's hundredths
            config.flush_timeout = static_cast<std::uint32_t>(*flush_timeout * 100 + 0.5);
        }
        config.on_overrun = overrun_policy(on_overrun);
        config.conntrack = conntrack;
        config.socket = sockfd;
        stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (stop_fd_ < 0) {
            throw std::system_error(errno, std::generic_category(), "eventfd");
        }
        if (names) {
            names_ = std::make_unique<nfcap::InterfaceCache>();
        }
        const auto groups_bound = config.groups;
        source_ = std::make_unique<nfcap::NflogSource>(std::move(config));
        if (writer_) {
            for (const std::uint16_t group : groups_bound) {
                writer_->add(nfcap::RecordKind::nflog, group, false);
            }
        }
    }
    ~Log() { ::close(stop_fd_); }
    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;

    // Reads what arrived into the queue of records, waiting at most `timeout` seconds for
    // something (None: until something comes or stop()); the number of records added.
    std::size_t fill(std::optional<double> timeout) {
        nfcap::NflogSource& source = bound();
        std::size_t added = 0;
        const auto deadline =
            timeout ? std::chrono::steady_clock::now() +
                          std::chrono::microseconds(static_cast<std::int64_t>(*timeout * 1e6))
                    : std::chrono::steady_clock::time_point::max();
        for (;;) {
            bool stopped = false;
            {
                const py::gil_scoped_release unlocked;
                added += read(source);
                if (added == 0) {
                    const auto now = std::chrono::steady_clock::now();
                    const auto left =
                        now >= deadline
                            ? 0
                            : std::min<std::int64_t>(
                                  100, std::chrono::ceil<std::chrono::milliseconds>(deadline - now)
                                           .count());
                    if (left > 0) {
                        stopped = wait_readable(source.fd(), stop_fd_, static_cast<int>(left));
                        added += read(source);
                    }
                }
            }
            if (PyErr_CheckSignals() != 0) {
                throw py::error_already_set();
            }
            if (stopped || added != 0 || std::chrono::steady_clock::now() >= deadline) {
                return added;
            }
        }
    }

    // The next record, waiting at most `timeout` seconds (None: until one comes or stop());
    // None when none came.
    py::object next(std::optional<double> timeout) {
        if (ready() == 0) {
            fill(timeout);
        }
        LogRecord* record = nullptr;
        {
            // Another thread may be reading into the queue (without the GIL) meanwhile.
            const std::lock_guard lock(read_mutex_);
            if (ready_.empty()) {
                return py::none();
            }
            record = new LogRecord(std::move(ready_.front().first), ready_.front().second);
            ready_.pop_front();
        }
        return py::cast(record, py::return_value_policy::take_ownership);
    }

    void stop() { wake(stop_fd_); }
    void close() { source_.reset(); }
    int fileno() { return bound().fd(); }
    std::size_t ready() const {
        const std::lock_guard lock(read_mutex_);
        return ready_.size();
    }
    std::uint64_t overruns() const { return source_ ? source_->counters().overruns : overruns_; }
    std::uint64_t damaged() const { return damaged_; }
    std::optional<std::uint64_t> socket_drops() const {
        return source_ ? source_->socket_drops() : std::nullopt;
    }
    std::uint32_t receive_buffer() const { return source_ ? source_->config().receive_buffer : 0; }
    std::uint16_t group() const { return group_of_; }

  private:
    class Collect final : public nfcap::RecordHandler {
      public:
        explicit Collect(Log& log) : log_(log) {}
        void on_record(std::span<const std::byte> record, nfcap::Timestamp received) override {
            try {
                const nfcap::Packet p = nfcap::decode_nflog(record);
                log_.ready_.emplace_back(
                    nfcap::RetainedPacket(p, log_.names_.get(), p.timestamp.value_or(received)),
                    received);
                ++added_;
                if (log_.writer_) {
                    log_.writer_->with([&](nfcap::Recorder& r) {
                        r.on_packet(nfcap::RecordKind::nflog, p, record, received);
                    });
                }
            } catch (const nfcap::DecodeError&) {
                ++log_.damaged_;
            }
        }

        std::size_t added() const { return added_; }

      private:
        Log& log_;
        std::size_t added_ = 0;
    };

    // Without the GIL: touches no Python object.
    // Records added to the queue. Also under the lock: next() on another thread pops.
    std::size_t read(nfcap::NflogSource& source) {
        const std::lock_guard lock(read_mutex_); // the name cache wants one reader at a time
        Collect collect(*this);
        source.receive(collect);
        return collect.added();
    }

    nfcap::NflogSource& bound() {
        if (!source_) {
            throw std::runtime_error("the log is closed");
        }
        group_of_ = source_->config().groups.front();
        return *source_;
    }

    std::shared_ptr<Writer> writer_;
    std::unique_ptr<nfcap::InterfaceCache> names_;
    std::unique_ptr<nfcap::NflogSource> source_;
    std::deque<std::pair<nfcap::RetainedPacket, nfcap::Timestamp>> ready_; // and when received
    mutable std::mutex read_mutex_;
    std::uint64_t damaged_ = 0;
    std::uint64_t overruns_ = 0;
    std::uint16_t group_of_ = 0;
    int stop_fd_ = -1;
};

// One record of a recording: its bytes, its time, its interface and the metadata nfcap wrote
// (the comment's keys), or for an NFLOG-link-type record what its attributes say.
struct RecordingEntry {
    std::uint64_t number = 0;
    double time = 0;
    std::uint32_t link_type = 0;
    std::optional<std::string> interface;
    std::optional<std::string> comment;
    py::bytes data;
    py::bytes payload; // the network-layer packet
    std::uint32_t original_length = 0;
    py::dict fields;
};

constexpr std::uint32_t linktype_raw = 101;
constexpr std::uint32_t linktype_nflog = 239;
constexpr std::uint32_t linktype_linux_sll2 = 276;
constexpr std::size_t sll2_header = 20;

// What an NFLOG record's attributes say, under the comment's key names.
void nflog_fields(py::dict& fields, const nfcap::Packet& p) {
    fields["source"] = "nflog:" + std::to_string(p.resource_id);
    fields["hook"] = p.hook;
    if (p.has_prefix) {
        fields["prefix"] = std::string(p.prefix);
    }
    const auto put = [&](const char* key, const std::optional<std::uint32_t>& value) {
        if (value) {
            fields[key] = *value;
        }
    };
    put("in", p.indev);
    put("out", p.outdev);
    put("physin", p.physindev);
    put("physout", p.physoutdev);
    put("uid", p.uid);
    put("gid", p.gid);
    put("mark", p.mark);
    put("seq", p.seq);
    put("seq_global", p.seq_global);
}

class Reader {
  public:
    explicit Reader(py::object target) {
        int fd = -1;
        if (const auto path = path_of(target)) {
            fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                throw std::system_error(errno, std::generic_category(), "cannot open " + *path);
            }
        } else {
            std::string name;
            fd = duplicate_of(target, name);
        }
        stream_ = std::make_unique<nfcap::FileStream>(fd);
        reader_ = std::make_unique<nfcap::RecordingReader>(*stream_);
    }

    // The next record, or None at the end; a damaged file raises ValueError naming the record.
    py::object next() {
        if (!reader_) {
            throw std::runtime_error("the reader is closed");
        }
        nfcap::RecordingRecord r;
        if (!reader_->next(r)) {
            return py::none();
        }
        RecordingEntry e;
        e.number = r.number;
        e.time = static_cast<double>(r.time.sec) + static_cast<double>(r.time.nsec) / 1e9;
        e.link_type = r.link_type;
        e.original_length = r.original_length;
        e.data = to_bytes(r.data);
        if (!r.interface_name.empty()) {
            e.interface = std::string(r.interface_name);
        }
        if (!r.comment.empty()) {
            e.comment = std::string(r.comment);
            try {
                for (const auto& [key, value] : nfcap::parse_comment(r.comment)) {
                    e.fields[py::str(key)] = value;
                }
            } catch (const nfcap::DecodeError&) { // not nfcap's grammar: the comment alone
            }
        }
        e.payload = e.data;
        if (r.link_type == linktype_linux_sll2 && r.data.size() >= sll2_header) {
            e.payload = to_bytes(r.data.subspan(sll2_header));
        } else if (r.link_type == linktype_nflog) {
            try {
                const nfcap::Packet p = nfcap::decode_nflog(r.data);
                e.payload = to_bytes(p.payload);
                if (e.fields.empty()) {
                    nflog_fields(e.fields, p);
                }
            } catch (const nfcap::DecodeError&) { // the bytes are there; no fields
            }
        }
        return py::cast(std::move(e));
    }

    std::string format() const {
        return reader_->format() == nfcap::RecordingFormat::pcapng ? "pcapng" : "pcap";
    }
    std::uint32_t link_type() const { return reader_->link_type(); }
    void close() {
        reader_.reset();
        stream_.reset();
    }

  private:
    std::unique_ptr<nfcap::FileStream> stream_;
    std::unique_ptr<nfcap::RecordingReader> reader_;
};

// An iterator's next item: None (nothing came, or stopped) ends the iteration.
py::object or_stop(py::object item) {
    if (item.is_none()) {
        throw py::stop_iteration();
    }
    return item;
}

py::bytes fix_checksums(const py::bytes& packet) {
    auto bytes = from_bytes(packet);
    nfcap::fix_lengths_and_checksums(bytes);
    return to_bytes(bytes);
}

} // namespace

PYBIND11_MODULE(_nfcap, m) {
    m.doc() = "nfcap's native part: NFQUEUE queues and packets (see the nfcap and "
              "netfilterqueue modules)";

    py::register_exception<nfcap::BindError>(m, "BindError", PyExc_OSError);
    py::register_exception<nfcap::VerdictError>(m, "VerdictError", PyExc_RuntimeError);
    py::register_exception<nfcap::ChecksumError>(m, "ChecksumError", PyExc_ValueError);

    py::enum_<nfcap::CopyMode>(m, "CopyMode")
        .value("NONE", nfcap::CopyMode::none)
        .value("META", nfcap::CopyMode::meta)
        .value("PACKET", nfcap::CopyMode::packet);

    py::class_<Packet>(m, "Packet")
        .def_property_readonly("id", &Packet::id)
        .def_property_readonly("hw_protocol", &Packet::hw_protocol)
        .def_property_readonly("hook", &Packet::hook)
        .def_property_readonly("mark", &Packet::mark)
        .def_property_readonly("indev", &Packet::indev)
        .def_property_readonly("outdev", &Packet::outdev)
        .def_property_readonly("physindev", &Packet::physindev)
        .def_property_readonly("physoutdev", &Packet::physoutdev)
        .def_property_readonly("queue", &Packet::queue)
        .def_property_readonly("uid", &Packet::uid)
        .def_property_readonly("gid", &Packet::gid)
        .def_property_readonly("payload", &Packet::payload)
        .def_property_readonly("hwaddr", &Packet::hw)
        .def_property_readonly("indev_name", &Packet::indev_name)
        .def_property_readonly("outdev_name", &Packet::outdev_name)
        .def_property_readonly("physindev_name", &Packet::physindev_name)
        .def_property_readonly("physoutdev_name", &Packet::physoutdev_name)
        .def("get_payload", &Packet::payload)
        .def("get_payload_len", &Packet::payload_length)
        .def("set_payload", &Packet::set_payload, py::arg("payload"))
        .def("get_timestamp", &Packet::timestamp)
        .def("get_hw", &Packet::hw)
        .def("get_mark", &Packet::get_mark)
        .def("set_mark", &Packet::set_mark, py::arg("mark"))
        .def("retain", &Packet::retain)
        .def("accept", [](Packet& p) { p.give(nfcap::VerdictKind::accept); })
        .def("drop", [](Packet& p) { p.give(nfcap::VerdictKind::drop); })
        .def("repeat", [](Packet& p) { p.give(nfcap::VerdictKind::repeat); })
        .def(
            "queue_to",
            [](Packet& p, std::uint16_t target) { p.give(nfcap::VerdictKind::queue, target); },
            py::arg("queue"))
        .def("__str__", &Packet::describe)
        .def("__repr__", [](const Packet& p) {
            return "<nfcap.Packet id=" + std::to_string(p.id()) + ": " + p.describe() + ">";
        });

    py::class_<Writer, std::shared_ptr<Writer>>(m, "Writer")
        .def(py::init<py::object, const std::string&, std::uint32_t, bool,
                      std::optional<std::string>>(),
             py::arg("target"), py::kw_only(), py::arg("link_type") = "sll2",
             py::arg("snaplen") = 262144, py::arg("names") = true,
             py::arg("host_name") = py::none())
        .def("close", &Writer::close)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Writer& w, const py::args&) { w.close(); })
        .def_property_readonly("written", &Writer::written)
        .def_property_readonly("warnings", &Writer::warnings);

    py::class_<Queue>(m, "Queue")
        .def(py::init<std::uint16_t, py::object, std::optional<std::uint32_t>, nfcap::CopyMode,
                      std::uint32_t, std::optional<std::uint32_t>, bool, bool, bool, bool, bool,
                      std::optional<int>, std::shared_ptr<Writer>, bool,
                      std::optional<std::string>>(),
             py::arg("queue"), py::arg("callback"), py::kw_only(),
             py::arg("max_length") = py::none(), py::arg("copy_mode") = nfcap::CopyMode::packet,
             py::arg("copy_range") = 0xffff, py::arg("receive_buffer") = py::none(),
             py::arg("fail_open") = true, py::arg("gso") = false, py::arg("uid_gid") = true,
             py::arg("secctx") = false, py::arg("conntrack") = false,
             py::arg("sockfd") = py::none(), py::arg("writer") = py::none(),
             py::arg("names") = true, py::arg("policy") = py::none())
        .def("fileno", &Queue::fileno)
        .def("run", &Queue::run, py::arg("block") = true)
        .def("stop", &Queue::stop)
        .def("feed", &Queue::feed, py::arg("datagram"))
        .def("receive", &Queue::receive, py::arg("max") = std::numeric_limits<std::size_t>::max())
        .def("next", &Queue::next, py::arg("timeout") = py::none())
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", [](Queue& q) { return or_stop(q.next(std::nullopt)); })
        .def("close", &Queue::close)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Queue& q, const py::args&) { q.close(); })
        .def_property_readonly("held", &Queue::held)
        .def_property_readonly("packets", &Queue::packets)
        .def("counters", &Queue::counters);

    py::register_exception<nfcap::OverrunError>(m, "OverrunError", PyExc_OSError);

    py::class_<LogRecord>(m, "LogRecord")
        .def_property_readonly("group", [](const LogRecord& r) { return r.p().resource_id; })
        .def_property_readonly("proto", [](const LogRecord& r) { return r.p().hw_protocol; })
        .def_property_readonly("hwtype", [](const LogRecord& r) { return r.p().hwtype; })
        .def_property_readonly("nfmark", [](const LogRecord& r) { return r.p().mark.value_or(0); })
        .def_property_readonly("mark", [](const LogRecord& r) { return r.p().mark; })
        .def_property_readonly("hook", [](const LogRecord& r) { return r.p().hook; })
        .def_property_readonly("timestamp", &LogRecord::timestamp)
        .def_property_readonly("timestamp_us", &LogRecord::timestamp_us)
        .def_property_readonly("kernel_timestamp", &LogRecord::kernel_timestamp)
        .def_property_readonly("indev", &LogRecord::indev)
        .def_property_readonly("outdev", &LogRecord::outdev)
        .def_property_readonly("physindev", &LogRecord::physindev)
        .def_property_readonly("physoutdev", &LogRecord::physoutdev)
        .def_property_readonly("indev_index", [](const LogRecord& r) { return r.p().indev; })
        .def_property_readonly("outdev_index", [](const LogRecord& r) { return r.p().outdev; })
        .def_property_readonly("uid", [](const LogRecord& r) { return r.p().uid; })
        .def_property_readonly("gid", [](const LogRecord& r) { return r.p().gid; })
        .def_property_readonly("seq", [](const LogRecord& r) { return r.p().seq; })
        .def_property_readonly("seq_global", [](const LogRecord& r) { return r.p().seq_global; })
        .def_property_readonly("hwaddr", &LogRecord::hwaddr)
        .def_property_readonly("hwhdr", &LogRecord::hwheader)
        .def_property_readonly("payload", &LogRecord::payload)
        .def_property_readonly("prefix", &LogRecord::prefix);

    py::class_<Log>(m, "Log")
        .def(py::init<std::vector<std::uint16_t>, nfcap::CopyMode, std::uint32_t,
                      std::optional<std::uint32_t>, std::optional<std::uint32_t>,
                      std::optional<std::uint32_t>, std::optional<double>, const std::string&, bool,
                      std::optional<int>, bool, std::shared_ptr<Writer>>(),
             py::arg("groups"), py::kw_only(), py::arg("copy_mode") = nfcap::CopyMode::packet,
             py::arg("copy_range") = 0xffff, py::arg("receive_buffer") = py::none(),
             py::arg("netlink_buffer") = py::none(), py::arg("queue_threshold") = py::none(),
             py::arg("flush_timeout") = py::none(), py::arg("on_overrun") = "count",
             py::arg("conntrack") = false, py::arg("sockfd") = py::none(), py::arg("names") = true,
             py::arg("writer") = py::none())
        .def("fill", &Log::fill, py::arg("timeout") = py::none())
        .def("next", &Log::next, py::arg("timeout") = py::none())
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", [](Log& log) { return or_stop(log.next(std::nullopt)); })
        .def("stop", &Log::stop)
        .def("close", &Log::close)
        .def("fileno", &Log::fileno)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](Log& log, const py::args&) { log.close(); })
        .def_property_readonly("ready", &Log::ready)
        .def_property_readonly("overruns", &Log::overruns)
        .def_property_readonly("damaged", &Log::damaged)
        .def_property_readonly("socket_drops", &Log::socket_drops)
        .def_property_readonly("receive_buffer", &Log::receive_buffer);

    py::register_exception<nfcap::DecodeError>(m, "RecordingError", PyExc_ValueError);

    py::class_<RecordingEntry>(m, "RecordingEntry")
        .def_readonly("number", &RecordingEntry::number)
        .def_readonly("time", &RecordingEntry::time)
        .def_readonly("link_type", &RecordingEntry::link_type)
        .def_readonly("interface", &RecordingEntry::interface)
        .def_readonly("comment", &RecordingEntry::comment)
        .def_readonly("data", &RecordingEntry::data)
        .def_readonly("payload", &RecordingEntry::payload)
        .def_readonly("original_length", &RecordingEntry::original_length)
        .def_readonly("fields", &RecordingEntry::fields);

    py::class_<Reader>(m, "Reader")
        .def(py::init<py::object>(), py::arg("source"))
        .def("next", &Reader::next)
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", [](Reader& r) { return or_stop(r.next()); })
        .def("__enter__", [](py::object self) { return self; })
        .def("close", &Reader::close)
        .def("__exit__", [](Reader& r, const py::args&) { r.close(); })
        .def_property_readonly("format", &Reader::format)
        .def_property_readonly("link_type", &Reader::link_type);

    m.def("fix_checksums", &fix_checksums, py::arg("packet"),
          "The packet (IPv4 or IPv6, IP header first) with its lengths and its IP, TCP and UDP "
          "checksums made right, for set_payload() after a change.");
}
