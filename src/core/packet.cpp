#include <nfcap/packet.hpp>

#include <array>

namespace nfcap {
namespace {

// Hook numbers per family: enum nf_inet_hooks, NF_ARP_*, enum nf_br_hook_priorities' hooks.
constexpr std::array<std::string_view, 6> inet_hooks{"prerouting", "input",       "forward",
                                                     "output",     "postrouting", "ingress"};
constexpr std::array<std::string_view, 3> arp_hooks{"input", "output", "forward"};
constexpr std::array<std::string_view, 6> bridge_hooks{"prerouting", "input",       "forward",
                                                       "output",     "postrouting", "brouting"};

} // namespace

std::string_view hook_name(Family family, std::uint8_t hook) {
    switch (family) {
    case Family::arp:
        return hook < arp_hooks.size() ? arp_hooks[hook] : std::string_view{};
    case Family::bridge:
        return hook < bridge_hooks.size() ? bridge_hooks[hook] : std::string_view{};
    case Family::netdev:
        // NF_NETDEV_INGRESS = 0, NF_NETDEV_EGRESS = 1
        return hook == 0 ? "ingress" : hook == 1 ? "egress" : std::string_view{};
    default:
        return hook < inet_hooks.size() ? inet_hooks[hook] : std::string_view{};
    }
}

Direction hook_direction(Family family, std::uint8_t hook) {
    // By number, as hook_name() names them (called twice per record written: no string
    // compares). Forward is both received and sent: unknown.
    constexpr Direction in = Direction::inbound;
    constexpr Direction out = Direction::outbound;
    constexpr Direction both = Direction::unknown;
    // prerouting, input, forward, output, postrouting, then ingress (inet) or brouting (bridge)
    static constexpr std::array<Direction, 6> inet{in, in, both, out, out, in};
    static constexpr std::array<Direction, 3> arp{in, out, both}; // input, output, forward
    switch (family) {
    case Family::arp:
        return hook < arp.size() ? arp[hook] : both;
    case Family::netdev:
        return hook == 0 ? in : hook == 1 ? out : both; // ingress, egress
    default: // inet families and bridge share the first five; the sixth is inbound in both
        return hook < inet.size() ? inet[hook] : both;
    }
}

std::string_view family_name(Family family) {
    switch (family) {
    case Family::inet:
        return "inet";
    case Family::ipv4:
        return "ipv4";
    case Family::arp:
        return "arp";
    case Family::netdev:
        return "netdev";
    case Family::bridge:
        return "bridge";
    case Family::ipv6:
        return "ipv6";
    case Family::unspec:
        break;
    }
    return {};
}

} // namespace nfcap
