#include "results/tables.h"
#include "sweeps/protocol.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "common/files.h"
#include "support/test_data.h"

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
          {"metrics", {{"base", base}, {"novel", novel}, {"harmonic", sweeps::harmonic_mean(base, novel)}}}};
}

json with_lr(json record, double lr, double val) {
  record["spec"]["coop"]["lr"] = lr;
  record["metrics"]["val_accuracy"] = val;
  record["task_id"] = record["task_id"].get<std::string>() + std::to_string(lr);
  return record;
}

TEST(Tables, MeanStdUsesPopulationStd) {
  const MeanStd value = mean_std({70.0, 72.0, 74.0});
  EXPECT_DOUBLE_EQ(value.mean, 72.0);
  EXPECT_NEAR(value.std, std::sqrt(8.0 / 3.0), 1e-12);  // ddof 0, as numpy.std
  EXPECT_EQ(value.count, 3);
}

TEST(Tables, HarmonicMeanReproducesPublishedAverages) {
  // DESIGN §1: ViT-B/16 base-to-novel averages B/N/H as published.
  EXPECT_NEAR(sweeps::harmonic_mean(69.34, 74.22), 71.70, 0.005);  // CLIP
  EXPECT_NEAR(sweeps::harmonic_mean(82.69, 63.22), 71.66, 0.005);  // CoOp
  EXPECT_NEAR(sweeps::harmonic_mean(80.47, 71.69), 75.83, 0.005);  // CoCoOp
  EXPECT_EQ(sweeps::harmonic_mean(0, 0), 0);
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

TEST(Tables, FailedRecordsAreListedAndMarkedNotAveraged) {
  std::vector<json> records = {coop_record("eurosat", 1, 1, 60),
                               {{"task_id", "abc"}, {"status", "failed"}, {"error", "loss became NaN"},
                                {"spec", coop_record("dtd", 1, 1, 0)["spec"]}}};
  const std::string table = fewshot_table_markdown(records);
  EXPECT_NE(table.find("| dtd | failed |"), std::string::npos) << table;
  EXPECT_NE(table.find("| **average** | – |"), std::string::npos) << table;
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
  // Epochs: named only when they are not CoOp's schedule (dtd, 1 shot: 50).
  spec = coop_record("dtd", 1, 1, 0)["spec"];
  spec["coop"]["epochs"] = 50;
  EXPECT_EQ(method_label(spec), "CoOp");
  spec["coop"]["epochs"] = 3;
  EXPECT_EQ(method_label(spec), "CoOp (3 epochs)");
}

TEST(Tables, CellsWithFewerSeedsThanAskedAreFlaggedAndFailedCellsMarked) {
  std::vector<json> records = {coop_record("eurosat", 1, 1, 60), coop_record("eurosat", 1, 2, 64),
                               coop_record("dtd", 1, 1, 40),
                               {{"task_id", "x"}, {"status", "failed"}, {"error", "out of memory"},
                                {"spec", coop_record("dtd", 1, 2, 0)["spec"]}},
                               {{"task_id", "y"}, {"status", "failed"}, {"error", "out of memory"},
                                {"spec", coop_record("dtd", 2, 1, 0)["spec"]}}};
  TableOptions options;
  options.expected_seeds = 2;
  const std::string table = render_markdown(fewshot_table(records, options));
  EXPECT_NE(table.find("| dtd | 40.00† | failed |"), std::string::npos) << table;
  EXPECT_NE(table.find("| eurosat | 62.00 ± 2.00 | – |"), std::string::npos) << table;
  EXPECT_NE(table.find("| **average** | 51.00† | – |"), std::string::npos) << table;
  EXPECT_NE(table.find("† fewer than the 2 seeds asked for"), std::string::npos) << table;
}

TEST(Tables, RunsOnDifferentInputsInOneCellAreMarked) {
  // The same settings on re-extracted features: other task ids, the same label, one journal.
  json old_features = coop_record("dtd", 1, 1, 40), new_features = coop_record("dtd", 1, 2, 60);
  old_features["spec"]["inputs"] = {{"features", "aaaa"}, {"checkpoint", "cccc"}};
  new_features["spec"]["inputs"] = {{"features", "bbbb"}, {"checkpoint", "cccc"}};
  const std::string table = render_markdown(fewshot_table({old_features, new_features}));
  EXPECT_NE(table.find("| dtd | 50.00 ± 10.00‡ |"), std::string::npos) << table;
  EXPECT_NE(table.find("‡ runs on different inputs"), std::string::npos) << table;
}

TEST(Tables, CsvIsOneLinePerCellAndLatexUsesBooktabs) {
  std::vector<json> records = {coop_record("eurosat", 1, 1, 60), coop_record("eurosat", 1, 2, 64),
                               coop_record("dtd", 1, 1, 40), coop_record("dtd", 1, 2, 44)};
  const Table table = fewshot_table(records);
  const std::string csv = render_csv(table);
  EXPECT_EQ(csv,
            "dataset,column,value,mean,std,seeds,short_of_seeds,mixed_inputs\n"
            "dtd,\"CoOp, 1 shot\",42.00 ± 2.00,42.00,2.00,2,false,false\n"
            "eurosat,\"CoOp, 1 shot\",62.00 ± 2.00,62.00,2.00,2,false,false\n"
            "average,\"CoOp, 1 shot\",52.00,52.00,,1,false,false\n");
  const std::string latex = render_latex(table);
  EXPECT_NE(latex.find("\\toprule\ndataset & CoOp, 1 shot \\\\\n\\midrule\n"), std::string::npos) << latex;
  EXPECT_NE(latex.find("dtd & 42.00 $\\pm$ 2.00 \\\\"), std::string::npos) << latex;
  EXPECT_NE(latex.find("\\midrule\naverage & 52.00 \\\\\n\\bottomrule"), std::string::npos) << latex;
  EXPECT_NE(latex.find("mean $\\pm$ std"), std::string::npos) << latex;  // the caption, escaped
}

TEST(Tables, LatexTablesCompileWithPdflatex) {
  // Every mark a table can hold: ± std, †, –, failed, ✓, and a label with LaTeX's special characters.
  std::vector<json> records = {coop_record("eurosat", 1, 1, 60), coop_record("eurosat", 1, 2, 64),
                               with_lr(coop_record("dtd", 1, 1, 40), 0.01, 3),
                               {{"task_id", "x"}, {"status", "failed"}, {"error", "oom"},
                                {"spec", coop_record("dtd", 2, 1, 0)["spec"]}},
                               b2n_record("zeroshot", "my_data&100%", 70, 60)};
  TableOptions options;
  options.expected_seeds = 2;
  options.select_by_val = true;
  const std::string dir = testing::make_temp_dir("latex");
  std::ofstream(dir + "/tables.tex") << "\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n"
                                        "\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\begin{document}\n"
                                     << render_latex(fewshot_table(records, options))
                                     << render_latex(base2novel_table(records, options))
                                     << render_latex(sweep_table(records, options)) << "\\end{document}\n";
  const int status = std::system(("cd " + dir + " && pdflatex -interaction=nonstopmode -halt-on-error tables.tex "
                                   "> pdflatex.log 2>&1").c_str());
  EXPECT_EQ(status, 0) << "pdflatex failed (texlive-latex-recommended is installed by "
                          "scripts/install_dependencies.sh):\n"
                       << testing::read_bytes(dir + "/pdflatex.log");
  EXPECT_TRUE(file_exists(dir + "/tables.pdf"));
}

TEST(Tables, SelectionByValidationPicksTheBestSettingPerCellAndSaysSo) {
  // lr 0.01 is better on val for eurosat (and on test), lr 0.002 for dtd (though worse on test):
  // the selection follows val, never test.
  std::vector<json> records = {
      with_lr(coop_record("eurosat", 1, 1, 70), 0.01, 80), with_lr(coop_record("eurosat", 1, 1, 60), 0.002, 50),
      with_lr(coop_record("dtd", 1, 1, 30), 0.01, 20), with_lr(coop_record("dtd", 1, 1, 50), 0.002, 10),
      with_lr(coop_record("dtd", 1, 2, 40), 0.002, 40)};
  TableOptions options;
  options.select_by_val = true;
  options.expected_seeds = 1;
  const std::string table = render_markdown(fewshot_table(records, options));
  EXPECT_NE(table.find("| CoOp (best on val), 1 shot |"), std::string::npos) << table;
  EXPECT_NE(table.find("| dtd | 45.00 ± 5.00 |"), std::string::npos) << table;  // lr 0.002: val 25 > 20
  EXPECT_NE(table.find("| eurosat | 70.00 |"), std::string::npos) << table;
  EXPECT_NE(table.find("best on val: dtd, 1 shot: CoOp\n"), std::string::npos) << table;
  EXPECT_NE(table.find("best on val: eurosat, 1 shot: CoOp (lr 0.01)"), std::string::npos) << table;
  const std::string sweep = render_markdown(sweep_table(records, options));
  EXPECT_NE(sweep.find("| fewshot | dtd | 1 | CoOp | 2 | 25.00 | 45.00 | ✓ |"), std::string::npos) << sweep;
  EXPECT_NE(sweep.find("| fewshot | dtd | 1 | CoOp (lr 0.01) | 1 | 20.00 | 30.00 |  |"), std::string::npos) << sweep;
}

}  // namespace
}  // namespace pg::results

namespace pg::results {
namespace {

json transfer_record(const std::string& method, int seed, double source, const std::map<std::string, double>& targets) {
  json record = {{"status", "ok"},
                 {"spec",
                  {{"method", method}, {"protocol", "cross_dataset"}, {"dataset", "imagenet"}, {"shots", 16}, {"seed", seed},
                   {"targets", json::array()}}},
                 {"metrics", {{"accuracy", source}}}};
  double sum = 0;
  for (const auto& [name, value] : targets) {
    record["spec"]["targets"].push_back(name);
    record["metrics"]["target." + name] = value;
    sum += value;
  }
  record["metrics"]["average"] = sum / static_cast<double>(targets.size());
  return record;
}

TEST(Tables, TransferTableHasTheSourceEachTargetAndTheAverage) {
  const std::vector<json> records = {transfer_record("coop", 1, 70, {{"dtd", 40}, {"eurosat", 50}}),
                                     transfer_record("coop", 2, 72, {{"dtd", 44}, {"eurosat", 48}})};
  const Table table = transfer_table(records, "cross_dataset");
  ASSERT_EQ(table.rows.size(), 1u);
  EXPECT_EQ(table.header, (std::vector<std::string>{"method", "source (imagenet)", "dtd", "eurosat", "average"}));
  EXPECT_DOUBLE_EQ(*table.rows[0][1].mean, 71.0);
  EXPECT_DOUBLE_EQ(*table.rows[0][2].mean, 42.0);
  EXPECT_DOUBLE_EQ(*table.rows[0][3].mean, 49.0);
  EXPECT_DOUBLE_EQ(*table.rows[0][4].mean, 45.5);
  EXPECT_TRUE(transfer_table(records, "domain_generalization").rows.empty());
}

TEST(Tables, AMetricAMethodCannotHaveIsNotApplicableNeverANumber) {
  json probe = b2n_record("linear_probe", "dtd", 80, 0);
  probe["spec"]["shots"] = 16;
  probe["metrics"].erase("novel");
  probe["metrics"].erase("harmonic");
  probe["not_applicable"] = {"novel", "harmonic"};
  EXPECT_TRUE(sweeps::missing_metrics(probe).empty());
  const Table table = base2novel_table({probe});
  ASSERT_EQ(table.rows.size(), 1u);
  EXPECT_DOUBLE_EQ(*table.rows[0][1].mean, 80.0);
  EXPECT_EQ(table.rows[0][2].text, "n/a");
  EXPECT_FALSE(table.rows[0][2].mean.has_value());
  EXPECT_EQ(table.rows[0][3].text, "n/a");
  // Without the not_applicable list the same record is incomplete: listed, not tabled.
  probe.erase("not_applicable");
  EXPECT_EQ(sweeps::missing_metrics(probe), (std::vector<std::string>{"novel", "harmonic"}));
}

}  // namespace
}  // namespace pg::results
