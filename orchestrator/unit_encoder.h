// One rank's side of `features extract`: turns units of split-file rows into image features. Images
// are read, decoded and preprocessed (worker/image: PIL's and torchvision's exact arithmetic) on a
// pool of threads, one unit ahead of the image tower, so decoding overlaps encoding.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "orchestrator/extraction_plan.h"
#include "sweeps/split_file.h"
#include "worker/clip/image_encoder.h"
#include "worker/image/transforms.h"

namespace pg::orchestrator {

// Where a unit's images come from and how they become the tower's input.
struct ImageSource {
  std::string images_root;               // split-file paths are relative to it (CoOp's image_dir)
  const sweeps::SplitFile* split_file = nullptr;
  std::string dataset;                   // part of each augmented view's seed
  uint64_t seed = 1;                     // ditto
  image::PreprocessOptions preprocess;   // n_px = the tower's input resolution
};

// The seed of augmented view `view` of one image: XXH64 of (dataset, split-file path, view) with
// `seed` as the hash seed. It depends on the image, not on its row or the rank that computes it, so
// a store is reproducible however the work is split.
uint64_t view_seed(uint64_t seed, const std::string& dataset, const std::string& relpath, int view);

class UnitEncoder {
 public:
  UnitEncoder(worker::ImageEncoder encoder, torch::Device device, ImageSource source, int decode_threads);
  // Encodes units plan[indices[0]], plan[indices[1]], ... in that order and hands each result to
  // `done`. An image that cannot be read becomes a FailedImage (with the split row and the reason),
  // never an exception: the caller decides whether that stops the extraction.
  void encode(const std::vector<ExtractionUnit>& plan, const std::vector<int64_t>& indices,
              const std::function<void(UnitResult)>& done);

 private:
  struct Prepared;
  Prepared prepare(const ExtractionUnit& unit) const;
  UnitResult encode_prepared(int64_t index, const ExtractionUnit& unit, Prepared prepared);

  worker::ImageEncoder encoder_;
  torch::Device device_;
  ImageSource source_;
  int decode_threads_;
};

}  // namespace pg::orchestrator
