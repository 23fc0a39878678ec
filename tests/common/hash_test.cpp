#include "common/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

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

uint64_t xxh64(const std::string& bytes, uint64_t seed = 0) {
  ContentHasher hasher(seed);
  hasher.update(bytes);
  return hasher.digest();
}

TEST(Hash, ContentHasherIsXxh64) {
  // Published XXH64 values (xxHash's test suite and users of it, e.g. ClickHouse's and hammer2's tests).
  EXPECT_EQ(xxh64(""), 0xef46db3751d8e999ull);
  EXPECT_EQ(xxh64("a"), 0xd24ec4f1a98c6e5bull);
  EXPECT_EQ(xxh64("abc"), 0x44bc2cf5ad770999ull);
  EXPECT_EQ(xxh64("ABC"), 0xe66ae7354fcfee98ull);
  EXPECT_EQ(xxh64("xxhash"), 0x32dd38952c4bc720ull);
  // 71 bytes with a seed: the 32-byte stripes, then 8-, 4- and 1-byte tails.
  EXPECT_EQ(xxh64("This code is derived from software contributed to The DragonFly Project", 0x4d617474446c6c6eull),
            0x103c241eeddc8d32ull);
}

TEST(Hash, ContentHasherStreamsInAnyPieces) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<char>(i * 37 + 11));
  const uint64_t whole = xxh64(bytes);
  for (const size_t piece : {1u, 3u, 31u, 32u, 33u, 100u}) {
    ContentHasher hasher;
    for (size_t at = 0; at < bytes.size(); at += piece) hasher.update(bytes.data() + at, std::min(piece, bytes.size() - at));
    EXPECT_EQ(hasher.digest(), whole) << piece;
  }
  ContentHasher fields, joined;
  fields.update_field("ab");
  fields.update_field("c");
  joined.update_field("a");
  joined.update_field("bc");
  EXPECT_NE(fields.digest(), joined.digest());
}

}  // namespace
}  // namespace pg
