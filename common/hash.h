// Hashes for identities that must not change between builds or machines.
//   fnv1a_64: tiny, for short strings (task ids are the FNV-1a of the canonical spec).
//   ContentHasher: XXH64 (the xxHash specification, seed 0), streaming, several GB/s: the digest of
//   large contents such as a checkpoint's weights or a dataset's features, which go into task specs.
// Neither is for security.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pg {

uint64_t fnv1a_64(const std::string& bytes);
// 16 lower-case hex digits.
std::string to_hex16(uint64_t value);

class ContentHasher {
 public:
  explicit ContentHasher(uint64_t seed = 0);
  void update(const void* data, size_t size);
  void update(const std::string& bytes) { update(bytes.data(), bytes.size()); }
  // A length-prefixed string: ("ab", "c") and ("a", "bc") hash differently.
  void update_field(const std::string& text);
  // The XXH64 of everything given so far; update may continue afterwards.
  uint64_t digest() const;

 private:
  uint64_t lanes_[4];
  uint64_t seed_;
  uint64_t total_ = 0;
  unsigned char buffer_[32];
  size_t buffered_ = 0;
};

}  // namespace pg
