// A small program that embeds nfcap as a library: it replays an NFLOG recording (or listens
// on an NFLOG group) and prints each record's metadata comment, one line per record.
//
//   nfcap_print_records FILE          replay a tcpdump/dumpcap NFLOG recording
//   nfcap_print_records -g GROUP      listen live (needs CAP_NET_ADMIN), stop with Ctrl-C
#include <nfcap/comment.hpp>
#include <nfcap/interface_cache.hpp>
#include <nfcap/nflog_decode.hpp>
#include <nfcap/nflog_source.hpp>
#include <nfcap/replay_source.hpp>

#include <poll.h>

#include <iostream>
#include <string>

namespace {

class Printer final : public nfcap::RecordHandler {
  public:
    explicit Printer(nfcap::InterfaceNames* names) : names_(names) {}

    void on_record(std::span<const std::byte> record, nfcap::Timestamp received) override {
        try {
            const nfcap::Packet packet = nfcap::decode_nflog(record);
            const std::string source = "nflog:" + std::to_string(packet.resource_id);
            line_.clear();
            const nfcap::Timestamp when = packet.timestamp.value_or(received);
            const nfcap::InterfaceNamesOf* names =
                names_ != nullptr ? &resolution_.resolve(packet, *names_, when) : nullptr;
            nfcap::append_comment(line_, packet,
                                  {source,
                                   names,
                                   packet.timestamp ? nfcap::TimestampSource::kernel
                                                    : nfcap::TimestampSource::receive,
                                   {},
                                   when});
            std::cout << line_ << " len=" << packet.original_length << '\n';
        } catch (const nfcap::DecodeError& e) {
            std::cout << "malformed record: " << e.what() << '\n';
        }
    }

  private:
    nfcap::InterfaceNames* names_;
    nfcap::NameResolution resolution_; // names as of the record's time, kept while they hold
    std::string line_;
};

} // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 3 && std::string(argv[1]) == "-g") {
            nfcap::InterfaceCache names;
            nfcap::NflogConfig config;
            config.groups = {static_cast<std::uint16_t>(std::stoul(argv[2]))};
            nfcap::NflogSource source(config);
            Printer printer(&names);
            for (;;) {
                pollfd p{source.fd(), POLLIN, 0};
                if (poll(&p, 1, -1) > 0) {
                    source.receive(printer);
                    std::cout.flush();
                }
            }
        }
        if (argc != 2) {
            std::cerr << "usage: nfcap_print_records FILE | -g GROUP\n";
            return 2;
        }
        nfcap::ReplaySource source(argv[1]);
        Printer printer(nullptr);
        nfcap::ReplayRecord record;
        while (source.next(record)) {
            printer.on_record(record.data, record.time);
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "nfcap_print_records: " << e.what() << '\n';
        return 1;
    }
}
