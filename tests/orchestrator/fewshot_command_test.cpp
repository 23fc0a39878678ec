// `promptgrid fewshot` end to end: its output against the golden few-shot samples of
// ../shared/data/fewshot (relpath = golden impath without its dataset prefix), and its error exits.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/strings.h"
#include "support/test_data.h"

namespace pg {
namespace {

using testing::run_promptgrid;
using testing::shared_data;

struct Expected {
  std::vector<std::string> train, val;
};

// The golden sample's relpaths (prefix stripped), keeping only labels in [min_label, max_label].
Expected golden_relpaths(const std::string& golden_file, const std::string& prefix, int min_label, int max_label) {
  const nlohmann::json golden = pg::testing::read_json(shared_data(golden_file));
  Expected expected;
  for (const auto& [split, paths] : {std::pair{"train", &expected.train}, std::pair{"val", &expected.val}}) {
    for (const auto& item : golden.at(split).at("data")) {
      const std::string impath = item.at("impath").get<std::string>();
      EXPECT_TRUE(starts_with(impath, prefix)) << impath;
      const int label = item.at("label").get<int>();
      if (label >= min_label && label <= max_label) paths->push_back(impath.substr(prefix.size()));
    }
  }
  return expected;
}

void expect_output(const testing::CommandResult& result, const Expected& expected) {
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json output = nlohmann::json::parse(result.output);
  ASSERT_TRUE(output.is_object());
  EXPECT_EQ(output.size(), 2u);
  EXPECT_EQ(output.at("train").get<std::vector<std::string>>(), expected.train);
  EXPECT_EQ(output.at("val").get<std::vector<std::string>>(), expected.val);
}

TEST(FewShotCommand, PrintsTheGoldenSample) {
  const std::string split = shared_data("splits/split_zhou_DescribableTextures.json");
  const Expected expected = golden_relpaths("fewshot/dtd/shot_4-seed_2.json", "./data/dtd/images/", 0, 1000);
  ASSERT_EQ(expected.train.size(), 47u * 4);
  expect_output(run_promptgrid("fewshot --split " + split + " --shots 4 --seed 2"), expected);
  expect_output(run_promptgrid("fewshot --split " + split + " --shots 4 --seed 2 --subsample all"), expected);
}

TEST(FewShotCommand, BaseKeepsTheFirstHalfOfTheClasses) {
  // EuroSAT: 10 labels -> base 0..4.
  const std::string split = shared_data("splits/split_zhou_EuroSAT.json");
  const Expected expected = golden_relpaths("fewshot/eurosat/shot_2-seed_3.json", "./data/eurosat/2750/", 0, 4);
  ASSERT_EQ(expected.train.size(), 5u * 2);
  expect_output(run_promptgrid("fewshot --split " + split + " --shots 2 --seed 3 --subsample base"), expected);
}

TEST(FewShotCommand, NewKeepsTheSecondHalfOfTheClasses) {
  // Oxford Pets: 37 labels -> base 0..18 (ceil(37 / 2) = 19), new 19..36.
  const std::string split = shared_data("splits/split_zhou_OxfordPets.json");
  const Expected expected = golden_relpaths("fewshot/oxford_pets/shot_16-seed_1.json", "./data/oxford_pets/images/", 19, 36);
  ASSERT_EQ(expected.train.size(), 18u * 16);
  expect_output(run_promptgrid("fewshot --split " + split + " --shots 16 --seed 1 --subsample new"), expected);
}

TEST(FewShotCommand, BadSubsampleValueExitsWithCode2) {
  const std::string split = shared_data("splits/split_zhou_EuroSAT.json");
  const auto result = run_promptgrid("fewshot --split " + split + " --shots 2 --seed 1 --subsample novel");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("--subsample"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("novel"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("base"), std::string::npos) << result.output;
}

TEST(FewShotCommand, MissingSplitFileExitsWithCode2) {
  const std::string missing = testing::make_temp_dir("fewshot_command") + "/split_zhou_Missing.json";
  const auto result = run_promptgrid("fewshot --split " + missing + " --shots 2 --seed 1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find(missing), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("cannot open"), std::string::npos) << result.output;
}

TEST(FewShotCommand, MalformedSplitFileExitsWithCode2) {
  const std::string path = testing::make_temp_dir("fewshot_command") + "/bad.json";
  write_file_atomic(path, R"({"train": [["a.jpg", "0", "a"]], "val": [], "test": []})");
  const auto result = run_promptgrid("fewshot --split " + path + " --shots 2 --seed 1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("train[0] field 1 (label)"), std::string::npos) << result.output;
}

TEST(FewShotCommand, NonPositiveShotsExitWithCode2) {
  const std::string split = shared_data("splits/split_zhou_EuroSAT.json");
  const auto result = run_promptgrid("fewshot --split " + split + " --shots 0 --seed 1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("not a few-shot setting"), std::string::npos) << result.output;
}

TEST(FewShotCommand, MissingRequiredOptionExitsWithCode2) {
  const auto result = run_promptgrid("fewshot --shots 2 --seed 1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("--split"), std::string::npos) << result.output;
}

TEST(FewShotCommand, HelpDescribesTheOptions) {
  const auto result = run_promptgrid("fewshot --help");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (const char* option : {"--split", "--shots", "--seed", "--subsample"}) {
    EXPECT_NE(result.output.find(option), std::string::npos) << option << " missing from:\n" << result.output;
  }
}

}  // namespace
}  // namespace pg
