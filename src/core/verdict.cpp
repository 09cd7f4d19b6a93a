#include <nfcap/verdict.hpp>

#include <charconv>
#include <stdexcept>

namespace nfcap {
namespace {

std::string hex(std::uint32_t v) {
    char buffer[16];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, v, 16).ptr;
    return "0x" + std::string(buffer, end);
}

std::uint32_t parse_u32(const std::string& text, const char* what) {
    const bool is_hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const char* begin = text.data() + (is_hex ? 2 : 0);
    const char* end = text.data() + text.size();
    std::uint32_t value = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, value, is_hex ? 16 : 10);
    if (begin == end || ec != std::errc{} || ptr != end) {
        throw std::invalid_argument(std::string("invalid ") + what + " '" + text +
                                    "': expected a 32-bit number (decimal or 0x hex)");
    }
    return value;
}

} // namespace

std::string describe(const Verdict& v) {
    std::string out = "verdict=";
    switch (v.kind) {
    case VerdictKind::accept:
        out += "accept";
        break;
    case VerdictKind::drop:
        out += "drop";
        break;
    case VerdictKind::queue:
        out += "queue:" + std::to_string(v.target_queue);
        break;
    case VerdictKind::repeat:
        out += "repeat";
        break;
    }
    if (v.mark) {
        out += " setmark=" + hex(*v.mark) + "/" + hex(v.mark_mask);
    }
    return out;
}

std::string_view decided_by_name(DecidedBy by) {
    switch (by) {
    case DecidedBy::at_once:
        return {};
    case DecidedBy::later:
        return "later";
    case DecidedBy::deadline:
        return "deadline";
    case DecidedBy::close:
        return "close";
    case DecidedBy::error:
        return "error";
    }
    return {};
}

std::string describe(const PacketDecision& d, bool new_bytes) {
    std::string out = describe(d.verdict);
    if (const std::string_view by = decided_by_name(d.by); !by.empty()) {
        out += " decided=";
        out += by;
    }
    if (!d.payload.empty()) {
        out += new_bytes ? " payload=new" : " payload=replaced";
    }
    return out;
}

Verdict parse_verdict(const std::string& text) {
    Verdict v;
    if (text == "accept") {
        v.kind = VerdictKind::accept;
    } else if (text == "drop") {
        v.kind = VerdictKind::drop;
    } else if (text == "repeat") {
        v.kind = VerdictKind::repeat;
    } else if (text.rfind("queue:", 0) == 0) {
        v.kind = VerdictKind::queue;
        const std::uint32_t n = parse_u32(text.substr(6), "queue number");
        if (n > 65535) {
            throw std::invalid_argument("invalid verdict '" + text + "': queue number above 65535");
        }
        v.target_queue = static_cast<std::uint16_t>(n);
    } else {
        throw std::invalid_argument("invalid verdict '" + text +
                                    "': choose accept, drop, queue:N or repeat");
    }
    return v;
}

void parse_set_mark(const std::string& text, Verdict& v) {
    const std::size_t slash = text.find('/');
    v.mark = parse_u32(text.substr(0, slash), "mark");
    v.mark_mask =
        slash == std::string::npos ? 0xffffffff : parse_u32(text.substr(slash + 1), "mark mask");
}

} // namespace nfcap
