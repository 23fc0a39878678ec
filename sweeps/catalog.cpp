#include "sweeps/catalog.h"

#include "common/error.h"
#include "common/strings.h"

namespace pg::sweeps {

const std::vector<DatasetInfo>& benchmark_datasets() {
  // Class counts from the standard splits; templates are CoOp's CUSTOM_TEMPLATES. ImageNet and
  // FGVCAircraft have no split_zhou file: CoOp reads their own folder structure / text lists.
  static const std::vector<DatasetInfo> datasets = {
      {"imagenet", "", 1000, "a photo of a {}."},
      {"caltech101", "split_zhou_Caltech101.json", 100, "a photo of a {}."},
      {"oxford_pets", "split_zhou_OxfordPets.json", 37, "a photo of a {}, a type of pet."},
      {"stanford_cars", "split_zhou_StanfordCars.json", 196, "a photo of a {}."},
      {"oxford_flowers", "split_zhou_OxfordFlowers.json", 102, "a photo of a {}, a type of flower."},
      {"food101", "split_zhou_Food101.json", 101, "a photo of {}, a type of food."},
      {"fgvc_aircraft", "", 100, "a photo of a {}, a type of aircraft."},
      {"sun397", "split_zhou_SUN397.json", 397, "a photo of a {}."},
      {"dtd", "split_zhou_DescribableTextures.json", 47, "{} texture."},
      {"eurosat", "split_zhou_EuroSAT.json", 10, "a centered satellite photo of {}."},
      {"ucf101", "split_zhou_UCF101.json", 101, "a photo of a person doing {}."},
  };
  return datasets;
}

const std::vector<DomainShiftInfo>& domain_shift_datasets() {
  static const std::vector<DomainShiftInfo> datasets = {
      {"imagenet_v2", "imagenet", 1000},
      {"imagenet_sketch", "imagenet", 1000},
      {"imagenet_a", "imagenet", 200},
      {"imagenet_r", "imagenet", 200},
  };
  return datasets;
}

const DatasetInfo& find_dataset(const std::string& name) {
  std::vector<std::string> known;
  for (const DatasetInfo& dataset : benchmark_datasets()) {
    if (dataset.name == name) return dataset;
    known.push_back(dataset.name);
  }
  throw Error("unknown dataset '" + name + "'; the benchmark datasets are " + join(known, ", "));
}

std::optional<std::string> catalog_template(const std::string& dataset, const std::string& source) {
  if (!source.empty()) return catalog_template(source);
  for (const auto& shift : domain_shift_datasets()) {
    if (shift.name == dataset) return catalog_template(shift.source);
  }
  for (const auto& info : benchmark_datasets()) {
    if (info.name == dataset) return info.prompt_template;
  }
  return std::nullopt;
}

std::string store_template(const std::optional<std::string>& given, const std::string& dataset,
                           const std::string& source) {
  if (given) return *given;
  if (auto found = catalog_template(dataset, source)) return *found;
  std::vector<std::string> names;
  for (const auto& info : benchmark_datasets()) names.push_back(info.name);
  throw Error("--dataset " + dataset + " is not a benchmark dataset (" + join(names, ", ") +
              "), so it has no default prompt template; pass --template \"a photo of a {}.\"");
}

int coop_epochs(const std::string& dataset, int shots) {
  const DatasetInfo& info = find_dataset(dataset);
  if (shots < 1) {
    throw Error("coop_epochs: " + std::to_string(shots) + " shots is not a few-shot setting; use 1, 2, 4, 8 or 16");
  }
  if (info.name == "imagenet") return 50;
  if (shots == 1) return 50;
  if (shots <= 4) return 100;
  return 200;
}

}  // namespace pg::sweeps
