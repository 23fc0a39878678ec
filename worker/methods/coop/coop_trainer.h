// CoOp's objective (DESIGN §1): cross-entropy on logit_scale * cos(image, text) computed in float32,
// where the text features come from the prompt learner's prompts through the frozen text encoder. The
// loop itself is prompt_training.h; KgCoOp builds on this objective (kgcoop/).
//
// Placement: CoOpObjective moves the learner (float32) and the text encoder (dtype) to the device IN
// PLACE, so they stay there afterwards: evaluate with the same encoder precision. Under half/bfloat16
// the context stays a float32 master copy, cast to the encoder's dtype per forward (the encoder computes
// LayerNorm in float32).
#pragma once

#include <torch/torch.h>

#include "worker/clip/text_encoder.h"
#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/prompt_training.h"

namespace pg::worker {

class CoOpObjective : public TrainingObjective {
 public:
  // half_parameters: the learner itself in `dtype`, and text features and logits in `dtype` too
  // (TrainOptions::half_parameters, the reference's fp16).
  CoOpObjective(CoOpPromptLearner learner, TextEncoder encoder, torch::Device device, torch::Dtype dtype,
                bool half_parameters = false);

  std::vector<torch::Tensor> parameters() override { return learner_->parameters(); }
  // Text features [n_cls, E] float32 (not normalized; in dtype with half_parameters) of the current
  // prompts, with autograd to ctx.
  torch::Tensor text_features();
  // image_features [B, E] float32 on the device -> logits [B, n_cls] float32 (in dtype with
  // half_parameters), with autograd to ctx.
  torch::Tensor logits(const torch::Tensor& image_features);
  torch::Tensor loss(const torch::Tensor& image_features, const torch::Tensor& labels) override;
  int64_t num_classes() const override { return learner_->num_classes(); }
  int64_t embed_dim() const override { return encoder_->options().embed_dim; }
  // Fixed shapes per batch size, no host reads inside the step (the encoder caches its EOT bounds).
  bool capturable() const override { return true; }

  CoOpPromptLearner& learner() { return learner_; }
  TextEncoder& encoder() { return encoder_; }

 private:
  CoOpPromptLearner learner_;
  TextEncoder encoder_;
  torch::Dtype dtype_;
  bool half_parameters_;
};

// One CoOp optimisation step and its SGD state: what train_coop runs per batch, exposed so the
// benchmark times exactly this and golden tests check exactly this.
class CoOpTrainStep {
 public:
  // Moves learner and encoder as described at the top; the optimizer starts at options.lr.
  CoOpTrainStep(CoOpPromptLearner learner, TextEncoder encoder, const TrainOptions& options);
  torch::Tensor logits(const torch::Tensor& image_features) { return objective_.logits(image_features); }
  // zero_grad, forward, mean cross-entropy, backward, SGD step; see SgdStep::step.
  torch::Tensor step(const torch::Tensor& image_features, const torch::Tensor& labels) {
    return sgd_.step(image_features, labels);
  }
  void set_lr(double lr) { sgd_.set_lr(lr); }
  // Whether the steps replay a recorded CUDA graph (TrainOptions::cuda_graph).
  bool graphed() const { return sgd_.graphed(); }
  // SGD momentum buffer of the context, shape of the context; undefined before the first step.
  torch::Tensor momentum_buffer() const { return sgd_.momentum_buffers().at(0); }

 private:
  CoOpObjective objective_;
  SgdStep sgd_;
};

// Trains `learner` in place with CoOp's objective (see train_prompt for the errors).
TrainReport train_coop(CoOpPromptLearner& learner, TextEncoder& encoder, const TrainingData& data,
                       const TrainOptions& options);

// Text features [n_cls, E] of the learner's prompts in `dtype`, with autograd to the context (the
// float32 master cast per call); through the shared prefix when every prompt begins alike.
torch::Tensor prompt_features(CoOpPromptLearner& learner, TextEncoder& encoder, torch::Dtype dtype);

// The learned classifier: text features [n_cls, E] float32 (not normalized) of the learner's prompts,
// without autograd, in the encoder's dtype and on its device (the learner must be on that device).
torch::Tensor coop_text_features(CoOpPromptLearner& learner, TextEncoder& encoder);

}  // namespace pg::worker
