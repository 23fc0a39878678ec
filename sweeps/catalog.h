// The benchmark catalog: the 11 datasets of the CoOp/CoCoOp protocol, their class counts, standard
// split files, zero-shot templates (CoOp's per-dataset prompts) and CoOp's epoch schedule.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pg::sweeps {

struct DatasetInfo {
  std::string name;           // promptgrid's name: "oxford_pets"
  std::string split_file;     // "split_zhou_OxfordPets.json"; empty where CoOp uses other files
  int num_classes = 0;
  std::string prompt_template;  // with "{}" where the class name goes: "a photo of a {}, a type of pet."
};

const std::vector<DatasetInfo>& benchmark_datasets();

// The test-only datasets of the domain-generalization protocol: ImageNet's images shifted (a new test
// set, sketches, natural adversarial examples, renditions), with ImageNet's classes or a 200-class
// subset of them, and ImageNet's template.
struct DomainShiftInfo {
  std::string name;    // "imagenet_sketch"
  std::string source;  // "imagenet"
  int num_classes = 0;
};
const std::vector<DomainShiftInfo>& domain_shift_datasets();
// A pg::Error listing the known names when `name` is not one of them (the benchmark's 11 datasets).
const DatasetInfo& find_dataset(const std::string& name);

// The CoOp template of a benchmark dataset, or of a shifted ImageNet (its source's), or of `source`
// when one is given; nullopt for a dataset the catalog does not know (the caller asks for --template).
std::optional<std::string> catalog_template(const std::string& dataset, const std::string& source = "");
// The template a dataset's features are stored with (`features import` and `features extract`): `given`
// (their --template) when there is one, else catalog_template's; a pg::Error naming the benchmark's
// datasets and --template when neither exists.
std::string store_template(const std::optional<std::string>& given, const std::string& dataset,
                           const std::string& source);

// CoOp's epochs for a few-shot run: 50 for 1 shot, 100 for 2 and 4, 200 for 8 and 16 (and more);
// ImageNet 50 always.
int coop_epochs(const std::string& dataset, int shots);

}  // namespace pg::sweeps
