// The benchmark's protocols and what each one measures (DESIGN §1):
//   fewshot     train on K shots of every class, test on every class: accuracy;
//   base2novel  train on the base half of the classes, test on base and on novel classes: base, novel
//               and their harmonic mean H = 2·B·N / (B + N).
// A finished result record of a protocol has every metric listed here; the tables and the resume
// logic both ask this file which ones that is.
#pragma once

#include <string>
#include <vector>

namespace pg::sweeps {

// "fewshot", "base2novel".
const std::vector<std::string>& protocol_names();
// The metrics a finished record of `protocol` carries, in percent; a pg::Error for an unknown protocol.
const std::vector<std::string>& protocol_metrics(const std::string& protocol);
// H = 2·B·N / (B + N); 0 when both are 0.
double harmonic_mean(double base, double novel);

}  // namespace pg::sweeps
