// One block of CLIP's text transformer (openai/CLIP model.py ResidualAttentionBlock), pre-LN:
//   x = x + attn(ln_1(x), mask);  x = x + mlp(ln_2(x))
// attn follows torch.nn.MultiheadAttention: packed in_proj [3W, W] (q, k, v rows), heads of W/heads
// columns, scores scaled by 1/sqrt(head_dim) plus an additive mask, softmax, out_proj. mlp is
// c_fc W->4W, QuickGELU x*sigmoid(1.702x), c_proj 4W->W. Parameter names match OpenAI's state dict
// (ln_1.weight, attn.in_proj_weight, attn.out_proj.bias, mlp.c_fc.weight, ...). Used by the text
// encoder (worker/clip/text_encoder.h); tests use it to check intermediate activations.
//
// Prompts that begin with the same rows (CoOp's SOT and generic context, class token at the end) are
// run split in two: under the causal mask those shared rows never see what follows them, so their
// hidden states are the same in every prompt and are computed once; each prompt's remaining rows
// attend to the shared rows' keys and values and, causally, to their own.
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

// Hidden states of prompts that share their first P rows, split at P. Within group g every prompt
// begins with prefix[g]; its own rows follow.
struct SharedPrefixStates {
  torch::Tensor prefix;  // [G, P, W]: the shared rows of each group
  torch::Tensor suffix;  // [G, n, S, W]: the rows after them, of each of the group's n prompts
};

class ResidualAttentionBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualAttentionBlockImpl(const ResidualAttentionBlockOptions& options);

  // x [n, L, width] (batch first), mask [L, L] additive in x's dtype -> [n, L, width].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  // The same block over prompts split at a shared prefix, giving the rows forward() would give for the
  // whole prompts. prefix_mask [P, P] and suffix_mask [S, S] are causal_mask()s.
  SharedPrefixStates forward(const SharedPrefixStates& x, const torch::Tensor& prefix_mask,
                             const torch::Tensor& suffix_mask);
  // The last block, when only one row of each prompt is wanted (its EOT): rows [n] int64 indexes each
  // prompt's suffix (row r of prompt c is its position P + r). -> [G, n, W], those rows' outputs.
  torch::Tensor forward_rows(const SharedPrefixStates& x, const torch::Tensor& suffix_mask, const torch::Tensor& rows);

 private:
  // Causal self-attention: qkv [3, B, heads, L, head_dim], mask [L, L] -> out_proj of it, [B, L, W].
  torch::Tensor attention(const torch::Tensor& qkv, const torch::Tensor& mask);
  // x [..., R, W] -> [..., R, 3, heads, head_dim]: the packed projection, q, k, v split into heads.
  torch::Tensor project_qkv(const torch::Tensor& x);
  // The suffix rows' q, k, v [3, G, H, n, S, D]. In the first layer the suffixes are the same in every
  // group (expanded over G): they are normalised and projected once, then expanded.
  torch::Tensor suffix_qkv(const torch::Tensor& suffix);
  // Attention of suffix rows: queries [G, H, n, Q, D], keys and values of the group's prefix
  // [G, H, P, D] and of each prompt's suffix [G, H, n, S, D], additive mask [., Q, S] over the
  // suffix keys (the prefix is visible to every row) -> out_proj of the result, [G, n, Q, W].
  torch::Tensor attention_after_prefix(const torch::Tensor& q, const torch::Tensor& prefix_k,
                                       const torch::Tensor& prefix_v, const torch::Tensor& k, const torch::Tensor& v,
                                       const torch::Tensor& mask);
  // c_proj(QuickGELU(c_fc(ln_2(y)))), added to y.
  torch::Tensor add_mlp(const torch::Tensor& y);

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
