#include <nfcap/sink.hpp>

#include "system_error.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <utility>

namespace nfcap {
namespace {

// Closes the descriptor unless it was handed on.
class OwnedFd {
  public:
    explicit OwnedFd(int fd) : fd_(fd) {}
    ~OwnedFd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

std::string kind_of(mode_t mode) {
    if (S_ISDIR(mode)) {
        return "it is a directory";
    }
    if (S_ISCHR(mode)) {
        return "it is a character device (only /dev/null is written to)";
    }
    if (S_ISBLK(mode)) {
        return "it is a block device";
    }
    if (S_ISSOCK(mode)) {
        return "it is a socket";
    }
    return "it is not a regular file or a FIFO";
}

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
    throw std::runtime_error("refusing to write to " + path + ": " + why);
}

using Clock = std::chrono::steady_clock;

// A write waiting for a pipe's reader looks up this often whether it should give up.
constexpr int reader_poll_ms = 100;
// Once asked to stop: give up when the reader has taken nothing for this long ...
constexpr auto stalled_reader = std::chrono::milliseconds(500);
// ... or, for a reader that still reads but too slowly, this long after the stop.
constexpr auto slow_reader = std::chrono::milliseconds(1500);

} // namespace

int open_output_file(const std::string& path, const OutputFileOptions& options, bool* fifo) {
    // Everything below works relative to the directory's descriptor, so the directory checked
    // is the directory used.
    const std::size_t slash = path.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty()) {
        refuse(path, "it names a directory");
    }
    const OwnedFd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat dir_st {};
    if (dir_fd.get() < 0 || ::fstat(dir_fd.get(), &dir_st) != 0) {
        detail::throw_errno("cannot create " + path);
    }
    // World-writable and sticky (/tmp): anyone may have put the name there first.
    const bool shared_dir = (dir_st.st_mode & S_ISVTX) != 0 && (dir_st.st_mode & S_IWOTH) != 0;
    const int nofollow = shared_dir ? O_NOFOLLOW : 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
        // A new file. O_EXCL fails on anything already there, a dangling symbolic link too.
        OwnedFd created(::openat(dir_fd.get(), base.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, options.mode));
        if (created.get() >= 0) {
            if (options.owner &&
                (options.owner->uid != ::geteuid() || options.owner->gid != ::getegid())) {
                if (::fchown(created.get(), options.owner->uid, options.owner->gid) != 0) {
                    detail::throw_errno("cannot give " + path + " to uid " +
                                        std::to_string(options.owner->uid));
                }
            }
            // The mode asked for, whatever the umask took away at creation.
            if (::fchmod(created.get(), options.mode) != 0) {
                detail::throw_errno("cannot set the mode of " + path);
            }
            if (fifo != nullptr) {
                *fifo = false;
            }
            return created.release();
        }
        if (errno != EEXIST) {
            detail::throw_errno("cannot create " + path);
        }
        // Something is there. Look at it through O_PATH, which opens nothing a device driver
        // would see, then open it for writing and make sure it is still the same file.
        const OwnedFd probe(::openat(dir_fd.get(), base.c_str(), O_PATH | O_CLOEXEC | nofollow));
        if (probe.get() < 0 && errno == ENOENT) {
            const OwnedFd link(
                ::openat(dir_fd.get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
            struct stat link_st {};
            if (link.get() >= 0 && ::fstat(link.get(), &link_st) == 0 && S_ISLNK(link_st.st_mode)) {
                refuse(path, "it is a symbolic link to nothing (a link is followed only to a file "
                             "or FIFO that exists)");
            }
            continue; // removed meanwhile: create it after all
        }
        struct stat st {};
        if (probe.get() < 0 || ::fstat(probe.get(), &st) != 0) {
            detail::throw_errno("cannot open " + path);
        }
        if (S_ISLNK(st.st_mode)) {
            refuse(path, "it is a symbolic link in the world-writable directory " + dir +
                             ", where links are never followed");
        }
        // The null device discards what it gets (tcpdump -w /dev/null, benchmarks); every other
        // device, socket or directory is refused before it is opened.
        const bool null_device = S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !null_device) {
            refuse(path, kind_of(st.st_mode));
        }
        if (shared_dir && S_ISREG(st.st_mode) && st.st_uid != ::geteuid() &&
            st.st_uid != dir_st.st_uid) {
            refuse(path, "it belongs to uid " + std::to_string(st.st_uid) +
                             " in the world-writable directory " + dir);
        }
        int fd = -1;
        do { // a FIFO's open blocks until a reader arrives
            fd = ::openat(dir_fd.get(), base.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | nofollow);
        } while (fd < 0 && errno == EINTR);
        OwnedFd opened(fd);
        if (fd < 0 && errno == ENOENT) {
            continue;
        }
        struct stat now {};
        if (fd < 0 || ::fstat(fd, &now) != 0) {
            detail::throw_errno(std::string("cannot open ") +
                                (S_ISFIFO(st.st_mode) ? "FIFO " : "") + path);
        }
        if (now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
            refuse(path, "it was replaced while it was being opened");
        }
        if (S_ISREG(now.st_mode) && ::ftruncate(fd, 0) != 0) {
            detail::throw_errno("cannot truncate " + path);
        }
        if (fifo != nullptr) {
            *fifo = S_ISFIFO(now.st_mode);
        }
        return opened.release();
    }
    throw std::runtime_error("cannot create " + path + ": it keeps appearing and vanishing");
}

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

bool FdSink::reader_gone() const {
    if (kind_ != SinkKind::stream || fd_ < 0) {
        return false;
    }
    pollfd p{fd_, 0, 0}; // no events asked: errors and hang-ups are always reported
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
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

RotatingFileSink::RotatingFileSink(std::string base, unsigned max_files, OutputFileOptions options)
    : base_(std::move(base)), max_files_(max_files), options_(options) {
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
    const int fd = open_output_file(path, options_, nullptr);
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

std::unique_ptr<Sink> open_output(const std::string& path, bool text,
                                  const OutputFileOptions& options) {
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
    bool fifo = false;
    const int fd = open_output_file(path, options, &fifo);
    if (fifo) {
        return std::make_unique<FdSink>(fd, path, path);
    }
    return std::make_unique<FdSink>(fd, path, SinkKind::file, FdSink::Ownership::owned);
}

} // namespace nfcap
