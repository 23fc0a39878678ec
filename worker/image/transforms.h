// The test-time preprocessing of the reference, as torchvision 0.14 runs it on PIL images:
//   CoOp / Dassl (the default): read_image = convert('RGB'), then Resize(n_px, BICUBIC),
//     CenterCrop(n_px), ToTensor, Normalize;
//   CLIP's own `_transform(n_px)`: Resize(n_px, BICUBIC) and CenterCrop(n_px) in the image's own mode
//     (P resized NEAREST, RGBA / LA premultiplied, CMYK and I as they are), then convert('RGB'),
//     ToTensor, Normalize.
// For RGB and L images both orders give the same pixels. Also the entry point of the training views
// (preprocess_training_view; the sampling is random_resized_crop.h's). Used by the feature extractor.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "worker/image/image.h"

namespace pg::image {

enum class TransformOrder {
  dassl,  // CoOp's data path: convert('RGB') first, then resize and crop
  clip,   // CLIP's _transform: resize and crop in the image's own mode, convert last
};

struct PreprocessOptions {
  int n_px = 224;  // the model's input resolution: 224 for RN50 and ViT-B/16
  TransformOrder order = TransformOrder::dassl;
  // CLIP's normalisation (also CoOp's configs' INPUT.PIXEL_MEAN / PIXEL_STD).
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};

// A box in pixels of an image: PIL's crop box (left, top, left + width, top + height).
struct CropBox {
  int left = 0, top = 0, width = 0, height = 0;
};

// Python's round(): halves go to the even neighbour (74.5 -> 74, 15.5 -> 16).
int round_half_even(double value);

// torchvision's Resize(n_px) target for a width x height image: the shorter side becomes n_px, the
// longer int(n_px * long / short), computed as the integer product divided down (floor).
struct Size {
  int width = 0, height = 0;
};
Size shorter_side_size(int width, int height, int n_px);

// torchvision's CenterCrop(n_px) box: left = round((W - n) / 2.0), top likewise (Python round). An
// image smaller than n_px on a side is a pg::Error: torchvision would pad it with black, which the
// shorter-side resize never needs, so reaching it means a caller's bug.
CropBox center_crop_box(int width, int height, int n_px);

// Resize shorter side to n_px and CenterCrop(n_px) in the order the options say: the uint8 RGB image
// (n_px x n_px) ToTensor receives. n_px < 1 is a pg::Error.
Image resize_and_center_crop(const Image& image, const PreprocessOptions& options);

// ToTensor + Normalize in float32 as torchvision computes them: x = float(u8) / 255 (a division), then
// (x - mean[c]) / std[c] (divisions). Output CHW, 3 * height * width floats. `rgb` must be mode RGB.
std::vector<float> to_normalized_chw(const Image& rgb, const PreprocessOptions& options);

// resize_and_center_crop, then to_normalized_chw: the test-time input of the image tower.
std::vector<float> preprocess_for_test(const Image& image, const PreprocessOptions& options);

// One augmented training view (CoOp's RandomResizedCrop + RandomHorizontalFlip + ToTensor + Normalize,
// after convert('RGB')), drawn deterministically from `seed`: see random_resized_crop.h for the
// procedure and the generator. 3 * n_px * n_px floats, CHW.
std::vector<float> preprocess_training_view(const Image& image, const PreprocessOptions& options, uint64_t seed);

}  // namespace pg::image
