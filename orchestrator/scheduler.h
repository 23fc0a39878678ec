// Which task a worker gets next (DESIGN §4): dynamic longest-processing-time-first. Pending tasks are
// ordered by estimated cost, most expensive first; an idle worker takes the first, except that among
// the tasks costing within kTieTolerance of it, a task of a dataset the worker already holds wins
// (its features and text features are warm). A task to retry avoids the worker it failed on while
// another worker exists. Pure bookkeeping: no MPI, no clocks; the coordinator and the scheduling
// simulation (tests) drive it.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pg::orchestrator {

struct SchedulerTask {
  std::string dataset;
  double cost = 0;  // estimated seconds or FLOPs: only the order matters
};

class Scheduler {
 public:
  static constexpr double kTieTolerance = 0.01;

  // Tasks are referred to by their index in `tasks`; all start pending.
  Scheduler(std::vector<SchedulerTask> tasks, int workers);

  // The next task for `worker` (0-based), now running on it; nothing when no task is pending, or when
  // the only pending tasks are retries that failed on this worker (another worker will take them).
  std::optional<size_t> next_for(int worker);
  void finished(size_t task);
  // Puts a failed task back in the queue, to run on another worker when there is one.
  void retry(size_t task, int failed_worker);

  size_t pending() const { return pending_.size(); }
  size_t running() const { return running_; }

 private:
  std::vector<SchedulerTask> tasks_;
  int workers_;
  std::vector<size_t> pending_;                  // by cost, most expensive first
  std::vector<std::set<std::string>> held_;      // per worker: datasets it has run
  std::map<size_t, int> avoid_;                  // retried task -> the worker it failed on
  size_t running_ = 0;
};

}  // namespace pg::orchestrator
