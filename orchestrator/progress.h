// A running sweep's progress, for the person at the terminal and for `promptgrid status DIR`:
// a line on stderr (redrawn in place on a terminal; one plain line per finished task otherwise) with
// done / running / failed / total, tasks per minute and the ETA from the calibrated cost model; and
// DIR/status.json (written atomically, at most every second and at every event) with the same plus
// the task each worker is on.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "sweeps/task_spec.h"

namespace pg::orchestrator {

class Progress {
 public:
  Progress(std::string out_dir, size_t total, size_t reused, int workers);
  // A worker said it is ready; `about` is its {"pid", "host", "device"}.
  void joined(int worker, const nlohmann::json& about);
  // A worker may run several tasks at once (a pack), and several workers one task (a split); `note`
  // says which ("packed 1 of 8", "ranks 1-4").
  void started(int worker, const std::string& task_id, const sweeps::TaskSpec& spec, const std::string& note = "");
  // `final` false: the task failed and will be retried.
  void finished(int worker, const nlohmann::json& record, bool final, double eta_seconds);
  // A worker that helped another with a split task is free again.
  void released(int worker);
  void tick(double eta_seconds);
  // "finished" | "stopped"
  void done(const std::string& state);

 private:
  nlohmann::json status(const std::string& state) const;
  void show(bool force);

  using Clock = std::chrono::steady_clock;
  std::string out_dir_;
  size_t total_, reused_, ok_ = 0, failed_ = 0;
  int workers_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_written_{};
  double eta_seconds_ = 0;
  bool terminal_;
  struct Running {
    std::string task_id, what;
    Clock::time_point since;
  };
  std::map<int, std::vector<Running>> running_;  // per worker
  size_t running_tasks() const;
  std::map<int, nlohmann::json> workers_about_;
};

// "CoOp dtd 16 shots seed 1" / "Zero-shot CLIP dtd (base2novel)".
std::string describe_task(const sweeps::TaskSpec& spec);

}  // namespace pg::orchestrator
