// PIL's mode conversions that the reference pipeline runs (libImaging/Convert.c, by behaviour):
// convert('RGB') from every mode the decoders produce, and the premultiplication PIL wraps around
// resizing an image with alpha (Image.resize: RGBA -> "RGBa", LA -> "La", resize, convert back).
// Used by transforms.h and pil_resample.h; the feature extractor needs only convert_to_rgb.
#pragma once

#include <cstdint>

#include "worker/image/image.h"

namespace pg::image {

// Convert.c's MULDIV255: a * b / 255 rounded, the way PIL computes it.
inline uint32_t muldiv255(uint32_t a, uint32_t b) {
  const uint32_t t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// convert('RGB'): L and "1" replicated; LA and RGBA drop alpha (no compositing onto a background); P
// looks up the palette (tRNS ignored); I clipped to 0..255; CMYK as R = clip(255 - K - MULDIV255(C,
// 255 - K)), likewise G (M) and B (Y). An RGB image comes back unchanged (a copy).
Image convert_to_rgb(const Image& image);

// RGBA -> RGBa / LA -> La: each colour c becomes MULDIV255(c, alpha); the mode stays RGBA / LA.
Image premultiply_alpha(const Image& image);
// RGBa -> RGBA / La -> LA: c = alpha in {0, 255} ? c : min(255, 255 * c / alpha) (integer division).
Image unpremultiply_alpha(const Image& image);

}  // namespace pg::image
