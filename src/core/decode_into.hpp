#pragma once
// The NFLOG and NFQUEUE decoders writing into a Packet the caller holds, for the Recorder's
// replay path: decode_nflog() returns its Packet by value, and a caller that keeps the Packet
// across a try block would copy it once more (about 250 bytes per record). Internal.
#include <nfcap/netlink.hpp>
#include <nfcap/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nfcap::detail {

// Where a record's values that change from one packet to the next begin, as offsets into the
// record (0: absent; the last of repeated attributes, which is the one decoded). The payload is
// the other such value: Packet::payload says where it is.
struct RecordLayout {
    std::size_t timestamp = 0;  // NFULA_TIMESTAMP, NFQA_TIMESTAMP
    std::size_t seq = 0;        // NFULA_SEQ; NFQUEUE: the packet id (NFQA_PACKET_HDR's first 4)
    std::size_t seq_global = 0; // NFULA_SEQ_GLOBAL
    std::size_t cap_len = 0;    // NFQA_CAP_LEN (not a per-packet value: compared, then read)
};

// As decode_nflog and decode_nfqueue; `p` must be default-constructed. On DecodeError `p` holds
// part of the record and must not be used. With `layout`, also says where the record's
// per-packet values are.
void decode_nflog_into(Packet& p, std::span<const std::byte> record, std::uint32_t original_length,
                       RecordLayout* layout = nullptr);
void decode_nfqueue_into(Packet& p, std::span<const std::byte> record,
                         std::uint32_t original_length, RecordLayout* layout = nullptr);

// Decodes records of one kind into the same Packet as decode_nflog_into or decode_nfqueue_into,
// with less work for a record whose bytes before its payload equal the last record's but for
// its per-packet values: its timestamp and NFLOG sequence numbers or NFQUEUE packet id. Such
// records are the packets of one flow, of one rule, or (NFLOG) of several rules for the same
// packet. Such a record updates the last decode with those values, the payload and the lengths
// that follow from it. The bytes compared are the record's own, so any other difference (a new
// mark, interface, prefix, uid, hardware header, checksum state, an attribute more or less, a
// record cut by a recording) decodes the record in full.
class RepeatedDecoder {
  public:
    explicit RepeatedDecoder(RecordKind kind) : kind_(kind) {}
    // The record's Packet: this decoder's, pointing into the record and into this decoder, valid
    // until the next decode(). Throws DecodeError as the plain decoder does.
    const Packet& decode(std::span<const std::byte> record, std::uint32_t original_length);
    // Whether the last decode() reused the decode of the record before it.
    bool repeated() const { return repeated_; }

  private:
    bool reuse(std::span<const std::byte> record);
    void keep(std::span<const std::byte> record, const RecordLayout& layout);

    RecordKind kind_;
    std::vector<std::byte> kept_; // the last record, up to its payload's attribute header
    Packet packet_;               // the last decode (its views before the payload into kept_)
    RecordLayout layout_;
    bool repeated_ = false;
};

} // namespace nfcap::detail
