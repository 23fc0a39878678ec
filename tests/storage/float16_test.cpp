// float16 <-> float32 conversion against IEEE 754 facts and, where the compiler has it, against its
// own _Float16 conversions (hardware/libgcc rounding) as an independent reference.
#include "storage/float16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace pg::storage {
namespace {

float from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// The value a float16 bit pattern denotes, computed from the IEEE definition with ldexp.
double half_value(uint16_t bits) {
  const int sign = (bits & 0x8000) ? -1 : 1;
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(Float16, KnownEncodings) {
  EXPECT_EQ(float32_to_float16(0.0f), 0x0000);
  EXPECT_EQ(float32_to_float16(-0.0f), 0x8000);
  EXPECT_EQ(float32_to_float16(1.0f), 0x3C00);
  EXPECT_EQ(float32_to_float16(-2.0f), 0xC000);
  EXPECT_EQ(float32_to_float16(0.5f), 0x3800);
  EXPECT_EQ(float32_to_float16(65504.0f), 0x7BFF);           // largest finite
  EXPECT_EQ(float32_to_float16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(float32_to_float16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float32_to_float16(std::ldexp(1023.0f, -24)), 0x03FF);  // largest subnormal
  EXPECT_EQ(float32_to_float16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float32_to_float16(-std::numeric_limits<float>::infinity()), 0xFC00);
}

TEST(Float16, RoundsToNearestEven) {
  // 1 + 2^-11 lies exactly between 1 and 1 + 2^-10: ties go to the even mantissa (1.0).
  EXPECT_EQ(float32_to_float16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  // 1 + 3*2^-11 lies between 1 + 2^-10 (odd) and 1 + 2^-9 (even): up to 0x3C02.
  EXPECT_EQ(float32_to_float16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  // Just above the tie rounds up.
  EXPECT_EQ(float32_to_float16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  // 65520 is the tie between 65504 and 2^16: rounds to even, i.e. overflows to infinity.
  EXPECT_EQ(float32_to_float16(65520.0f), 0x7C00);
  EXPECT_EQ(float32_to_float16(65519.0f), 0x7BFF);
  EXPECT_EQ(float32_to_float16(1e10f), 0x7C00);
  // Subnormal ties: 2^-25 is halfway between 0 and 2^-24 (rounds to 0, even); 3*2^-25 to 2*2^-24.
  EXPECT_EQ(float32_to_float16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(float32_to_float16(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(float32_to_float16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  // The largest subnormal plus half a step rounds up into the smallest normal.
  EXPECT_EQ(float32_to_float16(std::ldexp(1023.5f, -24)), 0x0400);
  // float32 subnormals are far below float16's range.
  EXPECT_EQ(float32_to_float16(from_bits(0x00000001)), 0x0000);
  EXPECT_EQ(float32_to_float16(-from_bits(0x00400000)), 0x8000);
}

TEST(Float16, NanStaysNan) {
  const uint16_t half = float32_to_float16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(half & 0x7C00, 0x7C00);
  EXPECT_NE(half & 0x03FF, 0);
  // A signalling NaN whose payload sits only in the low bits must not become infinity.
  const uint16_t low_payload = float32_to_float16(from_bits(0x7F800001));
  EXPECT_EQ(low_payload & 0x7C00, 0x7C00);
  EXPECT_NE(low_payload & 0x03FF, 0);
  EXPECT_TRUE(std::isnan(float16_to_float32(0x7E00)));
  EXPECT_TRUE(std::isnan(float16_to_float32(0xFC01)));
}

TEST(Float16, DecodesEveryPatternByDefinition) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    const float value = float16_to_float32(half);
    if (((half >> 10) & 0x1F) == 0x1F) {
      if (half & 0x3FF) {
        EXPECT_TRUE(std::isnan(value)) << std::hex << bits;
      } else {
        EXPECT_EQ(value, (half & 0x8000) ? -INFINITY : INFINITY) << std::hex << bits;
      }
      continue;
    }
    ASSERT_EQ(static_cast<double>(value), half_value(half)) << std::hex << bits;
    EXPECT_EQ(std::signbit(value), (half & 0x8000) != 0) << std::hex << bits;
    // Every finite float16 survives the round trip bit-exactly.
    ASSERT_EQ(float32_to_float16(value), half) << std::hex << bits;
  }
}

TEST(Float16, EncodesToTheNearestHalf) {
  // Invariant: no other float16 is closer than the chosen one; on a tie the chosen one is even.
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 200000; ++i) {
    // Magnitudes up to 2^17, so overflow, normals, subnormals and underflow are all exercised.
    const float value = std::ldexp(from_bits((any_bits(rng) & 0x807FFFFFu) | 0x3F800000u),
                                   static_cast<int>(any_bits(rng) % 44) - 27);
    const uint16_t half = float32_to_float16(value);
    const double exact = value;
    if (std::fabs(exact) >= 65520.0) {
      ASSERT_EQ(half & 0x7FFF, 0x7C00) << value;
      continue;
    }
    const double chosen = half_value(half);
    ASSERT_EQ((half & 0x8000) != 0, std::signbit(value)) << value;
    const double step = std::fabs(chosen) < std::ldexp(1.0, -14) ? std::ldexp(1.0, -24)
                                                                  : std::ldexp(std::fabs(chosen), -10);
    ASSERT_LE(std::fabs(exact - chosen), step / 2 * (1 + 1e-12)) << value;
    const uint16_t magnitude = half & 0x7FFF;
    for (const int delta : {-1, 1}) {
      if (magnitude == 0 && delta < 0) continue;
      const double neighbour = half_value(static_cast<uint16_t>((half & 0x8000) | (magnitude + delta)));
      const double distance = std::fabs(exact - chosen), other = std::fabs(exact - neighbour);
      ASSERT_LE(distance, other) << value;
      if (distance == other) {
        ASSERT_EQ(half & 1, 0) << "tie not to even: " << value;
      }
    }
  }
}

#ifdef __FLT16_MAX__
TEST(Float16, AgreesWithCompilerFloat16) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> any_bits;
  for (int i = 0; i < 1000000; ++i) {
    const float value = from_bits(any_bits(rng));
    if (std::isnan(value)) continue;  // NaN payloads are not specified by IEEE
    const _Float16 reference = static_cast<_Float16>(value);
    uint16_t reference_bits;
    std::memcpy(&reference_bits, &reference, sizeof reference_bits);
    ASSERT_EQ(float32_to_float16(value), reference_bits) << value;
  }
}
#endif

TEST(Float16, BulkFormsMatchScalarOnes) {
  const float in[4] = {1.0f, -0.25f, 3.14159f, 70000.0f};
  uint16_t halves[4];
  float out[4];
  float32_to_float16(in, halves, 4);
  float16_to_float32(halves, out, 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(halves[i], float32_to_float16(in[i]));
    EXPECT_EQ(out[i], float16_to_float32(halves[i]));
  }
  EXPECT_EQ(out[2], 3.140625f);  // nearest float16 to pi-ish: 0x4248
  EXPECT_TRUE(std::isinf(out[3]));
}

}  // namespace
}  // namespace pg::storage
