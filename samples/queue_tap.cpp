// An NFQUEUE tap embedded in a program: every packet on the queue gets a verdict from a C++
// callback (here: drop UDP to port 9, the discard service, accept the rest) before anything
// else happens, and each packet's metadata is then printed, one line per packet.
//
//   iptables -A INPUT -j NFQUEUE --queue-num 5 --queue-bypass
//   nfcap_queue_tap 5          # needs CAP_NET_ADMIN; Ctrl-C drains the queue and stops
#include <nfcap/comment.hpp>
#include <nfcap/interface_cache.hpp>
#include <nfcap/nfqueue_decode.hpp>
#include <nfcap/queue_source.hpp>

#include <poll.h>

#include <csignal>
#include <iostream>
#include <string>

namespace {

volatile std::sig_atomic_t stop = 0;
extern "C" void on_signal(int) {
    stop = 1;
}

bool is_discard(const nfcap::Packet& p) {
    // IPv4 without options: protocol at byte 9, destination port at bytes 22-23.
    if (p.payload.size() < 24 || (std::to_integer<unsigned>(p.payload[0]) >> 4U) != 4) {
        return false;
    }
    const unsigned port =
        (std::to_integer<unsigned>(p.payload[22]) << 8U) | std::to_integer<unsigned>(p.payload[23]);
    return std::to_integer<unsigned>(p.payload[9]) == 17 && port == 9;
}

class Printer final : public nfcap::RecordHandler {
  public:
    explicit Printer(nfcap::InterfaceNames& names) : names_(names) {}
    void on_record(std::span<const std::byte> record, nfcap::Timestamp received) override {
        try {
            const nfcap::Packet p = nfcap::decode_nfqueue(record);
            line_.clear();
            const nfcap::InterfaceNamesOf& names =
                resolution_.resolve(p, names_, p.timestamp.value_or(received));
            nfcap::append_comment(
                line_, p,
                {"nfqueue:" + std::to_string(p.resource_id), &names,
                 p.timestamp ? nfcap::TimestampSource::kernel : nfcap::TimestampSource::receive,
                 is_discard(p) ? "verdict=drop" : "verdict=accept",
                 p.timestamp.value_or(received)});
            std::cout << line_ << '\n';
        } catch (const nfcap::DecodeError& e) {
            std::cout << "malformed packet message: " << e.what() << '\n';
        }
    }

  private:
    nfcap::InterfaceNames& names_;
    nfcap::NameResolution resolution_; // names as of the packet's time, kept while they hold
    std::string line_;
};

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: nfcap_queue_tap QUEUE\n";
        return 2;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    try {
        nfcap::QueueConfig config;
        config.queue = static_cast<std::uint16_t>(std::stoul(argv[1]));
        nfcap::Verdict drop;
        drop.kind = nfcap::VerdictKind::drop;
        nfcap::QueueSource source(config, nfcap::Verdict{}, [drop](const nfcap::Packet& p) {
            return is_discard(p) ? drop : nfcap::Verdict{};
        });
        nfcap::InterfaceCache names;
        Printer printer(names);
        while (stop == 0) {
            pollfd p{source.fd(), POLLIN, 0};
            if (poll(&p, 1, 200) > 0) {
                source.receive(printer);
                std::cout.flush();
            }
            names.update();
        }
        source.drain(printer); // every packet still queued gets its verdict before unbinding
        std::cerr << "nfcap_queue_tap: " << source.packets() << " verdicts given\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "nfcap_queue_tap: " << e.what() << '\n';
        return 1;
    }
}
