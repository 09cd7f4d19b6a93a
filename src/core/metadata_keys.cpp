#include <nfcap/metadata_keys.hpp>

namespace nfcap {
namespace {

constexpr bool in_order() {
    for (std::size_t i = 0; i < metadata_key_table.size(); ++i) {
        if (static_cast<std::size_t>(metadata_key_table[i].key) != i) {
            return false;
        }
    }
    return static_cast<std::size_t>(Key::truncated) + 1 == metadata_key_table.size();
}
static_assert(in_order(), "the table lists every Key once, in the enum's order");

} // namespace

std::span<const MetadataKey> metadata_keys() {
    return metadata_key_table;
}

std::optional<Key> find_key(std::string_view name) {
    for (const MetadataKey& k : metadata_key_table) {
        if (k.name == name) {
            return k.key;
        }
    }
    return std::nullopt;
}

} // namespace nfcap
