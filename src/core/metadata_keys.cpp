#include <nfcap/metadata_keys.hpp>

#include <array>

namespace nfcap {
namespace {

using enum KeyKind;

constexpr std::array table{
    MetadataKey{Key::source, "source", text, "string"},
    MetadataKey{Key::hook, "hook", text, "string"},
    MetadataKey{Key::family, "family", text, "string"},
    MetadataKey{Key::prefix, "prefix", text, "string"},
    MetadataKey{Key::in, "in", text, "string"},
    MetadataKey{Key::out, "out", text, "string"},
    MetadataKey{Key::physin, "physin", text, "string"},
    MetadataKey{Key::physout, "physout", text, "string"},
    MetadataKey{Key::uid, "uid", number, "uint32"},
    MetadataKey{Key::gid, "gid", number, "uint32"},
    MetadataKey{Key::mark, "mark", hex, "uint32"},
    MetadataKey{Key::priority, "priority", number, "uint32"},
    MetadataKey{Key::hwtype, "hwtype", number, "uint16"},
    MetadataKey{Key::hwaddr, "hwaddr", text, "string"},
    MetadataKey{Key::hwheader, "hwheader", text, "string"},
    MetadataKey{Key::vlan, "vlan", text, "string"},
    MetadataKey{Key::ct, "ct", text, "string"},
    MetadataKey{Key::ctstatus, "ctstatus", hex, "uint32"},
    MetadataKey{Key::ctmark, "ctmark", hex, "uint32"},
    MetadataKey{Key::ctid, "ctid", number, "uint32"},
    MetadataKey{Key::ctzone, "ctzone", number, "uint16"},
    MetadataKey{Key::seq, "seq", number, "uint32"},
    MetadataKey{Key::seq_global, "seq_global", number, "uint32"},
    MetadataKey{Key::id, "id", number, "uint32"},
    MetadataKey{Key::verdict, "verdict", text, "string"},
    MetadataKey{Key::setmark, "setmark", text, "string"},
    MetadataKey{Key::decided, "decided", text, "string"},
    MetadataKey{Key::payload, "payload", text, "string"},
    MetadataKey{Key::skbinfo, "skbinfo", text, "string"},
    MetadataKey{Key::secctx, "secctx", text, "string"},
    MetadataKey{Key::ts, "ts", text, "string"},
    MetadataKey{Key::copy, "copy", text, "string"},
    MetadataKey{Key::trunc, "trunc", number, "uint32"},
    MetadataKey{Key::truncated, "truncated", text, "string"},
};

constexpr bool in_order() {
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (static_cast<std::size_t>(table[i].key) != i) {
            return false;
        }
    }
    return static_cast<std::size_t>(Key::truncated) + 1 == table.size();
}
static_assert(in_order(), "the table lists every Key once, in the enum's order");

} // namespace

std::span<const MetadataKey> metadata_keys() {
    return table;
}

std::optional<Key> find_key(std::string_view name) {
    for (const MetadataKey& k : table) {
        if (k.name == name) {
            return k.key;
        }
    }
    return std::nullopt;
}

} // namespace nfcap
