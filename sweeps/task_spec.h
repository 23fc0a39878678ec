// A task: one training/evaluation run of the benchmark (method × dataset × shots × seed × settings).
//
// Its id is a hash of its canonical JSON (sorted keys, only the fields that matter for the method),
// so re-running a sweep finds finished tasks and a changed setting gets a new id.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/coop_defaults.h"

namespace pg::sweeps {

struct CoOpSettings {
  int n_ctx = coop_defaults::kContextVectors;
  std::string ctx_init;                       // words such as "a photo of a"; empty = random N(0, 0.02)
  bool class_specific = false;                // CSC: one context per class
  std::string class_token_position = coop_defaults::kClassTokenPosition;  // end | middle | front
  int epochs = 0;                             // 0 = the protocol's default (sweeps/catalog.h coop_epochs)
  int batch_size = coop_defaults::kBatchSize;
  double lr = coop_defaults::kLearningRate;
  std::string precision = coop_defaults::kPrecision;  // fp32 | fp16 | bf16 (common/precision.h)
};

struct TaskSpec {
  std::string method = "coop";       // coop | zeroshot
  std::string protocol = "fewshot";  // fewshot | base2novel
  std::string dataset;
  std::string backbone;              // of the feature store the task reads
  int shots = 16;                    // coop only
  int64_t seed = 1;                  // coop only; 0 <= seed < 2^63 (CPython's seed(-n) is seed(n))
  CoOpSettings coop;                 // coop only
  // What the task read, by content: a digest of the dataset in the feature store and of the text
  // tower's weights (16 hex digits each, filled by the runner). The same spec on other features or
  // other weights is another task with another id, so its record never replaces this one's.
  std::string features_digest;
  std::string checkpoint_digest;

  // Fills defaults that depend on other fields (epochs from the catalog) and checks every field;
  // a pg::Error names the field and the allowed values.
  void resolve();
  nlohmann::json to_json() const;
  static TaskSpec from_json(const nlohmann::json& json);
  // 16 hex digits of the 64-bit FNV-1a hash of to_json().dump().
  std::string id() const;
};

}  // namespace pg::sweeps
