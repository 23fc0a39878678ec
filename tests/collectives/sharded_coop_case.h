// The one CoOp run that tests/collectives trains class-sharded under mpirun (sharded_coop_check.cpp)
// and on one rank in-process (collectives_test.cpp): 7 classes, so 2 and 3 ranks split them unevenly.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "support/clustered_data.h"
#include "worker/prompt_training.h"

namespace pg::worker::testing {

inline const std::vector<std::string>& sharded_case_classes() {
  static const std::vector<std::string> classes = {"abyssinian", "banded", "Highway_or_Road", "Annual Crop Land",
                                                   "bengal",     "forest", "river"};
  return classes;
}

inline TrainingData sharded_case_data(int64_t n, uint64_t seed) { return pg::testing::clustered_data(n, 7, 0.3, seed); }

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
