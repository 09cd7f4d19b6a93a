#pragma once
// The comment in two parts, for RecordEncoder: the head (the source and the keys up to the
// conntrack ones: what a flow's records share) and the tail (sequence numbers, ids, the
// verdict, the time source, the copy and cut marks). Head then tail is write_comment's comment.
// Internal.
#include <nfcap/comment.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace nfcap::detail {

// Writes the head of `packet`'s comment from the start of `scratch` (as write_comment does) and
// returns its size.
std::size_t write_comment_head(std::string& scratch, const Packet& packet,
                               const CommentContext& context);

// Writes the tail after the first `head` bytes of `scratch`, which it keeps, and returns the
// whole comment.
std::string_view write_comment_tail(std::string& scratch, std::size_t head, const Packet& packet,
                                    const CommentContext& context);

} // namespace nfcap::detail
