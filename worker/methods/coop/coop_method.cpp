#include "worker/methods/coop/coop_method.h"

#include "worker/evaluation.h"
#include "worker/methods/coop/coop_trainer.h"

namespace pg::worker {

CoOpOptions coop_learner_options(const nlohmann::json& settings) {
  CoOpOptions options;
  options.n_ctx = settings.at("n_ctx").get<int64_t>();
  options.ctx_init = settings.at("ctx_init").get<std::string>();
  options.class_specific = settings.value("class_specific", false);
  options.position = parse_class_token_position(settings.value("class_token_position", std::string("end")));
  return options;
}

TrainedPrompt::TrainedPrompt(CoOpPromptLearner learner, TextEncoder encoder, const text::Tokenizer& tokenizer,
                             std::vector<std::string> trained_classnames, uint64_t seed)
    : learner_(std::move(learner)),
      encoder_(std::move(encoder)),
      tokenizer_(tokenizer),
      trained_classnames_(std::move(trained_classnames)),
      seed_(seed) {
  learned.push_back(to_named_tensor("ctx", learner_->context()));
}

std::unique_ptr<Classifier> TrainedPrompt::classifier(const std::vector<std::string>& classnames,
                                                      const std::string&) {
  if (classnames == trained_classnames_) {
    return std::make_unique<TextFeatureClassifier>(coop_text_features(learner_, encoder_));
  }
  // A class-specific context belongs to the classes it was trained on.
  if (learner_->options().class_specific) return nullptr;
  CoOpPromptLearner other(learner_->options(), classnames, tokenizer_, encoder_, seed_);
  other->to(learner_->context().device());
  other->set_context(learner_->context());
  return std::make_unique<TextFeatureClassifier>(coop_text_features(other, encoder_));
}

std::unique_ptr<TrainedMethod> run_coop(const MethodTask& task, MethodEnvironment& environment) {
  const torch::Dtype dtype = precision_dtype(task.settings);
  TextEncoder& encoder = environment.encoder(dtype);
  CoOpPromptLearner learner(coop_learner_options(task.settings), task.classnames, environment.tokenizer, encoder,
                            task.seed);
  const TrainOptions options = sgd_options(task, environment.device, dtype);
  const TrainReport report = train_coop(learner, encoder, task.train, options);
  auto trained = std::make_unique<TrainedPrompt>(learner, encoder, environment.tokenizer, task.classnames, task.seed);
  trained->report = sgd_report(report, options);
  trained->report["n_ctx"] = learner->options().n_ctx;
  return trained;
}

}  // namespace pg::worker
