#include "common/hash.h"

#include <cstdio>
#include <algorithm>
#include <cstring>

namespace pg {

uint64_t fnv1a_64(const std::string& bytes) {
  uint64_t hash = 14695981039346656037ull;  // offset basis
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV prime
  }
  return hash;
}

std::string to_hex16(uint64_t value) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(value));
  return hex;
}

namespace {

// XXH64's primes and steps, from the xxHash specification (doc/xxhash_spec.md).
constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ull;
constexpr uint64_t kPrime4 = 0x85EBCA77C2B2AE63ull;
constexpr uint64_t kPrime5 = 0x27D4EB2F165667C5ull;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t read64(const unsigned char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];  // little-endian on every host
  return value;
}

uint32_t read32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t round(uint64_t accumulator, uint64_t input) { return rotl(accumulator + input * kPrime2, 31) * kPrime1; }

uint64_t merge(uint64_t hash, uint64_t lane) { return (hash ^ round(0, lane)) * kPrime1 + kPrime4; }

}  // namespace

ContentHasher::ContentHasher(uint64_t seed)
    : lanes_{seed + kPrime1 + kPrime2, seed + kPrime2, seed, seed - kPrime1}, seed_(seed) {}

void ContentHasher::update(const void* data, size_t size) {
  const auto* input = static_cast<const unsigned char*>(data);
  total_ += size;
  if (buffered_ > 0) {
    const size_t take = std::min(size, sizeof buffer_ - buffered_);
    std::memcpy(buffer_ + buffered_, input, take);
    buffered_ += take;
    input += take;
    size -= take;
    if (buffered_ < sizeof buffer_) return;
    for (int i = 0; i < 4; ++i) lanes_[i] = round(lanes_[i], read64(buffer_ + 8 * i));
    buffered_ = 0;
  }
  for (; size >= 32; input += 32, size -= 32) {
    for (int i = 0; i < 4; ++i) lanes_[i] = round(lanes_[i], read64(input + 8 * i));
  }
  std::memcpy(buffer_, input, size);
  buffered_ = size;
}

void ContentHasher::update_field(const std::string& text) {
  const uint64_t length = text.size();
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(length >> (8 * i));
  update(prefix, sizeof prefix);
  update(text);
}

uint64_t ContentHasher::digest() const {
  uint64_t hash;
  if (total_ >= 32) {
    hash = rotl(lanes_[0], 1) + rotl(lanes_[1], 7) + rotl(lanes_[2], 12) + rotl(lanes_[3], 18);
    for (const uint64_t lane : lanes_) hash = merge(hash, lane);
  } else {
    hash = seed_ + kPrime5;
  }
  hash += total_;
  const unsigned char* p = buffer_;
  size_t left = buffered_;
  for (; left >= 8; p += 8, left -= 8) hash = rotl(hash ^ round(0, read64(p)), 27) * kPrime1 + kPrime4;
  if (left >= 4) {
    hash = rotl(hash ^ (static_cast<uint64_t>(read32(p)) * kPrime1), 23) * kPrime2 + kPrime3;
    p += 4;
    left -= 4;
  }
  for (; left > 0; ++p, --left) hash = rotl(hash ^ (*p * kPrime5), 11) * kPrime1;
  hash ^= hash >> 33;
  hash *= kPrime2;
  hash ^= hash >> 29;
  hash *= kPrime3;
  hash ^= hash >> 32;
  return hash;
}

}  // namespace pg
