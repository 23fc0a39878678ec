#include "common/hash.h"

#include <cstdio>

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

}  // namespace pg
