// What sweep expansion and the cost model need to know of a dataset in the feature store, gathered by
// the caller (orchestrator/) so that sweeps/ stays free of HDF5 and LibTorch.
#pragma once

#include <cstdint>
#include <string>

namespace pg::sweeps {

struct DatasetFacts {
  std::string name;
  int64_t num_classes = 0;
  int64_t train_images = 0;
  int64_t fewest_train_images = 0;  // of any one class: the most shots every class can give
  int64_t test_images = 0;
  int64_t longest_name_tokens = 1;  // BPE tokens of the longest class name (prompt length)
  std::string source;               // a test-only dataset's source dataset (feature store attribute)
};

}  // namespace pg::sweeps
