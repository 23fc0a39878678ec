// Class-sharded CoOp (DESIGN §4): one run split across the k ranks of a group, for class counts whose
// text-encoder pass is the step's whole cost (ImageNet's 1000 prompts). Rank r encodes only its block
// of the classes' prompts; the text features are all-gathered, so every rank computes the same logits
// and loss over all classes; each rank backpropagates the loss to its own prompts, and the context
// gradients are all-reduced (summed), giving every rank the single-rank gradient. Every rank then
// takes the same SGD step from the same state: the contexts stay identical without being sent.
//
// Every rank runs train_prompt with the same data, options and seed (same batches); the learner of
// each rank is built over its shard of the class names (class_shard) with the same seed, so the
// generic context starts identical. A class-specific context is refused: its rows are per class.
#pragma once

#include <torch/torch.h>

#include "worker/clip/text_encoder.h"
#include "worker/collectives/collectives.h"
#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/prompt_training.h"

namespace pg::worker {

// The block of classes rank `rank` of `size` encodes: contiguous, the first (classes % size) ranks one
// more. Fewer classes than ranks is a pg::Error (a rank would hold none).
struct ClassShard {
  int64_t begin = 0;
  int64_t count = 0;
};
ClassShard class_shard(int64_t classes, int rank, int size);

class ShardedCoOpObjective : public TrainingObjective {
 public:
  // `shard_learner` holds this rank's classes (class_shard(num_classes, group.rank(), group.size()));
  // it and the encoder are placed on `device` as CoOpObjective places them.
  ShardedCoOpObjective(CoOpPromptLearner shard_learner, TextEncoder encoder, int64_t num_classes,
                       Collectives& group, torch::Device device, torch::Dtype dtype);

  std::vector<torch::Tensor> parameters() override { return learner_->parameters(); }
  // Not available (a pg::Error): no rank's graph reaches every class. Training calls backward_loss.
  torch::Tensor loss(const torch::Tensor& image_features, const torch::Tensor& labels) override;
  torch::Tensor backward_loss(const torch::Tensor& image_features, const torch::Tensor& labels) override;
  int64_t num_classes() const override { return num_classes_; }
  int64_t embed_dim() const override { return encoder_->options().embed_dim; }

  // Text features [num_classes, E] float32 of every class, gathered; without autograd.
  torch::Tensor text_features();

 private:
  // This rank's text features [count, E] float32, with autograd to the context.
  torch::Tensor shard_features();

  CoOpPromptLearner learner_;
  TextEncoder encoder_;
  int64_t num_classes_;
  Collectives& group_;
  ClassShard shard_;
  torch::Dtype dtype_;
};

}  // namespace pg::worker
