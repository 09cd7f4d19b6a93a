#pragma once
// Wireshark's extcap protocol (extcap(4)): the answers nfcap gives when Wireshark asks which
// interfaces it offers, their link types and configuration, and whether a filter is valid.

#include "options.hpp"

#include <ostream>

namespace nfcap::cli {

// Writes the answer to `options.extcap` on `out`. Returns the exit status (filter check: 1 and
// the reason on `out` for an invalid filter, as Wireshark expects).
int answer_extcap(const Options& options, std::ostream& out);

} // namespace nfcap::cli
