// FNV-1a, 64-bit: a tiny, stable hash for ids that must not change between builds or machines
// (task ids). Not for security.
#pragma once

#include <cstdint>
#include <string>

namespace pg {

uint64_t fnv1a_64(const std::string& bytes);
// 16 lower-case hex digits.
std::string to_hex16(uint64_t value);

}  // namespace pg
