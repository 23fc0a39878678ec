#include "sweeps/protocol.h"

#include "common/error.h"

namespace pg::sweeps {

const std::vector<std::string>& protocol_names() {
  static const std::vector<std::string> names = {"fewshot", "base2novel"};
  return names;
}

const std::vector<std::string>& protocol_metrics(const std::string& protocol) {
  static const std::vector<std::string> fewshot = {"accuracy"};
  static const std::vector<std::string> base2novel = {"base", "novel", "harmonic"};
  if (protocol == "fewshot") return fewshot;
  if (protocol == "base2novel") return base2novel;
  throw Error("protocol '" + protocol + "' is not one of: fewshot, base2novel");
}

double harmonic_mean(double base, double novel) {
  return base + novel > 0 ? 2 * base * novel / (base + novel) : 0.0;
}

}  // namespace pg::sweeps
