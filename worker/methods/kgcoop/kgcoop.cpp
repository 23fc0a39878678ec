#include "worker/methods/kgcoop/kgcoop.h"

#include "worker/methods/coop/coop_method.h"
#include "worker/methods/zeroshot/zeroshot.h"

namespace pg::worker {
namespace {

torch::Tensor normalized(const torch::Tensor& x) { return x / x.norm(2, {-1}, true); }

}  // namespace

KgCoOpObjective::KgCoOpObjective(CoOpPromptLearner learner, TextEncoder encoder, const torch::Tensor& clip_text_features,
                                 double w, torch::Device device, torch::Dtype dtype)
    : coop_(std::move(learner), std::move(encoder), device, dtype), w_(w) {
  torch::NoGradGuard no_grad;
  clip_features_ = normalized(normalized(clip_text_features.to(device, torch::kFloat32)));
}

KgCoOpObjective::Terms KgCoOpObjective::terms(const torch::Tensor& image_features, const torch::Tensor& labels) {
  Terms terms;
  const torch::Tensor text = coop_.text_features();
  terms.logits = clip_logits(image_features, text, coop_.encoder()->logit_scale());
  // The reference's torch.nn.CosineSimilarity(dim=1, eps=1e-07).
  terms.cos = torch::nn::functional::cosine_similarity(
      normalized(text), clip_features_, torch::nn::functional::CosineSimilarityFuncOptions().dim(1).eps(1e-7));
  terms.score = 1.0 - terms.cos.mean();
  terms.cross_entropy = torch::nn::functional::cross_entropy(terms.logits, labels);
  terms.loss = terms.cross_entropy + w_ * terms.score;
  return terms;
}

std::unique_ptr<TrainedMethod> run_kgcoop(const MethodTask& task, MethodEnvironment& environment) {
  const torch::Dtype dtype = precision_dtype(task.settings);
  // The frozen hand-crafted features, once per task, in float32.
  const torch::Tensor clip_features =
      zeroshot_text_features(environment.encoder(torch::kFloat32), environment.tokenizer, task.prompt_template,
                             task.classnames);
  TextEncoder& encoder = environment.encoder(dtype);
  CoOpPromptLearner learner(coop_learner_options(task.settings), task.classnames, environment.tokenizer, encoder,
                            task.seed);
  const TrainOptions options = sgd_options(task, environment.device, dtype);
  KgCoOpObjective objective(learner, encoder, clip_features, task.settings.at("w").get<double>(), environment.device,
                            dtype);
  const TrainReport report = train_prompt(objective, task.train, options);
  auto trained = std::make_unique<TrainedPrompt>(learner, encoder, environment.tokenizer, task.classnames, task.seed);
  trained->report = sgd_report(report, options);
  trained->report["n_ctx"] = learner->options().n_ctx;
  return trained;
}

}  // namespace pg::worker
