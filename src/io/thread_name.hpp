#pragma once
// Names nfcap's threads, so that `top -H`, `ps -L` and perf tell the receive threads from the
// writer (the main thread, which keeps the program's name).

#include <pthread.h>

#include <algorithm>
#include <cstddef>
#include <string>

namespace nfcap::detail {

// Names the calling thread; the kernel keeps at most 15 bytes, so a longer name is cut. Best
// effort: a thread whose name cannot be set keeps the one it had.
inline void name_this_thread(std::string name) {
    constexpr std::size_t kept = 15;
    name.resize(std::min(name.size(), kept));
    (void)::pthread_setname_np(::pthread_self(), name.c_str());
}

} // namespace nfcap::detail
