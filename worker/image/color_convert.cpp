#include "worker/image/color_convert.h"

#include <cstring>

#include "common/error.h"

namespace pg::image {
namespace {

uint8_t clip8(int v) { return static_cast<uint8_t>(v <= 0 ? 0 : v < 256 ? v : 255); }

// Number of colour samples before the alpha sample of an RGBA / LA pixel.
int colour_samples(const Image& image) {
  if (image.mode == Mode::RGBA) return 3;
  if (image.mode == Mode::LA) return 1;
  throw Error(std::string("pg::image: premultiplying alpha of a mode ") + mode_name(image.mode) + " image",
              ErrorKind::internal);
}

}  // namespace

Image convert_to_rgb(const Image& image) {
  if (image.mode == Mode::RGB) return image;
  if (image.mode == Mode::P && image.palette.size() != 768) {
    throw Error("pg::image: a mode P image without its 256-entry palette", ErrorKind::internal);
  }
  Image rgb = Image::blank(image.width, image.height, Mode::RGB);
  const size_t count = static_cast<size_t>(image.width) * static_cast<size_t>(image.height);
  const uint8_t* in = image.pixels.data();
  uint8_t* out = rgb.pixels.data();
  for (size_t i = 0; i < count; ++i, out += 3) {
    switch (image.mode) {
      case Mode::L:
      case Mode::bilevel:  // stored as 0 / 255 already
        out[0] = out[1] = out[2] = in[i];
        break;
      case Mode::LA: out[0] = out[1] = out[2] = in[2 * i]; break;
      case Mode::RGBA: std::memcpy(out, in + 4 * i, 3); break;
      case Mode::P: std::memcpy(out, image.palette.data() + 3 * in[i], 3); break;
      case Mode::I: {
        int32_t v;
        std::memcpy(&v, in + 4 * i, 4);
        out[0] = out[1] = out[2] = clip8(v);
        break;
      }
      case Mode::CMYK: {
        const int not_k = 255 - in[4 * i + 3];
        for (int c = 0; c < 3; ++c) out[c] = clip8(not_k - static_cast<int>(muldiv255(in[4 * i + c], not_k)));
        break;
      }
      case Mode::RGB: break;  // handled above
    }
  }
  return rgb;
}

Image premultiply_alpha(const Image& image) {
  const int colours = colour_samples(image);
  Image out = image;
  const size_t count = static_cast<size_t>(image.width) * static_cast<size_t>(image.height);
  const int stride = colours + 1;
  for (size_t i = 0; i < count; ++i) {
    uint8_t* pixel = out.pixels.data() + i * stride;
    for (int c = 0; c < colours; ++c) pixel[c] = static_cast<uint8_t>(muldiv255(pixel[c], pixel[colours]));
  }
  return out;
}

Image unpremultiply_alpha(const Image& image) {
  const int colours = colour_samples(image);
  Image out = image;
  const size_t count = static_cast<size_t>(image.width) * static_cast<size_t>(image.height);
  const int stride = colours + 1;
  for (size_t i = 0; i < count; ++i) {
    uint8_t* pixel = out.pixels.data() + i * stride;
    const int alpha = pixel[colours];
    if (alpha == 0 || alpha == 255) continue;
    for (int c = 0; c < colours; ++c) pixel[c] = clip8(255 * pixel[c] / alpha);
  }
  return out;
}

}  // namespace pg::image
