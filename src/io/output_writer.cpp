#include "output_writer.hpp"

#include "../core/text_format.hpp"

#include <nfcap/pcapng.hpp>
#include <nfcap/version.hpp>

namespace nfcap::detail {
namespace {

void append_text(ByteBuffer& out, const std::string& text) {
    const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
    out.insert(out.end(), bytes, bytes + text.size());
}

class PcapngWriter final : public OutputWriter {
  public:
    PcapngWriter(RecordEncoder& encoder, const HostIdentity& host)
        : encoder_(encoder), host_(host) {}

    void begin(ByteBuffer& out) override {
        append_section_header(
            out, SectionHeader{std::string("nfcap ") + version, host_.hardware, host_.os});
    }
    void add_interface(ByteBuffer& out, const InterfaceDescription& interface) override {
        append_interface_description(out, interface);
    }
    EncodeResult append(ByteBuffer& out, const Packet& packet, std::span<const std::byte> raw,
                        const RecordContext& context) override {
        return encoder_.append(out, packet, raw, context);
    }
    void end(ByteBuffer& out, const std::vector<InterfaceCounters>& interfaces,
             const RecordingEnd& how) override {
        if (interfaces.empty()) {
            // Nothing arrived (an empty recording): readers need at least one interface block.
            const std::string description =
                host_.name.empty() ? "no records" : "no records, on " + host_.name;
            append_interface_description(out, InterfaceDescription{encoder_.link_type(),
                                                                   encoder_.interface_snaplen(),
                                                                   "nfcap", description, host_.os});
            return;
        }
        if (how.shared_interface) { // the one shared interface counts for every source
            statistics(out, sum_of(interfaces), 0, how);
            return;
        }
        for (std::size_t i = 0; i < interfaces.size(); ++i) {
            statistics(out, interfaces[i], static_cast<std::uint32_t>(i), how);
        }
    }
    bool has_sections() const override { return true; }

  private:
    static void statistics(ByteBuffer& out, const InterfaceCounters& c, std::uint32_t id,
                           const RecordingEnd& how) {
        // Times come from the records of a replayed file, which may hold anything: only times
        // pcapng can carry are written.
        const auto representable = [](Timestamp t) {
            constexpr std::int64_t max_seconds = 18'446'744'072; // 64 bits of nanoseconds
            return t.sec >= 0 && t.sec <= max_seconds && t.nsec < 1'000'000'000U;
        };
        InterfaceStatistics isb;
        isb.interface_id = id;
        isb.timestamp = representable(how.end) ? how.end : Timestamp{};
        if (representable(how.start)) {
            isb.start_time = how.start;
        }
        if (representable(how.end)) {
            isb.end_time = how.end;
        }
        // isb_ifrecv: every record the kernel numbered or queued (those nfcap received, those
        // it received but could not hand to the writer, those lost); isb_ifdrop: the kernel's
        // loss, with a comment saying whether it is exact (live capture only: a replay knows
        // no more than the recording's own sequence gaps).
        isb.received = c.received + c.not_written + c.total_lost();
        isb.dropped = c.total_lost();
        isb.filter_accepted = c.received - c.filtered - c.malformed;
        isb.delivered = c.written;
        std::string comment;
        if (how.live) {
            comment = loss_statement(c);
            isb.comment = comment;
        }
        append_interface_statistics(out, isb);
    }

    RecordEncoder& encoder_;
    const HostIdentity& host_;
};

// Classic pcap: a file header, then records; what pcapng keeps in comments, interface and
// statistics blocks has no place here (the summary still counts the loss).
class PcapWriter final : public OutputWriter {
  public:
    explicit PcapWriter(RecordEncoder& encoder) : encoder_(encoder) {}

    void begin(ByteBuffer& out) override {
        append_pcap_header(out, encoder_.link_type(), encoder_.interface_snaplen());
    }
    void add_interface(ByteBuffer& /*out*/, const InterfaceDescription& /*interface*/) override {}
    EncodeResult append(ByteBuffer& out, const Packet& packet, std::span<const std::byte> raw,
                        const RecordContext& context) override {
        return encoder_.append_pcap(out, packet, raw, context);
    }
    void end(ByteBuffer& /*out*/, const std::vector<InterfaceCounters>& /*interfaces*/,
             const RecordingEnd& /*how*/) override {}
    bool has_sections() const override { return true; } // each file of a ring has its header

  private:
    RecordEncoder& encoder_;
};

// Text formats: one line per record, no file structure around them. A subclass writes a
// record's line into `line`.
class LineWriter : public OutputWriter {
  public:
    explicit LineWriter(RecordEncoder& encoder) : encoder_(encoder) {}
    void begin(ByteBuffer& /*out*/) override {}
    void add_interface(ByteBuffer& /*out*/, const InterfaceDescription& /*interface*/) override {}
    EncodeResult append(ByteBuffer& out, const Packet& packet, std::span<const std::byte> /*raw*/,
                        const RecordContext& context) override {
        line_.clear();
        line(line_, packet, context);
        append_text(out, line_);
        return EncodeResult::written;
    }
    void end(ByteBuffer& /*out*/, const std::vector<InterfaceCounters>& /*interfaces*/,
             const RecordingEnd& /*how*/) override {}
    bool has_sections() const override { return false; }

  protected:
    virtual void line(std::string& out, const Packet& packet, const RecordContext& context) = 0;
    RecordEncoder& encoder_;

  private:
    std::string line_;
};

// One line per record in the manner of tcpdump; nothing else.
class TextWriter final : public LineWriter {
  public:
    TextWriter(RecordEncoder& encoder, long utc_offset_seconds)
        : LineWriter(encoder), utc_offset_seconds_(utc_offset_seconds) {}

  private:
    void line(std::string& out, const Packet& packet, const RecordContext& context) override {
        append_text_line(out, packet, encoder_.comment(packet, context),
                         RecordEncoder::time(packet, context), utc_offset_seconds_);
    }
    long utc_offset_seconds_;
};

// One JSON object per record, then one {"statistics":{...}} line per interface.
class JsonWriter final : public LineWriter {
  public:
    JsonWriter(RecordEncoder& encoder, bool payload) : LineWriter(encoder), payload_(payload) {}
    void end(ByteBuffer& out, const std::vector<InterfaceCounters>& interfaces,
             const RecordingEnd& how) override {
        for (const auto& c : interfaces) {
            std::string line = "{\"statistics\":{\"interface\":\"" + c.name + "\"";
            const auto number = [&line](const char* key, std::uint64_t value) {
                line += std::string(",\"") + key + "\":" + std::to_string(value);
            };
            number("received", c.received);
            number("written", c.written);
            number("filtered", c.filtered);
            number("malformed", c.malformed);
            number("truncated", c.truncated);
            number("lost", c.total_lost());
            // A replay sees only the gaps of the recording's sequence numbers, if it has any.
            line += std::string(",\"lost_exact\":") +
                    (how.live && c.certainty == LossCertainty::exact ? "true" : "false");
            number("lost_in_gaps", c.lost);
            if (c.kind == RecordKind::nfqueue) {
                number("lost_after_last", c.lost_after_last);
                number("dropped_by_kernel_queue", c.kernel_dropped);
            } else {
                number("lost_unseen_at_least", c.unseen);
            }
            number("not_written", c.not_written);
            line += ",\"loss\":";
            append_json_string(line, how.live
                                         ? loss_statement(c)
                                         : std::to_string(c.lost) +
                                               " missing in sequence gaps (lost when the "
                                               "recording was made; loss after its last record "
                                               "cannot be seen)");
            line += "}}\n";
            append_text(out, line);
        }
    }

  private:
    void line(std::string& out, const Packet& packet, const RecordContext& context) override {
        append_json_record(out, packet, encoder_.comment_context(packet, context),
                           RecordEncoder::time(packet, context), payload_);
    }
    bool payload_;
};

} // namespace

std::unique_ptr<OutputWriter> make_output_writer(OutputFormat format, RecordEncoder& encoder,
                                                 long utc_offset_seconds,
                                                 const HostIdentity& host) {
    switch (format) {
    case OutputFormat::text:
        return std::make_unique<TextWriter>(encoder, utc_offset_seconds);
    case OutputFormat::json:
        return std::make_unique<JsonWriter>(encoder, false);
    case OutputFormat::json_payload:
        return std::make_unique<JsonWriter>(encoder, true);
    case OutputFormat::pcap:
        return std::make_unique<PcapWriter>(encoder);
    case OutputFormat::pcapng:
        break;
    }
    return std::make_unique<PcapngWriter>(encoder, host);
}

} // namespace nfcap::detail
