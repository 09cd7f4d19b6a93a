#include <nfcap/replay_source.hpp>

#include <nfcap/netlink.hpp>
#include <nfcap/recorder.hpp>

#include <pcap/pcap.h>

namespace nfcap {

struct ReplaySource::Handle {
    pcap_t* pcap = nullptr;
    ~Handle() {
        if (pcap != nullptr) {
            pcap_close(pcap);
        }
    }
};

ReplaySource::ReplaySource(const std::string& path)
    : handle_(std::make_unique<Handle>()), path_(path) {
    std::array<char, PCAP_ERRBUF_SIZE> error{};
    handle_->pcap = pcap_open_offline_with_tstamp_precision(
        path.c_str(), PCAP_TSTAMP_PRECISION_NANO, error.data());
    if (handle_->pcap == nullptr) {
        throw std::runtime_error("cannot read " + path + ": " + error.data());
    }
    const int dlt = pcap_datalink(handle_->pcap);
    if (dlt == DLT_NETLINK) {
        link_type_ = LinkType::netlink;
        return;
    }
    if (dlt != DLT_NFLOG) {
        const char* name = pcap_datalink_val_to_name(dlt);
        throw std::runtime_error(path + ": link type " + (name != nullptr ? name : "?") + " (" +
                                 std::to_string(dlt) +
                                 ") cannot be replayed; nfcap replays NFLOG recordings "
                                 "(LINKTYPE_NFLOG, as written by tcpdump -i nflog or dumpcap) and "
                                 "netlink recordings (LINKTYPE_NETLINK, from --record-netlink)");
    }
    link_type_ = LinkType::nflog;
}

ReplaySource::~ReplaySource() = default;

bool ReplaySource::next(ReplayRecord& record) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(handle_->pcap, &header, &data);
    if (rc == PCAP_ERROR_BREAK) {
        return false;
    }
    if (rc != 1) {
        error_ =
            "record " + std::to_string(count_ + 1) + " is damaged: " + pcap_geterr(handle_->pcap);
        return false;
    }
    ++count_;
    record.number = count_;
    record.data = {reinterpret_cast<const std::byte*>(data), header->caplen};
    record.original_length = header->len;
    record.time = Timestamp{header->ts.tv_sec, static_cast<std::uint32_t>(header->ts.tv_usec)};
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
        if (source.link_type() == LinkType::nflog) {
            recorder.record(RecordKind::nflog, record.data, record.time, record.number);
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
        NetlinkWalker walker(record.data.subspan(cooked_header));
        RecordKind kind{};
        std::span<const std::byte> message;
        try {
            while (walker.next(kind, message)) {
                recorder.record(kind, message, record.time, record.number);
            }
        } catch (const DecodeError& e) {
            recorder.count_unreadable("record " + std::to_string(record.number) +
                                      " skipped: " + e.what());
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
