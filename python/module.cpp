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
#include <nfcap/queue_source.hpp>
#include <nfcap/retained_packet.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
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
    std::optional<nfcap::Verdict> verdict_;
    std::optional<std::uint32_t> new_mark_;
    std::optional<std::vector<std::byte>> new_payload_;
    bool decided_ = false;
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
          bool secctx, bool conntrack, std::optional<int> sockfd)
        : state_(std::make_shared<QueueState>()), callback_(std::move(callback)) {
        if (!PyCallable_Check(callback_.ptr())) {
            throw py::type_error("the callback must be callable");
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
        state_->source = std::make_unique<nfcap::QueueSource>(
            config, nfcap::Verdict{},
            [this](const nfcap::Packet& p) -> std::optional<nfcap::Decision> { return ask(p); });
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
        if (running_.exchange(true)) {
            throw std::runtime_error("run() is already running for this queue");
        }
        struct Done {
            std::atomic<bool>& flag;
            ~Done() { flag = false; }
        } done{running_};
        Ignore ignore;
        for (;;) {
            if (block) {
                int woke = 0;
                {
                    const py::gil_scoped_release unlocked;
                    const int deadline = source->next_deadline_ms();
                    std::array<pollfd, 2> fds{pollfd{source->fd(), POLLIN, 0},
                                              pollfd{stop_fd_, POLLIN, 0}};
                    // At most 100 ms, so that a signal's handler runs soon (Ctrl-C).
                    woke = ::poll(fds.data(), fds.size(),
                                  deadline >= 0 && deadline < 100 ? deadline : 100);
                    if (woke > 0 && (fds[1].revents & POLLIN) != 0) {
                        std::uint64_t count = 0;
                        (void)::read(stop_fd_, &count, sizeof count);
                        woke = -2;
                    }
                }
                if (PyErr_CheckSignals() != 0) {
                    throw py::error_already_set();
                }
                if (woke == -2 || closing_) {
                    break;
                }
            }
            source->receive(ignore);
            if (closing_ || !block) {
                break;
            }
        }
        if (closing_) {
            close_now();
        }
    }

    // Makes run() return (from another thread or a signal handler's Python code).
    void stop() {
        const std::uint64_t one = 1;
        (void)::write(stop_fd_, &one, sizeof one);
    }

    // Handles one datagram the program read from the socket itself (gevent-style).
    void feed(const py::bytes& datagram) {
        const auto bytes = from_bytes(datagram);
        nfcap::QueueSource* source = state_->source.get();
        if (source == nullptr) {
            throw std::runtime_error("the queue is unbound");
        }
        Ignore ignore;
        source->feed(bytes, ignore);
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

  private:
    std::optional<nfcap::Decision> ask(const nfcap::Packet& p) {
        auto* packet = new Packet(state_, p);
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
            gone.reset(); // the fallback for held packets, then unbind
        }
    }

    std::shared_ptr<QueueState> state_;
    py::object callback_;
    int stop_fd_ = -1;
    std::atomic<bool> running_{false};
    std::atomic<bool> closing_{false};
};

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

    py::class_<Queue>(m, "Queue")
        .def(py::init<std::uint16_t, py::object, std::optional<std::uint32_t>, nfcap::CopyMode,
                      std::uint32_t, std::optional<std::uint32_t>, bool, bool, bool, bool, bool,
                      std::optional<int>>(),
             py::arg("queue"), py::arg("callback"), py::kw_only(),
             py::arg("max_length") = py::none(), py::arg("copy_mode") = nfcap::CopyMode::packet,
             py::arg("copy_range") = 0xffff, py::arg("receive_buffer") = py::none(),
             py::arg("fail_open") = true, py::arg("gso") = false, py::arg("uid_gid") = true,
             py::arg("secctx") = false, py::arg("conntrack") = false,
             py::arg("sockfd") = py::none())
        .def("fileno", &Queue::fileno)
        .def("run", &Queue::run, py::arg("block") = true)
        .def("stop", &Queue::stop)
        .def("feed", &Queue::feed, py::arg("datagram"))
        .def("close", &Queue::close)
        .def_property_readonly("held", &Queue::held)
        .def_property_readonly("packets", &Queue::packets);

    m.def("fix_checksums", &fix_checksums, py::arg("packet"),
          "The packet (IPv4 or IPv6, IP header first) with its lengths and its IP, TCP and UDP "
          "checksums made right, for set_payload() after a change.");
}
