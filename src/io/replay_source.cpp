#include <nfcap/replay_source.hpp>

#include <nfcap/netlink.hpp>
#include <nfcap/recorder.hpp>

#include <nfcap/recording_reader.hpp>

#include "system_error.hpp"

#include <pcap/pcap.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

namespace nfcap {
namespace {

constexpr std::uint32_t linktype_nflog = 239;
constexpr std::uint32_t linktype_netlink = 253;

const char* const what_nfcap_reads =
    "nfcap replays pcap and pcapng recordings of LINKTYPE_NFLOG (as written by tcpdump -i "
    "nflog:N -w or dumpcap -i nflog:N) and of LINKTYPE_NETLINK (from --record-netlink)";

// The link type's name: LINKTYPE_ values are DLT_ values except for a few (RAW is DLT 12).
std::string linktype_display_name(std::uint32_t link_type) {
    if (link_type == 101) {
        return "RAW";
    }
    const char* name =
        link_type <= 0xffff ? pcap_datalink_val_to_name(static_cast<int>(link_type)) : nullptr;
    return name != nullptr ? name : "?";
}

bool replayable(std::uint32_t link_type) {
    return link_type == linktype_nflog || link_type == linktype_netlink;
}

} // namespace

FileStream::FileStream(const std::string& path)
    : fd_(path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC)),
      owned_(path != "-") {
    if (fd_ < 0) {
        detail::throw_errno(path);
    }
}

FileStream::~FileStream() {
    if (owned_) {
        ::close(fd_);
    }
}

std::size_t FileStream::read(std::span<std::byte> into) {
    for (;;) {
        const ssize_t n = ::read(fd_, into.data(), into.size());
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            detail::throw_errno("read");
        }
    }
}

struct ReplaySource::Handle {
    std::optional<FileStream> file;
    std::optional<RecordingReader> reader;
    RecordingRecord record;
};

ReplaySource::ReplaySource(const std::string& path)
    : handle_(std::make_unique<Handle>()), path_(path) {
    std::uint32_t type = 0;
    try {
        handle_->file.emplace(path);
        handle_->reader.emplace(*handle_->file);
        type = handle_->reader->link_type();
    } catch (const std::system_error& e) {
        throw std::runtime_error("cannot read " + path + ": " + e.code().message());
    } catch (const DecodeError& e) {
        std::string why = e.what();
        if (why == "unknown file format") {
            why += "; ";
            why += what_nfcap_reads;
        }
        throw std::runtime_error("cannot read " + path + ": " + why);
    }
    if (!replayable(type)) {
        throw std::runtime_error(path + ": link type " + linktype_display_name(type) + " (" +
                                 std::to_string(type) + ") cannot be replayed; " +
                                 what_nfcap_reads);
    }
    link_type_ = type == linktype_netlink ? LinkType::netlink : LinkType::nflog;
}

ReplaySource::~ReplaySource() = default;

// Every replayed record comes through here: flatten inlines the reader's calls (a record of the
// common kind is three calls deep otherwise) into it.
[[gnu::flatten]] bool ReplaySource::next(ReplayRecord& record) {
    if (!error_.empty()) {
        return false;
    }
    RecordingRecord& r = handle_->record;
    try {
        if (!handle_->reader->next(r)) {
            return false;
        }
    } catch (const DecodeError& e) {
        error_ = e.what();
        return false;
    } catch (const std::system_error& e) {
        error_ = "reading after record " + std::to_string(count_) + ": " + e.code().message();
        return false;
    }
    if (!replayable(r.link_type)) {
        error_ = "record " + std::to_string(r.number) + " is on an interface of link type " +
                 linktype_display_name(r.link_type) + " (" + std::to_string(r.link_type) +
                 "), which nfcap cannot replay";
        return false;
    }
    count_ = r.number;
    record.number = r.number;
    record.data = r.data;
    record.original_length = r.original_length;
    record.time = r.time;
    record.link_type = r.link_type == linktype_netlink ? LinkType::netlink : LinkType::nflog;
    return true;
}

} // namespace nfcap

namespace nfcap {

ReplaySpan replay_into(ReplaySource& source, Recorder& recorder, bool (*stop)()) {
    ReplaySpan span;
    ReplayRecord record;
    while ((stop == nullptr || !stop()) && !recorder.done() && !recorder.output_failed() &&
           source.next(record)) {
        if (record.number == 1) {
            span.first = record.time;
        }
        span.last = record.time;
        if (record.link_type == LinkType::nflog) {
            recorder.record(RecordKind::nflog, record.data, record.time, record.number,
                            record.original_length);
            continue;
        }
        // LINKTYPE_NETLINK: a 16-byte cooked header, then whole netlink messages. Only the
        // NFLOG and NFQUEUE packet messages are records; verdicts and the rest are skipped.
        constexpr std::size_t cooked_header = 16;
        if (record.data.size() < cooked_header) {
            recorder.count_unreadable("record " + std::to_string(record.number) +
                                      " skipped: shorter than the netlink cooked header");
            continue;
        }
        // A record the recording cut ends in a cut message: a packet message is truncated.
        const bool cut = record.original_length > record.data.size();
        NetlinkWalker walker(record.data.subspan(cooked_header),
                             cut ? DatagramExtent::cut : DatagramExtent::whole);
        RecordKind kind{};
        std::span<const std::byte> message;
        try {
            while (walker.next(kind, message)) {
                recorder.record(kind, message, record.time, record.number,
                                walker.original_length());
            }
        } catch (const DecodeError& e) {
            recorder.count_unreadable(
                "record " + std::to_string(record.number) + " skipped: " + e.what() +
                (record.original_length > record.data.size()
                     ? " (the recording holds " + std::to_string(record.data.size()) + " of its " +
                           std::to_string(record.original_length) + " bytes)"
                     : std::string()));
        }
    }
    if (!source.error().empty()) {
        recorder.count_unreadable(source.path() + ": " + source.error() +
                                  "; the records before it were converted");
    }
    recorder.flush();
    return span;
}

} // namespace nfcap
