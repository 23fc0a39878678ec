#include "worker/image/png_decoder.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/error.h"

namespace pg::image {
namespace {

// libpng reports errors through an error function that must not return; ours longjmps to the setjmp
// of the guarded_* step that called libpng. Those steps hold no object with a destructor; the C++
// objects (buffers, the cleanup guard) live in decode_png, above the jump.
struct Context {
  const uint8_t* data = nullptr;
  size_t size = 0, offset = 0;
  std::jmp_buf jump;
  char message[256] = {};
  bool truncated = false;        // the data ended where libpng wanted more
  bool ended_after_rows = false; // ... but only after the last row was decoded
  bool interlaced = false;
  uint32_t height = 0;
};

void on_error(png_structp png, png_const_charp message) {
  auto* context = static_cast<Context*>(png_get_error_ptr(png));
  std::snprintf(context->message, sizeof context->message, "%s", message);
  std::longjmp(context->jump, 1);
}

void ignore_warning(png_structp, png_const_charp) {}

void read_data(png_structp png, png_bytep out, size_t length) {
  auto* context = static_cast<Context*>(png_get_io_ptr(png));
  if (length > context->size - context->offset) {
    context->truncated = true;
    // libpng asks for more after the last row only to finish the zlib stream and the chunk; PIL stops
    // reading once the rows are complete, so the image is whole.
    const bool rows_done = context->interlaced ? png_get_current_pass_number(png) >= 7
                                               : png_get_current_row_number(png) >= context->height;
    context->ended_after_rows = rows_done && context->height > 0;
    png_error(png, "the PNG data end before the image is complete (image file is truncated)");
  }
  std::memcpy(out, context->data + context->offset, length);
  context->offset += length;
}

// PIL skips chunks it does not know, even critical ones; libpng would stop at an unknown critical one.
int skip_unknown_chunk(png_structp, png_unknown_chunkp) { return 1; }

bool guarded_read_info(Context& context, png_structp png, png_infop info) {
  if (setjmp(context.jump)) return false;
  png_set_read_fn(png, &context, read_data);
  // PIL has no per-side limit (only the pixel count, checked by the caller); libpng's default is 10^6.
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_set_benign_errors(png, 1);
  // PIL checks the CRC of every chunk before the image data and refuses a mismatch.
  png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
  png_set_read_user_chunk_fn(png, nullptr, skip_unknown_chunk);
  png_read_info(png, info);
  return true;
}

bool guarded_prepare_rows(Context& context, png_structp png, png_infop info) {
  if (setjmp(context.jump)) return false;
  if (png_get_bit_depth(png, info) < 8) png_set_packing(png);  // one byte a sample, values unscaled
  if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return true;
}

bool guarded_read_rows(Context& context, png_structp png, png_bytepp rows) {
  if (setjmp(context.jump)) return false;
  // PIL's decoder never checks the CRC of IDAT chunks.
  png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_ERROR_QUIT);
  png_read_image(png, rows);
  return true;
}

struct DestroyOnExit {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~DestroyOnExit() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

// The mode PngImagePlugin's _MODES table gives a (bit depth, colour type) pair.
Mode mode_for(int bit_depth, int color_type, const std::string& name) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      return bit_depth == 1 ? Mode::bilevel : bit_depth == 16 ? Mode::I : Mode::L;
    case PNG_COLOR_TYPE_RGB: return Mode::RGB;
    case PNG_COLOR_TYPE_PALETTE: return Mode::P;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return bit_depth == 16 ? Mode::RGBA : Mode::LA;
    case PNG_COLOR_TYPE_RGB_ALPHA: return Mode::RGBA;
    default:
      throw Error(name + ": PNG colour type " + std::to_string(color_type) + " is not valid; the file is corrupt");
  }
}

// libpng's rows of 1/2/4-bit (one byte a sample) or big-endian 16-bit samples, as PIL's unpackers leave them.
void unpack_rows(const std::vector<uint8_t>& raw, size_t raw_row_bytes, int bit_depth, int color_type, Image& image) {
  const size_t pixels_per_row = static_cast<size_t>(image.width);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* in = raw.data() + static_cast<size_t>(y) * raw_row_bytes;
    uint8_t* out = image.pixels.data() + static_cast<size_t>(y) * image.row_bytes();
    for (size_t x = 0; x < pixels_per_row; ++x) {
      if (bit_depth < 8) {
        const uint8_t v = in[x];
        if (color_type == PNG_COLOR_TYPE_PALETTE) out[x] = v;                 // P;1, P;2, P;4: indices
        else if (bit_depth == 1) out[x] = v != 0 ? 255 : 0;                   // "1"
        else if (bit_depth == 2) out[x] = static_cast<uint8_t>(v * 0x55);     // L;2
        else out[x] = static_cast<uint8_t>(v * 0x11);                         // L;4
      } else if (color_type == PNG_COLOR_TYPE_GRAY) {                         // I;16B -> I
        const int32_t v = (in[2 * x] << 8) | in[2 * x + 1];
        std::memcpy(out + 4 * x, &v, 4);
      } else if (color_type == PNG_COLOR_TYPE_RGB) {                          // RGB;16B: high bytes
        for (int c = 0; c < 3; ++c) out[3 * x + c] = in[6 * x + 2 * c];
      } else if (color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {                   // LA;16B -> RGBA
        out[4 * x] = out[4 * x + 1] = out[4 * x + 2] = in[4 * x];
        out[4 * x + 3] = in[4 * x + 2];
      } else {                                                                // RGBA;16B: high bytes
        for (int c = 0; c < 4; ++c) out[4 * x + c] = in[8 * x + 2 * c];
      }
    }
  }
}

[[noreturn]] void fail(const std::string& name, const Context& context) {
  if (context.truncated) throw Error(name + ": " + context.message);
  throw Error(name + ": corrupt PNG data (libpng: " + context.message + ")");
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size, const std::string& name, uint64_t max_pixels) {
  Context context;
  context.data = data;
  context.size = size;
  DestroyOnExit cleanup;
  cleanup.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, on_error, ignore_warning);
  if (cleanup.png != nullptr) cleanup.info = png_create_info_struct(cleanup.png);
  if (cleanup.png == nullptr || cleanup.info == nullptr) {
    throw Error(name + ": libpng could not start (out of memory?)", ErrorKind::retryable);
  }
  png_structp png = cleanup.png;
  png_infop info = cleanup.info;
  if (!guarded_read_info(context, png, info)) fail(name, context);

  const uint32_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  const int bit_depth = png_get_bit_depth(png, info), color_type = png_get_color_type(png, info);
  check_image_size(width, height, max_pixels, name);
  Image image = Image::blank(static_cast<int>(width), static_cast<int>(height), mode_for(bit_depth, color_type, name));
  if (image.mode == Mode::P) {
    // PIL's palette starts as a grey ramp (ImagingPaletteNew) and PLTE overwrites its first entries:
    // an index past the PLTE entries shows as grey.
    image.palette.resize(768);
    for (int i = 0; i < 768; ++i) image.palette[i] = static_cast<uint8_t>(i / 3);
    png_colorp entries = nullptr;
    int count = 0;
    if (png_get_PLTE(png, info, &entries, &count) == PNG_INFO_PLTE) {
      for (int i = 0; i < count && i < 256; ++i) {
        image.palette[3 * i] = entries[i].red;
        image.palette[3 * i + 1] = entries[i].green;
        image.palette[3 * i + 2] = entries[i].blue;
      }
    }
  }

  context.interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
  context.height = height;
  if (!guarded_prepare_rows(context, png, info)) fail(name, context);
  const size_t raw_row_bytes = static_cast<size_t>(width) * static_cast<size_t>(png_get_channels(png, info)) *
                               (bit_depth == 16 ? 2 : 1);
  if (png_get_rowbytes(png, info) != raw_row_bytes) {
    throw Error(name + ": libpng's row size disagrees with the PNG header", ErrorKind::internal);
  }
  // 8-bit samples are already laid out as the mode wants them: libpng writes them in place.
  const bool in_place = bit_depth == 8;
  std::vector<uint8_t> raw(in_place ? 0 : raw_row_bytes * height);
  uint8_t* target = in_place ? image.pixels.data() : raw.data();
  std::vector<png_bytep> rows(height);
  for (uint32_t y = 0; y < height; ++y) rows[y] = target + static_cast<size_t>(y) * raw_row_bytes;
  if (!guarded_read_rows(context, png, rows.data()) && !context.ended_after_rows) fail(name, context);
  if (!in_place) unpack_rows(raw, raw_row_bytes, bit_depth, color_type, image);
  return image;
}

}  // namespace pg::image
