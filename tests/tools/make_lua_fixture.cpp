// make_lua_fixture: writes a small pcapng file whose packet comments exercise the nfcap comment
// grammar, for tests/golden/lua_dissector.sh (the Wireshark Lua dissector test).
//
// Usage: make_lua_fixture OUT.pcapng
//
// Layout: one SHB, one IDB (LINKTYPE_RAW, if_tsresol 9 = nanoseconds) and one EPB per entry of
// kFrames below, each carrying a minimal IPv4/UDP packet and zero or more opt_comment options.
// Standalone on purpose (no project libraries): it must not share bugs with nfcap's own
// pcapng writer. Frame numbers are 1-based in kFrames order; the test script relies on them.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// One frame: its comments (empty: an EPB without options). `sv` literals keep embedded bytes.
struct Frame {
    std::vector<std::string_view> comments;
};

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

// A 20-byte IPv4 header (correct checksum) + 8-byte UDP header + 4 payload bytes.
std::string ipv4_udp(std::uint16_t id) {
    // Version/IHL, TOS, total length 32, id, DF, TTL 64, UDP, checksum (below), 192.0.2.1 -> .2.
    std::string p =
        "\x45\x00\x00\x20\x00\x00\x40\x00\x40\x11\x00\x00\xc0\x00\x02\x01\xc0\x00\x02\x02"s;
    p[4] = static_cast<char>(id >> 8U);
    p[5] = static_cast<char>(id & 0xffU);
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < p.size(); i += 2)
        sum += static_cast<std::uint32_t>(static_cast<unsigned char>(p[i]) << 8U) |
               static_cast<unsigned char>(p[i + 1]);
    while (sum > 0xffffU)
        sum = (sum & 0xffffU) + (sum >> 16U);
    p[10] = static_cast<char>((~sum >> 8U) & 0xffU);
    p[11] = static_cast<char>(~sum & 0xffU);
    // UDP 40000 -> 9 (discard), length 12, checksum 0 (none, allowed for IPv4), payload "nfcp".
    p += "\x9c\x40\x00\x09\x00\x0c\x00\x00nfcp"sv;
    return p;
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

    std::string idb;
    put16(idb, 101); // LINKTYPE_RAW
    put16(idb, 0);
    put32(idb, 0);                // snaplen: unlimited
    put_option(idb, 9, "\x09"sv); // if_tsresol: 10^-9
    put_option(idb, 0, ""sv);     // opt_endofopt
    file += block(1, idb);

    std::uint64_t ts = 1700000000ULL * 1000000000ULL;
    std::uint16_t id = 1;
    for (const Frame& frame : kFrames) {
        const std::string packet = ipv4_udp(id++);
        std::string epb;
        put32(epb, 0); // interface id
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
