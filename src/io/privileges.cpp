#include <nfcap/privileges.hpp>

#include "system_error.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace nfcap {
namespace {

struct CapFree {
    void operator()(cap_t caps) const { cap_free(caps); }
};
using Caps = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

} // namespace

UserAccount find_user(const std::string& name) {
    // getpwnam_r reports a missing user as a null result with 0 or one of these errors.
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* result = nullptr;
    int error = 0;
    while ((error = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result)) ==
               ERANGE &&
           buffer.size() < (1U << 20U)) {
        buffer.resize(buffer.size() * 4);
    }
    if (result == nullptr) {
        if (error == 0 || error == ENOENT || error == ESRCH || error == EBADF || error == EPERM) {
            throw std::invalid_argument("-Z: no such user '" + name + "'");
        }
        detail::throw_errno("-Z: cannot look up user '" + name + "'", error);
    }
    return UserAccount{entry.pw_name, entry.pw_uid, entry.pw_gid};
}

void check_can_switch(const UserAccount& user) {
    if (::getuid() == user.uid && ::geteuid() == user.uid && ::getgid() == user.gid &&
        ::getegid() == user.gid) {
        return; // only capabilities to give up
    }
    const Caps held(cap_get_proc());
    for (const cap_value_t needed : {CAP_SETUID, CAP_SETGID, CAP_CHOWN}) {
        cap_flag_value_t value = CAP_CLEAR;
        if (!held || cap_get_flag(held.get(), needed, CAP_EFFECTIVE, &value) != 0 ||
            value != CAP_SET) {
            throw std::runtime_error("cannot switch to user " + user.name +
                                     ": that needs root (CAP_SETUID, CAP_SETGID and CAP_CHOWN)");
        }
    }
}

void switch_user(const UserAccount& user, KeepCapability keep) {
    const std::string what = "cannot switch to user " + user.name;
    const cap_value_t net_admin = CAP_NET_ADMIN;
    // The bounding set limits what any later execve could gain; emptying it needs CAP_SETPCAP,
    // which a process started with only CAP_NET_ADMIN (setcap) lacks: then it stays as it is.
    for (cap_value_t c = 0; CAP_IS_SUPPORTED(c); ++c) {
        if (keep == KeepCapability::net_admin && c == net_admin) {
            continue;
        }
        if (cap_drop_bound(c) != 0 && errno != EPERM) {
            detail::throw_errno(what + " (dropping capability " + std::to_string(c) +
                                " from the bounding set)");
        }
    }
    // Without KEEPCAPS, setting every uid to non-zero empties the permitted set, and
    // CAP_NET_ADMIN could not be raised again.
    if (::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
        detail::throw_errno(what + " (PR_SET_KEEPCAPS)");
    }
    // Already that user (a binary given cap_net_admin with setcap, run by the user itself):
    // only the capabilities change; changing ids and groups would need CAP_SETUID and CAP_SETGID.
    uid_t ruid = 0, euid = 0, suid = 0;
    gid_t rgid = 0, egid = 0, sgid = 0;
    const bool same_ids = ::getresuid(&ruid, &euid, &suid) == 0 &&
                          ::getresgid(&rgid, &egid, &sgid) == 0 && ruid == user.uid &&
                          euid == user.uid && suid == user.uid && rgid == user.gid &&
                          egid == user.gid && sgid == user.gid;
    if (!same_ids) {
        if (::initgroups(user.name.c_str(), user.gid) != 0) {
            detail::throw_errno(what + " (initgroups)");
        }
        if (::setresgid(user.gid, user.gid, user.gid) != 0) {
            detail::throw_errno(what + " (setresgid " + std::to_string(user.gid) + ")");
        }
        if (::setresuid(user.uid, user.uid, user.uid) != 0) {
            detail::throw_errno(what + " (setresuid " + std::to_string(user.uid) + ")");
        }
    }
    (void)::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);

    // Permitted and effective: CAP_NET_ADMIN or nothing; inheritable empty.
    const Caps wanted(cap_init());
    if (!wanted) {
        detail::throw_errno(what + " (cap_init)");
    }
    if (keep == KeepCapability::net_admin &&
        (cap_set_flag(wanted.get(), CAP_PERMITTED, 1, &net_admin, CAP_SET) != 0 ||
         cap_set_flag(wanted.get(), CAP_EFFECTIVE, 1, &net_admin, CAP_SET) != 0)) {
        detail::throw_errno(what + " (cap_set_flag)");
    }
    if (cap_set_proc(wanted.get()) != 0) {
        detail::throw_errno(
            what + " (keeping only " +
            (keep == KeepCapability::net_admin ? "CAP_NET_ADMIN" : "no capability") + ")");
    }
    // Emptying the ambient set cannot fail where it exists (it is a subset of the others now).
    (void)cap_reset_ambient();

    // Check what the kernel now holds instead of trusting the calls above.
    const Caps held(cap_get_proc());
    if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0 || !held ||
        ruid != user.uid || euid != user.uid || suid != user.uid || rgid != user.gid ||
        egid != user.gid || sgid != user.gid || cap_compare(held.get(), wanted.get()) != 0) {
        throw std::runtime_error(what + ": the process still holds other ids or capabilities");
    }
}

std::string network_namespace_path(const std::string& name_or_path) {
    if (name_or_path.find('/') != std::string::npos) {
        return name_or_path;
    }
    if (name_or_path.empty() || name_or_path == "." || name_or_path == "..") {
        throw std::invalid_argument("invalid --netns '" + name_or_path +
                                    "': give a name from `ip netns list` or a path");
    }
    return "/run/netns/" + name_or_path;
}

void enter_network_namespace(const std::string& name_or_path) {
    const std::string path = network_namespace_path(name_or_path);
    const std::string given = name_or_path + (path == name_or_path ? "" : " (" + path + ")");
    const std::string named = "network namespace " + given;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        if (error == ENOENT && path != name_or_path) {
            throw std::runtime_error("no " + named + "; `ip netns add " + name_or_path +
                                     "` makes one, `ip netns list` shows them");
        }
        detail::throw_errno("cannot open " + named, error);
    }
    const int entered = ::setns(fd, CLONE_NEWNET);
    const int error = errno;
    ::close(fd);
    if (entered != 0) {
        if (error == EINVAL) {
            throw std::runtime_error(given + " is not a network namespace");
        }
        if (error == EPERM) {
            throw std::runtime_error("cannot enter " + named +
                                     ": operation not permitted (setns needs CAP_SYS_ADMIN)");
        }
        detail::throw_errno("cannot enter " + named, error);
    }
}

} // namespace nfcap
