// What every `promptgrid bench` timing shares: wall time of an action, medians, option ranges.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace pg::orchestrator {

inline double median_ms(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <typename Action>
double time_ms(Action action) {
  const auto start = std::chrono::steady_clock::now();
  action();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// `warmup` untimed runs of `action`, then the median wall time of `runs` timed ones, in ms. The action
// reads a value back when it runs on a device, so each run waits for it.
template <typename Action>
double median_ms_of_runs(int warmup, int runs, Action action) {
  std::vector<double> times;
  for (int i = 0; i < warmup + runs; ++i) {
    const double ms = time_ms(action);
    if (i >= warmup) times.push_back(ms);
  }
  return median_ms(times);
}

inline void require_range(const char* name, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    throw Error("bench: " + std::string(name) + " " + std::to_string(value) + " is outside [" + std::to_string(low) +
                ", " + std::to_string(high) + "]");
  }
}

}  // namespace pg::orchestrator
