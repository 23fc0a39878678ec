#include "orchestrator/store_facts.h"

#include <algorithm>
#include <map>

namespace pg::orchestrator {

std::vector<sweeps::DatasetFacts> read_dataset_facts(const storage::FeatureStoreReader& store,
                                                     const text::Tokenizer& tokenizer) {
  std::vector<sweeps::DatasetFacts> all;
  for (const std::string& name : store.datasets()) {
    const storage::DatasetSummary summary = store.summary(name);
    sweeps::DatasetFacts facts;
    facts.name = name;
    facts.num_classes = summary.num_classes;
    facts.source = summary.source;
    const auto rows = [&](const char* split) {
      const auto found = summary.split_rows.find(split);
      return found == summary.split_rows.end() ? int64_t{0} : found->second;
    };
    facts.train_images = rows("train");
    facts.test_images = rows("test");
    if (facts.train_images > 0) {
      std::map<int32_t, int64_t> per_class;
      for (int32_t label : store.read_labels(name, "train")) ++per_class[label];
      facts.fewest_train_images = per_class.empty() ? 0 : per_class.begin()->second;
      for (const auto& [label, count] : per_class) facts.fewest_train_images = std::min(facts.fewest_train_images, count);
    }
    for (std::string classname : store.classnames(name)) {
      std::replace(classname.begin(), classname.end(), '_', ' ');
      facts.longest_name_tokens =
          std::max<int64_t>(facts.longest_name_tokens, static_cast<int64_t>(tokenizer.encode(classname).size()));
    }
    all.push_back(std::move(facts));
  }
  return all;
}

}  // namespace pg::orchestrator
