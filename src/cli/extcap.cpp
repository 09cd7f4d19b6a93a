#include "extcap.hpp"

#include <nfcap/packet_filter.hpp>
#include <nfcap/version.hpp>

namespace nfcap::cli {
namespace {

constexpr int dlt_linux_sll2 = 276;

// The names are nfcap-nflog and nfcap-nfqueue: libpcap (and so dumpcap and tshark) already has
// interfaces named nflog and nfqueue, which would win over an extcap of the same name.
void common_arguments(std::ostream& out, int first) {
    out << "arg {number=" << first << "}{call=--snaplen}{display=Snap length}{type=unsigned}"
        << "{range=1,262144}{default=262144}{tooltip=Bytes of each packet the kernel copies}\n"
        << "arg {number=" << first + 1 << "}{call=--linktype}{display=Link type}{type=selector}"
        << "{tooltip=LINUX_SLL2 keeps every family with interface and direction}\n"
        << "value {arg=" << first + 1
        << "}{value=sll2}{display=Linux cooked v2 (SLL2)}{default=true}\n"
        << "value {arg=" << first + 1 << "}{value=raw}{display=Raw IP}\n"
        << "value {arg=" << first + 1 << "}{value=nflog}{display=NFLOG TLVs (NFLOG only)}\n";
}

} // namespace

int answer_extcap(const Options& o, std::ostream& out) {
    switch (o.extcap) {
    case ExtcapQuery::interfaces:
        out << "extcap {version=" << version << "}{help=man:nfcap(1)}\n"
            << "interface {value=nfcap-nflog}{display=nfcap: netfilter NFLOG groups}\n"
            << "interface {value=nfcap-nfqueue}{display=nfcap: netfilter NFQUEUE queues (with a "
               "verdict)}\n";
        return 0;
    case ExtcapQuery::dlts:
        out << "dlt {number=" << dlt_linux_sll2 << "}{name=LINUX_SLL2}{display=Linux cooked v2}\n";
        return 0;
    case ExtcapQuery::config:
        if (o.extcap_interface == "nfcap-nflog") {
            out << "arg {number=0}{call=--group}{display=NFLOG groups}{type=string}{required=true}"
                << "{tooltip=Groups of nft 'log group N' rules: 5, or 1,5-7}\n";
            common_arguments(out, 1);
        } else {
            out << "arg {number=0}{call=--queue}{display=NFQUEUE "
                   "queues}{type=string}{required=true}"
                << "{tooltip=Queues of iptables -j NFQUEUE rules: 5, or 0-3}\n"
                << "arg {number=1}{call=--verdict}{display=Verdict}{type=selector}"
                << "{tooltip=What every queued packet gets; accept is --auto-accept}\n"
                << "value {arg=1}{value=accept}{display=Accept (auto-accept)}{default=true}\n"
                << "value {arg=1}{value=drop}{display=Drop}\n"
                << "arg {number=2}{call=--set-mark}{display=Set mark}{type=string}{required=false}"
                << "{tooltip=VALUE[/MASK] set with the verdict (optional)}\n";
            common_arguments(out, 3);
        }
        return 0;
    case ExtcapQuery::filter_check:
        try {
            PacketFilter check(o.filter);
        } catch (const std::exception& e) {
            out << e.what() << '\n';
            return 1;
        }
        return 0;
    case ExtcapQuery::none:
        break;
    }
    return 2;
}

} // namespace nfcap::cli
