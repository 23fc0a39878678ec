#include "worker/image/transforms.h"

#include <cmath>
#include <string>

#include "common/error.h"
#include "worker/image/color_convert.h"
#include "worker/image/pil_resample.h"
#include "worker/image/random_resized_crop.h"

namespace pg::image {
namespace {

void check_n_px(int n_px) {
  if (n_px < 1) throw Error("image preprocessing: n_px is " + std::to_string(n_px) + "; it must be at least 1");
}

// torchvision's F_pil.resize with an int size: no resampling at all when the shorter side is n_px.
Image resize_shorter_side(const Image& image, int n_px) {
  const Size size = shorter_side_size(image.width, image.height, n_px);
  if (size.width == image.width && size.height == image.height) return image;
  return pil_resize(image, size.width, size.height);
}

Image center_crop(const Image& image, int n_px) {
  const CropBox box = center_crop_box(image.width, image.height, n_px);
  if (box.width == image.width && box.height == image.height) return image;
  return crop(image, box.left, box.top, box.width, box.height);
}

}  // namespace

int round_half_even(double value) {
  const double floor = std::floor(value);
  const double fraction = value - floor;
  double rounded = floor;
  if (fraction > 0.5 || (fraction == 0.5 && std::fmod(floor, 2.0) != 0.0)) rounded = floor + 1.0;
  return static_cast<int>(rounded);
}

Size shorter_side_size(int width, int height, int n_px) {
  check_n_px(n_px);
  if (width < 1 || height < 1) {
    throw Error("image preprocessing: an image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels",
                ErrorKind::internal);
  }
  const bool wide = width > height;  // torchvision: short, long = (w, h) if w <= h else (h, w)
  const int64_t shorter = wide ? height : width, longer = wide ? width : height;
  const int64_t scaled = int64_t{n_px} * longer / shorter;
  if (scaled > 0x7fffffff) {
    throw Error("image preprocessing: resizing a " + std::to_string(width) + "x" + std::to_string(height) +
                " image to a shorter side of " + std::to_string(n_px) + " makes its longer side too long");
  }
  return wide ? Size{static_cast<int>(scaled), n_px} : Size{n_px, static_cast<int>(scaled)};
}

CropBox center_crop_box(int width, int height, int n_px) {
  check_n_px(n_px);
  if (n_px > width || n_px > height) {
    throw Error("image preprocessing: center crop of " + std::to_string(n_px) + "x" + std::to_string(n_px) +
                    " from a " + std::to_string(width) + "x" + std::to_string(height) +
                    " image; torchvision would pad it, which this pipeline never needs",
                ErrorKind::internal);
  }
  return CropBox{round_half_even((width - n_px) / 2.0), round_half_even((height - n_px) / 2.0), n_px, n_px};
}

Image resize_and_center_crop(const Image& image, const PreprocessOptions& options) {
  check_n_px(options.n_px);
  if (options.order == TransformOrder::dassl) {
    return center_crop(resize_shorter_side(convert_to_rgb(image), options.n_px), options.n_px);
  }
  return convert_to_rgb(center_crop(resize_shorter_side(image, options.n_px), options.n_px));
}

std::vector<float> to_normalized_chw(const Image& rgb, const PreprocessOptions& options) {
  if (rgb.mode != Mode::RGB) {
    throw Error(std::string("pg::image: to_normalized_chw of a mode ") + mode_name(rgb.mode) + " image",
                ErrorKind::internal);
  }
  const size_t plane = static_cast<size_t>(rgb.width) * static_cast<size_t>(rgb.height);
  std::vector<float> out(3 * plane);
  for (int c = 0; c < 3; ++c) {
    // ToTensor's float(u8) / 255 then Normalize's (x - mean) / std, true float32 divisions as torchvision
    // does them, for each of the 256 byte values once: the lookup gives the very same float per pixel.
    float table[256];
    for (int value = 0; value < 256; ++value) {
      const float x = static_cast<float>(value) / 255.0f;
      table[value] = (x - options.mean[c]) / options.std[c];
    }
    float* channel = out.data() + c * plane;
    for (size_t i = 0; i < plane; ++i) channel[i] = table[rgb.pixels[3 * i + c]];
  }
  return out;
}

std::vector<float> preprocess_for_test(const Image& image, const PreprocessOptions& options) {
  return to_normalized_chw(resize_and_center_crop(image, options), options);
}

std::vector<float> preprocess_training_view(const Image& image, const PreprocessOptions& options, uint64_t seed) {
  return to_normalized_chw(training_view_rgb(image, options, seed), options);
}

}  // namespace pg::image
