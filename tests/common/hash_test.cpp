#include "common/hash.h"

#include <gtest/gtest.h>

namespace pg {
namespace {

TEST(Hash, Fnv1a64MatchesPublishedTestVectors) {
  // Test vectors from the FNV reference (Fowler/Noll/Vo), 64-bit FNV-1a.
  EXPECT_EQ(fnv1a_64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a_64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a_64("foobar"), 0x85944171f73967e8ull);
}

TEST(Hash, HexHasSixteenLowerCaseDigits) {
  EXPECT_EQ(to_hex16(0xaf63dc4c8601ec8cull), "af63dc4c8601ec8c");
  EXPECT_EQ(to_hex16(1), "0000000000000001");
}

}  // namespace
}  // namespace pg
