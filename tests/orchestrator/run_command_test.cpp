// End-to-end tests of `promptgrid run` (sweep files, journal, resume, MPI ranks) through the real binary.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/files.h"
#include "storage/journal.h"
#include "text/tokenizer.h"
#include "support/test_data.h"

namespace pg {
namespace {

using nlohmann::json;
using testing::make_temp_dir;
using testing::run_promptgrid;
using testing::run_shell;

// Two small synthetic datasets, both protocols, zero-shot and CoOp: 2 x 2 x (1 + 2 x 2) = 20 tasks.
constexpr size_t kTasks = 20;

class RunCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_dir_ = make_temp_dir("run_synthetic");
    const auto synth = run_promptgrid("synth --out " + shared_dir_ + " --datasets eurosat,dtd --threads 1");
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
  }

  void SetUp() override {
    dir_ = make_temp_dir("run");
    std::ofstream(dir_ + "/sweep.yaml") << "features: " << shared_dir_ << "/features.h5\n"
                                        << "clip: " << shared_dir_ << "/clip.safetensors\n"
                                        << "vocab: " << shared_dir_ << "/vocab_bytes.txt\n"
                                        << "protocol: [fewshot, base2novel]\n"
                                        << "datasets: [eurosat, dtd]\n"
                                        << "shots: [1, 2]\n"
                                        << "seeds: [1, 2]\n"
                                        << "methods:\n  - name: zeroshot\n  - name: coop\n    epochs: 3\n";
  }

  testing::CommandResult run(const std::string& out, const std::string& extra = "") {
    return run_promptgrid("run " + dir_ + "/sweep.yaml --out " + out + " --threads 1 " + extra);
  }
  testing::CommandResult run(const char* extra) { return run(dir_ + "/out", extra); }

  static std::vector<json> journal(const std::string& out) { return storage::read_journal(out + "/journal.jsonl").records; }

  static std::string mpirun() {
    return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
           "mpirun --oversubscribe -np 3 $PG";
  }

  static std::string shared_dir_;
  std::string dir_;
};

std::string RunCommand::shared_dir_;

TEST_F(RunCommand, SweepRunsEveryTaskOnceWritesTablesAndResumesWithNothingToDo) {
  const auto first = run(dir_ + "/out");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  std::vector<json> records = journal(dir_ + "/out");
  ASSERT_EQ(records.size(), kTasks);
  std::set<std::string> ids;
  for (const auto& record : records) {
    ids.insert(record["task_id"].get<std::string>());
    EXPECT_EQ(record["status"], "ok") << record.dump();
    if (record["spec"]["method"] == "coop") {
      EXPECT_TRUE(record["metrics"].contains("val_accuracy")) << record.dump();
      EXPECT_TRUE(file_exists(dir_ + "/out/" + record["prompt_file"].get<std::string>()));
      // The few-shot sample: K distinct train rows and min(K, 4) val rows per class, with the digest.
      if (record["spec"]["protocol"] == "fewshot") {
        const auto train_rows = record["sample"]["train_rows"].get<std::vector<int64_t>>();
        const auto val_rows = record["sample"]["val_rows"].get<std::vector<int64_t>>();
        const int shots = record["spec"]["shots"].get<int>();
        const int classes = record["counts"]["classes"].get<int>();
        EXPECT_EQ(train_rows.size(), static_cast<size_t>(shots * classes));
        EXPECT_EQ(val_rows.size(), static_cast<size_t>(std::min(shots, 4) * classes));
        EXPECT_EQ(std::set<int64_t>(train_rows.begin(), train_rows.end()).size(), train_rows.size());
        EXPECT_EQ(record["sample"]["paths_xxh64"].get<std::string>().size(), 16u);
      }
    }
    EXPECT_TRUE(file_exists(dir_ + "/out/logs/" + record["task_id"].get<std::string>() + ".log"));
  }
  EXPECT_EQ(ids.size(), kTasks);
  EXPECT_TRUE(file_exists(dir_ + "/out/tables/fewshot.md"));
  EXPECT_TRUE(file_exists(dir_ + "/out/tables/base2novel.md"));
  EXPECT_NE(first.output.find("| eurosat |"), std::string::npos) << first.output;
  const std::string resolved = testing::read_bytes(dir_ + "/out/sweep.yaml");
  EXPECT_NE(resolved.find("LibTorch"), std::string::npos) << resolved;

  const auto again = run(dir_ + "/out");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find(std::to_string(kTasks) + " tasks: " + std::to_string(kTasks) + " finished before, 0 run now"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(journal(dir_ + "/out").size(), kTasks);

  // A changed sweep runs only its new tasks; the journal keeps the old ones.
  const auto more = run(dir_ + "/out", "seeds=[1,2,3]");
  ASSERT_EQ(more.exit_code, 0) << more.output;
  EXPECT_EQ(journal(dir_ + "/out").size(), kTasks + 2 * 2 * 2);  // one more seed of 2 shots x 2 datasets x 2 protocols

  const auto status = run_promptgrid("status " + dir_ + "/out");
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("finished"), std::string::npos) << status.output;
}

TEST_F(RunCommand, ThreeMpiRanksGiveTheSameJournalAsOneProcess) {
  const auto single = run(dir_ + "/single");
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto ranks = run_shell(mpirun() + " run " + dir_ + "/sweep.yaml --out " + dir_ + "/mpi --threads 1");
  ASSERT_EQ(ranks.exit_code, 0) << ranks.output;
  std::map<std::string, json> by_id;
  for (const auto& record : journal(dir_ + "/single")) by_id[record["task_id"]] = record["metrics"];
  const std::vector<json> records = journal(dir_ + "/mpi");
  ASSERT_EQ(records.size(), kTasks);
  std::set<int> worker_ranks;
  for (const auto& record : records) {
    EXPECT_EQ(record["metrics"], by_id[record["task_id"]]) << record.dump();
    worker_ranks.insert(record["rank"].get<int>());
  }
  EXPECT_EQ(worker_ranks, (std::set<int>{1, 2})) << "both worker ranks take tasks; rank 0 only coordinates";
  EXPECT_EQ(testing::read_bytes(dir_ + "/single/tables/fewshot.md"), testing::read_bytes(dir_ + "/mpi/tables/fewshot.md"));
  EXPECT_EQ(testing::read_bytes(dir_ + "/single/tables/base2novel.md"),
            testing::read_bytes(dir_ + "/mpi/tables/base2novel.md"));
}

// The same task's records, trained alone and trained another way (packed, split): the same steps and
// learning rates, losses within 1e-5 (float rounding of a different summation order) and the same
// accuracies.
void expect_same_training(const json& alone, const json& other) {
  ASSERT_EQ(other["status"], "ok") << other.dump();
  EXPECT_EQ(other["sample"], alone["sample"]);
  EXPECT_EQ(other["train"]["steps"], alone["train"]["steps"]);
  EXPECT_EQ(other["train"]["lr_per_epoch"], alone["train"]["lr_per_epoch"]);
  const auto losses = other["train"]["loss_per_epoch"].get<std::vector<double>>();
  const auto expected = alone["train"]["loss_per_epoch"].get<std::vector<double>>();
  ASSERT_EQ(losses.size(), expected.size());
  for (size_t e = 0; e < losses.size(); ++e) EXPECT_NEAR(losses[e], expected[e], 1e-5 * std::abs(expected[e]));
  for (const auto& [name, value] : alone["metrics"].items()) {
    EXPECT_NEAR(other["metrics"].at(name).get<double>(), value.get<double>(), 1e-9) << name << ": " << other.dump();
  }
}

TEST_F(RunCommand, PackedTasksGiveTheResultsOfTasksRunAlone) {
  const auto alone = run(dir_ + "/alone", "scale.pack_tasks=1");
  ASSERT_EQ(alone.exit_code, 0) << alone.output;
  const auto packed = run(dir_ + "/packed", "scale.pack_tasks=5");
  ASSERT_EQ(packed.exit_code, 0) << packed.output;
  std::map<std::string, json> by_id;
  for (const auto& record : journal(dir_ + "/alone")) {
    EXPECT_FALSE(record.contains("pack")) << record.dump();
    by_id[record["task_id"]] = record;
  }
  const std::vector<json> records = journal(dir_ + "/packed");
  ASSERT_EQ(records.size(), kTasks) << "one record per task";
  std::map<int, int> pack_sizes;  // tasks per pack -> records
  for (const auto& record : records) {
    ASSERT_EQ(by_id.count(record["task_id"]), 1u) << record.dump();
    if (record["spec"]["method"] == "coop") {
      ASSERT_TRUE(record.contains("pack")) << record.dump();
      ++pack_sizes[record["pack"]["tasks"].get<int>()];
      expect_same_training(by_id[record["task_id"]], record);
      EXPECT_TRUE(file_exists(dir_ + "/packed/" + record["prompt_file"].get<std::string>()));
      EXPECT_TRUE(file_exists(dir_ + "/packed/logs/" + record["task_id"].get<std::string>() + ".log"));
    } else {
      EXPECT_FALSE(record.contains("pack")) << "zero-shot CLIP does not pack: " << record.dump();
      EXPECT_EQ(record["metrics"], by_id[record["task_id"]]["metrics"]);
    }
  }
  // 8 CoOp tasks per dataset: packs of 5 and 3.
  EXPECT_EQ(pack_sizes, (std::map<int, int>{{3, 6}, {5, 10}}));
}

TEST_F(RunCommand, LargeTasksSplitAcrossIdleMpiRanksTrainAsOnOneRank) {
  const auto alone = run(dir_ + "/alone", "scale.pack_tasks=1");
  ASSERT_EQ(alone.exit_code, 0) << alone.output;
  // Every CoOp task counts as large; nothing packs. The first task handed out (CoOp: the most
  // expensive) finds both worker ranks idle and splits across them.
  const auto split = run_shell(mpirun() + " run " + dir_ + "/sweep.yaml --out " + dir_ +
                               "/split --threads 1 scale.pack_tasks=1 scale.split_from_classes=2");
  ASSERT_EQ(split.exit_code, 0) << split.output;
  std::map<std::string, json> by_id;
  for (const auto& record : journal(dir_ + "/alone")) by_id[record["task_id"]] = record;
  const std::vector<json> records = journal(dir_ + "/split");
  ASSERT_EQ(records.size(), kTasks) << "one record per task, none from the helper ranks";
  int splits = 0;
  for (const auto& record : records) {
    EXPECT_FALSE(record.contains("split_member")) << record.dump();
    if (record["spec"]["method"] != "coop") continue;
    expect_same_training(by_id[record["task_id"]], record);
    if (record["train"].value("ranks", 1) == 2) {
      ++splits;
      // The helper's log sits beside the leader's.
      const int helper = 3 - record["rank"].get<int>();
      EXPECT_TRUE(file_exists(dir_ + "/split/logs/" + record["task_id"].get<std::string>() + ".rank" +
                              std::to_string(helper) + ".log"));
    }
  }
  EXPECT_GE(splits, 1) << split.output;
  EXPECT_EQ(testing::read_bytes(dir_ + "/alone/tables/fewshot.md"), testing::read_bytes(dir_ + "/split/tables/fewshot.md"));
}

// OpenAI's SimpleTokenizer reads a vocabulary file as: lines = text.split('\n'); merges =
// lines[1:49152-256-2+1]; tokens = 256 bytes + 256 bytes with </w> + one per merge + SOT and EOT.
TEST_F(RunCommand, SyntheticVocabularyHasTheSameSizeUnderOpenAIsReadingAsInPromptgrid) {
  const std::string text = testing::read_bytes(shared_dir_ + "/vocab_bytes.txt");
  std::vector<std::string> lines(1);
  for (char c : text) {
    if (c == '\n') {
      lines.emplace_back();
    } else {
      lines.back() += c;
    }
  }
  const size_t merges = std::min(lines.size(), size_t{49152 - 256 - 2 + 1}) - 1;
  const int64_t openai_tokens = 512 + static_cast<int64_t>(merges) + 2;
  EXPECT_EQ(openai_tokens, text::Tokenizer::from_vocab_file(shared_dir_ + "/vocab_bytes.txt").vocab_size());
  EXPECT_EQ(openai_tokens, 514);
}

TEST_F(RunCommand, PlanCountsTasksAndCostsWithoutRunningAnything) {
  const auto plan = run_promptgrid("plan " + dir_ + "/sweep.yaml seeds=[1,2,3]");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find(": 28 tasks"), std::string::npos) << plan.output;  // 2 x 2 x (1 + 2 x 3)
  EXPECT_NE(plan.output.find("| fewshot | CoOp (3 epochs) | dtd | 2 | 3 |"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("total: 28 tasks"), std::string::npos) << plan.output;
  EXPECT_FALSE(file_exists(dir_ + "/out"));
}

TEST_F(RunCommand, RetryableFailuresAreRetriedThenJournaledWithTheirKind) {
  // Files are limited to 8 KB: the learned prompt (10 KB) cannot be saved, as on a full disk.
  std::ofstream(dir_ + "/one.yaml") << "features: " << shared_dir_ << "/features.h5\nclip: " << shared_dir_
                                    << "/clip.safetensors\nvocab: " << shared_dir_ << "/vocab_bytes.txt\n"
                                    << "datasets: [eurosat]\nshots: [1]\nseeds: [1]\nmethods: [{name: coop, epochs: 2}]\n";
  const auto result = testing::run_promptgrid_with_file_limit(
      "run " + dir_ + "/one.yaml --out " + dir_ + "/full --threads 1 --retries 1", 8);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("retrying, attempt 2 of 2"), std::string::npos) << result.output;
  const std::vector<json> records = journal(dir_ + "/full");
  ASSERT_EQ(records.size(), 1u) << "the failed first attempt is not journaled, the last one is";
  EXPECT_EQ(records[0]["status"], "failed");
  EXPECT_EQ(records[0]["error_kind"], "retryable");
  EXPECT_EQ(records[0]["attempt"], 2);
  EXPECT_NE(records[0]["error"].get<std::string>().find("File too large"), std::string::npos) << records[0].dump();
}

TEST_F(RunCommand, MaxFailuresStopsTheSweepAndUserErrorsAreNotRetried) {
  // fp16 needs a CUDA device: every CoOp task fails the same way (a user error: retrying cannot help).
  // Tasks run one at a time (a pack would fail all its tasks at once).
  const auto result = run("--retries 3 --max-failures 1 methods.1.precision=fp16 scale.pack_tasks=1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("stopped after 1 failed tasks"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("retrying"), std::string::npos) << result.output;
  const std::vector<json> records = journal(dir_ + "/out");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["error_kind"], "user");
  EXPECT_EQ(records[0]["attempt"], 1);
  EXPECT_NE(testing::read_bytes(dir_ + "/out/tables/failures.md").find("fp16"), std::string::npos);
}

TEST_F(RunCommand, BadSweepUnderMpiIsOneErrorAndNoHang) {
  std::ofstream(dir_ + "/bad.yaml") << "features: " << shared_dir_ << "/features.h5\nclip: " << shared_dir_
                                    << "/clip.safetensors\nvocab: " << shared_dir_
                                    << "/vocab_bytes.txt\ndatasets: [eurosat]\nmethods: [{name: coop, lrr: 1}]\n";
  const auto result = run_shell("timeout 120 " + mpirun() + " run " + dir_ + "/bad.yaml --out " + dir_ + "/bad");
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.exit_code, 124) << "timed out: a rank hung\n" << result.output;
  EXPECT_NE(result.output.find("did you mean 'lr'"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace pg
