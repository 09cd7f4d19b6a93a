// Prints the metadata key table (include/nfcap/metadata_keys.hpp), one key per line:
// name, kind (text, number, hex) and the plugin field's ProtoField type, tab-separated, in
// comment order. golden/lua_dissector.sh checks the Wireshark plugin against it.
#include <nfcap/metadata_keys.hpp>

#include <cstdio>
#include <string>

int main() {
    for (const nfcap::MetadataKey& k : nfcap::metadata_keys()) {
        const char* kind = k.kind == nfcap::KeyKind::number ? "number"
                           : k.kind == nfcap::KeyKind::hex  ? "hex"
                                                            : "text";
        std::printf("%s\t%s\t%s\n", std::string(k.name).c_str(), kind,
                    std::string(k.lua_type).c_str());
    }
    return 0;
}
