#include <nfcap/loss.hpp>

#include <gtest/gtest.h>

namespace nfcap {
namespace {

TEST(NflogUnseenLoss, NoDropsIsExactZero) {
    const UnseenLoss u = nflog_unseen_loss(0, NflogDrops{0, 0, 0}, 0);
    EXPECT_EQ(u.records, 0U);
    EXPECT_EQ(u.certainty, LossCertainty::exact);
}

TEST(NflogUnseenLoss, DropsBeforeEveryGroupsLastRecordAreExact) {
    // A paused reader, then more records of every group: the gaps show every drop.
    const UnseenLoss u = nflog_unseen_loss(2500, NflogDrops{40, 40, 40}, 1);
    EXPECT_EQ(u.records, 0U);
    EXPECT_EQ(u.certainty, LossCertainty::exact);
}

TEST(NflogUnseenLoss, DropsAfterTheLastDeliveryHeldARecordEach) {
    // A paused reader, and nothing after: three batches dropped after the last record read.
    const UnseenLoss u = nflog_unseen_loss(0, NflogDrops{3, 0, 0}, 1);
    EXPECT_EQ(u.records, 3U);
    EXPECT_EQ(u.certainty, LossCertainty::at_least);
    // Five before the last delivery (in a gap of 900 records), two after it.
    const UnseenLoss later = nflog_unseen_loss(900, NflogDrops{7, 5, 5}, 2);
    EXPECT_EQ(later.records, 2U);
    EXPECT_EQ(later.certainty, LossCertainty::at_least);
}

TEST(NflogUnseenLoss, AGroupWithoutALaterRecordMakesItALowerBound) {
    // Group 1's last record came after all 4 drops, group 2's before 3 of them: its gap may be
    // unseen. Every drop held a record: 4 drops against 2 gap records leaves 2 unseen.
    const UnseenLoss u = nflog_unseen_loss(2, NflogDrops{4, 1, 4}, 1);
    EXPECT_EQ(u.records, 2U);
    EXPECT_EQ(u.certainty, LossCertainty::at_least);
    // With large gaps nothing more is certain, but the count is still only a lower bound.
    const UnseenLoss big = nflog_unseen_loss(500, NflogDrops{4, 1, 4}, 1);
    EXPECT_EQ(big.records, 0U);
    EXPECT_EQ(big.certainty, LossCertainty::at_least);
}

TEST(NflogUnseenLoss, WithoutTheKernelsCountEnobufsIsALowerBound) {
    EXPECT_EQ(nflog_unseen_loss(0, std::nullopt, 0).certainty, LossCertainty::exact);
    const UnseenLoss u = nflog_unseen_loss(0, std::nullopt, 2);
    EXPECT_EQ(u.records, 2U);
    EXPECT_EQ(u.certainty, LossCertainty::at_least);
    const UnseenLoss covered = nflog_unseen_loss(10, std::nullopt, 1);
    EXPECT_EQ(covered.records, 0U);
    EXPECT_EQ(covered.certainty, LossCertainty::at_least);
}

TEST(QueueIdsAfter, CountsIdsPastTheLastReceivedModulo32Bits) {
    EXPECT_EQ(queue_ids_after(3000, 102), 2898U);
    EXPECT_EQ(queue_ids_after(102, 102), 0U);
    EXPECT_EQ(queue_ids_after(5, 0), 5U);
    EXPECT_EQ(queue_ids_after(2, 0xfffffffeU), 4U); // the id sequence wrapped
}

TEST(CountableQueueLength, ExceedsWhatTheSocketBufferHolds) {
    // 64 MiB asked for: the kernel's sk_rcvbuf is twice that.
    const std::uint64_t buffer = 128ULL << 20U;
    const std::uint32_t length = countable_queue_length(buffer, 64);
    EXPECT_GT(static_cast<std::uint64_t>(length) * min_queued_message_bytes, buffer);
    EXPECT_EQ(length, buffer / min_queued_message_bytes + 1 + 64);
    // The smallest message the kernel can queue (768 bytes of truesize) fits fewer times.
    EXPECT_GT(length, buffer / 768);
    EXPECT_EQ(countable_queue_length(1ULL << 62U, 0), 0xffffffffU); // clamped
}

TEST(DescribeLoss, SaysWhenTheCountIsALowerBound) {
    EXPECT_EQ(describe_loss(0, LossCertainty::exact), "0 lost");
    EXPECT_EQ(describe_loss(12, LossCertainty::exact), "12 lost");
    EXPECT_EQ(describe_loss(12, LossCertainty::at_least), "at least 12 lost");
}

} // namespace
} // namespace nfcap

TEST(NflogTailEstimate, BatchesAfterTheLastDeliveryTimesTheAverageBatch) {
    nfcap::NflogDrops drops;
    drops.total = 600;
    drops.at_last_delivery = 21; // 579 batches after the last delivery
    // 2,512,357 records arrived in 8,600 datagrams: 292.13 a batch.
    EXPECT_EQ(nfcap::nflog_tail_estimate(drops, 2'512'357, 8'600), 169'146U);
    drops.at_last_delivery = 600; // nothing after the last delivery: no estimate
    EXPECT_EQ(nfcap::nflog_tail_estimate(drops, 2'512'357, 8'600), 0U);
    drops.at_last_delivery = 0;
    EXPECT_EQ(nfcap::nflog_tail_estimate(drops, 0, 0), 0U);   // nothing delivered at all
    EXPECT_EQ(nfcap::nflog_tail_estimate(drops, 3, 2), 900U); // 600 x 1.5
}
