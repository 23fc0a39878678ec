#include "sweeps/protocol.h"

#include <algorithm>

#include "common/error.h"

namespace pg::sweeps {

const std::vector<std::string>& protocol_names() {
  static const std::vector<std::string> names = {"fewshot", "base2novel", "cross_dataset", "domain_generalization"};
  return names;
}

const std::vector<std::string>& protocol_metrics(const std::string& protocol) {
  static const std::vector<std::string> fewshot = {"accuracy"};
  static const std::vector<std::string> base2novel = {"base", "novel", "harmonic"};
  static const std::vector<std::string> transfer = {"accuracy", "average"};
  if (protocol == "fewshot") return fewshot;
  if (protocol == "base2novel") return base2novel;
  if (protocol == "cross_dataset" || protocol == "domain_generalization") return transfer;
  throw Error("protocol '" + protocol + "' is not one of: fewshot, base2novel, cross_dataset, domain_generalization");
}

bool is_transfer_protocol(const std::string& protocol) {
  return protocol == "cross_dataset" || protocol == "domain_generalization";
}

std::string target_metric(const std::string& dataset) { return "target." + dataset;
}

std::vector<std::string> missing_metrics(const nlohmann::json& record) {
  const auto spec = record.find("spec");
  const std::string protocol = spec != record.end() && spec->is_object() ? spec->value("protocol", "") : "";
  const auto& names = protocol_names();
  if (std::find(names.begin(), names.end(), protocol) == names.end()) return {"protocol"};
  const auto metrics = record.find("metrics");
  const auto not_applicable = record.find("not_applicable");
  std::vector<std::string> missing;
  std::vector<std::string> wanted = protocol_metrics(protocol);
  if (is_transfer_protocol(protocol) && spec->contains("targets") && (*spec)["targets"].is_array()) {
    for (const auto& target : (*spec)["targets"]) {
      if (target.is_string()) wanted.push_back(target_metric(target.get<std::string>()));
    }
  }
  for (const auto& name : wanted) {
    const bool present = metrics != record.end() && metrics->is_object() && metrics->contains(name) &&
                         (*metrics)[name].is_number();
    const bool excused = not_applicable != record.end() && not_applicable->is_array() &&
                         std::find(not_applicable->begin(), not_applicable->end(), name) != not_applicable->end();
    if (!present && !excused) missing.push_back(name);
  }
  return missing;
}

double harmonic_mean(double base, double novel) {
  return base + novel > 0 ? 2 * base * novel / (base + novel) : 0.0;
}

}  // namespace pg::sweeps
