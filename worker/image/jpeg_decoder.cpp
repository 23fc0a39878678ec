#include "worker/image/jpeg_decoder.h"

// jpeglib.h needs FILE and size_t declared before it.
#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>

#include "common/error.h"

namespace pg::image {
namespace {

// libjpeg reports errors through error_exit, which must not return. It longjmps back to the setjmp of
// the step that called libjpeg (one of the guarded_* functions below). Those functions hold no object
// with a destructor, and the C++ objects (the Image, the cleanup guard) live in decode_jpeg, above the
// jump, so no C++ frame is skipped.
struct ErrorManager {
  jpeg_error_mgr pub;  // first, so a j_common_ptr's err can be cast back
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

struct Decoder {
  jpeg_decompress_struct cinfo;
  ErrorManager error;
  jpeg_source_mgr source;
};

void on_error(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

// PIL's JpegDecode.c installs an output_message that prints nothing: warnings neither show nor fail.
void ignore_message(j_common_ptr) {}

// A suspending source holding the whole file: when libjpeg asks for more, there is no more.
void init_source(j_decompress_ptr) {}
boolean fill_input_buffer(j_decompress_ptr) { return FALSE; }
void skip_input_data(j_decompress_ptr cinfo, long count) {
  jpeg_source_mgr* source = cinfo->src;
  if (count <= 0) return;
  // Skipping past the end leaves nothing: the next read suspends, which is truncation.
  const size_t skip = static_cast<size_t>(count) < source->bytes_in_buffer ? static_cast<size_t>(count)
                                                                            : source->bytes_in_buffer;
  source->next_input_byte += skip;
  source->bytes_in_buffer -= skip;
}
void term_source(j_decompress_ptr) {}

enum class Step { done, suspended, failed };

Step guarded_create(Decoder& d, const uint8_t* data, size_t size) {
  d.cinfo.err = jpeg_std_error(&d.error.pub);
  d.error.pub.error_exit = on_error;
  d.error.pub.output_message = ignore_message;
  d.error.message[0] = '\0';
  if (setjmp(d.error.jump)) return Step::failed;
  jpeg_create_decompress(&d.cinfo);
  d.source.init_source = init_source;
  d.source.fill_input_buffer = fill_input_buffer;
  d.source.skip_input_data = skip_input_data;
  d.source.resync_to_restart = jpeg_resync_to_restart;
  d.source.term_source = term_source;
  d.source.next_input_byte = data;
  d.source.bytes_in_buffer = size;
  d.cinfo.src = &d.source;
  return Step::done;
}

Step guarded_read_header(Decoder& d) {
  if (setjmp(d.error.jump)) return Step::failed;
  return jpeg_read_header(&d.cinfo, TRUE) == JPEG_SUSPENDED ? Step::suspended : Step::done;
}

Step guarded_start(Decoder& d) {
  if (setjmp(d.error.jump)) return Step::failed;
  return jpeg_start_decompress(&d.cinfo) ? Step::done : Step::suspended;
}

Step guarded_read_rows(Decoder& d, uint8_t* pixels, size_t row_bytes) {
  if (setjmp(d.error.jump)) return Step::failed;
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    JSAMPROW row = pixels + static_cast<size_t>(d.cinfo.output_scanline) * row_bytes;
    if (jpeg_read_scanlines(&d.cinfo, &row, 1) != 1) return Step::suspended;
  }
  return Step::done;
}

Step guarded_finish(Decoder& d) {
  if (setjmp(d.error.jump)) return Step::failed;
  return jpeg_finish_decompress(&d.cinfo) ? Step::done : Step::suspended;
}

// jpeg_destroy_decompress never fails; it is safe on a half-set-up object once create has run.
struct DestroyOnExit {
  Decoder& d;
  bool created;
  ~DestroyOnExit() {
    if (created) jpeg_destroy_decompress(&d.cinfo);
  }
};

[[noreturn]] void fail(const std::string& name, Step step, const Decoder& d) {
  if (step == Step::suspended) {
    throw Error(name + ": the JPEG data end before the image is complete (image file is truncated)");
  }
  throw Error(name + ": corrupt JPEG data (libjpeg: " + std::string(d.error.message) + ")");
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, uint64_t max_pixels) {
  Decoder d{};
  DestroyOnExit cleanup{d, false};
  Step step = guarded_create(d, data, size);
  if (step != Step::done) fail(name, step, d);
  cleanup.created = true;
  if ((step = guarded_read_header(d)) != Step::done) fail(name, step, d);

  // JpegImagePlugin's SOF handler: the number of components decides the mode; others are refused.
  Mode mode;
  switch (d.cinfo.num_components) {
    case 1: mode = Mode::L; d.cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: mode = Mode::RGB; d.cinfo.out_color_space = JCS_RGB; break;
    case 4: mode = Mode::CMYK; d.cinfo.out_color_space = JCS_CMYK; break;
    default:
      throw Error(name + ": a JPEG with " + std::to_string(d.cinfo.num_components) +
                  " components; only 1 (grey), 3 (colour) and 4 (CMYK) are supported, as in PIL");
  }
  check_image_size(d.cinfo.image_width, d.cinfo.image_height, max_pixels, name);
  // libjpeg-turbo's defaults, which PIL leaves as they are (it changes them only in draft mode).
  d.cinfo.dct_method = JDCT_ISLOW;
  d.cinfo.do_fancy_upsampling = TRUE;

  if ((step = guarded_start(d)) != Step::done) fail(name, step, d);
  Image image = Image::blank(static_cast<int>(d.cinfo.output_width), static_cast<int>(d.cinfo.output_height), mode);
  if (d.cinfo.output_components != bytes_per_pixel(mode)) {
    throw Error(name + ": libjpeg gives " + std::to_string(d.cinfo.output_components) + " components for a " +
                mode_name(mode) + " JPEG; the file is corrupt");
  }
  if ((step = guarded_read_rows(d, image.pixels.data(), image.row_bytes())) != Step::done) fail(name, step, d);
  // Every row is there: PIL accepts the image even when finishing wants more data (a missing EOI).
  if ((step = guarded_finish(d)) == Step::failed) fail(name, step, d);

  if (mode == Mode::CMYK) {
    for (uint8_t& value : image.pixels) value = static_cast<uint8_t>(255 - value);
  }
  return image;
}

}  // namespace pg::image
