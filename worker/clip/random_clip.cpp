#include "worker/clip/random_clip.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace pg::worker {

StateDict random_clip_text_tower(const TextEncoderOptions& options, uint64_t seed) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  const int64_t w = options.width;
  // CLIP: attention and projection std width^-0.5; residual outputs scaled by (2 * layers)^-0.5; MLP
  // input (2 * width)^-0.5; token embedding 0.02, positional 0.01; LayerNorm 1 and 0; biases 0.
  const double attn_std = std::pow(static_cast<double>(w), -0.5);
  const double proj_std = attn_std * std::pow(2.0 * options.layers, -0.5);
  const double fc_std = std::pow(2.0 * w, -0.5);
  auto normal = [&](std::vector<int64_t> shape, double std) {
    return torch::randn(shape, generator, torch::kFloat32) * std;
  };
  StateDict state;
  state["token_embedding.weight"] = normal({options.vocab_size, w}, 0.02);
  state["positional_embedding"] = normal({options.context_length, w}, 0.01);
  for (int64_t i = 0; i < options.layers; ++i) {
    const std::string block = "transformer.resblocks." + std::to_string(i) + ".";
    state[block + "attn.in_proj_weight"] = normal({3 * w, w}, attn_std);
    state[block + "attn.in_proj_bias"] = torch::zeros({3 * w});
    state[block + "attn.out_proj.weight"] = normal({w, w}, proj_std);
    state[block + "attn.out_proj.bias"] = torch::zeros({w});
    state[block + "ln_1.weight"] = torch::ones({w});
    state[block + "ln_1.bias"] = torch::zeros({w});
    state[block + "mlp.c_fc.weight"] = normal({4 * w, w}, fc_std);
    state[block + "mlp.c_fc.bias"] = torch::zeros({4 * w});
    state[block + "mlp.c_proj.weight"] = normal({w, 4 * w}, proj_std);
    state[block + "mlp.c_proj.bias"] = torch::zeros({w});
    state[block + "ln_2.weight"] = torch::ones({w});
    state[block + "ln_2.bias"] = torch::zeros({w});
  }
  state["ln_final.weight"] = torch::ones({w});
  state["ln_final.bias"] = torch::zeros({w});
  state["text_projection"] = normal({w, options.embed_dim}, attn_std);
  state["logit_scale"] = torch::full({}, std::log(100.0));
  return state;
}

}  // namespace pg::worker
