#include "results/tables.h"

#include <gtest/gtest.h>

namespace pg::results {
namespace {

using nlohmann::json;

json coop_record(const std::string& dataset, int shots, int seed, double accuracy) {
  return {{"task_id", dataset + std::to_string(shots) + std::to_string(seed)},
          {"status", "ok"},
          {"spec",
           {{"method", "coop"}, {"protocol", "fewshot"}, {"dataset", dataset}, {"shots", shots}, {"seed", seed},
            {"coop", {{"n_ctx", 16}, {"ctx_init", ""}, {"class_specific", false}, {"class_token_position", "end"},
                      {"batch_size", 32}, {"lr", 0.002}, {"precision", "fp32"}}}}},
          {"metrics", {{"accuracy", accuracy}}}};
}

json b2n_record(const std::string& method, const std::string& dataset, double base, double novel) {
  return {{"status", "ok"},
          {"spec", {{"method", method}, {"protocol", "base2novel"}, {"dataset", dataset}}},
          {"metrics", {{"base", base}, {"novel", novel}}}};
}

TEST(Tables, MeanStdUsesPopulationStd) {
  const MeanStd value = mean_std({70.0, 72.0, 74.0});
  EXPECT_DOUBLE_EQ(value.mean, 72.0);
  EXPECT_NEAR(value.std, std::sqrt(8.0 / 3.0), 1e-12);  // ddof 0, as numpy.std
  EXPECT_EQ(value.count, 3);
}

TEST(Tables, HarmonicMeanReproducesPublishedAverages) {
  // DESIGN §1: ViT-B/16 base-to-novel averages B/N/H as published.
  EXPECT_NEAR(harmonic_mean(69.34, 74.22), 71.70, 0.005);  // CLIP
  EXPECT_NEAR(harmonic_mean(82.69, 63.22), 71.66, 0.005);  // CoOp
  EXPECT_NEAR(harmonic_mean(80.47, 71.69), 75.83, 0.005);  // CoCoOp
  EXPECT_EQ(harmonic_mean(0, 0), 0);
}

TEST(Tables, FewshotTableHasMeanStdPerCellAndAverageRow) {
  std::vector<json> records = {coop_record("eurosat", 1, 1, 60), coop_record("eurosat", 1, 2, 64),
                               coop_record("dtd", 1, 1, 40), coop_record("dtd", 1, 2, 44)};
  const std::string table = fewshot_table_markdown(records);
  EXPECT_NE(table.find("| CoOp, 1 shot |"), std::string::npos) << table;
  EXPECT_NE(table.find("| eurosat | 62.00 ± 2.00 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| dtd | 42.00 ± 2.00 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| **average** | 52.00 |"), std::string::npos) << table;
  // Catalog order: dtd comes before eurosat in the papers' order.
  EXPECT_LT(table.find("| dtd"), table.find("| eurosat"));
}

TEST(Tables, AverageIsLeftOutWhenAColumnMissesADataset) {
  std::vector<json> records = {coop_record("eurosat", 1, 1, 60), coop_record("dtd", 1, 1, 40),
                               coop_record("dtd", 2, 1, 50)};
  const std::string table = fewshot_table_markdown(records);
  EXPECT_NE(table.find("| eurosat | 60.00 | – |"), std::string::npos) << table;
  EXPECT_NE(table.find("| **average** | 50.00 | – |"), std::string::npos) << table;
}

TEST(Tables, Base2NovelAverageTakesHOfAveragedBaseAndNovel) {
  std::vector<json> records = {b2n_record("coop", "eurosat", 90, 50), b2n_record("coop", "dtd", 70, 70)};
  const std::string table = base2novel_table_markdown(records);
  // B = 80, N = 60, H = 2*80*60/140 = 68.57 (not the mean of per-dataset H's, 67.14).
  EXPECT_NE(table.find("| **average** | 80.00 | 60.00 | 68.57 |"), std::string::npos) << table;
}

TEST(Tables, FailedRecordsAreListedNotAveraged) {
  std::vector<json> records = {coop_record("eurosat", 1, 1, 60),
                               {{"task_id", "abc"}, {"status", "failed"}, {"error", "loss became NaN"},
                                {"spec", {{"dataset", "dtd"}, {"protocol", "fewshot"}, {"method", "coop"}}}}};
  EXPECT_EQ(fewshot_table_markdown(records).find("dtd"), std::string::npos);
  EXPECT_EQ(failures_markdown(records), "- task abc (dtd) failed: loss became NaN\n");
}

TEST(Tables, ARecordWithoutItsMetricIsListedNeverCountedAsZero) {
  // Two seeds of 60 and a third record of the same cell whose accuracy is missing: the cell is the
  // mean of the two (60.00 with no ± 0 from a phantom 0), and the third record is named.
  json broken = coop_record("eurosat", 1, 3, 0);
  broken["metrics"].erase("accuracy");
  json no_novel = b2n_record("coop", "dtd", 80, 0);
  no_novel["task_id"] = "b2n";
  no_novel["metrics"]["novel"] = "n/a";
  const std::vector<json> records = {coop_record("eurosat", 1, 1, 60), coop_record("eurosat", 1, 2, 60), broken,
                                     b2n_record("coop", "eurosat", 90, 50), no_novel};
  const std::string fewshot = fewshot_table_markdown(records);
  EXPECT_NE(fewshot.find("| eurosat | 60.00 ± 0.00 |"), std::string::npos) << fewshot;
  EXPECT_EQ(base2novel_table_markdown(records).find("dtd"), std::string::npos);
  EXPECT_EQ(failures_markdown(records),
            "- task eurosat13 (eurosat) has no accuracy in its record's metrics; left out of the tables\n"
            "- task b2n (dtd) has no novel in its record's metrics; left out of the tables\n");
}

TEST(Tables, MethodLabelNamesNonDefaultSettings) {
  json spec = coop_record("dtd", 1, 1, 0)["spec"];
  EXPECT_EQ(method_label(spec), "CoOp");
  spec["coop"]["ctx_init"] = "a photo of a";
  spec["coop"]["class_token_position"] = "middle";
  spec["coop"]["lr"] = 0.004;
  EXPECT_EQ(method_label(spec), "CoOp (init \"a photo of a\", middle, lr 0.004)");
  EXPECT_EQ(method_label({{"method", "zeroshot"}}), "Zero-shot CLIP");
}

}  // namespace
}  // namespace pg::results
