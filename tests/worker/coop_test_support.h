// Shared by the golden tests of worker/ (CoOp, trainer, zero-shot, text and image towers): the golden tiny CLIP, CLIP's tokenizer, golden
// files, and the relative error the golden comparisons use.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "support/test_data.h"
#include "worker/clip/state_dict.h"
#include "worker/clip/text_encoder.h"
#include "text/tokenizer.h"

namespace pg::worker::testing {

// CLIP's BPE tokenizer, loaded once per test binary.
inline const text::Tokenizer& clip_tokenizer() {
  static const text::Tokenizer tokenizer =
      text::Tokenizer::from_vocab_file(pg::testing::shared_data("clip/bpe_simple_vocab_16e6.txt.gz"));
  return tokenizer;
}

// A fresh copy of the golden tiny CLIP's text tower (float32, CPU): tests may move or convert it.
inline TextEncoder tiny_encoder() {
  return load_text_encoder(pg::testing::shared_data("golden/tiny_clip.safetensors"));
}

inline StateDict golden_tensors(const std::string& name) {
  return read_safetensors(pg::testing::shared_data("golden/" + name + ".safetensors"));
}

inline nlohmann::json golden_json(const std::string& name) {
  return pg::testing::read_json(pg::testing::shared_data("golden/" + name + ".json"));
}

// max|actual - expected| / max|expected|, after checking the shapes agree.
inline double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  EXPECT_EQ(actual.sizes().vec(), expected.sizes().vec());
  if (actual.sizes() != expected.sizes()) return 1e30;
  const torch::Tensor a = actual.detach().to(torch::kCPU, torch::kFloat64);
  const torch::Tensor b = expected.detach().to(torch::kCPU, torch::kFloat64);
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// Token id rows from a golden JSON, zero-padded to 77 as clip.tokenize does.
inline torch::Tensor padded_ids(const nlohmann::json& rows) {
  torch::Tensor ids = torch::zeros({static_cast<int64_t>(rows.size()), 77}, torch::kInt64);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < rows[i].size(); ++j) {
      ids[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = rows[i][j].get<int64_t>();
    }
  }
  return ids;
}

inline torch::Tensor int64_tensor(const std::vector<int64_t>& values) { return torch::tensor(values, torch::kInt64); }

// Expects `action` to throw pg::Error whose message contains every one of `parts`.
template <typename Action>
void expect_error(Action action, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "expected a pg::Error mentioning " << parts.front();
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

}  // namespace pg::worker::testing
