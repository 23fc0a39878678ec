// Few-shot sampling exactly as Dassl's `generate_fewshot_dataset` does it for CoOp/CoCoOp (DESIGN §1),
// so that seed S and K shots reproduce the published splits item for item:
//   random.seed(S); for each label, in order of first appearance in the train list:
//   random.sample(items_of_label, K) (all items, in list order and without drawing, if fewer than K);
//   then the same stream continues over the val list with min(K, 4) shots.
// Callers: the worker (to pick its training set) and `promptgrid fewshot`.
#pragma once

#include <cstdint>
#include <vector>

#include "sweeps/python_random.h"
#include "sweeps/split_file.h"

namespace pg::sweeps {

struct FewShotSample {
  std::vector<size_t> train;  // indices into the split's train list, in sampling order
  std::vector<size_t> val;    // indices into the split's val list, in sampling order
};

// One pass of Dassl's per-label sampling over `labels` (one entry per item) with `shots` per label,
// drawing from `rng`; returns indices into `labels` in sampling order. shots >= 1.
std::vector<size_t> sample_per_label(const std::vector<int>& labels, int shots, PythonRandom& rng);

// Train with `shots` per label, then val with min(shots, 4), from one stream seeded with `seed`.
// shots < 1 (Dassl's "use everything" -1, or 0) is not a few-shot setting and is a pg::Error.
FewShotSample sample_few_shot(const std::vector<SplitItem>& train, const std::vector<SplitItem>& val, int shots,
                              int64_t seed);

}  // namespace pg::sweeps
