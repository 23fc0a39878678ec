// CoOp's training augmentation (Dassl's build_transform, is_train): RandomResizedCrop(n_px, scale
// (0.08, 1), ratio (3/4, 4/3), BICUBIC) + RandomHorizontalFlip(0.5) + ToTensor + Normalize, on the image
// after Dassl's read_image (convert('RGB') first), for the cached training views of the feature store.
//
// The procedure is torchvision's (RandomResizedCrop.get_params, F.resized_crop on a PIL image, hflip);
// the random numbers are not torch's (which cannot be reproduced here) but a documented generator of
// our own, so one (image size, seed) gives the same view on every machine and in every build:
//   SplitMix64 (Steele, Lea, Flood 2014; the reference constants) seeded with `seed`;
//   uniform(a, b) = a + (b - a) * u, u = (next() >> 11) * 2^-53 in [0, 1);
//   randint(0, n) (n values) = next() reduced without bias (rejecting the top 2^64 mod n values).
// Draws, in order: per attempt (at most 10) a scale then a log-ratio; on acceptance the top offset then
// the left offset; after the crop, one uniform for the flip (flip when it is below 0.5).
#pragma once

#include <cstdint>

#include "worker/image/image.h"
#include "worker/image/transforms.h"

namespace pg::image {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();                       // [0, 1), 53 random bits
  double uniform(double low, double high);
  uint64_t below(uint64_t n);             // uniform in [0, n), n >= 1
 private:
  uint64_t state_;
};

// torchvision's RandomResizedCrop.get_params for a width x height image with scale (0.08, 1) and ratio
// (3/4, 4/3): up to 10 attempts of area = uniform(0.08, 1) * W * H and ratio = exp(uniform(log 3/4,
// log 4/3)), w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)) (Python round), accepted when
// 0 < w <= W and 0 < h <= H, offsets top = randint(0, H - h + 1), left = randint(0, W - w + 1); when all
// 10 fail, the fallback: the whole image with its ratio clamped to [3/4, 4/3], centred.
CropBox sample_random_resized_crop(int width, int height, SplitMix64& random);
CropBox sample_random_resized_crop(int width, int height, uint64_t seed);

// Everything one training view draws from its seed.
struct TrainingView {
  CropBox box;
  bool flip = false;
};
TrainingView sample_training_view(int width, int height, uint64_t seed);

// The view as uint8 RGB (n_px x n_px) before ToTensor: convert('RGB'), crop the box, resize it to
// n_px x n_px with PIL BICUBIC (no resampling when the box already is that size), mirror if flipped.
// options.order is not used: Dassl always converts first.
Image training_view_rgb(const Image& image, const PreprocessOptions& options, uint64_t seed);
// preprocess_training_view (declared in transforms.h beside preprocess_for_test) is training_view_rgb
// followed by to_normalized_chw.

}  // namespace pg::image
