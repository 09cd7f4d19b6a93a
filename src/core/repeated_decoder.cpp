// The repeated-record decoder (decode_into.hpp): one for NFLOG, one for NFQUEUE; the adapters
// say where a record's per-packet values are, this file only patches and compares bytes.
#include "decode_into.hpp"

#include "attributes.hpp"
#include "common_attributes.hpp"

#include <nfcap/nflog_decode.hpp>

#include <algorithm>
#include <cstring>

namespace nfcap::detail {

const Packet& RepeatedDecoder::decode(std::span<const std::byte> record,
                                      std::uint32_t original_length) {
    repeated_ = false;
    repeated_ = !kept_.empty() && original_length <= record.size() && reuse(record);
    if (repeated_) {
        return packet_;
    }
    kept_.clear(); // a record that fails to decode leaves nothing to compare with
    packet_ = Packet{};
    RecordLayout layout;
    if (kind_ == RecordKind::nflog) {
        decode_nflog_into(packet_, record, original_length, &layout);
    } else {
        decode_nfqueue_into(packet_, record, original_length, &layout);
    }
    keep(record, layout);
    return packet_;
}

bool RepeatedDecoder::reuse(std::span<const std::byte> record) {
    const std::size_t compared = kept_.size(); // up to the end of the payload's attribute header
    const std::size_t header = compared - attribute_header_size;
    if (record.size() < compared) {
        return false;
    }
    // The kept record takes the new one's per-packet values and payload length; then every
    // byte before the payload must be the same.
    std::byte* const kept = kept_.data();
    const std::byte* const now = record.data();
    if (layout_.timestamp != 0) {
        std::memcpy(kept + layout_.timestamp, now + layout_.timestamp, 16);
    }
    if (layout_.seq != 0) {
        std::memcpy(kept + layout_.seq, now + layout_.seq, 4);
    }
    if (layout_.seq_global != 0) {
        std::memcpy(kept + layout_.seq_global, now + layout_.seq_global, 4);
    }
    std::memcpy(kept + header, now + header, 2);
    if (std::memcmp(kept, now, compared) != 0) {
        return false;
    }
    // The payload ends the record, as it did the kept one: what the attribute walk accepts.
    std::uint16_t wire_length = 0;
    std::memcpy(&wire_length, now + header, sizeof wire_length);
    const std::size_t left = record.size() - header;
    if (wire_length < attribute_header_size || wire_length > left ||
        ((std::size_t{wire_length} + 3U) & ~std::size_t{3}) < left) {
        return false;
    }
    // The kept decode takes the new values; every other field is the kept record's already.
    const bool nflog = kind_ == RecordKind::nflog;
    if (layout_.timestamp != 0) {
        packet_.timestamp = decode_timestamp(record.subspan(layout_.timestamp, 16),
                                             nflog ? "NFULA_TIMESTAMP" : "NFQA_TIMESTAMP");
    }
    const auto seq =
        layout_.seq != 0
            ? std::optional<std::uint32_t>(load_big_endian<std::uint32_t>(now + layout_.seq))
            : std::nullopt;
    packet_.payload = record.subspan(compared, wire_length - attribute_header_size);
    if (nflog) {
        packet_.seq = seq;
        if (layout_.seq_global != 0) {
            packet_.seq_global = load_big_endian<std::uint32_t>(now + layout_.seq_global);
        }
        packet_.original_length =
            network_length(packet_.hw_protocol, packet_.family, packet_.payload);
    } else {
        packet_.packet_id = seq;
        // NFQA_CAP_LEN, when present, is the true length (as decode_nfqueue_into).
        const std::uint32_t cap_len =
            layout_.cap_len != 0 ? load_big_endian<std::uint32_t>(now + layout_.cap_len) : 0;
        packet_.original_length =
            std::max(static_cast<std::uint32_t>(packet_.payload.size()), cap_len);
    }
    return true;
}

void RepeatedDecoder::keep(std::span<const std::byte> record, const RecordLayout& layout) {
    Packet& p = packet_;
    // Only a whole record whose payload is its last attribute (as the kernel builds them); the
    // arp family's payload decides where its link-layer header is, so it is never reused.
    if (p.cut || p.metadata_only || p.family == Family::arp || p.payload.empty()) {
        return;
    }
    const auto value = static_cast<std::size_t>(p.payload.data() - record.data());
    if (record.size() - (value + p.payload.size()) >= 4) {
        return; // attributes after the payload
    }
    kept_.assign(record.begin(), record.begin() + static_cast<std::ptrdiff_t>(value));
    // The decode's views of the record before its payload now look at the same bytes kept.
    const auto rebase = [&](const std::byte* at) { return kept_.data() + (at - record.data()); };
    const auto rebase_text = [&](std::string_view text) {
        return std::string_view(
            reinterpret_cast<const char*>(rebase(reinterpret_cast<const std::byte*>(text.data()))),
            text.size());
    };
    if (!p.hwheader.empty()) {
        p.hwheader = {rebase(p.hwheader.data()), p.hwheader.size()};
    }
    if (p.prefix.data() != nullptr) {
        p.prefix = rebase_text(p.prefix);
    }
    if (p.secctx.data() != nullptr) {
        p.secctx = rebase_text(p.secctx);
    }
    layout_ = layout;
}

} // namespace nfcap::detail
