#include "options.hpp"

#include <gtest/gtest.h>

using nfcap::cli::Action;
using nfcap::cli::parse_options;
using nfcap::cli::UsageError;

namespace {

nfcap::cli::Options parse(std::vector<std::string> args) {
    args.insert(args.begin(), "nfcap");
    return parse_options(args);
}

std::string error_of(std::vector<std::string> args) {
    try {
        parse(std::move(args));
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST(Options, DefaultsForALiveCapture) {
    const auto o = parse({"-g", "123", "-w", "out.pcapng"});
    EXPECT_EQ(o.action, Action::capture);
    EXPECT_EQ(o.groups, std::vector<std::uint16_t>{123});
    EXPECT_EQ(o.write_file, "out.pcapng");
    EXPECT_EQ(o.link_type, nfcap::LinkType::linux_sll2);
    EXPECT_EQ(o.snaplen, 262144U);
    EXPECT_EQ(o.count, 0U);
    EXPECT_EQ(o.rcvbuf, 64U << 20U);
    EXPECT_EQ(o.nlbufsiz, 131072U);
    EXPECT_EQ(o.flush_timeout, 1U);
    EXPECT_TRUE(o.filter.empty());
    EXPECT_TRUE(o.loss_status); // exit status 4 when records were lost
}

TEST(Options, LossStatusAndQueueLength) {
    EXPECT_FALSE(parse({"-g", "1", "-w", "x", "--no-loss-status"}).loss_status);
    // Without --queue-maxlen the queue source picks a length above what its buffer holds.
    EXPECT_FALSE(parse({"-q", "1", "--auto-accept", "-w", "x"}).queue_maxlen.has_value());
    EXPECT_EQ(parse({"-q", "1", "--auto-accept", "--queue-maxlen", "64", "-w", "x"}).queue_maxlen,
              64U);
}

TEST(Options, GroupListsAndRanges) {
    EXPECT_EQ(parse({"-g", "1,5-7", "-w", "x"}).groups, (std::vector<std::uint16_t>{1, 5, 6, 7}));
    EXPECT_EQ(parse({"--group=0,65535", "-w", "x"}).groups, (std::vector<std::uint16_t>{0, 65535}));
}

TEST(Options, EveryFlagIsParsed) {
    const auto o = parse(
        {"-g",         "2",   "-w",        "-",  "--linktype",      "raw",      "-c",
         "10",         "-s",  "96",        "-f", "udp port 53",     "--rcvbuf", "8M",
         "--nlbufsiz", "64k", "--qthresh", "50", "--flush-timeout", "100",      "--conntrack"});
    EXPECT_EQ(o.write_file, "-");
    EXPECT_EQ(o.link_type, nfcap::LinkType::raw);
    EXPECT_EQ(o.count, 10U);
    EXPECT_EQ(o.snaplen, 96U);
    EXPECT_EQ(o.filter, "udp port 53");
    EXPECT_EQ(o.rcvbuf, 8U << 20U);
    EXPECT_EQ(o.nlbufsiz, 65536U);
    EXPECT_EQ(o.qthresh, 50U);
    EXPECT_EQ(o.flush_timeout, 100U);
    EXPECT_TRUE(o.conntrack);
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "--linktype", "nflog"}).link_type,
              nfcap::LinkType::nflog);
}

TEST(Options, TrailingWordsAreTheFilterAsInTcpdump) {
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "tcp", "port", "22"}).filter, "tcp port 22");
    EXPECT_EQ(parse({"-r", "in.pcap", "-w", "x", "ip6"}).filter, "ip6");
}

TEST(Options, WithoutWriteTheOutputIsTextOnStandardOutput) {
    const auto text = parse({"-g", "1"});
    EXPECT_EQ(text.format, nfcap::OutputFormat::text);
    EXPECT_EQ(text.write_file, "-");
    EXPECT_EQ(parse({"-g", "1", "--json"}).format, nfcap::OutputFormat::json);
    EXPECT_EQ(parse({"-g", "1", "--json-payload"}).format, nfcap::OutputFormat::json_payload);
    const auto json_file = parse({"-r", "x.pcap", "--json", "-w", "out.json"});
    EXPECT_EQ(json_file.format, nfcap::OutputFormat::json);
    EXPECT_EQ(json_file.write_file, "out.json");
    EXPECT_EQ(parse({"-g", "1", "-w", "x"}).format, nfcap::OutputFormat::pcapng);
}

TEST(Options, ReplayNeedsNoGroup) {
    const auto o = parse({"-r", "old.pcap", "-w", "new.pcapng"});
    EXPECT_EQ(o.read_file, "old.pcap");
    EXPECT_TRUE(o.groups.empty());
}

TEST(Options, HelpAndVersion) {
    EXPECT_EQ(parse({"--help"}).action, Action::help);
    EXPECT_EQ(parse({"-h"}).action, Action::help);
    EXPECT_EQ(parse({"--version"}).action, Action::version);
    EXPECT_NE(nfcap::cli::usage_text().find("--linktype"), std::string::npos);
}

struct BadLine {
    std::vector<std::string> args;
    std::string expected; // a piece of the one-line error
};

TEST(Options, BadCommandLinesGetOneClearLine) {
    const std::vector<BadLine> cases = {
        {{"-w", "x"}, "no source"},
        {{"-g", "1", "-w", ""}, "-w needs a file name"},
        {{"-g", "1", "--linktype", "raw"}, "--linktype applies to pcapng and pcap output"},
        {{"-g", "1", "-r", "f", "-w", "x"}, "exclude each other"},
        {{"-g", "", "-w", "x"}, "invalid group"},
        {{"-g", "70000", "-w", "x"}, "between 0 and 65535"},
        {{"-g", "7-3", "-w", "x"}, "below the start"},
        {{"-g", "1,1", "-w", "x"}, "listed twice"},
        {{"-g", "x", "-w", "x"}, "not a number"},
        {{"-g", "0-65535", "-w", "x"}, "too many"},
        {{"-g", "1", "-w", "x", "--linktype", "eth"}, "choose sll2, raw or nflog"},
        {{"-g", "1", "-w", "x", "-c", "0"}, "invalid count"},
        {{"-g", "1", "-w", "x", "-s", "0"}, "invalid snaplen"},
        {{"-g", "1", "-w", "x", "--nlbufsiz", "1M"}, "between 4096 and 131072"},
        {{"-g", "1", "-w", "x", "--flush-timeout", "0"}, "invalid flush-timeout"},
        {{"-g", "1", "-w", "x", "--rcvbuf", "12Q"}, "not a number"},
        {{"-r", "f", "-w", "x", "--rcvbuf", "1M"}, "live capture"},
        {{"-g", "1", "-w", "x", "-f", "tcp", "udp"}, "not both"},
        {{"-g", "1", "-w", "x", "--bogus"}, "bogus"},
        {{"-g"}, "group"},
    };
    for (const auto& c : cases) {
        const std::string error = error_of(c.args);
        EXPECT_NE(error.find(c.expected), std::string::npos)
            << "args: " << ::testing::PrintToString(c.args) << " error: " << error;
        EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
    }
}

TEST(Options, FileModeIsOctalPermissionBits) {
    EXPECT_EQ(parse({"-g", "1", "-w", "x"}).file_mode, 0600U); // the default
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "--file-mode", "0640"}).file_mode, 0640U);
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "--file-mode", "644"}).file_mode, 0644U);
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "--file-mode", "0"}).file_mode, 0U);
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "--file-mode", "0777"}).file_mode, 0777U);
    // --record-netlink alone is a file nfcap creates, too.
    EXPECT_EQ(parse({"-g", "1", "--record-netlink", "n", "--file-mode", "0600"}).file_mode, 0600U);
    EXPECT_EQ(parse({"-r", "in", "-w", "x", "--file-mode", "0400"}).file_mode, 0400U);
}

TEST(Options, UserAndNetworkNamespace) {
    const auto o = parse({"-q", "3", "--auto-accept", "-w", "x", "-Z", "nobody", "--netns", "lab"});
    EXPECT_EQ(o.user, "nobody");
    EXPECT_EQ(o.netns, "lab");
    EXPECT_EQ(parse({"-g", "1", "--user", "capture"}).user, "capture");
    EXPECT_EQ(parse({"-g", "1", "--netns", "/proc/1/ns/net"}).netns, "/proc/1/ns/net");
    EXPECT_EQ(parse({"-g", "1", "--netns", "./lab"}).netns, "./lab"); // a path
    // Replay may run as another user; it has no namespace to bind in.
    EXPECT_EQ(parse({"-r", "in", "-w", "x", "-Z", "nobody"}).user, "nobody");
    const auto plain = parse({"-g", "1"});
    EXPECT_TRUE(plain.user.empty());
    EXPECT_TRUE(plain.netns.empty());
}

TEST(Options, BadPrivilegeOptionsGetOneClearLine) {
    const std::vector<BadLine> cases = {
        {{"-g", "1", "-w", "x", "--file-mode", "8"}, "invalid --file-mode '8': give octal"},
        {{"-g", "1", "-w", "x", "--file-mode", "rw-r--r--"}, "give octal"},
        {{"-g", "1", "-w", "x", "--file-mode", ""}, "give octal"},
        {{"-g", "1", "-w", "x", "--file-mode", "-600"}, "give octal"},
        {{"-g", "1", "-w", "x", "--file-mode", "0o600"}, "give octal"},
        {{"-g", "1", "-w", "x", "--file-mode", "00640"}, "give octal"},
        {{"-g", "1", "-w", "x", "--file-mode", "1777"}, "at most 0777"},
        {{"-g", "1", "-w", "x", "--file-mode", "4755"}, "at most 0777"},
        {{"-g", "1", "--file-mode", "0640"}, "--file-mode applies to the files nfcap creates"},
        {{"-g", "1", "-w", "-", "--file-mode", "0640"}, "give -w FILE"},
        {{"-g", "1", "-w", "x", "-Z", ""}, "-Z needs a user name"},
        {{"-g", "1", "-w", "x", "-Z"}, "user"},
        {{"-r", "in", "-w", "x", "--netns", "lab"}, "--netns chooses where a live capture binds"},
        {{"-g", "1", "-w", "x", "--netns", ""}, "invalid --netns ''"},
        {{"-g", "1", "-w", "x", "--netns", ".."}, "invalid --netns '..'"},
    };
    for (const auto& c : cases) {
        const std::string error = error_of(c.args);
        EXPECT_NE(error.find(c.expected), std::string::npos)
            << "args: " << ::testing::PrintToString(c.args) << " error: " << error;
        EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
    }
}

TEST(Options, HelpNamesThePrivilegeOptions) {
    const std::string help = nfcap::cli::usage_text();
    for (const char* option : {"--file-mode", "-Z [ --user ] USER", "--netns"}) {
        EXPECT_NE(help.find(option), std::string::npos) << option;
    }
}

TEST(Options, CopyModes) {
    EXPECT_EQ(parse({"-g", "1", "-w", "x"}).copy_mode, nfcap::CopyMode::packet);
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "--copy-mode", "meta"}).copy_mode,
              nfcap::CopyMode::meta);
    EXPECT_EQ(parse({"-q", "1", "--auto-accept", "-w", "x", "--copy-mode=none"}).copy_mode,
              nfcap::CopyMode::none);
    EXPECT_EQ(parse({"-g", "1", "-w", "x", "--copy-mode", "packet"}).copy_mode,
              nfcap::CopyMode::packet);
    EXPECT_EQ(error_of({"-g", "1", "-w", "x", "--copy-mode", "headers"}),
              "invalid --copy-mode 'headers': choose packet, meta or none");
    EXPECT_EQ(error_of({"-r", "in.pcap", "-w", "x", "--copy-mode", "meta"}),
              "--copy-mode tunes live capture; it has no effect with -r");
}
