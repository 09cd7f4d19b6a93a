#pragma once
// pcapng's numbers (block types, the byte-order magic, option codes), shared by the writer
// (pcapng.cpp) and the reader replay uses (recording_reader.cpp). Internal to nfcap_core.
// Names and values as in the pcapng specification (draft-ietf-opsawg-pcapng).

#include <cstdint>

namespace nfcap::pcapng_format {

constexpr std::uint32_t shb_block_type = 0x0A0D0D0A; // the same in both byte orders
constexpr std::uint32_t idb_block_type = 0x00000001;
constexpr std::uint32_t pb_block_type = 0x00000002; // the obsolete Packet Block
constexpr std::uint32_t spb_block_type = 0x00000003;
constexpr std::uint32_t isb_block_type = 0x00000005;
constexpr std::uint32_t epb_block_type = 0x00000006;

constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;

// Option codes: the first two hold in every block, the others in the block they are named after.
constexpr std::uint16_t opt_endofopt = 0;
constexpr std::uint16_t opt_comment = 1;
constexpr std::uint16_t shb_hardware = 2;
constexpr std::uint16_t shb_os = 3;
constexpr std::uint16_t shb_userappl = 4;
constexpr std::uint16_t if_name = 2;
constexpr std::uint16_t if_description = 3;
constexpr std::uint16_t if_tsresol = 9;
constexpr std::uint16_t if_os = 12;
constexpr std::uint16_t if_tsoffset = 14;
constexpr std::uint16_t epb_flags = 2;
constexpr std::uint16_t epb_dropcount = 4;
constexpr std::uint16_t epb_packetid = 5;
constexpr std::uint16_t isb_starttime = 2;
constexpr std::uint16_t isb_endtime = 3;
constexpr std::uint16_t isb_ifrecv = 4;
constexpr std::uint16_t isb_ifdrop = 5;
constexpr std::uint16_t isb_filteraccept = 6;
constexpr std::uint16_t isb_osdrop = 7;
constexpr std::uint16_t isb_usrdeliv = 8;

} // namespace nfcap::pcapng_format
