#include <nfcap/sink.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
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

TEST(Sink, MemorySinkCollects) {
    nfcap::MemorySink sink;
    sink.write(pattern(3));
    sink.write(pattern(2));
    EXPECT_EQ(sink.data.size(), 5U);
}
