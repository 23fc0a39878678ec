// A sweep's worker: runs what the coordinator hands it — a task, a pack of tasks trained together, or
// its part of a task split across ranks — with one TaskRunner kept across them (the text encoder and
// each dataset's features stay loaded). For each task it writes the learned prompt to
// DIR/prompts/<task_id>.prompts.h5 and the log lines to DIR/logs/<task_id>.log, and returns the
// result record — which only the coordinator writes (journal).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orchestrator/task_runner.h"

namespace pg::orchestrator {

class SweepWorker {
 public:
  // `runner` outlives the worker (one process may also use it to prepare tasks as the coordinator).
  SweepWorker(TaskRunner& runner, std::string out_dir, int rank);
  // Runs the coordinator's message — a prepared task spec's JSON; {"pack": [spec, ...]}; or
  // {"split": {"ranks": [world ranks], "tag": N}, "task": spec}, sent to every rank listed, this one
  // among them (MPI only) — and returns one record's JSON per task, in the message's order. A split's
  // helper ranks (all but the first) return a record with "split_member": true and no metrics. Never
  // throws for the tasks' own errors, including a spec this worker's inputs do not match.
  std::vector<std::string> run(const std::string& message);
  // What the coordinator shows of this worker: {"pid", "host", "device"} as JSON.
  std::string about() const;

 private:
  std::vector<TaskResult> run_tasks(const nlohmann::json& message, bool& split_member);
  TaskResult run_split(const nlohmann::json& message, bool& split_member);

  TaskRunner& runner_;
  std::string out_dir_;
  int rank_;
};

// The loop of an MPI worker rank: says it is ready, then runs tasks until the coordinator says stop.
void run_mpi_worker(SweepWorker& worker);

}  // namespace pg::orchestrator
