#include "orchestrator/scheduler.h"

#include <algorithm>

namespace pg::orchestrator {

Scheduler::Scheduler(std::vector<SchedulerTask> tasks, int workers, ScaleOptions scale)
    : tasks_(std::move(tasks)), workers_(std::max(1, workers)), scale_(scale), held_(static_cast<size_t>(workers_)) {
  for (size_t i = 0; i < tasks_.size(); ++i) pending_.push_back(i);
  // Stable: equal costs keep the sweep's order, so a run is reproducible.
  std::stable_sort(pending_.begin(), pending_.end(), [&](size_t a, size_t b) { return tasks_[a].cost > tasks_[b].cost; });
}

bool Scheduler::allowed(size_t task, int worker) const {
  const auto avoid = avoid_.find(task);
  return workers_ == 1 || avoid == avoid_.end() || avoid->second != worker;
}

void Scheduler::take(size_t at, int worker) {
  const size_t task = pending_[at];
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(at));
  held_[static_cast<size_t>(worker)].insert(tasks_[task].dataset);
  ++running_;
}

std::optional<size_t> Scheduler::next_for(int worker) {
  const auto& held = held_.at(static_cast<size_t>(worker));
  auto allowed = [&](size_t task) { return this->allowed(task, worker); };
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
  take(*chosen_at, worker);
  return task;
}

std::vector<int> split_partners(int worker, const std::vector<bool>& idle, const std::vector<std::string>& gpu_keys) {
  auto key = [&](int w) { return static_cast<size_t>(w) < gpu_keys.size() ? gpu_keys[static_cast<size_t>(w)] : ""; };
  std::set<std::string> taken;
  if (!key(worker).empty()) taken.insert(key(worker));
  std::vector<int> partners;
  for (int other = 0; other < static_cast<int>(idle.size()); ++other) {
    if (other == worker || !idle[static_cast<size_t>(other)]) continue;
    if (!key(other).empty() && !taken.insert(key(other)).second) continue;
    partners.push_back(other);
  }
  return partners;
}

std::optional<Assignment> Scheduler::assign(int worker, const std::vector<int>& other_idle) {
  const std::optional<size_t> first = next_for(worker);
  if (!first) return std::nullopt;
  Assignment assignment{{*first}, {worker}};
  const SchedulerTask& head = tasks_[*first];
  if (head.can_split && scale_.split_workers > 1 && head.classes >= scale_.split_from_classes) {
    // As many idle workers as it may use; each still needs a class of its own.
    for (int other : other_idle) {
      if (static_cast<int>(assignment.workers.size()) >= scale_.split_workers ||
          static_cast<int64_t>(assignment.workers.size()) >= head.classes) {
        break;
      }
      if (other == worker) continue;
      assignment.workers.push_back(other);
      held_[static_cast<size_t>(other)].insert(head.dataset);
    }
    return assignment;
  }
  // A retry runs alone: what failed in a pack (out of memory) would likely fail there again.
  if (head.pack_key.empty() || scale_.pack_tasks <= 1 || head.classes >= scale_.pack_below_classes ||
      avoid_.count(*first) != 0) {
    return assignment;
  }
  // Companions in queue order (most expensive first), each small, of the same key, within the budget.
  double memory = head.step_bytes;
  for (size_t at = 0; at < pending_.size() && static_cast<int>(assignment.tasks.size()) < scale_.pack_tasks;) {
    const size_t task = pending_[at];
    const SchedulerTask& candidate = tasks_[task];
    if (candidate.pack_key != head.pack_key || candidate.classes >= scale_.pack_below_classes ||
        memory + candidate.step_bytes > scale_.pack_memory_bytes || avoid_.count(task) != 0) {
      ++at;
      continue;
    }
    memory += candidate.step_bytes;
    assignment.tasks.push_back(task);
    take(at, worker);  // the next candidate moves into `at`
  }
  return assignment;
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
