// A sweep's worker: runs the tasks the coordinator hands it, one at a time, with one TaskRunner kept
// across them (the text encoder and each dataset's features stay loaded). For each task it writes
// the learned prompt to DIR/prompts/<task_id>.prompts.h5 and the task's log lines to
// DIR/logs/<task_id>.log, and returns the result record — which only the coordinator writes (journal).
#pragma once

#include <string>

#include "orchestrator/task_runner.h"

namespace pg::orchestrator {

class SweepWorker {
 public:
  // `runner` outlives the worker (one process may also use it to prepare tasks as the coordinator).
  SweepWorker(TaskRunner& runner, std::string out_dir, int rank);
  // Runs one task given as its prepared spec's JSON; returns the record's JSON. Never throws for the
  // task's own errors, including a spec this worker's inputs do not match.
  std::string run(const std::string& task);
  // What the coordinator shows of this worker: {"pid", "host", "device"} as JSON.
  std::string about() const;

 private:
  TaskRunner& runner_;
  std::string out_dir_;
  int rank_;
};

// The loop of an MPI worker rank: says it is ready, then runs tasks until the coordinator says stop.
void run_mpi_worker(SweepWorker& worker);

}  // namespace pg::orchestrator
