// Replays an NFLOG recording through the installed library: decode (nfcap_core), comment
// and its parser (nfcap_core), file reading (nfcap_io, libpcap).
#include <nfcap/comment.hpp>
#include <nfcap/nflog_decode.hpp>
#include <nfcap/replay_source.hpp>
#include <nfcap/version.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: count_records FILE\n";
        return 2;
    }
    try {
        nfcap::ReplaySource source(argv[1]);
        nfcap::ReplayRecord record;
        unsigned long records = 0, decoded = 0, prefixes = 0, round_trips = 0;
        std::string comment;
        while (source.next(record)) {
            ++records;
            const nfcap::Packet packet = nfcap::decode_nflog(record.data);
            ++decoded;
            const std::string name = "nflog:" + std::to_string(packet.resource_id);
            comment.clear();
            nfcap::append_comment(comment, packet,
                                  {name, nullptr, nfcap::TimestampSource::file, {}});
            for (const auto& [key, value] : nfcap::parse_comment(comment)) {
                if (key == "prefix" && packet.has_prefix) {
                    ++prefixes;
                    round_trips += value == packet.prefix ? 1 : 0;
                }
            }
        }
        if (!source.error().empty()) {
            std::cerr << "count_records: " << source.error() << '\n';
            return 1;
        }
        std::cout << "nfcap " << nfcap::version << ": records=" << records << " decoded=" << decoded
                  << " prefixes=" << prefixes << " round_trips=" << round_trips << '\n';
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "count_records: " << e.what() << '\n';
        return 1;
    }
}
