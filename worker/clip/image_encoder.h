// The front door to CLIP's image towers (DESIGN §2, worker/clip/): what the feature extractor calls to
// turn preprocessed images into image features, for ViT checkpoints (worker/clip/vision_transformer.h)
// and ResNet ones (worker/clip/modified_resnet.h) alike. The tower is detected from the checkpoint's
// keys and its shape inferred from its tensors, as CLIP's build_model does; loading is strict (every
// missing, unexpected or misshaped visual.* key is reported at once). Frozen, eval mode.
//
//   ImageEncoder encoder = load_image_encoder("ViT-B-16.pt");
//   encoder.to_precision(torch::kCUDA, torch::kHalf);               // as OpenAI runs it
//   torch::Tensor features = encoder.forward(images);              // [n, 3, 224, 224] -> [n, 512]
#pragma once

#include <torch/torch.h>

#include <string>

#include "worker/clip/modified_resnet.h"
#include "worker/clip/state_dict.h"
#include "worker/clip/vision_transformer.h"

namespace pg::worker {

// A handle on one tower: copies share it (as LibTorch module holders do).
class ImageEncoder {
 public:
  // A tower of the given shape with placeholder weights: load() fills them.
  explicit ImageEncoder(const VisionTransformerOptions& options);
  explicit ImageEncoder(const ModifiedResNetOptions& options);

  // Copies the visual.* tensors of a CLIP state dict (OpenAI key names; load_state_dict maps Hugging
  // Face's). Text-tower keys and logit_scale are ignored; BatchNorm num_batches_tracked counters are
  // accepted and ignored. Missing, unexpected (visual.*, or Hugging Face vision keys left unmapped) and
  // misshaped keys are one pg::Error listing them all, prefixed with `source` (the file name); so are
  // NaN or infinite weights.
  void load(const StateDict& state_dict, const std::string& source);

  // images [n, 3, R, R] (R = input_resolution()), preprocessed (CLIP's normalisation), any floating
  // dtype, any device -> features [n, embed_dim] on the module's device and in its dtype, NOT normalized.
  torch::Tensor forward(const torch::Tensor& images);

  int64_t input_resolution() const;
  int64_t embed_dim() const;
  // OpenAI's release name when the shapes are one of its models (RN50, RN101, RN50x4, RN50x16,
  // RN50x64, ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px), else a description such as
  // "ViT(width 64, layers 1, patch 16, 32px, embed 32)".
  std::string architecture() const;
  bool is_vit() const { return static_cast<bool>(vit_); }

  // Moves the tower and sets its compute dtype as CLIP's convert_weights does (convolutions, linear
  // layers, attention and projections in `dtype`), LayerNorm and BatchNorm kept in float32. float32
  // works everywhere; a dtype the device's kernels cannot run (float16 on the CPU in LibTorch 1.13) is
  // a pg::Error saying what to use instead, and leaves the tower as it was.
  void to_precision(torch::Device device, torch::Dtype dtype);
  torch::Device device() const;
  torch::Dtype dtype() const;

  // The tower itself, for checking intermediate activations: exactly one of them is non-null.
  VisionTransformer vision_transformer() const { return vit_; }
  ModifiedResNet resnet() const { return resnet_; }

 private:
  torch::nn::Module& module() const;

  VisionTransformer vit_{nullptr};
  ModifiedResNet resnet_{nullptr};
};

// The image tower of a CLIP state dict (ViT or ResNet, detected from its keys), loaded, frozen, in eval
// mode, float32 on the CPU. A state dict without an image tower (a text-only checkpoint) is a pg::Error
// naming `source`.
ImageEncoder make_image_encoder(const StateDict& state_dict, const std::string& source);

// The same from a checkpoint file (TorchScript archive or safetensors; worker/clip/state_dict.h).
ImageEncoder load_image_encoder(const std::string& checkpoint_path);

}  // namespace pg::worker
