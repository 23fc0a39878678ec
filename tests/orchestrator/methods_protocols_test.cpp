// Every method in every protocol through one sweep of the real binary, on a synthetic store with
// capped class counts: each task finishes, each table is written, and results that must agree across
// protocols do (the same training or the same classifier on the same test split gives the same number).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "storage/journal.h"
#include "support/test_data.h"

namespace pg {
namespace {

using nlohmann::json;
using testing::make_temp_dir;
using testing::run_promptgrid;

const std::vector<std::string> kMethods = {"zeroshot", "coop", "kgcoop", "cocoop", "linear_probe"};
const std::vector<std::string> kProtocols = {"fewshot", "base2novel", "cross_dataset", "domain_generalization"};

class MethodsAndProtocols : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = make_temp_dir("methods");
    const auto synth = run_promptgrid("synth --out " + dir_ + "/synthetic --max-classes 12 --threads 1");
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
    std::ofstream(dir_ + "/sweep.yaml") << "features: synthetic/features.h5\n"
                                        << "clip: synthetic/clip.safetensors\n"
                                        << "vocab: synthetic/vocab_bytes.txt\n"
                                        << "protocol: [fewshot, base2novel, cross_dataset, domain_generalization]\n"
                                        << "datasets: [eurosat, imagenet]\n"
                                        << "shots: [2]\n"
                                        << "seeds: [1]\n"
                                        << "methods:\n"
                                        << "  - name: zeroshot\n"
                                        << "  - {name: coop, n_ctx: 4, epochs: 2}\n"
                                        << "  - {name: kgcoop, epochs: 2}\n"
                                        << "  - {name: cocoop, epochs: 1, batch_size: 4}\n"
                                        << "  - name: linear_probe\n";
    run_ = run_promptgrid("run " + dir_ + "/sweep.yaml --out " + dir_ + "/out --threads 1");
    for (const auto& record : storage::read_journal(dir_ + "/out/journal.jsonl").records) {
      const json& spec = record["spec"];
      records_[{spec["protocol"].get<std::string>(), spec["method"].get<std::string>(), spec["dataset"].get<std::string>()}] =
          record;
    }
  }

  static const json& record(const std::string& protocol, const std::string& method, const std::string& dataset) {
    static const json none;
    const auto found = records_.find({protocol, method, dataset});
    return found == records_.end() ? none : found->second;
  }

  static std::string dir_;
  static testing::CommandResult run_;
  static std::map<std::tuple<std::string, std::string, std::string>, json> records_;
};

std::string MethodsAndProtocols::dir_;
testing::CommandResult MethodsAndProtocols::run_;
std::map<std::tuple<std::string, std::string, std::string>, json> MethodsAndProtocols::records_;

// One sweep, every check: the sweep is the expensive part (ctest runs each test in its own process).
TEST_F(MethodsAndProtocols, EveryMethodRunsInEveryProtocolAndTheResultsAgreeAcrossProtocols) {
  {
    SCOPED_TRACE("every task finishes and every table is written");
    ASSERT_EQ(run_.exit_code, 0) << run_.output;
    // 2 datasets x 2 protocols x 5 methods, plus 2 transfer protocols x 5 methods on the source.
    EXPECT_EQ(records_.size(), 2u * 2 * 5 + 2 * 5);
    for (const auto& [key, r] : records_) EXPECT_EQ(r["status"], "ok") << r.dump();
    for (const auto& table : kProtocols) {
      EXPECT_TRUE(file_exists(dir_ + "/out/tables/" + table + ".md")) << table;
      EXPECT_TRUE(file_exists(dir_ + "/out/tables/" + table + ".csv")) << table;
    }
    for (const char* title : {"Cross-dataset transfer", "Domain generalization", "CoCoOp", "KgCoOp", "Linear probe"}) {
      EXPECT_NE(run_.output.find(title), std::string::npos) << title << "\n" << run_.output;
    }
  }
  {
    SCOPED_TRACE("transfer targets are the stores other and shifted datasets");
    const json& cross = record("cross_dataset", "coop", "imagenet");
    ASSERT_TRUE(cross.is_object());
    // synth writes the 11 datasets and 4 test-only shifts of imagenet: 10 cross-dataset targets, 4 shifted.
    EXPECT_EQ(cross["spec"]["targets"].size(), 10u);
    for (const auto& target : cross["spec"]["targets"]) {
      EXPECT_TRUE(cross["metrics"].contains("target." + target.get<std::string>())) << target;
      EXPECT_NE(target.get<std::string>().rfind("imagenet_", 0), 0u) << "a shifted dataset is not a cross-dataset target";
    }
    const json& shifted = record("domain_generalization", "coop", "imagenet");
    const auto shifted_targets = shifted["spec"]["targets"].get<std::set<std::string>>();
    EXPECT_EQ(shifted_targets, (std::set<std::string>{"imagenet_v2", "imagenet_sketch", "imagenet_a", "imagenet_r"}));
    // imagenet_a keeps its real share of ImageNet's classes: 200 of 1000, here 12 * 200 / 1000 = 2.
    EXPECT_EQ(shifted["counts"]["test.imagenet_a"], 2 * 20);
    EXPECT_EQ(shifted["counts"]["test.imagenet_v2"], 12 * 20);
  }
  {
    SCOPED_TRACE("same training or same classifier gives the same numbers");
    // A transfer task trains on the source exactly as the few-shot task does (same spec but protocol).
    for (const auto& method : kMethods) {
      const json& fewshot = record("fewshot", method, "imagenet");
      for (const char* protocol : {"cross_dataset", "domain_generalization"}) {
        const json& transfer = record(protocol, method, "imagenet");
        EXPECT_EQ(transfer["metrics"]["accuracy"], fewshot["metrics"]["accuracy"]) << method << " " << protocol;
      }
    }
    // Zero-shot CLIP on eurosat as a cross-dataset target is zero-shot CLIP on eurosat.
    EXPECT_EQ(record("cross_dataset", "zeroshot", "imagenet")["metrics"]["target.eurosat"],
              record("fewshot", "zeroshot", "eurosat")["metrics"]["accuracy"]);
    // The average is the mean of the targets.
    const json& cross = record("cross_dataset", "cocoop", "imagenet");
    double sum = 0;
    for (const auto& target : cross["spec"]["targets"]) sum += cross["metrics"]["target." + target.get<std::string>()].get<double>();
    EXPECT_NEAR(cross["metrics"]["average"].get<double>(), sum / cross["spec"]["targets"].size(), 1e-9);
  }
  {
    SCOPED_TRACE("the linear probe has no novel classes and no other datasets classes");
    const json& base2novel = record("base2novel", "linear_probe", "eurosat");
    EXPECT_TRUE(base2novel["metrics"].contains("base"));
    EXPECT_FALSE(base2novel["metrics"].contains("novel"));
    EXPECT_EQ(base2novel["not_applicable"], json({"novel", "harmonic"}));
    const json& cross = record("cross_dataset", "linear_probe", "imagenet");
    EXPECT_EQ(cross["not_applicable"].size(), 11u);  // 10 targets and their average
    // The shifted ImageNets use ImageNet's classes (or a subset, by name): the probe classifies them.
    const json& shifted = record("domain_generalization", "linear_probe", "imagenet");
    EXPECT_FALSE(shifted.contains("not_applicable")) << shifted.dump();
    EXPECT_TRUE(shifted["metrics"].contains("target.imagenet_r"));
    const std::string table = read_file(dir_ + "/out/tables/base2novel.md", 1 << 20, "table");
    EXPECT_NE(table.find("n/a"), std::string::npos) << table;
    // The learned weights are saved, and the record says how C was chosen.
    EXPECT_TRUE(base2novel["train"].contains("c"));
    EXPECT_EQ(base2novel["train"]["search"]["c"].size(), 7u);
    EXPECT_TRUE(base2novel["train"]["converged"].get<bool>());
  }
  {
    SCOPED_TRACE("co co op saves its meta net and kg co op its context");
    const json& cocoop = record("fewshot", "cocoop", "eurosat");
    EXPECT_EQ(cocoop["spec"]["cocoop"]["batch_size"], 4);
    EXPECT_EQ(cocoop["spec"]["cocoop"]["ctx_init"], "a photo of a");
    EXPECT_TRUE(file_exists(dir_ + "/out/" + cocoop["prompt_file"].get<std::string>()));
    const json& kgcoop = record("fewshot", "kgcoop", "eurosat");
    EXPECT_EQ(kgcoop["spec"]["kgcoop"]["w"], 8.0);
    EXPECT_EQ(kgcoop["train"]["lr_per_epoch"].size(), 2u);
  }
}

}  // namespace
}  // namespace pg
