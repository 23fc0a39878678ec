// One block of CLIP's text transformer (openai/CLIP model.py ResidualAttentionBlock), pre-LN:
//   x = x + attn(ln_1(x), mask);  x = x + mlp(ln_2(x))
// attn follows torch.nn.MultiheadAttention: packed in_proj [3W, W] (q, k, v rows), heads of W/heads
// columns, scores scaled by 1/sqrt(head_dim) plus an additive mask, softmax, out_proj. mlp is
// c_fc W->4W, QuickGELU x*sigmoid(1.702x), c_proj 4W->W. Parameter names match OpenAI's state dict
// (ln_1.weight, attn.in_proj_weight, attn.out_proj.bias, mlp.c_fc.weight, ...). Used by the text
// encoder (worker/clip/text_encoder.h); tests use it to check intermediate activations.
#pragma once

#include <torch/torch.h>

namespace pg::worker {

struct ResidualAttentionBlockOptions {
  int64_t width = 512;
  int64_t heads = 8;
};

// LayerNorm computed in float32 whatever x's dtype, result cast back to x's dtype (as CLIP's LayerNorm
// subclass does, so fp16/bf16 models keep fp32 statistics).
torch::Tensor layer_norm_fp32(const torch::Tensor& x, const torch::nn::LayerNorm& norm);

// [length, length] additive causal mask: 0 on and below the diagonal, -inf above it.
torch::Tensor causal_mask(int64_t length, const torch::TensorOptions& options);

class ResidualAttentionBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualAttentionBlockImpl(const ResidualAttentionBlockOptions& options);

  // x [n, L, width] (batch first), mask [L, L] additive in x's dtype -> [n, L, width].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& mask);

  ResidualAttentionBlockOptions options_;
  torch::nn::LayerNorm ln_1_{nullptr};
  torch::nn::LayerNorm ln_2_{nullptr};
  torch::Tensor in_proj_weight_;  // [3W, W]
  torch::Tensor in_proj_bias_;    // [3W]
  torch::nn::Linear out_proj_{nullptr};
  torch::nn::Linear c_fc_{nullptr};
  torch::nn::Linear c_proj_{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

}  // namespace pg::worker
