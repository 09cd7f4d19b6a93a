#include <nfcap/interface_cache.hpp>

#include "netlink_socket.hpp"
#include "thread_name.hpp"

#include <net/if.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>

namespace nfcap {
namespace {

// Link events are small, but a burst (many links created at once, a namespace torn down) must
// not overflow before the event thread gets to run: an overflow loses names (see relist()).
constexpr int event_buffer = 4 << 20;

// The interfaces of the namespace now, by index.
std::unordered_map<std::uint32_t, std::string> list_interfaces() {
    std::unordered_map<std::uint32_t, std::string> names;
    if (struct if_nameindex* list = ::if_nameindex(); list != nullptr) {
        for (const struct if_nameindex* i = list; i->if_index != 0; ++i) {
            names[i->if_index] = i->if_name;
        }
        ::if_freenameindex(list);
    }
    return names;
}

} // namespace

InterfaceCache::InterfaceCache(Start when) {
    // Subscribe first, then list: a change between the two shows up as an event (and one the
    // listing already shows is passed over, being no change).
    socket_ = detail::NetlinkSocket::route(RTMGRP_LINK, event_buffer);
    current_ = list_interfaces();
    for (const auto& [index, name] : current_) {
        history_.named(index, name, Timestamp{}); // valid for every record before now
    }
    if (!socket_) {
        return;
    }
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) {
        socket_.reset();
        return;
    }
    if (when == Start::now) {
        try {
            start();
        } catch (...) { // no destructor runs for a constructor that throws
            ::close(stop_fd_);
            throw;
        }
    }
}

void InterfaceCache::start() {
    if (!socket_ || thread_.joinable()) {
        return;
    }
    // Signals belong to the program's own threads: the event thread is created with all of them
    // blocked (a thread inherits its creator's mask).
    sigset_t all{};
    sigset_t previous{};
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    try {
        thread_ = std::thread([this] {
            detail::name_this_thread("nfcap-names");
            watch();
        });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

InterfaceCache::~InterfaceCache() {
    if (thread_.joinable()) {
        const std::uint64_t one = 1;
        (void)!::write(stop_fd_, &one, sizeof one);
        thread_.join();
    }
    if (stop_fd_ >= 0) {
        ::close(stop_fd_);
    }
}

void InterfaceCache::watch() {
    std::array<pollfd, 2> fds{pollfd{socket_->fd(), POLLIN, 0}, pollfd{stop_fd_, POLLIN, 0}};
    for (;;) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; // cannot happen with valid descriptors; names then stay as they are
        }
        if ((fds[1].revents & POLLIN) != 0 || (fds[0].revents & POLLNVAL) != 0) {
            return;
        }
        read_events(); // also after POLLERR: an overflow, which recv() reports as ENOBUFS
    }
}

void InterfaceCache::read_events() {
    std::array<std::byte, 32768> buffer{};
    for (;;) {
        const long n = socket_->receive_one(buffer);
        if (n < 0) {
            if (n == -ENOBUFS) {
                relist();
                continue;
            }
            return; // EAGAIN: nothing pending
        }
        // One datagram at a time, each published at once: its time is taken right after it was
        // read, never after a longer batch.
        parse(std::span(buffer.data(), static_cast<std::size_t>(n)));
        publish();
    }
}

void InterfaceCache::parse(std::span<const std::byte> datagram) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data()); // netlink ABI
    auto remaining = static_cast<int>(datagram.size());
    for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
        if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
            nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) {
            continue;
        }
        const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
        const auto index = static_cast<std::uint32_t>(info->ifi_index);
        if (nlh->nlmsg_type == RTM_DELLINK) {
            if (current_.erase(index) != 0) {
                parsed_.push_back(LinkEvent{index, true, {}, {}});
            }
            continue;
        }
        const auto* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
        const auto* attr =
            static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(ifinfomsg)));
        for (; mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
             attr = mnl_attr_next(attr)) {
            if (mnl_attr_get_type(attr) != IFLA_IFNAME ||
                mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) != 0) {
                continue;
            }
            // Most link events change flags, carrier or counters: only a new name is news.
            const std::string_view name = mnl_attr_get_str(attr);
            auto [known, added] = current_.try_emplace(index, name);
            if (added || known->second != name) {
                known->second = name;
                parsed_.push_back(LinkEvent{index, false, std::string(name), {}});
            }
        }
    }
}

void InterfaceCache::relist() {
    // Events were lost. The listing is valid from now: the names it shows win from here on,
    // indices missing from it were deleted.
    auto now = list_interfaces();
    for (const auto& [index, name] : current_) {
        if (!now.contains(index)) {
            parsed_.push_back(LinkEvent{index, true, {}, {}});
        }
    }
    for (const auto& [index, name] : now) {
        const auto known = current_.find(index);
        if (known == current_.end() || known->second != name) {
            parsed_.push_back(LinkEvent{index, false, name, {}});
        }
    }
    current_ = std::move(now);
    publish();
}

void InterfaceCache::publish() {
    if (parsed_.empty()) {
        return;
    }
    std::lock_guard lock(mutex_);
    // The counter moves before the clock is read: a caller that still sees the old count
    // (update()) is resolving records of packets that passed before this read, so before the
    // time these events get, and the events could not change their names anyway.
    published_.fetch_add(1);
    const Timestamp now = detail::wall_clock();
    for (auto& event : parsed_) {
        event.time = now;
        pending_.push_back(std::move(event));
    }
    published_.fetch_add(1);
    parsed_.clear();
}

void InterfaceCache::update() {
    if (published_.load() == applied_) {
        return; // the hot path: one atomic load
    }
    {
        std::lock_guard lock(mutex_);
        applied_ = published_.load(); // even: batches are queued under the lock
        applying_.swap(pending_);
    }
    for (const LinkEvent& event : applying_) {
        apply(event);
    }
    applying_.clear();
}

void InterfaceCache::apply(const LinkEvent& event) {
    if (event.deleted) {
        history_.deleted(event.ifindex, event.time);
    } else {
        history_.named(event.ifindex, event.name, event.time);
    }
}

std::string_view InterfaceCache::name(std::uint32_t ifindex, Timestamp when) {
    NameSpan span;
    return name_with_span(ifindex, when, span);
}

std::string_view InterfaceCache::name_with_span(std::uint32_t ifindex, Timestamp when,
                                                NameSpan& span) {
    update();
    span.version = history_.version();
    if (const std::string_view known = history_.name(ifindex, when, span.from, span.until);
        !known.empty()) {
        return known;
    }
    // Unknown: not in the listing and no event named it (no event socket, or events lost).
    span.version = 0; // asked again next time
    std::array<char, IF_NAMESIZE> buffer{};
    if (::if_indextoname(ifindex, buffer.data()) == nullptr) {
        return {};
    }
    history_.named(ifindex, buffer.data(), Timestamp{});
    span.version = history_.version();
    return history_.name(ifindex, when, span.from, span.until);
}

std::uint64_t InterfaceCache::version() {
    update();
    return history_.version();
}

} // namespace nfcap
