#include <nfcap/sink.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using nfcap::FdSink;
using nfcap::SinkKind;

namespace {

std::vector<std::byte> pattern(std::size_t n) {
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<std::byte>(i * 7);
    }
    return v;
}

std::vector<std::byte> read_all(int fd) {
    std::vector<std::byte> out;
    std::array<std::byte, 65536> chunk{};
    for (;;) {
        const ssize_t n = ::read(fd, chunk.data(), chunk.size());
        if (n <= 0) {
            return out;
        }
        out.insert(out.end(), chunk.begin(), chunk.begin() + n);
    }
}

struct TempDir {
    TempDir() {
        char templ[] = "/tmp/nfcap-sink-XXXXXX";
        path = ::mkdtemp(templ);
    }
    ~TempDir() {
        std::string cmd = "rm -rf " + path;
        (void)std::system(cmd.c_str());
    }
    std::string path;
};

} // namespace

TEST(Sink, PipeReceivesLargeWritesWhole) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const auto data = pattern(1 << 20); // far beyond the pipe's capacity: short writes happen
    std::vector<std::byte> received;
    std::thread reader([&] { received = read_all(fds[0]); });
    {
        FdSink sink(fds[1], "pipe", SinkKind::stream, FdSink::Ownership::owned);
        sink.write(data);
    } // closes the write end
    reader.join();
    ::close(fds[0]);
    EXPECT_EQ(received, data);
}

TEST(Sink, ClosedReaderIsReaderGoneNotACrash) {
    std::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ::close(fds[0]);
    FdSink sink(fds[1], "pipe", SinkKind::stream, FdSink::Ownership::owned);
    try {
        sink.write(pattern(10));
        FAIL() << "expected ReaderGone";
    } catch (const nfcap::ReaderGone& e) {
        EXPECT_NE(std::string(e.what()).find("went away"), std::string::npos);
    }
}

TEST(Sink, FifoOpensWhenAReaderArrivesAndStreams) {
    TempDir dir;
    const std::string fifo = dir.path + "/out.fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::vector<std::byte> received;
    std::thread reader([&] {
        const int fd = ::open(fifo.c_str(), O_RDONLY);
        received = read_all(fd);
        ::close(fd);
    });
    const auto data = pattern(300000);
    {
        auto sink = nfcap::open_output(fifo);
        EXPECT_EQ(sink->kind(), SinkKind::stream);
        sink->write(data);
    }
    reader.join();
    EXPECT_EQ(received, data);
}

TEST(Sink, FifoReaderLeavingIsReaderGone) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir dir;
    const std::string fifo = dir.path + "/out.fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::thread reader([&] {
        const int fd = ::open(fifo.c_str(), O_RDONLY);
        std::array<char, 16> some{};
        (void)::read(fd, some.data(), some.size());
        ::close(fd);
    });
    auto sink = nfcap::open_output(fifo);
    EXPECT_THROW(
        {
            for (int i = 0; i < 1000; ++i) {
                sink->write(pattern(65536));
            }
        },
        nfcap::ReaderGone);
    reader.join();
}

TEST(Sink, RegularFileIsCreatedTruncatedAndWritten) {
    TempDir dir;
    const std::string path = dir.path + "/out.pcapng";
    {
        auto sink = nfcap::open_output(path);
        EXPECT_EQ(sink->kind(), SinkKind::file);
        sink->write(pattern(1000));
    }
    {
        auto sink = nfcap::open_output(path);
        sink->write(pattern(10));
    }
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 10);
}

TEST(Sink, UnwritableDirectoryIsAClearError) {
    try {
        nfcap::open_output("/nonexistent-dir/x.pcapng");
        FAIL();
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.pcapng"), std::string::npos);
    }
}

std::string error_of_open(const std::string& path, const nfcap::OutputFileOptions& options = {}) {
    try {
        nfcap::open_output(path, false, options);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode;
}

TEST(Sink, NewFilesGetExactlyTheModeAskedForWhateverTheUmask) {
    TempDir dir;
    const mode_t old_umask = ::umask(077);
    (void)nfcap::open_output(dir.path + "/default.pcapng");
    nfcap::OutputFileOptions group_readable;
    group_readable.mode = 0640;
    (void)nfcap::open_output(dir.path + "/0640.pcapng", false, group_readable);
    ::umask(old_umask);
    EXPECT_EQ(mode_of(dir.path + "/default.pcapng") & 07777, 0600U);
    EXPECT_EQ(mode_of(dir.path + "/0640.pcapng") & 07777, 0640U);
    // An existing file is truncated and keeps its own mode.
    ASSERT_EQ(::chmod((dir.path + "/0640.pcapng").c_str(), 0604), 0);
    (void)nfcap::open_output(dir.path + "/0640.pcapng");
    EXPECT_EQ(mode_of(dir.path + "/0640.pcapng") & 07777, 0604U);
}

TEST(Sink, RingFilesGetTheModeToo) {
    TempDir dir;
    nfcap::OutputFileOptions options;
    options.mode = 0640;
    nfcap::RotatingFileSink ring(dir.path + "/r.pcapng", 0, options);
    ring.rotate();
    ASSERT_EQ(ring.files().size(), 2U);
    for (const auto& f : ring.files()) {
        EXPECT_EQ(mode_of(f) & 07777, 0640U) << f;
    }
}

TEST(Sink, NonRegularFilesAreRefusedAndLeftAlone) {
    TempDir dir;
    EXPECT_NE(
        error_of_open(dir.path).find("refusing to write to " + dir.path + ": it is a directory"),
        std::string::npos);
    EXPECT_NE(error_of_open(dir.path + "/").find("it names a directory"), std::string::npos);
    EXPECT_NE(error_of_open("/dev/zero").find("/dev/zero: it is a character device"),
              std::string::npos);
    EXPECT_EQ(error_of_open("/dev/null"), "(no error)") << "the null device is written to";
    const std::string socket_path = dir.path + "/sock";
    const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    socket_path.copy(address.sun_path, sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(s);
    EXPECT_NE(error_of_open(socket_path).find("it is a socket"), std::string::npos);
    EXPECT_TRUE(S_ISSOCK(mode_of(socket_path)));
}

TEST(Sink, SymbolicLinksInAStickyWorldWritableDirectoryAreNeverFollowed) {
    TempDir dir;
    const std::string shared = dir.path + "/shared";
    ASSERT_EQ(::mkdir(shared.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(shared.c_str(), 01777), 0);
    const std::string target = dir.path + "/target";
    ASSERT_EQ(::close(::open(target.c_str(), O_WRONLY | O_CREAT, 0644)), 0);
    ASSERT_EQ(::symlink(target.c_str(), (shared + "/out.pcapng").c_str()), 0);
    ASSERT_EQ(::symlink((dir.path + "/nothing").c_str(), (shared + "/dangling").c_str()), 0);
    const std::string error = error_of_open(shared + "/out.pcapng");
    EXPECT_NE(error.find("refusing to write to " + shared + "/out.pcapng: it is a symbolic link"),
              std::string::npos)
        << error;
    EXPECT_NE(error_of_open(shared + "/dangling").find("symbolic link"), std::string::npos);
    struct stat st {};
    ASSERT_EQ(::stat((dir.path + "/nothing").c_str(), &st), -1); // not created through the link
    // Elsewhere a link to an existing file is followed, as the shell's > does.
    ASSERT_EQ(::symlink(target.c_str(), (dir.path + "/link").c_str()), 0);
    {
        auto sink = nfcap::open_output(dir.path + "/link");
        sink->write(pattern(5));
    }
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 5);
    EXPECT_TRUE(S_ISLNK(mode_of(dir.path + "/link")));
}

TEST(Sink, OwnerIsSetOnCreatedFilesOnly) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "giving a file away needs root";
    }
    TempDir dir;
    nfcap::OutputFileOptions options;
    options.owner = nfcap::OutputFileOptions::Owner{65534, 65534};
    (void)nfcap::open_output(dir.path + "/given.pcapng", false, options);
    struct stat st {};
    ASSERT_EQ(::stat((dir.path + "/given.pcapng").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534U);
    EXPECT_EQ(st.st_gid, 65534U);
    EXPECT_EQ(st.st_mode & 07777, 0600U);
}

TEST(Sink, MemorySinkCollects) {
    nfcap::MemorySink sink;
    sink.write(pattern(3));
    sink.write(pattern(2));
    EXPECT_EQ(sink.data.size(), 5U);
}

namespace {

// Limits the size of files this process writes (RLIMIT_FSIZE), so a write past it fails with
// EFBIG (SIGXFSZ ignored) the way a full disk fails with ENOSPC; restores both when it goes.
class FileSizeLimit {
  public:
    explicit FileSizeLimit(rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &saved_);
        previous_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = saved_;
        limit.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        std::signal(SIGXFSZ, previous_);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

  private:
    rlimit saved_{};
    void (*previous_)(int) = nullptr;
};

off_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

TEST(Sink, FailedWriteCutsTheFileBackToItsLastWholeWrite) {
    TempDir dir;
    const std::string path = dir.path + "/out.pcapng";
    auto sink = nfcap::open_output(path);
    sink->write(pattern(1000));
    {
        FileSizeLimit limit(3000);
        // The kernel takes 2000 bytes of these (up to the limit), then refuses with EFBIG.
        try {
            sink->write(pattern(5000));
            FAIL() << "expected WriteError";
        } catch (const nfcap::WriteError& e) {
            EXPECT_EQ(std::string(e.what()), "cannot write to " + path + ": File too large");
        }
        EXPECT_EQ(file_size(path), 1000) << "the partial write was not taken back";
    }
    sink->write(pattern(10)); // the file goes on from its last whole write
    EXPECT_EQ(file_size(path), 1010);
}

TEST(Sink, RingFileIsCutBackToo) {
    TempDir dir;
    nfcap::RotatingFileSink ring(dir.path + "/ring.pcapng", 0);
    ring.write(pattern(500));
    FileSizeLimit limit(1000);
    EXPECT_THROW(ring.write(pattern(4000)), nfcap::WriteError);
    EXPECT_EQ(file_size(ring.name()), 500);
}

TEST(Sink, BorrowedPipeIsNonBlockingWhileTheSinkLives) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    {
        FdSink sink(fds[1], "pipe", SinkKind::stream, FdSink::Ownership::borrowed);
        EXPECT_NE(::fcntl(fds[1], F_GETFL) & O_NONBLOCK, 0);
    }
    EXPECT_EQ(::fcntl(fds[1], F_GETFL) & O_NONBLOCK, 0) << "the borrowed pipe's flags came back";
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST(Sink, StalledReaderIsGivenUpOnOnceAskedToStop) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0); // nobody reads fds[0]
    FdSink sink(fds[1], "pipe", SinkKind::stream, FdSink::Ownership::owned);
    int asked = 0;
    sink.set_give_up([&asked] { return ++asked > 3; }); // "stop" after some 0.3 s
    const auto start = std::chrono::steady_clock::now();
    try {
        sink.write(pattern(1 << 20));
        FAIL() << "expected WriteError";
    } catch (const nfcap::WriteError& e) {
        EXPECT_NE(std::string(e.what()).find("gave up writing to pipe"), std::string::npos)
            << e.what();
    }
    // The reader had taken nothing for long already: it is given up on at once (after the
    // 0.5 s it has not read, some 0.4 s of which passed before the "stop").
    EXPECT_LT(seconds_since(start), 2.0);
    EXPECT_EQ(asked, 4);
    ::close(fds[0]);
}

TEST(Sink, StalledReaderWithoutAStopIsWaitedFor) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const auto data = pattern(1 << 20);
    std::vector<std::byte> received;
    std::thread reader([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(400)); // stalled, then reads
        received = read_all(fds[0]);
    });
    {
        FdSink sink(fds[1], "pipe", SinkKind::stream, FdSink::Ownership::owned);
        int asked = 0;
        sink.set_give_up([&asked] {
            ++asked;
            return false;
        });
        sink.write(data);
        EXPECT_GT(asked, 0); // it did wait, asking
    }
    reader.join();
    ::close(fds[0]);
    EXPECT_EQ(received, data);
}

TEST(Sink, SlowReaderIsGivenUpOnAtMostOneAndAHalfSecondsAfterTheStop) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::atomic<bool> done{false};
    std::thread reader([&] { // takes a little every 200 ms: progress, but far too slowly
        std::array<std::byte, 4096> some{}; // a whole pipe page: room for the writer
        while (!done) {
            (void)!::read(fds[0], some.data(), some.size());
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    });
    FdSink sink(fds[1], "pipe", SinkKind::stream, FdSink::Ownership::owned);
    sink.set_give_up([] { return true; });
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(sink.write(pattern(1 << 20)), nfcap::WriteError);
    const double took = seconds_since(start);
    EXPECT_GE(took, 1.4);
    EXPECT_LT(took, 3.0); // 1.5 s, plus slack for a loaded machine (seen: 2.3 s during ctest)
    // The pipe still holds data: the reader's next read returns, and it stops.
    done = true;
    reader.join();
    ::close(fds[0]);
}
