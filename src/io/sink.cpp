#include <nfcap/sink.hpp>

#include "system_error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nfcap {

FdSink::FdSink(int fd, std::string name, SinkKind kind, Ownership ownership)
    : fd_(fd), name_(std::move(name)), kind_(kind), ownership_(ownership) {}

FdSink::~FdSink() {
    if (ownership_ == Ownership::owned && fd_ >= 0) {
        ::close(fd_);
    }
}

void FdSink::write(std::span<const std::byte> bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EPIPE) {
                throw ReaderGone("the reader of " + name_ + " went away");
            }
            detail::throw_errno("cannot write to " + name_);
        }
        done += static_cast<std::size_t>(n);
    }
}

std::unique_ptr<Sink> open_output(const std::string& path, bool text, unsigned mode) {
    if (path == "-") {
        if (!text && ::isatty(STDOUT_FILENO) == 1) {
            throw std::runtime_error(
                "refusing to write binary pcapng to a terminal; redirect or pipe standard output");
        }
        struct stat st {};
        const bool regular = ::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode);
        return std::make_unique<FdSink>(STDOUT_FILENO, "standard output",
                                        regular ? SinkKind::file : SinkKind::stream,
                                        FdSink::Ownership::borrowed);
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
        int fd = -1;
        do {
            fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            detail::throw_errno("cannot open FIFO " + path);
        }
        return std::make_unique<FdSink>(fd, path, SinkKind::stream, FdSink::Ownership::owned);
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        detail::throw_errno("cannot create " + path);
    }
    return std::make_unique<FdSink>(fd, path, SinkKind::file, FdSink::Ownership::owned);
}

} // namespace nfcap
