#include "orchestrator/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <queue>

#include "sweeps/catalog.h"
#include "sweeps/cost_model.h"

namespace pg::orchestrator {
namespace {

// Runs tasks whose real time is their cost on `workers` simulated workers, as the coordinator hands
// them out (an idle worker asks the scheduler), and returns makespan / (total work / workers): 1 is
// a perfect schedule.
double scheduling_efficiency(const std::vector<SchedulerTask>& tasks, int workers) {
  Scheduler scheduler(tasks, workers);
  using Event = std::pair<double, int>;  // (time the worker is free, worker)
  std::priority_queue<Event, std::vector<Event>, std::greater<>> free_at;
  for (int w = 0; w < workers; ++w) free_at.push({0.0, w});
  double makespan = 0, total = 0;
  for (const auto& task : tasks) total += task.cost;
  while (!free_at.empty()) {
    const auto [now, worker] = free_at.top();
    free_at.pop();
    const auto next = scheduler.next_for(worker);
    if (!next) continue;  // nothing left for this worker: it stays idle
    scheduler.finished(*next);
    makespan = std::max(makespan, now + tasks[*next].cost);
    free_at.push({now + tasks[*next].cost, worker});
  }
  EXPECT_EQ(scheduler.pending(), 0u);
  return makespan / (total / workers);
}

// The CoOp paper's few-shot grid over the 11 datasets with their real sizes, repeated over
// hyperparameter settings until there are `count` tasks; costs from the cost model.
std::vector<SchedulerTask> coop_grid(size_t count) {
  std::vector<SchedulerTask> tasks;
  const std::vector<int> shots = {1, 2, 4, 8, 16};
  for (int setting = 0; tasks.size() < count; ++setting) {
    for (const auto& info : sweeps::benchmark_datasets()) {
      sweeps::DatasetFacts facts;
      facts.name = info.name;
      facts.num_classes = info.num_classes;
      facts.fewest_train_images = 16;
      facts.test_images = info.num_classes * 30;
      facts.longest_name_tokens = 4;
      for (int k : shots) {
        for (int seed = 1; seed <= 3 && tasks.size() < count; ++seed) {
          sweeps::TaskSpec spec;
          spec.dataset = info.name;
          spec.shots = k;
          spec.seed = seed;
          spec.settings["n_ctx"] = setting % 2 == 0 ? 16 : 4;
          spec.resolve();
          tasks.push_back({info.name, sweeps::estimated_flops(spec, facts)});
        }
      }
    }
  }
  return tasks;
}

TEST(Scheduler, TwoThousandTasksOnSixtyFourWorkersAreWithinFivePercentOfIdeal) {
  const double efficiency = scheduling_efficiency(coop_grid(2000), 64);
  EXPECT_LE(efficiency, 1.05);
  EXPECT_GE(efficiency, 1.0);
  std::printf("simulated efficiency (2000 CoOp tasks, 64 workers): %.4f\n", efficiency);
}

TEST(Scheduler, MostExpensiveFirstAndWarmDatasetsWinTies) {
  Scheduler scheduler({{"a", 1}, {"b", 10}, {"c", 5}, {"a", 5}}, 2);
  EXPECT_EQ(*scheduler.next_for(0), 1u);  // b, the most expensive
  EXPECT_EQ(*scheduler.next_for(1), 2u);  // c: the first of the 5s
  scheduler.finished(1);
  // Worker 1 holds c; worker 0 holds b. The next 5 goes to whoever asks; then the 1.
  EXPECT_EQ(*scheduler.next_for(0), 3u);
  EXPECT_EQ(*scheduler.next_for(0), 0u);  // worker 0 now holds a: the cheap a task
  EXPECT_FALSE(scheduler.next_for(1));
}

TEST(Scheduler, TieGoesToTheWorkerThatHoldsTheDataset) {
  Scheduler scheduler({{"x", 8}, {"y", 8}, {"x", 8}, {"y", 8}}, 2);
  EXPECT_EQ(*scheduler.next_for(0), 0u);  // x
  EXPECT_EQ(*scheduler.next_for(1), 1u);  // y
  EXPECT_EQ(*scheduler.next_for(1), 3u);  // y again for the worker holding y, although x comes first
  EXPECT_EQ(*scheduler.next_for(0), 2u);
}

TEST(Scheduler, RetryAvoidsTheWorkerItFailedOn) {
  Scheduler scheduler({{"a", 3}, {"b", 1}}, 2);
  const size_t first = *scheduler.next_for(0);
  scheduler.retry(first, 0);
  EXPECT_EQ(*scheduler.next_for(0), 1u);     // not the retried task
  EXPECT_EQ(*scheduler.next_for(1), first);  // the other worker takes it
  Scheduler alone({{"a", 3}}, 1);
  alone.retry(*alone.next_for(0), 0);
  EXPECT_EQ(*alone.next_for(0), 0u);  // with one worker it runs there again
}

}  // namespace
}  // namespace pg::orchestrator
