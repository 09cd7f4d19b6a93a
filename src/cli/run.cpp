#include "run.hpp"

#include <nfcap/bindings.hpp>
#include <nfcap/interface_cache.hpp>
#include <nfcap/live_capture.hpp>
#include <nfcap/loss.hpp>
#include <nfcap/nflog_source.hpp>
#include <nfcap/privileges.hpp>
#include <nfcap/queue_source.hpp>
#include <nfcap/recorder.hpp>
#include <nfcap/replay_source.hpp>
#include <nfcap/sink.hpp>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>

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

struct Totals {
    InterfaceCounters all;       // every interface's counts added up
    std::uint64_t malformed = 0; // with those no interface could be named for
    bool queues = false;
};

Totals totals_of(const Recorder& recorder) {
    Totals t;
    t.all = sum_of(recorder.interfaces());
    t.malformed = recorder.malformed_without_group() + t.all.malformed;
    for (const auto& c : recorder.interfaces()) {
        t.queues = t.queues || c.kind == RecordKind::nfqueue;
    }
    return t;
}

// Says once, in one line, that the output failed: the sink's reason (naming the output), what
// a file still holds, and what nfcap does next.
struct FailureReport {
    bool said = false;
    void say(const Recorder& recorder, const Sink& sink, bool verdicts_go_on) {
        if (said || !recorder.output_failed()) {
            return;
        }
        said = true;
        std::string line = *recorder.output_error();
        if (sink.kind() == SinkKind::file) {
            line += "; the file ends with its last complete block";
        }
        line += verdicts_go_on ? "; verdicts go on, and packets are counted as not written "
                                 "until nfcap is stopped"
                               : "; stopping";
        warn(line);
    }
};

// Ends the file (statistics blocks) unless the reader is gone, then prints the summary.
// Exit status: 1 for a failed output, else 4 when records were lost (unless `loss_status` is
// off), else 3 when malformed records were skipped, else 0.
int finish(Recorder& recorder, Timestamp start, Timestamp end, bool reader_gone,
           const LiveCaptureResult& live_result, bool live, const Sink& sink,
           FailureReport& failure, bool loss_status) {
    if (!reader_gone) {
        try {
            recorder.finish(start, end);
        } catch (const ReaderGone& e) {
            warn(std::string(e.what()) + "; stopping");
        }
    }
    failure.say(recorder, sink, false);
    const Totals t = totals_of(recorder);
    if (live) { // why a count is only a lower bound, once per reason
        std::vector<std::string> said;
        for (const auto& c : recorder.interfaces()) {
            if (c.certainty == LossCertainty::at_least &&
                std::find(said.begin(), said.end(), c.loss_note) == said.end()) {
                said.push_back(c.loss_note);
                warn(c.name + ": loss is a lower bound: " + c.loss_note);
            }
        }
    }
    std::string line = "nfcap: " + std::to_string(recorder.delivered()) + " packets written";
    if (live) {
        line += ", " + loss_summary(t.all);
    }
    line += ", " + std::to_string(t.all.filtered) + " filtered, " + std::to_string(t.malformed) +
            " malformed";
    if (t.all.truncated != 0) { // only replay meets records a recording cut
        line += ", " + std::to_string(t.all.truncated) + " truncated";
    }
    if (!live && t.all.lost != 0) {
        line += ", " + std::to_string(t.all.lost) +
                " missing in sequence gaps (lost when the recording was made)";
    }
    if (t.all.unsupported != 0) {
        line += ", " + std::to_string(t.all.unsupported) + " not representable in this link type";
    }
    if (recorder.unread() != 0) {
        line += ", " + std::to_string(recorder.unread()) + " unread (no reader on the FIFO)";
    }
    if (recorder.output_failed()) {
        line += ", " + std::to_string(recorder.failed()) + " not written (output failed)";
    }
    if (!t.queues && live && t.all.not_written != 0) { // NFLOG: the output did not move
        line += ", " + std::to_string(t.all.not_written) + " not written (output behind)";
    }
    if (t.queues && live) {
        line += ", " + std::to_string(live_result.verdicts) + " verdicts, " +
                std::to_string(t.all.not_written) + " not written (output behind)";
    }
    std::cerr << line << '\n';
    if (recorder.output_failed()) {
        return exit_error;
    }
    if (loss_status && (t.all.total_lost() != 0 || t.all.not_written != 0)) {
        return exit_lost;
    }
    // Some records incomplete: malformed ones skipped, truncated ones written cut.
    return t.malformed != 0 || t.all.truncated != 0 ? exit_skipped : exit_ok;
}

bool ring_buffer(const Options& o) {
    return o.ring_filesize_kb != 0 || o.ring_duration_s != 0;
}

// How files are made: --file-mode, and with -Z owned by that user from the start.
OutputFileOptions file_options(const Options& o, const std::optional<UserAccount>& user) {
    OutputFileOptions f;
    f.mode = o.file_mode;
    if (user) {
        f.owner = OutputFileOptions::Owner{user->uid, user->gid};
    }
    return f;
}

// The output: a ring of files with -b, else what -w names.
std::unique_ptr<Sink> output_for(const Options& o, const OutputFileOptions& files) {
    if (ring_buffer(o)) {
        return std::make_unique<RotatingFileSink>(o.write_file, o.ring_files, files);
    }
    return open_output(o.write_file, !binary_format(o.format), files);
}

// What the start line says of the output: the link type only where the file has one.
std::string output_description(const Options& o) {
    switch (o.format) {
    case OutputFormat::text:
        return "one line per packet";
    case OutputFormat::json:
    case OutputFormat::json_payload:
        return "one JSON object per packet";
    case OutputFormat::pcap:
        return "classic pcap, link type " + std::string(link_type_name(o.link_type)) +
               ", no metadata in the file";
    case OutputFormat::pcapng:
        break;
    }
    return "link type " + std::string(link_type_name(o.link_type));
}

// --json-sidecar: a file beside the output, or a ring of them beside a ring.
std::unique_ptr<Sink> sidecar_for(const Options& o, const OutputFileOptions& files) {
    if (o.json_sidecar.empty()) {
        return nullptr;
    }
    if (ring_buffer(o)) {
        return std::make_unique<RotatingFileSink>(o.json_sidecar, o.ring_files, files);
    }
    return open_output(o.json_sidecar, true, files);
}

// -Z: looked up before anything is opened, so a typo costs nothing.
std::optional<UserAccount> user_of(const Options& o) {
    if (o.user.empty()) {
        return std::nullopt;
    }
    UserAccount user = find_user(o.user);
    check_can_switch(user);
    return user;
}

// -Z, once sockets and files are open (and before any thread exists: the receive threads
// inherit the credentials). A ring needs the directory to stay writable for the user: say so
// now rather than at the first rotation.
void give_up_root(const Options& o, const UserAccount& user, KeepCapability keep) {
    switch_user(user, keep);
    if (ring_buffer(o)) {
        const std::size_t slash = o.write_file.rfind('/');
        const std::string dir =
            slash == std::string::npos ? "." : (slash == 0 ? "/" : o.write_file.substr(0, slash));
        if (::access(dir.c_str(), W_OK | X_OK) != 0) {
            throw std::runtime_error("-b: user " + user.name + " cannot create the next files in " +
                                     dir + " (" + std::strerror(errno) + ")");
        }
    }
}

double seconds_between(Timestamp a, Timestamp b) {
    return static_cast<double>(b.sec - a.sec) + (static_cast<double>(b.nsec) - a.nsec) / 1e9;
}

// "nfcap: 12345 packets (1234/s), 0 lost, 0 filtered -> out.pcapng", redrawn in place; "at
// least 12 lost" when some loss cannot be counted.
struct StatusLine {
    Timestamp last;
    std::uint64_t last_written;
    bool shown = false;
    void print(const Recorder& r, const std::string& file, Timestamp now) {
        const Totals t = totals_of(r);
        const double rate = static_cast<double>(r.written() - last_written) /
                            std::max(seconds_between(last, now), 1e-3);
        std::fprintf(stderr, "\rnfcap: %llu packets (%.0f/s), %s, %llu filtered -> %s\x1b[K",
                     static_cast<unsigned long long>(r.written()), rate,
                     describe_loss(t.all.total_lost(), t.all.certainty).c_str(),
                     static_cast<unsigned long long>(t.all.filtered), file.c_str());
        std::fflush(stderr);
        last = now;
        last_written = r.written();
        shown = true;
    }
    void end() {
        if (shown) {
            std::fputc('\n', stderr);
        }
    }
};

RecorderOptions recorder_options(const Options& o, TimestampSource fallback) {
    RecorderOptions r;
    r.link_type = o.link_type;
    r.snaplen = o.snaplen;
    r.filter = o.filter;
    r.max_packets = o.count;
    r.fallback_source = fallback;
    r.format = o.format;
    r.max_bytes = o.stop_filesize_kb * 1000;
    r.rotate_bytes = o.ring_filesize_kb * 1000;
    r.reconnect = o.fifo_reconnect;
    // A live capture names this host; a replay's records came from elsewhere, so it names
    // one only when told, and says nothing of this machine.
    if (fallback == TimestampSource::receive) {
        r.host = this_host();
    }
    if (o.host_name) {
        r.host.name = *o.host_name;
    }
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&now, &local);
    r.utc_offset_seconds = local.tm_gmtoff;
    return r;
}

bool stop_requested() {
    return stop_signal != 0;
}

int capture(const Options& o) {
    // Compile the filter before touching the kernel, so a typo costs nothing.
    const RecorderOptions ro = recorder_options(o, TimestampSource::receive);
    if (!ro.filter.empty()) {
        PacketFilter check(ro.filter);
    }
    const std::optional<UserAccount> user = user_of(o);
    // Another namespace first: every socket below (NFLOG, NFQUEUE, the rtnetlink socket of the
    // interface names) is created in it, and the threads started later inherit it. setns needs
    // CAP_SYS_ADMIN, which -Z gives up further down.
    if (!o.netns.empty()) {
        enter_network_namespace(o.netns);
    }
    InterfaceCache names(InterfaceCache::Start::later); // its thread starts after -Z
    // Bind everything first: records queue in the socket buffers from here on, and a bind error
    // leaves no output file behind.
    std::unique_ptr<NflogSource> nflog;
    if (!o.groups.empty()) {
        NflogConfig config;
        config.groups = o.groups;
        config.copy_range = o.snaplen;
        config.copy_mode = o.copy_mode;
        config.receive_buffer = o.rcvbuf;
        config.netlink_buffer = o.nlbufsiz;
        config.queue_threshold = o.qthresh;
        config.flush_timeout = o.flush_timeout;
        config.conntrack = o.conntrack;
        nflog = std::make_unique<NflogSource>(config);
        for (const auto& w : nflog->warnings()) {
            warn(w);
        }
    }
    std::vector<std::unique_ptr<QueueSource>> queues;
    for (const std::uint16_t q : o.queues) {
        QueueConfig config;
        config.queue = q;
        config.copy_range =
            kernel_copy_range(RecordKind::nfqueue, o.copy_range.value_or(o.snaplen));
        config.copy_mode = o.copy_mode;
        config.max_length = o.queue_maxlen;
        config.receive_buffer = o.rcvbuf;
        config.fail_open = o.fail_open;
        config.gso = o.gso;
        config.secctx = o.secctx;
        config.conntrack = o.conntrack;
        queues.push_back(std::make_unique<QueueSource>(config, *o.verdict));
        for (const auto& w : queues.back()->warnings()) {
            warn(w);
        }
    }
    const OutputFileOptions files = file_options(o, user);
    auto sink = output_for(o, files);
    auto sidecar = sidecar_for(o, files);
    std::unique_ptr<Sink> netlink_sink;
    std::unique_ptr<NetlinkRecorder> netlink;
    if (!o.record_netlink.empty()) {
        netlink_sink = open_output(o.record_netlink, false, files);
        netlink = std::make_unique<NetlinkRecorder>(*netlink_sink, ro.host);
    }
    if (user) {
        give_up_root(o, *user, KeepCapability::net_admin);
    }
    names.start();
    Recorder recorder(*sink, ro, &names, warn);
    if (sidecar) {
        recorder.add_sidecar(*sidecar);
    }
    for (const std::uint16_t g : o.groups) {
        recorder.add_source(RecordKind::nflog, g, true);
    }
    for (const auto& q : queues) {
        recorder.add_source(RecordKind::nfqueue, q->config().queue, true, q->verdict_text());
    }
    const Timestamp start = wall_clock();
    std::string names_list;
    for (const auto& c : recorder.interfaces()) {
        names_list += (names_list.empty() ? "" : ", ") + c.name;
    }
    std::cerr << "nfcap: recording " << names_list << " to " << sink->name() << " ("
              << output_description(o) << ", snaplen " << o.snaplen << ")";
    if (!o.json_sidecar.empty()) {
        std::cerr << ", metadata to " << sidecar->name();
    }
    if (o.verdict) {
        std::cerr << ", " << describe(*o.verdict);
    }
    if (!o.netns.empty()) {
        std::cerr << ", in network namespace " << o.netns;
    }
    if (user) {
        std::cerr << ", as user " << user->name;
    }
    std::cerr << "\n";

    // Signals are taken by the writer loop below, never by a receive thread.
    sigset_t blocked{};
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    recorder.set_start(start);
    const auto asked_to_stop = [&blocked, &o, start] {
        const timespec zero{0, 0};
        const int signal = sigtimedwait(&blocked, nullptr, &zero);
        if (signal > 0) {
            stop_signal = signal;
        }
        return stop_signal != 0 ||
               (o.stop_duration_s != 0 &&
                seconds_between(start, wall_clock()) >= static_cast<double>(o.stop_duration_s));
    };
    // A write waiting for a stalled pipe reader asks this too: a signal still stops nfcap.
    sink->set_give_up(asked_to_stop);
    if (netlink_sink) {
        netlink_sink->set_give_up(asked_to_stop);
    }
    FailureReport failure;
    const auto stop = [&asked_to_stop, &failure, &recorder, &sink, &o] {
        const bool now = asked_to_stop();
        failure.say(recorder, *sink, !o.queues.empty() && !now);
        return now;
    };
    // On a terminal, a status line like dumpcap's, redrawn every second (--quiet: none).
    const bool status = !o.quiet && ::isatty(STDERR_FILENO) == 1;
    StatusLine line{start, 0};
    const auto tick = [&o, &recorder, &sink, status, &line] {
        const Timestamp now = wall_clock();
        if (o.ring_duration_s != 0 &&
            seconds_between(recorder.file_start(), now) >= static_cast<double>(o.ring_duration_s)) {
            recorder.rotate(now);
        }
        if (status && seconds_between(line.last, now) >= 1.0) {
            line.print(recorder, sink->name(), now);
        }
    };

    bool reader_gone = false;
    try {
        recorder.flush(); // section and interface blocks go out at once, for live readers
    } catch (const ReaderGone& e) {
        warn(std::string(e.what()) + "; stopping");
        reader_gone = true;
    }
    LiveCapture capture(recorder, &names, netlink.get());
    if (nflog) {
        capture.add(std::move(nflog));
    }
    for (auto& q : queues) {
        capture.add(std::move(q));
    }
    LiveCaptureResult result;
    if (!reader_gone) {
        result = capture.run(stop, tick);
        if (result.reader_gone) {
            warn("the reader of " + sink->name() + " went away; stopping");
        }
    }
    line.end();
    return finish(recorder, start, wall_clock(), reader_gone || result.reader_gone, result, true,
                  *sink, failure, o.loss_status);
}

int replay(const Options& o) {
    const std::optional<UserAccount> user = user_of(o);
    ReplaySource source(o.read_file);
    const OutputFileOptions files = file_options(o, user);
    auto sink = output_for(o, files);
    auto sidecar = sidecar_for(o, files);
    sink->set_give_up(stop_requested); // a signal stops a write to a stalled reader too
    if (user) {
        give_up_root(o, *user, KeepCapability::none); // a replay needs no capability
    }
    Recorder recorder(*sink, recorder_options(o, TimestampSource::file), nullptr, warn);
    if (sidecar) {
        recorder.add_sidecar(*sidecar);
    }
    FailureReport failure;
    try {
        // The new file's statistics span the recording's own time, so replay is reproducible.
        const ReplaySpan span = replay_into(source, recorder, stop_requested);
        return finish(recorder, span.first, span.last, false, {}, false, *sink, failure,
                      o.loss_status);
    } catch (const ReaderGone& e) {
        warn(std::string(e.what()) + "; stopping");
        return finish(recorder, {}, {}, true, {}, false, *sink, failure, o.loss_status);
    }
}

// -D: what can be captured here, as dumpcap -D lists its interfaces (numbered, name first, so
// that scripts reading dumpcap's list read this one), then what is bound already and by whom.
int list_interfaces(const Options& o) {
    if (!o.netns.empty()) {
        enter_network_namespace(o.netns);
    }
    std::cout << "1. nflog:N (Linux netfilter log: NFLOG groups 0-65535; -g N or -i nflog:N)\n"
                 "2. nfqueue:N (Linux netfilter queue: NFQUEUE queues 0-65535; -q N or "
                 "-i nfqueue:N, with a verdict policy)\n";
    std::cout << "Bound now" << (o.netns.empty() ? "" : " in network namespace " + o.netns)
              << ":\n";
    bool any = false;
    for (const RecordKind kind : {RecordKind::nflog, RecordKind::nfqueue}) {
        const char* const name = kind == RecordKind::nflog ? "nflog" : "nfqueue";
        bool available = false;
        for (const Binding& b : current_bindings(kind, &available)) {
            const std::string label = std::string(name) + ":" + std::to_string(b.number);
            std::cout << "   " << label
                      << std::string(label.size() < 14 ? 14 - label.size() : 1, ' ') << b.owner
                      << '\n';
            any = true;
        }
        if (!available) {
            std::cout << "   (" << name << ": the kernel lists nothing yet: nfnetlink_"
                      << (kind == RecordKind::nflog ? "log" : "queue")
                      << " is loaded on first use)\n";
        }
    }
    if (!any) {
        std::cout << "   nothing: every group and queue is free\n";
    }
    return exit_ok;
}

} // namespace

int run(const Options& options) {
    if (options.action == Action::list) {
        return list_interfaces(options);
    }
    install_signal_handlers();
    return options.read_file.empty() ? capture(options) : replay(options);
}

} // namespace nfcap::cli
