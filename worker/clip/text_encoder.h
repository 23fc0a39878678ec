// CLIP's text tower as a LibTorch module (DESIGN §1), for RN50 and ViT-B/16 checkpoints alike:
// token embedding, positional embedding, pre-LN residual blocks (packed q,k,v attention, QuickGELU MLP)
// under a causal mask, ln_final, the EOT row @ text_projection. LayerNorm is computed in float32
// whatever the module's dtype, as the reference does.
//
// Prompt learners call forward() with their own token embeddings (context vectors spliced in), so the
// module takes embeddings, not ids. Because the mask is causal, rows after the last EOT cannot change
// the EOT feature: with truncate_after_eot the encoder drops them (same features, ~3x fewer tokens).
// For the same reason, rows that begin many prompts alike (SOT and a shared context) have the same
// hidden states in all of them: forward_shared_prefix computes them once (residual_attention_block.h).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <tuple>

#include "worker/clip/residual_attention_block.h"
#include "worker/clip/state_dict.h"

namespace pg::worker {

struct TextEncoderOptions {
  int64_t vocab_size = 49408;
  int64_t context_length = 77;
  int64_t width = 512;
  int64_t heads = 8;
  int64_t layers = 12;
  int64_t embed_dim = 512;  // text_projection columns: 512 for ViT-B/16, 1024 for RN50
  bool truncate_after_eot = true;

  // From tensor shapes, as CLIP's build_model does (heads = width / 64). Errors list what is missing,
  // prefixed with `source` (the file name).
  static TextEncoderOptions infer_from(const StateDict& state_dict, const std::string& source = "state dict");
};

class TextEncoderImpl : public torch::nn::Module {
 public:
  explicit TextEncoderImpl(const TextEncoderOptions& options);

  // ids [n, L] int64 -> token embeddings [n, L, width] (no positional embedding).
  torch::Tensor embed(const torch::Tensor& ids);
  // prompts [n, L, width] (token embeddings, no positional), eot_index [n] int64 -> features
  // [n, embed_dim], not normalized. L <= context_length.
  torch::Tensor forward(const torch::Tensor& prompts, const torch::Tensor& eot_index);
  // The features of the G x n prompts cat(prefixes[g], suffixes[c]) without repeating the shared rows:
  // prefixes [G, P, width] and suffixes [n, S, width] (token embeddings, no positional), eot_index [n]
  // int64, each prompt's EOT position counted from the prompt's start (P <= eot < P + S) -> features
  // [G, n, embed_dim], not normalized. The same features forward() gives for the whole prompts (to
  // rounding); the last block runs only the EOT rows.
  torch::Tensor forward_shared_prefix(const torch::Tensor& prefixes, const torch::Tensor& suffixes,
                                      const torch::Tensor& eot_index);
  // ids [n, L] zero-padded token ids -> features [n, embed_dim]; the EOT is the argmax of each row.
  torch::Tensor encode_ids(const torch::Tensor& ids);

  // Copies the text-tower tensors of a CLIP state dict (OpenAI key names) and reads logit_scale (a
  // required scalar); the image tower's keys (visual.*, and Hugging Face's vision_model.* and
  // visual_projection.*) are ignored. Missing, unexpected and misshaped keys are one pg::Error listing
  // them all, prefixed with `source` (the file name).
  void load(const StateDict& state_dict, const std::string& source);

  const TextEncoderOptions& options() const { return options_; }
  // exp(logit_scale) from the checkpoint (100 for OpenAI's models).
  double logit_scale() const { return logit_scale_; }

  // Moves the encoder and sets its compute dtype, keeping the LayerNorm parameters in float32 as the
  // reference keeps them under half precision (CLIP's convert_weights leaves LayerNorm alone).
  void to_precision(torch::Device device, torch::Dtype dtype);

  // The transformer's ResidualAttentionBlocks and the final LayerNorm (apply with layer_norm_fp32),
  // for checking intermediate activations.
  const torch::nn::ModuleList& blocks() const { return blocks_; }
  const torch::nn::LayerNorm& ln_final() const { return ln_final_; }

 private:
  // One mask per (length, device, dtype), built on first use: training calls forward thousands of
  // times with the same few shapes.
  const torch::Tensor& causal_mask_for(int64_t length, const torch::TensorOptions& options);
  // min and max of eot_index. Reading them is a device synchronisation, so the bounds of the last
  // tensor seen are kept: a prompt learner passes the same eot_index buffer every training step.
  std::pair<int64_t, int64_t> eot_bounds(const torch::Tensor& eot_index);

  TextEncoderOptions options_;
  double logit_scale_ = 100.0;
  torch::nn::Embedding token_embedding_{nullptr};
  torch::Tensor positional_embedding_;  // [context_length, width]
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm ln_final_{nullptr};
  torch::Tensor text_projection_;  // [width, embed_dim]
  std::map<std::tuple<int64_t, std::string, int>, torch::Tensor> causal_masks_;
  // Held (not just its address) so that a new tensor can never be mistaken for it; an in-place change
  // bumps its version and forces a new read.
  torch::Tensor last_eot_index_;
  uint32_t last_eot_version_ = 0;
  std::pair<int64_t, int64_t> last_eot_bounds_;
};
TORCH_MODULE(TextEncoder);

// Loads the text tower of a CLIP checkpoint file (TorchScript archive or safetensors), frozen
// (requires_grad false), in eval mode, float32 on the CPU.
TextEncoder load_text_encoder(const std::string& checkpoint_path);

}  // namespace pg::worker
