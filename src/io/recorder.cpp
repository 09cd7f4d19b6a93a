#include <nfcap/nflog_decode.hpp>
#include <nfcap/nfqueue_decode.hpp>
#include <nfcap/recorder.hpp>

#include "../core/decode_into.hpp"
#include "../core/text_format.hpp"
#include "output_writer.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>

#include <sys/utsname.h>

namespace nfcap {
namespace {

// Flush inside a batch once the buffer holds this much, so memory stays bounded. Small enough
// that the bytes just encoded are still in the core's own cache (256 KiB fits the L2 cache of
// any current x86 core) when write() copies them into the page cache: with 4 MiB the kernel's
// copy read them from farther away and was the largest single cost of a capture (measured on
// 2 x AMD EPYC: NFLOG flat out, 1 M records, 37 against 60 CPU ticks per run, bench/ab.sh;
// replay of 1 M records 0.21 against 0.33 s, and the 4 MiB runs' system time varied 4-fold).
// The write() calls this adds are some 2,000 a second at 500 MB/s.
constexpr std::size_t flush_threshold = 256U << 10U;

} // namespace

Recorder::Recorder(Sink& sink, RecorderOptions options, InterfaceNames* names, Warn warn)
    : sink_(sink), options_(std::move(options)), names_(names), warn_(std::move(warn)),
      encoder_(options_.link_type, options_.snaplen),
      writer_(detail::make_output_writer(options_.format, encoder_, options_.utc_offset_seconds,
                                         options_.host)),
      nflog_decoder_(std::make_unique<detail::RepeatedDecoder>(RecordKind::nflog)),
      queue_decoder_(std::make_unique<detail::RepeatedDecoder>(RecordKind::nfqueue)) {
    if (!options_.filter.empty()) {
        filter_ = std::make_unique<PacketFilter>(options_.filter);
    }
    // No reservation up front: the buffer grows to the flush threshold once in a long capture
    // and keeps its capacity, while a short replay never touches it (reserving 4 MiB made each
    // fuzz_replay execution 2.3 times slower under ASan).
    writer_->begin(buffer_);
}

Recorder::~Recorder() = default;

InterfaceCounters& Recorder::add_source(RecordKind kind, std::uint16_t resource, bool fresh_binding,
                                        std::string verdict) {
    std::uint32_t id = 0;
    InterfaceCounters& counters = interface_for(kind, resource, id);
    if (fresh_binding) {
        live_ = true;
        // A new NFLOG binding numbers its records from 0; a new queue's packet ids start at 1.
        counters.next_seq = kind == RecordKind::nflog ? 0U : 1U;
    }
    counters.verdict = std::move(verdict);
    return counters;
}

InterfaceCounters* Recorder::find(RecordKind kind, std::uint16_t resource) {
    for (auto& c : interfaces_) {
        if (c.kind == kind && c.resource_id == resource) {
            return &c;
        }
    }
    return nullptr;
}

InterfaceCounters& Recorder::interface_for(RecordKind kind, std::uint16_t resource,
                                           std::uint32_t& id) {
    for (std::size_t i = 0; i < interfaces_.size(); ++i) {
        if (interfaces_[i].resource_id == resource && interfaces_[i].kind == kind) {
            id = shared_interface() ? 0U : static_cast<std::uint32_t>(i);
            return interfaces_[i];
        }
    }
    const bool nflog = kind == RecordKind::nflog;
    InterfaceCounters counters;
    counters.kind = kind;
    counters.name = (nflog ? "nflog:" : "nfqueue:") + std::to_string(resource);
    counters.resource_id = resource;
    if (!shared_interface() || interfaces_.empty()) {
        writer_->add_interface(buffer_, interface_block(counters));
    }
    id = shared_interface() ? 0U : static_cast<std::uint32_t>(interfaces_.size());
    interfaces_.push_back(std::move(counters));
    return interfaces_.back();
}

// The record path's entry: flatten inlines the decoder and the calls down to the writer into it
// (with RecordEncoder::encode's, see there).
[[gnu::flatten]] void Recorder::record(RecordKind kind, std::span<const std::byte> raw,
                                       Timestamp fallback_time, std::uint64_t number,
                                       std::uint32_t original_length) {
    if (done()) {
        return;
    }
    detail::RepeatedDecoder& decoder =
        kind == RecordKind::nflog ? *nflog_decoder_ : *queue_decoder_;
    const Packet* packet = nullptr;
    try {
        packet = &decoder.decode(raw, original_length);
    } catch (const DecodeError& e) {
        skip_malformed(kind, raw, number, original_length, e);
        return;
    }
    // The encoder keeps the comment head of the last value it saw: a record of the other kind
    // in between (whose decoder may have repeated too) starts a new value.
    if (!decoder.repeated() || kind != shape_kind_) {
        ++shape_;
        shape_kind_ = kind;
    }
    // The promise holds for this record only, also when take() throws: a record written
    // later by another path (a queue's decision) must not inherit it.
    struct Promise {
        std::uint64_t& repeats;
        ~Promise() { repeats = 0; }
    } promise{repeats_};
    repeats_ = shape_;
    take(kind, *packet, raw, fallback_time, number, original_length);
}

void Recorder::skip_malformed(RecordKind kind, std::span<const std::byte> raw, std::uint64_t number,
                              std::uint32_t original_length, const DecodeError& e) {
    const std::string where = number != 0 ? "record " + std::to_string(number) : "a record";
    std::string why = e.what();
    if (original_length > raw.size()) { // cut by the recording before anything writable
        why += " (the recording cut it to " + std::to_string(raw.size()) + " of its " +
               std::to_string(original_length) + " bytes)";
    }
    if (raw.size() >= 4) {
        std::uint32_t id = 0;
        const auto resource = static_cast<std::uint16_t>((std::to_integer<unsigned>(raw[2]) << 8U) |
                                                         std::to_integer<unsigned>(raw[3]));
        InterfaceCounters& counters = interface_for(kind, resource, id);
        ++counters.received;
        ++counters.malformed;
        warn_(where + " (" + counters.name + ") skipped: " + why);
    } else {
        ++malformed_unknown_;
        warn_(where + " skipped: " + why);
    }
}

void Recorder::on_packet(RecordKind kind, const Packet& packet, std::span<const std::byte> raw,
                         Timestamp receive_time) {
    if (!done()) {
        repeats_ = 0;
        take(kind, packet, raw, receive_time, 0, 0);
    }
}

void Recorder::take(RecordKind kind, const Packet& packet, std::span<const std::byte> raw,
                    Timestamp fallback_time, std::uint64_t number, std::uint32_t original_length) {
    std::uint32_t id = 0;
    InterfaceCounters& counters = interface_for(kind, packet.resource_id, id);
    ++counters.received;
    // NFLOG sequence numbers and NFQUEUE packet ids both count up by one per record: a jump
    // is the exact number of records the kernel handed out that never reached us.
    const std::optional<std::uint32_t> sequence =
        kind == RecordKind::nflog ? packet.seq : packet.packet_id;
    if (sequence) {
        if (counters.next_seq && *sequence != *counters.next_seq) {
            const std::uint32_t gap = *sequence - *counters.next_seq; // modulo 2^32
            counters.lost += gap;
            counters.pending_drops += gap;
        }
        counters.next_seq = *sequence + 1;
    }
    if (kind == RecordKind::nfqueue && counters.decisions && packet.packet_id) {
        const std::uint64_t key = decision_key(packet.resource_id, *packet.packet_id);
        if (const auto decided = decided_.find(key); decided != decided_.end()) {
            PendingDecision d = std::move(decided->second);
            decided_.erase(decided);
            d.decision.payload = d.payload;
            write_decided(packet, raw, fallback_time, number, &d.decision);
        } else { // held: written once its decision comes
            waiting_[key] =
                WaitingRecord{{raw.begin(), raw.end()}, fallback_time, number, original_length};
        }
        return;
    }
    write(packet, raw, counters, id, fallback_time, number, nullptr);
}

void Recorder::record_decisions(std::uint16_t queue) {
    std::uint32_t id = 0;
    interface_for(RecordKind::nfqueue, queue, id).decisions = true;
}

void Recorder::on_decision(const PacketDecision& decision, Timestamp /*time*/) {
    const std::uint64_t key = decision_key(decision.queue, decision.id);
    if (const auto held = waiting_.find(key); held != waiting_.end()) {
        const WaitingRecord w = std::move(held->second);
        waiting_.erase(held);
        write_waiting(w, &decision);
        return;
    }
    PendingDecision& pending = decided_[key];
    pending.decision = decision;
    pending.payload.assign(decision.payload.begin(), decision.payload.end());
    pending.decision.payload = {};
}

void Recorder::write_waiting(const WaitingRecord& w, const PacketDecision* decision) {
    // The record was decoded and counted when it came; its bytes were kept, not the views into
    // the receive buffer, so it is decoded again from them (which cannot fail).
    try {
        write_decided(decode_nfqueue(w.raw, w.original_length), w.raw, w.fallback_time, w.number,
                      decision);
    } catch (const DecodeError&) {
    }
}

void Recorder::write_decided(const Packet& packet, std::span<const std::byte> raw,
                             Timestamp fallback_time, std::uint64_t number,
                             const PacketDecision* decision) {
    std::uint32_t id = 0;
    InterfaceCounters& counters = interface_for(RecordKind::nfqueue, packet.resource_id, id);
    if (decision == nullptr) {
        static const std::string unknown = "verdict=unknown";
        write(packet, raw, counters, id, fallback_time, number, &unknown);
        return;
    }
    const std::string verdict = describe(*decision);
    write(packet, raw, counters, id, fallback_time, number, &verdict);
    if (!decision->payload.empty() && options_.link_type != LinkType::nflog) {
        Packet rewritten = packet;
        rewritten.payload = decision->payload;
        rewritten.original_length = static_cast<std::uint32_t>(decision->payload.size());
        rewritten.cut.reset();
        const std::string new_bytes = describe(*decision, true);
        write(rewritten, {}, counters, id, fallback_time, number, &new_bytes);
    }
}

void Recorder::write(const Packet& packet, std::span<const std::byte> raw,
                     InterfaceCounters& counters, std::uint32_t id, Timestamp fallback_time,
                     std::uint64_t number, const std::string* verdict) {
    if (done()) {
        return;
    }
    if (filter_ && !filter_->matches(packet)) {
        ++counters.filtered;
        return;
    }
    if (packet.cut && counters.truncated++ == 0) {
        warn_((number != 0 ? "record " + std::to_string(number) : "a record") + " (" +
              counters.name + ") is truncated: the recording holds " +
              std::to_string(packet.cut->captured) + " of its " +
              std::to_string(packet.cut->original) +
              " bytes; it is written as far as it goes, marked truncated= in its comment "
              "(further truncated records are only counted)");
    }
    RecordContext context;
    context.interface_id = id;
    context.source = counters.name;
    if (names_ != nullptr) { // resolved as of the record's time, before it is encoded
        context.names = &resolution_.resolve(packet, *names_,
                                             packet.timestamp ? *packet.timestamp : fallback_time);
        if (repeats_ != 0 && resolution_.changes() != name_changes_) {
            name_changes_ = resolution_.changes(); // new names: a new head
            repeats_ = ++shape_;
        }
    }
    context.repeats = repeats_;
    context.fallback_time = fallback_time;
    context.fallback_source = options_.fallback_source;
    context.verdict = verdict != nullptr ? *verdict : counters.verdict;
    if (counters.pending_drops != 0) {
        context.dropcount = counters.pending_drops;
    }
    if (const EncodeResult result = encode(packet, raw, context, counters, number);
        result == EncodeResult::skipped) {
        return;
    } else if (result == EncodeResult::unsupported) {
        if (counters.unsupported++ == 0) {
            std::array<char, 8> ethertype{};
            std::snprintf(ethertype.data(), ethertype.size(), "%04x", packet.hw_protocol);
            warn_(counters.name + ": link type " + std::string(link_type_name(options_.link_type)) +
                  " cannot carry non-IP records (the first: ethertype 0x" + ethertype.data() +
                  ", " + std::string(family_name(packet.family)) +
                  " family); they are counted and skipped (use --linktype sll2 to keep them)");
        }
        return;
    }
    ++file_records_;
    if (sidecar_ != nullptr) {
        sidecar_scratch_.clear();
        if (sidecar_writer_->append(sidecar_scratch_, packet, raw, context) ==
            EncodeResult::written) {
            sidecar_lines(sidecar_scratch_, file_records_);
        }
    }
    counters.pending_drops = 0;
    ++counters.written;
    ++written_;
    ++buffered_;
    if (options_.rotate_bytes != 0 && file_bytes_ + buffer_.size() >= options_.rotate_bytes) {
        rotate(RecordEncoder::time(packet, context)); // this record ends the file it is in
    } else if (buffer_.size() >= flush_threshold) {
        flush();
    }
}

EncodeResult Recorder::encode(const Packet& packet, std::span<const std::byte> raw,
                              const RecordContext& context, InterfaceCounters& counters,
                              std::uint64_t number) {
    try {
        return writer_->append(buffer_, packet, raw, context);
    } catch (const EncodeError& e) {
        // A record the file format cannot hold (a time before 1970, lengths past 2^32): it is
        // skipped like a malformed one, and the file stays valid.
        ++counters.malformed;
        const std::string where = number != 0 ? "record " + std::to_string(number) : "a record";
        warn_(where + " (" + counters.name + ") skipped: " + e.what());
        return EncodeResult::skipped;
    }
}

void Recorder::add_sidecar(Sink& sink) {
    sidecar_ = &sink;
    sidecar_writer_ = detail::make_output_writer(OutputFormat::json, encoder_,
                                                 options_.utc_offset_seconds, options_.host);
    name_sidecar_file();
}

void Recorder::name_sidecar_file() {
    sidecar_file_ = "{\"file\":";
    append_json_string(sidecar_file_, sink_.name());
    sidecar_file_ += ',';
}

void Recorder::sidecar_lines(const ByteBuffer& lines, std::uint64_t packet) {
    // The file member, made once per file, then the packet's number: no allocation per record.
    std::array<char, 40> number{};
    std::size_t number_size = 0;
    if (packet != 0) {
        constexpr std::string_view key = "\"packet\":";
        std::memcpy(number.data(), key.data(), key.size());
        char* const end =
            std::to_chars(number.data() + key.size(), number.data() + number.size() - 1, packet)
                .ptr;
        *end = ',';
        number_size = static_cast<std::size_t>(end + 1 - number.data());
    }
    const auto* file = reinterpret_cast<const std::byte*>(sidecar_file_.data());
    const auto* packet_member = reinterpret_cast<const std::byte*>(number.data());
    // Every line of `lines` is an object: its members follow the head's.
    std::size_t start = 0;
    while (start < lines.size()) {
        const auto* begin = lines.data() + start;
        const auto* newline = std::find(begin, lines.data() + lines.size(), std::byte{'\n'});
        const std::size_t end = static_cast<std::size_t>(newline - lines.data());
        if (end > start + 1 && lines[start] == std::byte{'{'}) {
            sidecar_buffer_.insert(sidecar_buffer_.end(), file, file + sidecar_file_.size());
            sidecar_buffer_.insert(sidecar_buffer_.end(), packet_member,
                                   packet_member + number_size);
            sidecar_buffer_.insert(sidecar_buffer_.end(), begin + 1, newline);
            sidecar_buffer_.push_back(std::byte{'\n'});
        }
        start = end + 1;
    }
}

void Recorder::flush_sidecar() {
    if (sidecar_ == nullptr || sidecar_buffer_.empty()) {
        return;
    }
    try {
        sidecar_->write(sidecar_buffer_);
    } catch (const std::exception& e) {
        warn_(std::string("the JSON sidecar ") + sidecar_->name() + " failed (" + e.what() +
              "); the capture goes on without it");
        sidecar_ = nullptr;
    }
    sidecar_buffer_.clear();
}

void Recorder::skip(RecordKind kind, std::uint16_t resource, std::uint64_t count) {
    std::uint32_t id = 0;
    InterfaceCounters& counters = interface_for(kind, resource, id);
    counters.not_written += count;
    if (counters.next_seq) {
        // They took sequence numbers (packet ids) like any record: the next one expected moves
        // past them, so only the kernel's own loss shows as a gap.
        *counters.next_seq += static_cast<std::uint32_t>(count); // modulo 2^32
    }
}

void Recorder::count_unreadable(const std::string& why) {
    ++malformed_unknown_;
    warn_(why);
}

void Recorder::start_section(ByteBuffer& out) {
    writer_->begin(out);
    for (const auto& c : interfaces_) {
        writer_->add_interface(out, interface_block(c));
        if (shared_interface()) {
            break;
        }
    }
}

void Recorder::flush() {
    if (output_error_ || waiting_for_reader_) {
        sidecar_buffer_.clear(); // its records go nowhere: counted with them
    }
    if (output_error_) {
        failed_ += buffered_; // the output failed: nothing more is written
        buffered_ = 0;
        buffer_.clear();
        return;
    }
    if (waiting_for_reader_) {
        if (!sink_.reconnect()) {
            unread_ += buffered_; // nobody reads: these records go nowhere, counted
            buffered_ = 0;
            buffer_.clear();
            return;
        }
        // A new reader: it gets a stream of its own, with fresh section and interface blocks.
        waiting_for_reader_ = false;
        ByteBuffer fresh;
        start_section(fresh);
        fresh.insert(fresh.end(), buffer_.begin(), buffer_.end());
        buffer_.swap(fresh);
    }
    if (buffer_.empty()) {
        // Nothing to write, so no EPIPE would tell: ask whether the reader is still there.
        if (sink_.reader_gone()) {
            if (!options_.reconnect) {
                throw ReaderGone("the reader of " + sink_.name() + " went away");
            }
            waiting_for_reader_ = true;
            sidecar_buffer_.clear();
            return;
        }
        flush_sidecar(); // statistics lines of a format that wrote nothing at the end (pcap)
        return;
    }
    // Clear before writing: if the reader is gone, these bytes can go nowhere anyway.
    ByteBuffer pending;
    pending.swap(buffer_);
    try {
        sink_.write(pending);
    } catch (const ReaderGone&) {
        sidecar_buffer_.clear();
        pending.clear();
        buffer_.swap(pending);
        if (!options_.reconnect) {
            buffered_ = 0; // lost with the reader
            throw;
        }
        unread_ += buffered_;
        buffered_ = 0;
        waiting_for_reader_ = true;
        return;
    } catch (const WriteError& e) {
        // The sink cut a file back to its last whole block; what this buffer held goes nowhere.
        sidecar_buffer_.clear();
        output_error_ = e.what();
        failed_ += buffered_;
        buffered_ = 0;
        pending.clear();
        buffer_.swap(pending);
        return;
    } catch (...) {
        pending.clear();
        buffer_.swap(pending);
        buffered_ = 0;
        throw;
    }
    flush_sidecar(); // after the records it describes
    bytes_written_ += pending.size();
    file_bytes_ += pending.size();
    pending.clear();
    buffer_.swap(pending); // keep the capacity: no allocation on the next batch
    delivered_ += buffered_;
    buffered_ = 0;
}

void Recorder::rotate(Timestamp now) {
    if (!writer_->has_sections()) {
        return;
    }
    if (output_error_) {
        // A failed ring does not move on to a next file: a full disk would fail that too, and
        // removing older files to make room is not nfcap's decision.
        flush();
        return;
    }
    const detail::RecordingEnd end{file_start_, now, live_, shared_interface()};
    writer_->end(buffer_, interfaces_, end);
    end_sidecar(end);
    flush();
    if (!sink_.rotate()) {
        return;
    }
    if (sidecar_ != nullptr && !sidecar_->rotate()) {
        sidecar_ = nullptr; // not a ring (cannot happen from the command line)
    }
    if (sidecar_ != nullptr) {
        name_sidecar_file(); // the ring's next file
    }
    file_bytes_ = 0;
    file_records_ = 0;
    file_start_ = now;
    start_section(buffer_);
    flush();
}

InterfaceDescription Recorder::interface_block(const InterfaceCounters& c) {
    // "... on HOST (...)": the host a merged file's packet came from (see HostIdentity).
    const std::string on = options_.host.name.empty() ? std::string() : " on " + options_.host.name;
    if (shared_interface()) {
        // libpcap (1.10) refuses a second LINKTYPE_RAW interface block, so every source shares
        // one; each record's comment names its source.
        description_ =
            "every source" + on + " (LINKTYPE_RAW); each record's comment names its source";
        return InterfaceDescription{options_.link_type, encoder_.interface_snaplen(), "nfcap",
                                    description_, options_.host.os};
    }
    description_ = (c.kind == RecordKind::nflog ? "NFLOG group " : "NFQUEUE queue ") +
                   std::to_string(c.resource_id) + on + " (" +
                   std::string(link_type_name(options_.link_type)) + ")";
    return InterfaceDescription{options_.link_type, encoder_.interface_snaplen(), c.name,
                                description_, options_.host.os};
}

HostIdentity this_host() {
    HostIdentity host;
    utsname u{};
    if (::uname(&u) == 0) {
        host.name = u.nodename;
        host.os = std::string(u.sysname) + " " + u.release;
        host.hardware = u.machine;
    }
    if (!valid_host_name(host.name)) {
        host.name.clear(); // "(none)" or worse: no name rather than a wrong one
    }
    return host;
}

bool valid_host_name(std::string_view name) {
    constexpr std::size_t longest = 64;
    return !name.empty() && name.size() <= longest &&
           std::all_of(name.begin(), name.end(), [](char ch) {
               const auto c = static_cast<unsigned char>(ch);
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
           });
}

void Recorder::finish(Timestamp start, Timestamp end) {
    if (!waiting_.empty()) {
        // Held packets whose decision never reached the recorder: written, in id order, saying
        // so, rather than lost.
        std::vector<std::uint64_t> keys;
        for (const auto& [key, w] : waiting_) {
            keys.push_back(key);
        }
        std::sort(keys.begin(), keys.end());
        warn_(std::to_string(keys.size()) + " held packet" + (keys.size() == 1 ? "" : "s") +
              " written without a decision (none reached the recording): verdict=unknown");
        for (const std::uint64_t key : keys) {
            write_waiting(waiting_[key], nullptr);
        }
        waiting_.clear();
    }
    decided_.clear();
    if (options_.rotate_bytes != 0 || file_start_ != Timestamp{}) {
        start = file_start_; // a ring's last file covers its own span
    }
    const detail::RecordingEnd how{start, end, live_, shared_interface()};
    writer_->end(buffer_, interfaces_, how);
    end_sidecar(how);
    flush();
}

void Recorder::end_sidecar(const detail::RecordingEnd& how) {
    if (sidecar_ == nullptr) {
        return;
    }
    sidecar_scratch_.clear();
    sidecar_writer_->end(sidecar_scratch_, interfaces_, how);
    sidecar_lines(sidecar_scratch_, 0);
}

InterfaceCounters sum_of(const std::vector<InterfaceCounters>& interfaces) {
    InterfaceCounters all;
    for (const auto& c : interfaces) {
        all.received += c.received;
        all.written += c.written;
        all.filtered += c.filtered;
        all.malformed += c.malformed;
        all.truncated += c.truncated;
        all.unsupported += c.unsupported;
        all.lost += c.lost;
        all.lost_after_last += c.lost_after_last;
        all.unseen += c.unseen;
        all.not_written += c.not_written;
        all.kernel_dropped += c.kernel_dropped;
        if (c.certainty == LossCertainty::at_least) {
            all.certainty = LossCertainty::at_least;
            all.loss_note += (all.loss_note.empty() ? "" : "; ") + c.name + ": " + c.loss_note;
        }
    }
    return all;
}

std::string loss_summary(const InterfaceCounters& c) {
    std::string text = describe_loss(c.total_lost(), c.certainty);
    std::string parts;
    const auto part = [&parts](std::uint64_t n, const char* what) {
        if (n != 0) {
            parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + what;
        }
    };
    part(c.lost, "in sequence gaps");
    part(c.lost_after_last, "after the last packet received");
    part(c.unseen, "in dropped batches no gap shows");
    part(c.kernel_dropped, "dropped by the kernel queue");
    return parts.empty() ? text : text + " (" + parts + ")";
}

std::string loss_statement(const InterfaceCounters& c) {
    std::string text = loss_summary(c);
    text += c.certainty == LossCertainty::exact ? "; exact" : "; a lower bound: " + c.loss_note;
    if (c.not_written != 0) {
        text += "; " + std::to_string(c.not_written) + " more received but not written";
    }
    return text;
}

} // namespace nfcap
