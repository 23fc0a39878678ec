// The benchmark's protocols and what each one measures (DESIGN §1):
//   fewshot     train on K shots of every class, test on every class: accuracy;
//   base2novel  train on the base half of the classes, test on base and on novel classes: base, novel
//               and their harmonic mean H = 2·B·N / (B + N);
//   cross_dataset          train on a source dataset (ImageNet by default, all classes), test the same
//               prompt on every other dataset with its class names: accuracy (the source's),
//               target.<dataset> for each target, and their average;
//   domain_generalization  the same on test-only datasets that shift the source's images
//               (imagenet_v2, imagenet_sketch, imagenet_a, imagenet_r), whose classes are the source's
//               or a subset of them, by name.
// A finished result record of a protocol has every metric listed here; the tables and the resume
// logic both ask this file which ones that is.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg::sweeps {

// "fewshot", "base2novel", "cross_dataset", "domain_generalization".
const std::vector<std::string>& protocol_names();
// The metrics a finished record of `protocol` carries, in percent; a pg::Error for an unknown protocol.
// (The transfer protocols also carry target.<dataset> per target.)
const std::vector<std::string>& protocol_metrics(const std::string& protocol);
// The metrics of its protocol (spec.protocol) that a result record lacks or holds as a non-number,
// other than those it lists as "not_applicable" (a method that cannot have them: the linear probe's
// novel accuracy); {"protocol"} when the record names no known protocol. Empty: the record is complete.
std::vector<std::string> missing_metrics(const nlohmann::json& record);
// cross_dataset and domain_generalization: a source model tested on target datasets.
bool is_transfer_protocol(const std::string& protocol);
// The metric name of one target's accuracy: "target.<dataset>".
std::string target_metric(const std::string& dataset);
// H = 2·B·N / (B + N); 0 when both are 0.
double harmonic_mean(double base, double novel);

}  // namespace pg::sweeps
