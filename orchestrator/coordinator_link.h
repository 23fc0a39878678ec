// How the coordinator talks to its workers: an interface with two implementations, MPI point-to-point
// between ranks (mpi_link.h) and an in-process worker for a sweep run without mpirun (one rank does
// both jobs). The coordinator's logic is the same for both, and a scheduling simulation can stand in.
#pragma once

#include <optional>
#include <string>

namespace pg::orchestrator {

struct WorkerMessage {
  enum class Kind { ready, result };
  int worker = 0;      // 0-based
  Kind kind = Kind::ready;
  std::string payload;  // ready: the worker's {"pid", "host", "device"}; result: the record's JSON
};

class CoordinatorLink {
 public:
  virtual ~CoordinatorLink() = default;
  virtual int workers() const = 0;
  // Hands a task (a prepared task spec's JSON) to an idle worker.
  virtual void send_task(int worker, const std::string& task) = 0;
  // Asks a worker to stop its running task at the next training step, saving a checkpoint; it answers
  // with the task's record, status "interrupted" (or the finished record, if it was done first).
  virtual void send_interrupt(int worker) = 0;
  // Tells a worker there is no more work; it leaves its loop.
  virtual void send_stop(int worker) = 0;
  // The next message from any worker, waiting at most `timeout_ms` without spinning a core.
  virtual std::optional<WorkerMessage> receive(int timeout_ms) = 0;
};

}  // namespace pg::orchestrator
