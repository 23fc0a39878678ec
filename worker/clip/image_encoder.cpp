#include "worker/clip/image_encoder.h"

#include <array>
#include <set>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

const std::string kVisual = "visual.";

std::vector<int64_t> shape_of(const torch::Tensor& tensor) { return tensor.sizes().vec(); }

struct VitRelease {
  const char* name;
  int64_t width, layers, patch_size, input_resolution, embed_dim;
};
struct ResNetRelease {
  const char* name;
  std::array<int64_t, 4> layers;
  int64_t width, input_resolution, embed_dim;
};
// OpenAI's released image towers (clip.available_models()).
constexpr std::array<VitRelease, 4> kVitReleases = {{
    {"ViT-B/32", 768, 12, 32, 224, 512},
    {"ViT-B/16", 768, 12, 16, 224, 512},
    {"ViT-L/14", 1024, 24, 14, 224, 768},
    {"ViT-L/14@336px", 1024, 24, 14, 336, 768},
}};
constexpr std::array<ResNetRelease, 5> kResNetReleases = {{
    {"RN50", {3, 4, 6, 3}, 64, 224, 1024},
    {"RN101", {3, 4, 23, 3}, 64, 224, 512},
    {"RN50x4", {4, 6, 10, 6}, 80, 288, 640},
    {"RN50x16", {6, 8, 18, 8}, 96, 384, 768},
    {"RN50x64", {3, 15, 36, 10}, 128, 448, 1024},
}};

std::string dtype_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kHalf: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat32: return "float32";
    case torch::kFloat64: return "float64";
    default: return std::string(c10::toString(dtype));
  }
}

bool starts_with_any_vision_prefix(const std::string& key) {
  return starts_with(key, kVisual) || starts_with(key, "vision_model.") || starts_with(key, "visual_projection.");
}

// Which tower the visual.* keys describe: "vit", "resnet", or an empty string when there are none.
std::string detect_tower(const StateDict& state_dict, const std::string& source) {
  bool vit = false;
  bool resnet = false;
  std::vector<std::string> vision_keys;
  for (const auto& [key, tensor] : state_dict) {
    if (starts_with(key, "visual.transformer.") || key == "visual.proj" || key == "visual.class_embedding" ||
        starts_with(key, "visual.ln_post.")) {
      vit = true;
    }
    if (starts_with(key, "visual.layer") || starts_with(key, "visual.attnpool.")) resnet = true;
    if (starts_with_any_vision_prefix(key) && vision_keys.size() < 5) vision_keys.push_back(key);
  }
  if (vit && resnet) {
    throw Error(source + ": holds keys of both a ViT image tower (visual.transformer.*, visual.proj) and a ResNet "
                "one (visual.layer*, visual.attnpool.*); the checkpoint is damaged or mixes two models");
  }
  if (vit) return "vit";
  if (resnet) return "resnet";
  if (vision_keys.empty()) {
    throw Error(source + ": has no image tower (no visual.* keys, nor Hugging Face vision_model.*): a text-only "
                "checkpoint cannot encode images; use a full CLIP checkpoint (OpenAI's RN50.pt, ViT-B-16.pt, ...)");
  }
  throw Error(source + ": its image-tower keys (" + join(vision_keys, ", ") +
              ", ...) describe neither CLIP's ViT (visual.conv1, visual.transformer.resblocks.N, visual.proj) nor its "
              "ResNet (visual.layer1..4, visual.attnpool); Hugging Face vision keys need "
              "vision_model.embeddings.patch_embedding.weight to be recognised");
}

// Half precision on the CPU lacks kernels in some LibTorch versions (1.13 has no Half conv2d or matmul
// on the CPU): a tiny tower of the same kind is run first, so that the error comes here, with advice,
// rather than from the first batch of a feature extraction.
void check_kernels(bool vit, torch::Device device, torch::Dtype dtype) {
  if (!device.is_cpu() || dtype == torch::kFloat32 || dtype == torch::kFloat64) return;
  try {
    torch::NoGradGuard no_grad;
    const auto options = torch::TensorOptions().dtype(dtype).device(device);
    if (vit) {
      VisionTransformerOptions tiny;
      tiny.width = 64;
      tiny.layers = 1;
      tiny.heads = 1;
      tiny.patch_size = 4;
      tiny.input_resolution = 8;
      tiny.embed_dim = 4;
      VisionTransformer tower(tiny);
      tower->to(device, dtype);
      tower->forward(torch::zeros({2, 3, 8, 8}, options));
    } else {
      ModifiedResNetOptions tiny;
      tiny.layers = {1, 1, 1, 1};
      tiny.width = 2;
      tiny.heads = 1;
      tiny.input_resolution = 32;
      tiny.embed_dim = 4;
      ModifiedResNet tower(tiny);
      tower->to(device, dtype);
      tower->forward(torch::zeros({2, 3, 32, 32}, options));
    }
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error("image encoder: " + dtype_name(dtype) + " on " + device.str() +
                " is not supported by this LibTorch's kernels (" + what.substr(0, what.find('\n')) +
                "); compute in float32 on the CPU, or in float16 on CUDA");
  }
}

}  // namespace

ImageEncoder::ImageEncoder(const VisionTransformerOptions& options) : vit_(options) { vit_->eval(); }

ImageEncoder::ImageEncoder(const ModifiedResNetOptions& options) : resnet_(options) { resnet_->eval(); }

torch::nn::Module& ImageEncoder::module() const {
  if (vit_) return *vit_.ptr();
  return *resnet_.ptr();
}

int64_t ImageEncoder::input_resolution() const {
  return vit_ ? vit_->options().input_resolution : resnet_->options().input_resolution;
}

int64_t ImageEncoder::embed_dim() const { return vit_ ? vit_->options().embed_dim : resnet_->options().embed_dim; }

std::string ImageEncoder::architecture() const {
  if (vit_) {
    const VisionTransformerOptions& o = vit_->options();
    for (const VitRelease& release : kVitReleases) {
      if (o.width == release.width && o.layers == release.layers && o.patch_size == release.patch_size &&
          o.input_resolution == release.input_resolution && o.embed_dim == release.embed_dim && o.heads == o.width / 64) {
        return release.name;
      }
    }
    return "ViT(width " + std::to_string(o.width) + ", layers " + std::to_string(o.layers) + ", patch " +
           std::to_string(o.patch_size) + ", " + std::to_string(o.input_resolution) + "px, embed " +
           std::to_string(o.embed_dim) + ")";
  }
  const ModifiedResNetOptions& o = resnet_->options();
  for (const ResNetRelease& release : kResNetReleases) {
    if (o.layers == release.layers && o.width == release.width && o.input_resolution == release.input_resolution &&
        o.embed_dim == release.embed_dim && o.heads == o.width * 32 / 64) {
      return release.name;
    }
  }
  return "ResNet(layers " + join(o.layers, "-") + ", width " + std::to_string(o.width) + ", " +
         std::to_string(o.input_resolution) + "px, embed " + std::to_string(o.embed_dim) + ")";
}

torch::Device ImageEncoder::device() const {
  return vit_ ? vit_->named_parameters()["conv1.weight"].device() : resnet_->named_parameters()["conv1.weight"].device();
}

torch::Dtype ImageEncoder::dtype() const {
  return vit_ ? vit_->named_parameters()["conv1.weight"].scalar_type()
              : resnet_->named_parameters()["conv1.weight"].scalar_type();
}

void ImageEncoder::load(const StateDict& state_dict, const std::string& source) {
  torch::nn::Module& tower = module();
  // The tower's tensors under their state-dict names, parameters and BatchNorm running statistics.
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : tower.named_parameters(/*recurse=*/true)) tensors.emplace_back(kVisual + item.key(), item.value());
  for (const auto& item : tower.named_buffers(/*recurse=*/true)) tensors.emplace_back(kVisual + item.key(), item.value());
  std::set<std::string> known;
  for (const auto& [key, tensor] : tensors) known.insert(key);
  // BatchNorm's step counters: meaningless in eval mode, accepted where a BatchNorm is.
  std::set<std::string> ignored;
  for (const auto& item : tower.named_modules()) {
    if (item.value()->as<EvalBatchNorm2dImpl>() != nullptr) ignored.insert(kVisual + item.key() + ".num_batches_tracked");
  }

  std::vector<std::string> missing;
  std::vector<std::string> misshaped;
  std::vector<std::string> unexpected;
  for (const auto& [key, tensor] : tensors) {
    const auto found = state_dict.find(key);
    if (found == state_dict.end()) {
      missing.push_back(key);
    } else if (!found->second.sizes().equals(tensor.sizes())) {
      misshaped.push_back(key + " is " + format_shape(shape_of(found->second)) + ", expected " +
                          format_shape(shape_of(tensor)));
    }
  }
  for (const auto& [key, tensor] : state_dict) {
    if (starts_with_any_vision_prefix(key) && known.count(key) == 0 && ignored.count(key) == 0) unexpected.push_back(key);
  }
  if (!missing.empty() || !misshaped.empty() || !unexpected.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back("missing keys: " + join(missing, ", "));
    if (!unexpected.empty()) parts.push_back("unexpected keys: " + join(unexpected, ", "));
    if (!misshaped.empty()) parts.push_back("misshaped keys: " + join(misshaped, "; "));
    throw Error(source + ": does not match a CLIP image tower " + architecture() + ": " + join(parts, "; ") +
                " (is it a CLIP checkpoint with OpenAI, open_clip or Hugging Face key names?)");
  }
  std::vector<std::string> non_finite;
  for (const auto& [key, tensor] : tensors) {
    const torch::Tensor& weight = state_dict.at(key);
    const int64_t finite = torch::isfinite(weight).sum().item<int64_t>();
    if (finite != weight.numel()) {
      non_finite.push_back(key + " (" + std::to_string(weight.numel() - finite) + " of " +
                           std::to_string(weight.numel()) + ")");
    }
  }
  if (!non_finite.empty()) {
    throw Error(source + ": image-tower weights hold NaN or infinite values: " + join(non_finite, ", ") +
                "; the checkpoint is corrupt (download or convert it again)");
  }
  torch::NoGradGuard no_grad;
  for (auto& [key, tensor] : tensors) tensor.copy_(state_dict.at(key));
}

torch::Tensor ImageEncoder::forward(const torch::Tensor& images) {
  const int64_t r = input_resolution();
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != r || images.size(3) != r) {
    throw Error("image encoder " + architecture() + ": images have shape " + format_shape(shape_of(images)) +
                ", expected [n, 3, " + std::to_string(r) + ", " + std::to_string(r) +
                "] (preprocess them to the tower's input resolution)");
  }
  if (!c10::isFloatingType(images.scalar_type())) {
    throw Error("image encoder: images are " + std::string(c10::toString(images.scalar_type())) +
                ", expected floating-point values normalised as CLIP's preprocessing does");
  }
  const torch::Dtype dtype = this->dtype();
  if (images.size(0) == 0) return torch::zeros({0, embed_dim()}, torch::TensorOptions().dtype(dtype).device(device()));
  const torch::Tensor x = images.to(device(), dtype);
  return vit_ ? vit_->forward(x) : resnet_->forward(x);
}

void ImageEncoder::to_precision(torch::Device device, torch::Dtype dtype) {
  if (!c10::isFloatingType(dtype)) {
    throw Error("image encoder: cannot compute in " + std::string(c10::toString(dtype)) +
                "; use float32, or float16 on CUDA");
  }
  check_kernels(is_vit(), device, dtype);
  torch::nn::Module& tower = module();
  tower.to(device, dtype);
  for (auto& child : tower.modules()) {
    if (auto* norm = child->as<torch::nn::LayerNorm>()) norm->to(torch::kFloat32);
    if (auto* norm = child->as<EvalBatchNorm2dImpl>()) norm->to(torch::kFloat32);
  }
}

ImageEncoder make_image_encoder(const StateDict& state_dict, const std::string& source) {
  const std::string tower = detect_tower(state_dict, source);
  ImageEncoder encoder = tower == "vit" ? ImageEncoder(VisionTransformerOptions::infer_from(state_dict, source))
                                        : ImageEncoder(ModifiedResNetOptions::infer_from(state_dict, source));
  encoder.load(state_dict, source);
  return encoder;
}

ImageEncoder load_image_encoder(const std::string& checkpoint_path) {
  return make_image_encoder(load_state_dict(checkpoint_path), checkpoint_path);
}

}  // namespace pg::worker
