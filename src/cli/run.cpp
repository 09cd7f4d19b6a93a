#include "run.hpp"

#include <nfcap/interface_cache.hpp>
#include <nfcap/nflog_source.hpp>
#include <nfcap/recorder.hpp>
#include <nfcap/replay_source.hpp>
#include <nfcap/sink.hpp>

#include <poll.h>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace nfcap::cli {
namespace {

volatile std::sig_atomic_t stop_signal = 0;

extern "C" void on_stop_signal(int signal) {
    stop_signal = signal;
}

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal; // no SA_RESTART: blocking calls return EINTR
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    signal(SIGPIPE, SIG_IGN); // a vanished reader shows up as EPIPE
}

Timestamp wall_clock() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return Timestamp{ts.tv_sec, static_cast<std::uint32_t>(ts.tv_nsec)};
}

void warn(const std::string& message) {
    std::cerr << "nfcap: " << message << '\n';
}

const char* link_type_label(LinkType type) {
    switch (type) {
    case LinkType::linux_sll2:
        return "LINUX_SLL2";
    case LinkType::raw:
        return "RAW";
    case LinkType::nflog:
        return "NFLOG";
    case LinkType::netlink:
        return "NETLINK";
    }
    return "?";
}

struct Totals {
    std::uint64_t lost = 0, filtered = 0, malformed = 0, unsupported = 0;
};

Totals totals_of(const Recorder& recorder) {
    Totals t;
    t.malformed = recorder.malformed_without_group();
    for (const auto& c : recorder.interfaces()) {
        t.lost += c.lost;
        t.filtered += c.filtered;
        t.malformed += c.malformed;
        t.unsupported += c.unsupported;
    }
    return t;
}

// Ends the file (statistics blocks) unless the reader is gone, then prints the summary.
int finish(Recorder& recorder, Timestamp start, Timestamp end, bool reader_gone,
           std::uint64_t overruns, bool live) {
    if (!reader_gone) {
        try {
            recorder.finish(start, end);
        } catch (const ReaderGone& e) {
            warn(std::string(e.what()) + "; stopping");
        }
    }
    const Totals t = totals_of(recorder);
    std::string line = "nfcap: " + std::to_string(recorder.delivered()) + " packets written";
    if (live) {
        line += ", " + std::to_string(overruns) + " kernel drops (ENOBUFS), " +
                std::to_string(t.lost) + " lost in sequence gaps";
    }
    line += ", " + std::to_string(t.filtered) + " filtered, " + std::to_string(t.malformed) +
            " malformed";
    if (t.unsupported != 0) {
        line += ", " + std::to_string(t.unsupported) + " not representable in this link type";
    }
    std::cerr << line << '\n';
    return t.malformed != 0 ? exit_skipped : exit_ok;
}

RecorderOptions recorder_options(const Options& o, TimestampSource fallback) {
    RecorderOptions r;
    r.link_type = o.link_type;
    r.snaplen = o.snaplen;
    r.filter = o.filter;
    r.max_packets = o.count;
    r.fallback_source = fallback;
    return r;
}

int capture(const Options& o) {
    NflogConfig config;
    config.groups = o.groups;
    config.copy_range = o.snaplen;
    config.receive_buffer = o.rcvbuf;
    config.netlink_buffer = o.nlbufsiz;
    config.queue_threshold = o.qthresh;
    config.flush_timeout = o.flush_timeout;
    config.conntrack = o.conntrack;

    // Compile the filter before touching the kernel, so a typo costs nothing.
    RecorderOptions ro = recorder_options(o, TimestampSource::receive);
    if (!ro.filter.empty()) {
        PacketFilter check(ro.filter);
    }
    InterfaceCache names;
    NflogSource source(config); // records queue in the socket buffer from here on
    for (const auto& w : source.warnings()) {
        warn(w);
    }
    auto sink = open_output(o.write_file);
    Recorder recorder(*sink, ro, &names, warn);
    for (const std::uint16_t g : o.groups) {
        recorder.add_nflog_group(g, true);
    }
    const Timestamp start = wall_clock();
    std::string groups;
    for (const auto& c : recorder.interfaces()) {
        groups += (groups.empty() ? "" : ", ") + c.name;
    }
    std::cerr << "nfcap: recording " << groups << " to " << sink->name() << " (link type "
              << link_type_label(o.link_type) << ", snaplen " << o.snaplen << ")\n";

    bool reader_gone = false;
    sigset_t blocked{};
    sigset_t during_poll{};
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigprocmask(SIG_BLOCK, &blocked, &during_poll);
    sigdelset(&during_poll, SIGINT);
    sigdelset(&during_poll, SIGTERM);
    try {
        recorder.flush(); // section and interface blocks go out at once, for live readers
        std::array<pollfd, 2> fds{pollfd{source.fd(), POLLIN, 0}, pollfd{names.fd(), POLLIN, 0}};
        const timespec tick{1, 0};
        while (stop_signal == 0 && !recorder.done()) {
            const int ready = ppoll(fds.data(), names.fd() >= 0 ? 2 : 1, &tick, &during_poll);
            if (ready < 0 && errno != EINTR) {
                throw std::system_error(errno, std::generic_category(), "poll");
            }
            if (ready <= 0) {
                continue;
            }
            if ((fds[0].revents & POLLIN) != 0 && source.receive(recorder) > 0) {
                recorder.flush();
            }
            if ((fds[1].revents & POLLIN) != 0) {
                names.update();
            }
        }
        if (stop_signal == 0 || !recorder.done()) {
            // Take what the kernel had already delivered before stopping.
            source.receive(recorder);
        }
    } catch (const ReaderGone& e) {
        warn(std::string(e.what()) + "; stopping");
        reader_gone = true;
    }
    return finish(recorder, start, wall_clock(), reader_gone, source.counters().overruns, true);
}

bool stop_requested() {
    return stop_signal != 0;
}

int replay(const Options& o) {
    ReplaySource source(o.read_file);
    auto sink = open_output(o.write_file);
    Recorder recorder(*sink, recorder_options(o, TimestampSource::file), nullptr, warn);
    try {
        // The new file's statistics span the recording's own time, so replay is reproducible.
        const ReplaySpan span = replay_into(source, recorder, stop_requested);
        return finish(recorder, span.first, span.last, false, 0, false);
    } catch (const ReaderGone& e) {
        warn(std::string(e.what()) + "; stopping");
        return finish(recorder, {}, {}, true, 0, false);
    }
}

} // namespace

int run(const Options& options) {
    install_signal_handlers();
    return options.read_file.empty() ? capture(options) : replay(options);
}

} // namespace nfcap::cli
