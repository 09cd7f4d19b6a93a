#include <arpa/inet.h> // before the linux/ headers, which clash with it otherwise

#include <nfcap/queue_source.hpp>
#include <nfcap/verdict.hpp>

#include "options.hpp"
#include "verdict_message.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <gtest/gtest.h>

using nfcap::Verdict;
using nfcap::VerdictKind;

namespace {

struct Parsed {
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    std::uint32_t seq = 0;
    std::uint8_t family = 0xff;
    std::uint16_t queue = 0;
    std::uint32_t verdict = 0;
    std::uint32_t id = 0;
    std::optional<std::uint32_t> mark;
    std::optional<std::vector<std::byte>> payload;
    std::size_t length = 0;
};

// Reads a verdict message back with libmnl, independently of how it was built.
Parsed parse(const std::vector<std::byte>& bytes, std::size_t offset = 0) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data() + offset);
    Parsed p;
    p.type = nlh->nlmsg_type;
    p.flags = nlh->nlmsg_flags;
    p.seq = nlh->nlmsg_seq;
    p.length = nlh->nlmsg_len;
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    p.family = nfg->nfgen_family;
    p.queue = ntohs(nfg->res_id);
    const char* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
    for (const auto* attr =
             static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
         mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
         attr = mnl_attr_next(attr)) {
        if (mnl_attr_get_type(attr) == NFQA_VERDICT_HDR) {
            const auto* v = static_cast<const nfqnl_msg_verdict_hdr*>(mnl_attr_get_payload(attr));
            p.verdict = ntohl(v->verdict);
            p.id = ntohl(v->id);
        } else if (mnl_attr_get_type(attr) == NFQA_MARK) {
            p.mark = ntohl(mnl_attr_get_u32(attr));
        } else if (mnl_attr_get_type(attr) == NFQA_PAYLOAD) {
            const auto* data = static_cast<const std::byte*>(mnl_attr_get_payload(attr));
            p.payload.emplace(data, data + mnl_attr_get_payload_len(attr));
        }
    }
    return p;
}

nfcap::cli::Options options(std::vector<std::string> args) {
    args.insert(args.begin(), "nfcap");
    return nfcap::cli::parse_options(args);
}

std::string usage_error(std::vector<std::string> args) {
    try {
        options(std::move(args));
    } catch (const nfcap::cli::UsageError& e) {
        return e.what();
    }
    return "(accepted)";
}

} // namespace

TEST(VerdictMessage, SingleAcceptNamesThePacket) {
    std::vector<std::byte> out;
    nfcap::detail::append_verdict_message(out, 5, 42, Verdict{}, std::nullopt, false, 7);
    const Parsed p = parse(out);
    EXPECT_EQ(p.type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT);
    EXPECT_EQ(p.queue, 5);
    EXPECT_EQ(p.seq, 7U);
    EXPECT_EQ(p.verdict, static_cast<std::uint32_t>(NF_ACCEPT));
    EXPECT_EQ(p.id, 42U);
    EXPECT_FALSE(p.mark);
    EXPECT_EQ(p.length, out.size());
}

TEST(VerdictMessage, BatchCoversEverythingUpToTheIdAndCarriesTheMark) {
    std::vector<std::byte> out;
    Verdict v;
    v.mark = 0x10;
    nfcap::detail::append_verdict_message(out, 3, 1000, v, v.mark, true, 1);
    const Parsed p = parse(out);
    EXPECT_EQ(p.type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH);
    EXPECT_EQ(p.id, 1000U);
    EXPECT_EQ(p.mark, 0x10U);
}

TEST(VerdictMessage, DropQueueAndRepeatEncodeAsTheKernelExpects) {
    std::vector<std::byte> out;
    nfcap::detail::append_verdict_message(out, 1, 1, nfcap::parse_verdict("drop"), std::nullopt,
                                          false, 1);
    const std::size_t second = out.size();
    nfcap::detail::append_verdict_message(out, 1, 2, nfcap::parse_verdict("queue:9"), std::nullopt,
                                          false, 2);
    const std::size_t third = out.size();
    nfcap::detail::append_verdict_message(out, 1, 3, nfcap::parse_verdict("repeat"), 0x20U, false,
                                          3);
    EXPECT_EQ(parse(out).verdict, static_cast<std::uint32_t>(NF_DROP));
    EXPECT_EQ(parse(out, second).verdict, static_cast<std::uint32_t>(NF_QUEUE) | (9U << 16U));
    EXPECT_EQ(parse(out, third).verdict, static_cast<std::uint32_t>(NF_REPEAT));
    EXPECT_EQ(parse(out, third).mark, 0x20U);
    EXPECT_EQ(third % 4, 0U) << "messages stay aligned when several go out in one send";
}

TEST(VerdictMessage, RewriteCarriesTheNewPacketAfterTheVerdictAndMark) {
    std::vector<std::byte> out;
    nfcap::detail::append_verdict_message(out, 2, 9, Verdict{}, std::nullopt, false,
                                          1); // one before
    std::vector<std::byte> packet(1501);
    for (std::size_t i = 0; i < packet.size(); ++i) {
        packet[i] = static_cast<std::byte>(i * 7);
    }
    const std::size_t second = out.size();
    nfcap::detail::append_verdict_message(out, 2, 10, Verdict{}, 0x44, false, 2, packet);
    const Parsed p = parse(out, second);
    EXPECT_EQ(p.type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT);
    EXPECT_EQ(p.id, 10U);
    EXPECT_EQ(p.mark, 0x44U);
    ASSERT_TRUE(p.payload);
    EXPECT_EQ(*p.payload, packet);
    EXPECT_EQ(out.size() - second, p.length);
    EXPECT_EQ(p.length % 4, 0U); // the next message starts aligned
    EXPECT_EQ(parse(out).id, 9U);
}

TEST(Verdict, MaskedMarkChangesOnlyMaskedBits) {
    Verdict v;
    nfcap::parse_set_mark("0x30/0xff0", v);
    EXPECT_FALSE(v.batchable());
    EXPECT_EQ(v.new_mark(0x101), 0x031U);
    Verdict whole;
    nfcap::parse_set_mark("16", whole);
    EXPECT_TRUE(whole.batchable());
    EXPECT_EQ(whole.new_mark(0xffff), 16U);
}

TEST(Verdict, DescribedAsTheCommentSaysIt) {
    EXPECT_EQ(nfcap::describe(Verdict{}), "verdict=accept");
    Verdict q = nfcap::parse_verdict("queue:6");
    EXPECT_EQ(nfcap::describe(q), "verdict=queue:6");
    Verdict r = nfcap::parse_verdict("repeat");
    nfcap::parse_set_mark("0x20/0xff", r);
    EXPECT_EQ(nfcap::describe(r), "verdict=repeat setmark=0x20/0xff");
}

TEST(Verdict, BadSpellingsAreRefused) {
    EXPECT_THROW(nfcap::parse_verdict("accepted"), std::invalid_argument);
    EXPECT_THROW(nfcap::parse_verdict("queue:"), std::invalid_argument);
    EXPECT_THROW(nfcap::parse_verdict("queue:70000"), std::invalid_argument);
    Verdict v;
    EXPECT_THROW(nfcap::parse_set_mark("0xzz", v), std::invalid_argument);
    EXPECT_THROW(nfcap::parse_set_mark("1/", v), std::invalid_argument);
}

TEST(QueueOptions, PoliciesParse) {
    const auto accept = options({"-q", "0-3,7", "--auto-accept", "-w", "x"});
    EXPECT_EQ(accept.queues, (std::vector<std::uint16_t>{0, 1, 2, 3, 7}));
    ASSERT_TRUE(accept.verdict);
    EXPECT_EQ(accept.verdict->kind, VerdictKind::accept);
    EXPECT_TRUE(accept.fail_open);
    const auto marked = options({"-q", "5", "--auto-accept", "--set-mark", "0x10/0xff", "-w", "x",
                                 "--no-fail-open", "--queue-maxlen", "100", "--copy-range", "128",
                                 "--gso", "--record-netlink", "n.pcapng"});
    EXPECT_EQ(marked.verdict->mark, 0x10U);
    EXPECT_EQ(marked.verdict->mark_mask, 0xffU);
    EXPECT_FALSE(marked.fail_open);
    EXPECT_EQ(marked.queue_maxlen, 100U);
    EXPECT_EQ(marked.copy_range, 128U);
    EXPECT_TRUE(marked.gso);
    EXPECT_EQ(marked.record_netlink, "n.pcapng");
    const auto both = options({"-g", "1", "-q", "2", "--verdict", "drop", "-w", "x"});
    EXPECT_EQ(both.groups.size(), 1U);
    EXPECT_EQ(both.verdict->kind, VerdictKind::drop);
    EXPECT_EQ(options({"-q", "1", "--verdict", "queue:2", "-w", "x"}).verdict->target_queue, 2);
}

TEST(QueueOptions, PolicyRefusalsAreOneClearLine) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"-q", "5", "-w", "x"}, "needs an explicit verdict policy: --auto-accept"},
        {{"-q", "5", "--verdict", "repeat", "-w", "x"}, "needs --set-mark"},
        {{"-q", "5", "--verdict", "drop", "--set-mark", "1", "-w", "x"}, "no effect on dropped"},
        {{"-q", "5", "--verdict", "queue:5", "-w", "x"}, "a queue nfcap itself reads"},
        {{"-q", "5", "--verdict", "drop", "--auto-accept", "-w", "x"}, "contradict"},
        {{"-q", "5", "--verdict", "reject", "-w", "x"}, "choose accept, drop, queue:N or repeat"},
        {{"-g", "5", "--auto-accept", "-w", "x"}, "applies to NFQUEUE queues"},
        {{"-q", "5", "--auto-accept", "--qthresh", "5", "-w", "x"}, "tunes NFLOG groups"},
        {{"-q", "5", "--auto-accept", "--set-mark", "x", "-w", "x"}, "invalid mark"},
        {{"-r", "f", "--record-netlink", "n", "-w", "x"}, "records a live session"},
        {{"-q", "5", "--auto-accept", "--record-netlink", "x", "-w", "x"}, "a file of its own"},
    };
    for (const auto& [args, expected] : cases) {
        const std::string error = usage_error(args);
        EXPECT_NE(error.find(expected), std::string::npos)
            << ::testing::PrintToString(args) << " -> " << error;
        EXPECT_EQ(error.find('\n'), std::string::npos);
    }
}
