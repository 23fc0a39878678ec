// CoOp as a method (method.h): learns the context on the few-shot train sample with CoOp's objective.
// Its pieces are public because KgCoOp is CoOp's learner with one more loss term (kgcoop/).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/methods/method.h"

namespace pg::worker {

// The prompt learner's options from the settings (n_ctx, ctx_init, ctx_init_length, class_specific,
// csc_init, class_token_position; those a method lacks default to CoOp's: a generic context at the end).
CoOpOptions coop_learner_options(const nlohmann::json& settings);

// A trained CoOp-style prompt: classifies any class list with the learned context (generic context),
// or only the classes trained on (class-specific context).
class TrainedPrompt : public TrainedMethod {
 public:
  TrainedPrompt(CoOpPromptLearner learner, TextEncoder encoder, const text::Tokenizer& tokenizer,
                std::vector<std::string> trained_classnames, uint64_t seed);
  std::unique_ptr<Classifier> classifier(const std::vector<std::string>& classnames,
                                         const std::string& prompt_template) override;

 private:
  CoOpPromptLearner learner_;
  TextEncoder encoder_;
  const text::Tokenizer& tokenizer_;
  std::vector<std::string> trained_classnames_;
  uint64_t seed_;
};

std::unique_ptr<TrainedMethod> run_coop(const MethodTask& task, MethodEnvironment& environment);
// Several CoOp tasks of one precision trained together (packed_coop_training.h); each result equals
// its task's run_coop.
std::vector<PackedMethodResult> run_coop_packed(const std::vector<const MethodTask*>& tasks,
                                                MethodEnvironment& environment);
// One CoOp task over the ranks of `group`, its classes split among them (sharded_coop_training.h).
std::unique_ptr<TrainedMethod> run_coop_sharded(const MethodTask& task, MethodEnvironment& environment,
                                                Collectives& group);

}  // namespace pg::worker
