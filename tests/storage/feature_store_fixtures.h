// Small feature-store contents for the storage tests: three classes, float16-exact values.
#pragma once

#include <string>

#include "storage/feature_store.h"

namespace pg::storage {

constexpr int64_t kDim = 4;

// Values exactly representable in float16 (small dyadic fractions), so float16 stores return them
// bit-exactly.
inline SplitFeatures make_split(int64_t rows, int64_t views, int offset) {
  SplitFeatures split;
  split.rows = rows;
  split.dim = kDim;
  for (int64_t i = 0; i < rows * kDim; ++i) split.features.push_back(static_cast<float>((i + offset) % 37 - 18) / 8.0f);
  for (int64_t i = 0; i < rows; ++i) {
    split.labels.push_back(static_cast<int32_t>((i + offset) % 3));
    split.paths.push_back("class_" + std::to_string((i + offset) % 3) + "/image_" + std::to_string(i) + ".jpg");
  }
  split.num_views = views;
  for (int64_t i = 0; i < views * rows * kDim; ++i) split.views.push_back(static_cast<float>(i % 11) * 0.25f);
  return split;
}

inline DatasetFeatures make_dataset(const std::string& name = "dtd") {
  DatasetFeatures dataset;
  dataset.name = name;
  dataset.classnames = {"banded", "blotchy", "bubbly"};
  dataset.prompt_template = "{} texture.";
  dataset.splits["train"] = make_split(5, 2, 0);
  dataset.splits["val"] = make_split(2, 0, 100);
  dataset.splits["test"] = make_split(3, 0, 200);
  return dataset;
}

}  // namespace pg::storage
