#include "util/bytes.hpp"

#include <gtest/gtest.h>

using treecast::util::ByteReader;
using treecast::util::ByteWriter;

TEST(Bytes, VarintRoundTripAndExactBytes)
{
  ByteWriter w;
  w.varint(0);
  w.varint(127);
  w.varint(128);
  w.varint(300);
  w.varint(UINT64_MAX);
  const std::vector<std::uint8_t> expected{0x00, 0x7f, 0x80, 0x01, 0xac, 0x02, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  EXPECT_EQ(w.data(), expected);
  ByteReader r(w.data());
  EXPECT_EQ(r.varint("a"), 0u);
  EXPECT_EQ(r.varint("b"), 127u);
  EXPECT_EQ(r.varint("c"), 128u);
  EXPECT_EQ(r.varint("d"), 300u);
  EXPECT_EQ(r.varint("e"), UINT64_MAX);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

TEST(Bytes, NonCanonicalAndOverflowingVarintsAreRejected)
{
  const std::vector<std::uint8_t> padded{0x80, 0x00};
  ByteReader a(padded);
  a.varint("size");
  EXPECT_FALSE(a.ok());
  EXPECT_NE(a.error().find("non-canonical varint at size"), std::string::npos);

  const std::vector<std::uint8_t> overflow{0xff, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0x02};
  ByteReader b(overflow);
  b.varint("count");
  EXPECT_FALSE(b.ok());
  EXPECT_NE(b.error().find("overflow"), std::string::npos);
}

TEST(Bytes, TruncationIsStickyAndNamesTheField)
{
  const std::vector<std::uint8_t> data{0x05, 'a', 'b'};
  ByteReader r(data);
  EXPECT_EQ(r.str("channel", 100), "");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("truncated at channel"), std::string::npos);
  // Later reads return zero values and keep the first error.
  EXPECT_EQ(r.u64le("time"), 0u);
  EXPECT_NE(r.error().find("channel"), std::string::npos);
}

TEST(Bytes, LengthsAboveTheLimitAreRefusedBeforeAnyAllocation)
{
  ByteWriter w;
  w.varint(std::uint64_t{1} << 63);
  ByteReader r(w.data());
  r.str("path", 4096);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("above the limit"), std::string::npos);
}
