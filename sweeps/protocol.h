// The benchmark's protocols and what each one measures (DESIGN §1):
//   fewshot     train on K shots of every class, test on every class: accuracy;
//   base2novel  train on the base half of the classes, test on base and on novel classes: base, novel
//               and their harmonic mean H = 2·B·N / (B + N).
// A finished result record of a protocol has every metric listed here; the tables and the resume
// logic both ask this file which ones that is.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg::sweeps {

// "fewshot", "base2novel".
const std::vector<std::string>& protocol_names();
// The metrics a finished record of `protocol` carries, in percent; a pg::Error for an unknown protocol.
const std::vector<std::string>& protocol_metrics(const std::string& protocol);
// The metrics of its protocol (spec.protocol) that a result record lacks or holds as a non-number;
// {"protocol"} when the record names no known protocol. Empty: the record has every metric.
std::vector<std::string> missing_metrics(const nlohmann::json& record);
// H = 2·B·N / (B + N); 0 when both are 0.
double harmonic_mean(double base, double novel);

}  // namespace pg::sweeps
