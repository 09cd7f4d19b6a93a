#include "byte_reader.hpp"

namespace nfcap {

void ByteReader::truncated(std::size_t n, const char* what) const {
    throw DecodeError(std::string("truncated ") + what + ": need " + std::to_string(n) +
                      " bytes at offset " + std::to_string(pos_) + ", have " +
                      std::to_string(remaining()));
}

} // namespace nfcap
