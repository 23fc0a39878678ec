// The image pipeline against PIL itself on what the goldens do not cover: tests/image/pil_reference.py
// (run with /usr/bin/python3, PIL and numpy) makes images of every JPEG/PNG flavour and size class, and
// writes what PIL 9.4 decodes from them, and what torchvision's resize + center crop (both orders) and
// F.resized_crop (fixed boxes, mirrored or not) give; every byte must match. Files PIL refuses must be
// refused too. Without python3 + PIL + numpy the test fails: scripts/install_dependencies.sh installs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_data.h"
#include "worker/image/color_convert.h"
#include "worker/image/image.h"
#include "worker/image/pil_resample.h"
#include "worker/image/transforms.h"

namespace pg::image {
namespace {

using pg::testing::read_bytes;
using pg::testing::run_shell;

class PilCrossCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto probe = run_shell("/usr/bin/python3 -c 'import PIL, numpy; print(PIL.__version__)'");
    if (probe.exit_code != 0) {
      setup_error_ = "the PIL cross-check needs /usr/bin/python3 with PIL and numpy (Debian: python3-pil "
                     "python3-numpy; run scripts/install_dependencies.sh): " + probe.output;
      return;
    }
    const std::string script = (std::filesystem::path(__FILE__).parent_path() / "pil_reference.py").string();
    const std::string out = pg::testing::make_temp_dir("pil_reference");
    const auto run = run_shell("/usr/bin/python3 '" + script + "' '" + out + "'");
    if (run.exit_code != 0) {
      setup_error_ = script + " failed (exit " + std::to_string(run.exit_code) + "): " + run.output;
      return;
    }
    manifest_ = pg::testing::read_json(out + "/manifest.json");
  }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_GE(manifest_["cases"].size(), 40u);
  }

  static std::vector<uint8_t> file_bytes(const nlohmann::json& output) {
    const std::string bytes = read_bytes(output["file"]);
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }

  static std::string setup_error_;
  static nlohmann::json manifest_;
};

std::string PilCrossCheck::setup_error_;
nlohmann::json PilCrossCheck::manifest_;

// Byte-for-byte equality, reporting where the first difference is.
void expect_same(const std::vector<uint8_t>& actual, const std::vector<uint8_t>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i]) {
      ADD_FAILURE() << what << ": first difference at byte " << i << ": " << int(actual[i]) << " vs PIL's "
                    << int(expected[i]);
      return;
    }
  }
}

TEST_F(PilCrossCheck, DecodesEveryFlavourAsPilDoes) {
  int decoded = 0;
  for (const auto& c : manifest_["cases"]) {
    if (c["pil"] != "ok") continue;
    const std::string name = c["name"];
    const Image image = read_image_file(c["file"]);
    EXPECT_EQ(mode_name(image.mode), c["mode"].get<std::string>()) << name;
    EXPECT_EQ(image.width, c["size"][0].get<int>()) << name;
    EXPECT_EQ(image.height, c["size"][1].get<int>()) << name;
    expect_same(image.pixels, file_bytes(c["raw"]), name + ": decoded pixels (" + mode_name(image.mode) + ")");
    expect_same(convert_to_rgb(image).pixels, file_bytes(c["rgb"]), name + ": convert('RGB')");
    ++decoded;
  }
  EXPECT_GE(decoded, 35);
}

TEST_F(PilCrossCheck, ResizeAndCenterCropInBothOrdersAsTorchvisionOnPil) {
  for (const auto& c : manifest_["cases"]) {
    if (c["pil"] != "ok") continue;
    const Image image = read_image_file(c["file"]);
    for (const auto& output : c["outputs"]) {
      if (output["kind"] == "box") continue;
      PreprocessOptions options;
      options.n_px = output["n_px"];
      options.order = output["kind"] == "clip" ? TransformOrder::clip : TransformOrder::dassl;
      const Image rgb = resize_and_center_crop(image, options);
      EXPECT_EQ(rgb.width, options.n_px);
      expect_same(rgb.pixels, file_bytes(output),
                  c["name"].get<std::string>() + " " + output["kind"].get<std::string>() + "@" +
                      std::to_string(options.n_px));
    }
  }
}

TEST_F(PilCrossCheck, CropResizeAndMirrorAsResizedCropAndHflipOnPil) {
  int views = 0;
  for (const auto& c : manifest_["cases"]) {
    if (c["pil"] != "ok") continue;
    const Image rgb = convert_to_rgb(read_image_file(c["file"]));
    for (const auto& output : c["outputs"]) {
      if (output["kind"] != "box") continue;
      const auto& box = output["box"];  // PIL's (left, top, right, bottom)
      const int n = output["n_px"];
      Image view = pil_resize(crop(rgb, box[0], box[1], box[2].get<int>() - box[0].get<int>(),
                                   box[3].get<int>() - box[1].get<int>()),
                              n, n);
      if (output["flip"].get<bool>()) view = flip_horizontal(view);
      expect_same(view.pixels, file_bytes(output), c["name"].get<std::string>() + " box " + box.dump() + "@" +
                                                       std::to_string(n));
      ++views;
    }
  }
  EXPECT_GE(views, 300);
}

TEST_F(PilCrossCheck, RefusesWhatPilRefusesAndWhatIsNotJpegOrPng) {
  int refused = 0;
  for (const auto& c : manifest_["cases"]) {
    if (c["pil"] == "ok") continue;
    const std::string path = c["file"];
    const std::string message = pg::testing::error_message([&] { read_image_file(path); });
    EXPECT_NE(message.find(path), std::string::npos) << c["name"] << ": " << message;
    if (c["pil"] == "unsupported") {
      EXPECT_NE(message.find("not a JPEG or PNG"), std::string::npos) << message;
    }
    ++refused;
  }
  EXPECT_GE(refused, 11);
}

}  // namespace
}  // namespace pg::image
