#include "worker/clip/residual_attention_block.h"

#include <cmath>
#include <limits>
#include <vector>

#include <torch/version.h>

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

torch::Tensor ResidualAttentionBlockImpl::project_qkv(const torch::Tensor& x) {
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = 3;
  shape.push_back(options_.heads);
  shape.push_back(options_.width / options_.heads);
  return torch::linear(x, in_proj_weight_, in_proj_bias_).view(shape);
}

torch::Tensor ResidualAttentionBlockImpl::attention(const torch::Tensor& qkv, const torch::Tensor& mask) {
  const int64_t n = qkv.size(1);
  const int64_t heads = qkv.size(2);
  const int64_t length = qkv.size(3);
  const int64_t head_dim = qkv.size(4);
#if TORCH_VERSION_MAJOR >= 2
  // LibTorch 2.x: one fused kernel (memory-efficient attention on CUDA: it takes an additive mask; a
  // fused CPU kernel elsewhere) for the same softmax(q k^T / sqrt(head_dim) + mask) v.
  const torch::Tensor fused = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask);  // [n, heads, L, D]
  return out_proj_(fused.transpose(1, 2).reshape({n, length, heads * head_dim}));
#else
  // LibTorch 1.13 has no fused attention: q, k, v each [n * heads, L, head_dim], batch-major then
  // head, as MultiheadAttention.
  const torch::Tensor q = qkv[0].reshape({n * heads, length, head_dim});
  const torch::Tensor k = qkv[1].reshape({n * heads, length, head_dim});
  const torch::Tensor v = qkv[2].reshape({n * heads, length, head_dim});
  // mask + (q k^T) / sqrt(head_dim) in one batched matmul; the [L, L] mask broadcasts over the batch.
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  const torch::Tensor scores = torch::baddbmm(mask, q, k.transpose(1, 2), /*beta=*/1.0, /*alpha=*/scale);
  const torch::Tensor context = torch::bmm(torch::softmax(scores, -1), v);  // [n * heads, L, head_dim]
  return out_proj_(context.view({n, heads, length, head_dim}).transpose(1, 2).reshape({n, length, heads * head_dim}));
#endif
}

torch::Tensor ResidualAttentionBlockImpl::add_mlp(const torch::Tensor& y) {
  torch::Tensor hidden = c_fc_(layer_norm_fp32(y, ln_2_));
  hidden = hidden * torch::sigmoid(1.702 * hidden);  // QuickGELU
  return y + c_proj_(hidden);
}

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  return add_mlp(x + attention(project_qkv(layer_norm_fp32(x, ln_1_)).permute({2, 0, 3, 1, 4}), mask));
}

torch::Tensor ResidualAttentionBlockImpl::attention_after_prefix(const torch::Tensor& q, const torch::Tensor& prefix_k,
                                                                 const torch::Tensor& prefix_v, const torch::Tensor& k,
                                                                 const torch::Tensor& v, const torch::Tensor& mask) {
  const int64_t groups = q.size(0);
  const int64_t heads = q.size(1);
  const int64_t n = q.size(2);
  const int64_t queries = q.size(3);
  const int64_t head_dim = q.size(4);
  const int64_t prefix_length = prefix_k.size(2);
  const int64_t suffix_length = k.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  // Against the prefix: one product per (group, head) covering all n * Q query rows, so the shared keys
  // are read once and the matrices are large.
  const torch::Tensor q_rows = q.reshape({groups * heads, n * queries, head_dim});
  const torch::Tensor prefix_scores =
      torch::bmm(q_rows, prefix_k.reshape({groups * heads, prefix_length, head_dim}).transpose(1, 2))
          .mul(scale)
          .view({groups, heads, n, queries, prefix_length});
  const torch::Tensor suffix_scores = torch::matmul(q, k.transpose(-1, -2)).mul(scale).add(mask);  // [G, H, n, Q, S]
  // One softmax over each row's prefix and suffix keys together, as over the whole prompt.
  const torch::Tensor probabilities = torch::softmax(torch::cat({prefix_scores, suffix_scores}, -1), -1);
  const torch::Tensor from_prefix =
      torch::bmm(probabilities.narrow(-1, 0, prefix_length).reshape({groups * heads, n * queries, prefix_length}),
                 prefix_v.reshape({groups * heads, prefix_length, head_dim}))
          .view({groups, heads, n, queries, head_dim});
  const torch::Tensor from_suffix = torch::matmul(probabilities.narrow(-1, prefix_length, suffix_length), v);
  const torch::Tensor context =
      (from_prefix + from_suffix).permute({0, 2, 3, 1, 4}).reshape({groups, n, queries, heads * head_dim});
  return out_proj_(context);
}

torch::Tensor ResidualAttentionBlockImpl::suffix_qkv(const torch::Tensor& suffix) {
  const int64_t groups = suffix.size(0);
  const torch::Tensor qkv = groups > 1 && suffix.stride(0) == 0
                                ? project_qkv(layer_norm_fp32(suffix[0], ln_1_)).unsqueeze(0).expand({groups, -1, -1, -1, -1, -1})
                                : project_qkv(layer_norm_fp32(suffix, ln_1_));
  return qkv.permute({3, 0, 4, 1, 2, 5});  // [G, n, S, 3, H, D] -> [3, G, H, n, S, D]
}

SharedPrefixStates ResidualAttentionBlockImpl::forward(const SharedPrefixStates& x, const torch::Tensor& prefix_mask,
                                                       const torch::Tensor& suffix_mask) {
  const torch::Tensor suffix_qkv = this->suffix_qkv(x.suffix);
  // [G, P, 3, H, D] -> [3, G, H, P, D]
  const torch::Tensor prefix_qkv = project_qkv(layer_norm_fp32(x.prefix, ln_1_)).permute({2, 0, 3, 1, 4});
  SharedPrefixStates y;
  y.suffix = add_mlp(x.suffix + attention_after_prefix(suffix_qkv[0], prefix_qkv[1], prefix_qkv[2], suffix_qkv[1],
                                                       suffix_qkv[2], suffix_mask));
  y.prefix = add_mlp(x.prefix + attention(prefix_qkv, prefix_mask));
  return y;
}

torch::Tensor ResidualAttentionBlockImpl::forward_rows(const SharedPrefixStates& x, const torch::Tensor& suffix_mask,
                                                       const torch::Tensor& rows) {
  const int64_t groups = x.suffix.size(0);
  const int64_t n = x.suffix.size(1);
  const int64_t width = options_.width;
  const int64_t heads = options_.heads;
  // Every suffix row gives keys and values; only the wanted rows ask queries and go through the MLP.
  const torch::Tensor suffix_qkv = this->suffix_qkv(x.suffix);
  const torch::Tensor prefix_qkv = project_qkv(layer_norm_fp32(x.prefix, ln_1_)).permute({2, 0, 3, 1, 4});
  const torch::Tensor query_index = rows.view({1, 1, n, 1, 1}).expand({groups, heads, n, 1, width / heads});
  const torch::Tensor q = suffix_qkv[0].gather(3, query_index);              // [G, H, n, 1, D]
  const torch::Tensor mask = suffix_mask.index_select(0, rows).unsqueeze(1);  // [n, 1, S]
  const torch::Tensor residual = x.suffix.gather(2, rows.view({1, n, 1, 1}).expand({groups, n, 1, width}));
  const torch::Tensor y =
      residual + attention_after_prefix(q, prefix_qkv[1], prefix_qkv[2], suffix_qkv[1], suffix_qkv[2], mask);
  return add_mlp(y).squeeze(2);
}

}  // namespace pg::worker
