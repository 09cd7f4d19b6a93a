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

// "0640", "640": permission bits, at most 0777 (no set-id or sticky bits).
unsigned parse_file_mode(const std::string& text) {
    unsigned value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value, 8);
    if (text.empty() || text.size() > 4 || ec != std::errc{} || ptr != end) {
        throw UsageError("invalid --file-mode '" + text +
                         "': give octal permission bits, e.g. 0640");
    }
    if (value > 0777) {
        throw UsageError("invalid --file-mode '" + text +
                         "': at most 0777 (no set-id or sticky bits)");
    }
    return value;
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
    auto add = source.add_options();
    add("group,g", po::value<std::string>()->value_name("LIST"),
        "NFLOG groups to record: 5, 1,5-7 (0-65535); one interface block each");
    add("queue,q", po::value<std::string>()->value_name("LIST"),
        "NFQUEUE queues to tap: 5, 0-3,7; needs a verdict policy");
    add("interface,i", po::value<std::vector<std::string>>()->value_name("IF"),
        "nflog:LIST or nfqueue:LIST as tcpdump and dumpcap name them: the same as -g LIST or "
        "-q LIST (nflog or nfqueue alone: group or queue 0); repeatable");
    add("list-interfaces,D", "list what can be captured here, and the groups and queues already "
                             "bound (by which process), as dumpcap -D");
    add("read,r", po::value<std::string>()->value_name("FILE"),
        "replay a recording: NFLOG (tcpdump -i nflog, dumpcap) or netlink (--record-netlink), "
        "pcap or pcapng, - for stdin");

    po::options_description verdicts("NFQUEUE verdicts (one policy is required with -q)");
    add = verdicts.add_options();
    add("auto-accept", "accept every packet");
    add("verdict", po::value<std::string>()->value_name("V"),
        "accept, drop, queue:N (pass each packet on to queue N) or repeat (needs --set-mark)");
    add("set-mark", po::value<std::string>()->value_name("VALUE[/MASK]"),
        "set the packet mark with the verdict");
    add("no-fail-open", "drop packets when the queue is full (default: let them pass)");
    add("queue-maxlen", po::value<std::string>()->value_name("N"),
        "packets the kernel may hold waiting for a verdict; default: more than the socket buffer "
        "holds, so that every loss is counted");
    add("copy-range", po::value<std::string>()->value_name("N"),
        "bytes of each queued packet the kernel copies, default the snaplen (at most 65535)");
    add("gso", "receive GSO packets whole (up to 64 KiB) instead of segmented");
    add("secctx", "ask for each packet's security context");

    po::options_description output("Output");
    add = output.add_options();
    add("write,w", po::value<std::string>()->value_name("FILE"),
        "write pcapng to FILE; - is standard output (never a terminal); a FIFO works too. "
        "Without -w: one line per packet on standard output");
    add("format,F", po::value<std::string>()->value_name("FORMAT"),
        "file format of -w: pcapng (default: each packet's metadata in its comment, interfaces, "
        "statistics) or pcap (classic pcap, as libpcap-based engines read it: no metadata)");
    add("pcap,P", "the same as -F pcap, as dumpcap -P");
    add("linktype", po::value<std::string>()->value_name("TYPE"),
        "sll2 (default: every family, with interface and direction), raw (IP only), "
        "nflog (the kernel's TLVs verbatim)");
    add("count,c", po::value<std::string>()->value_name("N"), "stop after N packets written");
    add("ring-buffer,b", po::value<std::vector<std::string>>()->value_name("KEY:VALUE"),
        "ring buffer as dumpcap: filesize:kB (next file at this size), duration:S (next file "
        "after S seconds), files:N (keep the newest N); needs -w FILE");
    add("autostop,a", po::value<std::vector<std::string>>()->value_name("KEY:VALUE"),
        "stop after duration:S seconds, filesize:kB written, or packets:N");
    add("snaplen,s", po::value<std::string>()->value_name("N"),
        "bytes of each packet to keep (kernel copy range), default 262144");
    add("filter,f", po::value<std::string>()->value_name("EXPR"),
        "BPF capture filter (pcap-filter syntax) run in user space; filtered packets are counted");
    add("fifo-reconnect", "when the reader of the -w FIFO goes away, wait for the next reader and "
                          "give it a fresh stream (default: stop, as dumpcap does)");
    add("json", "without -w or with it: one JSON object per packet (every metadata key) instead of "
                "pcapng");
    add("json-payload", "like --json, with the payload as hex");
    add("json-sidecar", po::value<std::string>()->value_name("FILE"),
        "beside -w FILE (pcap or pcapng), one JSON object per packet written: its file and "
        "number there, and every metadata key as --json writes them, for log shippers; a -b "
        "ring rotates it with its files");
    add("record-netlink", po::value<std::string>()->value_name("FILE"),
        "also save the raw netlink messages (LINKTYPE_NETLINK pcapng) for exact offline replay");
    add("host-name", po::value<std::string>()->value_name("NAME"),
        "the host named in every interface block (if_description \"NFLOG group 7 on NAME\"), so "
        "that merged files say where each packet came from; default: this system's host name in "
        "a live capture, none in a replay; '' names none");
    add("file-mode", po::value<std::string>()->value_name("OCTAL"),
        "permission bits of the files nfcap creates, default 0600 (the umask does not apply)");

    po::options_description kernel("Kernel tuning (live capture)");
    add = kernel.add_options();
    add("rcvbuf", po::value<std::string>()->value_name("BYTES"),
        "socket receive buffer (SO_RCVBUFFORCE), default 64M");
    add("nlbufsiz", po::value<std::string>()->value_name("BYTES"),
        "NFLOG kernel batch buffer, 4096-131072, default 131072");
    add("qthresh", po::value<std::string>()->value_name("N"),
        "NFLOG records per kernel batch, default 100000");
    add("flush-timeout", po::value<std::string>()->value_name("CS"),
        "NFLOG kernel batch flush timeout in 1/100 s, default 1 (10 ms)");
    add("conntrack", "ask the kernel for conntrack state with each record");
    add("copy-mode", po::value<std::string>()->value_name("MODE"),
        "packet (default: the packet too, up to -s bytes), meta or none (metadata only: each "
        "record holds no packet bytes, marked copy=meta)");

    po::options_description general("General");
    add = general.add_options();
    po::options_description extcap("Wireshark extcap (Wireshark calls these; see README)");
    add = extcap.add_options();
    add("extcap-interfaces", "list the extcap interfaces");
    add("extcap-interface", po::value<std::string>()->value_name("IF"),
        "nfcap-nflog or nfcap-nfqueue");
    add("extcap-dlts", "list the link types of --extcap-interface");
    add("extcap-config", "list the configuration of --extcap-interface");
    add("extcap-capture-filter", po::value<std::string>()->value_name("EXPR"),
        "check a capture filter, or filter the capture");
    add("extcap-version", po::value<std::string>()->implicit_value("")->value_name("V"),
        "Wireshark's version");
    add("capture", "capture for Wireshark, into --fifo");
    add("fifo", po::value<std::string>()->value_name("PATH"), "the FIFO Wireshark reads");

    add = general.add_options();
    add("user,Z", po::value<std::string>()->value_name("USER"),
        "once the sockets are bound and the first file is open, run as USER (its uid, gid and "
        "groups) keeping only CAP_NET_ADMIN; files nfcap creates belong to USER");
    add("netns", po::value<std::string>()->value_name("NAME|PATH"),
        "capture in another network namespace: NAME as `ip netns` names it (/run/netns/NAME), or "
        "a path such as /proc/PID/ns/net");
    add("quiet", "no live status line on a terminal (the final summary is always printed)");
    add("no-loss-status", "exit with status 0 even when records were lost, as tcpdump does (the "
                          "loss is still reported); default: status 4");
    add("help,h", "print this help and exit");
    add("version", "print the version and exit");

    po::options_description all;
    all.add(source).add(verdicts).add(output).add(kernel).add(general).add(extcap);
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
        if (dash == 0 || (dash != std::string::npos && dash + 1 == part.size())) {
            throw UsageError(std::string("invalid ") + what + " '" + part +
                             "': give a number or a range N-M of numbers from 0 to 65535");
        }
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
    out << "Usage: nfcap -g GROUPS [-w FILE] [options] [filter expression]\n"
           "       nfcap -q QUEUES --auto-accept|--verdict V [-w FILE] [options] [filter]\n"
           "       nfcap -r RECORDING [-w FILE] [options] [filter expression]\n\n"
           "Records Linux netfilter NFLOG and NFQUEUE traffic as pcapng, with the firewall's "
           "metadata (log\n"
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

// "filesize:1000,files:5" or repeated -b flags -> key/value pairs, each key known and once.
std::vector<std::pair<std::string, std::uint64_t>>
key_values(const std::vector<std::string>& args, const char* flag,
           std::initializer_list<const char*> keys) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto& arg : args) {
        std::size_t start = 0;
        while (start <= arg.size()) {
            const std::size_t comma = std::min(arg.find(',', start), arg.size());
            const std::string item = arg.substr(start, comma - start);
            const std::size_t colon = item.find(':');
            const std::string key = item.substr(0, colon);
            bool known = false;
            for (const char* k : keys) {
                known = known || key == k;
            }
            if (colon == std::string::npos || !known) {
                std::string choices;
                for (const char* k : keys) {
                    choices += (choices.empty() ? "" : ", ") + std::string(k) + ":N";
                }
                throw UsageError(std::string("invalid ") + flag + " '" + item + "': use " +
                                 choices);
            }
            for (const auto& [seen, value] : out) {
                if (seen == key) {
                    throw UsageError(std::string(flag) + " " + key + " given twice");
                }
            }
            out.emplace_back(key, parse_unsigned<std::uint64_t>(
                                      item.substr(colon + 1),
                                      (std::string(flag) + " " + key).c_str(), 1, 1ULL << 40U));
            start = comma + 1;
        }
    }
    return out;
}

void parse_ring_and_autostop(const po::variables_map& vm, Options& o, bool live) {
    if (vm.count("ring-buffer") != 0) {
        for (const auto& [key, value] : key_values(vm["ring-buffer"].as<std::vector<std::string>>(),
                                                   "-b", {"filesize", "duration", "files"})) {
            if (key == "filesize") {
                o.ring_filesize_kb = value;
            } else if (key == "duration") {
                o.ring_duration_s = value;
            } else {
                o.ring_files = static_cast<unsigned>(std::min<std::uint64_t>(value, 100000));
            }
        }
        if (o.ring_filesize_kb == 0 && o.ring_duration_s == 0) {
            throw UsageError(
                "-b needs filesize:kB or duration:S to know when to start the next file");
        }
        if (o.write_file == "-" || !binary_format(o.format)) {
            throw UsageError("-b writes a ring of pcapng (or pcap) files; give -w FILE");
        }
        if (!live && o.ring_duration_s != 0) {
            throw UsageError(
                "-b duration: rotates by the clock during live capture; with -r use filesize:");
        }
    }
    if (vm.count("autostop") != 0) {
        for (const auto& [key, value] : key_values(vm["autostop"].as<std::vector<std::string>>(),
                                                   "-a", {"duration", "filesize", "packets"})) {
            if (key == "duration") {
                if (!live) {
                    throw UsageError(
                        "-a duration: stops live capture; with -r the file's end stops it");
                }
                o.stop_duration_s = value;
            } else if (key == "filesize") {
                o.stop_filesize_kb = value;
            } else {
                o.count = o.count == 0 ? value : std::min(o.count, value);
            }
        }
    }
}

// Wireshark's questions are answered without a capture; a capture it starts becomes an
// ordinary one writing pcapng into its FIFO. Returns true when `o` is complete.
bool parse_extcap(const po::variables_map& vm, Options& o) {
    if (vm.count("extcap-interface") != 0) {
        o.extcap_interface = vm["extcap-interface"].as<std::string>();
        if (o.extcap_interface != "nfcap-nflog" && o.extcap_interface != "nfcap-nfqueue") {
            throw UsageError("unknown extcap interface '" + o.extcap_interface +
                             "': nfcap-nflog or nfcap-nfqueue");
        }
    }
    if (vm.count("extcap-interfaces") != 0) {
        o.action = Action::extcap;
        o.extcap = ExtcapQuery::interfaces;
        return true;
    }
    const bool has_interface = !o.extcap_interface.empty();
    const auto need_interface = [&](const char* what) {
        if (!has_interface) {
            throw UsageError(std::string("--") + what +
                             " needs --extcap-interface nfcap-nflog|nfcap-nfqueue");
        }
    };
    if (vm.count("capture") == 0) {
        ExtcapQuery query = ExtcapQuery::none;
        if (vm.count("extcap-dlts") != 0) {
            need_interface("extcap-dlts");
            query = ExtcapQuery::dlts;
        } else if (vm.count("extcap-config") != 0) {
            need_interface("extcap-config");
            query = ExtcapQuery::config;
        } else if (vm.count("extcap-capture-filter") != 0) {
            need_interface("extcap-capture-filter");
            query = ExtcapQuery::filter_check;
            o.filter = vm["extcap-capture-filter"].as<std::string>();
        }
        if (query != ExtcapQuery::none) {
            o.action = Action::extcap;
            o.extcap = query;
            return true;
        }
        return false;
    }
    need_interface("capture");
    if (vm.count("fifo") == 0) {
        throw UsageError("--capture needs --fifo PATH");
    }
    return false; // the rest is an ordinary capture; see parse_options
}

void parse_verdict_options(const po::variables_map& vm, Options& o) {
    const auto text = [&](const char* name) { return vm[name].as<std::string>(); };
    const char* queue_only[] = {"auto-accept",  "verdict",    "set-mark", "no-fail-open",
                                "queue-maxlen", "copy-range", "gso",      "secctx"};
    if (o.queues.empty()) {
        for (const char* name : queue_only) {
            if (vm.count(name) != 0) {
                throw UsageError(std::string("--") + name +
                                 " applies to NFQUEUE queues; give them with -q");
            }
        }
        return;
    }
    try {
        if (vm.count("verdict") != 0) {
            o.verdict = parse_verdict(text("verdict"));
            if (vm.count("auto-accept") != 0 && o.verdict->kind != VerdictKind::accept) {
                throw UsageError("--auto-accept and --verdict " + text("verdict") +
                                 " contradict each other");
            }
        } else if (vm.count("auto-accept") != 0) {
            o.verdict = Verdict{};
        } else {
            throw UsageError(
                "-q needs an explicit verdict policy: --auto-accept (accept every packet), "
                "--verdict drop, --verdict queue:N (pass each packet on to queue N) or "
                "--verdict repeat with --set-mark; --set-mark VALUE[/MASK] also marks accepted "
                "packets");
        }
        if (vm.count("set-mark") != 0) {
            parse_set_mark(text("set-mark"), *o.verdict);
        }
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (o.verdict->kind == VerdictKind::drop && o.verdict->mark) {
        throw UsageError("--set-mark has no effect on dropped packets");
    }
    if (o.verdict->kind == VerdictKind::repeat && !o.verdict->mark) {
        throw UsageError("--verdict repeat needs --set-mark, and a rule that skips marked packets, "
                         "or each packet comes straight back to the queue");
    }
    if (o.verdict->kind == VerdictKind::queue) {
        for (const std::uint16_t q : o.queues) {
            if (q == o.verdict->target_queue) {
                throw UsageError("--verdict queue:" + std::to_string(q) +
                                 " would hand packets back to a queue nfcap itself reads");
            }
        }
    }
    o.fail_open = vm.count("no-fail-open") == 0;
    if (vm.count("queue-maxlen") != 0) {
        o.queue_maxlen =
            parse_unsigned<std::uint32_t>(text("queue-maxlen"), "queue-maxlen", 1, 1U << 24U);
    }
    if (vm.count("copy-range") != 0) {
        o.copy_range = parse_unsigned<std::uint32_t>(text("copy-range"), "copy-range", 0, 65535);
    }
    o.gso = vm.count("gso") != 0;
    o.secctx = vm.count("secctx") != 0;
}

void parse_privileges(const po::variables_map& vm, Options& o, bool live) {
    const auto text = [&](const char* name) { return vm[name].as<std::string>(); };
    if (vm.count("file-mode") != 0) {
        o.file_mode = parse_file_mode(text("file-mode"));
        if (o.write_file == "-" && o.record_netlink.empty()) {
            throw UsageError(
                "--file-mode applies to the files nfcap creates; give -w FILE or --record-netlink");
        }
    }
    if (vm.count("user") != 0) {
        o.user = text("user");
        if (o.user.empty()) {
            throw UsageError("-Z needs a user name");
        }
    }
    if (vm.count("netns") != 0) {
        if (!live) {
            throw UsageError(
                "--netns chooses where a live capture binds; it has no effect with -r");
        }
        o.netns = text("netns");
        if (o.netns.find('/') == std::string::npos &&
            (o.netns.empty() || o.netns == "." || o.netns == "..")) {
            throw UsageError("invalid --netns '" + o.netns +
                             "': give a name from `ip netns list` or a path such as "
                             "/proc/PID/ns/net");
        }
    }
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
    if (parse_extcap(vm, o)) {
        return o;
    }
    const auto text = [&](const char* name) { return vm[name].as<std::string>(); };
    if (vm.count("list-interfaces") != 0) {
        o.action = Action::list;
        if (vm.count("netns") != 0) {
            o.netns = text("netns");
        }
        return o;
    }
    // -i nflog:N and -i nfqueue:N, as tcpdump and dumpcap users type them, join -g and -q.
    std::optional<std::string> group_list;
    std::optional<std::string> queue_list;
    if (vm.count("group") != 0) {
        group_list = text("group");
    }
    if (vm.count("queue") != 0) {
        queue_list = text("queue");
    }
    if (vm.count("interface") != 0) {
        for (const std::string& name : vm["interface"].as<std::vector<std::string>>()) {
            const auto join = [](std::optional<std::string>& list, const std::string& more) {
                list = list ? *list + "," + more : more;
            };
            if (name == "nflog" || name == "nfqueue") { // libpcap's: group or queue 0
                join(name == "nflog" ? group_list : queue_list, "0");
            } else if (name.rfind("nflog:", 0) == 0) {
                join(group_list, name.substr(6));
            } else if (name.rfind("nfqueue:", 0) == 0) {
                join(queue_list, name.substr(8));
            } else {
                throw UsageError("invalid -i '" + name +
                                 "': nfcap captures nflog:N and nfqueue:N (nfcap -D lists "
                                 "them); network interfaces are tcpdump's and dumpcap's");
            }
        }
    }
    if (group_list) {
        o.groups = parse_number_list(*group_list, "group");
    }
    if (vm.count("read") != 0) {
        o.read_file = text("read");
        if (o.read_file.empty()) {
            throw UsageError("-r needs a file name");
        }
    }
    if (queue_list) {
        o.queues = parse_number_list(*queue_list, "queue");
    }
    const bool live = !o.groups.empty() || !o.queues.empty();
    if (!live && o.read_file.empty()) {
        throw UsageError("no source: give NFLOG groups with -g (e.g. -g 123), NFQUEUE queues with "
                         "-q, or a recording with -r");
    }
    if (live && !o.read_file.empty()) {
        throw UsageError("-g/-q and -r exclude each other: record live or replay a file, not both");
    }
    parse_verdict_options(vm, o);
    const bool extcap_capture = vm.count("capture") != 0;
    if (extcap_capture) {
        o.quiet = true;
        // Wireshark shows an extcap's non-zero exit as an error dialog; the loss is in the
        // file's statistics blocks, which Wireshark shows as dropped packets.
        o.loss_status = false;
        if (vm.count("extcap-capture-filter") != 0) {
            o.filter = vm["extcap-capture-filter"].as<std::string>();
        }
        const bool nflog = o.extcap_interface == "nfcap-nflog";
        if (nflog == o.groups.empty() || nflog != o.queues.empty()) {
            throw UsageError("extcap interface " + o.extcap_interface + " needs " +
                             (nflog ? "--group" : "--queue") + " and no other source");
        }
        if (!nflog && !o.verdict) {
            o.verdict = Verdict{}; // the dialog's default: accept
        }
    }
    if (vm.count("json-payload") != 0) {
        o.format = OutputFormat::json_payload;
    } else if (vm.count("json") != 0) {
        o.format = OutputFormat::json;
    } else if (vm.count("write") == 0 && !extcap_capture) {
        o.format = OutputFormat::text; // like tcpdump: no -w, one line per packet
    }
    if (extcap_capture) {
        o.write_file = vm["fifo"].as<std::string>();
    } else if (vm.count("write") != 0) {
        o.write_file = text("write");
        if (o.write_file.empty()) {
            throw UsageError("-w needs a file name, or - for standard output");
        }
    } else {
        o.write_file = "-";
    }
    if (vm.count("format") != 0 || vm.count("pcap") != 0) {
        const std::string format = vm.count("format") != 0 ? text("format") : "pcap";
        if (format != "pcap" && format != "pcapng") {
            throw UsageError("invalid -F '" + format + "': choose pcapng or pcap");
        }
        if (vm.count("pcap") != 0 && format != "pcap") {
            throw UsageError("-P and -F " + format + " contradict each other");
        }
        if (o.format != OutputFormat::pcapng || extcap_capture) {
            throw UsageError("-F and -P choose the format of -w FILE; text, JSON and Wireshark's "
                             "capture are what they are");
        }
        o.format = format == "pcap" ? OutputFormat::pcap : OutputFormat::pcapng;
    }
    if (!binary_format(o.format) && vm.count("linktype") != 0) {
        throw UsageError(
            "--linktype applies to pcapng and pcap output; text and JSON show the packet itself");
    }
    if (vm.count("linktype") != 0) {
        o.link_type = parse_link_type(text("linktype"));
    }
    parse_ring_and_autostop(vm, o, live);
    if (vm.count("count") != 0) {
        const auto count = parse_unsigned<std::uint64_t>(text("count"), "count", 1,
                                                         std::numeric_limits<std::uint64_t>::max());
        o.count = o.count == 0 ? count : std::min(o.count, count);
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
    const auto nflog_option = [&](const char* name) {
        if (vm.count(name) != 0 && o.groups.empty()) {
            throw UsageError(std::string("--") + name + " tunes NFLOG groups; give them with -g");
        }
        return vm.count(name) != 0;
    };
    const auto kernel_option = [&](const char* name) {
        if (vm.count(name) != 0 && !live) {
            throw UsageError(std::string("--") + name +
                             " tunes live capture; it has no effect with -r");
        }
        return vm.count(name) != 0;
    };
    if (kernel_option("copy-mode")) {
        const std::string mode = text("copy-mode");
        if (mode == "packet") {
            o.copy_mode = CopyMode::packet;
        } else if (mode == "meta") {
            o.copy_mode = CopyMode::meta;
        } else if (mode == "none") {
            o.copy_mode = CopyMode::none;
        } else {
            throw UsageError("invalid --copy-mode '" + mode + "': choose packet, meta or none");
        }
    }
    if (kernel_option("rcvbuf")) {
        o.rcvbuf = parse_unsigned<std::uint32_t>(text("rcvbuf"), "rcvbuf", 4096, 1U << 30U);
    }
    if (nflog_option("nlbufsiz")) {
        o.nlbufsiz = parse_unsigned<std::uint32_t>(text("nlbufsiz"), "nlbufsiz", 4096, 131072);
    }
    if (nflog_option("qthresh")) {
        o.qthresh = parse_unsigned<std::uint32_t>(text("qthresh"), "qthresh", 1, 1000000);
    }
    if (nflog_option("flush-timeout")) {
        o.flush_timeout =
            parse_unsigned<std::uint32_t>(text("flush-timeout"), "flush-timeout", 1, 6000);
    }
    if (vm.count("conntrack") != 0) {
        (void)kernel_option("conntrack");
        o.conntrack = true;
    }
    o.quiet = o.quiet || vm.count("quiet") != 0;
    o.loss_status = o.loss_status && vm.count("no-loss-status") == 0;
    o.fifo_reconnect = vm.count("fifo-reconnect") != 0;
    if (o.fifo_reconnect && (o.write_file == "-" || !live)) {
        throw UsageError("--fifo-reconnect needs a live capture written to a FIFO (-w PATH)");
    }
    if (vm.count("record-netlink") != 0) {
        if (!live) {
            throw UsageError("--record-netlink records a live session; it has no effect with -r");
        }
        o.record_netlink = text("record-netlink");
        if (o.record_netlink.empty() || o.record_netlink == o.write_file) {
            throw UsageError("--record-netlink needs a file of its own");
        }
    }
    if (vm.count("json-sidecar") != 0) {
        o.json_sidecar = text("json-sidecar");
        if (!binary_format(o.format) || o.write_file == "-" || extcap_capture) {
            throw UsageError("--json-sidecar goes beside a pcap or pcapng file: give -w FILE");
        }
        if (o.json_sidecar.empty() || o.json_sidecar == o.write_file ||
            o.json_sidecar == o.record_netlink) {
            throw UsageError("--json-sidecar needs a file of its own");
        }
    }
    if (vm.count("host-name") != 0) {
        const std::string name = text("host-name");
        if (o.format != OutputFormat::pcapng) {
            throw UsageError("--host-name names the host in pcapng's interface blocks; pcap, "
                             "text and JSON output have none");
        }
        if (!name.empty() && !valid_host_name(name)) {
            throw UsageError("invalid --host-name '" + name +
                             "': 1 to 64 letters, digits, '.', '-' and '_'");
        }
        o.host_name = name;
    }
    parse_privileges(vm, o, live);
    return o;
}

} // namespace nfcap::cli
