// nfcap_traffic: the bounded traffic generator used by the privileged tests.
//
// Standalone on purpose (no nfcap libraries): it must keep working while the code under test is
// broken. Every loop is bounded by a packet or byte count and by a wall-clock timeout.
//
//   udp-send DST PORT COUNT SIZE [--rate PPS] [--batch B] [--timeout S] [--src-port P]
//   udp-recv PORT COUNT [--timeout S] [--bind ADDR]
//   tcp-server PORT BYTES [--timeout S] [--bind ADDR]
//   tcp-client DST PORT BYTES [--timeout S]
//
// UDP payload of packet k (k from 0): bytes 0..3 = "NFCT", bytes 4..11 = k as a big-endian u64,
// byte i >= 12 = (k + i) & 0xff. TCP stream: byte j = (j * 31 + 7) & 0xff.
//
// Exit status: 0 success, 1 failure or timeout, 2 bad usage (one line on stderr).

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view k_magic = "NFCT";
constexpr std::size_t k_header_size = 12; // magic + big-endian u64 sequence number
constexpr std::size_t k_max_udp_size = 65507;
constexpr unsigned k_max_batch = 1024; // UIO_MAXIOV, the kernel's limit for sendmmsg

// Bad command line: exit status 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Anything that goes wrong at run time: exit status 1.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_errno(const std::string& what) {
    throw Failure(what + ": " + std::system_category().message(errno));
}

// Owns one file descriptor.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const { return fd_; }

  private:
    int fd_;
};

// --- payload patterns ---------------------------------------------------------------------

std::uint8_t udp_pattern_byte(std::uint64_t k, std::size_t i) {
    return static_cast<std::uint8_t>((k + i) & 0xffU);
}

void fill_udp_payload(std::uint64_t k, std::vector<std::uint8_t>& buf) {
    std::copy(k_magic.begin(), k_magic.end(), buf.begin());
    for (std::size_t b = 0; b < 8; ++b) {
        buf[4 + b] = static_cast<std::uint8_t>((k >> (8 * (7 - b))) & 0xffU);
    }
    for (std::size_t i = k_header_size; i < buf.size(); ++i) {
        buf[i] = udp_pattern_byte(k, i);
    }
}

bool udp_payload_ok(const std::uint8_t* data, std::size_t len) {
    if (len < k_header_size || !std::equal(k_magic.begin(), k_magic.end(), data)) {
        return false;
    }
    std::uint64_t k = 0;
    for (std::size_t b = 0; b < 8; ++b) {
        k = (k << 8) | data[4 + b];
    }
    for (std::size_t i = k_header_size; i < len; ++i) {
        if (data[i] != udp_pattern_byte(k, i)) {
            return false;
        }
    }
    return true;
}

std::uint8_t tcp_pattern_byte(std::uint64_t j) {
    return static_cast<std::uint8_t>((j * 31 + 7) & 0xffU);
}

// --- command line -------------------------------------------------------------------------

std::uint64_t parse_uint(std::string_view what, std::string_view text, std::uint64_t min,
                         std::uint64_t max) {
    std::uint64_t value = 0;
    if (text.empty() || text.size() > 20) {
        throw UsageError(std::string(what) + " must be a number, got '" + std::string(text) + "'");
    }
    for (char c : text) {
        if (c < '0' || c > '9') {
            throw UsageError(std::string(what) + " must be a number, got '" + std::string(text) +
                             "'");
        }
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            throw UsageError(std::string(what) + " is too large");
        }
        value = value * 10 + digit;
    }
    if (value < min || value > max) {
        throw UsageError(std::string(what) + " must be in " + std::to_string(min) + ".." +
                         std::to_string(max) + ", got " + std::string(text));
    }
    return value;
}

// Seconds, possibly fractional ("0.5"), strictly positive, at most a day.
Clock::duration parse_seconds(std::string_view what, std::string_view text) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(value) ||
        value <= 0.0 || value > 86400.0) {
        throw UsageError(std::string(what) + " must be a number of seconds in (0, 86400], got '" +
                         s + "'");
    }
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(value));
}

struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_UNSPEC;

    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// An IPv4 or IPv6 literal; names are refused so that no lookup ever leaves the namespace.
Address parse_address(std::string_view text, std::uint16_t port) {
    const std::string s(text);
    Address a;
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    if (::inet_pton(AF_INET, s.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        std::memcpy(&a.storage, &v4, sizeof v4);
        a.length = sizeof v4;
        a.family = AF_INET;
    } else if (::inet_pton(AF_INET6, s.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        std::memcpy(&a.storage, &v6, sizeof v6);
        a.length = sizeof v6;
        a.family = AF_INET6;
    } else {
        throw UsageError("'" + s + "' is not an IPv4 or IPv6 address literal");
    }
    return a;
}

// Positional arguments plus "--name value" options, each option allowed at most once.
class Args {
  public:
    Args(std::vector<std::string_view> argv, std::vector<std::string_view> allowed) {
        for (std::size_t i = 0; i < argv.size(); ++i) {
            const std::string_view arg = argv[i];
            if (arg.size() > 2 && arg.substr(0, 2) == "--") {
                const std::string_view name = arg.substr(2);
                if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
                    throw UsageError("unknown option '" + std::string(arg) + "'");
                }
                if (i + 1 >= argv.size()) {
                    throw UsageError("option '" + std::string(arg) + "' needs a value");
                }
                if (find(name)) {
                    throw UsageError("option '" + std::string(arg) + "' given twice");
                }
                options_.emplace_back(name, argv[++i]);
            } else {
                positional_.push_back(arg);
            }
        }
    }

    void expect_positional(std::size_t n) const {
        if (positional_.size() != n) {
            throw UsageError("expected " + std::to_string(n) + " arguments, got " +
                             std::to_string(positional_.size()));
        }
    }
    std::string_view positional(std::size_t i) const { return positional_.at(i); }

    std::optional<std::string_view> find(std::string_view name) const {
        for (const auto& [key, value] : options_) {
            if (key == name) {
                return value;
            }
        }
        return std::nullopt;
    }

    Clock::duration timeout(Clock::duration fallback) const {
        const auto v = find("timeout");
        return v ? parse_seconds("--timeout", *v) : fallback;
    }

  private:
    std::vector<std::string_view> positional_;
    std::vector<std::pair<std::string_view, std::string_view>> options_;
};

std::uint16_t parse_port(std::string_view what, std::string_view text) {
    return static_cast<std::uint16_t>(parse_uint(what, text, 1, 65535));
}

// --- socket helpers -----------------------------------------------------------------------

Fd make_socket(int family, int type) {
    const int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_errno("socket");
    }
    return Fd(fd);
}

void set_int_option(const Fd& fd, int level, int name, int value, const char* what) {
    if (::setsockopt(fd.get(), level, name, &value, sizeof value) != 0) {
        throw_errno(std::string("setsockopt ") + what);
    }
}

// Binds a listening/receiving socket. Without --bind: the IPv6 wildcard accepting IPv4 too.
Fd bound_socket(const std::optional<std::string_view>& bind_text, std::uint16_t port, int type) {
    Address a = parse_address(bind_text.value_or("::"), port);
    Fd fd = make_socket(a.family, type);
    set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (a.family == AF_INET6 && !bind_text) {
        set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY");
    }
    if (::bind(fd.get(), a.sa(), a.length) != 0) {
        throw_errno("bind to port " + std::to_string(port));
    }
    return fd;
}

// Milliseconds left until the deadline, rounded up so that poll never spins; 0 when past it.
int poll_ms(Clock::time_point deadline, Clock::duration cap = 1s) {
    const auto left = std::min(deadline - Clock::now(), cap);
    if (left <= Clock::duration::zero()) {
        return 0;
    }
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::clamp<std::int64_t>(ms, 1, 1000));
}

// Waits for `events` on fd until the deadline. Returns false on timeout.
bool wait_for(const Fd& fd, short events, Clock::time_point deadline) {
    while (Clock::now() < deadline) {
        pollfd p{fd.get(), events, 0};
        const int r = ::poll(&p, 1, poll_ms(deadline));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("poll");
        }
        if (r > 0) {
            return true;
        }
    }
    return false;
}

// --- subcommands --------------------------------------------------------------------------

int udp_send(const Args& args) {
    args.expect_positional(4);
    const std::uint16_t port = parse_port("PORT", args.positional(1));
    const Address dst = parse_address(args.positional(0), port);
    const std::uint64_t count =
        parse_uint("COUNT", args.positional(2), 0, std::numeric_limits<std::uint64_t>::max());
    const auto size = static_cast<std::size_t>(parse_uint(
        "SIZE", args.positional(3), k_header_size, dst.family == AF_INET ? k_max_udp_size : 65527));
    const auto rate_text = args.find("rate");
    const std::uint64_t rate = rate_text ? parse_uint("--rate", *rate_text, 0, 100'000'000) : 0;
    const auto batch_text = args.find("batch");
    const auto batch =
        static_cast<unsigned>(batch_text ? parse_uint("--batch", *batch_text, 1, k_max_batch) : 64);
    const auto src_text = args.find("src-port");
    const Clock::time_point start = Clock::now();
    const Clock::time_point deadline = start + args.timeout(30s);

    Fd fd = make_socket(dst.family, SOCK_DGRAM);
    if (src_text) {
        const Address src = parse_address(dst.family == AF_INET ? "0.0.0.0" : "::",
                                          parse_port("--src-port", *src_text));
        set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
        if (::bind(fd.get(), src.sa(), src.length) != 0) {
            throw_errno("bind to source port");
        }
    }

    // The socket stays unconnected (destination in every message) so that ICMP errors from a
    // port nobody listens on do not turn into ECONNREFUSED on later sends.
    std::vector<std::vector<std::uint8_t>> buffers(batch, std::vector<std::uint8_t>(size));
    std::vector<iovec> iov(batch);
    std::vector<mmsghdr> msgs(batch);
    sockaddr_storage dst_copy = dst.storage;
    for (unsigned m = 0; m < batch; ++m) {
        iov[m].iov_base = buffers[m].data();
        iov[m].iov_len = size;
        msgs[m] = mmsghdr{};
        msgs[m].msg_hdr.msg_name = &dst_copy;
        msgs[m].msg_hdr.msg_namelen = dst.length;
        msgs[m].msg_hdr.msg_iov = &iov[m];
        msgs[m].msg_hdr.msg_iovlen = 1;
    }

    std::uint64_t sent = 0;
    bool timed_out = false;
    while (sent < count) {
        const Clock::time_point now = Clock::now();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        std::uint64_t n = std::min<std::uint64_t>(batch, count - sent);
        if (rate > 0) {
            // Packet k is due at start + k / rate; send whatever is due, at most one batch.
            const double elapsed = std::chrono::duration<double>(now - start).count();
            const auto due = static_cast<std::uint64_t>(elapsed * static_cast<double>(rate)) + 1;
            if (due <= sent) {
                const auto next =
                    start +
                    std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                        static_cast<double>(sent) / static_cast<double>(rate)));
                std::this_thread::sleep_until(std::min(next, deadline));
                continue;
            }
            n = std::min(n, due - sent);
        }
        for (std::uint64_t m = 0; m < n; ++m) {
            fill_udp_payload(sent + m, buffers[m]);
        }
        const int r = ::sendmmsg(fd.get(), msgs.data(), static_cast<unsigned>(n), 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS || errno == EAGAIN || errno == EWOULDBLOCK) {
                // Queue full: nothing of this batch left; retry the same packets shortly.
                std::this_thread::sleep_for(200us);
                continue;
            }
            const int saved = errno;
            std::printf("sent=%llu\n", static_cast<unsigned long long>(sent));
            errno = saved;
            throw_errno("sendmmsg");
        }
        sent += static_cast<std::uint64_t>(r);
    }
    std::printf("sent=%llu\n", static_cast<unsigned long long>(sent));
    if (timed_out) {
        std::fprintf(stderr, "nfcap_traffic: timeout after sending %llu of %llu datagrams\n",
                     static_cast<unsigned long long>(sent), static_cast<unsigned long long>(count));
        return 1;
    }
    return 0;
}

int udp_recv(const Args& args) {
    args.expect_positional(2);
    const std::uint16_t port = parse_port("PORT", args.positional(0));
    const std::uint64_t count =
        parse_uint("COUNT", args.positional(1), 0, std::numeric_limits<std::uint64_t>::max());
    const Clock::time_point deadline = Clock::now() + args.timeout(30s);

    Fd fd = bound_socket(args.find("bind"), port, SOCK_DGRAM);
    // A large receive buffer so that a fast sender on the same machine is not dropped here.
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the capped SO_RCVBUF is still better.
    const int want = 8 << 20;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }

    constexpr unsigned slots = 32;
    constexpr std::size_t slot_size = 65536;
    std::vector<std::uint8_t> storage(slots * slot_size);
    std::array<iovec, slots> iov{};
    std::array<mmsghdr, slots> msgs{};

    std::uint64_t received = 0;
    std::uint64_t bad = 0;
    while (received < count) {
        if (!wait_for(fd, POLLIN, deadline)) {
            break;
        }
        const auto want_n = static_cast<unsigned>(std::min<std::uint64_t>(slots, count - received));
        for (unsigned m = 0; m < want_n; ++m) {
            iov[m].iov_base = storage.data() + m * slot_size;
            iov[m].iov_len = slot_size;
            msgs[m] = mmsghdr{};
            msgs[m].msg_hdr.msg_iov = &iov[m];
            msgs[m].msg_hdr.msg_iovlen = 1;
        }
        const int r = ::recvmmsg(fd.get(), msgs.data(), want_n, MSG_DONTWAIT, nullptr);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                continue;
            }
            throw_errno("recvmmsg");
        }
        for (int m = 0; m < r; ++m) {
            const auto idx = static_cast<std::size_t>(m);
            const bool truncated = (msgs[idx].msg_hdr.msg_flags & MSG_TRUNC) != 0;
            if (truncated || !udp_payload_ok(storage.data() + idx * slot_size, msgs[idx].msg_len)) {
                ++bad;
            }
        }
        received += static_cast<std::uint64_t>(r);
    }
    std::printf("received=%llu bad=%llu\n", static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(bad));
    if (received < count) {
        std::fprintf(stderr, "nfcap_traffic: timeout after receiving %llu of %llu datagrams\n",
                     static_cast<unsigned long long>(received),
                     static_cast<unsigned long long>(count));
        return 1;
    }
    return bad == 0 ? 0 : 1;
}

int tcp_server(const Args& args) {
    args.expect_positional(2);
    const std::uint16_t port = parse_port("PORT", args.positional(0));
    const std::uint64_t bytes =
        parse_uint("BYTES", args.positional(1), 0, std::numeric_limits<std::uint64_t>::max());
    const Clock::time_point deadline = Clock::now() + args.timeout(30s);

    Fd listener = bound_socket(args.find("bind"), port, SOCK_STREAM | SOCK_NONBLOCK);
    if (::listen(listener.get(), 1) != 0) {
        throw_errno("listen");
    }
    std::optional<Fd> conn;
    while (!conn) {
        if (!wait_for(listener, POLLIN, deadline)) {
            std::printf("received=0 bad=0\n");
            std::fprintf(stderr, "nfcap_traffic: timeout waiting for a connection\n");
            return 1;
        }
        const int c = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) {
            conn.emplace(c);
        } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK &&
                   errno != ECONNABORTED) {
            throw_errno("accept");
        }
    }

    std::vector<std::uint8_t> buf(65536);
    std::uint64_t received = 0;
    std::uint64_t bad = 0;
    const char* problem = nullptr;
    while (received < bytes) {
        if (!wait_for(*conn, POLLIN, deadline)) {
            problem = "timeout";
            break;
        }
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bytes - received));
        const ssize_t r = ::recv(conn->get(), buf.data(), want, 0);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                continue;
            }
            throw_errno("recv");
        }
        if (r == 0) {
            problem = "connection closed early";
            break;
        }
        for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i) {
            if (buf[i] != tcp_pattern_byte(received + i)) {
                ++bad;
            }
        }
        received += static_cast<std::uint64_t>(r);
    }
    std::printf("received=%llu bad=%llu\n", static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(bad));
    if (problem) {
        std::fprintf(stderr, "nfcap_traffic: %s after %llu of %llu bytes\n", problem,
                     static_cast<unsigned long long>(received),
                     static_cast<unsigned long long>(bytes));
        return 1;
    }
    return bad == 0 ? 0 : 1;
}

bool connect_retryable(int err) {
    return err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH ||
           err == ECONNRESET || err == EAGAIN || err == EADDRNOTAVAIL;
}

int tcp_client(const Args& args) {
    args.expect_positional(3);
    const std::uint16_t port = parse_port("PORT", args.positional(1));
    const Address dst = parse_address(args.positional(0), port);
    const std::uint64_t bytes =
        parse_uint("BYTES", args.positional(2), 0, std::numeric_limits<std::uint64_t>::max());
    const Clock::time_point deadline = Clock::now() + args.timeout(30s);

    // Connect, retrying while the server is still starting.
    std::optional<Fd> conn;
    int last_error = ETIMEDOUT;
    while (!conn && Clock::now() < deadline) {
        Fd fd = make_socket(dst.family, SOCK_STREAM | SOCK_NONBLOCK);
        int err = 0;
        if (::connect(fd.get(), dst.sa(), dst.length) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                if (!wait_for(fd, POLLOUT, deadline)) {
                    break;
                }
                socklen_t len = sizeof err;
                if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                    throw_errno("getsockopt SO_ERROR");
                }
            }
        }
        if (err == 0) {
            conn.emplace(std::move(fd));
        } else if (connect_retryable(err) || err == EINTR) {
            last_error = err;
            std::this_thread::sleep_until(std::min(Clock::now() + 100ms, deadline));
        } else {
            errno = err;
            throw_errno("connect");
        }
    }
    if (!conn) {
        std::printf("sent=0\n");
        std::fprintf(stderr, "nfcap_traffic: could not connect before the timeout (last: %s)\n",
                     std::system_category().message(last_error).c_str());
        return 1;
    }

    std::vector<std::uint8_t> buf(65536);
    std::uint64_t sent = 0;
    const char* problem = nullptr;
    while (sent < bytes) {
        if (!wait_for(*conn, POLLOUT, deadline)) {
            problem = "timeout while sending";
            break;
        }
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bytes - sent));
        for (std::size_t i = 0; i < n; ++i) {
            buf[i] = tcp_pattern_byte(sent + i);
        }
        const ssize_t r = ::send(conn->get(), buf.data(), n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                continue;
            }
            const int saved = errno;
            std::printf("sent=%llu\n", static_cast<unsigned long long>(sent));
            errno = saved;
            throw_errno("send");
        }
        sent += static_cast<std::uint64_t>(r);
    }
    if (!problem) {
        // Half-close and wait for the server's close: the bytes were then read, not just queued.
        if (::shutdown(conn->get(), SHUT_WR) != 0) {
            throw_errno("shutdown");
        }
        while (true) {
            if (!wait_for(*conn, POLLIN, deadline)) {
                problem = "timeout waiting for the server to close";
                break;
            }
            const ssize_t r = ::recv(conn->get(), buf.data(), buf.size(), 0);
            if (r == 0 || (r < 0 && errno == ECONNRESET)) {
                break;
            }
            if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                throw_errno("recv");
            }
        }
    }
    std::printf("sent=%llu\n", static_cast<unsigned long long>(sent));
    if (problem) {
        std::fprintf(stderr, "nfcap_traffic: %s (%llu of %llu bytes sent)\n", problem,
                     static_cast<unsigned long long>(sent), static_cast<unsigned long long>(bytes));
        return 1;
    }
    return 0;
}

struct Command {
    std::string_view name;
    std::string_view usage;
    std::vector<std::string_view> options;
    int (*run)(const Args&);
};

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"udp-send",
         "udp-send DST PORT COUNT SIZE [--rate PPS] [--batch B] [--timeout S] [--src-port P]",
         {"rate", "batch", "timeout", "src-port"},
         udp_send},
        {"udp-recv",
         "udp-recv PORT COUNT [--timeout S] [--bind ADDR]",
         {"timeout", "bind"},
         udp_recv},
        {"tcp-server",
         "tcp-server PORT BYTES [--timeout S] [--bind ADDR]",
         {"timeout", "bind"},
         tcp_server},
        {"tcp-client", "tcp-client DST PORT BYTES [--timeout S]", {"timeout"}, tcp_client},
    };
    return table;
}

int run(int argc, char** argv) {
    std::vector<std::string_view> words(argv + 1, argv + argc);
    if (words.empty()) {
        std::fprintf(stderr, "usage: nfcap_traffic udp-send|udp-recv|tcp-server|tcp-client ...\n");
        return 2;
    }
    for (const Command& c : commands()) {
        if (c.name != words.front()) {
            continue;
        }
        try {
            const Args args(std::vector<std::string_view>(words.begin() + 1, words.end()),
                            c.options);
            return c.run(args);
        } catch (const UsageError& e) {
            std::fprintf(stderr, "nfcap_traffic: %s (usage: nfcap_traffic %.*s)\n", e.what(),
                         static_cast<int>(c.usage.size()), c.usage.data());
            return 2;
        }
    }
    std::fprintf(stderr,
                 "nfcap_traffic: unknown command '%.*s' (expected udp-send, udp-recv, "
                 "tcp-server or tcp-client)\n",
                 static_cast<int>(words.front().size()), words.front().data());
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    try {
        const int status = run(argc, argv);
        std::fflush(stdout);
        return status;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "nfcap_traffic: %s\n", e.what());
        return 1;
    }
}
