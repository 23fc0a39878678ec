#include "worker/clip/text_encoder.h"

#include <cmath>
#include <set>
#include <vector>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

const std::string kBlockPrefix = "transformer.resblocks.";

std::vector<int64_t> shape_of(const torch::Tensor& tensor) { return tensor.sizes().vec(); }

// Keys of a CLIP checkpoint that are not the text tower's: the image tower under OpenAI's / open_clip's
// names (visual.*) or Hugging Face's (vision_model.*, visual_projection.*), and logit_scale (read apart).
bool belongs_elsewhere(const std::string& key) {
  return starts_with(key, "visual.") || starts_with(key, "vision_model.") || starts_with(key, "visual_projection.") ||
         key == "logit_scale";
}

// min and max of a 1-D integer tensor with one device synchronisation.
std::pair<int64_t, int64_t> min_max(const torch::Tensor& values) {
  const torch::Tensor bounds = torch::stack({values.min(), values.max()}).to(torch::kCPU);
  return {bounds[0].item<int64_t>(), bounds[1].item<int64_t>()};
}

}  // namespace

TextEncoderOptions TextEncoderOptions::infer_from(const StateDict& state_dict, const std::string& source) {
  std::vector<std::string> problems;
  auto matrix = [&](const std::string& key) -> const torch::Tensor* {
    const auto found = state_dict.find(key);
    if (found == state_dict.end()) {
      problems.push_back("missing " + key);
      return nullptr;
    }
    if (found->second.dim() != 2) {
      problems.push_back(key + " has shape " + format_shape(shape_of(found->second)) + ", expected a matrix");
      return nullptr;
    }
    return &found->second;
  };
  const torch::Tensor* token_embedding = matrix("token_embedding.weight");
  const torch::Tensor* positional_embedding = matrix("positional_embedding");
  const torch::Tensor* text_projection = matrix("text_projection");
  std::set<int64_t> layers;
  for (const auto& [key, tensor] : state_dict) {
    if (!starts_with(key, kBlockPrefix)) continue;
    const std::string index = key.substr(kBlockPrefix.size(), key.find('.', kBlockPrefix.size()) - kBlockPrefix.size());
    if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) continue;
    layers.insert(std::stoll(index));
  }
  if (layers.empty()) problems.push_back("missing transformer.resblocks.0.* (no transformer blocks)");
  if (!layers.empty() && *layers.rbegin() + 1 != static_cast<int64_t>(layers.size())) {
    problems.push_back("transformer blocks are not numbered 0.." + std::to_string(layers.size() - 1) + " (found " +
                       join(layers, ", ") + ")");
  }
  TextEncoderOptions options;
  if (token_embedding != nullptr) {
    options.vocab_size = token_embedding->size(0);
    options.width = token_embedding->size(1);
    options.heads = options.width / 64;
    if (options.heads == 0 || options.width % options.heads != 0) {
      problems.push_back("token_embedding.weight width " + std::to_string(options.width) +
                         " cannot be split into width/64 heads as CLIP does");
    }
  }
  if (positional_embedding != nullptr) options.context_length = positional_embedding->size(0);
  if (text_projection != nullptr) options.embed_dim = text_projection->size(1);
  options.layers = static_cast<int64_t>(layers.size());
  if (!problems.empty()) {
    throw Error(source + ": not a CLIP text tower: " + join(problems, "; ") +
                " (expected OpenAI, open_clip or Hugging Face CLIPModel key names)");
  }
  return options;
}

TextEncoderImpl::TextEncoderImpl(const TextEncoderOptions& options) : options_(options) {
  if (options.vocab_size <= 0 || options.context_length <= 0 || options.width <= 0 || options.heads <= 0 ||
      options.layers <= 0 || options.embed_dim <= 0 || options.width % options.heads != 0) {
    throw Error("text encoder: invalid options (vocab " + std::to_string(options.vocab_size) + ", context " +
                std::to_string(options.context_length) + ", width " + std::to_string(options.width) + ", heads " +
                std::to_string(options.heads) + ", layers " + std::to_string(options.layers) + ", embed_dim " +
                std::to_string(options.embed_dim) + "): all must be positive and heads must divide width");
  }
  token_embedding_ = register_module("token_embedding", torch::nn::Embedding(options.vocab_size, options.width));
  positional_embedding_ =
      register_parameter("positional_embedding", torch::zeros({options.context_length, options.width}));
  // Registered as transformer.resblocks so parameter names are OpenAI's state-dict keys.
  auto transformer = register_module("transformer", std::make_shared<torch::nn::Module>());
  blocks_ = transformer->register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.layers; ++i) {
    blocks_->push_back(ResidualAttentionBlock(ResidualAttentionBlockOptions{options.width, options.heads}));
  }
  ln_final_ = register_module("ln_final", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.width}).eps(1e-5)));
  text_projection_ = register_parameter("text_projection", torch::zeros({options.width, options.embed_dim}));
  // CLIP stays frozen: prompt learning only backpropagates to its input.
  for (auto& parameter : parameters()) parameter.requires_grad_(false);
}

torch::Tensor TextEncoderImpl::embed(const torch::Tensor& ids) {
  if (ids.dim() != 2 || !c10::isIntegralType(ids.scalar_type(), /*includeBool=*/false)) {
    throw Error("text encoder: token ids must be an integer matrix [n, L], got " + format_shape(shape_of(ids)) +
                " of " + std::string(c10::toString(ids.scalar_type())));
  }
  if (ids.numel() > 0) {
    const auto [low, high] = min_max(ids.flatten());
    if (low < 0 || high >= options_.vocab_size) {
      throw Error("text encoder: token id " + std::to_string(low < 0 ? low : high) + " is outside the vocabulary of " +
                  std::to_string(options_.vocab_size) + " (tokenizer and checkpoint do not match)");
    }
  }
  return token_embedding_(ids.to(torch::kInt64));
}

const torch::Tensor& TextEncoderImpl::causal_mask_for(int64_t length, const torch::TensorOptions& options) {
  const auto key = std::make_tuple(length, options.device().str(), static_cast<int>(options.dtype().toScalarType()));
  auto found = causal_masks_.find(key);
  if (found == causal_masks_.end()) found = causal_masks_.emplace(key, causal_mask(length, options)).first;
  return found->second;
}

std::pair<int64_t, int64_t> TextEncoderImpl::eot_bounds(const torch::Tensor& eot_index) {
  if (!last_eot_index_.defined() || !last_eot_index_.is_same(eot_index) ||
      last_eot_index_._version() != last_eot_version_) {
    last_eot_bounds_ = min_max(eot_index);
    last_eot_index_ = eot_index;
    last_eot_version_ = eot_index._version();
  }
  return last_eot_bounds_;
}

torch::Tensor TextEncoderImpl::forward(const torch::Tensor& prompts, const torch::Tensor& eot_index) {
  if (prompts.dim() != 3 || prompts.size(1) == 0 || prompts.size(1) > options_.context_length ||
      prompts.size(2) != options_.width) {
    throw Error("text encoder: prompts have shape " + format_shape(shape_of(prompts)) + ", expected [n, L, " +
                std::to_string(options_.width) + "] with 1 <= L <= " + std::to_string(options_.context_length));
  }
  const int64_t n = prompts.size(0);
  if (eot_index.dim() != 1 || eot_index.size(0) != n) {
    throw Error("text encoder: eot_index has shape " + format_shape(shape_of(eot_index)) + ", expected [" +
                std::to_string(n) + "] (one EOT position per prompt)");
  }
  const auto dtype = positional_embedding_.scalar_type();
  if (n == 0) return torch::zeros({0, options_.embed_dim}, prompts.options().dtype(dtype));
  const torch::Tensor eot = eot_index.to(prompts.device(), torch::kInt64);
  const auto [first_eot, last_eot] = eot_bounds(eot);
  if (first_eot < 0 || last_eot >= prompts.size(1)) {
    throw Error("text encoder: eot_index " + std::to_string(first_eot < 0 ? first_eot : last_eot) +
                " is outside the prompts' " + std::to_string(prompts.size(1)) + " positions");
  }
  // Causal mask: positions after the last EOT cannot influence any EOT row, so they can be dropped.
  const int64_t length = options_.truncate_after_eot ? last_eot + 1 : prompts.size(1);
  torch::Tensor x = prompts.narrow(1, 0, length).to(dtype) + positional_embedding_.narrow(0, 0, length);
  const torch::Tensor& mask = causal_mask_for(length, x.options());
  for (const auto& block : *blocks_) x = block->as<ResidualAttentionBlockImpl>()->forward(x, mask);
  x = layer_norm_fp32(x, ln_final_);
  const torch::Tensor pooled = x.index({torch::arange(n, eot.options()), eot});  // [n, width]
  return pooled.matmul(text_projection_);
}

torch::Tensor TextEncoderImpl::forward_shared_prefix(const torch::Tensor& prefixes, const torch::Tensor& suffixes,
                                                     const torch::Tensor& eot_index) {
  const int64_t width = options_.width;
  const bool shapes_fit = prefixes.dim() == 3 && suffixes.dim() == 3 && prefixes.size(1) >= 1 &&
                          suffixes.size(1) >= 1 && prefixes.size(2) == width && suffixes.size(2) == width &&
                          prefixes.size(1) + suffixes.size(1) <= options_.context_length;
  if (!shapes_fit) {
    throw Error("text encoder: shared prefixes " + format_shape(shape_of(prefixes)) + " and suffixes " +
                format_shape(shape_of(suffixes)) + " do not fit: expected [G, P, " + std::to_string(width) + "] and [n, S, " +
                std::to_string(width) + "] with P, S >= 1 and P + S <= " + std::to_string(options_.context_length));
  }
  const int64_t groups = prefixes.size(0);
  const int64_t n = suffixes.size(0);
  const int64_t prefix_length = prefixes.size(1);
  if (eot_index.dim() != 1 || eot_index.size(0) != n) {
    throw Error("text encoder: eot_index has shape " + format_shape(shape_of(eot_index)) + ", expected [" +
                std::to_string(n) + "] (one EOT position per suffix)");
  }
  const auto dtype = positional_embedding_.scalar_type();
  if (groups == 0 || n == 0) return torch::zeros({groups, n, options_.embed_dim}, prefixes.options().dtype(dtype));
  const torch::Tensor eot = eot_index.to(prefixes.device(), torch::kInt64);
  const auto [first_eot, last_eot] = eot_bounds(eot);
  if (first_eot < prefix_length || last_eot >= prefix_length + suffixes.size(1)) {
    throw Error("text encoder: eot_index " + std::to_string(first_eot < prefix_length ? first_eot : last_eot) +
                " is outside the suffixes' positions " + std::to_string(prefix_length) + ".." +
                std::to_string(prefix_length + suffixes.size(1) - 1));
  }
  const int64_t length = options_.truncate_after_eot ? last_eot + 1 : prefix_length + suffixes.size(1);
  const int64_t suffix_length = length - prefix_length;
  SharedPrefixStates x;
  x.prefix = prefixes.to(dtype) + positional_embedding_.narrow(0, 0, prefix_length);
  x.suffix = (suffixes.narrow(1, 0, suffix_length).to(dtype) + positional_embedding_.narrow(0, prefix_length, suffix_length))
                 .unsqueeze(0)
                 .expand({groups, n, suffix_length, width});
  const torch::Tensor& prefix_mask = causal_mask_for(prefix_length, x.prefix.options());
  const torch::Tensor& suffix_mask = causal_mask_for(suffix_length, x.prefix.options());
  const int64_t layers = static_cast<int64_t>(blocks_->size());
  for (int64_t i = 0; i + 1 < layers; ++i) {
    x = blocks_->ptr(i)->as<ResidualAttentionBlockImpl>()->forward(x, prefix_mask, suffix_mask);
  }
  const torch::Tensor eot_rows =
      blocks_->ptr(layers - 1)->as<ResidualAttentionBlockImpl>()->forward_rows(x, suffix_mask, eot - prefix_length);
  return layer_norm_fp32(eot_rows, ln_final_).matmul(text_projection_);  // [G, n, embed_dim]
}

torch::Tensor TextEncoderImpl::encode_ids(const torch::Tensor& ids) {
  const torch::Tensor embeddings = embed(ids);
  return forward(embeddings, ids.argmax(-1));
}

void TextEncoderImpl::load(const StateDict& state_dict, const std::string& source) {
  std::vector<std::string> missing;
  std::vector<std::string> misshaped;
  std::vector<std::string> unexpected;
  const auto parameters = named_parameters(/*recurse=*/true);
  for (const auto& item : parameters) {
    const auto found = state_dict.find(item.key());
    if (found == state_dict.end()) {
      missing.push_back(item.key());
    } else if (!found->second.sizes().equals(item.value().sizes())) {
      misshaped.push_back(item.key() + " is " + format_shape(shape_of(found->second)) + ", expected " +
                          format_shape(shape_of(item.value())));
    }
  }
  for (const auto& [key, tensor] : state_dict) {
    if (!belongs_elsewhere(key) && parameters.find(key) == nullptr) unexpected.push_back(key);
  }
  const auto logit_scale = state_dict.find("logit_scale");
  if (logit_scale == state_dict.end()) {
    missing.push_back("logit_scale");
  } else if (logit_scale->second.numel() != 1) {
    misshaped.push_back("logit_scale is " + format_shape(shape_of(logit_scale->second)) + ", expected a scalar");
  }
  if (!missing.empty() || !misshaped.empty() || !unexpected.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back("missing keys: " + join(missing, ", "));
    if (!unexpected.empty()) parts.push_back("unexpected keys: " + join(unexpected, ", "));
    if (!misshaped.empty()) parts.push_back("misshaped keys: " + join(misshaped, "; "));
    throw Error(source + ": does not match a CLIP text encoder of width " + std::to_string(options_.width) + ", " +
                std::to_string(options_.layers) + " layers, context " + std::to_string(options_.context_length) +
                ", embed_dim " + std::to_string(options_.embed_dim) + ": " + join(parts, "; ") +
                " (is it a CLIP checkpoint with OpenAI, open_clip or Hugging Face key names?)");
  }
  // A NaN or infinity in a weight would turn every feature into NaN and every accuracy into chance,
  // silently: refuse the checkpoint instead, naming the tensors. (Only the weights used are checked:
  // TorchScript archives also hold attention masks, which are -inf by design.)
  std::vector<std::string> non_finite;
  for (const auto& item : parameters) {
    const torch::Tensor& weight = state_dict.at(item.key());
    if (!torch::isfinite(weight).all().item<bool>()) {
      const int64_t bad = weight.numel() - torch::isfinite(weight).sum().item<int64_t>();
      non_finite.push_back(item.key() + " (" + std::to_string(bad) + " of " + std::to_string(weight.numel()) + ")");
    }
  }
  const double scale = std::exp(logit_scale->second.item<double>());
  if (!std::isfinite(logit_scale->second.item<double>())) non_finite.push_back("logit_scale");
  if (!non_finite.empty()) {
    throw Error(source + ": weights hold NaN or infinite values: " + join(non_finite, ", ") +
                "; the checkpoint is corrupt (download or convert it again)");
  }
  if (!std::isfinite(scale)) throw Error(source + ": logit_scale " + format_number(logit_scale->second.item<double>()) +
                                         " overflows exp(); the checkpoint is corrupt");
  torch::NoGradGuard no_grad;
  for (auto& item : parameters) item.value().copy_(state_dict.at(item.key()));
  logit_scale_ = scale;
}

TextEncoder load_text_encoder(const std::string& checkpoint_path) {
  const StateDict state_dict = load_state_dict(checkpoint_path);
  TextEncoder encoder(TextEncoderOptions::infer_from(state_dict, checkpoint_path));
  encoder->load(state_dict, checkpoint_path);
  encoder->eval();
  return encoder;
}

void TextEncoderImpl::to_precision(torch::Device device, torch::Dtype dtype) {
  to(device, dtype);
  for (auto& module : modules()) {
    if (auto* norm = module->as<torch::nn::LayerNorm>()) norm->to(torch::kFloat32);
  }
}

}  // namespace pg::worker
