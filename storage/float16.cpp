#include "storage/float16.h"

#include <cstring>

namespace pg::storage {

namespace {

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float float_of(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Shifts `mantissa` right by `shift` bits, rounding to nearest with ties to even.
uint32_t shift_right_rounded(uint32_t mantissa, int shift) {
  if (shift >= 32) return 0;
  const uint32_t kept = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (kept & 1u))) return kept + 1u;
  return kept;
}

}  // namespace

uint16_t float32_to_float16(float value) {
  const uint32_t bits = bits_of(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const int exponent = static_cast<int>((bits >> 23) & 0xFFu);
  const uint32_t mantissa = bits & 0x7FFFFFu;

  if (exponent == 0xFF) {  // inf or NaN; NaNs keep their top payload bits and stay NaN (quiet bit set)
    if (mantissa == 0) return sign | 0x7C00u;
    return static_cast<uint16_t>(sign | 0x7E00u | (mantissa >> 13));
  }
  // Unbiased exponent; float16 normals cover [-14, 15], subnormals reach 2^-24.
  const int e = exponent - 127;
  if (e > 15) return sign | 0x7C00u;
  if (e >= -14) {
    // Normal: round the 23-bit mantissa to 10 bits. A carry out of the mantissa correctly bumps the
    // exponent (and turns 65520 and above into infinity).
    const uint32_t rounded = shift_right_rounded(mantissa, 13);
    return static_cast<uint16_t>(sign | ((static_cast<uint32_t>(e + 15) << 10) + rounded));
  }
  if (exponent == 0) return sign;  // float32 zero or subnormal: far below 2^-25, rounds to zero
  // Subnormal float16: value = full_mantissa * 2^(e - 23) with the implicit bit restored; in units of
  // 2^-24 that is full_mantissa >> (-e - 1). A carry into bit 10 yields the smallest normal, as it should.
  const uint32_t full = mantissa | 0x800000u;
  return static_cast<uint16_t>(sign | shift_right_rounded(full, -e - 1));
}

float float16_to_float32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;

  if (exponent == 0x1F) return float_of(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) return float_of(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
  if (mantissa == 0) return float_of(sign);
  // Subnormal: normalise so that the leading 1 becomes float32's implicit bit.
  int e = -14;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  mantissa &= 0x3FFu;
  return float_of(sign | (static_cast<uint32_t>(e + 127) << 23) | (mantissa << 13));
}

void float32_to_float16(const float* in, uint16_t* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = float32_to_float16(in[i]);
}

void float16_to_float32(const uint16_t* in, float* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = float16_to_float32(in[i]);
}

}  // namespace pg::storage
