// The one CoOp run that tests/collectives trains class-sharded under mpirun (sharded_coop_check.cpp)
// and on one rank in-process (collectives_test.cpp): 7 classes, so 2 and 3 ranks split them unevenly.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "worker/prompt_training.h"

namespace pg::worker::testing {

inline const std::vector<std::string>& sharded_case_classes() {
  static const std::vector<std::string> classes = {"abyssinian", "banded", "Highway_or_Road", "Annual Crop Land",
                                                   "bengal",     "forest", "river"};
  return classes;
}

// n items of the 7 classes: class c's features are direction c of a random orthonormal set plus noise.
inline TrainingData sharded_case_data(int64_t n, uint64_t seed) {
  const auto generator = at::detail::createCPUGenerator(seed);
  const torch::Tensor directions = std::get<0>(torch::linalg::qr(at::normal(0.0, 1.0, {32, 7}, generator))).t();
  const torch::Tensor labels = torch::arange(n, torch::kInt64) % 7;
  const torch::Tensor features = directions.index_select(0, labels) + 0.3 * at::normal(0.0, 1.0, {n, 32}, generator);
  return {features, torch::Tensor(), labels};
}

inline TrainOptions sharded_case_options() {
  TrainOptions options;
  options.epochs = 3;
  options.batch_size = 8;
  options.lr = 0.02;
  options.seed = 5;
  return options;
}

constexpr int64_t kShardedCaseItems = 28;
constexpr uint64_t kShardedCaseSeed = 5;
constexpr int64_t kShardedCaseContext = 4;

}  // namespace pg::worker::testing
