#pragma once
// errno to exceptions, in one place.

#include <cerrno>
#include <string>
#include <system_error>

namespace nfcap::detail {

[[noreturn]] inline void throw_errno(const std::string& what, int error = errno) {
    throw std::system_error(error, std::generic_category(), what);
}

} // namespace nfcap::detail
