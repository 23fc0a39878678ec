#include "sweeps/class_split.h"

#include <algorithm>
#include <unordered_map>

#include "common/error.h"

namespace pg::sweeps {

Subsample parse_subsample(const std::string& name) {
  if (name == "all") return Subsample::kAll;
  if (name == "base") return Subsample::kBase;
  if (name == "new") return Subsample::kNew;
  throw Error("unknown class subsample '" + name + "'; use all, base or new");
}

std::string subsample_name(Subsample subsample) {
  switch (subsample) {
    case Subsample::kAll:
      return "all";
    case Subsample::kBase:
      return "base";
    case Subsample::kNew:
      return "new";
  }
  return "all";  // unreachable: every enumerator is handled above
}

ClassSelection select_classes(const std::vector<int>& train_labels, Subsample subsample) {
  std::vector<int> labels = train_labels;
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  ClassSelection selection;
  selection.subsample = subsample;
  if (subsample == Subsample::kAll) {
    selection.labels = std::move(labels);
    return selection;
  }
  const size_t base_count = (labels.size() + 1) / 2;  // ceil(n / 2)
  const auto split_point = labels.begin() + static_cast<std::ptrdiff_t>(base_count);
  if (subsample == Subsample::kBase) {
    selection.labels.assign(labels.begin(), split_point);
  } else {
    selection.labels.assign(split_point, labels.end());
  }
  return selection;
}

std::vector<LabelledIndex> apply_class_selection(const ClassSelection& selection,
                                                 const std::vector<LabelledIndex>& items) {
  if (selection.subsample == Subsample::kAll) return items;
  std::unordered_map<int, int> new_label;
  for (size_t i = 0; i < selection.labels.size(); ++i) new_label.emplace(selection.labels[i], static_cast<int>(i));
  std::vector<LabelledIndex> result;
  for (const LabelledIndex& item : items) {
    const auto found = new_label.find(item.label);
    if (found != new_label.end()) result.push_back({item.index, found->second});
  }
  return result;
}

}  // namespace pg::sweeps
