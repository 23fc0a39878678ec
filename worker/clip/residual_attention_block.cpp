#include "worker/clip/residual_attention_block.h"

#include <cmath>
#include <limits>

#include "common/error.h"

namespace pg::worker {

torch::Tensor layer_norm_fp32(const torch::Tensor& x, const torch::nn::LayerNorm& norm) {
  const torch::Tensor y = torch::layer_norm(x.to(torch::kFloat32), norm->options.normalized_shape(),
                                            norm->weight.to(torch::kFloat32), norm->bias.to(torch::kFloat32),
                                            norm->options.eps());
  return y.to(x.scalar_type());
}

torch::Tensor causal_mask(int64_t length, const torch::TensorOptions& options) {
  return torch::full({length, length}, -std::numeric_limits<double>::infinity(), options).triu_(1);
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(const ResidualAttentionBlockOptions& options)
    : options_(options) {
  const int64_t width = options.width;
  if (width <= 0 || options.heads <= 0 || width % options.heads != 0) {
    throw Error("residual attention block: width " + std::to_string(width) + " is not divisible into " +
                std::to_string(options.heads) + " heads");
  }
  // LayerNorm eps is 1e-5 in CLIP (PyTorch's default).
  ln_1_ = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)));
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
  in_proj_weight_ = attn->register_parameter("in_proj_weight", torch::zeros({3 * width, width}));
  in_proj_bias_ = attn->register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj_ = attn->register_module("out_proj", torch::nn::Linear(width, width));
  ln_2_ = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  c_fc_ = mlp->register_module("c_fc", torch::nn::Linear(width, 4 * width));
  c_proj_ = mlp->register_module("c_proj", torch::nn::Linear(4 * width, width));
}

torch::Tensor ResidualAttentionBlockImpl::attention(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t n = x.size(0);
  const int64_t length = x.size(1);
  const int64_t width = options_.width;
  const int64_t heads = options_.heads;
  const int64_t head_dim = width / heads;
  // [n, L, 3W] -> q, k, v each [n * heads, L, head_dim], batch-major then head, as MultiheadAttention.
  const torch::Tensor qkv =
      torch::linear(x, in_proj_weight_, in_proj_bias_).view({n, length, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
  const torch::Tensor q = qkv[0].reshape({n * heads, length, head_dim});
  const torch::Tensor k = qkv[1].reshape({n * heads, length, head_dim});
  const torch::Tensor v = qkv[2].reshape({n * heads, length, head_dim});
  // mask + (q k^T) / sqrt(head_dim) in one batched matmul; the [L, L] mask broadcasts over the batch.
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  const torch::Tensor scores = torch::baddbmm(mask, q, k.transpose(1, 2), /*beta=*/1.0, /*alpha=*/scale);
  const torch::Tensor context = torch::bmm(torch::softmax(scores, -1), v);  // [n * heads, L, head_dim]
  return out_proj_(context.view({n, heads, length, head_dim}).transpose(1, 2).reshape({n, length, width}));
}

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  torch::Tensor y = x + attention(layer_norm_fp32(x, ln_1_), mask);
  torch::Tensor hidden = c_fc_(layer_norm_fp32(y, ln_2_));
  hidden = hidden * torch::sigmoid(1.702 * hidden);  // QuickGELU
  return y + c_proj_(hidden);
}

}  // namespace pg::worker
