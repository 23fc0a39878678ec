// The training view: RandomResizedCrop's invariants (torchvision's get_params), its fallback, the
// documented generator, determinism per seed and the flip rate. The pixels of crop + resize + mirror are
// checked against PIL in pil_cross_check_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <tuple>
#include <vector>

#include "worker/image/color_convert.h"
#include "worker/image/pil_resample.h"
#include "worker/image/random_resized_crop.h"

namespace pg::image {
namespace {

Image gradient_image(int width, int height) {
  Image image = Image::blank(width, height, Mode::RGB);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / width);
      p[1] = static_cast<uint8_t>(y * 255 / height);
      p[2] = static_cast<uint8_t>((x * 7 + y * 13) % 256);
    }
  }
  return image;
}

TEST(SplitMix64, IsTheReferenceGenerator) {
  // The published SplitMix64 sequence for seed 0 (Steele, Lea, Flood; Vigna's reference code).
  SplitMix64 random(0);
  EXPECT_EQ(random.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(random.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(random.next(), 0x06c45d188009454fULL);
  SplitMix64 other(12345);
  for (int i = 0; i < 1000; ++i) {
    const double u = other.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_LT(other.below(7), 7u);
  }
}

TEST(RandomResizedCrop, AcceptedCropsKeepTheScaleAndRatioRanges) {
  const int width = 500, height = 375;
  const double area = double(width) * height;
  double smallest = 1.0, largest = 0.0, narrowest = 10.0, widest = 0.0;
  std::set<std::pair<int, int>> corners;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    const CropBox box = sample_random_resized_crop(width, height, seed);
    ASSERT_GE(box.left, 0);
    ASSERT_GE(box.top, 0);
    ASSERT_LE(box.left + box.width, width);
    ASSERT_LE(box.top + box.height, height);
    // w and h are rounded from sqrt(area * ratio) and sqrt(area / ratio): allow half a pixel each.
    const double w = box.width, h = box.height;
    EXPECT_GE((w + 0.5) * (h + 0.5), 0.08 * area) << seed;
    EXPECT_LE((w - 0.5) * (h - 0.5), area) << seed;
    EXPECT_GE((w + 0.5) / (h - 0.5), 3.0 / 4.0) << seed;
    EXPECT_LE((w - 0.5) / (h + 0.5), 4.0 / 3.0) << seed;
    smallest = std::min(smallest, w * h / area);
    largest = std::max(largest, w * h / area);
    narrowest = std::min(narrowest, w / h);
    widest = std::max(widest, w / h);
    corners.insert({box.left, box.top});
  }
  // The whole ranges are used, and the crops move around the image.
  EXPECT_LT(smallest, 0.1);
  EXPECT_GT(largest, 0.85);
  EXPECT_LT(narrowest, 0.8);
  EXPECT_GT(widest, 1.25);
  EXPECT_GT(corners.size(), 1000u);
}

TEST(RandomResizedCrop, ThinImagesFallBackToTorchvisionsCentralCrop) {
  // No attempt can fit 1000x10 (h >= sqrt(0.08 * 10000 / (4/3)) > 10): the fallback clamps the ratio to
  // 4/3, h = 10, w = round(10 * 4/3) = 13, centred: left = (1000 - 13) // 2 = 493.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const CropBox wide = sample_random_resized_crop(1000, 10, seed);
    EXPECT_EQ(std::make_tuple(wide.left, wide.top, wide.width, wide.height), std::make_tuple(493, 0, 13, 10));
    // Tall: w = 10, h = round(10 / (3/4)) = 13, top = (1000 - 13) // 2 = 493.
    const CropBox tall = sample_random_resized_crop(10, 1000, seed);
    EXPECT_EQ(std::make_tuple(tall.left, tall.top, tall.width, tall.height), std::make_tuple(0, 493, 10, 13));
  }
}

TEST(RandomResizedCrop, TinyImagesGiveValidBoxes) {
  for (const auto& [width, height] : std::vector<std::pair<int, int>>{{1, 1}, {1, 2}, {2, 1}, {3, 3}, {1, 50}}) {
    for (uint64_t seed = 0; seed < 200; ++seed) {
      const CropBox box = sample_random_resized_crop(width, height, seed);
      ASSERT_GE(box.width, 1);
      ASSERT_GE(box.height, 1);
      ASSERT_GE(box.left, 0);
      ASSERT_GE(box.top, 0);
      ASSERT_LE(box.left + box.width, width);
      ASSERT_LE(box.top + box.height, height);
    }
  }
}

TEST(TrainingView, IsDeterministicPerSeedAndDiffersAcrossSeeds) {
  const Image image = gradient_image(160, 120);
  PreprocessOptions options;
  options.n_px = 32;
  EXPECT_EQ(preprocess_training_view(image, options, 7), preprocess_training_view(image, options, 7));
  std::set<std::vector<float>> views;
  for (uint64_t seed = 0; seed < 100; ++seed) views.insert(preprocess_training_view(image, options, seed));
  EXPECT_GE(views.size(), 95u);
  // The view depends on the size and the seed only: another image of that size crops the same box.
  const TrainingView a = sample_training_view(160, 120, 99), b = sample_training_view(160, 120, 99);
  EXPECT_EQ(std::make_tuple(a.box.left, a.box.top, a.box.width, a.box.height, a.flip),
            std::make_tuple(b.box.left, b.box.top, b.box.width, b.box.height, b.flip));
  // sample_random_resized_crop(seed) is the crop the view uses.
  const CropBox box = sample_random_resized_crop(160, 120, 99);
  EXPECT_EQ(std::make_tuple(box.left, box.top, box.width, box.height),
            std::make_tuple(a.box.left, a.box.top, a.box.width, a.box.height));
}

TEST(TrainingView, FlipsAboutHalfTheTime) {
  int flips = 0;
  const int views = 10000;
  for (uint64_t seed = 0; seed < views; ++seed) flips += sample_training_view(300, 200, seed).flip;
  EXPECT_GT(flips, views * 47 / 100);
  EXPECT_LT(flips, views * 53 / 100);
}

TEST(TrainingView, IsTheMirroredOrPlainResizedCropOfTheRgbImage) {
  Image gray = Image::blank(90, 70, Mode::L);
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = static_cast<uint8_t>(i * 37 % 251);
  PreprocessOptions options;
  options.n_px = 24;
  int flipped = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const TrainingView view = sample_training_view(90, 70, seed);
    const Image rgb = training_view_rgb(gray, options, seed);
    ASSERT_EQ(rgb.mode, Mode::RGB);
    ASSERT_EQ(rgb.width, 24);
    ASSERT_EQ(rgb.height, 24);
    const Image plain = pil_resize(crop(convert_to_rgb(gray), view.box.left, view.box.top, view.box.width,
                                        view.box.height),
                                   24, 24);
    // A mirrored view reads each row backwards.
    for (int y = 0; y < 24; ++y) {
      for (int x = 0; x < 24; ++x) {
        const int source_x = view.flip ? 23 - x : x;
        for (int c = 0; c < 3; ++c) {
          ASSERT_EQ(rgb.pixels[(y * 24 + x) * 3 + c], plain.pixels[(y * 24 + source_x) * 3 + c]) << seed;
        }
      }
    }
    flipped += view.flip;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 20);
}

TEST(TrainingView, HasTheShapeOfTheImageTowersInput) {
  const Image image = gradient_image(64, 48);
  for (const int n_px : {224, 32}) {
    PreprocessOptions options;
    options.n_px = n_px;
    const std::vector<float> view = preprocess_training_view(image, options, 3);
    ASSERT_EQ(view.size(), size_t(3) * n_px * n_px);
    for (const float v : view) {
      ASSERT_TRUE(std::isfinite(v));
      // (0 - mean) / std .. (1 - mean) / std for CLIP's mean and std.
      ASSERT_GE(v, -1.8f);
      ASSERT_LE(v, 2.2f);
    }
  }
}

}  // namespace
}  // namespace pg::image
