#pragma once
// Text output for people and scripts: one line per record in the manner of tcpdump, or one JSON
// object per line (every metadata key of the comment grammar, plus addresses, protocol, lengths
// and optionally the payload as hex). Pure: the caller gives the time zone offset.

#include <nfcap/packet.hpp>
#include <nfcap/record_encoder.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace nfcap {

// What the network-layer header says, for a one-line summary.
struct PacketSummary {
    std::string network; // "IP", "IP6", "ARP", or the ethertype in hex
    std::string source;  // address, empty when unknown
    std::string destination;
    std::string transport; // "TCP", "UDP", "ICMP", "ICMP6", "proto 47", ... ("" for ARP)
    std::optional<std::uint16_t> source_port, destination_port;
    std::string detail; // "echo request", "flags [S]", "request who-has 192.0.2.2", ...
};

PacketSummary summarize(const Packet& packet);

// Appends `value` as a JSON string, quotes included; every byte outside printable ASCII is
// written as \u00XX, so the result is valid JSON whatever the bytes.
void append_json_string(std::string& out, std::string_view value);

// Appends one line (ending in '\n') for `packet`, in the manner of tcpdump, ending in `comment`
// (the record's metadata comment with every key); `time` is the record's time, shifted by
// `utc_offset_seconds` for the printed time of day.
void append_text_line(std::string& out, const Packet& packet, std::string_view comment,
                      Timestamp time, long utc_offset_seconds);

// Appends one JSON object (and '\n') for `packet`: time (UTC), the metadata keys as the comment
// writes them for `context` (append_json_fields), then addresses, protocol, ports, lengths and,
// with `payload`, the payload in hex.
void append_json_record(std::string& out, const Packet& packet, const CommentContext& context,
                        Timestamp time, bool payload);

} // namespace nfcap
