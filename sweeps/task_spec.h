// A task: one training/evaluation run of the benchmark (method × dataset × shots × seed × settings).
//
// Its id is a hash of its canonical JSON (sorted keys, only the fields that matter for the method),
// so re-running a sweep finds finished tasks and a changed setting gets a new id.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "sweeps/method_settings.h"


namespace pg::sweeps {

struct TaskSpec {
  std::string method = "coop";       // a name of sweeps/method_settings.h
  std::string protocol = "fewshot";  // a name of sweeps/protocol.h
  std::string dataset;               // the dataset trained on (the source, in the transfer protocols)
  std::vector<std::string> targets;  // cross_dataset, domain_generalization: the datasets tested on
  std::string backbone;              // of the feature store the task reads
  int shots = 16;                    // trained methods only
  int64_t seed = 1;                  // trained methods only; 0 <= seed < 2^63 (CPython's seed(-n) is seed(n))
  // The method's settings (method_settings.h): what was given before resolve(), every field after.
  nlohmann::json settings = nlohmann::json::object();
  // What the task read, by content: a digest of the dataset in the feature store and of the text
  // tower's weights (16 hex digits each, filled by the runner). The same spec on other features or
  // other weights is another task with another id, so its record never replaces this one's.
  std::string features_digest;
  std::string checkpoint_digest;
  std::map<std::string, std::string> target_digests;  // of each target dataset, filled by the runner

  // Fills every setting's default (and those that depend on other fields, such as epochs from the
  // catalog) and checks every field; a pg::Error names the field and the allowed values.
  void resolve();
  const MethodInfo& method_info() const { return find_method(method); }
  // A resolved setting; a pg::Error when the method has no such field.
  template <typename T>
  T setting(const std::string& key) const {
    if (!settings.contains(key)) throw Error("method " + method + " has no setting '" + key + "'");
    return settings.at(key).get<T>();
  }
  nlohmann::json to_json() const;
  static TaskSpec from_json(const nlohmann::json& json);
  // 16 hex digits of the 64-bit FNV-1a hash of to_json().dump().
  std::string id() const;
};

// Which of `parts` shares (0-based) a task belongs to, by its id: `promptgrid run --part` and
// `slurm submit --jobs K` split a sweep into independent allocations this way. Stable: a task keeps its
// part whatever else is in the sweep. A pg::Error for an id that is not 16 hex digits.
int task_part(const std::string& task_id, int parts);

}  // namespace pg::sweeps
