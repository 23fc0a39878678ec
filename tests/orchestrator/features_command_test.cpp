// `promptgrid features import` and `features info` end to end on a tiny split written by the test:
// the store holds exactly the .npy rows and split-file labels/paths, info reports the expected numbers,
// and each user mistake exits with code 2 and a message naming the file.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/files.h"
#include "storage/feature_store.h"
#include "storage/npy.h"
#include "support/test_data.h"

namespace pg {
namespace {

using testing::run_promptgrid;

constexpr int64_t kDim = 5;

void expect_contains(const std::string& output, const std::vector<std::string>& parts) {
  for (const auto& part : parts) EXPECT_NE(output.find(part), std::string::npos) << "'" << part << "' not in:\n" << output;
}

// Distinct values per split and cell, so a misplaced row would be noticed.
std::vector<float> feature_values(int64_t rows, float base) {
  std::vector<float> values;
  for (int64_t i = 0; i < rows * kDim; ++i) values.push_back(base + 0.25f * static_cast<float>(i));
  return values;
}

class FeaturesCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("features_command");
    // 3 classes; train 4, val 2, test 3 entries; classnames with '_' as CoOp's files have them.
    const nlohmann::json split = {
        {"train", {{"banded/a.jpg", 0, "banded"}, {"bubbly/b.jpg", 2, "bubbly"}, {"cracked_x/c.jpg", 1, "cracked_x"},
                   {"banded/d.jpg", 0, "banded"}}},
        {"val", {{"bubbly/e.jpg", 2, "bubbly"}, {"cracked_x/f.jpg", 1, "cracked_x"}}},
        {"test", {{"banded/g.jpg", 0, "banded"}, {"banded/h.jpg", 0, "banded"}, {"bubbly/i.jpg", 2, "bubbly"}}}};
    split_ = dir_ + "/split_zhou_Tiny.json";
    write_json_file_atomic(split_, split);
    storage::write_npy(dir_ + "/train.npy", 4, kDim, feature_values(4, 0.0f));
    storage::write_npy(dir_ + "/val.npy", 2, kDim, feature_values(2, 100.0f));
    storage::write_npy(dir_ + "/test.npy", 3, kDim, feature_values(3, -100.0f));
    store_ = dir_ + "/features.h5";
  }

  std::string import_args(const std::string& dataset, const std::string& extra = "") const {
    return "features import --split " + split_ + " --dataset " + dataset + " --out " + store_ +
           " --backbone ViT-B/16 --train " + dir_ + "/train.npy --val " + dir_ + "/val.npy --test " + dir_ +
           "/test.npy " + extra;
  }

  std::string dir_, split_, store_;
};

TEST_F(FeaturesCommandTest, ImportThenInfo) {
  const auto imported = run_promptgrid(import_args("dtd", "--dtype float32"));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;

  // The store holds the .npy rows and the split file's labels and paths, in order.
  const storage::FeatureStoreReader reader(store_);
  EXPECT_EQ(reader.backbone(), "ViT-B/16");
  EXPECT_EQ(reader.embed_dim(), kDim);
  EXPECT_EQ(reader.classnames("dtd"), (std::vector<std::string>{"banded", "cracked_x", "bubbly"}));
  EXPECT_EQ(reader.prompt_template("dtd"), "{} texture.");  // CoOp's DTD template, from the catalog
  const storage::SplitFeatures train = reader.read_split("dtd", "train");
  EXPECT_EQ(train.features, feature_values(4, 0.0f));
  EXPECT_EQ(train.labels, (std::vector<int32_t>{0, 2, 1, 0}));
  EXPECT_EQ(train.paths, (std::vector<std::string>{"banded/a.jpg", "bubbly/b.jpg", "cracked_x/c.jpg", "banded/d.jpg"}));
  EXPECT_EQ(reader.read_split("dtd", "test").features, feature_values(3, -100.0f));

  const auto info = run_promptgrid("features info " + store_);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  expect_contains(info.output, {"backbone:  ViT-B/16", "embed_dim: 5", "datasets:  1", "dtd", "classes:  3",
                                "template: \"{} texture.\"", "rows:     train 4, val 2, test 3",
                                "views:    0 per training image", "dtype:    float32"});
}

TEST_F(FeaturesCommandTest, ImportWithViewsTemplateAndAppend) {
  ASSERT_EQ(run_promptgrid(import_args("dtd")).exit_code, 0);
  std::vector<float> views(2 * 4 * kDim);
  for (size_t i = 0; i < views.size(); ++i) views[i] = static_cast<float>(i) / 4.0f;
  storage::write_npy(dir_ + "/views.npy", {2, 4, kDim}, views);
  const auto appended = run_promptgrid(import_args("my_textures", "--append --template 'a close-up of {}.' "
                                                                  "--train-views " + dir_ + "/views.npy"));
  ASSERT_EQ(appended.exit_code, 0) << appended.output;

  const storage::FeatureStoreReader reader(store_);
  EXPECT_EQ(reader.datasets(), (std::vector<std::string>{"dtd", "my_textures"}));
  const storage::SplitFeatures train = reader.read_split("my_textures", "train");
  EXPECT_EQ(train.num_views, 2);
  EXPECT_EQ(train.views, views);  // multiples of 1/4 below 40: exact in float16

  const auto info = run_promptgrid("features info " + store_);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  expect_contains(info.output, {"datasets:  2", "my_textures", "template: \"a close-up of {}.\"",
                                "views:    2 per training image", "dtype:    float16"});
}

TEST_F(FeaturesCommandTest, RowCountMismatchNamesBothFiles) {
  storage::write_npy(dir_ + "/val.npy", 3, kDim, feature_values(3, 0.0f));
  const auto result = run_promptgrid(import_args("dtd"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {dir_ + "/val.npy: has 3 rows, but split file " + split_ + " has 2 val entries"});
  EXPECT_FALSE(file_exists(store_)) << "a failed import must not leave a store behind";
}

TEST_F(FeaturesCommandTest, ColumnMismatchBetweenSplits) {
  storage::write_npy(dir_ + "/test.npy", 3, kDim + 1, std::vector<float>(3 * (kDim + 1), 0.5f));
  const auto result = run_promptgrid(import_args("dtd"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {dir_ + "/test.npy: has 6 columns, but " + dir_ + "/train.npy has 5"});
}

TEST_F(FeaturesCommandTest, ViewsOfWrongShape) {
  storage::write_npy(dir_ + "/views.npy", 4, kDim, feature_values(4, 0.0f));
  const auto result = run_promptgrid(import_args("dtd", "--train-views " + dir_ + "/views.npy"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {dir_ + "/views.npy: has shape [4, 5], expected [V, 4, 5]"});
}

TEST_F(FeaturesCommandTest, UnknownDatasetNeedsTemplate) {
  const auto result = run_promptgrid(import_args("my_textures"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {"my_textures", "pass --template"});
}

TEST_F(FeaturesCommandTest, ExistingStoreNeedsAppendAndNewDataset) {
  ASSERT_EQ(run_promptgrid(import_args("dtd")).exit_code, 0);
  auto result = run_promptgrid(import_args("dtd"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {store_ + ": already exists; pass --append"});

  result = run_promptgrid(import_args("dtd", "--append"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {store_ + ": /dtd: already in the store"});

  result = run_promptgrid("features import --split " + split_ + " --dataset eurosat --out " + store_ +
                          " --backbone RN50 --train " + dir_ + "/train.npy --val " + dir_ + "/val.npy --test " +
                          dir_ + "/test.npy --append");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {store_ + ": the store holds backbone ViT-B/16"});
}

TEST_F(FeaturesCommandTest, InfoOnNonStore) {
  write_json_file_atomic(dir_ + "/notes.h5", nlohmann::json{{"a", 1}});
  const auto result = run_promptgrid("features info " + dir_ + "/notes.h5");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_contains(result.output, {dir_ + "/notes.h5: not an HDF5 file"});
}

}  // namespace
}  // namespace pg

namespace pg {
namespace {

TEST_F(FeaturesCommandTest, TestOnlyDatasetWithASourceKeepsItsTestSplitAloneAndSaysItsSource) {
  ASSERT_EQ(run_promptgrid(import_args("dtd")).exit_code, 0);
  const std::string shifted = "features import --split " + split_ + " --dataset dtd_sketch --out " + store_ +
                              " --backbone ViT-B/16 --test " + dir_ + "/test.npy --source dtd --append";
  const auto result = run_promptgrid(shifted);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const storage::FeatureStoreReader reader(store_);
  const storage::DatasetSummary summary = reader.summary("dtd_sketch");
  EXPECT_EQ(summary.source, "dtd");
  EXPECT_EQ(summary.split_rows, (std::map<std::string, int64_t>{{"test", 3}}));
  EXPECT_EQ(summary.prompt_template, reader.prompt_template("dtd"));  // the source's template by default
  EXPECT_TRUE(reader.summary("dtd").source.empty());
  // A train split with --source, or a dataset without one that lacks its train split, is refused.
  const auto with_train = run_promptgrid(shifted + " --train " + dir_ + "/train.npy");
  EXPECT_EQ(with_train.exit_code, 2);
  expect_contains(with_train.output, {"--train", "test-only"});
  const auto no_train = run_promptgrid("features import --split " + split_ + " --dataset eurosat --out " + store_ +
                                       " --backbone ViT-B/16 --test " + dir_ + "/test.npy --append");
  EXPECT_EQ(no_train.exit_code, 2);
  expect_contains(no_train.output, {"--train is missing", "--source"});
}

}  // namespace
}  // namespace pg
