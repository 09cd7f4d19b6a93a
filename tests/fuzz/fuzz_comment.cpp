// libFuzzer target: the comment grammar. The first input byte is a separator; the rest is
//   1. parsed as a comment: parse_comment may refuse it only with DecodeError, and what it
//      accepts, written again with append_value, parses to the same pairs;
//   2. split at the separator into values (at most 8), each escaped with append_value into
//      `nflog:1 prefix=<value> seq=1` and all of them together into one comment: parse_comment
//      must give every value back byte for byte, and the escaped form must be one token of
//      valid UTF-8 without control bytes.
#include "output_checks.hpp"

#include <nfcap/comment.hpp>
#include <nfcap/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using nfcap::fuzz::Pairs;
using nfcap::fuzz::require;

constexpr std::size_t max_values = 8;

Pairs parse_or_fail(const std::string& comment) {
    try {
        return nfcap::parse_comment(comment);
    } catch (const nfcap::DecodeError& e) {
        nfcap::fuzz::fail(std::string("parse_comment refused an escaped comment: ") + e.what() +
                          ": " + comment);
    }
}

std::string escaped(std::string_view value) {
    std::string out;
    nfcap::append_value(out, value);
    require(nfcap::fuzz::valid_utf8(out), "append_value wrote invalid UTF-8");
    for (const char c : out) {
        const auto b = static_cast<unsigned char>(c);
        require(b >= 0x20 && b != 0x7f, "append_value wrote a control byte");
    }
    const bool quoted = out.size() >= 2 && out.front() == '"' && out.back() == '"';
    if (!quoted) {
        require(out == value && out.find_first_of(" \"\\") == std::string::npos,
                "an unquoted value is not the value itself, or holds a space, quote or backslash");
    }
    return out;
}

void check_parse_arbitrary(std::string_view text) {
    Pairs pairs;
    try {
        pairs = nfcap::parse_comment(text);
    } catch (const nfcap::DecodeError&) {
        return;
    }
    require(!pairs.empty() && pairs.front().first == "source", "parsed comment without a source");
    std::string again = pairs.front().second;
    for (std::size_t i = 1; i < pairs.size(); ++i) {
        again += ' ';
        again += pairs[i].first;
        again += '=';
        nfcap::append_value(again, pairs[i].second);
    }
    require(parse_or_fail(again) == pairs, "a parsed comment written again parses differently");
}

void check_values(const std::vector<std::string_view>& values) {
    std::string all = "nflog:1";
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::string value_text = escaped(values[i]);
        const Pairs one = parse_or_fail("nflog:1 prefix=" + value_text + " seq=1");
        require(one.size() == 3 && one[1].first == "prefix" && one[1].second == values[i] &&
                    one[2].first == "seq" && one[2].second == "1",
                "an escaped value does not come back byte for byte");
        all += " v" + std::to_string(i) + "=" + value_text;
    }
    all += " ts=file";
    const Pairs together = parse_or_fail(all);
    require(together.size() == values.size() + 2, "values written together parse to other keys");
    for (std::size_t i = 0; i < values.size(); ++i) {
        require(together[i + 1].second == values[i], "values written together do not come back");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const char separator = static_cast<char>(data[0]);
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    check_parse_arbitrary(rest);

    std::vector<std::string_view> values;
    std::size_t start = 0;
    while (values.size() + 1 < max_values) {
        const std::size_t end = rest.find(separator, start);
        if (end == std::string_view::npos) {
            break;
        }
        values.push_back(rest.substr(start, end - start));
        start = end + 1;
    }
    values.push_back(rest.substr(start));
    check_values(values);
    return 0;
}
