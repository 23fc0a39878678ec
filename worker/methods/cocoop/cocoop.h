// CoCoOp (Zhou et al., "Conditional Prompt Learning for Vision-Language Models", CVPR 2022; DESIGN §1):
// CoOp's generic context plus a Meta-Net, Linear(D, D/16) -> ReLU -> Linear(D/16, W), whose output for
// the normalized image feature is added to every context vector: each image gets its own prompts and
// so its own classifier. Defaults (method settings) are the reference's: n_ctx 4 from "a photo of a",
// batch 1, 10 epochs, lr 0.002.
//
// Not the reference's per-image loop: a batch of B images becomes B x n_cls prompt sequences through
// the text encoder in passes of at most `max_sequences` sequences (whole images per pass), for
// training (each pass backpropagated on its own, the gradients summing to the batch's) and for
// evaluation (no autograd).
#pragma once

#include <torch/torch.h>

#include <memory>

#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/methods/method.h"

namespace pg::worker {

// The Meta-Net: linear1 [D/16, D] + bias, ReLU, linear2 [W, D/16] + bias; float32.
class MetaNetImpl : public torch::nn::Module {
 public:
  // Weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (torch.nn.Linear's default init), drawn from a
  // generator seeded with `seed`. D < 16 is a pg::Error (no hidden unit).
  MetaNetImpl(int64_t embed_dim, int64_t width, uint64_t seed);
  // [B, D] -> [B, W]
  torch::Tensor forward(const torch::Tensor& image_features);
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
};
TORCH_MODULE(MetaNet);

// Per-image prompts and their logits.
class CoCoOpModel {
 public:
  // `prompts` builds the class prompts (its context is CoCoOp's ctx); the encoder runs in `dtype`.
  // Moves the prompts, Meta-Net and encoder to `device` in place.
  CoCoOpModel(CoOpPromptLearner prompts, MetaNet meta_net, TextEncoder encoder, torch::Device device,
              torch::Dtype dtype, int64_t max_sequences);
  // image_features [B, D] (not normalized) -> logits [B, n_cls] float32 = logit_scale *
  // normalize(image) @ normalize(text_b).T, with autograd when grad mode is on. All B x n_cls sequences
  // in one pass: callers chunk (images_per_pass).
  torch::Tensor logits(const torch::Tensor& image_features);
  // Images per text-encoder pass: max(1, max_sequences / n_cls).
  int64_t images_per_pass() const;
  // The per-image shift meta_net(normalize(image)) [B, W] and the prompts [B, n_cls, L, W] (float32,
  // without positional embedding) of a batch: what the golden tests check.
  torch::Tensor shift(const torch::Tensor& image_features);
  torch::Tensor prompts(const torch::Tensor& image_features);

  CoOpPromptLearner& prompt_learner() { return prompts_; }
  MetaNet& meta_net() { return meta_net_; }
  TextEncoder& encoder() { return encoder_; }

 private:
  CoOpPromptLearner prompts_;
  MetaNet meta_net_;
  TextEncoder encoder_;
  torch::Dtype dtype_;
  int64_t max_sequences_;
};

// CoCoOp's training objective: mean cross-entropy of the batch, backpropagated a pass at a time.
class CoCoOpObjective : public TrainingObjective {
 public:
  explicit CoCoOpObjective(CoCoOpModel& model) : model_(model) {}
  // ctx, then the Meta-Net's linear1.weight, linear1.bias, linear2.weight, linear2.bias.
  std::vector<torch::Tensor> parameters() override;
  torch::Tensor loss(const torch::Tensor& image_features, const torch::Tensor& labels) override;
  torch::Tensor backward_loss(const torch::Tensor& image_features, const torch::Tensor& labels) override;
  int64_t num_classes() const override { return model_.prompt_learner()->num_classes(); }
  int64_t embed_dim() const override { return model_.encoder()->options().embed_dim; }

 private:
  CoCoOpModel& model_;
};

std::unique_ptr<TrainedMethod> run_cocoop(const MethodTask& task, MethodEnvironment& environment);

}  // namespace pg::worker
