#pragma once
// Building NFQUEUE verdict messages (internal to nfcap_io; tests include it from src/io).

#include <nfcap/verdict.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace nfcap::detail {

// Appends one verdict message for `queue` to `out`: NFQNL_MSG_VERDICT for packet `id`, or with
// `batch`, NFQNL_MSG_VERDICT_BATCH covering every packet up to and including `id`. `mark` is
// the mark to set (nullopt: leave it); a non-empty `payload` replaces the packet (not with
// `batch`).
void append_verdict_message(std::vector<std::byte>& out, std::uint16_t queue, std::uint32_t id,
                            const Verdict& verdict, std::optional<std::uint32_t> mark, bool batch,
                            std::uint32_t sequence, std::span<const std::byte> payload = {});

} // namespace nfcap::detail
