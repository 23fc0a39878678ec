// pg::image: decoded images as PIL holds them, and decoding JPEG / PNG files into them.
//
// The reference pipeline (CLIP's `_transform`, Dassl's `read_image`) opens images with PIL 9.4 on
// Debian 12, which decodes JPEG with libjpeg-turbo and PNG with its own zlib decoder. Features
// extracted here must equal the reference's, so an Image keeps the mode PIL gives the file (a 16-bit
// grey PNG is mode I, a 4-component JPEG is CMYK, a palette PNG is P with its palette) and every later
// step (color_convert.h, pil_resample.h, transforms.h) reproduces what PIL and torchvision do to it.
// No EXIF orientation, no ICC profile, no gamma: the reference applies none.
//
// Used by the feature-extraction command of orchestrator/ and by tests; torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pg::image {

// The PIL modes a decoded file can have, plus what the transforms produce on the way.
enum class Mode {
  L,        // 8-bit grey
  LA,       // 8-bit grey + alpha, 2 bytes a pixel
  RGB,      // 3 bytes a pixel
  RGBA,     // 4 bytes a pixel
  P,        // 8-bit palette index; Image::palette holds 256 RGB triples
  CMYK,     // 4 bytes a pixel, already inverted as PIL's "CMYK;I" raw mode does for JPEG
  I,        // 32-bit signed grey (PIL's "I"), 4 bytes a pixel in host order: 16-bit grey PNGs open so
  bilevel,  // PIL's mode "1": one byte a pixel, 0 or 255 (1-bit grey PNGs open so)
};

// "L", "LA", "RGB", "RGBA", "P", "CMYK", "I", "1": PIL's names, for messages.
const char* mode_name(Mode mode);
// Bytes one pixel takes in Image::pixels.
int bytes_per_pixel(Mode mode);

struct Image {
  int width = 0, height = 0;
  Mode mode = Mode::RGB;
  std::vector<uint8_t> pixels;   // rows top to bottom, pixels interleaved, no padding
  std::vector<uint8_t> palette;  // mode P only: 256 RGB triples (768 bytes)

  size_t row_bytes() const { return static_cast<size_t>(width) * static_cast<size_t>(bytes_per_pixel(mode)); }
  // An image of the given size and mode with zeroed pixels (the palette is left empty).
  static Image blank(int width, int height, Mode mode);
};

// PIL's decompression-bomb limit: Image.open refuses more than 2 * MAX_IMAGE_PIXELS pixels.
constexpr uint64_t kPilMaxImagePixels = 89478485;
constexpr uint64_t kMaxDecodedPixels = 2 * kPilMaxImagePixels;
// Image files larger than this are refused before they are read (no dataset image comes near it).
constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;

struct DecodeOptions {
  // Images with more pixels are refused from their header, before any pixel is decoded. The default
  // is PIL's; the fuzz target lowers it to keep every input cheap.
  uint64_t max_pixels = kMaxDecodedPixels;
};

// Refuses a header's size the way PIL's decompression-bomb check does (width * height > max_pixels),
// and a zero size, before anything is allocated: a pg::Error naming `name`. Used by the decoders.
void check_image_size(uint64_t width, uint64_t height, uint64_t max_pixels, const std::string& name);

// Decodes a JPEG or PNG, told apart by their magic bytes, into the mode PIL opens it in. Every failure
// (another format, truncated or corrupt data, too many pixels) is a pg::Error whose message starts with
// `name` and says what is wrong; nothing here exits, crashes or unwinds through the C libraries.
Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options = {});

// Reads `path` (a missing or unreadable file is a pg::Error naming it) and decodes it.
Image read_image_file(const std::string& path, const DecodeOptions& options = {});

}  // namespace pg::image
