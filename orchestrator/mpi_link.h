// MPI for `promptgrid run` (DESIGN §4): rank 0 coordinates, ranks 1..N-1 work (worker r-1 is rank r).
// Point-to-point messages only; a rank waiting for a message polls with MPI_Iprobe and sleeps between
// polls (1 to 5 ms), so waiting ranks leave their cores to the ranks that compute.
#pragma once

#include <string>

#include "orchestrator/coordinator_link.h"

namespace pg::orchestrator {

// Whether this process was started by mpirun/srun (a process manager's environment is present).
bool launched_by_mpi();

// MPI_Init on construction, MPI_Finalize on destruction.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // This worker's index among the worker ranks of its node (0, 1, ...): which GPU it takes.
  int local_worker_index() const { return local_worker_index_; }
  // CPU threads for this rank: the cores it may run on, shared among the worker ranks of its node
  // that may run on the very same cores (all of them when mpirun binds nothing; none when it binds
  // each rank to its own cores), so ranks × threads never oversubscribe.
  int threads_per_worker() const { return threads_per_worker_; }
  // Whether every rank started: each passes its start-up error ("" when none); a collective, every
  // rank must call it. When some rank failed, rank 0 throws a pg::Error (its own error, or a pointer to
  // the other ranks' messages) and every other rank prints its own error, if any, and gets false.
  bool all_started(const std::string& error) const;
  // Ends the whole job after an error on one rank (MPI_Abort), so no rank waits forever.
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_worker_index_ = 0;
  int threads_per_worker_ = 1;
};

class MpiCoordinatorLink : public CoordinatorLink {
 public:
  explicit MpiCoordinatorLink(const MpiSession& session) : workers_(session.size() - 1) {}
  int workers() const override { return workers_; }
  void send_task(int worker, const std::string& task) override;
  void send_interrupt(int worker) override;
  void send_stop(int worker) override;
  std::optional<WorkerMessage> receive(int timeout_ms) override;

 private:
  int workers_;
};

// A worker rank's side: announce readiness, send results; receive tasks or stop.
void send_ready_to_coordinator(const std::string& about);
void send_result_to_coordinator(const std::string& record);
// The next task's payload, or nothing when the coordinator says stop. Waits without spinning.
std::optional<std::string> receive_task_from_coordinator();
// Whether the coordinator asked the running task to stop (consumes the request). Cheap: one MPI_Iprobe.
bool interrupt_requested_by_coordinator();

}  // namespace pg::orchestrator
