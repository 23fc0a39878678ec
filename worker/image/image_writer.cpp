#include "worker/image/image_writer.h"

#include <png.h>
// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
#include <cstdlib>
#include <jpeglib.h>

#include "common/error.h"
#include "common/files.h"

namespace pg::image {
namespace {

void check_size(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  if (width < 1 || height < 1 || rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
    throw Error(path + ": cannot write a " + std::to_string(width) + "x" + std::to_string(height) + " image from " +
                std::to_string(rgb.size()) + " bytes", ErrorKind::internal);
  }
}

}  // namespace

void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  check_size(path, width, height, rgb);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, rgb.data(), 0, nullptr)) {
    throw Error(path + ": libpng could not size the image (" + image.message + ")", ErrorKind::internal);
  }
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&image, bytes.data(), &size, 0, rgb.data(), 0, nullptr)) {
    throw Error(path + ": libpng could not encode the image (" + image.message + ")", ErrorKind::internal);
  }
  bytes.resize(size);
  write_file_atomic(path, bytes);
}

void write_jpeg_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb, int quality) {
  check_size(path, width, height, rgb);
  // libjpeg's default error handler exits the process; with valid sizes and memory output the only
  // errors left are out of memory, which it reports through the same handler. Keep the default.
  jpeg_compress_struct compress{};
  jpeg_error_mgr errors{};
  compress.err = jpeg_std_error(&errors);
  jpeg_create_compress(&compress);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&compress, &buffer, &size);
  compress.image_width = static_cast<JDIMENSION>(width);
  compress.image_height = static_cast<JDIMENSION>(height);
  compress.input_components = 3;
  compress.in_color_space = JCS_RGB;
  jpeg_set_defaults(&compress);
  jpeg_set_quality(&compress, quality, TRUE);
  jpeg_start_compress(&compress, TRUE);
  while (compress.next_scanline < compress.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(rgb.data() + static_cast<size_t>(compress.next_scanline) * width * 3);
    jpeg_write_scanlines(&compress, &row, 1);
  }
  jpeg_finish_compress(&compress);
  jpeg_destroy_compress(&compress);
  const std::string bytes(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  write_file_atomic(path, bytes);
}

}  // namespace pg::image
