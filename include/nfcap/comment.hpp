#pragma once
// The per-packet metadata comment: one line of `key=value` pairs in a fixed order, preceded by
// the source name (`nflog:123`). Keys are absent when the kernel gave nothing. Values that
// contain a space, `"`, `\`, a control byte or bytes that are not valid UTF-8 are written in
// double quotes with C escapes (`\"`, `\\`, `\xNN`), so every value is recoverable byte for
// byte. The grammar is documented in README.md ("The metadata comment").

#include <nfcap/packet.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nfcap {

// For how long a name lookup's answer holds: for the same index at any time in [from, until),
// for as long as InterfaceNames::version() returns `version`. A version of 0 holds for nothing
// beyond the lookup itself.
struct NameSpan {
    Timestamp from;
    Timestamp until;
    std::uint64_t version = 0;
};

// Maps an interface index to the name it had when the packet passed. Implementations may do
// I/O (nfcap_io's InterfaceCache); the core only calls this interface.
class InterfaceNames {
  public:
    virtual ~InterfaceNames() = default;
    // The name `ifindex` had at `when` (the record's time: the kernel's timestamp, else the time
    // nfcap received the record), or an empty view when unknown. The view stays valid until
    // the next call.
    virtual std::string_view name(std::uint32_t ifindex, Timestamp when) = 0;
    // name(), and in `span` for how long its answer holds. This default says: for nothing
    // beyond this call, so a caller that keeps answers (NameResolution) asks every time.
    virtual std::string_view name_with_span(std::uint32_t ifindex, Timestamp when, NameSpan& span) {
        span = {};
        return name(ifindex, when);
    }
    // Takes in what changed since the last call (as name() would), then a number that stays the
    // same for as long as no answer of name() changes; 0 (this default): answers may change at
    // any call.
    virtual std::uint64_t version() { return 0; }
};

// The names of a packet's interfaces; empty where the packet has no such interface or the
// name is unknown.
struct InterfaceNamesOf {
    std::string indev, outdev, physindev, physoutdev;
};

// Resolves the names of `packet`'s interfaces as of `when` (the record's time: the kernel's
// timestamp, else the time nfcap received it) into `into`, reusing its strings. Names are
// resolved before a record is encoded: the encoders take them as data.
void resolve_names(InterfaceNamesOf& into, const Packet& packet, InterfaceNames& names,
                   Timestamp when);

// resolve_names() for a stream of records, with the answers kept: an interface's name is looked
// up again only when its index is another, the record's time is outside the span the kept name
// holds for, or the names changed (InterfaceNames::name_with_span, version()). Each record gets
// exactly what resolve_names() would give it. Not thread-safe, like InterfaceNames. Given
// another InterfaceNames than the last call's, it forgets what it kept.
class NameResolution {
  public:
    // The names of `packet`'s interfaces as of `when`, valid until the next call.
    const InterfaceNamesOf& resolve(const Packet& packet, InterfaceNames& names, Timestamp when);
    // Counts the changes of what resolve() returns: the same count, the same names.
    std::uint64_t changes() const { return changes_; }

  private:
    struct Kept {
        std::uint32_t index = 0;
        NameSpan span; // version 0: nothing kept
    };
    void look_up(Kept& kept, std::string& name, std::uint32_t index, InterfaceNames& names,
                 Timestamp when);

    const InterfaceNames* source_ = nullptr; // the answers kept are this one's
    InterfaceNamesOf names_;
    Kept indev_, outdev_, physindev_, physoutdev_;
    std::uint64_t changes_ = 0;
};

struct CommentContext {
    std::string_view source;                 // "nflog:123"
    const InterfaceNamesOf* names = nullptr; // resolved; null: interfaces as bare indices
    TimestampSource timestamp_source = TimestampSource::kernel;
    // NFQUEUE: the verdict given, already in the grammar ("verdict=accept setmark=0x10/0xff");
    // empty for NFLOG records and replays.
    std::string_view verdict;
    // The record's time (the kernel's, else the receive time).
    Timestamp time;
    // What a pcapng record states elsewhere is left out of its comment (README, "The metadata
    // comment", Keys left out): `family` when the payload's IP version says it, an empty
    // `prefix`, `ts` when the time is the kernel's. Text and JSON output keep every key.
    bool leave_out_implied = false;
    // With leave_out_implied: the record's link-layer header (LINKTYPE_LINUX_SLL2) holds the
    // hardware type and address, so `hwtype` and `hwaddr` are left out too.
    bool hw_in_link_header = false;
    // With leave_out_implied: the frame's network layer is the payload itself (LINUX_SLL2,
    // RAW), whose IP version then states the family. A LINKTYPE_NFLOG frame holds the record's
    // attributes, which Wireshark does not read as an IP packet for NFQUEUE records.
    bool payload_is_frame = false;
};

// Appends the comment for `packet` to `out` (which the caller clears and reuses, so the hot
// path allocates nothing once `out` has grown).
void append_comment(std::string& out, const Packet& packet, const CommentContext& context);

// Writes the comment for `packet` from the start of `scratch` and returns a view of it, valid
// until `scratch` changes. `scratch` keeps its (grown) size between calls: a buffer reused for
// every record is neither cleared nor zero-filled again (the recorder's hot path).
std::string_view write_comment(std::string& scratch, const Packet& packet,
                               const CommentContext& context);

// Appends the comment's keys (every one the context does not leave out) as JSON object members,
// `,"source":"nflog:1","hook":"input",...`, built from the packet as the comment is: a key of
// KeyKind::number (metadata_keys.hpp) as a JSON number, every other as a JSON string.
void append_json_fields(std::string& out, const Packet& packet, const CommentContext& context);

// Appends `value`, quoted and escaped when the grammar requires it.
void append_value(std::string& out, std::string_view value);

// Splits a comment back into (key, unescaped value) pairs. The leading source token comes back
// with the key "source". Throws DecodeError on a malformed comment.
std::vector<std::pair<std::string, std::string>> parse_comment(std::string_view comment);

} // namespace nfcap
