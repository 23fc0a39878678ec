#include "worker/image/image.h"

#include <cstring>

#include "common/error.h"
#include "common/files.h"
#include "worker/image/jpeg_decoder.h"
#include "worker/image/png_decoder.h"

namespace pg::image {

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::L: return "L";
    case Mode::LA: return "LA";
    case Mode::RGB: return "RGB";
    case Mode::RGBA: return "RGBA";
    case Mode::P: return "P";
    case Mode::CMYK: return "CMYK";
    case Mode::I: return "I";
    case Mode::bilevel: return "1";
  }
  return "?";
}

int bytes_per_pixel(Mode mode) {
  switch (mode) {
    case Mode::L:
    case Mode::P:
    case Mode::bilevel: return 1;
    case Mode::LA: return 2;
    case Mode::RGB: return 3;
    case Mode::RGBA:
    case Mode::CMYK:
    case Mode::I: return 4;
  }
  throw Error("pg::image: unknown image mode", ErrorKind::internal);
}

Image Image::blank(int width, int height, Mode mode) {
  Image image;
  image.width = width;
  image.height = height;
  image.mode = mode;
  image.pixels.assign(image.row_bytes() * static_cast<size_t>(height), 0);
  return image;
}

void check_image_size(uint64_t width, uint64_t height, uint64_t max_pixels, const std::string& name) {
  if (width == 0 || height == 0) {
    throw Error(name + ": the image header gives a size of " + std::to_string(width) + "x" + std::to_string(height) +
                " pixels; the file is corrupt");
  }
  if (width * height > max_pixels) {
    throw Error(name + ": " + std::to_string(width) + "x" + std::to_string(height) + " pixels is more than the " +
                std::to_string(max_pixels) + " an image may have (PIL refuses it as a decompression bomb too)");
  }
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  // The magic bytes PIL's plugins accept: JpegImagePlugin FF D8 FF, PngImagePlugin the 8-byte signature.
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
    return decode_jpeg(data, size, name, options.max_pixels);
  }
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return decode_png(data, size, name, options.max_pixels);
  if (size == 0) throw Error(name + ": empty file; expected a JPEG or PNG image");
  throw Error(name + ": not a JPEG or PNG image (unknown magic bytes); only JPEG and PNG are supported");
}

Image read_image_file(const std::string& path, const DecodeOptions& options) {
  const std::string bytes = read_file(path, kMaxImageFileBytes, "an image (JPEG or PNG)");
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path, options);
}

}  // namespace pg::image
