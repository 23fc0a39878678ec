// PNG decoding with libpng into the modes and values PIL 9.4's PngImagePlugin gives (its own zlib
// decoder and unpackers, whose results libpng's raw rows are turned into here):
//   grey 1-bit -> "1" (0 / 255); grey 2/4/8-bit -> L (2-bit values * 0x55, 4-bit * 0x11);
//   grey 16-bit -> I (the full 16-bit value); RGB 8/16-bit -> RGB (16-bit: the high byte);
//   palette 1/2/4/8-bit -> P (indices; the palette starts as PIL's grey ramp, PLTE overwrites its head);
//   grey+alpha 8-bit -> LA, 16-bit -> RGBA (grey high byte in R, G, B); RGBA 8/16-bit -> RGBA.
// Adam7 interlacing is undone; tRNS, gAMA, sBIT, iCCP are ignored (the reference ignores them when it
// converts to RGB). Called by decode_image (image.h) only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/image/image.h"

namespace pg::image {

// Matches PIL on damaged files where it matters for datasets: data that end before the image is
// complete are an error ("image file is truncated"); data that end after the last row, or a bad IDAT
// checksum (PIL does not check those), are accepted; a bad checksum in a chunk before the image data
// is an error, as in PIL. Unknown chunks are skipped, critical or not, as PIL skips them.
Image decode_png(const uint8_t* data, size_t size, const std::string& name, uint64_t max_pixels);

}  // namespace pg::image
