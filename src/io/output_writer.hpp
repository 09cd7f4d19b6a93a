#pragma once
// The Recorder's output formats behind one small interface: pcapng, text lines and JSON lines.
// A writer turns the recording's parts (its start, each interface, each record, its end with
// the counters) into bytes appended to the Recorder's buffer; the Recorder does the rest
// (loss accounting, the filter, flushing, rotation) the same way for every format.

#include <nfcap/record_encoder.hpp>
#include <nfcap/recorder.hpp>

#include <memory>
#include <string>
#include <vector>

namespace nfcap::detail {

// What the end of a file (or stream) reports.
struct RecordingEnd {
    Timestamp start, end;          // the span the file covers
    bool live = false;             // counts of a live capture (a replay's say less)
    bool shared_interface = false; // one interface for every source (LINKTYPE_RAW)
};

class OutputWriter {
  public:
    virtual ~OutputWriter() = default;
    // The start of a file or stream (pcapng: the Section Header Block).
    virtual void begin(ByteBuffer& out) = 0;
    // An interface records will name (pcapng: its Interface Description Block).
    virtual void add_interface(ByteBuffer& out, const InterfaceDescription& interface) = 0;
    // One record.
    virtual EncodeResult append(ByteBuffer& out, const Packet& packet,
                                std::span<const std::byte> raw, const RecordContext& context) = 0;
    // The end of a file: the counters of every interface, in the order they were added
    // (pcapng: an Interface Statistics Block each, and an interface block when there was none;
    // JSON: one statistics line each).
    virtual void end(ByteBuffer& out, const std::vector<InterfaceCounters>& interfaces,
                     const RecordingEnd& how) = 0;
    // Whether the output has sections that a new file of a ring starts again (pcapng).
    virtual bool has_sections() const = 0;
};

// The writer of `format`, encoding records with `encoder` and naming `host` (pcapng); it keeps
// references to both.
std::unique_ptr<OutputWriter> make_output_writer(OutputFormat format, RecordEncoder& encoder,
                                                 long utc_offset_seconds, const HostIdentity& host);

} // namespace nfcap::detail
