#include "options.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>
#include <sstream>

namespace po = boost::program_options;

namespace nfcap::cli {
namespace {

constexpr std::size_t max_sources = 256;

template <typename T> T parse_unsigned(const std::string& text, const char* what, T min, T max) {
    unsigned long long value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    unsigned long long scale = 1;
    if (ec == std::errc{} && ptr != end && ptr + 1 == end) {
        switch (*ptr) { // size suffixes, binary as in dumpcap's -B
        case 'k':
        case 'K':
            scale = 1ULL << 10U;
            break;
        case 'm':
        case 'M':
            scale = 1ULL << 20U;
            break;
        case 'g':
        case 'G':
            scale = 1ULL << 30U;
            break;
        default:
            scale = 0;
        }
        ptr = scale != 0 ? end : ptr;
    }
    if (text.empty() || ec != std::errc{} || ptr != end || scale == 0) {
        throw UsageError(std::string("invalid ") + what + " '" + text + "': not a number");
    }
    if (value > std::numeric_limits<unsigned long long>::max() / scale || value * scale < min ||
        value * scale > max) {
        throw UsageError(std::string("invalid ") + what + " '" + text + "': must be between " +
                         std::to_string(min) + " and " + std::to_string(max));
    }
    return static_cast<T>(value * scale);
}

LinkType parse_link_type(const std::string& text) {
    if (text == "sll2") {
        return LinkType::linux_sll2;
    }
    if (text == "raw") {
        return LinkType::raw;
    }
    if (text == "nflog") {
        return LinkType::nflog;
    }
    throw UsageError("invalid --linktype '" + text + "': choose sll2, raw or nflog");
}

po::options_description describe() {
    po::options_description source("Source");
    source.add_options()("group,g", po::value<std::string>()->value_name("LIST"),
                         "NFLOG groups to record: 5, 1,5-7 (0-65535); one interface block each")(
        "read,r", po::value<std::string>()->value_name("FILE"),
        "replay an NFLOG recording made by tcpdump -i nflog or dumpcap (pcap or pcapng, - for "
        "stdin)");
    po::options_description output("Output");
    output.add_options()(
        "write,w", po::value<std::string>()->value_name("FILE"),
        "write pcapng to FILE; - is standard output (never a terminal); a FIFO works too")(
        "linktype", po::value<std::string>()->value_name("TYPE"),
        "sll2 (default: every family, with interface and direction), raw (IP only), "
        "nflog (the kernel's TLVs verbatim)")("count,c", po::value<std::string>()->value_name("N"),
                                              "stop after N packets written")(
        "snaplen,s", po::value<std::string>()->value_name("N"),
        "bytes of each packet to keep (kernel copy range), default 262144")(
        "filter,f", po::value<std::string>()->value_name("EXPR"),
        "BPF capture filter (pcap-filter syntax) run in user space; filtered packets are counted");
    po::options_description kernel("Kernel tuning (live capture)");
    kernel.add_options()("rcvbuf", po::value<std::string>()->value_name("BYTES"),
                         "socket receive buffer (SO_RCVBUFFORCE), default 64M")(
        "nlbufsiz", po::value<std::string>()->value_name("BYTES"),
        "kernel batch buffer, 4096-131072, default 131072")(
        "qthresh", po::value<std::string>()->value_name("N"),
        "records per kernel batch, default 100000")(
        "flush-timeout", po::value<std::string>()->value_name("CS"),
        "kernel batch flush timeout in 1/100 s, default 1 (10 ms)")(
        "conntrack", "ask the kernel for conntrack state with each record");
    po::options_description general("General");
    general.add_options()("help,h", "print this help and exit")("version",
                                                                "print the version and exit");
    po::options_description all;
    all.add(source).add(output).add(kernel).add(general);
    return all;
}

} // namespace

std::vector<std::uint16_t> parse_number_list(const std::string& text, const char* what) {
    std::set<std::uint16_t> seen;
    std::vector<std::uint16_t> numbers;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string part = text.substr(start, comma - start);
        const std::size_t dash = part.find('-');
        const auto first = parse_unsigned<std::uint32_t>(part.substr(0, dash), what, 0, 65535);
        const auto last =
            dash == std::string::npos
                ? first
                : parse_unsigned<std::uint32_t>(part.substr(dash + 1), what, 0, 65535);
        if (last < first) {
            throw UsageError(std::string("invalid ") + what + " range '" + part +
                             "': the end is below the start");
        }
        for (std::uint32_t n = first; n <= last; ++n) {
            if (!seen.insert(static_cast<std::uint16_t>(n)).second) {
                throw UsageError(std::string(what) + " " + std::to_string(n) + " is listed twice");
            }
            numbers.push_back(static_cast<std::uint16_t>(n));
            if (numbers.size() > max_sources) {
                throw UsageError(std::string("too many ") + what + "s in '" + text + "' (at most " +
                                 std::to_string(max_sources) + ")");
            }
        }
        start = comma + 1;
    }
    return numbers;
}

std::string usage_text() {
    std::ostringstream out;
    out << "Usage: nfcap -g GROUPS -w FILE [options] [filter expression]\n"
           "       nfcap -r RECORDING -w FILE [options] [filter expression]\n\n"
           "Records Linux netfilter NFLOG traffic as pcapng, with the firewall's metadata (log\n"
           "prefix, interfaces, uid/gid, mark, hook, hardware address, sequence numbers) in each\n"
           "packet's comment. Examples:\n"
           "  nfcap -g 123 -w out.pcapng\n"
           "  nfcap -g 123 -w - | wireshark -k -i -\n"
           "  nfcap -r old-nflog.pcap -w annotated.pcapng\n"
        << describe()
        << "\nExit status: 0 success, 1 error, 2 bad command line, 3 finished but some records\n"
           "were malformed and skipped.\n";
    return out.str();
}

Options parse_options(const std::vector<std::string>& argv) {
    po::options_description all = describe();
    all.add_options()("expression", po::value<std::vector<std::string>>(), "");
    po::positional_options_description positional;
    positional.add("expression", -1);
    po::variables_map vm;
    try {
        std::vector<std::string> args(argv.begin() + (argv.empty() ? 0 : 1), argv.end());
        po::store(po::command_line_parser(args)
                      .options(all)
                      .positional(positional)
                      .style(po::command_line_style::unix_style)
                      .run(),
                  vm);
    } catch (const po::error& e) {
        throw UsageError(e.what());
    }
    Options o;
    if (vm.count("help") != 0) {
        o.action = Action::help;
        return o;
    }
    if (vm.count("version") != 0) {
        o.action = Action::version;
        return o;
    }
    const auto text = [&](const char* name) { return vm[name].as<std::string>(); };
    if (vm.count("group") != 0) {
        o.groups = parse_number_list(text("group"), "group");
    }
    if (vm.count("read") != 0) {
        o.read_file = text("read");
        if (o.read_file.empty()) {
            throw UsageError("-r needs a file name");
        }
    }
    if (o.groups.empty() && o.read_file.empty()) {
        throw UsageError(
            "no source: give NFLOG groups with -g (e.g. -g 123) or a recording with -r");
    }
    if (!o.groups.empty() && !o.read_file.empty()) {
        throw UsageError("-g and -r exclude each other: record live or replay a file, not both");
    }
    if (vm.count("write") == 0 || text("write").empty()) {
        throw UsageError("no output: give -w FILE, or -w - for standard output");
    }
    o.write_file = text("write");
    if (vm.count("linktype") != 0) {
        o.link_type = parse_link_type(text("linktype"));
    }
    if (vm.count("count") != 0) {
        o.count = parse_unsigned<std::uint64_t>(text("count"), "count", 1,
                                                std::numeric_limits<std::uint64_t>::max());
    }
    if (vm.count("snaplen") != 0) {
        o.snaplen = parse_unsigned<std::uint32_t>(text("snaplen"), "snaplen", 1, 262144);
    }
    if (vm.count("filter") != 0) {
        o.filter = text("filter");
    }
    if (vm.count("expression") != 0) {
        if (!o.filter.empty()) {
            throw UsageError("give the filter either with -f or as trailing words, not both");
        }
        std::string joined;
        for (const auto& word : vm["expression"].as<std::vector<std::string>>()) {
            joined += (joined.empty() ? "" : " ") + word;
        }
        o.filter = joined;
    }
    const bool live = !o.groups.empty();
    const auto kernel_option = [&](const char* name) {
        if (vm.count(name) != 0 && !live) {
            throw UsageError(std::string("--") + name +
                             " tunes live capture; it has no effect with -r");
        }
        return vm.count(name) != 0;
    };
    if (kernel_option("rcvbuf")) {
        o.rcvbuf = parse_unsigned<std::uint32_t>(text("rcvbuf"), "rcvbuf", 4096, 1U << 30U);
    }
    if (kernel_option("nlbufsiz")) {
        o.nlbufsiz = parse_unsigned<std::uint32_t>(text("nlbufsiz"), "nlbufsiz", 4096, 131072);
    }
    if (kernel_option("qthresh")) {
        o.qthresh = parse_unsigned<std::uint32_t>(text("qthresh"), "qthresh", 1, 1000000);
    }
    if (kernel_option("flush-timeout")) {
        o.flush_timeout =
            parse_unsigned<std::uint32_t>(text("flush-timeout"), "flush-timeout", 1, 6000);
    }
    if (vm.count("conntrack") != 0) {
        (void)kernel_option("conntrack");
        o.conntrack = true;
    }
    return o;
}

} // namespace nfcap::cli
