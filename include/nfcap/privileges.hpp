#pragma once
// Least privilege for a capture: enter another network namespace before any socket exists, and
// give up root once the sockets are bound and the first output file is open (tcpdump's -Z).
// Both change the calling thread's credentials or namespace, so they must run while the process
// has one thread, before LiveCapture::run starts the receive threads (which inherit them).

#include <cstdint>
#include <string>

namespace nfcap {

// A user to run as, looked up once (before anything is opened, so a typo costs nothing).
struct UserAccount {
    std::string name;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0; // the primary group
};

// Looks up `name` in the user database (getpwnam_r). Throws std::invalid_argument naming it
// when there is no such user (a bad argument), std::system_error when the lookup itself fails.
UserAccount find_user(const std::string& name);

// Throws std::runtime_error when switch_user(user) is bound to fail because the process is
// another user and lacks CAP_SETUID, CAP_SETGID or CAP_CHOWN (it is not root): called before
// anything is opened, so that no file is left behind.
void check_can_switch(const UserAccount& user);

// What survives the switch: a live capture keeps CAP_NET_ADMIN, which every netlink message to
// nfnetlink needs from the sender (NFQUEUE verdicts, unbinding at the end); a replay keeps
// nothing.
enum class KeepCapability { none, net_admin };

// Switches the process to `user`: supplementary groups from the group database (initgroups),
// real, effective and saved gid and uid, then the permitted and effective capability sets
// reduced to `keep` (inheritable and ambient emptied, and, when CAP_SETPCAP allows it, the
// bounding set too), so that neither root nor another capability can be regained. Verifies the
// result. Throws std::system_error naming the step that failed (without CAP_SETUID and
// CAP_SETGID the switch is refused by the kernel).
void switch_user(const UserAccount& user, KeepCapability keep);

// The file of network namespace `name_or_path`: a path when it contains '/'
// (/proc/PID/ns/net, /run/netns/NAME), else /run/netns/NAME as `ip netns add NAME` makes it.
std::string network_namespace_path(const std::string& name_or_path);

// Moves the calling thread into that network namespace (setns, which needs CAP_SYS_ADMIN).
// Sockets created afterwards, and threads started afterwards, belong to it; open sockets and
// the mount namespace (file paths) do not change. Throws std::runtime_error with a one-line
// reason naming the namespace: it does not exist, is not a network namespace, or setns was
// refused.
void enter_network_namespace(const std::string& name_or_path);

} // namespace nfcap
