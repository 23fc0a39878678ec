// A sweep under mpirun that loses a process (SIGKILL to a worker rank, SIGKILL to rank 0) or is
// stopped (SIGTERM to rank 0, SIGUSR2 to every rank: running tasks checkpoint) and then run again: the rerun completes the sweep, the journal holds
// every task exactly once, a long task resumes from its checkpoint, and the tables are byte-identical
// to those of an uninterrupted run. Real processes, real signals.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/files.h"
#include "storage/journal.h"
#include "support/test_data.h"

namespace pg {
namespace {

using nlohmann::json;
using testing::make_temp_dir;
using testing::run_promptgrid;
using testing::run_shell;

// 2 datasets x (zero-shot + 2 seeds of 4-shot CoOp); dtd's tasks are long enough to be interrupted.
constexpr size_t kTasks = 6;

class RunRecovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_dir_ = make_temp_dir("recovery_synthetic");
    const auto synth = run_promptgrid("synth --out " + shared_dir_ + " --datasets eurosat,dtd --threads 1");
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
    write_sweep(shared_dir_ + "/sweep.yaml");
    // The uninterrupted run every interrupted one must match.
    const auto baseline = run_promptgrid("run " + shared_dir_ + "/sweep.yaml --out " + shared_dir_ + "/baseline --threads 1");
    ASSERT_EQ(baseline.exit_code, 0) << baseline.output;
  }

  static void write_sweep(const std::string& path) {
    std::ofstream(path) << "features: " << shared_dir_ << "/features.h5\nclip: " << shared_dir_
                        << "/clip.safetensors\nvocab: " << shared_dir_ << "/vocab_bytes.txt\n"
                        << "protocol: fewshot\ndatasets: [eurosat, dtd]\nshots: [4]\nseeds: [1, 2]\n"
                        << "methods:\n  - name: zeroshot\n  - name: coop\n    epochs: 30\n";
  }

  void SetUp() override { dir_ = make_temp_dir("recovery"); }

  std::string command() const {
    return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 3 $PG run " +
           shared_dir_ + "/sweep.yaml --out " + dir_ + "/out --threads 1 --checkpoint-every 0";
  }

  // Starts the sweep in the background; its exit code lands in <dir>/rc.
  void start() {
    // The background job must not hold run_shell's output pipe, or run_shell waits for it to end.
    const auto started = run_shell("(" + command() + " > " + dir_ + "/first.log 2>&1; echo $? > " + dir_ +
                                   "/rc) > /dev/null 2>&1 &");
    ASSERT_EQ(started.exit_code, 0) << started.output;
  }

  // Waits until a task has written a checkpoint (it is mid-way) and status.json (rewritten at most
  // once a second) shows a worker on a task; returns status.json.
  json wait_for_a_checkpoint() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      std::error_code error;
      bool checkpoint = false;
      for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/out/checkpoints", error)) {
        checkpoint = checkpoint || entry.path().extension() == ".h5";
      }
      if (checkpoint && file_exists(dir_ + "/out/status.json")) {
        const json status = testing::read_json(dir_ + "/out/status.json");
        for (const auto& rank : status.value("ranks", json::array())) {
          if (rank.contains("task_id") && rank.value("pid", 0) > 0) return status;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "no checkpoint of a running task appeared within 120 s";
    return json();
  }

  // Waits for the background sweep to end; returns its exit code.
  int wait_for_exit() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (std::chrono::steady_clock::now() < deadline) {
      if (file_exists(dir_ + "/rc")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return std::stoi(testing::read_bytes(dir_ + "/rc"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "the interrupted sweep did not end within 180 s";
    return -1;
  }

  // Runs the sweep again to the end and checks journal and tables against the uninterrupted run.
  void rerun_and_compare(bool expect_a_resumed_task) {
    const auto rerun = run_shell(command());
    ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
    const auto records = storage::read_journal(dir_ + "/out/journal.jsonl").records;
    std::set<std::string> ids;
    bool resumed = false;
    for (const auto& record : records) {
      EXPECT_TRUE(ids.insert(record["task_id"].get<std::string>()).second) << "twice: " << record["task_id"];
      EXPECT_EQ(record["status"], "ok") << record.dump();
      resumed = resumed || record.value("train", json::object()).contains("resumed_at_epoch");
    }
    EXPECT_EQ(records.size(), kTasks);
    if (expect_a_resumed_task) {
      EXPECT_TRUE(resumed) << "no task resumed from its checkpoint";
    }
    EXPECT_EQ(testing::read_bytes(dir_ + "/out/tables/fewshot.md"),
              testing::read_bytes(shared_dir_ + "/baseline/tables/fewshot.md"));
  }

  static std::string shared_dir_;
  std::string dir_;
};

std::string RunRecovery::shared_dir_;

TEST_F(RunRecovery, WorkerKilledMidTask) {
  start();
  const json status = wait_for_a_checkpoint();
  ASSERT_TRUE(status.contains("ranks"));
  int worker_pid = 0;
  for (const auto& rank : status["ranks"]) {
    if (rank.contains("task_id")) worker_pid = rank.value("pid", 0);
  }
  ASSERT_GT(worker_pid, 0) << status.dump();
  ASSERT_EQ(::kill(worker_pid, SIGKILL), 0);
  EXPECT_NE(wait_for_exit(), 0) << "the job ends when a rank dies";
  rerun_and_compare(true);
}

TEST_F(RunRecovery, CoordinatorKilledMidTask) {
  start();
  const json status = wait_for_a_checkpoint();
  const int coordinator = status.value("pid", 0);
  ASSERT_GT(coordinator, 0);
  ASSERT_EQ(::kill(coordinator, SIGKILL), 0);
  EXPECT_NE(wait_for_exit(), 0);
  rerun_and_compare(true);
}

TEST_F(RunRecovery, SigtermToTheCoordinatorStopsCleanly) {
  start();
  const json status = wait_for_a_checkpoint();
  ASSERT_EQ(::kill(status.value("pid", 0), SIGTERM), 0);
  EXPECT_NE(wait_for_exit(), 0);
  const std::string log = testing::read_bytes(dir_ + "/first.log");
  EXPECT_NE(log.find("stopped by a signal"), std::string::npos) << log;
  const json stopped = testing::read_json(dir_ + "/out/status.json");
  EXPECT_EQ(stopped["state"], "stopped");
  // The running CoOp tasks stopped at their next step with a checkpoint of their last epoch; the journal
  // holds whole records only, none of an interrupted task.
  EXPECT_NE(log.find("stopped with a checkpoint"), std::string::npos) << log;
  const auto records = storage::read_journal(dir_ + "/out/journal.jsonl");
  EXPECT_TRUE(records.warnings.empty());
  EXPECT_LT(records.records.size(), kTasks);
  for (const auto& record : records.records) EXPECT_EQ(record["status"], "ok") << record.dump();
  rerun_and_compare(true);  // the interrupted tasks resume from their checkpoints
}

// SIGUSR2 (Slurm's warning before a time limit, forwarded by the job script to every rank) stops the
// sweep the same way, whichever rank sees it first.
TEST_F(RunRecovery, Sigusr2ToEveryRankCheckpointsAndStops) {
  start();
  const json status = wait_for_a_checkpoint();
  // The workers first, as srun may deliver it.
  for (const auto& rank : status.value("ranks", json::array())) ASSERT_EQ(::kill(rank.value("pid", 0), SIGUSR2), 0);
  ASSERT_EQ(::kill(status.value("pid", 0), SIGUSR2), 0);
  EXPECT_EQ(wait_for_exit(), 128 + SIGUSR2);
  const std::string log = testing::read_bytes(dir_ + "/first.log");
  EXPECT_NE(log.find("stopped with a checkpoint"), std::string::npos) << log;
  rerun_and_compare(true);
}

}  // namespace
}  // namespace pg
