#include <nfcap/sink.hpp>

#include "system_error.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nfcap {

FdSink::FdSink(int fd, std::string name, SinkKind kind, Ownership ownership)
    : fd_(fd), name_(std::move(name)), kind_(kind), ownership_(ownership) {}

FdSink::FdSink(int fd, std::string name, std::string fifo_path)
    : fd_(fd), name_(std::move(name)), kind_(SinkKind::stream), ownership_(Ownership::owned),
      fifo_path_(std::move(fifo_path)) {}

bool FdSink::reconnect() {
    if (fifo_path_.empty()) {
        return false;
    }
    // Without a reader, a non-blocking open of a FIFO for writing fails with ENXIO.
    const int fd = ::open(fifo_path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
    return true;
}

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

RotatingFileSink::RotatingFileSink(std::string base, unsigned max_files, unsigned mode)
    : base_(std::move(base)), max_files_(max_files), mode_(mode) {
    open_next();
}

RotatingFileSink::~RotatingFileSink() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

void RotatingFileSink::open_next() {
    // base "dir/out.pcapng" -> "dir/out_00001_20261123120000.pcapng"
    const std::size_t slash = base_.rfind('/');
    const std::size_t dot = base_.rfind('.');
    const bool has_extension =
        dot != std::string::npos && (slash == std::string::npos || dot > slash);
    const std::string stem = has_extension ? base_.substr(0, dot) : base_;
    const std::string extension = has_extension ? base_.substr(dot) : std::string();
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&now, &local);
    std::array<char, 32> stamp{};
    std::strftime(stamp.data(), stamp.size(), "%Y%m%d%H%M%S", &local);
    std::array<char, 16> number{};
    std::snprintf(number.data(), number.size(), "%05u", ++number_);
    std::string path = stem + "_" + number.data() + "_" + stamp.data() + extension;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_);
    if (fd < 0) {
        detail::throw_errno("cannot create " + path);
    }
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
    current_ = std::move(path);
    files_.push_back(current_);
    while (max_files_ > 0 && files_.size() > max_files_) {
        ::unlink(files_.front().c_str()); // the ring is full: the oldest file goes
        files_.erase(files_.begin());
    }
}

void RotatingFileSink::write(std::span<const std::byte> bytes) {
    FdSink borrowed(fd_, current_, SinkKind::file, FdSink::Ownership::borrowed);
    borrowed.write(bytes);
}

bool RotatingFileSink::rotate() {
    open_next();
    return true;
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
        return std::make_unique<FdSink>(fd, path, path);
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        detail::throw_errno("cannot create " + path);
    }
    return std::make_unique<FdSink>(fd, path, SinkKind::file, FdSink::Ownership::owned);
}

} // namespace nfcap
