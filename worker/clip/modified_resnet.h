// CLIP's ResNet image tower as a LibTorch module (openai/CLIP model.py ModifiedResNet, the RN50 family):
//   stem: conv3x3/2 -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> AvgPool2d(2)
//   layer1..4: Bottlenecks, anti-aliased: a strided block average-pools after its 3x3 conv and in its
//              downsample path (AvgPool -> conv1x1 -> BN, keys downsample.0 / downsample.1)
//   attnpool:  the mean token prepended to the HW tokens, + positional embedding, one query (the mean
//              token) attending over all of them with separate q/k/v projections, c_proj.
// No convolution has a bias. BatchNorm is eval-mode (running statistics from the checkpoint, eps 1e-5)
// and computed in float32 whatever the module's dtype, so fp16 towers keep fp32 BatchNorm parameters as
// the reference's convert_weights does.
//
// Parameter names are OpenAI's state-dict keys without the "visual." prefix (BatchNorm's
// num_batches_tracked counters are not held: they mean nothing in eval mode). Built and loaded through
// worker/clip/image_encoder.h; tests call the stages one by one.
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>

#include "worker/clip/state_dict.h"

namespace pg::worker {

struct ModifiedResNetOptions {
  std::array<int64_t, 4> layers = {3, 4, 6, 3};  // RN50
  int64_t width = 64;                            // stem output channels; layer outputs are 4, 8, 16, 32 x width
  int64_t heads = 32;                            // attnpool heads: width * 32 / 64, as CLIP's build_model
  int64_t input_resolution = 224;                // output_resolution() * 32
  int64_t embed_dim = 1024;                      // attnpool.c_proj outputs

  int64_t output_resolution() const { return input_resolution / 32; }  // layer4's grid
  int64_t feature_width() const { return width * 32; }                 // layer4's channels = attnpool's width

  // From the block numbering of visual.layer1..4, visual.layer1.0.conv1.weight (width),
  // visual.attnpool.positional_embedding (grid^2 + 1 rows) and visual.attnpool.c_proj.weight, as
  // build_model does. Errors list every problem, prefixed with `source` (the file name).
  static ModifiedResNetOptions infer_from(const StateDict& state_dict, const std::string& source = "state dict");
};

// BatchNorm2d in eval mode, y = (x - running_mean) / sqrt(running_var + eps) * weight + bias, computed
// in float32 and cast back to x's dtype.
class EvalBatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit EvalBatchNorm2dImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::Tensor weight_, bias_, running_mean_, running_var_;
};
TORCH_MODULE(EvalBatchNorm2d);

class BottleneckImpl : public torch::nn::Module {
 public:
  // inplanes -> 4 * planes channels; stride > 1 halves (quarters, ...) the grid by average pooling.
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t stride_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  EvalBatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Conv2d downsample_conv_{nullptr};  // downsample.0, absent when the identity fits
  EvalBatchNorm2d downsample_bn_{nullptr};      // downsample.1
};
TORCH_MODULE(Bottleneck);

class AttentionPool2dImpl : public torch::nn::Module {
 public:
  AttentionPool2dImpl(int64_t grid, int64_t width, int64_t heads, int64_t output_dim);
  // x [n, width, grid, grid] -> [n, output_dim].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t heads_;
  torch::Tensor positional_embedding_;  // [grid^2 + 1, width]
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, c_proj_{nullptr};
};
TORCH_MODULE(AttentionPool2d);

class ModifiedResNetImpl : public torch::nn::Module {
 public:
  explicit ModifiedResNetImpl(const ModifiedResNetOptions& options);

  // images [n, 3, R, R] in the module's dtype and device (R = input_resolution) -> features
  // [n, embed_dim], not normalized.
  torch::Tensor forward(const torch::Tensor& images);

  // The stages, for checking intermediate activations:
  //   stem:     [n, 3, R, R] -> [n, width, R/4, R/4]
  //   layer(i): layer i = 1..4: [n, C, H, W] -> [n, 4 * width * 2^(i-1), H / (i > 1 ? 2 : 1), ...]
  //   attnpool: [n, 32 * width, R/32, R/32] -> [n, embed_dim]
  torch::Tensor stem(const torch::Tensor& images);
  torch::Tensor layer(int index, const torch::Tensor& x);
  torch::Tensor attnpool(const torch::Tensor& x) { return attnpool_->forward(x); }

  const ModifiedResNetOptions& options() const { return options_; }

 private:
  ModifiedResNetOptions options_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  EvalBatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  std::array<torch::nn::ModuleList, 4> layers_;
  AttentionPool2d attnpool_{nullptr};
};
TORCH_MODULE(ModifiedResNet);

}  // namespace pg::worker
