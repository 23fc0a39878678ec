#include "worker/clip/vision_transformer.h"

#include <cmath>
#include <set>
#include <vector>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

const std::string kBlockPrefix = "visual.transformer.resblocks.";

std::vector<int64_t> shape_of(const torch::Tensor& tensor) { return tensor.sizes().vec(); }

}  // namespace

VisionTransformerOptions VisionTransformerOptions::infer_from(const StateDict& state_dict, const std::string& source) {
  std::vector<std::string> problems;
  auto tensor = [&](const std::string& key, int64_t dims) {
    return find_tensor_of_rank(state_dict, key, dims, problems);
  };
  const torch::Tensor* conv1 = tensor("visual.conv1.weight", 4);
  const torch::Tensor* positional = tensor("visual.positional_embedding", 2);
  const torch::Tensor* proj = tensor("visual.proj", 2);
  std::set<int64_t> layers;
  for (const auto& [key, value] : state_dict) {
    if (!starts_with(key, kBlockPrefix)) continue;
    const std::string index = key.substr(kBlockPrefix.size(), key.find('.', kBlockPrefix.size()) - kBlockPrefix.size());
    if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) continue;
    layers.insert(std::stoll(index));
  }
  if (layers.empty()) problems.push_back("missing visual.transformer.resblocks.0.* (no transformer blocks)");
  if (!layers.empty() && *layers.rbegin() + 1 != static_cast<int64_t>(layers.size())) {
    problems.push_back("visual transformer blocks are not numbered 0.." + std::to_string(layers.size() - 1) +
                       " (found " + join(layers, ", ") + ")");
  }
  VisionTransformerOptions options;
  options.layers = static_cast<int64_t>(layers.size());
  if (conv1 != nullptr) {
    options.width = conv1->size(0);
    options.patch_size = conv1->size(3);
    options.heads = options.width / 64;
    if (conv1->size(1) != 3 || conv1->size(2) != conv1->size(3)) {
      problems.push_back("visual.conv1.weight has shape " + format_shape(shape_of(*conv1)) +
                         ", expected [width, 3, patch, patch]");
    }
    if (options.heads == 0 || options.width % options.heads != 0) {
      problems.push_back("visual.conv1.weight width " + std::to_string(options.width) +
                         " cannot be split into width/64 heads as CLIP does");
    }
  }
  if (positional != nullptr) {
    const int64_t tokens = positional->size(0);
    const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(tokens - 1, 0)))));
    if (grid == 0 || grid * grid + 1 != tokens) {
      problems.push_back("visual.positional_embedding has " + std::to_string(tokens) +
                         " rows, expected grid^2 + 1 (a square grid of patches and the class token)");
    }
    options.input_resolution = grid * options.patch_size;
  }
  if (proj != nullptr) options.embed_dim = proj->size(1);
  if (!problems.empty()) {
    throw Error(source + ": not a CLIP ViT image tower: " + join(problems, "; ") +
                " (expected OpenAI, open_clip or Hugging Face CLIPModel key names)");
  }
  return options;
}

VisionTransformerImpl::VisionTransformerImpl(const VisionTransformerOptions& options) : options_(options) {
  if (options.width <= 0 || options.layers <= 0 || options.heads <= 0 || options.patch_size <= 0 ||
      options.input_resolution <= 0 || options.embed_dim <= 0 || options.width % options.heads != 0 ||
      options.input_resolution % options.patch_size != 0) {
    throw Error("vision transformer: invalid options (width " + std::to_string(options.width) + ", layers " +
                std::to_string(options.layers) + ", heads " + std::to_string(options.heads) + ", patch " +
                std::to_string(options.patch_size) + ", resolution " + std::to_string(options.input_resolution) +
                ", embed_dim " + std::to_string(options.embed_dim) +
                "): all must be positive, heads must divide width and the patch the resolution");
  }
  const int64_t width = options.width;
  conv1_ = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, options.patch_size).stride(options.patch_size).bias(false)));
  class_embedding_ = register_parameter("class_embedding", torch::zeros({width}));
  positional_embedding_ =
      register_parameter("positional_embedding", torch::zeros({options.grid() * options.grid() + 1, width}));
  ln_pre_ = register_module("ln_pre", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)));
  // Registered as transformer.resblocks so parameter names are OpenAI's state-dict keys.
  auto transformer = register_module("transformer", std::make_shared<torch::nn::Module>());
  blocks_ = transformer->register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.layers; ++i) {
    blocks_->push_back(ResidualAttentionBlock(ResidualAttentionBlockOptions{width, options.heads}));
  }
  ln_post_ = register_module("ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)));
  proj_ = register_parameter("proj", torch::zeros({width, options.embed_dim}));
  for (auto& parameter : parameters()) parameter.requires_grad_(false);
}

torch::Tensor VisionTransformerImpl::embed(const torch::Tensor& images) {
  const int64_t n = images.size(0);
  const torch::Tensor patches = conv1_(images).flatten(2).transpose(1, 2);  // [n, grid^2, width]
  const torch::Tensor cls = class_embedding_.to(patches.scalar_type()).expand({n, 1, options_.width});
  const torch::Tensor x = torch::cat({cls, patches}, 1) + positional_embedding_.to(patches.scalar_type());
  return layer_norm_fp32(x, ln_pre_);
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = embed(images);
  // Image tokens attend to each other freely: an all-zero additive mask (the block's scores are
  // mask + q k^T / sqrt(d) in one baddbmm).
  const torch::Tensor no_mask = torch::zeros({x.size(1), x.size(1)}, x.options());
  for (const auto& block : *blocks_) x = block->as<ResidualAttentionBlockImpl>()->forward(x, no_mask);
  const torch::Tensor cls = layer_norm_fp32(x.select(1, 0), ln_post_);  // [n, width]
  return cls.matmul(proj_);
}

}  // namespace pg::worker
