#include "worker/clip/random_clip.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <string>
#include <vector>

namespace pg::worker {
namespace {

class RandomTensors {
 public:
  explicit RandomTensors(uint64_t seed) : generator_(at::detail::createCPUGenerator(seed)) {}
  torch::Tensor normal(const std::vector<int64_t>& shape, double std) {
    return torch::randn(shape, generator_, torch::kFloat32) * std;
  }

 private:
  at::Generator generator_;
};

// The residual attention blocks of a transformer of `width` and `layers` under `prefix`, initialised
// as CLIP's initialize_parameters does its text transformer: attention std width^-0.5, residual outputs
// scaled by (2 * layers)^-0.5, MLP input (2 * width)^-0.5; LayerNorm 1 and 0; biases 0.
void add_transformer(StateDict& state, RandomTensors& random, const std::string& prefix, int64_t w, int64_t layers) {
  const double attn_std = std::pow(static_cast<double>(w), -0.5);
  const double proj_std = attn_std * std::pow(2.0 * static_cast<double>(layers), -0.5);
  const double fc_std = std::pow(2.0 * static_cast<double>(w), -0.5);
  for (int64_t i = 0; i < layers; ++i) {
    const std::string block = prefix + std::to_string(i) + ".";
    state[block + "attn.in_proj_weight"] = random.normal({3 * w, w}, attn_std);
    state[block + "attn.in_proj_bias"] = torch::zeros({3 * w});
    state[block + "attn.out_proj.weight"] = random.normal({w, w}, proj_std);
    state[block + "attn.out_proj.bias"] = torch::zeros({w});
    state[block + "ln_1.weight"] = torch::ones({w});
    state[block + "ln_1.bias"] = torch::zeros({w});
    state[block + "mlp.c_fc.weight"] = random.normal({4 * w, w}, fc_std);
    state[block + "mlp.c_fc.bias"] = torch::zeros({4 * w});
    state[block + "mlp.c_proj.weight"] = random.normal({w, 4 * w}, proj_std);
    state[block + "mlp.c_proj.bias"] = torch::zeros({w});
    state[block + "ln_2.weight"] = torch::ones({w});
    state[block + "ln_2.bias"] = torch::zeros({w});
  }
}

void add_layer_norm(StateDict& state, const std::string& prefix, int64_t width) {
  state[prefix + "weight"] = torch::ones({width});
  state[prefix + "bias"] = torch::zeros({width});
}

// A bias-free convolution, He-initialised (std sqrt(2 / fan_in)) so activations keep their scale
// through ReLUs and identity BatchNorms.
torch::Tensor conv_weight(RandomTensors& random, int64_t in, int64_t out, int64_t kernel) {
  return random.normal({out, in, kernel, kernel}, std::sqrt(2.0 / static_cast<double>(in * kernel * kernel)));
}

// Eval-mode BatchNorm with running mean 0 and variance 1; CLIP zero-initialises the last BatchNorm of
// every Bottleneck (`zero_weight`), so that each residual branch starts at zero.
void add_batch_norm(StateDict& state, const std::string& prefix, int64_t channels, bool zero_weight = false) {
  state[prefix + "weight"] = zero_weight ? torch::zeros({channels}) : torch::ones({channels});
  state[prefix + "bias"] = torch::zeros({channels});
  state[prefix + "running_mean"] = torch::zeros({channels});
  state[prefix + "running_var"] = torch::ones({channels});
}

}  // namespace

StateDict random_clip_text_tower(const TextEncoderOptions& options, uint64_t seed) {
  RandomTensors random(seed);
  const int64_t w = options.width;
  // Token embedding 0.02, positional 0.01, text_projection width^-0.5.
  StateDict state;
  state["token_embedding.weight"] = random.normal({options.vocab_size, w}, 0.02);
  state["positional_embedding"] = random.normal({options.context_length, w}, 0.01);
  add_transformer(state, random, "transformer.resblocks.", w, options.layers);
  add_layer_norm(state, "ln_final.", w);
  state["text_projection"] = random.normal({w, options.embed_dim}, std::pow(static_cast<double>(w), -0.5));
  state["logit_scale"] = torch::full({}, std::log(100.0));
  return state;
}

StateDict random_clip_vit_tower(const VisionTransformerOptions& options, uint64_t seed) {
  RandomTensors random(seed);
  const int64_t w = options.width;
  const int64_t patch = options.patch_size;
  // As VisionTransformer's constructor: class and positional embeddings and proj with std width^-0.5;
  // the patch convolution with PyTorch's default scale (fan_in^-0.5).
  const double scale = std::pow(static_cast<double>(w), -0.5);
  StateDict state;
  state["visual.conv1.weight"] = random.normal({w, 3, patch, patch}, std::pow(3.0 * patch * patch, -0.5));
  state["visual.class_embedding"] = random.normal({w}, scale);
  state["visual.positional_embedding"] = random.normal({options.grid() * options.grid() + 1, w}, scale);
  add_layer_norm(state, "visual.ln_pre.", w);
  add_transformer(state, random, "visual.transformer.resblocks.", w, options.layers);
  add_layer_norm(state, "visual.ln_post.", w);
  state["visual.proj"] = random.normal({w, options.embed_dim}, scale);
  return state;
}

StateDict random_clip_resnet_tower(const ModifiedResNetOptions& options, uint64_t seed) {
  RandomTensors random(seed);
  const int64_t width = options.width;
  StateDict state;
  state["visual.conv1.weight"] = conv_weight(random, 3, width / 2, 3);
  add_batch_norm(state, "visual.bn1.", width / 2);
  state["visual.conv2.weight"] = conv_weight(random, width / 2, width / 2, 3);
  add_batch_norm(state, "visual.bn2.", width / 2);
  state["visual.conv3.weight"] = conv_weight(random, width / 2, width, 3);
  add_batch_norm(state, "visual.bn3.", width);
  int64_t inplanes = width;
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = width << i;
    for (int64_t b = 0; b < options.layers[i]; ++b) {
      const std::string block = "visual.layer" + std::to_string(i + 1) + "." + std::to_string(b) + ".";
      const int64_t stride = b == 0 && i > 0 ? 2 : 1;
      state[block + "conv1.weight"] = conv_weight(random, inplanes, planes, 1);
      add_batch_norm(state, block + "bn1.", planes);
      state[block + "conv2.weight"] = conv_weight(random, planes, planes, 3);
      add_batch_norm(state, block + "bn2.", planes);
      state[block + "conv3.weight"] = conv_weight(random, planes, 4 * planes, 1);
      add_batch_norm(state, block + "bn3.", 4 * planes, /*zero_weight=*/true);
      if (stride > 1 || inplanes != 4 * planes) {
        state[block + "downsample.0.weight"] = conv_weight(random, inplanes, 4 * planes, 1);
        add_batch_norm(state, block + "downsample.1.", 4 * planes);
      }
      inplanes = 4 * planes;
    }
  }
  // attnpool: positional embedding std embed^-0.5; q, k, v, c_proj std in_features^-0.5, biases 0.
  const int64_t embed = options.feature_width();
  const int64_t grid = options.output_resolution();
  const double std = std::pow(static_cast<double>(embed), -0.5);
  state["visual.attnpool.positional_embedding"] = random.normal({grid * grid + 1, embed}, std);
  for (const char* name : {"q_proj", "k_proj", "v_proj"}) {
    state["visual.attnpool." + std::string(name) + ".weight"] = random.normal({embed, embed}, std);
    state["visual.attnpool." + std::string(name) + ".bias"] = torch::zeros({embed});
  }
  state["visual.attnpool.c_proj.weight"] = random.normal({options.embed_dim, embed}, std);
  state["visual.attnpool.c_proj.bias"] = torch::zeros({options.embed_dim});
  return state;
}

}  // namespace pg::worker
