#include "worker/image/random_resized_crop.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"
#include "worker/image/color_convert.h"
#include "worker/image/pil_resample.h"

namespace pg::image {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SplitMix64::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double SplitMix64::uniform(double low, double high) { return low + (high - low) * uniform(); }

uint64_t SplitMix64::below(uint64_t n) {
  if (n == 0) throw Error("pg::image: SplitMix64::below(0)", ErrorKind::internal);
  const uint64_t rejected = (0 - n) % n;  // 2^64 mod n: the incomplete last block of values
  uint64_t value;
  do value = next();
  while (value < rejected);
  return value % n;
}

CropBox sample_random_resized_crop(int width, int height, SplitMix64& random) {
  if (width < 1 || height < 1) {
    throw Error("pg::image: random resized crop of a " + std::to_string(width) + "x" + std::to_string(height) +
                    " image",
                ErrorKind::internal);
  }
  constexpr double kScaleLow = 0.08, kScaleHigh = 1.0;
  constexpr double kRatioLow = 3.0 / 4.0, kRatioHigh = 4.0 / 3.0;
  const double area = static_cast<double>(width) * static_cast<double>(height);
  const double log_low = std::log(kRatioLow), log_high = std::log(kRatioHigh);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * random.uniform(kScaleLow, kScaleHigh);
    const double ratio = std::exp(random.uniform(log_low, log_high));
    const int w = round_half_even(std::sqrt(target_area * ratio));
    const int h = round_half_even(std::sqrt(target_area / ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int top = static_cast<int>(random.below(static_cast<uint64_t>(height - h + 1)));
      const int left = static_cast<int>(random.below(static_cast<uint64_t>(width - w + 1)));
      return CropBox{left, top, w, h};
    }
  }
  // torchvision's fallback: a central crop of the whole image, its ratio clamped into the range. The
  // min() only guards against floating-point rounding; torchvision's own arithmetic stays inside too.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int w = width, h = height;
  if (in_ratio < kRatioLow) {
    h = std::min(height, round_half_even(w / kRatioLow));
  } else if (in_ratio > kRatioHigh) {
    w = std::min(width, round_half_even(h * kRatioHigh));
  }
  w = std::max(w, 1);
  h = std::max(h, 1);
  return CropBox{(width - w) / 2, (height - h) / 2, w, h};
}

CropBox sample_random_resized_crop(int width, int height, uint64_t seed) {
  SplitMix64 random(seed);
  return sample_random_resized_crop(width, height, random);
}

TrainingView sample_training_view(int width, int height, uint64_t seed) {
  SplitMix64 random(seed);
  TrainingView view;
  view.box = sample_random_resized_crop(width, height, random);
  view.flip = random.uniform() < 0.5;  // RandomHorizontalFlip: flip when rand < p
  return view;
}

Image training_view_rgb(const Image& image, const PreprocessOptions& options, uint64_t seed) {
  if (options.n_px < 1) {
    throw Error("image preprocessing: n_px is " + std::to_string(options.n_px) + "; it must be at least 1");
  }
  const Image rgb = convert_to_rgb(image);
  const TrainingView view = sample_training_view(rgb.width, rgb.height, seed);
  const Image cropped = crop(rgb, view.box.left, view.box.top, view.box.width, view.box.height);
  Image resized = pil_resize(cropped, options.n_px, options.n_px);
  return view.flip ? flip_horizontal(resized) : resized;
}

}  // namespace pg::image
