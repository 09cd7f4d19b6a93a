#include "byte_reader.hpp"

#include <gtest/gtest.h>

#include <array>

using nfcap::ByteReader;
using nfcap::DecodeError;

TEST(ByteReader, ReadsBigEndianFieldsInOrder) {
    const std::array<std::byte, 15> data{
        std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04}, std::byte{0x05},
        std::byte{0x06}, std::byte{0x07}, std::byte{0x08}, std::byte{0x09}, std::byte{0x0a},
        std::byte{0x0b}, std::byte{0x0c}, std::byte{0x0d}, std::byte{0x0e}, std::byte{0x0f}};
    ByteReader r(data);
    EXPECT_EQ(r.u8(), 0x01);
    EXPECT_EQ(r.be16(), 0x0203);
    EXPECT_EQ(r.be32(), 0x04050607U);
    EXPECT_EQ(r.be64(), 0x08090a0b0c0d0e0fULL);
    EXPECT_TRUE(r.empty());
}

TEST(ByteReader, ThrowsInsteadOfReadingPastTheEnd) {
    const std::array<std::byte, 3> data{};
    ByteReader r(data);
    EXPECT_THROW(r.be32(), DecodeError);
    EXPECT_EQ(r.position(), 0U) << "a failed read consumes nothing";
    EXPECT_EQ(r.be16(), 0);
    EXPECT_THROW(r.be16(), DecodeError);
    EXPECT_THROW(r.bytes(2), DecodeError);
    EXPECT_EQ(r.bytes(1).size(), 1U);
    EXPECT_THROW(r.u8(), DecodeError);
}

TEST(ByteReader, ErrorNamesOffsetAndSizes) {
    const std::array<std::byte, 5> data{};
    ByteReader r(data);
    r.skip(3);
    try {
        r.be32();
        FAIL() << "expected DecodeError";
    } catch (const DecodeError& e) {
        EXPECT_NE(std::string(e.what()).find("offset 3"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("have 2"), std::string::npos) << e.what();
    }
}
