// The image pipeline against the reference's own outputs (../shared/data/golden/preprocess*, computed
// with PIL 9.4, torchvision 0.14 and CLIP's / Dassl's transforms): decoded mode and size, resize
// targets and crop offsets, the uint8 image ToTensor received, and the normalised float32 tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "golden_tensors.h"
#include "support/test_data.h"
#include "worker/image/image.h"
#include "worker/image/transforms.h"

namespace pg::image {
namespace {

using pg::testing::GoldenTensors;
using pg::testing::read_json;
using pg::testing::shared_data;

const GoldenTensors& preprocess_goldens() {
  static const GoldenTensors goldens(shared_data("golden/preprocess.safetensors"));
  return goldens;
}

Image golden_image(const std::string& file) { return read_image_file(shared_data("golden/preprocess/" + file)); }

PreprocessOptions options_for(int n_px, TransformOrder order) {
  PreprocessOptions options;
  options.n_px = n_px;
  options.order = order;
  return options;
}

// Expects every value within `tolerance`; says how many differ at all, and the worst one.
void expect_close(const std::vector<float>& actual, const std::vector<float>& expected, float tolerance,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  size_t differing = 0, worst = 0;
  float worst_difference = 0.0f;
  for (size_t i = 0; i < actual.size(); ++i) {
    const float difference = std::fabs(actual[i] - expected[i]);
    if (difference != 0.0f) ++differing;
    if (difference > worst_difference) {
      worst_difference = difference;
      worst = i;
    }
  }
  EXPECT_LE(worst_difference, tolerance) << what << ": " << differing << " of " << actual.size()
                                         << " values differ; worst at " << worst << ": " << actual[worst]
                                         << " vs " << expected[worst];
}

void expect_same_bytes(const std::vector<uint8_t>& actual, const std::vector<uint8_t>& expected,
                       const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  size_t differing = 0, first = actual.size();
  for (size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i]) {
      if (differing++ == 0) first = i;
    }
  }
  EXPECT_EQ(differing, 0u) << what << ": first difference at byte " << first << " (pixel " << first / 3 << ", "
                           << (first < actual.size() ? int(actual[first]) : -1) << " vs "
                           << (first < actual.size() ? int(expected[first]) : -1) << ")";
}

// The entries of preprocess.json's "files" (held in a variable: a range-for over a member of a
// temporary would read freed memory).
nlohmann::json golden_entries() {
  const nlohmann::json manifest = read_json(shared_data("golden/preprocess.json"));
  return manifest.at("files");
}

std::vector<std::string> golden_files() {
  std::vector<std::string> files;
  for (const auto& entry : golden_entries()) files.push_back(entry["file"]);
  return files;
}

TEST(GoldenPreprocess, DecodesTheModeAndSizePilReports) {
  ASSERT_EQ(golden_files().size(), 6u);
  for (const auto& entry : golden_entries()) {
    const std::string file = entry["file"];
    const Image image = golden_image(file);
    EXPECT_EQ(mode_name(image.mode), entry["mode"].get<std::string>()) << file;
    EXPECT_EQ(image.width, entry["size"][0].get<int>()) << file;
    EXPECT_EQ(image.height, entry["size"][1].get<int>()) << file;
  }
}

TEST(GoldenPreprocess, ResizeTargetsAndCropOffsetsAreTorchvisions) {
  for (const auto& entry : golden_entries()) {
    const int width = entry["size"][0], height = entry["size"][1];
    for (const auto& item : entry["n_px"].items()) {
      const int n_px = std::stoi(item.key());
      const Size size = shorter_side_size(width, height, n_px);
      EXPECT_EQ(size.width, item.value()["resize_to"][0].get<int>()) << entry["file"] << " @" << n_px;
      EXPECT_EQ(size.height, item.value()["resize_to"][1].get<int>()) << entry["file"] << " @" << n_px;
      const CropBox box = center_crop_box(size.width, size.height, n_px);
      EXPECT_EQ(box.left, item.value()["crop_left"].get<int>()) << entry["file"] << " @" << n_px;
      EXPECT_EQ(box.top, item.value()["crop_top"].get<int>()) << entry["file"] << " @" << n_px;
    }
  }
}

TEST(GoldenPreprocess, ClipOrderGivesTheReferencePixelsAndTensors) {
  const GoldenTensors& goldens = preprocess_goldens();
  for (const std::string& file : golden_files()) {
    const Image image = golden_image(file);
    for (const int n_px : {224, 32}) {
      const PreprocessOptions options = options_for(n_px, TransformOrder::clip);
      const std::string key = file + "@" + std::to_string(n_px);
      const Image rgb = resize_and_center_crop(image, options);
      ASSERT_EQ(rgb.mode, Mode::RGB) << key;
      ASSERT_EQ(rgb.width, n_px) << key;
      ASSERT_EQ(rgb.height, n_px) << key;
      if (goldens.has(key + ".rgb")) expect_same_bytes(rgb.pixels, goldens.u8(key + ".rgb"), key + ".rgb");
      expect_close(preprocess_for_test(image, options), goldens.f32(key), 1e-6f, key);
    }
  }
}

TEST(GoldenPreprocess, DasslOrderGivesTheReferencePixelsAndTensors) {
  const GoldenTensors& goldens = preprocess_goldens();
  int dassl_keys = 0;
  for (const std::string& file : golden_files()) {
    const Image image = golden_image(file);
    for (const int n_px : {224, 32}) {
      const PreprocessOptions options = options_for(n_px, TransformOrder::dassl);
      // Only files where the order matters have .dassl keys; elsewhere both orders agree.
      const std::string clip_key = file + "@" + std::to_string(n_px);
      const std::string key = goldens.has(clip_key + ".dassl") ? clip_key + ".dassl" : clip_key;
      dassl_keys += key != clip_key;
      const Image rgb = resize_and_center_crop(image, options);
      if (goldens.has(key + ".rgb")) expect_same_bytes(rgb.pixels, goldens.u8(key + ".rgb"), key + ".rgb");
      expect_close(preprocess_for_test(image, options), goldens.f32(key), 1e-6f, key);
    }
  }
  EXPECT_EQ(dassl_keys, 4);  // palette and RGBA, at 224 and 32: the test did use them
  // The default options are CoOp's path at 224.
  EXPECT_EQ(PreprocessOptions{}.order, TransformOrder::dassl);
  EXPECT_EQ(PreprocessOptions{}.n_px, 224);
}

TEST(GoldenPreprocess, ClipOrderAt64IsTheInputOfTheResNetGolden) {
  const GoldenTensors goldens(shared_data("golden/encode_image_rn.safetensors"));
  const std::vector<float> images = goldens.f32("images");
  const nlohmann::json files = read_json(shared_data("golden/encode_image_rn.json")).at("files");
  ASSERT_EQ(images.size(), files.size() * 3 * 64 * 64);
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string file = files[i];
    const std::vector<float> expected(images.begin() + i * 3 * 64 * 64, images.begin() + (i + 1) * 3 * 64 * 64);
    expect_close(preprocess_for_test(golden_image(file), options_for(64, TransformOrder::clip)), expected, 1e-6f,
                 file + "@64");
  }
}

}  // namespace
}  // namespace pg::image
