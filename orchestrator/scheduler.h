// Which task a worker gets next (DESIGN §4): dynamic longest-processing-time-first. Pending tasks are
// ordered by estimated cost, most expensive first; an idle worker takes the first, except that among
// the tasks costing within kTieTolerance of it, a task of a dataset the worker already holds wins
// (its features and text features are warm). A task to retry avoids the worker it failed on while
// another worker exists. Pure bookkeeping: no MPI, no clocks; the coordinator and the scheduling
// simulation (tests) drive it.
//
// Scale (ScaleOptions, the sweep file's `scale:` section): a small task (few classes: its step cannot
// fill a device) takes pending tasks of its pack key (same dataset, method and precision) along, to
// train together in one pass per step, up to a number of tasks and an activation-memory budget (a
// retried task runs alone). A large task (many classes) takes other idle workers along, to train
// split across them.
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
  // Tasks with the same non-empty key may train together; empty: the task's method trains alone.
  std::string pack_key;
  bool can_split = false;  // its method can train it across several workers
  int64_t classes = 0;     // trained on
  double step_bytes = 0;   // estimated activation memory of one training step
};

struct ScaleOptions {
  int pack_tasks = 1;             // most tasks trained together; 1: no packing
  int64_t pack_below_classes = 0; // a task packs when it trains fewer classes than this
  double pack_memory_bytes = 0;   // and the pack's summed step memory stays within this
  int split_workers = 1;          // most workers one task splits across; 1: no splitting
  int64_t split_from_classes = 0; // a task splits when it trains at least this many classes
};

// What an idle worker gets: one task, a pack of tasks for it alone, or one task for a group.
struct Assignment {
  std::vector<size_t> tasks;  // the first is the most expensive
  std::vector<int> workers;   // the asking worker first; more than one: a group splitting tasks[0]
};

// The idle workers a split started by `worker` may take along, in worker order: the idle ones other
// than `worker`, at most one per GPU with no member's GPU taken twice (NCCL refuses a group with two
// ranks on one device; more workers than GPUs share them). gpu_keys: per worker, what names its GPU
// (host, visible devices, index), "" for a CPU worker, which shares nothing.
std::vector<int> split_partners(int worker, const std::vector<bool>& idle, const std::vector<std::string>& gpu_keys);

class Scheduler {
 public:
  static constexpr double kTieTolerance = 0.01;

  // Tasks are referred to by their index in `tasks`; all start pending.
  Scheduler(std::vector<SchedulerTask> tasks, int workers, ScaleOptions scale = {});

  // The next task for `worker` (0-based), now running on it; nothing when no task is pending, or when
  // the only pending tasks are retries that failed on this worker (another worker will take them).
  std::optional<size_t> next_for(int worker);
  // The next work for `worker`, with packing and splitting: a split takes workers from `other_idle`
  // (idle workers besides `worker`) and never waits for more. Everything returned is now running.
  std::optional<Assignment> assign(int worker, const std::vector<int>& other_idle = {});
  void finished(size_t task);
  // Puts a failed task back in the queue, to run on another worker when there is one.
  void retry(size_t task, int failed_worker);

  size_t pending() const { return pending_.size(); }
  size_t running() const { return running_; }

 private:
  bool allowed(size_t task, int worker) const;
  void take(size_t at, int worker);  // pending_[at] now runs on `worker`

  std::vector<SchedulerTask> tasks_;
  int workers_;
  ScaleOptions scale_;
  std::vector<size_t> pending_;                  // by cost, most expensive first
  std::vector<std::set<std::string>> held_;      // per worker: datasets it has run
  std::map<size_t, int> avoid_;                  // retried task -> the worker it failed on
  size_t running_ = 0;
};

}  // namespace pg::orchestrator
