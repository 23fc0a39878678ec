// CLIP's ViT image tower as a LibTorch module (openai/CLIP model.py VisionTransformer): a patch
// convolution (no bias, stride = patch), the class embedding prepended, positional embedding, ln_pre,
// pre-LN residual blocks without a mask (the text tower's ResidualAttentionBlock), ln_post on the class
// token, @ proj. LayerNorm is computed in float32 whatever the module's dtype, as the reference does.
//
// Parameter names are OpenAI's state-dict keys without the "visual." prefix. Built and loaded through
// worker/clip/image_encoder.h, which is what callers use; tests reach in for intermediates.
#pragma once

#include <torch/torch.h>

#include <string>

#include "worker/clip/residual_attention_block.h"
#include "worker/clip/state_dict.h"

namespace pg::worker {

struct VisionTransformerOptions {
  int64_t width = 768;  // ViT-B/16
  int64_t layers = 12;
  int64_t heads = 12;  // width / 64, as CLIP's build_model
  int64_t patch_size = 16;
  int64_t input_resolution = 224;
  int64_t embed_dim = 512;  // visual.proj columns

  int64_t grid() const { return input_resolution / patch_size; }

  // From the shapes of visual.conv1.weight, visual.positional_embedding, visual.proj and the numbering
  // of visual.transformer.resblocks.N, as build_model does (heads = width / 64, resolution = patch *
  // grid). Errors list every problem, prefixed with `source` (the file name).
  static VisionTransformerOptions infer_from(const StateDict& state_dict, const std::string& source = "state dict");
};

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const VisionTransformerOptions& options);

  // images [n, 3, R, R] in the module's dtype and device (R = input_resolution) -> the transformer's
  // input [n, grid^2 + 1, width]: patch embeddings after the class token, + positional, ln_pre.
  torch::Tensor embed(const torch::Tensor& images);
  // images [n, 3, R, R] -> features [n, embed_dim], not normalized.
  torch::Tensor forward(const torch::Tensor& images);

  const VisionTransformerOptions& options() const { return options_; }
  const torch::nn::ModuleList& blocks() const { return blocks_; }

 private:
  VisionTransformerOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::Tensor class_embedding_;       // [width]
  torch::Tensor positional_embedding_;  // [grid^2 + 1, width]
  torch::nn::LayerNorm ln_pre_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm ln_post_{nullptr};
  torch::Tensor proj_;  // [width, embed_dim]
};
TORCH_MODULE(VisionTransformer);

}  // namespace pg::worker
