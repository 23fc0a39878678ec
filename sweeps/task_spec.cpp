#include "sweeps/task_spec.h"

#include "common/error.h"
#include "common/hash.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "sweeps/protocol.h"

#include <algorithm>

namespace pg::sweeps {
namespace {

void require_one_of(const std::string& field, const std::string& value, const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  throw Error("task field '" + field + "' is '" + value + "'; expected one of: " + join(allowed, ", "));
}

}  // namespace

void TaskSpec::resolve() {
  const MethodInfo& info = find_method(method);
  require_one_of("protocol", protocol, protocol_names());
  if (dataset.empty()) throw Error("task field 'dataset' is empty; name a dataset of the feature store");
  require_utf8(dataset, "task field 'dataset'", "name the dataset in UTF-8");
  if (info.trains) {
    if (shots < 1) throw Error("task field 'shots' is " + std::to_string(shots) + "; use 1 or more");
    if (seed < 0) {
      throw Error("task field 'seed' is " + std::to_string(seed) + "; seeds are integers from 0 to 2^63 - 1 "
                  "(CPython's random.seed(-n) is random.seed(n): pass the absolute value)");
    }
  }
  settings = resolve_settings(info, settings, {dataset, info.trains ? shots : 0, protocol});
  if (is_transfer_protocol(protocol)) {
    if (targets.empty()) {
      throw Error("task field 'targets' is empty; the " + protocol + " protocol tests on other datasets of the store: "
                  "name them (promptgrid train --targets dtd,eurosat; a sweep takes them from the store)");
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      if (targets[i] == dataset || std::find(targets.begin(), targets.begin() + i, targets[i]) != targets.begin() + i) {
        throw Error("task field 'targets' names " + targets[i] + " twice or as the source; list each target once");
      }
    }
  } else if (!targets.empty()) {
    throw Error("task field 'targets' is for the cross_dataset and domain_generalization protocols, not " + protocol);
  }
}

nlohmann::json TaskSpec::to_json() const {
  const MethodInfo& info = find_method(method);
  nlohmann::json json = {{"method", method}, {"protocol", protocol}, {"dataset", dataset}, {"backbone", backbone},
                         {"inputs", {{"features", features_digest}, {"checkpoint", checkpoint_digest}}}};
  if (is_transfer_protocol(protocol)) {
    json["targets"] = targets;
    json["inputs"]["targets"] = target_digests;
  }
  if (info.trains) {
    json["shots"] = shots;
    json["seed"] = seed;
  }
  // Under the method's own name, so specs of different methods never share a settings key.
  if (!info.fields.empty()) json[method] = settings;
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
      if (json.at("inputs").contains("targets")) {
        spec.target_digests = json.at("inputs").at("targets").get<std::map<std::string, std::string>>();
      }
    }
    if (json.contains("targets")) spec.targets = json.at("targets").get<std::vector<std::string>>();
    const MethodInfo& info = find_method(spec.method);
    if (info.trains) {
      spec.shots = json.at("shots").get<int>();
      spec.seed = json.at("seed").get<int64_t>();
    }
    if (!info.fields.empty()) spec.settings = json.at(spec.method);
  } catch (const nlohmann::json::exception& e) {
    throw Error("task spec " + json.dump() + " is malformed: " + e.what());
  }
  return spec;
}

std::string TaskSpec::id() const { return to_hex16(fnv1a_64(to_json().dump())); }

int task_part(const std::string& task_id, int parts) {
  if (parts < 1) throw Error("a sweep is split into 1 or more parts, not " + std::to_string(parts), ErrorKind::internal);
  uint64_t value = 0;
  for (const char c : task_id) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0 || task_id.size() != 16) throw Error("'" + task_id + "' is not a task id (16 hex digits)");
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return static_cast<int>(value % static_cast<uint64_t>(parts));
}

}  // namespace pg::sweeps
