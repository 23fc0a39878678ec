// `promptgrid slurm` on a real Slurm: a one-node cluster on localhost (local_cluster.sh: Debian's
// slurmctld, slurmd and munge, two fake GPUs as gres), started for this suite and stopped by PID after
// it. If the daemons cannot start, every test fails with the reason. Real sbatch, real srun with PMIx,
// real signals: the demo-sized sweep finishes with the tables of a local mpirun run; a job sent USR2
// mid-sweep requeues itself and ends with identical tables and every task journaled once; a job whose
// time limit is too short requeues on Slurm's warning until it is done; cancel checkpoints and nothing
// requeues; a sweep split into two jobs gives the same tables; status says each state on the way.
//
// A requeued job waits about two minutes before Slurm lets it start again (its BeginTime); the tests
// lift that wait with `scontrol update StartTime=now`, as an admin can.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "common/files.h"
#include "common/strings.h"
#include "storage/journal.h"
#include "support/test_data.h"

namespace pg {
namespace {

using nlohmann::json;
using testing::make_temp_dir;
using testing::read_bytes;
using testing::run_promptgrid;
using testing::run_shell;

class SlurmCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_dir_ = make_temp_dir("slurm_cluster");
    // Ports of their own, so that another cluster on this machine does not answer.
    const int port = 20000 + static_cast<int>(::getpid() % 20000) * 2;
    const auto started = run_shell("PG_SLURMCTLD_PORT=" + std::to_string(port) + " PG_SLURMD_PORT=" +
                                   std::to_string(port + 1) + " bash '" PG_SOURCE_DIR
                                   "/tests/slurm_cluster/local_cluster.sh' start '" + cluster_dir_ + "'");
    if (started.exit_code != 0) {
      start_error_ = "the local Slurm cluster did not start:\n" + started.output;
      return;
    }
    ::setenv("SLURM_CONF", (cluster_dir_ + "/slurm.conf").c_str(), 1);
    data_dir_ = make_temp_dir("slurm_sweep");
    const auto synth = run_promptgrid("synth --out " + data_dir_ + "/syn --datasets eurosat,dtd --threads 1");
    if (synth.exit_code != 0) {
      start_error_ = "synth failed:\n" + synth.output;
      return;
    }
    write_sweep("sweep.yaml", "datasets: [eurosat, dtd]\nshots: [4]\nseeds: [1, 2]\n"
                              "methods:\n  - name: zeroshot\n  - name: coop\n    epochs: 30\n");
    const auto baseline = run_shell("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun "
                                    "--oversubscribe -np 3 \"$PG\" run " + data_dir_ + "/sweep.yaml --out " + data_dir_ +
                                    "/baseline --threads 1");
    if (baseline.exit_code != 0) start_error_ = "the local mpirun baseline failed:\n" + baseline.output;
  }

  static void TearDownTestSuite() {
    run_shell("bash '" PG_SOURCE_DIR "/tests/slurm_cluster/local_cluster.sh' stop '" + cluster_dir_ + "'");
  }

  static void write_sweep(const std::string& name, const std::string& body) {
    std::ofstream(data_dir_ + "/" + name) << "features: syn/features.h5\nclip: syn/clip.safetensors\n"
                                          << "vocab: syn/vocab_bytes.txt\nprotocol: fewshot\n" << body;
  }

  void SetUp() override {
    ASSERT_TRUE(start_error_.empty()) << start_error_;
    out_ = make_temp_dir("slurm_out") + "/out";
  }

  // `promptgrid slurm submit` of a sweep in data_dir_; returns the job ids it printed.
  std::vector<std::string> submit(const std::string& arguments, const std::string& sweep = "sweep.yaml") {
    const auto result = run_promptgrid("slurm submit " + data_dir_ + "/" + sweep + " --out " + out_ +
                                       " --device cpu --threads 1 " + arguments);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    std::vector<std::string> ids;
    for (size_t at = 0; (at = result.output.find("submitted job ", at)) != std::string::npos;) {
      at += 14;
      ids.push_back(result.output.substr(at, result.output.find_first_of(" :", at) - at));
    }
    return ids;
  }

  // squeue's state and reason of a job ("RUNNING|None").
  static std::string state_of(const std::string& id) {
    return trim(run_shell("squeue -h -t all -j " + id + " -o '%T|%r'").output);
  }

  // Waits until the job is in `wanted` (its state, "PENDING|BeginTime" too); lifts requeue waits unless
  // `keep_pending`. Returns the last state seen.
  static std::string wait_for(const std::string& id, const std::set<std::string>& wanted, int seconds = 240,
                              bool keep_pending = false) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    std::string state;
    std::optional<std::chrono::steady_clock::time_point> held_since;
    while (std::chrono::steady_clock::now() < deadline) {
      state = state_of(id);
      const std::string bare = state.substr(0, state.find('|'));
      if (wanted.count(state) || wanted.count(bare)) return state;
      // Not at once: the step of the run before must be gone (its PMIx socket is named after the job's
      // step id, which the requeued job reuses). Slurm's own wait is two minutes.
      if (state != "PENDING|BeginTime") held_since.reset();
      if (state == "PENDING|BeginTime" && !held_since) held_since = std::chrono::steady_clock::now();
      if (held_since && !keep_pending && std::chrono::steady_clock::now() - *held_since > std::chrono::seconds(8)) {
        run_shell("scontrol update JobId=" + id + " StartTime=now");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    ADD_FAILURE() << "job " << id << " did not reach the expected state in " << seconds << " s; last: " << state;
    return state;
  }

  static int restarts_of(const std::string& id) {
    const std::string line = run_shell("scontrol show job -o " + id).output;
    const size_t at = line.find("Restarts=");
    return at == std::string::npos ? -1 : std::atoi(line.c_str() + at + 9);
  }

  bool has_checkpoint(const std::string& folder) const {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(folder + "/checkpoints", error)) {
      if (entry.path().extension() == ".h5") return true;
    }
    return false;
  }

  void wait_for_checkpoint(const std::string& folder) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline && !has_checkpoint(folder)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(has_checkpoint(folder)) << "no task checkpointed within 120 s in " << folder;
  }

  // Every task exactly once and finished, across the journals of `folders`; returns whether a task
  // resumed from a checkpoint.
  static bool expect_each_task_once(const std::vector<std::string>& folders, size_t tasks) {
    std::set<std::string> ids;
    bool resumed = false;
    for (const auto& folder : folders) {
      for (const auto& record : storage::read_journal(folder + "/journal.jsonl").records) {
        EXPECT_TRUE(ids.insert(record["task_id"].get<std::string>()).second) << "twice: " << record["task_id"];
        EXPECT_EQ(record["status"], "ok") << record.dump();
        resumed = resumed || record.value("train", json::object()).contains("resumed_at_epoch");
      }
    }
    EXPECT_EQ(ids.size(), tasks);
    return resumed;
  }

  std::string status() const { return run_promptgrid("slurm status " + out_).output; }

  static std::string cluster_dir_, data_dir_, start_error_;
  std::string out_;
};

std::string SlurmCluster::cluster_dir_, SlurmCluster::data_dir_, SlurmCluster::start_error_;

TEST_F(SlurmCluster, SweepOnTwoGpusMatchesALocalMpirunRun) {
  const auto ids = submit("--gpus-per-node 2");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(wait_for(ids[0], {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}), "COMPLETED|None")
      << read_bytes(out_ + "/slurm/job-" + ids[0] + ".out");
  EXPECT_EQ(read_bytes(out_ + "/tables/fewshot.md"), read_bytes(data_dir_ + "/baseline/tables/fewshot.md"));
  expect_each_task_once({out_}, 6);
  // Rank 0 plus one worker per fake GPU, each worker bound to its own.
  std::set<std::string> gpus;
  const json run_status = testing::read_json(out_ + "/status.json");
  for (const auto& rank : run_status["ranks"]) gpus.insert(rank.value("gpus", "none"));
  EXPECT_EQ(gpus, (std::set<std::string>{"0", "1"}));
  const std::string said = status();
  EXPECT_NE(said.find("job " + ids[0] + ": COMPLETED"), std::string::npos) << said;
  EXPECT_NE(said.find("exit code 0:0, requeued 0 times"), std::string::npos) << said;
  EXPECT_NE(said.find("6 tasks finished, 0 failed of 6; the run is finished"), std::string::npos) << said;
}

TEST_F(SlurmCluster, PreemptedJobRequeuesItselfAndEndsIdentical) {
  const auto ids = submit("--gpus-per-node 2 --checkpoint-every 0");
  ASSERT_EQ(ids.size(), 1u);
  wait_for_checkpoint(out_);
  EXPECT_NE(status().find(": RUNNING"), std::string::npos);
  ASSERT_EQ(run_shell("scancel --signal=USR2 --batch " + ids[0]).exit_code, 0);
  // It checkpoints, requeues itself, and waits for its BeginTime.
  EXPECT_EQ(wait_for(ids[0], {"PENDING|BeginTime", "COMPLETED", "FAILED"}, 60, /*keep_pending=*/true), "PENDING|BeginTime");
  EXPECT_EQ(restarts_of(ids[0]), 1);
  const std::string pending = status();
  EXPECT_NE(pending.find("PENDING (BeginTime)"), std::string::npos) << pending;
  EXPECT_NE(pending.find("requeued 1 time"), std::string::npos) << pending;
  EXPECT_NE(pending.find("the run is stopped"), std::string::npos) << pending;
  // A second submission into the folder is refused while the job may still write it.
  const auto again = run_promptgrid("slurm submit " + data_dir_ + "/sweep.yaml --out " + out_ + " --device cpu");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("is PENDING; two jobs must not run one sweep folder"), std::string::npos) << again.output;

  EXPECT_EQ(wait_for(ids[0], {"COMPLETED", "FAILED", "CANCELLED"}), "COMPLETED|None")
      << read_bytes(out_ + "/slurm/job-" + ids[0] + ".out");
  const std::string log = read_bytes(out_ + "/slurm/job-" + ids[0] + ".out");
  EXPECT_NE(log.find("stopped by SIGUSR2; requeueing job " + ids[0]), std::string::npos) << log;
  EXPECT_TRUE(expect_each_task_once({out_}, 6)) << "no task resumed from its checkpoint";
  EXPECT_EQ(read_bytes(out_ + "/tables/fewshot.md"), read_bytes(data_dir_ + "/baseline/tables/fewshot.md"));
  EXPECT_NE(status().find("COMPLETED, run time"), std::string::npos);
}

TEST_F(SlurmCluster, TimeLimitTooShortRequeuesOnTheWarningUntilDone) {
  // One CoOp task of ~90 s on one worker against a 1-minute limit; Slurm sends USR2 10 s before it
  // (up to 30 s earlier: it checks twice a minute). The uninterrupted run goes alongside. The class token
  // sits in the middle, so the prompts share no prefix and a step costs the whole prompts' work.
  write_sweep("long.yaml", "datasets: [dtd]\nshots: [4]\nseeds: [1]\nmethods:\n  - name: coop\n    epochs: 250\n"
                           "    class_token_position: middle\n");
  const auto baseline = run_shell("(\"$PG\" run " + data_dir_ + "/long.yaml --out " + out_ + "-baseline --threads 1 > " +
                                  out_ + "-baseline.log 2>&1; echo $? > " + out_ + "-baseline.rc) > /dev/null 2>&1 &");
  ASSERT_EQ(baseline.exit_code, 0);
  const auto ids = submit("--gpus-per-node 1 --time 1 --signal-seconds 10 --max-requeues 10 --checkpoint-every 5", "long.yaml");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(wait_for(ids[0], {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}, 600), "COMPLETED|None")
      << read_bytes(out_ + "/slurm/job-" + ids[0] + ".out");
  EXPECT_GE(restarts_of(ids[0]), 1) << read_bytes(out_ + "/slurm/job-" + ids[0] + ".out");
  EXPECT_TRUE(expect_each_task_once({out_}, 1)) << "the task did not resume from its checkpoint";
  for (int i = 0; i < 600 && !file_exists(out_ + "-baseline.rc"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(trim(read_bytes(out_ + "-baseline.rc")), "0") << read_bytes(out_ + "-baseline.log");
  EXPECT_EQ(read_bytes(out_ + "/tables/fewshot.md"), read_bytes(out_ + "-baseline/tables/fewshot.md"));
}

TEST_F(SlurmCluster, CancelCheckpointsNothingRequeuesAndASubmissionResumes) {
  const auto ids = submit("--gpus-per-node 2 --checkpoint-every 0");
  ASSERT_EQ(ids.size(), 1u);
  wait_for_checkpoint(out_);
  const auto cancelled = run_promptgrid("slurm cancel " + out_);
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.output;
  EXPECT_NE(cancelled.output.find("asked to checkpoint and stop (USR2)"), std::string::npos) << cancelled.output;
  EXPECT_EQ(wait_for(ids[0], {"CANCELLED", "COMPLETED", "FAILED"}, 60, /*keep_pending=*/true), "CANCELLED|None");
  EXPECT_EQ(restarts_of(ids[0]), 0);
  EXPECT_TRUE(has_checkpoint(out_));
  const std::string said = status();
  EXPECT_NE(said.find(": CANCELLED"), std::string::npos) << said;
  EXPECT_NE(said.find("cancelled with promptgrid slurm cancel"), std::string::npos) << said;
  // Submitting again resumes from the journal and the checkpoints.
  const auto resubmitted = submit("--gpus-per-node 2");
  ASSERT_EQ(resubmitted.size(), 1u);
  EXPECT_EQ(wait_for(resubmitted[0], {"COMPLETED", "FAILED", "CANCELLED"}), "COMPLETED|None");
  EXPECT_TRUE(expect_each_task_once({out_}, 6));
  EXPECT_EQ(read_bytes(out_ + "/tables/fewshot.md"), read_bytes(data_dir_ + "/baseline/tables/fewshot.md"));
}

TEST_F(SlurmCluster, SweepSplitIntoTwoJobsGivesTheSameTables) {
  const auto ids = submit("--gpus-per-node 1 --jobs 2");
  ASSERT_EQ(ids.size(), 2u);
  for (const auto& id : ids) EXPECT_EQ(wait_for(id, {"COMPLETED", "FAILED", "CANCELLED"}), "COMPLETED|None");
  expect_each_task_once({out_ + "/part-1-of-2", out_ + "/part-2-of-2"}, 6);
  const auto table = run_promptgrid("table " + out_);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(read_bytes(out_ + "/tables/fewshot.md"), read_bytes(data_dir_ + "/baseline/tables/fewshot.md"));
  const std::string said = status();
  EXPECT_NE(said.find("(part 2 of 2): COMPLETED"), std::string::npos) << said;
  EXPECT_NE(said.find("all 2 jobs: 6 tasks finished, 0 failed of 6"), std::string::npos) << said;
}

TEST_F(SlurmCluster, StatusSaysWhenSlurmNoLongerKnowsAJob) {
  std::filesystem::create_directories(out_ + "/slurm");
  std::ofstream(out_ + "/slurm/jobs.jsonl")
      << R"({"submission": 1, "job_id": "999999", "part": 0, "parts": 1, "out": ")" << out_ << "\"}\n";
  const auto result = run_promptgrid("slurm status " + out_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("job 999999: UNKNOWN"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("keeps no accounting here"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("the run has not started yet"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace pg
