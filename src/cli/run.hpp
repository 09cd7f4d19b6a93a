#pragma once

#include "options.hpp"

namespace nfcap::cli {

// Exit statuses.
inline constexpr int exit_ok = 0;
inline constexpr int exit_error = 1;
inline constexpr int exit_usage = 2;
// Finished, but some records are incomplete: malformed records were skipped, or truncated
// records were written cut.
inline constexpr int exit_skipped = 3;
inline constexpr int exit_lost = 4; // finished, but records were lost (or not written)

// Runs a capture or replay as `options` says; reports on stderr. Returns the exit status.
// Throws for setup failures (main turns them into one line).
int run(const Options& options);

} // namespace nfcap::cli
