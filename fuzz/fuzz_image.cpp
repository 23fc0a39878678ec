// Image files: JPEG and PNG decoding (libjpeg-turbo, libpng and the code around them), then, for
// images small enough to stay fast, the test-time preprocessing in both orders and a training view.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "worker/image/image.h"
#include "worker/image/random_resized_crop.h"
#include "worker/image/transforms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pg::image::DecodeOptions decode;
  decode.max_pixels = uint64_t{1} << 20;  // checked from the header: keeps every input cheap
  try {
    const pg::image::Image image = pg::image::decode_image(data, size, "fuzz", decode);
    if (image.width <= 512 && image.height <= 512 && uint64_t(image.width) * uint64_t(image.height) <= 65536) {
      pg::image::PreprocessOptions options;
      options.n_px = 8;
      pg::image::preprocess_for_test(image, options);
      options.order = pg::image::TransformOrder::clip;
      pg::image::preprocess_for_test(image, options);
      pg::image::preprocess_training_view(image, options, size);
    }
  } catch (const pg::Error&) {
  }
  return 0;
}
