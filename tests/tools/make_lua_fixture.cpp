// make_lua_fixture: writes a small pcapng file whose packet comments exercise the nfcap comment
// grammar, for tests/golden/lua_dissector.sh (the Wireshark Lua dissector test).
//
// Usage: make_lua_fixture OUT.pcapng
//
// Layout: one SHB, two IDBs (0: LINKTYPE_RAW, 1: LINKTYPE_LINUX_SLL2; both if_tsresol 9 =
// nanoseconds) and one EPB per entry of kFrames below, each carrying a minimal UDP packet (IPv4,
// IPv6, or one in the other) and zero or more opt_comment options. A frame with an SLL2 header
// is on interface 1, all others on interface 0. Standalone on purpose (no project libraries): it
// must not share bugs with nfcap's own pcapng writer. Frame numbers are 1-based in kFrames order;
// the test script relies on them.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// The packet a frame carries: UDP in IPv4 or IPv6, or tunnelled: the first name is the outer
// header (protocol 41 carries IPv6 in IPv4, next header 4 carries IPv4 in IPv6).
enum class Payload { ipv4, ipv6, ipv6_in_ipv4, ipv4_in_ipv6 };

// The LINKTYPE_LINUX_SLL2 header fields that vary (the protocol follows the payload, the
// interface index is 2, the packet type "to us"): ARPHRD type, address length and address.
struct Sll2 {
    std::uint16_t hatype;
    std::uint8_t halen;
    std::array<std::uint8_t, 8> addr;
};

// One frame: its comments (empty: an EPB without options; `sv` literals keep embedded bytes),
// its packet, and an SLL2 header when it is on the LINUX_SLL2 interface.
struct Frame {
    std::vector<std::string_view> comments;
    Payload payload = Payload::ipv4;
    std::optional<Sll2> sll2 = std::nullopt;
};

constexpr std::array<std::uint8_t, 8> kVethMac = {0x6a, 0x10, 0x73, 0x4c, 0xe6, 0x27, 0, 0};

const std::vector<Frame> kFrames = {
    // 1: plain record, bare values only.
    {{"nflog:5 hook=output family=ipv4 prefix=accept out=lo/1 uid=0 gid=0 seq=1 seq_global=1 ts=kernel"sv}},
    // 2: the README example: prefix with a space.
    {{"nflog:123 hook=input family=ipv4 prefix=\"DROP ssh\" in=eth0/2 uid=1000 gid=1000 mark=0x10 "
      "hwtype=1 hwaddr=52:54:00:12:34:56 seq=41 seq_global=1002 ts=kernel"sv}},
    // 3: prefix with \" and \\  (unescaped: say "hi" c:\tmp).
    {{R"(nflog:123 hook=input family=ipv4 prefix="say \"hi\" c:\\tmp" in=eth0/2 seq=42)"sv}},
    // 4: prefix with \x00, \xff, \x0a and an upper-case \xAB (unescaped: a NUL b 0xff c LF 0xab).
    {{R"(nflog:123 hook=input family=ipv4 prefix="a\x00b\xffc\x0a\xAB" seq=43)"sv}},
    // 5: valid UTF-8 literal, bare and inside quotes.
    {{"nflog:7 hook=forward family=ipv6 prefix=caf\xc3\xa9 in=eth1/3 out=eth2/4 seq=1"sv}},
    // 6: empty prefix.
    {{R"(nflog:7 hook=forward family=ipv6 prefix="" in=eth1/3 seq=2)"sv}},
    // 7: interfaces with and without a name.
    {{"nflog:7 hook=forward family=bridge prefix=ifs in=7 out=eth1/3 physin=veth-a/12 physout=9 seq=3"sv}},
    // 8: every key, in grammar order.
    {{"nflog:65535 hook=prerouting family=ipv4 prefix=\"all keys \xc3\xa9\" in=eth0/2 out=eth1/3 "
      "physin=swp1/10 physout=swp2/11 uid=4294967295 gid=65534 mark=0xdeadbeef hwtype=1 "
      "hwaddr=52:54:00:12:34:56 hwheader=525400123456aabbccddeeff0800 vlan=0x8100/0x2005 "
      "ct=established-reply ctstatus=0x18a ctmark=0x2a ctid=3735928559 ctzone=7 seq=100 "
      "seq_global=200 ts=receive trunc=1500 truncated=100/180"sv}},
    // 9: unknown keys (a bare one and a quoted one) between known NFQUEUE keys.
    {{R"(nfqueue:5 hook=input family=ipv4 prefix=q id=17 verdict=accept newkey="x y" later=2 seq=9)"sv}},
    // 10: malformed: unterminated quote.
    {{R"(nflog:1 hook=input family=ipv4 prefix="unterminated)"sv}},
    // 11: not an nfcap comment.
    {{"just a note from a human"sv}},
    // 12: no comment at all.
    {{}},
    // 13: malformed: bad escape.
    {{R"(nflog:1 hook=input prefix="bad\q" seq=1)"sv}},
    // 14: malformed: truncated \x escape.
    {{R"(nflog:1 hook=input prefix="bad\x4")"sv}},
    // 15: malformed: a token without '='.
    {{"nflog:1 hook=input junk seq=1"sv}},
    // 16: malformed: two spaces between pairs.
    {{"nflog:1 hook=input  seq=1"sv}},
    // 17: malformed: numeric key with a non-number; a record "cut" to more than its length.
    {{"nflog:1 hook=input uid=abc mark=0xzz seq=99999999999 truncated=180/100"sv}},
    // 18: malformed: text after a closing quote.
    {{R"(nflog:1 hook=input prefix="a"b seq=1)"sv}},
    // 19: malformed: the source has no group number.
    {{"nflog: hook=input"sv}},
    // 20: malformed: bare value with a quote or backslash inside; trailing space.
    {{R"(nflog:1 prefix=a"b hwaddr=a\b )"sv}},
    // 21: two comments, a human note first and then nfcap's.
    {{"checked by alice"sv,
      "nfqueue:0 hook=output family=ipv6 prefix=\"DROP ssh\" out=eth0/2 seq=5"sv}},
    // 22: looks almost like nfcap's but is not (first token).
    {{"nflogger:1 hook=input prefix=x"sv}},
    // 23: source token alone is a valid (if empty) record.
    {{"nflog:0"sv}},
    // 24: NFQUEUE, every queue key: queue:N verdict, setmark, two skbinfo flags, quoted secctx.
    {{"nfqueue:5 hook=input family=ipv6 in=vethb/2 hwaddr=52:54:00:aa:bb:cc uid=1000 gid=1000 "
      "mark=0x10 priority=6 seq_global=7 id=41 verdict=queue:6 setmark=0x10/0xffffffff "
      "skbinfo=csum-not-ready,gso secctx=\"a b\" ts=kernel"sv}},
    // 25: NFQUEUE: priority 0, third skbinfo flag plus unknown bits, bare secctx, trunc.
    {{"nfqueue:6 hook=output family=ipv4 out=eth0/2 priority=0 id=42 verdict=accept "
      "skbinfo=csum-not-verified,0x8 secctx=system_u:object_r:x_t:s0 ts=receive trunc=1500"sv}},
    // 26: NFQUEUE: largest id, drop, no skbinfo or secctx.
    {{"nfqueue:0 hook=forward family=ipv4 id=4294967295 verdict=drop ts=kernel"sv}},
    // 27: NFQUEUE: repeat with a partial-mask setmark, gso only, secctx with an escaped backslash.
    {{R"(nfqueue:65535 hook=prerouting family=ipv4 mark=0x1 priority=4294967295 id=1 verdict=repeat setmark=0xdeadbeef/0xff skbinfo=gso secctx="s\\t" ts=kernel)"sv}},
    // 28: NFQUEUE, malformed typed values: priority, id, verdict queue number, setmark.
    {{"nfqueue:1 hook=input priority=-1 id=0x10 verdict=queue:70000 setmark=0x10 ts=kernel"sv}},
    // 29: NFQUEUE, malformed: verdict not a word, skbinfo flag listed twice.
    {{"nfqueue:1 hook=input verdict=Accept! skbinfo=gso,gso ts=kernel"sv}},
    // 30: NFQUEUE, malformed: bare "queue" verdict, bad mask, hex not last in skbinfo; the
    //     secctx with a NUL byte is fine.
    {{R"(nfqueue:1 verdict=queue setmark=0x10/0xzz skbinfo=0x8,gso secctx="x\x00y" id=3)"sv}},
    // 31: NFQUEUE: a verdict and an skbinfo flag this dissector does not know are kept;
    //     malformed: only the id above 32 bits.
    {{"nfqueue:2 verdict=stolen skbinfo=csum-not-ready,new-flag,0x10 id=4294967296 ts=kernel"sv}},
    // 32: NFQUEUE, malformed: empty element in skbinfo, queue:N with a sign.
    {{"nfqueue:2 verdict=queue:+6 skbinfo=gso,,csum-not-ready id=5"sv}},
    // Compact comments: nfcap leaves out what the record itself states (family: the packet's IP
    // version; ts: kernel; an NFLOG prefix: empty; hwtype and hwaddr: the SLL2 header).
    // 33: NFLOG on IPv4, no family, prefix or ts.
    {{"nflog:7 hook=prerouting in=vethb/2 seq=5"sv}},
    // 34: the same on IPv6.
    {{"nflog:7 hook=prerouting in=vethb/2 seq=5"sv}, Payload::ipv6},
    // 35: NFQUEUE on IPv4, no family or ts (and no prefix: a queue has none).
    {{"nfqueue:3 hook=input id=9 verdict=accept"sv}},
    // 36: NFQUEUE on IPv6.
    {{"nfqueue:3 hook=input id=10 verdict=drop"sv}, Payload::ipv6},
    // 37: keys that are written win: a bridge family on an IPv4 packet, a prefix, ts=receive.
    {{"nflog:7 hook=forward family=bridge prefix=br seq=6 ts=receive"sv}},
    // 38: IPv6 in IPv4: the outer header is the family.
    {{"nflog:7 hook=forward seq=7"sv}, Payload::ipv6_in_ipv4},
    // 39: IPv4 in IPv6.
    {{"nflog:7 hook=forward seq=8"sv}, Payload::ipv4_in_ipv6},
    // 40: SLL2 with an Ethernet address: hwtype and hwaddr come from the header.
    {{"nflog:7 hook=prerouting in=vethb/2 seq=9"sv}, Payload::ipv4, Sll2{1, 6, kVethMac}},
    // 41: SLL2, every key written (as before compact comments): the comment's hwaddr wins.
    {{"nflog:7 hook=prerouting family=ipv6 prefix=\"\" in=vethb/2 hwtype=1 "
      "hwaddr=52:54:00:12:34:56 seq=10 ts=kernel"sv},
     Payload::ipv6,
     Sll2{1, 6, kVethMac}},
    // 42: SLL2 with an 8-byte InfiniBand-type address (not Ethernet), NFQUEUE.
    {{"nfqueue:3 hook=input in=ib0/4 id=11 verdict=accept"sv},
     Payload::ipv6,
     Sll2{32, 8, {0x80, 0x00, 0x00, 0x48, 0xfe, 0x80, 0x00, 0x01}}},
    // 43: SLL2 with a 3-byte address in the 8-byte field: only those 3 bytes are the address.
    {{"nflog:7 hook=input in=odd0/6 seq=11"sv},
     Payload::ipv4,
     Sll2{0x1234, 3, {0x0a, 0x0b, 0x0c, 0xee, 0xee, 0xee, 0xee, 0xee}}},
    // 44: SLL2 with a hardware type but no address (loopback).
    {{"nflog:7 hook=input in=lo/1 seq=12"sv}, Payload::ipv4, Sll2{772, 0, {}}},
    // 45: SLL2 without either: 0xffff is what nfcap writes when the record has no hardware type.
    {{"nflog:7 hook=output out=eth0/2 seq=13"sv}, Payload::ipv6, Sll2{0xffff, 0, {}}},
    // 46: a key that is there but malformed is not replaced (hwtype); hwaddr still comes from SLL2.
    {{"nflog:7 hook=input hwtype=abc seq=14"sv}, Payload::ipv6, Sll2{1, 6, kVethMac}},
    // 47: malformed: what follows the error is unknown, so nothing is implied.
    {{R"(nflog:7 hook=input prefix="open)"sv}, Payload::ipv4, Sll2{1, 6, kVethMac}},
    // 48: SLL2 with a GRE-over-IP address (Wireshark shows it as an IPv4 address).
    {{"nflog:7 hook=input in=gre1/5 seq=15"sv},
     Payload::ipv4,
     Sll2{778, 4, {0xc0, 0x00, 0x02, 0x09, 0, 0, 0, 0}}},
};

void put16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v & 0xffU));
    out.push_back(static_cast<char>(v >> 8U));
}

void put32(std::string& out, std::uint32_t v) {
    for (unsigned shift = 0; shift < 32; shift += 8)
        out.push_back(static_cast<char>((v >> shift) & 0xffU));
}

void pad4(std::string& out) {
    while (out.size() % 4 != 0)
        out.push_back('\0');
}

// Wraps `body` into a block: type, total length, body (padded), total length.
std::string block(std::uint32_t type, std::string body) {
    pad4(body);
    const auto total = static_cast<std::uint32_t>(body.size() + 12);
    std::string out;
    put32(out, type);
    put32(out, total);
    out += body;
    put32(out, total);
    return out;
}

void put_option(std::string& out, std::uint16_t code, std::string_view value) {
    put16(out, code);
    put16(out, static_cast<std::uint16_t>(value.size()));
    out += value;
    pad4(out);
}

// The Internet checksum of `bytes` (RFC 1071), added to `sum` first; returns the complement.
std::uint16_t checksum(std::string_view bytes, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i < bytes.size(); i += 2) {
        const auto hi = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
        const auto lo = i + 1 < bytes.size()
                            ? static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                            : 0U;
        sum += (hi << 8U) | lo;
    }
    while (sum > 0xffffU)
        sum = (sum & 0xffffU) + (sum >> 16U);
    return static_cast<std::uint16_t>(~sum & 0xffffU);
}

void put16be(std::string& out, std::size_t at, std::uint16_t v) {
    out[at] = static_cast<char>(v >> 8U);
    out[at + 1] = static_cast<char>(v & 0xffU);
}

// An 8-byte UDP header 40000 -> 9 (discard), length 12, checksum 0, then the payload "nfcp".
std::string udp() {
    return "\x9c\x40\x00\x09\x00\x0c\x00\x00nfcp"s;
}

// A 20-byte IPv4 header (correct checksum) 192.0.2.1 -> 192.0.2.2 in front of `inner`.
std::string ipv4(std::uint16_t id, std::uint8_t protocol, std::string_view inner) {
    // Version/IHL, TOS, total length, id, DF, TTL 64, protocol, checksum (below), addresses.
    std::string p =
        "\x45\x00\x00\x00\x00\x00\x40\x00\x40\x00\x00\x00\xc0\x00\x02\x01\xc0\x00\x02\x02"s;
    put16be(p, 2, static_cast<std::uint16_t>(p.size() + inner.size()));
    put16be(p, 4, id);
    p[9] = static_cast<char>(protocol);
    put16be(p, 10, checksum(p));
    p += inner;
    return p;
}

// A 40-byte IPv6 header 2001:db8::1 -> 2001:db8::2 in front of `inner`.
std::string ipv6(std::uint8_t next_header, std::string_view inner) {
    std::string p = "\x60\x00\x00\x00\x00\x00\x00\x40"s; // version 6, length (below), hop limit 64
    put16be(p, 4, static_cast<std::uint16_t>(inner.size()));
    p[6] = static_cast<char>(next_header);
    const std::string address = "\x20\x01\x0d\xb8"s + std::string(11, '\0');
    p += address + '\x01';
    p += address + '\x02';
    p += inner;
    return p;
}

// UDP in IPv6 with its (mandatory) checksum over the pseudo-header.
std::string ipv6_udp() {
    std::string segment = udp();
    std::string pseudo = ipv6(17, segment).substr(8, 32); // source and destination
    pseudo += "\x00\x00\x00\x0c\x00\x00\x00\x11"sv;       // UDP length 12, next header 17
    put16be(segment, 6, checksum(segment, 0xffffU - checksum(pseudo)));
    return ipv6(17, segment);
}

std::string packet_of(Payload payload, std::uint16_t id) {
    switch (payload) {
    case Payload::ipv4:
        return ipv4(id, 17, udp());
    case Payload::ipv6:
        return ipv6_udp();
    case Payload::ipv6_in_ipv4:
        return ipv4(id, 41, ipv6_udp());
    case Payload::ipv4_in_ipv6:
        return ipv6(4, ipv4(id, 17, udp()));
    }
    return {};
}

// The 20-byte LINKTYPE_LINUX_SLL2 header for `packet`: protocol, reserved, interface index 2,
// hatype, packet type 0 (host), halen, address (8 bytes); big-endian.
std::string sll2_header(const Sll2& sll2, std::string_view packet) {
    std::string h(20, '\0');
    const bool v6 = !packet.empty() && (static_cast<unsigned char>(packet[0]) >> 4U) == 6U;
    put16be(h, 0, v6 ? 0x86ddU : 0x0800U);
    h[7] = '\x02';
    put16be(h, 8, sll2.hatype);
    h[11] = static_cast<char>(sll2.halen);
    for (std::size_t i = 0; i < sll2.addr.size(); ++i)
        h[12 + i] = static_cast<char>(sll2.addr[i]);
    return h;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_lua_fixture OUT.pcapng\n");
        return 2;
    }
    std::string file;

    std::string shb;
    put32(shb, 0x1A2B3C4DU); // byte-order magic
    put16(shb, 1);           // major
    put16(shb, 0);           // minor
    put32(shb, 0xffffffffU); // section length: unknown (-1)
    put32(shb, 0xffffffffU);
    file += block(0x0A0D0D0AU, shb);

    for (const std::uint16_t link_type :
         {std::uint16_t{101}, std::uint16_t{276}}) { // interface 0: RAW, 1: LINUX_SLL2
        std::string idb;
        put16(idb, link_type);
        put16(idb, 0);
        put32(idb, 0);                // snaplen: unlimited
        put_option(idb, 9, "\x09"sv); // if_tsresol: 10^-9
        put_option(idb, 0, ""sv);     // opt_endofopt
        file += block(1, idb);
    }

    std::uint64_t ts = 1700000000ULL * 1000000000ULL;
    std::uint16_t id = 1;
    for (const Frame& frame : kFrames) {
        std::string packet = packet_of(frame.payload, id++);
        if (frame.sll2)
            packet = sll2_header(*frame.sll2, packet) + packet;
        std::string epb;
        put32(epb, frame.sll2 ? 1U : 0U); // interface id
        put32(epb, static_cast<std::uint32_t>(ts >> 32U));
        put32(epb, static_cast<std::uint32_t>(ts & 0xffffffffU));
        put32(epb, static_cast<std::uint32_t>(packet.size()));
        put32(epb, static_cast<std::uint32_t>(packet.size()));
        epb += packet;
        pad4(epb);
        for (const std::string_view comment : frame.comments)
            put_option(epb, 1, comment);
        if (!frame.comments.empty())
            put_option(epb, 0, ""sv);
        file += block(6, epb);
        ts += 1000000ULL; // 1 ms apart
    }

    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
    out.close();
    if (!out) {
        std::fprintf(stderr, "make_lua_fixture: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
