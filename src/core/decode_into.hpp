#pragma once
// The NFLOG and NFQUEUE decoders writing into a Packet the caller holds, for the Recorder's
// replay path: decode_nflog() returns its Packet by value, and a caller that keeps the Packet
// across a try block would copy it once more (about 250 bytes per record). Internal.
#include <nfcap/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nfcap::detail {

// Where an NFLOG record's values that change from one packet to the next begin, as offsets into
// the record (0: absent; the last of repeated attributes, which is the one decoded). The payload
// is the other such value: Packet::payload says where it is.
struct NflogLayout {
    std::size_t timestamp = 0;
    std::size_t seq = 0;
    std::size_t seq_global = 0;
};

// As decode_nflog and decode_nfqueue; `p` must be default-constructed. On DecodeError `p` holds
// part of the record and must not be used. With `layout`, also says where the record's
// per-packet values are.
void decode_nflog_into(Packet& p, std::span<const std::byte> record, std::uint32_t original_length,
                       NflogLayout* layout = nullptr);
void decode_nfqueue_into(Packet& p, std::span<const std::byte> record,
                         std::uint32_t original_length);

// Decodes NFLOG records into the same Packet as decode_nflog_into, with less work for a record
// whose bytes before its payload equal the last record's but for its timestamp and sequence
// numbers: the records of one flow, of one rule, or of several rules for the same packet. Such
// a record updates the last decode with those values, the payload and the lengths that follow
// from it. The bytes compared are the record's own, so any other difference (a new mark,
// interface, prefix, uid, hardware header, an attribute more or less, a record cut by a
// recording) decodes the record in full.
class RepeatedNflogDecoder {
  public:
    // The record's Packet: this decoder's, pointing into the record and into this decoder, valid
    // until the next decode(). Throws DecodeError as decode_nflog does.
    const Packet& decode(std::span<const std::byte> record, std::uint32_t original_length);
    // Whether the last decode() reused the decode of the record before it.
    bool repeated() const { return repeated_; }

  private:
    bool reuse(std::span<const std::byte> record);
    void keep(std::span<const std::byte> record, const NflogLayout& layout);

    std::vector<std::byte> kept_; // the last record, up to its payload's attribute header
    Packet packet_;               // the last decode (prefix and hardware header into kept_)
    NflogLayout layout_;
    bool repeated_ = false;
};

} // namespace nfcap::detail
