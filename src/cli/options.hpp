#pragma once
// Command-line parsing as a function of argv: no I/O, no exit, testable with argv vectors.

#include <nfcap/pcapng.hpp>
#include <nfcap/recorder.hpp>
#include <nfcap/verdict.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nfcap::cli {

// A bad flag, value or combination: main prints the message on one line and exits 2.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class Action { capture, help, version, extcap, list };

// Wireshark's extcap protocol: which question Wireshark asks (Action::extcap), or a capture it
// started (Action::capture with `fifo` set).
enum class ExtcapQuery { none, interfaces, dlts, config, filter_check };

struct Options {
    Action action = Action::capture;
    std::vector<std::uint16_t> groups; // -g
    std::vector<std::uint16_t> queues; // -q
    std::optional<Verdict> verdict;    // required with -q
    bool fail_open = true;
    std::optional<std::uint32_t> queue_maxlen; // default: countable_queue_length (loss.hpp)
    std::optional<std::uint32_t> copy_range;   // queues; default: the snaplen
    CopyMode copy_mode = CopyMode::packet;     // --copy-mode
    bool gso = false;
    bool secctx = false;
    std::string record_netlink; // --record-netlink FILE
    // -b ring buffer (dumpcap's meaning): next file at a size (kB) or age (s), keep N files.
    std::uint64_t ring_filesize_kb = 0, ring_duration_s = 0;
    unsigned ring_files = 0;
    // -a autostop: after a duration (s), a written size (kB) or a number of packets.
    std::uint64_t stop_duration_s = 0, stop_filesize_kb = 0;
    std::string read_file;  // -r
    std::string write_file; // -w ("-" when absent: text on standard output)
    OutputFormat format = OutputFormat::pcapng;
    LinkType link_type = LinkType::linux_sll2;
    std::uint64_t count = 0;        // -c, 0: unlimited
    std::uint32_t snaplen = 262144; // -s
    std::string filter;             // -f or trailing words
    std::uint32_t rcvbuf = 64U << 20U;
    std::uint32_t nlbufsiz = 131072;
    std::uint32_t qthresh = 100000;
    std::uint32_t flush_timeout = 1; // 1/100 s
    bool conntrack = false;
    bool quiet = false;          // no live status line on a terminal
    bool loss_status = true;     // exit status 4 when records were lost (--no-loss-status: 0)
    bool fifo_reconnect = false; // a FIFO's reader went away: wait for the next one
    unsigned file_mode = 0600;   // --file-mode: permission bits of the files nfcap creates
    std::string user;            // -Z: run as this user once sockets and files are open
    std::string netns;           // --netns: capture in this network namespace (name or path)
    std::optional<std::string> host_name; // --host-name ("": none); default: see recorder_options
    std::string json_sidecar;             // --json-sidecar FILE
    ExtcapQuery extcap = ExtcapQuery::none;
    std::string extcap_interface; // "nflog" or "nfqueue"
};

// Parses argv (argv[0] is the program name). Throws UsageError.
Options parse_options(const std::vector<std::string>& argv);

// "1,5-7" -> {1, 5, 6, 7}. Throws UsageError naming the bad part.
std::vector<std::uint16_t> parse_number_list(const std::string& text, const char* what);

std::string usage_text();

} // namespace nfcap::cli
