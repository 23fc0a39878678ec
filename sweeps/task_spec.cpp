#include "sweeps/task_spec.h"

#include "common/error.h"
#include "common/hash.h"
#include "common/precision.h"
#include "common/utf8.h"
#include "sweeps/catalog.h"

namespace pg::sweeps {
namespace {

void require_one_of(const std::string& field, const std::string& value,
                    std::initializer_list<const char*> allowed) {
  for (const char* option : allowed) {
    if (value == option) return;
  }
  std::string list;
  for (const char* option : allowed) list += (list.empty() ? "" : ", ") + std::string(option);
  throw Error("task field '" + field + "' is '" + value + "'; expected one of: " + list);
}

}  // namespace

void TaskSpec::resolve() {
  require_one_of("method", method, {"coop", "zeroshot"});
  require_one_of("protocol", protocol, {"fewshot", "base2novel"});
  if (dataset.empty()) throw Error("task field 'dataset' is empty; name a dataset of the feature store");
  require_utf8(dataset, "task field 'dataset'", "name the dataset in UTF-8");
  require_utf8(coop.ctx_init, "task field 'ctx_init'", "give the init words in UTF-8");
  if (method == "zeroshot") return;
  if (shots < 1) throw Error("task field 'shots' is " + std::to_string(shots) + "; use 1 or more");
  if (seed < 0) {
    throw Error("task field 'seed' is " + std::to_string(seed) + "; seeds are integers from 0 to 2^63 - 1 "
                "(CPython's random.seed(-n) is random.seed(n): pass the absolute value)");
  }
  require_one_of("class_token_position", coop.class_token_position, {"end", "middle", "front"});
  parse_precision(coop.precision, "task field 'precision'");
  if (coop.n_ctx < 1 && coop.ctx_init.empty()) throw Error("task field 'n_ctx' must be 1 or more");
  if (coop.batch_size < 1) throw Error("task field 'batch_size' must be 1 or more");
  if (!(coop.lr > 0)) throw Error("task field 'lr' must be positive");
  if (coop.epochs < 0) throw Error("task field 'epochs' must be 1 or more (0 = the protocol's default)");
  if (coop.epochs == 0) coop.epochs = coop_epochs(dataset, shots);
  if (protocol == "base2novel" && coop.class_specific) {
    throw Error("task field 'csc' is true, but class-specific context (CSC) exists only for the base classes and "
                "cannot be tested on novel ones; use generic context (csc: false) for the base2novel protocol");
  }
}

nlohmann::json TaskSpec::to_json() const {
  nlohmann::json json = {{"method", method}, {"protocol", protocol}, {"dataset", dataset}, {"backbone", backbone},
                         {"inputs", {{"features", features_digest}, {"checkpoint", checkpoint_digest}}}};
  if (method == "coop") {
    json["shots"] = shots;
    json["seed"] = seed;
    // With init words the context length is their token count, so n_ctx is not part of the spec.
    json["coop"] = {{"n_ctx", coop.ctx_init.empty() ? coop.n_ctx : 0},
                    {"ctx_init", coop.ctx_init},
                    {"class_specific", coop.class_specific},
                    {"class_token_position", coop.class_token_position},
                    {"epochs", coop.epochs},
                    {"batch_size", coop.batch_size},
                    {"lr", coop.lr},
                    {"precision", coop.precision}};
  }
  return json;
}

TaskSpec TaskSpec::from_json(const nlohmann::json& json) {
  TaskSpec spec;
  try {
    spec.method = json.at("method").get<std::string>();
    spec.protocol = json.at("protocol").get<std::string>();
    spec.dataset = json.at("dataset").get<std::string>();
    spec.backbone = json.value("backbone", "");
    if (json.contains("inputs")) {
      spec.features_digest = json.at("inputs").value("features", "");
      spec.checkpoint_digest = json.at("inputs").value("checkpoint", "");
    }
    if (spec.method == "coop") {
      spec.shots = json.at("shots").get<int>();
      spec.seed = json.at("seed").get<int64_t>();
      const auto& coop = json.at("coop");
      spec.coop.n_ctx = coop.at("n_ctx").get<int>();
      spec.coop.ctx_init = coop.at("ctx_init").get<std::string>();
      spec.coop.class_specific = coop.at("class_specific").get<bool>();
      spec.coop.class_token_position = coop.at("class_token_position").get<std::string>();
      spec.coop.epochs = coop.at("epochs").get<int>();
      spec.coop.batch_size = coop.at("batch_size").get<int>();
      spec.coop.lr = coop.at("lr").get<double>();
      spec.coop.precision = coop.at("precision").get<std::string>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error("task spec " + json.dump() + " is malformed: " + e.what());
  }
  return spec;
}

std::string TaskSpec::id() const { return to_hex16(fnv1a_64(to_json().dump())); }

}  // namespace pg::sweeps
