#include "worker/methods/coop/coop_method.h"

#include "common/error.h"
#include "worker/evaluation.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/methods/coop/packed_coop_training.h"
#include "worker/methods/coop/sharded_coop_training.h"

namespace pg::worker {

CoOpOptions coop_learner_options(const nlohmann::json& settings) {
  CoOpOptions options;
  options.n_ctx = settings.at("n_ctx").get<int64_t>();
  options.ctx_init = settings.at("ctx_init").get<std::string>();
  options.init_length = parse_init_length(settings.value("ctx_init_length", std::string("words")));
  options.class_specific_init = settings.value("csc_init", std::string("shared")) == "per_class";
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

namespace {

std::unique_ptr<TrainedMethod> trained_prompt(CoOpPromptLearner& learner, TextEncoder& encoder,
                                              const MethodTask& task, MethodEnvironment& environment,
                                              const TrainReport& report, const TrainOptions& options) {
  auto trained = std::make_unique<TrainedPrompt>(learner, encoder, environment.tokenizer, task.classnames, task.seed);
  trained->report = sgd_report(report, options);
  trained->report["n_ctx"] = learner->options().n_ctx;
  return trained;
}

}  // namespace

std::unique_ptr<TrainedMethod> run_coop(const MethodTask& task, MethodEnvironment& environment) {
  const torch::Dtype dtype = precision_dtype(task.settings);
  TextEncoder& encoder = environment.encoder(dtype);
  CoOpPromptLearner learner(coop_learner_options(task.settings), task.classnames, environment.tokenizer, encoder,
                            task.seed);
  const TrainOptions options = sgd_options(task, environment.device, dtype);
  const TrainReport report = train_coop(learner, encoder, task.train, options);
  return trained_prompt(learner, encoder, task, environment, report, options);
}

std::vector<PackedMethodResult> run_coop_packed(const std::vector<const MethodTask*>& tasks,
                                                MethodEnvironment& environment) {
  if (tasks.empty()) return {};
  const torch::Dtype dtype = precision_dtype(tasks.front()->settings);
  for (const MethodTask* task : tasks) {
    if (precision_dtype(task->settings) != dtype) {
      throw Error("packed CoOp tasks must share one precision (one text encoder)", ErrorKind::internal);
    }
  }
  TextEncoder& encoder = environment.encoder(dtype);
  std::vector<PackedMethodResult> results(tasks.size());
  std::vector<PackedCoOpRun> runs;
  std::vector<size_t> task_of_run;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const MethodTask& task = *tasks[i];
    try {
      CoOpPromptLearner learner(coop_learner_options(task.settings), task.classnames, environment.tokenizer, encoder,
                                task.seed);
      runs.push_back({learner, task.train, sgd_options(task, environment.device, dtype)});
      task_of_run.push_back(i);
    } catch (const std::exception& e) {  // this task's prompt (a context too long for its class names)
      results[i].error = e.what();
    }
  }
  if (runs.empty()) return results;
  const std::vector<PackedRunResult> outcomes = train_coop_packed(runs, encoder);
  for (size_t run = 0; run < runs.size(); ++run) {
    PackedMethodResult& result = results[task_of_run[run]];
    const PackedRunResult& outcome = outcomes[run];
    if (outcome.report) {
      result.trained = trained_prompt(runs[run].learner, encoder, *tasks[task_of_run[run]], environment,
                                      *outcome.report, runs[run].options);
    } else if (outcome.interrupted_epoch) {
      result.interrupted_epoch = outcome.interrupted_epoch;
    } else {
      result.error = outcome.error;
    }
  }
  return results;
}

std::unique_ptr<TrainedMethod> run_coop_sharded(const MethodTask& task, MethodEnvironment& environment,
                                                Collectives& group) {
  const torch::Dtype dtype = precision_dtype(task.settings);
  TextEncoder& encoder = environment.encoder(dtype);
  const CoOpOptions prompt = coop_learner_options(task.settings);
  const auto classes = static_cast<int64_t>(task.classnames.size());
  const ClassShard shard = class_shard(classes, group.rank(), group.size());
  const std::vector<std::string> mine(task.classnames.begin() + shard.begin,
                                      task.classnames.begin() + shard.begin + shard.count);
  // The same seed on every rank: the generic context starts identical whatever the classes.
  CoOpPromptLearner shard_learner(prompt, mine, environment.tokenizer, encoder, task.seed);
  const TrainOptions options = sgd_options(task, environment.device, dtype);
  if (options.half_parameters) {
    throw Error("a class-sharded CoOp run keeps the context a float32 master copy; a pure half precision "
                "(pure_fp16, pure_bf16) trains on one rank");
  }
  ShardedCoOpObjective objective(shard_learner, encoder, classes, group, environment.device, dtype);
  const TrainReport report = train_prompt(objective, task.train, options);
  CoOpPromptLearner learner(prompt, task.classnames, environment.tokenizer, encoder, task.seed);
  learner->to(environment.device);
  learner->set_context(shard_learner->context().detach());
  std::unique_ptr<TrainedMethod> trained = trained_prompt(learner, encoder, task, environment, report, options);
  trained->report["ranks"] = group.size();
  return trained;
}

}  // namespace pg::worker
