#include "worker/image/pil_resample.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "worker/image/color_convert.h"

namespace pg::image {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c's PRECISION_BITS: 22

double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// The taps of one axis: for output pixel i, `count[i]` input pixels from `first[i]`, with weights
// weights[i * size .. i * size + count[i]).
struct Taps {
  int size = 0;
  std::vector<int> first, count;
  std::vector<double> weights;
};

// precompute_coeffs of Resample.c for the whole axis (box 0..in_size), in its operation order.
Taps bicubic_taps(int in_size, int out_size) {
  const float box_start = 0.0f, box_end = static_cast<float>(in_size);
  const double scale = static_cast<double>(box_end - box_start) / out_size;
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filter_scale;
  Taps taps;
  taps.size = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.size, 0.0);
  for (int i = 0; i < out_size; ++i) {
    const double center = box_start + (i + 0.5) * scale;
    const double inverse_scale = 1.0 / filter_scale;
    int first = static_cast<int>(center - support + 0.5);
    if (first < 0) first = 0;
    int end = static_cast<int>(center + support + 0.5);
    if (end > in_size) end = in_size;
    const int count = end - first;
    double* k = &taps.weights[static_cast<size_t>(i) * taps.size];
    double total = 0.0;
    for (int x = 0; x < count; ++x) {
      const double w = bicubic_kernel((x + first - center + 0.5) * inverse_scale);
      k[x] = w;
      total += w;
    }
    for (int x = 0; x < count; ++x) {
      if (total != 0.0) k[x] /= total;
    }
    taps.first[i] = first;
    taps.count[i] = count;
  }
  return taps;
}

// normalize_coeffs_8bpc: 22-bit fixed point, rounded half away from zero.
std::vector<int32_t> fixed_point(const Taps& taps) {
  std::vector<int32_t> fixed(taps.weights.size());
  for (size_t i = 0; i < fixed.size(); ++i) {
    const double w = taps.weights[i];
    fixed[i] = w < 0 ? static_cast<int32_t>(-0.5 + w * (1 << kPrecisionBits))
                     : static_cast<int32_t>(0.5 + w * (1 << kPrecisionBits));
  }
  return fixed;
}

uint8_t clip8(int64_t sum) {
  const int64_t v = sum >> kPrecisionBits;  // arithmetic shift, as PIL's int >> on its accumulator
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

int32_t round_half_away(double v) {  // Resample.c's ROUND_UP (0.5F is exact in double)
  return static_cast<int32_t>(v >= 0.0 ? v + 0.5 : v - 0.5);
}

int32_t load_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The 8-bit pass of one axis, with the channel count known at compile time (the inner loops unroll).
// Resample.c accumulates in a 32-bit int as here: |sum| stays below 255 * 1.4 * 2^22 < 2^31.
template <int kBpp>
void resample_8bit(const Image& in, Image& out, const Taps& taps, const std::vector<int32_t>& fixed, bool horizontal) {
  const size_t in_row = in.row_bytes(), out_row = out.row_bytes();
  const size_t step = horizontal ? static_cast<size_t>(kBpp) : in_row;
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      const int o = horizontal ? x : y;
      const uint8_t* src = in.pixels.data() + (horizontal ? y * in_row + static_cast<size_t>(taps.first[o]) * kBpp
                                                          : static_cast<size_t>(taps.first[o]) * in_row + x * kBpp);
      const int32_t* k = &fixed[static_cast<size_t>(o) * taps.size];
      int32_t sum[kBpp];
      for (int c = 0; c < kBpp; ++c) sum[c] = int32_t{1} << (kPrecisionBits - 1);
      const int count = taps.count[o];
      for (int t = 0; t < count; ++t) {
        const uint8_t* pixel = src + t * step;
        for (int c = 0; c < kBpp; ++c) sum[c] += int32_t{pixel[c]} * k[t];
      }
      uint8_t* dst = out.pixels.data() + y * out_row + static_cast<size_t>(x) * kBpp;
      for (int c = 0; c < kBpp; ++c) dst[c] = clip8(sum[c]);
    }
  }
}

// One pass along x (horizontal) or y (vertical); `in` already has the other axis's final size.
Image resample_axis(const Image& in, int out_size, bool horizontal) {
  const int in_size = horizontal ? in.width : in.height;
  const Taps taps = bicubic_taps(in_size, out_size);
  Image out = Image::blank(horizontal ? out_size : in.width, horizontal ? in.height : out_size, in.mode);
  const int bpp = bytes_per_pixel(in.mode);
  const size_t in_row = in.row_bytes(), out_row = out.row_bytes();
  // Distance in bytes between consecutive taps.
  const size_t step = horizontal ? static_cast<size_t>(bpp) : in_row;
  if (in.mode == Mode::I) {
    for (int y = 0; y < out.height; ++y) {
      for (int x = 0; x < out.width; ++x) {
        const int o = horizontal ? x : y;
        const uint8_t* src = in.pixels.data() + (horizontal ? y * in_row + static_cast<size_t>(taps.first[o]) * 4
                                                            : static_cast<size_t>(taps.first[o]) * in_row + x * 4u);
        const double* k = &taps.weights[static_cast<size_t>(o) * taps.size];
        double sum = 0.0;
        for (int t = 0; t < taps.count[o]; ++t) sum += load_i32(src + t * step) * k[t];
        const int32_t v = round_half_away(sum);
        std::memcpy(out.pixels.data() + y * out_row + x * 4u, &v, 4);
      }
    }
    return out;
  }
  const std::vector<int32_t> fixed = fixed_point(taps);
  switch (bpp) {
    case 1: resample_8bit<1>(in, out, taps, fixed, horizontal); break;
    case 2: resample_8bit<2>(in, out, taps, fixed, horizontal); break;
    case 3: resample_8bit<3>(in, out, taps, fixed, horizontal); break;
    default: resample_8bit<4>(in, out, taps, fixed, horizontal); break;
  }
  return out;
}

void check_size(const Image& image, int width, int height, const char* what) {
  if (width < 1 || height < 1 || image.width < 1 || image.height < 1) {
    throw Error(std::string("pg::image: ") + what + " from " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " to " + std::to_string(width) + "x" + std::to_string(height),
                ErrorKind::internal);
  }
}

}  // namespace

Image resize_bicubic(const Image& image, int width, int height) {
  check_size(image, width, height, "BICUBIC resize");
  if (image.mode == Mode::P || image.mode == Mode::bilevel) {
    throw Error(std::string("pg::image: BICUBIC resize of a mode ") + mode_name(image.mode) + " image",
                ErrorKind::internal);
  }
  const bool horizontal = width != image.width, vertical = height != image.height;
  if (!horizontal && !vertical) return image;
  if (!horizontal) return resample_axis(image, height, false);
  Image wide = resample_axis(image, width, true);
  return vertical ? resample_axis(wide, height, false) : wide;
}

Image resize_nearest(const Image& image, int width, int height) {
  check_size(image, width, height, "NEAREST resize");
  Image out = Image::blank(width, height, image.mode);
  out.palette = image.palette;
  const int bpp = bytes_per_pixel(image.mode);
  // _imaging.c's _resize: a = ((float box width) / width, 0, 0, 0, (float box height) / height, 0).
  const double scale_x = static_cast<double>(static_cast<float>(image.width) - 0.0f) / width;
  const double scale_y = static_cast<double>(static_cast<float>(image.height) - 0.0f) / height;
  // ImagingScaleAffine: positions from x0 = scale / 2, accumulated; a position outside the source
  // leaves the (zero-filled) output pixel alone.
  std::vector<int> source_x(width, -1);
  double xo = 0.0 + scale_x * 0.5;
  for (int x = 0; x < width; ++x, xo += scale_x) {
    const int xi = xo < 0.0 ? -1 : static_cast<int>(xo);
    if (xi >= 0 && xi < image.width) source_x[x] = xi;
  }
  double yo = 0.0 + scale_y * 0.5;
  for (int y = 0; y < height; ++y, yo += scale_y) {
    const int yi = yo < 0.0 ? -1 : static_cast<int>(yo);
    if (yi < 0 || yi >= image.height) continue;
    const uint8_t* in = image.pixels.data() + static_cast<size_t>(yi) * image.row_bytes();
    uint8_t* out_row = out.pixels.data() + static_cast<size_t>(y) * out.row_bytes();
    for (int x = 0; x < width; ++x) {
      if (source_x[x] < 0) continue;
      std::memcpy(out_row + static_cast<size_t>(x) * bpp, in + static_cast<size_t>(source_x[x]) * bpp, bpp);
    }
  }
  return out;
}

Image pil_resize(const Image& image, int width, int height) {
  if (width == image.width && height == image.height) return image;
  if (image.mode == Mode::P || image.mode == Mode::bilevel) return resize_nearest(image, width, height);
  if (image.mode == Mode::RGBA || image.mode == Mode::LA) {
    return unpremultiply_alpha(resize_bicubic(premultiply_alpha(image), width, height));
  }
  return resize_bicubic(image, width, height);
}

Image crop(const Image& image, int left, int top, int width, int height) {
  if (left < 0 || top < 0 || width < 1 || height < 1 || left > image.width - width || top > image.height - height) {
    throw Error("pg::image: crop box (" + std::to_string(left) + ", " + std::to_string(top) + ", " +
                    std::to_string(width) + "x" + std::to_string(height) + ") outside a " +
                    std::to_string(image.width) + "x" + std::to_string(image.height) + " image",
                ErrorKind::internal);
  }
  Image out = Image::blank(width, height, image.mode);
  out.palette = image.palette;
  const size_t bpp = static_cast<size_t>(bytes_per_pixel(image.mode));
  for (int y = 0; y < height; ++y) {
    std::memcpy(out.pixels.data() + static_cast<size_t>(y) * out.row_bytes(),
                image.pixels.data() + static_cast<size_t>(top + y) * image.row_bytes() + left * bpp, out.row_bytes());
  }
  return out;
}

Image flip_horizontal(const Image& image) {
  Image out = image;
  const size_t bpp = static_cast<size_t>(bytes_per_pixel(image.mode));
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* in = image.pixels.data() + static_cast<size_t>(y) * image.row_bytes();
    uint8_t* row = out.pixels.data() + static_cast<size_t>(y) * out.row_bytes();
    for (int x = 0; x < image.width; ++x) std::memcpy(row + x * bpp, in + (image.width - 1 - x) * bpp, bpp);
  }
  return out;
}

}  // namespace pg::image
