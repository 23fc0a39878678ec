#include "worker/methods/coop/coop_trainer.h"

#include "worker/module_placement.h"

namespace pg::worker {

CoOpObjective::CoOpObjective(CoOpPromptLearner learner, TextEncoder encoder, torch::Device device, torch::Dtype dtype,
                             bool half_parameters)
    : learner_(std::move(learner)), encoder_(std::move(encoder)), dtype_(dtype), half_parameters_(half_parameters) {
  learner_->to(device);
  if (half_parameters_) learner_->to_dtype(dtype);
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
  const torch::Tensor features = prompt_features(learner_, encoder_, dtype_);
  return half_parameters_ ? features : features.to(torch::kFloat32);
}

torch::Tensor CoOpObjective::logits(const torch::Tensor& image_features) {
  if (!half_parameters_) return clip_logits(image_features, text_features(), encoder_->logit_scale());
  // The reference's fp16: image features, logit scale and logits all in the half dtype.
  const double scale = torch::scalar_tensor(encoder_->logit_scale(), torch::kFloat64).to(dtype_).item<double>();
  return clip_logits(image_features.to(dtype_), text_features(), scale);
}

torch::Tensor CoOpObjective::loss(const torch::Tensor& image_features, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits(image_features), labels);
}

CoOpTrainStep::CoOpTrainStep(CoOpPromptLearner learner, TextEncoder encoder, const TrainOptions& options)
    : objective_(std::move(learner), std::move(encoder), options.device, options.dtype, options.half_parameters),
      sgd_(objective_, options) {}

TrainReport train_coop(CoOpPromptLearner& learner, TextEncoder& encoder, const TrainingData& data,
                       const TrainOptions& options) {
  CoOpObjective objective(learner, encoder, options.device, options.dtype, options.half_parameters);
  return train_prompt(objective, data, options);
}

torch::Tensor coop_text_features(CoOpPromptLearner& learner, TextEncoder& encoder) {
  torch::NoGradGuard no_grad;
  return prompt_features(learner, encoder, module_dtype(*encoder)).to(torch::kFloat32);
}

}  // namespace pg::worker
