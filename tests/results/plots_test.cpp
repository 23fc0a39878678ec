#include "results/plots.h"

#include <gtest/gtest.h>

#include "common/files.h"
#include "support/test_data.h"

namespace pg::results {
namespace {

using nlohmann::json;

json record(const std::string& method, const std::string& dataset, int shots, int seed, double accuracy) {
  json spec = {{"method", method}, {"protocol", "fewshot"}, {"dataset", dataset}};
  if (method == "coop") spec.update({{"shots", shots}, {"seed", seed}, {"coop", json::object()}});
  return {{"task_id", method + dataset + std::to_string(shots) + std::to_string(seed)},
          {"status", "ok"},
          {"spec", spec},
          {"metrics", {{"accuracy", accuracy}}}};
}

std::vector<json> curves() {
  std::vector<json> records = {record("zeroshot", "dtd", 0, 0, 44), record("zeroshot", "eurosat", 0, 0, 48)};
  for (int shots : {1, 2, 4}) {
    for (int seed : {1, 2}) {
      records.push_back(record("coop", "dtd", shots, seed, 40 + 3 * shots + seed));
      records.push_back(record("coop", "eurosat", shots, seed, 50 + 5 * shots - seed));
    }
  }
  return records;
}

TEST(Plots, ScriptHasOnePanelPerDatasetPlusTheAverageWithBandsAndZeroShot) {
  const std::string script = fewshot_plot_script(curves(), "/x/a.png", "/x/a.svg");
  EXPECT_NE(script.find("set multiplot layout 1,3"), std::string::npos) << script;
  EXPECT_NE(script.find("set title 'dtd'"), std::string::npos);
  EXPECT_NE(script.find("set title 'eurosat'"), std::string::npos);
  EXPECT_NE(script.find("set title 'average'"), std::string::npos);
  EXPECT_NE(script.find("set logscale x 2"), std::string::npos);
  EXPECT_NE(script.find("with filledcurves"), std::string::npos);
  EXPECT_NE(script.find("title 'Zero-shot CLIP'"), std::string::npos);
  // dtd, 1 shot: seeds 44 and 45: mean 44.5, std 0.5 -> band 44 to 45.
  EXPECT_NE(script.find("1 44.5000 44.0000 45.0000\n"), std::string::npos) << script;
  // The average panel: dtd 44.5 and eurosat 53.5 at 1 shot.
  EXPECT_NE(script.find("1 49.0000"), std::string::npos) << script;
  EXPECT_NE(script.find("set output '/x/a.png'"), std::string::npos);
  EXPECT_NE(script.find("set output '/x/a.svg'"), std::string::npos);
  EXPECT_EQ(fewshot_plot_script({record("zeroshot", "dtd", 0, 0, 44)}, "a", "b"), "") << "nothing to draw";
}

TEST(Plots, GnuplotWritesAPngAndAnSvg) {
  const std::string folder = testing::make_temp_dir("plots");
  const std::vector<std::string> written = write_fewshot_plots(curves(), folder);
  ASSERT_EQ(written.size(), 2u) << "gnuplot (gnuplot-nox) is installed by scripts/install_dependencies.sh";
  const std::string png = testing::read_bytes(folder + "/fewshot.png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_NE(testing::read_bytes(folder + "/fewshot.svg").find("<svg"), std::string::npos);
  EXPECT_TRUE(file_exists(folder + "/fewshot.gp"));
}

}  // namespace
}  // namespace pg::results
