// Writing RGB images as PNG (libpng) and baseline JPEG (libjpeg-turbo): the synthetic benchmark's
// image dataset and tests that need image files of known content.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg::image {

// `rgb`: height rows of width RGB triples. Written atomically (a temporary renamed into place);
// errors name the path.
void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb);
// Quality 1..100, 4:2:0 chroma subsampling (libjpeg's defaults).
void write_jpeg_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb, int quality);

}  // namespace pg::image
