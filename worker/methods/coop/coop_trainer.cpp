#include "worker/methods/coop/coop_trainer.h"

#include "worker/module_placement.h"

namespace pg::worker {

CoOpObjective::CoOpObjective(CoOpPromptLearner learner, TextEncoder encoder, torch::Device device, torch::Dtype dtype)
    : learner_(std::move(learner)), encoder_(std::move(encoder)), dtype_(dtype) {
  learner_->to(device);
  encoder_->to_precision(device, dtype);
  encoder_->eval();
}

torch::Tensor prompt_features(CoOpPromptLearner& learner, TextEncoder& encoder, torch::Dtype dtype) {
  if (learner->shares_prefix()) {
    return encoder->forward_shared_prefix(learner->shared_prefixes().to(dtype), learner->suffixes().to(dtype),
                                          learner->eot_index())[0];
  }
  return encoder->forward(learner->forward().to(dtype), learner->eot_index());
}

torch::Tensor CoOpObjective::text_features() {
  return prompt_features(learner_, encoder_, dtype_).to(torch::kFloat32);
}

torch::Tensor CoOpObjective::logits(const torch::Tensor& image_features) {
  return clip_logits(image_features, text_features(), encoder_->logit_scale());
}

torch::Tensor CoOpObjective::loss(const torch::Tensor& image_features, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits(image_features), labels);
}

CoOpTrainStep::CoOpTrainStep(CoOpPromptLearner learner, TextEncoder encoder, const TrainOptions& options)
    : objective_(std::move(learner), std::move(encoder), options.device, options.dtype), sgd_(objective_, options) {}

TrainReport train_coop(CoOpPromptLearner& learner, TextEncoder& encoder, const TrainingData& data,
                       const TrainOptions& options) {
  CoOpObjective objective(learner, encoder, options.device, options.dtype);
  return train_prompt(objective, data, options);
}

torch::Tensor coop_text_features(CoOpPromptLearner& learner, TextEncoder& encoder) {
  torch::NoGradGuard no_grad;
  return prompt_features(learner, encoder, module_dtype(*encoder)).to(torch::kFloat32);
}

}  // namespace pg::worker
