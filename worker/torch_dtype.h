// The LibTorch dtype a precision (common/precision.h) computes in.
#pragma once

#include <torch/torch.h>

#include "common/precision.h"

namespace pg::worker {

inline torch::Dtype torch_dtype(Precision precision) {
  switch (precision) {
    case Precision::fp16: return torch::kHalf;
    case Precision::bf16: return torch::kBFloat16;
    case Precision::fp32: break;
  }
  return torch::kFloat32;
}

}  // namespace pg::worker
