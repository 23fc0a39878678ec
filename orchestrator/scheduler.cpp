#include "orchestrator/scheduler.h"

#include <algorithm>

namespace pg::orchestrator {

Scheduler::Scheduler(std::vector<SchedulerTask> tasks, int workers)
    : tasks_(std::move(tasks)), workers_(std::max(1, workers)), held_(static_cast<size_t>(workers_)) {
  for (size_t i = 0; i < tasks_.size(); ++i) pending_.push_back(i);
  // Stable: equal costs keep the sweep's order, so a run is reproducible.
  std::stable_sort(pending_.begin(), pending_.end(), [&](size_t a, size_t b) { return tasks_[a].cost > tasks_[b].cost; });
}

std::optional<size_t> Scheduler::next_for(int worker) {
  const auto& held = held_.at(static_cast<size_t>(worker));
  auto allowed = [&](size_t task) {
    const auto avoid = avoid_.find(task);
    return workers_ == 1 || avoid == avoid_.end() || avoid->second != worker;
  };
  std::optional<size_t> chosen_at;
  double ceiling = -1;
  for (size_t at = 0; at < pending_.size(); ++at) {
    const size_t task = pending_[at];
    if (!allowed(task)) continue;
    if (!chosen_at) {
      chosen_at = at;
      ceiling = tasks_[task].cost;
      if (held.count(tasks_[task].dataset)) break;
      continue;
    }
    if (tasks_[task].cost < ceiling * (1 - kTieTolerance)) break;  // past the tie
    if (held.count(tasks_[task].dataset)) {
      chosen_at = at;
      break;
    }
  }
  if (!chosen_at) return std::nullopt;
  const size_t task = pending_[*chosen_at];
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(*chosen_at));
  held_[static_cast<size_t>(worker)].insert(tasks_[task].dataset);
  ++running_;
  return task;
}

void Scheduler::finished(size_t) {
  if (running_ > 0) --running_;
}

void Scheduler::retry(size_t task, int failed_worker) {
  if (running_ > 0) --running_;
  avoid_[task] = failed_worker;
  const auto at = std::lower_bound(pending_.begin(), pending_.end(), task,
                                   [&](size_t a, size_t b) { return tasks_[a].cost > tasks_[b].cost; });
  pending_.insert(at, task);
}

}  // namespace pg::orchestrator
