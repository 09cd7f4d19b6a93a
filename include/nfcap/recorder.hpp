#pragma once
// The recording pipeline: decode -> sequence check -> filter -> encode -> sink. Sources hand it
// raw records; it owns the output buffer, the per-interface counters and the file's blocks.

#include <nfcap/comment.hpp>
#include <nfcap/loss.hpp>
#include <nfcap/netlink.hpp>
#include <nfcap/nflog_source.hpp>
#include <nfcap/packet_filter.hpp>
#include <nfcap/pcapng.hpp>
#include <nfcap/record_encoder.hpp>
#include <nfcap/sink.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace nfcap {

namespace detail {
class OutputWriter; // the output format's writer (internal)
struct RecordingEnd;
class RepeatedDecoder; // the decoder that reuses a repeated record's decode
} // namespace detail

// pcapng; classic pcap (no comments: for libpcap-based engines); or text for people and scripts
// (one line or one JSON object per record).
enum class OutputFormat { pcapng, text, json, json_payload, pcap };

// pcapng and pcap are files of blocks or records; the others are lines of text.
inline bool binary_format(OutputFormat format) {
    return format == OutputFormat::pcapng || format == OutputFormat::pcap;
}

// The machine a recording comes from, written into the pcapng section header (shb_hardware,
// shb_os) and every interface block (if_description "NFLOG group 7 on NAME (...)", if_os), so
// that files from several hosts merged with mergecap still say where each packet came from.
struct HostIdentity {
    std::string name;     // empty: no host is named (a replay: its records came from elsewhere)
    std::string os;       // "Linux 6.1.0-18-amd64"; empty: not written
    std::string hardware; // "x86_64"; empty: not written
};

// This machine, as uname(2) names it: node name; system and release; machine.
HostIdentity this_host();

// Whether `name` may name a host in a recording: 1 to 64 letters, digits, '.', '-' and '_'
// (what Wireshark users filter on; no spaces or parentheses, which the description frames).
bool valid_host_name(std::string_view name);

struct RecorderOptions {
    OutputFormat format = OutputFormat::pcapng;
    long utc_offset_seconds = 0; // text lines print local time of day
    LinkType link_type = LinkType::linux_sll2;
    std::uint32_t snaplen = 262144; // network-layer bytes kept per record
    std::string filter;             // BPF expression; empty: keep everything
    std::uint64_t max_packets = 0;  // stop after this many written records; 0: no limit
    std::uint64_t max_bytes = 0;    // stop once this many bytes were written; 0: no limit
    std::uint64_t rotate_bytes = 0; // ring buffer: start the next file at this size; 0: never
    bool reconnect = false;         // a FIFO's reader went away: wait for the next one
    TimestampSource fallback_source = TimestampSource::receive;
    HostIdentity host; // named in the section and interface blocks (pcapng); default: none
};

// Counters of one interface (one NFLOG group or NFQUEUE queue); they go to the summary and the
// Interface Statistics Block.
struct InterfaceCounters {
    RecordKind kind = RecordKind::nflog;
    std::string name; // "nflog:123", "nfqueue:5"
    std::uint16_t resource_id = 0;
    std::string verdict;        // NFQUEUE: the verdict fragment of every record's comment
    bool decisions = false;     // NFQUEUE: each packet's own decision (record_decisions)
    std::uint64_t received = 0; // records that reached nfcap
    std::uint64_t written = 0;
    std::uint64_t filtered = 0; // rejected by the capture filter
    std::uint64_t malformed = 0;
    std::uint64_t truncated = 0;       // records a recording cut, written as far as they go
    std::uint64_t unsupported = 0;     // records the link type cannot carry
    std::uint64_t lost = 0;            // sequence-number or packet-id gaps (the kernel's loss)
    std::uint64_t lost_after_last = 0; // NFQUEUE: ids handed out after the last packet received
    std::uint64_t unseen = 0;          // NFLOG: at least this many more that no gap shows
    std::uint64_t not_written = 0;     // received, but not handed on: the writer was behind
    std::uint64_t kernel_dropped = 0;  // NFQUEUE: the kernel's queue_dropped (queue full)
    LossCertainty certainty = LossCertainty::exact; // of total_lost()
    std::string loss_note; // why total_lost() is only a lower bound (empty when exact)
    std::optional<std::uint32_t> next_seq; // next NFLOG sequence number or NFQUEUE packet id
    std::uint64_t pending_drops = 0;       // a gap not yet reported in an epb_dropcount

    // Records the kernel handed out (or dropped from its queue) that never reached nfcap.
    std::uint64_t total_lost() const { return lost + lost_after_last + unseen + kernel_dropped; }
};

// Every interface's counts added up (the loss is a lower bound when any one is; the notes are
// joined, each after its interface's name).
InterfaceCounters sum_of(const std::vector<InterfaceCounters>& interfaces);

// An interface's loss and what it is made of: "0 lost", "12 lost (12 in sequence gaps)", "at
// least 3 lost (3 in dropped batches no gap shows)".
std::string loss_summary(const InterfaceCounters& counters);
// The same, saying whether it is exact and why not: "0 lost; exact", "at least 3 lost (...); a
// lower bound: the socket buffer overflowed ...".
std::string loss_statement(const InterfaceCounters& counters);

class Recorder final : public RecordHandler {
  public:
    using Warn = std::function<void(const std::string&)>;

    // Writes the Section Header Block to the buffer. `names` may be null (replay).
    Recorder(Sink& sink, RecorderOptions options, InterfaceNames* names, Warn warn);
    ~Recorder() override;
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    // Declares an interface block for a source up front (live capture, where the first
    // sequence number (0) or packet id (1) of a fresh binding is known). Replay declares
    // sources as their records appear. `verdict` is the NFQUEUE verdict fragment.
    InterfaceCounters& add_source(RecordKind kind, std::uint16_t resource, bool fresh_binding,
                                  std::string verdict = {});
    void add_nflog_group(std::uint16_t group, bool fresh_binding) {
        add_source(RecordKind::nflog, group, fresh_binding);
    }

    // One record of the given kind. `number` (1-based, 0 when not known) names it in warnings.
    // `original_length` (replay): the record's length before the recording cut it; above
    // record.size(), the record is truncated (see decode_nflog) and counted so.
    void record(RecordKind kind, std::span<const std::byte> record, Timestamp fallback_time,
                std::uint64_t number = 0, std::uint32_t original_length = 0);
    void record(std::span<const std::byte> rec, Timestamp fallback_time, std::uint64_t number = 0) {
        record(RecordKind::nflog, rec, fallback_time, number);
    }

    // A queue whose packets a decide function decides (QueueSource::decides()): each record
    // is written with its own decision (on_decision), once that decision is known. A held
    // packet's record waits for it, so records of held packets are written in the order they
    // were decided; a rewritten packet is followed by a second record holding its new bytes
    // (not with LinkType::nflog, which keeps the kernel's message as it came). Records whose
    // decision never came are written at finish() with verdict=unknown.
    void record_decisions(std::uint16_t queue);

    // A JSON-lines sidecar beside the output (pcap above all, which has no room for metadata):
    // for each record written, one object {"file": the output's current file, "packet": its
    // number in that file (1-based), then every metadata key as --json writes them}; at the
    // end of each file, a {"file": ..., "statistics": {...}} line per interface. Lines go out
    // after the records they describe did; a ring rotates `sink` with its own files. A sidecar
    // that fails is warned about once and dropped; the capture goes on.
    void add_sidecar(Sink& sink);
    bool wants_decisions() const override { return true; }
    void on_decision(const PacketDecision& decision, Timestamp time) override;

    // The counters of a source, for the live engine to add what only it knows (writer drops,
    // the kernel's queue counters) before finish(); null when the source is unknown.
    InterfaceCounters* find(RecordKind kind, std::uint16_t resource);

    // A record that could not even be read (replay), counted as malformed.
    void count_unreadable(const std::string& why);
    // `count` records of a source that were received but never reached the recorder (the
    // hand-off to the writer was full). Given in the sources' order, they are counted as not
    // written and do not show as a sequence gap.
    void skip(RecordKind kind, std::uint16_t resource, std::uint64_t count);

    void on_record(std::span<const std::byte> rec, Timestamp receive_time) override {
        record(rec, receive_time);
    }
    void on_record_of(RecordKind kind, std::span<const std::byte> rec,
                      Timestamp receive_time) override {
        record(kind, rec, receive_time);
    }
    // A record the source already decoded: written as record() writes it, without decoding.
    void on_packet(RecordKind kind, const Packet& packet, std::span<const std::byte> rec,
                   Timestamp receive_time) override;

    // Writes everything encoded so far in one write. When the sink fails (WriteError: a full
    // disk, an I/O error, a stalled reader given up on), the output is failed for good: the
    // error is kept (output_error()), and from then on every flush drops what was encoded,
    // counting the records (failed()). Never throws WriteError; ReaderGone as before.
    void flush();
    // Appends an Interface Statistics Block per interface and flushes.
    void finish(Timestamp start, Timestamp end);
    // The time the first file of a ring starts (its statistics' start time).
    void set_start(Timestamp start) { file_start_ = start; }

    bool done() const {
        return (options_.max_packets != 0 && written_ >= options_.max_packets) ||
               (options_.max_bytes != 0 && bytes_written_ + buffer_.size() >= options_.max_bytes);
    }

    // Ends the current file (statistics blocks, covering `file_start`..`now`) and starts the
    // next file of the sink's ring with fresh section and interface blocks. Records are never
    // split or repeated across files. No-op for a sink without a next file.
    void rotate(Timestamp now);
    Timestamp file_start() const { return file_start_; }
    // Bytes handed to the sink so far (all files).
    std::uint64_t bytes_written() const { return bytes_written_; }
    const std::vector<InterfaceCounters>& interfaces() const { return interfaces_; }
    std::uint64_t malformed_without_group() const { return malformed_unknown_; }
    std::uint64_t written() const { return written_; }
    // Records that reached the sink (written() minus any batch a vanished reader never got).
    std::uint64_t delivered() const { return delivered_; }
    // With reconnect: records encoded while no reader was there (never read by anyone).
    std::uint64_t unread() const { return unread_; }
    // The sink's error once the output failed (one line naming the output and the reason).
    const std::optional<std::string>& output_error() const { return output_error_; }
    bool output_failed() const { return output_error_.has_value(); }
    // Records that went nowhere because the output had failed.
    std::uint64_t failed() const { return failed_; }

  private:
    InterfaceCounters& interface_for(RecordKind kind, std::uint16_t resource, std::uint32_t& id);
    // Counts and reports a record that did not decode (out of the record path).
    [[gnu::cold, gnu::noinline]] void
    skip_malformed(RecordKind kind, std::span<const std::byte> raw, std::uint64_t number,
                   std::uint32_t original_length, const DecodeError& e);
    // Filter, encode and write one decoded record (the part of record() after the loss
    // accounting); `verdict` replaces the interface's verdict fragment when set.
    void write(const Packet& packet, std::span<const std::byte> raw, InterfaceCounters& counters,
               std::uint32_t id, Timestamp fallback_time, std::uint64_t number,
               const std::string* verdict);
    // The loss accounting and the rest of record() for a decoded record.
    void take(RecordKind kind, const Packet& packet, std::span<const std::byte> raw,
              Timestamp fallback_time, std::uint64_t number, std::uint32_t original_length);
    // Writes a queued packet's record with its decision (verdict=unknown when null), and a
    // rewritten packet's new bytes as a second record.
    void write_decided(const Packet& packet, std::span<const std::byte> raw,
                       Timestamp fallback_time, std::uint64_t number,
                       const PacketDecision* decision);
    static std::uint64_t decision_key(std::uint16_t queue, std::uint32_t id) {
        return (std::uint64_t{queue} << 32U) | id;
    }
    EncodeResult encode(const Packet& packet, std::span<const std::byte> raw,
                        const RecordContext& context, InterfaceCounters& counters,
                        std::uint64_t number);
    bool shared_interface() const { return options_.link_type == LinkType::raw; }
    InterfaceDescription interface_block(const InterfaceCounters& counters);
    std::string description_; // the last interface_block()'s if_description

    Sink& sink_;
    RecorderOptions options_;
    InterfaceNames* names_;
    NameResolution resolution_; // the current record's names, kept while they hold
    Warn warn_;
    RecordEncoder encoder_;
    std::unique_ptr<detail::OutputWriter> writer_; // pcapng, text or JSON
    std::unique_ptr<detail::RepeatedDecoder> nflog_decoder_;
    std::unique_ptr<detail::RepeatedDecoder> queue_decoder_;
    // RecordContext::repeats: shape_ counts the decodes that were not repeated (and the changes
    // of names and of the decoder: shape_kind_ is the last one's kind), repeats_ is the current
    // record's value (0: no promise, a record that did not come through record()).
    std::uint64_t shape_ = 0;
    RecordKind shape_kind_ = RecordKind::nflog;
    std::uint64_t repeats_ = 0;
    std::uint64_t name_changes_ = 0;
    std::unique_ptr<PacketFilter> filter_;
    ByteBuffer buffer_;
    std::vector<InterfaceCounters> interfaces_;
    std::uint64_t written_ = 0;
    std::uint64_t delivered_ = 0;
    std::uint64_t buffered_ = 0; // records in buffer_ not yet handed to the sink
    std::uint64_t malformed_unknown_ = 0;
    std::uint64_t bytes_written_ = 0;
    std::uint64_t unread_ = 0;
    std::uint64_t failed_ = 0;
    std::optional<std::string> output_error_;
    bool waiting_for_reader_ = false;
    bool live_ = false;                  // sources were declared as fresh bindings
    void start_section(ByteBuffer& out); // section header and every interface block
    std::uint64_t file_bytes_ = 0;       // in the current file of a ring
    std::uint64_t file_records_ = 0;     // records written into the current file
    // add_sidecar: its sink, writer (JSON lines) and buffer; a scratch line.
    Sink* sidecar_ = nullptr;
    std::unique_ptr<detail::OutputWriter> sidecar_writer_;
    ByteBuffer sidecar_buffer_;
    ByteBuffer sidecar_scratch_;
    std::string sidecar_file_; // `{"file":"NAME",`, the current output file's member
    void name_sidecar_file();
    void sidecar_lines(const ByteBuffer& lines, std::uint64_t packet); // 0: not a record's
    void flush_sidecar();
    void end_sidecar(const detail::RecordingEnd& how); // the statistics lines of a file
    Timestamp file_start_;
    // record_decisions: decisions whose record has not come yet, and records (held packets)
    // whose decision has not, by decision_key.
    struct PendingDecision {
        PacketDecision decision;
        std::vector<std::byte> payload;
    };
    struct WaitingRecord {
        std::vector<std::byte> raw;
        Timestamp fallback_time;
        std::uint64_t number = 0;
        std::uint32_t original_length = 0;
    };
    void write_waiting(const WaitingRecord& waiting, const PacketDecision* decision);
    std::unordered_map<std::uint64_t, PendingDecision> decided_;
    std::unordered_map<std::uint64_t, WaitingRecord> waiting_;
};

} // namespace nfcap
