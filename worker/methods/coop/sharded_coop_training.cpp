#include "worker/methods/coop/sharded_coop_training.h"

#include "common/error.h"
#include "worker/methods/coop/coop_trainer.h"

namespace pg::worker {

ClassShard class_shard(int64_t classes, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size) {
    throw Error("class shard: rank " + std::to_string(rank) + " of " + std::to_string(size));
  }
  // Every rank computes this alike, so all of them refuse together, before any collective.
  if (classes < size) {
    throw Error("a class-sharded run of " + std::to_string(classes) + " classes over " + std::to_string(size) +
                " ranks leaves a rank without classes; use at most " + std::to_string(classes) + " ranks");
  }
  const int64_t base = classes / size;
  const int64_t extra = classes % size;
  ClassShard shard;
  shard.count = base + (rank < extra ? 1 : 0);
  shard.begin = rank * base + std::min<int64_t>(rank, extra);
  return shard;
}

ShardedCoOpObjective::ShardedCoOpObjective(CoOpPromptLearner shard_learner, TextEncoder encoder, int64_t num_classes,
                                           Collectives& group, torch::Device device, torch::Dtype dtype)
    : learner_(std::move(shard_learner)),
      encoder_(std::move(encoder)),
      num_classes_(num_classes),
      group_(group),
      shard_(class_shard(num_classes, group.rank(), group.size())),
      dtype_(dtype) {
  if (learner_->options().class_specific) {
    throw Error("a class-sharded CoOp run needs a context shared by all classes; a class-specific context (CSC) "
                "runs on one rank");
  }
  if (learner_->num_classes() != shard_.count) {
    throw Error("class-sharded CoOp: rank " + std::to_string(group.rank()) + " of " + std::to_string(group.size()) +
                " holds " + std::to_string(learner_->num_classes()) + " classes, its shard of " +
                std::to_string(num_classes) + " is " + std::to_string(shard_.count));
  }
  learner_->to(device);
  encoder_->to_precision(device, dtype);
  encoder_->eval();
}

torch::Tensor ShardedCoOpObjective::shard_features() {
  return prompt_features(learner_, encoder_, dtype_).to(torch::kFloat32);
}

torch::Tensor ShardedCoOpObjective::text_features() {
  torch::NoGradGuard no_grad;
  return group_.all_gather(shard_features());
}

torch::Tensor ShardedCoOpObjective::loss(const torch::Tensor&, const torch::Tensor&) {
  throw Error("a class-sharded objective has no loss with autograd on one rank; train with backward_loss",
              ErrorKind::internal);
}

torch::Tensor ShardedCoOpObjective::backward_loss(const torch::Tensor& image_features, const torch::Tensor& labels) {
  const torch::Tensor local = shard_features();
  // Every rank holds the same gathered features and computes the same loss; the gradient reaching this
  // rank's rows of them is its own classes' share.
  const torch::Tensor gathered = group_.all_gather(local.detach()).requires_grad_(true);
  const torch::Tensor value =
      torch::nn::functional::cross_entropy(clip_logits(image_features, gathered, encoder_->logit_scale()), labels);
  value.backward();
  local.backward(gathered.grad().narrow(0, shard_.begin, shard_.count));
  for (auto& parameter : parameters()) {
    if (!parameter.grad().defined()) parameter.mutable_grad() = torch::zeros_like(parameter);
    group_.all_reduce_sum(parameter.mutable_grad());
  }
  return value.detach();
}

}  // namespace pg::worker
