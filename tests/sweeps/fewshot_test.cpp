// Few-shot sampling against the 45 golden samples in ../shared/data/fewshot (produced by the
// CoOp/Dassl code itself), plus base-to-novel selection with hand-derived expectations.
#include "sweeps/fewshot.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "support/test_data.h"
#include "sweeps/class_split.h"

namespace pg::sweeps {
namespace {

struct GoldenDataset {
  std::string name;        // folder under fewshot/
  std::string split_file;  // under splits/
  std::string prefix;      // the golden impath is prefix + relpath (data/README.md)
};

const GoldenDataset kGoldenDatasets[] = {
    {"dtd", "split_zhou_DescribableTextures.json", "./data/dtd/images/"},
    {"eurosat", "split_zhou_EuroSAT.json", "./data/eurosat/2750/"},
    {"oxford_pets", "split_zhou_OxfordPets.json", "./data/oxford_pets/images/"},
};

const SplitFile& cached_split(const std::string& file) {
  static std::map<std::string, SplitFile> cache;
  auto found = cache.find(file);
  if (found == cache.end()) found = cache.emplace(file, read_split_file(testing::shared_data("splits/" + file))).first;
  return found->second;
}

nlohmann::json golden(const std::string& dataset, int shots, int seed) {
  return pg::testing::read_json(testing::shared_data("fewshot/" + dataset + "/shot_" + std::to_string(shots) + "-seed_" +
                                             std::to_string(seed) + ".json"));
}

void expect_matches_golden(const std::vector<SplitItem>& items, const std::vector<size_t>& picked,
                           const nlohmann::json& expected, const std::string& prefix) {
  ASSERT_EQ(picked.size(), expected.size());
  for (size_t i = 0; i < picked.size(); ++i) {
    const SplitItem& item = items.at(picked[i]);
    ASSERT_EQ(prefix + item.relpath, expected[i].at("impath").get<std::string>()) << "item " << i;
    ASSERT_EQ(item.label, expected[i].at("label").get<int>()) << "item " << i;
    ASSERT_EQ(item.classname, expected[i].at("classname").get<std::string>()) << "item " << i;
  }
}

TEST(FewShot, ReproducesAllGoldenSamples) {
  int checked = 0;
  for (const GoldenDataset& dataset : kGoldenDatasets) {
    const SplitFile& split = cached_split(dataset.split_file);
    for (int shots : {1, 2, 4, 8, 16}) {
      for (int seed : {1, 2, 3}) {
        SCOPED_TRACE(dataset.name + " shots " + std::to_string(shots) + " seed " + std::to_string(seed));
        const nlohmann::json expected = golden(dataset.name, shots, seed);
        const FewShotSample sample = sample_few_shot(split.train, split.val, shots, seed);
        expect_matches_golden(split.train, sample.train, expected.at("train").at("data"), dataset.prefix);
        expect_matches_golden(split.val, sample.val, expected.at("val").at("data"), dataset.prefix);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 45);
}

TEST(FewShot, SizesFollowShotsAndValCap) {
  const SplitFile& split = cached_split("split_zhou_EuroSAT.json");
  const FewShotSample sample = sample_few_shot(split.train, split.val, 8, 1);
  EXPECT_EQ(sample.train.size(), 10u * 8);  // 10 classes, each with far more than 8 train images
  EXPECT_EQ(sample.val.size(), 10u * 4);    // val uses min(8, 4)
}

TEST(FewShot, SmallClassesKeepAllItemsInOrderWithoutDrawing) {
  // Label 5 has 2 items (< 3 shots): both kept in list order, and nothing is drawn for them, so
  // label 7's items [1, 2, 4, 5] get the first draw of the stream: random.seed(4);
  // random.sample(range(4), 3) == [1, 3, 0] (computed with /usr/bin/python3) -> items 2, 5, 1.
  const std::vector<int> labels = {5, 7, 7, 5, 7, 7};
  PythonRandom rng(4);
  EXPECT_EQ(sample_per_label(labels, 3, rng), (std::vector<size_t>{0, 3, 2, 5, 1}));
}

TEST(FewShot, RejectsNonFewShotCounts) {
  const std::vector<SplitItem> items = {{"a.jpg", 0, "a"}};
  for (int shots : {0, -1}) {
    try {
      sample_few_shot(items, items, shots, 1);
      FAIL() << "shots " << shots << " must throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("shots = " + std::to_string(shots)), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not a few-shot setting"), std::string::npos) << e.what();
    }
  }
}

std::vector<LabelledIndex> labelled(const std::vector<SplitItem>& items, const std::vector<size_t>& picked) {
  std::vector<LabelledIndex> result;
  for (size_t i : picked) result.push_back({i, items[i].label});
  return result;
}

std::vector<int> labels_of(const std::vector<LabelledIndex>& items) {
  std::vector<int> labels;
  for (const LabelledIndex& item : items) labels.push_back(item.label);
  return labels;
}

TEST(ClassSplit, EuroSatSplitsTenLabelsFiveAndFive) {
  const SplitFile& split = cached_split("split_zhou_EuroSAT.json");
  const FewShotSample sample = sample_few_shot(split.train, split.val, 16, 1);
  const std::vector<LabelledIndex> train = labelled(split.train, sample.train);
  const std::vector<int> train_labels = labels_of(train);

  const ClassSelection base = select_classes(train_labels, Subsample::kBase);
  EXPECT_EQ(base.labels, (std::vector<int>{0, 1, 2, 3, 4}));
  const ClassSelection novel = select_classes(train_labels, Subsample::kNew);
  EXPECT_EQ(novel.labels, (std::vector<int>{5, 6, 7, 8, 9}));

  // Independent expectation from the golden sample: base keeps labels < 5 unchanged, novel keeps
  // labels >= 5 shifted down by 5, both in sampling order.
  const nlohmann::json expected = golden("eurosat", 16, 1).at("train").at("data");
  std::vector<std::string> base_paths, novel_paths;
  std::vector<int> novel_labels;
  for (const auto& item : expected) {
    const int label = item.at("label").get<int>();
    (label < 5 ? base_paths : novel_paths).push_back(item.at("impath").get<std::string>());
    if (label >= 5) novel_labels.push_back(label - 5);
  }
  const std::vector<LabelledIndex> novel_train = apply_class_selection(novel, train);
  ASSERT_EQ(novel_train.size(), novel_paths.size());
  for (size_t i = 0; i < novel_train.size(); ++i) {
    EXPECT_EQ("./data/eurosat/2750/" + split.train[novel_train[i].index].relpath, novel_paths[i]);
    EXPECT_EQ(novel_train[i].label, novel_labels[i]);
  }
  const std::vector<LabelledIndex> base_train = apply_class_selection(base, train);
  ASSERT_EQ(base_train.size(), base_paths.size());
  for (size_t i = 0; i < base_train.size(); ++i) {
    EXPECT_EQ("./data/eurosat/2750/" + split.train[base_train[i].index].relpath, base_paths[i]);
    EXPECT_EQ(base_train[i].label, split.train[base_train[i].index].label);
  }
}

TEST(ClassSplit, ThirtySevenPetClassesGiveNineteenBaseAndEighteenNovel) {
  const SplitFile& split = cached_split("split_zhou_OxfordPets.json");
  const FewShotSample sample = sample_few_shot(split.train, split.val, 1, 2);
  std::vector<int> train_labels;
  for (size_t i : sample.train) train_labels.push_back(split.train[i].label);
  const ClassSelection base = select_classes(train_labels, Subsample::kBase);
  const ClassSelection novel = select_classes(train_labels, Subsample::kNew);
  ASSERT_EQ(base.labels.size(), 19u);
  ASSERT_EQ(novel.labels.size(), 18u);
  EXPECT_EQ(base.labels.front(), 0);
  EXPECT_EQ(base.labels.back(), 18);
  EXPECT_EQ(novel.labels.front(), 19);
  EXPECT_EQ(novel.labels.back(), 36);

  // The test split follows the train-defined selection: every novel test item, relabelled 0..17.
  std::vector<LabelledIndex> test;
  size_t novel_test_count = 0;
  for (size_t i = 0; i < split.test.size(); ++i) {
    test.push_back({i, split.test[i].label});
    if (split.test[i].label >= 19) ++novel_test_count;
  }
  const std::vector<LabelledIndex> novel_test = apply_class_selection(novel, test);
  ASSERT_EQ(novel_test.size(), novel_test_count);
  for (const LabelledIndex& item : novel_test) EXPECT_EQ(item.label, split.test[item.index].label - 19);
}

TEST(ClassSplit, UsesOnlyLabelsPresentSortedAndRelabelsInThatOrder) {
  const std::vector<int> train_labels = {9, 2, 7, 2, 4};  // present: 2, 4, 7, 9 -> base 2, 4; new 7, 9
  EXPECT_EQ(select_classes(train_labels, Subsample::kBase).labels, (std::vector<int>{2, 4}));
  const ClassSelection novel = select_classes(train_labels, Subsample::kNew);
  EXPECT_EQ(novel.labels, (std::vector<int>{7, 9}));
  const std::vector<LabelledIndex> items = {{0, 9}, {1, 2}, {2, 7}, {3, 3}, {4, 9}};
  const std::vector<LabelledIndex> kept = apply_class_selection(novel, items);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].index, 0u);
  EXPECT_EQ(kept[0].label, 1);
  EXPECT_EQ(kept[1].index, 2u);
  EXPECT_EQ(kept[1].label, 0);
  EXPECT_EQ(kept[2].index, 4u);
  EXPECT_EQ(kept[2].label, 1);
  // Odd counts put the middle label on the base side: ceil(3 / 2) = 2.
  EXPECT_EQ(select_classes({5, 1, 3}, Subsample::kBase).labels, (std::vector<int>{1, 3}));
  EXPECT_EQ(select_classes({5, 1, 3}, Subsample::kNew).labels, (std::vector<int>{5}));
}

TEST(ClassSplit, AllKeepsItemsAndLabels) {
  const ClassSelection all = select_classes({1, 0, 2, 1}, Subsample::kAll);
  EXPECT_EQ(all.labels, (std::vector<int>{0, 1, 2}));
  const std::vector<LabelledIndex> items = {{0, 2}, {1, 0}, {2, 5}};
  const std::vector<LabelledIndex> kept = apply_class_selection(all, items);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[2].label, 5);
}

TEST(ClassSplit, AllKeepsLabelsWhenTheTrainSetLacksSome) {
  // CoCoOp's subsample_classes("all") returns its input unchanged, gaps included.
  const ClassSelection all = select_classes({0, 2, 2}, Subsample::kAll);
  EXPECT_EQ(all.labels, (std::vector<int>{0, 2}));
  const std::vector<LabelledIndex> kept = apply_class_selection(all, {{0, 2}, {1, 1}});
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1].label, 1);
}

TEST(ClassSplit, ParsesCoCoOpSubsampleNames) {
  EXPECT_EQ(parse_subsample("all"), Subsample::kAll);
  EXPECT_EQ(parse_subsample("base"), Subsample::kBase);
  EXPECT_EQ(parse_subsample("new"), Subsample::kNew);
  EXPECT_EQ(subsample_name(Subsample::kNew), "new");
  try {
    parse_subsample("novel");
    FAIL() << "'novel' must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'novel'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("all, base or new"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pg::sweeps
