// Base-to-novel class split (CoCoOp's `subsample_classes`, DESIGN §1): the labels present in the
// (few-shot) train set, sorted; the first ceil(n/2) are "base", the rest "new" (novel). Choosing
// base or new keeps only items of those labels in train, val and test alike and relabels them from 0
// in sorted order; "all" leaves items and labels untouched.
// Callers: the worker (base2novel protocol) and `promptgrid fewshot --subsample`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace pg::sweeps {

enum class Subsample { kAll, kBase, kNew };

// "all" | "base" | "new" (CoCoOp's names); anything else is a pg::Error listing them.
Subsample parse_subsample(const std::string& name);
std::string subsample_name(Subsample subsample);

struct ClassSelection {
  Subsample subsample = Subsample::kAll;
  // The selected original labels in new-label order: new label i is original label labels[i], so
  // class names are classnames[labels[i]]. For kAll: the labels present, sorted (items keep their
  // labels, as CoCoOp's subsample_classes("all") returns its input unchanged).
  std::vector<int> labels;
};

// Selects from the labels of the train set the subsample is defined on (one entry per train item).
ClassSelection select_classes(const std::vector<int>& train_labels, Subsample subsample);

struct LabelledIndex {
  size_t index = 0;  // the item's position in its list (e.g. a split list or a few-shot sample)
  int label = 0;
};

// Keeps the items whose label is selected, in order, with their new labels.
std::vector<LabelledIndex> apply_class_selection(const ClassSelection& selection,
                                                 const std::vector<LabelledIndex>& items);

}  // namespace pg::sweeps
