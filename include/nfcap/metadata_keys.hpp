#pragma once
// The one table of metadata keys: each key's name, how its value reads, and its place in the
// comment. The comment writer writes keys in this order and by these names, the JSON output
// makes a key a number or a string by its kind, and the Wireshark plugin (samples/wireshark/
// nfcap.lua) declares a field of the listed type for each (a unit test keeps it in step).
// README.md ("The metadata comment") documents each key for people.

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

// The table, in comment order (index = the Key's value).
std::span<const MetadataKey> metadata_keys();

inline const MetadataKey& metadata_key(Key key) {
    return metadata_keys()[static_cast<std::size_t>(key)];
}

// The key named `name`; nullopt for a name the table does not hold.
std::optional<Key> find_key(std::string_view name);

} // namespace nfcap
