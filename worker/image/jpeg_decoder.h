// JPEG decoding with libjpeg-turbo, set up as PIL 9.4's JpegImagePlugin and JpegDecode.c set it up, so
// the pixels equal PIL's: the library's defaults (islow integer IDCT, fancy upsampling, block smoothing),
// 1 component -> L, 3 -> RGB (libjpeg converts YCbCr), 4 -> CMYK read as Adobe-inverted (PIL's raw mode
// "CMYK;I": every byte becomes 255 - byte, whatever the APP14 marker says). EXIF orientation and ICC
// profiles are ignored, as in the reference. Called by decode_image (image.h) only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/image/image.h"

namespace pg::image {

// Truncation is found the way PIL finds it: the data are given to libjpeg through a suspending source,
// and a decoder that still wants data once every byte was given means the file is truncated ("image
// file is truncated" in PIL). libjpeg's warnings (corrupt data it can decode past) are ignored, as PIL
// ignores them. A missing EOI after the last row is accepted, as PIL accepts it.
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, uint64_t max_pixels);

}  // namespace pg::image
