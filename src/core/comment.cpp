#include "byte_reader.hpp"
#include "comment_parts.hpp"
#include "text_format.hpp"
#include <nfcap/comment.hpp>
#include <nfcap/metadata_keys.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace nfcap {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// The two hex digits of every byte value, so that a byte costs one two-byte copy.
constexpr std::array<char, 512> hex_pairs = [] {
    std::array<char, 512> pairs{};
    for (std::size_t v = 0; v < 256; ++v) {
        pairs[2 * v] = hex_digits[v >> 4U];
        pairs[2 * v + 1] = hex_digits[v & 0xfU];
    }
    return pairs;
}();

// The two decimal digits of 0..99, so that a pair of digits costs one two-byte copy.
constexpr std::array<char, 200> decimal_pairs = [] {
    std::array<char, 200> pairs{};
    for (std::size_t v = 0; v < 100; ++v) {
        pairs[2 * v] = static_cast<char>('0' + v / 10);
        pairs[2 * v + 1] = static_cast<char>('0' + v % 10);
    }
    return pairs;
}();

constexpr std::array<std::uint64_t, 20> powers_of_10 = [] {
    std::array<std::uint64_t, 20> powers{};
    std::uint64_t p = 1;
    for (std::uint64_t& power : powers) {
        power = p;
        p *= 10;
    }
    return powers;
}();

// Decimal digits of `value` (not 0): log10 from the bit width (1233 / 4096 is just above
// log10(2)), one less when below that power of ten.
constexpr unsigned decimal_digits(std::uint64_t value) {
    const unsigned guess = (static_cast<unsigned>(std::bit_width(value)) * 1233U) >> 12U;
    return guess + (value >= powers_of_10[guess] ? 1U : 0U);
}
static_assert(decimal_digits(1) == 1 && decimal_digits(9) == 1 && decimal_digits(10) == 2 &&
              decimal_digits(99) == 2 && decimal_digits(100) == 3 &&
              decimal_digits(4'294'967'295U) == 10 && decimal_digits(~std::uint64_t{0}) == 20);

// Length of the valid UTF-8 sequence starting at s[i] (2..4), or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    unsigned min = 0;
    unsigned code = 0;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        length = 2, min = 0x80, code = b0 & 0x1fU;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        length = 3, min = 0x800, code = b0 & 0x0fU;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        length = 4, min = 0x10000, code = b0 & 0x07U;
    } else {
        return 0;
    }
    if (i + length > s.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < length; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xc0U) != 0x80U) {
            return 0;
        }
        code = (code << 6U) | (b & 0x3fU);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        return 0;
    }
    return length;
}

// What a byte asks of an unquoted value: nothing (printable ASCII other than '"' and '\\'),
// quotes (space, controls, DEL, '"', '\\'), or a look at the UTF-8 sequence it starts. One load
// per byte: names and prefixes are checked for every record.
enum class ByteNeed : std::uint8_t { nothing, quotes, utf8 };
constexpr std::array<ByteNeed, 256> byte_needs = [] {
    std::array<ByteNeed, 256> needs{};
    for (std::size_t c = 0; c < 256; ++c) {
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\') {
            needs[c] = ByteNeed::quotes;
        } else if (c >= 0x80) {
            needs[c] = ByteNeed::utf8;
        }
    }
    return needs;
}();

// Whether one of the eight bytes of `w` is below 0x21, above 0x7e, '"' or '\\': the bytes the
// table has to look at. Exact (per word), from the classic tests for a byte below, above or
// equal to a constant.
constexpr bool any_byte_needs_a_look(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101U;
    constexpr std::uint64_t highs = 0x8080808080808080U;
    const auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
    const std::uint64_t below = (w - ones * 0x21U) & ~w & highs;
    const std::uint64_t above = ((w + ones) | w) & highs; // 0x7f and up
    return (below | above | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'))) != 0;
}

std::uint64_t load64(const char* at) {
    std::uint64_t w = 0;
    std::memcpy(&w, at, sizeof w);
    return w;
}

std::uint64_t load32(const char* at) {
    std::uint32_t w = 0;
    std::memcpy(&w, at, sizeof w);
    return w;
}

bool needs_quotes(std::string_view value) {
    // Eight bytes at a time (the last word overlapping the one before): names and prefixes are
    // almost always plain, and then the table below never runs.
    if (const std::size_t n = value.size(); n >= 4) {
        const char* const s = value.data();
        bool look = false;
        if (n >= 8) {
            for (std::size_t i = 0; i + 8 <= n; i += 8) {
                look |= any_byte_needs_a_look(load64(s + i));
            }
            look |= any_byte_needs_a_look(load64(s + n - 8));
        } else {
            look = any_byte_needs_a_look(load32(s) | (load32(s + n - 4) << 32U));
        }
        if (!look) {
            return false;
        }
    }
    if (value.empty()) {
        return true;
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
        switch (byte_needs[static_cast<unsigned char>(value[i])]) {
        case ByteNeed::nothing:
            break;
        case ByteNeed::quotes:
            return true;
        case ByteNeed::utf8:
            if (const std::size_t n = utf8_sequence(value, i); n != 0) {
                i += n - 1;
                break;
            }
            return true;
        }
    }
    return false;
}

// Appends to a string through a raw pointer: each piece first makes room for itself (one
// compare), then copies. Character-by-character std::string appends made the comment the
// largest cost of replay (callgrind: 2,100 instructions per record; about 500 this way).
class Writer {
  public:
    // Appends to `out`. With `scratch`, writes from the start of `out` instead and leaves its
    // size alone, so that a buffer reused for every record is never zero-filled again.
    // A scratch Writer may also start after the first `from` bytes, which it keeps.
    explicit Writer(std::string& out, bool scratch = false, std::size_t from = 0)
        : out_(out), used_(scratch ? from : out.size()), scratch_(scratch) {
        // All the capacity the caller's string already has, and at least 256 bytes.
        if (out_.size() < used_ + 256 || !scratch_) {
            out_.resize(std::max(out_.capacity(), used_ + 256));
        }
        data_ = out_.data();
        size_ = out_.size();
    }
    ~Writer() {
        if (!scratch_) {
            out_.resize(used_); // shrinking never allocates
        }
    }
    std::string_view written() const { return {data_, used_}; }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    void put(char c) {
        room(1);
        data_[used_] = c;
        ++used_;
    }
    void put(std::string_view s) {
        room(s.size());
        std::memcpy(data_ + used_, s.data(), s.size());
        used_ += s.size();
    }
    // A key with its separators, " name=": the name and its length are constants.
    template <Key K> void key() {
        constexpr std::string_view name = metadata_key(K).name;
        room(name.size() + 2);
        char* const p = data_ + used_;
        p[0] = ' ';
        std::memcpy(p + 1, name.data(), name.size());
        p[name.size() + 1] = '=';
        used_ += name.size() + 2;
    }
    // The leading source token.
    void source(std::string_view s) { put(s); }
    // Keys written elsewhere already in the grammar (the NFQUEUE verdict fragment).
    void fragment(std::string_view f) {
        put(' ');
        put(f);
    }
    template <typename T> void decimal(T value) {
        static_assert(std::is_unsigned_v<T>, "comment numbers are unsigned");
        if (value < 10) { // most interface indices: no digit count to work out
            put(static_cast<char>('0' + static_cast<unsigned>(value)));
            return;
        }
        // The digit count first, then the digits from the last, two at a time.
        using Wide = std::conditional_t<(sizeof(T) > 4), std::uint64_t, std::uint32_t>;
        Wide v = value;
        room(24);
        const unsigned digits = decimal_digits(v);
        char* p = data_ + used_ + digits;
        used_ += digits;
        while (v >= 100) {
            const auto pair = static_cast<std::size_t>(v % 100);
            v /= 100;
            p -= 2;
            std::memcpy(p, &decimal_pairs[2 * pair], 2);
        }
        if (v >= 10) {
            std::memcpy(p - 2, &decimal_pairs[2 * static_cast<std::size_t>(v)], 2);
        } else {
            p[-1] = static_cast<char>('0' + v);
        }
    }
    void hex(std::uint32_t value) {
        room(12);
        char* const p = data_ + used_;
        p[0] = '0';
        p[1] = 'x';
        used_ += static_cast<std::size_t>(std::to_chars(p + 2, p + 12, value, 16).ptr - p);
    }
    void hex4(std::uint16_t value) {
        room(6);
        char* const p = data_ + used_;
        p[0] = '0';
        p[1] = 'x';
        const unsigned v = value;
        for (unsigned i = 0; i < 4; ++i) {
            p[2 + i] = hex_digits[(v >> (12U - 4U * i)) & 0xfU];
        }
        used_ += 6;
    }
    // Two hex digits per byte, with `separator` between bytes unless it is '\0'.
    void hex_bytes(std::span<const std::byte> bytes, char separator) {
        room(3 * bytes.size());
        char* const begin = data_ + used_;
        char* p = begin;
        if (separator == '\0') {
#pragma GCC unroll 4
            for (const std::byte b : bytes) {
                std::memcpy(p, &hex_pairs[2 * std::to_integer<std::size_t>(b)], 2);
                p += 2;
            }
        } else {
            for (std::size_t i = 0; i < bytes.size(); ++i) {
                if (i != 0) {
                    *p++ = separator;
                }
                std::memcpy(p, &hex_pairs[2 * std::to_integer<std::size_t>(bytes[i])], 2);
                p += 2;
            }
        }
        used_ += static_cast<std::size_t>(p - begin);
    }
    // `value`, quoted and escaped when the grammar requires it.
    void value(std::string_view value) {
        if (!needs_quotes(value)) {
            put(value);
            return;
        }
        room(2 + 4 * value.size()); // "\xNN" is the longest form of one byte
        char* const begin = data_ + used_;
        char* p = begin;
        *p++ = '"';
        for (std::size_t i = 0; i < value.size(); ++i) {
            const auto c = static_cast<unsigned char>(value[i]);
            if (c == '"' || c == '\\') {
                *p++ = '\\';
                *p++ = static_cast<char>(c);
            } else if (c < 0x20 || c == 0x7f) {
                p = escape(p, c);
            } else if (c >= 0x80) {
                const std::size_t n = utf8_sequence(value, i);
                if (n == 0) {
                    p = escape(p, c);
                } else {
                    std::memcpy(p, value.data() + i, n);
                    p += n;
                    i += n - 1;
                }
            } else {
                *p++ = static_cast<char>(c);
            }
        }
        *p++ = '"';
        used_ += static_cast<std::size_t>(p - begin);
    }

  private:
    // The string's size is kept in size_: every piece checks it, and a store through data_ could
    // alias the string's own, so the compiler would load it again each time.
    void room(std::size_t n) {
        if (size_ - used_ < n) {
            grow(n);
        }
    }
    // Out of line: rare, and inlined it made every piece save and restore registers.
    [[gnu::noinline, gnu::cold]] void grow(std::size_t n) {
        out_.resize(std::max(out_.size() * 2, used_ + n + 256));
        data_ = out_.data();
        size_ = out_.size();
    }
    static char* escape(char* p, unsigned char c) {
        p[0] = '\\';
        p[1] = 'x';
        p[2] = hex_digits[c >> 4U];
        p[3] = hex_digits[c & 0xfU];
        return p + 4;
    }

    std::string& out_;
    std::size_t used_;
    bool scratch_;
    char* data_ = nullptr;
    std::size_t size_ = 0; // out_.size()
};

// The comment's keys as JSON members, `,"name":value` each: a number for a KeyKind::number
// key, a JSON string otherwise (of the value unescaped: the comment grammar's quoting is the
// comment's, not JSON's). Values are gathered whole, then written.
class JsonFields {
  public:
    explicit JsonFields(std::string& out) : out_(out) {}
    JsonFields(const JsonFields&) = delete;
    JsonFields& operator=(const JsonFields&) = delete;

    template <Key K> void key() {
        flush();
        open(metadata_key(K).name, metadata_key(K).kind);
    }
    void source(std::string_view s) {
        key<Key::source>();
        put(s);
    }
    void fragment(std::string_view f) {
        // "verdict=accept setmark=0x1/0xffffffff decided=later": unquoted key=value tokens.
        while (!f.empty()) {
            const std::size_t end = std::min(f.find(' '), f.size());
            const std::string_view token = f.substr(0, end);
            f.remove_prefix(std::min(end + 1, f.size()));
            const std::size_t equals = token.find('=');
            if (equals == std::string_view::npos) {
                continue;
            }
            flush();
            const std::string_view name = token.substr(0, equals);
            const std::optional<Key> known = find_key(name);
            open(name, known ? metadata_key(*known).kind : KeyKind::text);
            put(token.substr(equals + 1));
        }
    }
    void put(char c) { value_ += c; }
    void put(std::string_view v) { value_ += v; }
    void value(std::string_view v) { value_ += v; }
    template <typename T> void decimal(T v) { Writer(value_).decimal(v); }
    void hex(std::uint32_t v) { Writer(value_).hex(v); }
    void hex4(std::uint16_t v) { Writer(value_).hex4(v); }
    void hex_bytes(std::span<const std::byte> bytes, char separator) {
        Writer(value_).hex_bytes(bytes, separator);
    }
    // Writes the last member.
    void finish() { flush(); }

  private:
    void open(std::string_view name, KeyKind kind) {
        name_ = name;
        kind_ = kind;
        open_ = true;
    }
    void flush() {
        if (!open_) {
            return;
        }
        out_ += ",\"";
        out_ += name_;
        out_ += "\":";
        if (kind_ == KeyKind::number) {
            out_ += value_;
        } else {
            append_json_string(out_, value_);
        }
        value_.clear();
        open_ = false;
    }

    std::string& out_;
    std::string value_;
    std::string_view name_;
    KeyKind kind_ = KeyKind::text;
    bool open_ = false;
};

template <Key Name, class Out>
void append_interface(Out& out, std::optional<std::uint32_t> index, const InterfaceNamesOf* names,
                      const std::string InterfaceNamesOf::*which) {
    if (!index) {
        return;
    }
    out.template key<Name>();
    if (names != nullptr) {
        const std::string& resolved = names->*which;
        if (!resolved.empty()) {
            // A name that needs quoting gets the whole value quoted: "name/index".
            if (needs_quotes(resolved)) {
                std::array<char, 16> digits{};
                const auto end =
                    std::to_chars(digits.data(), digits.data() + digits.size(), *index).ptr;
                std::string joined(resolved); // rare: only for names with spaces or odd bytes
                joined += '/';
                joined.append(digits.data(), end);
                out.value(joined);
                return;
            }
            out.put(resolved);
            out.put('/');
        }
    }
    out.decimal(*index);
}

std::string_view conntrack_info_name(std::uint32_t info) {
    // enum ip_conntrack_info
    switch (info) {
    case 0:
        return "established";
    case 1:
        return "related";
    case 2:
        return "new";
    case 3:
        return "established-reply";
    case 4:
        return "related-reply";
    case 7:
        return "untracked";
    default:
        return {};
    }
}

// NFQA_SKB_INFO flags: NFQA_SKB_CSUMNOTREADY (1), NFQA_SKB_GSO (2), NFQA_SKB_CSUM_NOTVERIFIED
// (4). "csum-not-ready" is what explains a "bad checksum" in Wireshark on a locally generated
// packet: the checksum is filled in later, by the NIC or the stack.
template <class Out> void append_skb_info(Out& out, std::uint32_t flags) {
    constexpr std::array<std::pair<std::uint32_t, std::string_view>, 3> names{
        {{1U, "csum-not-ready"}, {2U, "gso"}, {4U, "csum-not-verified"}}};
    bool first = true;
    for (const auto& [bit, name] : names) {
        if ((flags & bit) != 0) {
            if (!first) {
                out.put(',');
            }
            out.put(name);
            first = false;
            flags &= ~bit;
        }
    }
    if (flags != 0) {
        if (!first) {
            out.put(',');
        }
        out.hex(flags);
    }
}

std::string_view timestamp_source_name(TimestampSource source) {
    switch (source) {
    case TimestampSource::kernel:
        return "kernel";
    case TimestampSource::receive:
        return "receive";
    case TimestampSource::file:
        return "file";
    }
    return {};
}

// Whether the payload's own IP version states the family (a bridge, ARP or netdev record, or
// one whose payload disagrees, keeps its family key).
bool family_implied(const Packet& p) {
    if (p.payload.empty()) {
        return false;
    }
    const unsigned version = std::to_integer<unsigned>(p.payload[0]) >> 4U;
    return (p.family == Family::ipv4 && version == 4) || (p.family == Family::ipv6 && version == 6);
}

// The comment of `p`, key by key in the order of the key table (metadata_keys.hpp), to a
// Writer (the comment) or JsonFields (the same keys as JSON members): the head (the keys up to
// the conntrack ones), then the tail.
template <class Out> void write_head(Out& out, const Packet& p, const CommentContext& context) {
    const bool implied = context.leave_out_implied;
    const bool hw_implied = implied && context.hw_in_link_header;
    out.source(context.source);
    if (p.has_packet_header) {
        const std::string_view hook = hook_name(p.family, p.hook);
        out.template key<Key::hook>();
        if (hook.empty()) {
            out.decimal(p.hook);
        } else {
            out.put(hook);
        }
    }
    if (!implied || !context.payload_is_frame || !family_implied(p)) {
        out.template key<Key::family>();
        if (const std::string_view family = family_name(p.family); !family.empty()) {
            out.put(family);
        } else {
            out.decimal(static_cast<unsigned>(p.family));
        }
    }
    if (p.has_prefix && !(implied && p.prefix.empty())) {
        out.template key<Key::prefix>();
        out.value(p.prefix);
    }
    append_interface<Key::in>(out, p.indev, context.names, &InterfaceNamesOf::indev);
    append_interface<Key::out>(out, p.outdev, context.names, &InterfaceNamesOf::outdev);
    append_interface<Key::physin>(out, p.physindev, context.names, &InterfaceNamesOf::physindev);
    append_interface<Key::physout>(out, p.physoutdev, context.names, &InterfaceNamesOf::physoutdev);
    if (p.uid) {
        out.template key<Key::uid>();
        out.decimal(*p.uid);
    }
    if (p.gid) {
        out.template key<Key::gid>();
        out.decimal(*p.gid);
    }
    if (p.mark) {
        out.template key<Key::mark>();
        out.hex(*p.mark);
    }
    if (p.priority) {
        out.template key<Key::priority>();
        out.decimal(*p.priority);
    }
    if (p.hwtype && !hw_implied) {
        out.template key<Key::hwtype>();
        out.decimal(*p.hwtype);
    }
    if (p.hwaddr && p.hwaddr->length > 0 && !hw_implied) {
        out.template key<Key::hwaddr>();
        out.hex_bytes(p.hwaddr->view(), ':');
    }
    if (!p.hwheader.empty()) {
        out.template key<Key::hwheader>();
        out.hex_bytes(p.hwheader, '\0');
    }
    if (p.vlan) {
        out.template key<Key::vlan>();
        out.hex4(p.vlan->proto);
        out.put('/');
        out.hex4(p.vlan->tci);
    }
    if (p.conntrack) {
        const Conntrack& ct = *p.conntrack;
        if (ct.info) {
            out.template key<Key::ct>();
            const std::string_view name = conntrack_info_name(*ct.info);
            if (name.empty()) {
                out.decimal(*ct.info);
            } else {
                out.put(name);
            }
        }
        if (ct.status) {
            out.template key<Key::ctstatus>();
            out.hex(*ct.status);
        }
        if (ct.mark) {
            out.template key<Key::ctmark>();
            out.hex(*ct.mark);
        }
        if (ct.id) {
            out.template key<Key::ctid>();
            out.decimal(*ct.id);
        }
        if (ct.zone) {
            out.template key<Key::ctzone>();
            out.decimal(*ct.zone);
        }
    }
}

template <class Out> void write_tail(Out& out, const Packet& p, const CommentContext& context) {
    const bool implied = context.leave_out_implied;
    if (p.seq) {
        out.template key<Key::seq>();
        out.decimal(*p.seq);
    }
    if (p.seq_global) {
        out.template key<Key::seq_global>();
        out.decimal(*p.seq_global);
    }
    if (p.packet_id) {
        out.template key<Key::id>();
        out.decimal(*p.packet_id);
    }
    if (!context.verdict.empty()) {
        out.fragment(context.verdict);
    }
    if (p.skb_info && *p.skb_info != 0) {
        out.template key<Key::skbinfo>();
        append_skb_info(out, *p.skb_info);
    }
    if (!p.secctx.empty()) {
        out.template key<Key::secctx>();
        out.value(p.secctx);
    }
    if (!implied || context.timestamp_source != TimestampSource::kernel) {
        out.template key<Key::ts>();
        out.put(timestamp_source_name(context.timestamp_source));
    }
    if (p.metadata_only) {
        out.template key<Key::copy>();
        out.put("meta");
    }
    if (p.truncated()) {
        out.template key<Key::trunc>();
        out.decimal(p.original_length);
    }
    if (p.cut) {
        out.template key<Key::truncated>();
        out.decimal(p.cut->captured);
        out.put('/');
        out.decimal(p.cut->original);
    }
}

template <class Out> void write(Out& out, const Packet& p, const CommentContext& context) {
    write_head(out, p, context);
    write_tail(out, p, context);
}

} // namespace

void resolve_names(InterfaceNamesOf& into, const Packet& packet, InterfaceNames& names,
                   Timestamp when) {
    const auto one = [&](std::string& name, const std::optional<std::uint32_t>& index) {
        if (index) {
            name.assign(names.name(*index, when)); // each view is copied before the next call
        } else {
            name.clear();
        }
    };
    one(into.indev, packet.indev);
    one(into.outdev, packet.outdev);
    one(into.physindev, packet.physindev);
    one(into.physoutdev, packet.physoutdev);
}

const InterfaceNamesOf& NameResolution::resolve(const Packet& packet, InterfaceNames& names,
                                                Timestamp when) {
    if (&names != source_) {
        source_ = &names;
        indev_ = outdev_ = physindev_ = physoutdev_ = Kept{};
    }
    const std::uint64_t version = names.version();
    const auto one = [&](Kept& kept, std::string& name, const std::optional<std::uint32_t>& index) {
        if (!index) {
            if (!name.empty()) {
                name.clear();
                ++changes_;
            }
            kept.span.version = 0;
        } else if (version == 0 || kept.span.version != version || kept.index != *index ||
                   when < kept.span.from || !(when < kept.span.until)) {
            look_up(kept, name, *index, names, when);
        } // else `name` holds this index's answer for this time
    };
    one(indev_, names_.indev, packet.indev);
    one(outdev_, names_.outdev, packet.outdev);
    one(physindev_, names_.physindev, packet.physindev);
    one(physoutdev_, names_.physoutdev, packet.physoutdev);
    return names_;
}

void NameResolution::look_up(Kept& kept, std::string& name, std::uint32_t index,
                             InterfaceNames& names, Timestamp when) {
    // The lookup may take in changes itself: then its span carries the newer version.
    const std::string_view found = names.name_with_span(index, when, kept.span);
    if (found != name) {
        name.assign(found);
        ++changes_;
    }
    kept.index = index;
}

void append_value(std::string& out, std::string_view value) {
    Writer(out).value(value);
}

void append_comment(std::string& out, const Packet& packet, const CommentContext& context) {
    Writer writer(out);
    write(writer, packet, context);
}

std::string_view write_comment(std::string& scratch, const Packet& packet,
                               const CommentContext& context) {
    Writer writer(scratch, true);
    write(writer, packet, context);
    return writer.written();
}

std::size_t detail::write_comment_head(std::string& scratch, const Packet& packet,
                                       const CommentContext& context) {
    Writer writer(scratch, true);
    write_head(writer, packet, context);
    return writer.written().size();
}

std::string_view detail::write_comment_tail(std::string& scratch, std::size_t head,
                                            const Packet& packet, const CommentContext& context) {
    Writer writer(scratch, true, head);
    write_tail(writer, packet, context);
    return writer.written();
}

void append_json_fields(std::string& out, const Packet& packet, const CommentContext& context) {
    JsonFields fields(out);
    write(fields, packet, context);
    fields.finish();
}

std::vector<std::pair<std::string, std::string>> parse_comment(std::string_view comment) {
    std::vector<std::pair<std::string, std::string>> pairs;
    std::size_t i = 0;
    const auto fail = [&](const std::string& why) {
        throw DecodeError("malformed comment at column " + std::to_string(i) + ": " + why);
    };
    const auto hex_value = [&](char c) -> unsigned {
        if (c >= '0' && c <= '9') {
            return static_cast<unsigned>(c - '0');
        }
        if (c >= 'a' && c <= 'f') {
            return static_cast<unsigned>(c - 'a' + 10);
        }
        if (c >= 'A' && c <= 'F') {
            return static_cast<unsigned>(c - 'A' + 10);
        }
        fail("bad hex digit in \\x escape");
        return 0;
    };
    const std::size_t source_end = comment.find(' ');
    const std::string_view source = comment.substr(0, source_end);
    if (source.empty() || source.find('=') != std::string_view::npos) {
        fail("missing source name");
    }
    pairs.emplace_back("source", std::string(source));
    i = source.size();
    while (i < comment.size()) {
        if (comment[i] != ' ' || i + 1 >= comment.size()) {
            fail("expected a single space before the next key");
        }
        ++i;
        const std::size_t eq = comment.find('=', i);
        if (eq == std::string_view::npos || eq == i) {
            fail("expected key=value");
        }
        std::string name(comment.substr(i, eq - i));
        if (name.find(' ') != std::string::npos) {
            fail("key contains a space");
        }
        i = eq + 1;
        std::string value;
        if (i < comment.size() && comment[i] == '"') {
            ++i;
            bool closed = false;
            while (i < comment.size()) {
                const char c = comment[i];
                if (c == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (c == '\\') {
                    if (i + 1 >= comment.size()) {
                        fail("dangling backslash");
                    }
                    const char e = comment[i + 1];
                    if (e == '"' || e == '\\') {
                        value += e;
                        i += 2;
                    } else if (e == 'x' && i + 3 < comment.size()) {
                        value += static_cast<char>((hex_value(comment[i + 2]) << 4U) |
                                                   hex_value(comment[i + 3]));
                        i += 4;
                    } else {
                        fail("unknown escape");
                    }
                } else {
                    value += c;
                    ++i;
                }
            }
            if (!closed) {
                fail("unterminated quoted value");
            }
            if (i < comment.size() && comment[i] != ' ') {
                fail("text after a closing quote");
            }
        } else {
            const std::size_t end = std::min(comment.find(' ', i), comment.size());
            value = std::string(comment.substr(i, end - i));
            if (value.find('"') != std::string::npos) {
                fail("quote inside an unquoted value");
            }
            i = end;
        }
        pairs.emplace_back(std::move(name), std::move(value));
    }
    return pairs;
}

} // namespace nfcap
