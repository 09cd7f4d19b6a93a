#include <nfcap/byte_reader.hpp>
#include <nfcap/comment.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace nfcap {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

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

bool needs_quotes(std::string_view value) {
    if (value.empty()) {
        return true;
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\') {
            return true;
        }
        if (c >= 0x80) {
            const std::size_t n = utf8_sequence(value, i);
            if (n == 0) {
                return true;
            }
            i += n - 1;
        }
    }
    return false;
}

template <typename T> void append_decimal(std::string& out, T value) {
    std::array<char, 24> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    out.append(buffer.data(), result.ptr);
}

void append_hex(std::string& out, std::uint32_t value) {
    std::array<char, 16> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, 16);
    out += "0x";
    out.append(buffer.data(), result.ptr);
}

void append_hex4(std::string& out, std::uint16_t value) {
    out += "0x";
    const unsigned v = value;
    for (unsigned shift = 16; shift != 0;) {
        shift -= 4;
        out += hex_digits[(v >> shift) & 0xfU];
    }
}

void append_hex_byte(std::string& out, std::byte b) {
    const auto v = std::to_integer<unsigned>(b);
    out += hex_digits[v >> 4U];
    out += hex_digits[v & 0xfU];
}

void key(std::string& out, std::string_view name) {
    out += ' ';
    out += name;
    out += '=';
}

void append_interface(std::string& out, std::string_view name, std::optional<std::uint32_t> index,
                      InterfaceNames* names, Timestamp when) {
    if (!index) {
        return;
    }
    key(out, name);
    if (names != nullptr) {
        const std::string_view resolved = names->name(*index, when);
        if (!resolved.empty()) {
            // A name that needs quoting gets the whole value quoted: "name/index".
            if (needs_quotes(resolved)) {
                std::array<char, 16> digits{};
                const auto end =
                    std::to_chars(digits.data(), digits.data() + digits.size(), *index).ptr;
                std::string joined(resolved); // rare: only for names with spaces or odd bytes
                joined += '/';
                joined.append(digits.data(), end);
                append_value(out, joined);
                return;
            }
            out += resolved;
            out += '/';
        }
    }
    append_decimal(out, *index);
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
void append_skb_info(std::string& out, std::uint32_t flags) {
    constexpr std::array<std::pair<std::uint32_t, std::string_view>, 3> names{
        {{1U, "csum-not-ready"}, {2U, "gso"}, {4U, "csum-not-verified"}}};
    bool first = true;
    for (const auto& [bit, name] : names) {
        if ((flags & bit) != 0) {
            out += first ? "" : ",";
            out += name;
            first = false;
            flags &= ~bit;
        }
    }
    if (flags != 0) {
        out += first ? "" : ",";
        append_hex(out, flags);
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

} // namespace

void append_value(std::string& out, std::string_view value) {
    if (!needs_quotes(value)) {
        out += value;
        return;
    }
    out += '"';
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            append_hex_byte(out, static_cast<std::byte>(c));
        } else if (c >= 0x80) {
            const std::size_t n = utf8_sequence(value, i);
            if (n == 0) {
                out += "\\x";
                append_hex_byte(out, static_cast<std::byte>(c));
            } else {
                out.append(value.substr(i, n));
                i += n - 1;
            }
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

void append_comment(std::string& out, const Packet& p, const CommentContext& context) {
    out += context.source;
    if (p.has_packet_header) {
        const std::string_view hook = hook_name(p.family, p.hook);
        key(out, "hook");
        if (hook.empty()) {
            append_decimal(out, p.hook);
        } else {
            out += hook;
        }
    }
    if (const std::string_view family = family_name(p.family); !family.empty()) {
        key(out, "family");
        out += family;
    } else {
        key(out, "family");
        append_decimal(out, static_cast<unsigned>(p.family));
    }
    if (p.has_prefix) {
        key(out, "prefix");
        append_value(out, p.prefix);
    }
    append_interface(out, "in", p.indev, context.names, context.time);
    append_interface(out, "out", p.outdev, context.names, context.time);
    append_interface(out, "physin", p.physindev, context.names, context.time);
    append_interface(out, "physout", p.physoutdev, context.names, context.time);
    if (p.uid) {
        key(out, "uid");
        append_decimal(out, *p.uid);
    }
    if (p.gid) {
        key(out, "gid");
        append_decimal(out, *p.gid);
    }
    if (p.mark) {
        key(out, "mark");
        append_hex(out, *p.mark);
    }
    if (p.priority) {
        key(out, "priority");
        append_decimal(out, *p.priority);
    }
    if (p.hwtype) {
        key(out, "hwtype");
        append_decimal(out, *p.hwtype);
    }
    if (p.hwaddr && p.hwaddr->length > 0) {
        key(out, "hwaddr");
        const auto bytes = p.hwaddr->view();
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            if (i != 0) {
                out += ':';
            }
            append_hex_byte(out, bytes[i]);
        }
    }
    if (!p.hwheader.empty()) {
        key(out, "hwheader");
        for (const std::byte b : p.hwheader) {
            append_hex_byte(out, b);
        }
    }
    if (p.vlan) {
        key(out, "vlan");
        append_hex4(out, p.vlan->proto);
        out += '/';
        append_hex4(out, p.vlan->tci);
    }
    if (p.conntrack) {
        const Conntrack& ct = *p.conntrack;
        if (ct.info) {
            key(out, "ct");
            const std::string_view name = conntrack_info_name(*ct.info);
            if (name.empty()) {
                append_decimal(out, *ct.info);
            } else {
                out += name;
            }
        }
        if (ct.status) {
            key(out, "ctstatus");
            append_hex(out, *ct.status);
        }
        if (ct.mark) {
            key(out, "ctmark");
            append_hex(out, *ct.mark);
        }
        if (ct.id) {
            key(out, "ctid");
            append_decimal(out, *ct.id);
        }
        if (ct.zone) {
            key(out, "ctzone");
            append_decimal(out, *ct.zone);
        }
    }
    if (p.seq) {
        key(out, "seq");
        append_decimal(out, *p.seq);
    }
    if (p.seq_global) {
        key(out, "seq_global");
        append_decimal(out, *p.seq_global);
    }
    if (p.packet_id) {
        key(out, "id");
        append_decimal(out, *p.packet_id);
    }
    if (!context.verdict.empty()) {
        out += ' ';
        out += context.verdict;
    }
    if (p.skb_info && *p.skb_info != 0) {
        key(out, "skbinfo");
        append_skb_info(out, *p.skb_info);
    }
    if (!p.secctx.empty()) {
        key(out, "secctx");
        append_value(out, p.secctx);
    }
    key(out, "ts");
    out += timestamp_source_name(context.timestamp_source);
    if (p.truncated()) {
        key(out, "trunc");
        append_decimal(out, p.original_length);
    }
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
