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

SchedulerTask small(const std::string& key, double cost, double bytes = 1) {
  return {"d", cost, key, /*can_split=*/false, /*classes=*/10, bytes};
}

ScaleOptions packing(int tasks, double memory) {
  ScaleOptions scale;
  scale.pack_tasks = tasks;
  scale.pack_below_classes = 50;
  scale.pack_memory_bytes = memory;
  return scale;
}

TEST(Scheduler, SmallTasksOfOneKeyPackUpToTheCountAndTheMemoryBudget) {
  // Keys: "coop" x4 (costs 9, 7, 5, 3), "kg" x1 (8), a big coop task (100 classes) and a task that
  // never packs (empty key).
  std::vector<SchedulerTask> tasks = {small("coop", 9), small("kg", 8),  small("coop", 7), small("coop", 5),
                                      small("coop", 3), {"d", 6, "coop", false, 100, 1}, small("", 4)};
  Scheduler scheduler(tasks, 2, packing(3, 10));
  const Assignment first = *scheduler.assign(0);
  EXPECT_EQ(first.tasks, (std::vector<size_t>{0, 2, 3}));  // the three most expensive coop tasks, not the big one
  EXPECT_EQ(first.workers, std::vector<int>{0});
  EXPECT_EQ(*scheduler.assign(1)->tasks.begin(), 1u);  // kg alone: no other kg task
  EXPECT_EQ(scheduler.assign(1)->tasks, std::vector<size_t>{5});     // the big task alone
  EXPECT_EQ(scheduler.assign(1)->tasks, std::vector<size_t>{6});     // no key: alone
  EXPECT_EQ(scheduler.assign(1)->tasks, std::vector<size_t>{4});
  EXPECT_FALSE(scheduler.assign(1));
  EXPECT_EQ(scheduler.running(), tasks.size());
  for (size_t task = 0; task < tasks.size(); ++task) scheduler.finished(task);
  EXPECT_EQ(scheduler.running(), 0u);

  // The memory budget: steps of 4 bytes, a budget of 10 holds two.
  Scheduler budget({small("coop", 3, 4), small("coop", 2, 4), small("coop", 1, 4)}, 1, packing(8, 10));
  EXPECT_EQ(budget.assign(0)->tasks, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(budget.assign(0)->tasks, std::vector<size_t>{2});
  // Packing off: one task at a time.
  Scheduler off({small("coop", 3), small("coop", 2)}, 1);
  EXPECT_EQ(off.assign(0)->tasks, std::vector<size_t>{0});
}

TEST(Scheduler, APackLeavesOutARetryThatFailedOnThisWorker) {
  Scheduler scheduler({small("coop", 3), small("coop", 2), small("coop", 1)}, 2, packing(8, 100));
  EXPECT_EQ(*scheduler.next_for(0), 0u);
  EXPECT_EQ(*scheduler.next_for(1), 1u);
  scheduler.retry(1, 1);
  EXPECT_EQ(scheduler.assign(1)->tasks, std::vector<size_t>{2});  // not task 1, which failed here
  EXPECT_EQ(scheduler.assign(0)->tasks, std::vector<size_t>{1});
}

TEST(Scheduler, LargeTasksSplitAcrossIdleWorkersAndNeverWait) {
  ScaleOptions scale;
  scale.split_workers = 3;
  scale.split_from_classes = 500;
  std::vector<SchedulerTask> tasks = {{"imagenet", 100, "", true, 1000, 0}, {"sun", 50, "", true, 397, 0},
                                      {"tiny", 40, "", true, 2, 0}, {"csc", 30, "", false, 1000, 0}};
  scale.split_from_classes = 300;
  Scheduler scheduler(tasks, 6, scale);
  const Assignment first = *scheduler.assign(0, {1, 2, 3, 4});
  EXPECT_EQ(first.tasks, std::vector<size_t>{0});
  EXPECT_EQ(first.workers, (std::vector<int>{0, 1, 2}));  // at most 3 workers
  EXPECT_EQ(scheduler.assign(3, {4})->workers, (std::vector<int>{3, 4}));  // sun: only one more is idle
  EXPECT_EQ(scheduler.assign(5)->workers, std::vector<int>{5});           // tiny: below the threshold
  // A task whose method cannot split runs alone, whatever its size.
  EXPECT_EQ(scheduler.assign(1, {2})->workers, std::vector<int>{1});
  EXPECT_EQ(scheduler.running(), 4u);
  // Never more workers than classes.
  scale.split_from_classes = 2;
  Scheduler few({{"tiny", 1, "", true, 2, 0}}, 4, scale);
  EXPECT_EQ(few.assign(0, {1, 2, 3})->workers, (std::vector<int>{0, 1}));
}

// NCCL refuses a group with two ranks on one GPU: a split takes at most one idle worker per GPU, never
// the asking worker's GPU; CPU workers ("") share nothing.
TEST(SplitPartners, AtMostOneWorkerPerGpuAndNeverTheAskersGpu) {
  const std::vector<bool> idle = {true, true, true, true, false, true};
  // Workers 0 and 2 share GPU a, 1 and 3 share b, 4 (busy) and 5 are on c and d.
  const std::vector<std::string> gpus = {"n1||cuda:0", "n1||cuda:1", "n1||cuda:0", "n1||cuda:1", "n1||cuda:2", "n2|3|cuda:0"};
  EXPECT_EQ(split_partners(0, idle, gpus), (std::vector<int>{1, 5}));
  EXPECT_EQ(split_partners(3, idle, gpus), (std::vector<int>{0, 5}));
  const std::vector<std::string> cpus(6, "");
  EXPECT_EQ(split_partners(0, idle, cpus), (std::vector<int>{1, 2, 3, 5}));
  // Workers not yet heard from have no key: they share nothing.
  EXPECT_EQ(split_partners(1, idle, {"n1||cuda:0"}), (std::vector<int>{0, 2, 3, 5}));
}

}  // namespace
}  // namespace pg::orchestrator

