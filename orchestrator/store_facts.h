// The facts sweep expansion and the cost model need (sweeps/dataset_facts.h), read from a feature
// store: class counts, split sizes, the smallest class of each train split, the longest class name.
#pragma once

#include <vector>

#include "storage/feature_store.h"
#include "sweeps/dataset_facts.h"
#include "text/tokenizer.h"

namespace pg::orchestrator {

std::vector<sweeps::DatasetFacts> read_dataset_facts(const storage::FeatureStoreReader& store,
                                                     const text::Tokenizer& tokenizer);

}  // namespace pg::orchestrator
