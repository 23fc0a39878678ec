#include "sweeps/fewshot.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "common/error.h"

namespace pg::sweeps {
namespace {

void check_shots(int shots) {
  if (shots < 1) {
    throw Error("few-shot sampling: shots = " + std::to_string(shots) +
                " is not a few-shot setting; use a count of images per class >= 1 (the benchmark uses 1, 2, 4, 8, 16)");
  }
}

std::vector<int> labels_of(const std::vector<SplitItem>& items) {
  std::vector<int> labels;
  labels.reserve(items.size());
  for (const SplitItem& item : items) labels.push_back(item.label);
  return labels;
}

}  // namespace

std::vector<size_t> sample_per_label(const std::vector<int>& labels, int shots, PythonRandom& rng) {
  check_shots(shots);
  // Groups in order of first appearance, as Dassl's defaultdict(list) iterates them.
  std::vector<std::vector<size_t>> groups;
  std::unordered_map<int, size_t> group_of_label;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto [it, inserted] = group_of_label.emplace(labels[i], groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<size_t> result;
  for (const std::vector<size_t>& group : groups) {
    if (group.size() < static_cast<size_t>(shots)) {
      result.insert(result.end(), group.begin(), group.end());
      continue;
    }
    for (const int64_t pick : rng.sample(static_cast<int64_t>(group.size()), shots)) {
      result.push_back(group[static_cast<size_t>(pick)]);
    }
  }
  return result;
}

FewShotSample sample_few_shot(const std::vector<SplitItem>& train, const std::vector<SplitItem>& val, int shots,
                              int64_t seed) {
  check_shots(shots);
  PythonRandom rng(seed);
  FewShotSample sample;
  sample.train = sample_per_label(labels_of(train), shots, rng);
  sample.val = sample_per_label(labels_of(val), std::min(shots, 4), rng);
  return sample;
}

}  // namespace pg::sweeps
