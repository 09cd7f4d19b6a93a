#pragma once
// The one table of metadata keys: each key's name, how its value reads, and its place in the
// comment. The comment writer writes keys in this order and by these names, the JSON output
// makes a key a number or a string by its kind, and the Wireshark plugin (samples/wireshark/
// nfcap.lua) declares a field of the listed type for each (a unit test keeps it in step).
// README.md ("The metadata comment") documents each key for people.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace nfcap {

// Every key, in comment order.
enum class Key : std::uint8_t {
    source, // the leading token ("nflog:123"), written without "source="
    hook,
    family,
    prefix,
    in,
    out,
    physin,
    physout,
    uid,
    gid,
    mark,
    priority,
    hwtype,
    hwaddr,
    hwheader,
    vlan,
    ct,
    ctstatus,
    ctmark,
    ctid,
    ctzone,
    seq,
    seq_global,
    id,
    verdict, // verdict .. payload: the NFQUEUE decision (verdict.hpp, describe())
    setmark,
    decided,
    payload,
    skbinfo,
    secctx,
    ts,
    copy,
    trunc,
    truncated,
};

// How a value reads: `number` is a decimal integer (a JSON number); `hex` an integer written
// 0x...; `text` anything else (a JSON string).
enum class KeyKind : std::uint8_t { text, number, hex };

struct MetadataKey {
    Key key;
    std::string_view name;
    KeyKind kind;
    std::string_view lua_type; // the ProtoField type of the plugin's field "nfcap.<name>"
};

// The table, in comment order (index = the Key's value). Visible here so that a key written
// by a constant name costs nothing to look up.
inline constexpr std::array metadata_key_table{
    MetadataKey{Key::source, "source", KeyKind::text, "string"},
    MetadataKey{Key::hook, "hook", KeyKind::text, "string"},
    MetadataKey{Key::family, "family", KeyKind::text, "string"},
    MetadataKey{Key::prefix, "prefix", KeyKind::text, "string"},
    MetadataKey{Key::in, "in", KeyKind::text, "string"},
    MetadataKey{Key::out, "out", KeyKind::text, "string"},
    MetadataKey{Key::physin, "physin", KeyKind::text, "string"},
    MetadataKey{Key::physout, "physout", KeyKind::text, "string"},
    MetadataKey{Key::uid, "uid", KeyKind::number, "uint32"},
    MetadataKey{Key::gid, "gid", KeyKind::number, "uint32"},
    MetadataKey{Key::mark, "mark", KeyKind::hex, "uint32"},
    MetadataKey{Key::priority, "priority", KeyKind::number, "uint32"},
    MetadataKey{Key::hwtype, "hwtype", KeyKind::number, "uint16"},
    MetadataKey{Key::hwaddr, "hwaddr", KeyKind::text, "string"},
    MetadataKey{Key::hwheader, "hwheader", KeyKind::text, "string"},
    MetadataKey{Key::vlan, "vlan", KeyKind::text, "string"},
    MetadataKey{Key::ct, "ct", KeyKind::text, "string"},
    MetadataKey{Key::ctstatus, "ctstatus", KeyKind::hex, "uint32"},
    MetadataKey{Key::ctmark, "ctmark", KeyKind::hex, "uint32"},
    MetadataKey{Key::ctid, "ctid", KeyKind::number, "uint32"},
    MetadataKey{Key::ctzone, "ctzone", KeyKind::number, "uint16"},
    MetadataKey{Key::seq, "seq", KeyKind::number, "uint32"},
    MetadataKey{Key::seq_global, "seq_global", KeyKind::number, "uint32"},
    MetadataKey{Key::id, "id", KeyKind::number, "uint32"},
    MetadataKey{Key::verdict, "verdict", KeyKind::text, "string"},
    MetadataKey{Key::setmark, "setmark", KeyKind::text, "string"},
    MetadataKey{Key::decided, "decided", KeyKind::text, "string"},
    MetadataKey{Key::payload, "payload", KeyKind::text, "string"},
    MetadataKey{Key::skbinfo, "skbinfo", KeyKind::text, "string"},
    MetadataKey{Key::secctx, "secctx", KeyKind::text, "string"},
    MetadataKey{Key::ts, "ts", KeyKind::text, "string"},
    MetadataKey{Key::copy, "copy", KeyKind::text, "string"},
    MetadataKey{Key::trunc, "trunc", KeyKind::number, "uint32"},
    MetadataKey{Key::truncated, "truncated", KeyKind::text, "string"},
};

std::span<const MetadataKey> metadata_keys();

constexpr const MetadataKey& metadata_key(Key key) {
    return metadata_key_table[static_cast<std::size_t>(key)];
}

// The key named `name`; nullopt for a name the table does not hold.
std::optional<Key> find_key(std::string_view name);

} // namespace nfcap
