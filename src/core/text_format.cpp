#include "text_format.hpp"
#include "byte_reader.hpp"
#include <nfcap/comment.hpp>

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <ctime>

namespace nfcap {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

std::string address(int family, std::span<const std::byte> bytes) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    return ::inet_ntop(family, bytes.data(), text.data(), text.size()) != nullptr ? text.data()
                                                                                  : "";
}

std::string ip_protocol_name(unsigned protocol) {
    switch (protocol) {
    case 1:
        return "ICMP";
    case 6:
        return "TCP";
    case 17:
        return "UDP";
    case 58:
        return "ICMP6";
    case 132:
        return "SCTP";
    default:
        return "proto " + std::to_string(protocol);
    }
}

std::string tcp_flags(unsigned flags) {
    std::string s;
    const std::array<std::pair<unsigned, char>, 6> names{
        {{0x02, 'S'}, {0x01, 'F'}, {0x04, 'R'}, {0x08, 'P'}, {0x10, '.'}, {0x20, 'U'}}};
    for (const auto& [bit, c] : names) {
        if ((flags & bit) != 0) {
            s += c;
        }
    }
    return "flags [" + s + "]";
}

// Ports and a detail for the transport header at `offset` of the payload.
void transport(PacketSummary& s, unsigned protocol, std::span<const std::byte> payload,
               std::size_t offset) {
    s.transport = ip_protocol_name(protocol);
    if (offset > payload.size()) {
        return;
    }
    ByteReader r(payload.subspan(offset));
    try {
        if (protocol == 6 || protocol == 17 || protocol == 132) {
            s.source_port = r.be16();
            s.destination_port = r.be16();
            if (protocol == 6) {
                r.skip(9);
                s.detail = tcp_flags(r.u8() & 0x3fU);
            }
        } else if (protocol == 1 || protocol == 58) {
            const unsigned type = r.u8();
            const bool v6 = protocol == 58;
            if ((!v6 && type == 8) || (v6 && type == 128)) {
                s.detail = "echo request";
            } else if ((!v6 && type == 0) || (v6 && type == 129)) {
                s.detail = "echo reply";
            } else {
                s.detail = "type " + std::to_string(type);
            }
        }
    } catch (const DecodeError&) {
        // the copy range cut the transport header: what was read stays
    }
}

void append_fraction(std::string& out, std::uint32_t nsec) {
    std::array<char, 10> digits{};
    for (int i = 8; i >= 0; --i) {
        digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + nsec % 10);
        nsec /= 10;
    }
    out += '.';
    out.append(digits.data(), 9);
}

void append_line(std::string& out, const Packet& p, const PacketSummary& s,
                 std::string_view comment, Timestamp time, long utc_offset) {
    const std::time_t shifted = static_cast<std::time_t>(time.sec + utc_offset);
    std::tm parts{};
    ::gmtime_r(&shifted, &parts);
    std::array<char, 16> clock{};
    std::strftime(clock.data(), clock.size(), "%H:%M:%S", &parts);
    out += clock.data();
    append_fraction(out, time.nsec);
    // The metadata first, as the comment has it, without the timestamp source.
    const auto pairs = parse_comment(comment);
    for (const auto& [key, value] : pairs) {
        if (key == "ts" || key == "hwheader" || key == "seq_global") {
            continue;
        }
        out += ' ';
        if (key != "source") {
            out += key;
            out += '=';
        }
        append_value(out, value);
    }
    out += ' ';
    out += s.network;
    if (!s.source.empty()) {
        out += ' ';
        out += s.source;
        if (s.source_port) {
            out += '.' + std::to_string(*s.source_port);
        }
        out += " > ";
        out += s.destination;
        if (s.destination_port) {
            out += '.' + std::to_string(*s.destination_port);
        }
        out += ':';
    }
    if (!s.transport.empty()) {
        out += ' ';
        out += s.transport;
    }
    if (!s.detail.empty()) {
        out += ' ';
        out += s.detail;
    }
    out += ", length " + std::to_string(p.original_length);
    out += '\n';
}

void append_json(std::string& out, const Packet& p, const PacketSummary& s,
                 const CommentContext& context, Timestamp time, bool payload) {
    out += "{\"time\":\"";
    const std::time_t seconds = static_cast<std::time_t>(time.sec);
    std::tm parts{};
    ::gmtime_r(&seconds, &parts);
    std::array<char, 32> date{};
    std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%S", &parts);
    out += date.data();
    append_fraction(out, time.nsec);
    out += "Z\",\"epoch\":" + std::to_string(time.sec);
    append_fraction(out, time.nsec);
    append_json_fields(out, p, context);
    out += ",\"network\":";
    append_json_string(out, s.network);
    if (!s.source.empty()) {
        out += ",\"src\":";
        append_json_string(out, s.source);
        out += ",\"dst\":";
        append_json_string(out, s.destination);
    }
    if (!s.transport.empty()) {
        out += ",\"protocol\":";
        append_json_string(out, s.transport);
    }
    if (s.source_port) {
        out += ",\"sport\":" + std::to_string(*s.source_port) +
               ",\"dport\":" + std::to_string(*s.destination_port);
    }
    out += ",\"length\":" + std::to_string(p.original_length) +
           ",\"caplen\":" + std::to_string(p.payload.size());
    if (payload) {
        out += ",\"payload\":\"";
        for (const std::byte b : p.payload) {
            const auto v = std::to_integer<unsigned>(b);
            out += hex_digits[v >> 4U];
            out += hex_digits[v & 0xfU];
        }
        out += '"';
    }
    out += "}\n";
}

} // namespace

void append_json_string(std::string& out, std::string_view value) {
    out += '"';
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c == 0x7f || c >= 0x80) {
            // Control bytes, and (so the line is valid JSON whatever the bytes) every
            // non-ASCII byte, as the code point of the same value.
            out += "\\u00";
            out += hex_digits[c >> 4U];
            out += hex_digits[c & 0xfU];
        } else {
            out += ch;
        }
    }
    out += '"';
}

PacketSummary summarize(const Packet& p) {
    PacketSummary s;
    const auto& data = p.payload;
    const unsigned version = data.empty() ? 0U : std::to_integer<unsigned>(data[0]) >> 4U;
    const bool ipv4 = version == 4 && p.hw_protocol != 0x0806 && data.size() >= 20;
    const bool ipv6 = version == 6 && p.hw_protocol != 0x0806 && data.size() >= 40;
    if (ipv4) {
        s.network = "IP";
        s.source = address(AF_INET, data.subspan(12, 4));
        s.destination = address(AF_INET, data.subspan(16, 4));
        const std::size_t header = (std::to_integer<std::size_t>(data[0]) & 0xfU) * 4;
        transport(s, std::to_integer<unsigned>(data[9]), data, header);
    } else if (ipv6) {
        s.network = "IP6";
        s.source = address(AF_INET6, data.subspan(8, 16));
        s.destination = address(AF_INET6, data.subspan(24, 16));
        transport(s, std::to_integer<unsigned>(data[6]), data, 40);
    } else if (p.hw_protocol == 0x0806 || p.family == Family::arp) {
        s.network = "ARP";
        if (data.size() >= 28) {
            const unsigned op =
                (std::to_integer<unsigned>(data[6]) << 8U) | std::to_integer<unsigned>(data[7]);
            const std::string sender = address(AF_INET, data.subspan(14, 4));
            const std::string target = address(AF_INET, data.subspan(24, 4));
            s.detail = op == 1   ? "request who-has " + target + " tell " + sender
                       : op == 2 ? "reply " + sender + " is-at"
                                 : "opcode " + std::to_string(op);
        }
    } else {
        std::array<char, 8> text{};
        std::to_chars(text.data(), text.data() + text.size(), p.hw_protocol, 16);
        s.network = std::string("ethertype 0x") + text.data();
    }
    return s;
}

void append_text_line(std::string& out, const Packet& packet, std::string_view comment,
                      Timestamp time, long utc_offset_seconds) {
    append_line(out, packet, summarize(packet), comment, time, utc_offset_seconds);
}

void append_json_record(std::string& out, const Packet& packet, const CommentContext& context,
                        Timestamp time, bool payload) {
    append_json(out, packet, summarize(packet), context, time, payload);
}

} // namespace nfcap
