// Decoding failures: every damaged, foreign or missing file is a pg::Error that names the file and
// says what is wrong; nothing crashes, whatever the bytes. Inputs are cut from the golden images.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/test_data.h"
#include "worker/image/color_convert.h"
#include "worker/image/image.h"
#include "worker/image/transforms.h"

namespace pg::image {
namespace {

using pg::testing::error_message;
using pg::testing::read_bytes;
using pg::testing::shared_data;

std::string golden_bytes(const std::string& file) { return read_bytes(shared_data("golden/preprocess/" + file)); }

std::string write_file(const std::string& name, const std::string& bytes) {
  const std::string path = pg::testing::make_temp_dir("image_errors") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The message of the pg::Error that reading `bytes` from a file called `name` gives.
std::string read_error(const std::string& name, const std::string& bytes) {
  const std::string path = write_file(name, bytes);
  const std::string message = error_message([&] { read_image_file(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  return message;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(DecodeErrors, MissingFileNamesThePath) {
  const std::string path = pg::testing::make_temp_dir("image_errors") + "/no_such_image.jpg";
  const std::string message = error_message([&] { read_image_file(path); });
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "cannot open")) << message;
}

TEST(DecodeErrors, EmptyFile) { EXPECT_TRUE(contains(read_error("empty.jpg", ""), "empty")); }

TEST(DecodeErrors, TruncatedJpegBaselineAndProgressive) {
  for (const char* file : {"baseline_500x375_q90.jpg", "progressive_375x500_q85_exif6.jpg"}) {
    const std::string bytes = golden_bytes(file);
    for (const size_t keep : {size_t{3}, size_t{200}, bytes.size() / 2, bytes.size() - 100}) {
      const std::string message = read_error(std::string("cut_") + file, bytes.substr(0, keep));
      EXPECT_TRUE(contains(message, "truncated")) << keep << ": " << message;
    }
  }
}

TEST(DecodeErrors, TruncatedPng) {
  for (const char* file : {"rgb_224x224.png", "palette_257x129.png", "rgba_300x200.png"}) {
    const std::string bytes = golden_bytes(file);
    for (const size_t keep : {size_t{8}, size_t{20}, size_t{40}, bytes.size() / 2, bytes.size() * 9 / 10}) {
      const std::string message = read_error(std::string("cut_") + file, bytes.substr(0, keep));
      EXPECT_TRUE(contains(message, "truncated") || contains(message, "corrupt")) << keep << ": " << message;
    }
  }
}

TEST(DecodeErrors, GarbageAndOtherFormats) {
  std::string garbage(600, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 2654435761u) >> 13);
  EXPECT_TRUE(contains(read_error("garbage.jpg", garbage), "not a JPEG or PNG"));
  EXPECT_TRUE(contains(read_error("notes.txt", "just some text\n"), "not a JPEG or PNG"));
  const std::string gif = std::string("GIF89a\x01\x00\x01\x00\x80\x00\x00", 13) + std::string(20, '\0') + ";";
  EXPECT_TRUE(contains(read_error("tiny.gif", gif), "not a JPEG or PNG"));
  // The right magic bytes followed by garbage.
  EXPECT_TRUE(contains(read_error("bad.jpg", "\xff\xd8\xff" + garbage), "JPEG"));
  EXPECT_TRUE(contains(read_error("bad.png", "\x89PNG\r\n\x1a\n" + garbage), "PNG"));
}

TEST(DecodeErrors, DecodeImageNamesTheGivenName) {
  const std::string bytes = golden_bytes("gray_100x60.png").substr(0, 100);
  const std::string message = error_message([&] {
    decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "dtd/banded/banded_0001.jpg");
  });
  EXPECT_EQ(message.rfind("dtd/banded/banded_0001.jpg: ", 0), 0u) << message;
}

TEST(DecodeErrors, PixelLimitIsCheckedFromTheHeader) {
  DecodeOptions small;
  small.max_pixels = 1000;
  for (const char* file : {"baseline_500x375_q90.jpg", "rgb_224x224.png"}) {
    const std::string bytes = golden_bytes(file);
    const std::string message = error_message([&] {
      decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), file, small);
    });
    EXPECT_TRUE(contains(message, "more than the 1000")) << message;
  }
  EXPECT_EQ(kMaxDecodedPixels, 2u * 89478485u);  // PIL's Image.MAX_IMAGE_PIXELS, doubled for the error
}

// Every prefix and many corruptions of small real files: decoded or a pg::Error, never a crash.
TEST(DecodeErrors, NoInputCrashes) {
  PreprocessOptions options;
  options.n_px = 8;
  int decoded = 0, refused = 0;
  for (const char* file : {"gray_100x60.png", "palette_257x129.png", "baseline_500x375_q90.jpg",
                           "progressive_375x500_q85_exif6.jpg"}) {
    const std::string bytes = golden_bytes(file);
    std::vector<std::string> inputs;
    for (size_t keep = 0; keep < bytes.size(); keep += 1 + bytes.size() / 150) inputs.push_back(bytes.substr(0, keep));
    for (size_t i = 0; i < 150; ++i) {
      std::string damaged = bytes;
      const size_t at = (i * 7919 + 13) % damaged.size();
      damaged[at] = static_cast<char>(damaged[at] ^ (1 + i % 255));
      inputs.push_back(damaged);
    }
    for (const std::string& input : inputs) {
      try {
        const Image image = decode_image(reinterpret_cast<const uint8_t*>(input.data()), input.size(), file);
        EXPECT_EQ(preprocess_for_test(image, options).size(), 3u * 8 * 8);
        ++decoded;
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind(std::string(file) + ": ", 0), 0u) << e.what();
        ++refused;
      }
    }
  }
  EXPECT_GT(decoded, 100);
  EXPECT_GT(refused, 400);
}

TEST(ColorConvert, CmykIsTheGoldenReadmesFormula) {
  // R = clip(255 - K - MULDIV255(C, 255 - K)), MULDIV255(a, b) = ((a*b + 128) + ((a*b + 128) >> 8)) >> 8,
  // worked by hand: C=128, K=64 -> 191 - ((24576 + 96) >> 8) = 191 - 96 = 95.
  Image cmyk = Image::blank(3, 1, Mode::CMYK);
  cmyk.pixels = {0, 0, 0, 0, 255, 0, 128, 0, 128, 17, 255, 64};
  const Image rgb = convert_to_rgb(cmyk);
  EXPECT_EQ(rgb.pixels, (std::vector<uint8_t>{255, 255, 255, 0, 255, 127, 95, 178, 0}));
}

}  // namespace
}  // namespace pg::image
