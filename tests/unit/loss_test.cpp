#include <nfcap/loss.hpp>

#include <gtest/gtest.h>

namespace nfcap {
namespace {

TEST(NflogUnseenLoss, NoDropsIsExactZero) {
    const UnseenLoss u = nflog_unseen_loss(0, 0, 0, 0);
    EXPECT_EQ(u.records, 0U);
    EXPECT_EQ(u.certainty, LossCertainty::exact);
}

TEST(NflogUnseenLoss, DropsThatGapsCoverAreExact) {
    // Three gaps, three dropped batches: each batch is inside a gap, nothing after the last.
    const UnseenLoss u = nflog_unseen_loss(250, 3, 3, 1);
    EXPECT_EQ(u.records, 0U);
    EXPECT_EQ(u.certainty, LossCertainty::exact);
}

TEST(NflogUnseenLoss, DropsAfterTheLastRecordAreALowerBound) {
    // A stalled reader: batches dropped, and no later record to show a gap.
    const UnseenLoss u = nflog_unseen_loss(0, 0, 3, 1);
    EXPECT_EQ(u.records, 3U);
    EXPECT_EQ(u.certainty, LossCertainty::at_least);
}

TEST(NflogUnseenLoss, MoreDropsThanGapsNeverCountsBelowTheGaps) {
    // Five batches dropped, two gaps of 40 records: the gaps may hold all five batches, so
    // nothing more is certain, but the count is no longer known to be exact.
    const UnseenLoss big_gaps = nflog_unseen_loss(80, 2, 5, 2);
    EXPECT_EQ(big_gaps.records, 0U);
    EXPECT_EQ(big_gaps.certainty, LossCertainty::at_least);
    // Two gaps of one record each hold at most two batches: three more held a record at least.
    const UnseenLoss small_gaps = nflog_unseen_loss(2, 2, 5, 2);
    EXPECT_EQ(small_gaps.records, 3U);
    EXPECT_EQ(small_gaps.certainty, LossCertainty::at_least);
}

TEST(NflogUnseenLoss, WithoutTheKernelsCountEnobufsIsALowerBound) {
    EXPECT_EQ(nflog_unseen_loss(0, 0, std::nullopt, 0).certainty, LossCertainty::exact);
    const UnseenLoss u = nflog_unseen_loss(0, 0, std::nullopt, 2);
    EXPECT_EQ(u.records, 2U);
    EXPECT_EQ(u.certainty, LossCertainty::at_least);
    // Gaps that may cover the overruns: no more than the gaps is certain.
    const UnseenLoss covered = nflog_unseen_loss(10, 1, std::nullopt, 1);
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
