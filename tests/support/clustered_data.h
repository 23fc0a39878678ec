// Few-shot training data with a known answer, for the trainer tests: n items of `classes` classes,
// class c's features are direction c of a random orthonormal set in 32 dimensions (the tiny CLIP's
// embed_dim) plus Gaussian noise of std `noise`; labels 0, 1, ..., classes-1, 0, 1, ...
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "worker/prompt_training.h"

namespace pg::testing {

inline worker::TrainingData clustered_data(int64_t n, int64_t classes, double noise, uint64_t seed) {
  const auto generator = at::detail::createCPUGenerator(seed);
  const torch::Tensor directions = std::get<0>(torch::linalg::qr(at::normal(0.0, 1.0, {32, classes}, generator))).t();
  const torch::Tensor labels = torch::arange(n, torch::kInt64) % classes;
  const torch::Tensor features = directions.index_select(0, labels) + noise * at::normal(0.0, 1.0, {n, 32}, generator);
  return {features, torch::Tensor(), labels};
}

}  // namespace pg::testing
