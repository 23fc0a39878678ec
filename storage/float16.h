// IEEE 754 binary16 ("half", numpy's float16) <-> float32 conversion in plain C++, for feature stores
// written in float16 to halve their size. Rounding is to nearest, ties to even (what numpy and CUDA
// do); infinities, NaNs and subnormals are handled; values beyond the float16 range become infinity.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pg::storage {

uint16_t float32_to_float16(float value);
float float16_to_float32(uint16_t bits);

// Bulk forms over `count` values.
void float32_to_float16(const float* in, uint16_t* out, size_t count);
void float16_to_float32(const uint16_t* in, float* out, size_t count);

}  // namespace pg::storage
