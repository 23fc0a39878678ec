// Where a LibTorch module's weights live (device and dtype of its first parameter), so code that feeds
// a module (token ids, prompts, image features) can put its inputs beside the weights without the
// caller passing the placement around. For modules whose parameters share one device and dtype, such
// as the text encoder.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/error.h"

namespace pg::worker {

inline torch::Tensor first_parameter(const torch::nn::Module& module) {
  const auto parameters = module.parameters();
  if (parameters.empty()) {
    throw Error("module '" + module.name() + "' has no parameters, so its device and dtype are unknown");
  }
  return parameters.front();
}

inline torch::Device module_device(const torch::nn::Module& module) { return first_parameter(module).device(); }

inline torch::Dtype module_dtype(const torch::nn::Module& module) { return first_parameter(module).scalar_type(); }

}  // namespace pg::worker
