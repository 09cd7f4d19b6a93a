#include <nfcap/sink.hpp>

#include "system_error.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nfcap {
namespace {

using Clock = std::chrono::steady_clock;

// A write waiting for a pipe's reader looks up this often whether it should give up.
constexpr int reader_poll_ms = 100;
// Once asked to stop: give up when the reader has taken nothing for this long ...
constexpr auto stalled_reader = std::chrono::milliseconds(500);
// ... or, for a reader that still reads but too slowly, this long after the stop.
constexpr auto slow_reader = std::chrono::milliseconds(1500);

} // namespace

FdSink::FdSink(int fd, std::string name, SinkKind kind, Ownership ownership)
    : fd_(fd), name_(std::move(name)), kind_(kind), ownership_(ownership) {
    if (kind_ == SinkKind::stream) {
        make_non_blocking();
    }
}

FdSink::FdSink(int fd, std::string name, std::string fifo_path)
    : fd_(fd), name_(std::move(name)), kind_(SinkKind::stream), ownership_(Ownership::owned),
      fifo_path_(std::move(fifo_path)) {
    make_non_blocking();
}

void FdSink::make_non_blocking() {
    // Only pipes and FIFOs (S_ISFIFO covers both): a terminal or socket is shared with other
    // processes in ways a pipe's write end rarely is, and is left as it is.
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        return;
    }
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || (flags & O_NONBLOCK) != 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) {
        return;
    }
    if (ownership_ == Ownership::borrowed) {
        restore_flags_ = flags;
    }
}

bool FdSink::reconnect() {
    if (fifo_path_.empty()) {
        return false;
    }
    // Without a reader, a non-blocking open of a FIFO for writing fails with ENXIO.
    // The descriptor stays non-blocking, as the first one was made (see make_non_blocking).
    const int fd = ::open(fifo_path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
    return true;
}

FdSink::~FdSink() {
    if (ownership_ == Ownership::owned && fd_ >= 0) {
        ::close(fd_);
    } else if (restore_flags_ >= 0) {
        ::fcntl(fd_, F_SETFL, restore_flags_);
    }
}

void FdSink::write(std::span<const std::byte> bytes) {
    std::size_t done = 0;
    Clock::time_point progress = Clock::now();
    std::optional<Clock::time_point> stop_seen;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
            progress = Clock::now();
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN) {
            wait_for_reader(progress, stop_seen);
            continue;
        }
        if (errno == EPIPE) {
            throw ReaderGone("the reader of " + name_ + " went away");
        }
        fail(errno, done);
    }
}

void FdSink::wait_for_reader(Clock::time_point progress,
                             std::optional<Clock::time_point>& stop_seen) {
    const auto now = Clock::now();
    if (!stop_seen && give_up_ && give_up_()) {
        stop_seen = now;
    }
    if (stop_seen && now - progress >= stalled_reader) {
        const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(now - progress);
        throw WriteError("gave up writing to " + name_ +
                         ": nfcap was asked to stop and its reader has taken nothing for " +
                         std::to_string(idle.count()) + " ms");
    }
    if (stop_seen && now - *stop_seen >= slow_reader) {
        throw WriteError("gave up writing to " + name_ +
                         ": nfcap was asked to stop and its reader is too slow to take the rest");
    }
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, reader_poll_ms); // ready, timed out or interrupted: the caller writes again
}

void FdSink::fail(int error, std::size_t written_now) {
    // A regular file that took part of these bytes is cut back to where they began: it then
    // ends with the last whole unit (pcapng block) it holds, readers see no half block, and
    // the space is freed (a full disk).
    struct stat st {};
    if (written_now > 0 && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
        const off_t end = ::lseek(fd_, 0, SEEK_CUR);
        const auto partial = static_cast<off_t>(written_now);
        if (end >= partial && ::ftruncate(fd_, end - partial) == 0) {
            ::lseek(fd_, end - partial, SEEK_SET);
        }
    }
    throw WriteError("cannot write to " + name_ + ": " + std::generic_category().message(error));
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
