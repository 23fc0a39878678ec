#include "orchestrator/progress.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "common/system_info.h"

namespace pg::orchestrator {
namespace {

std::string duration_text(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const long total = static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ldh%02ldm", total / 3600, (total / 60) % 60);
  } else if (total >= 60) {
    std::snprintf(text, sizeof text, "%ldm%02lds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lds", total);
  }
  return text;
}

}  // namespace

std::string describe_task(const sweeps::TaskSpec& spec) {
  const sweeps::MethodInfo& method = spec.method_info();
  std::string text = method.label + " " + spec.dataset;
  if (method.trains) {
    text += " " + std::to_string(spec.shots) + (spec.shots == 1 ? " shot" : " shots") + " seed " + std::to_string(spec.seed);
  }
  if (spec.protocol != "fewshot") text += " (" + spec.protocol + ")";
  return text;
}

Progress::Progress(std::string out_dir, size_t total, size_t reused, int workers)
    : out_dir_(std::move(out_dir)), total_(total), reused_(reused), workers_(workers), terminal_(::isatty(2) != 0) {
  show(true);
}

void Progress::joined(int worker, const nlohmann::json& about) {
  workers_about_[worker] = about;
  show(true);
}

void Progress::started(int worker, const std::string& task_id, const sweeps::TaskSpec& spec,
                       const std::string& note) {
  running_[worker].push_back({task_id, describe_task(spec) + (note.empty() ? "" : " (" + note + ")"), Clock::now()});
  show(true);
}

void Progress::released(int worker) {
  running_.erase(worker);
  show(true);
}

size_t Progress::running_tasks() const {
  std::set<std::string> ids;
  for (const auto& [worker, tasks] : running_) {
    for (const Running& task : tasks) ids.insert(task.task_id);
  }
  return ids.size();
}

void Progress::finished(int worker, const nlohmann::json& record, bool final, double eta_seconds) {
  eta_seconds_ = eta_seconds;
  std::string what = record.value("task_id", "");
  auto& tasks = running_[worker];
  for (auto task = tasks.begin(); task != tasks.end(); ++task) {
    if (task->task_id == what) {
      what = task->what;
      tasks.erase(task);
      break;
    }
  }
  if (tasks.empty()) running_.erase(worker);
  const bool ok = record.value("status", "") == "ok";
  if (final) ++(ok ? ok_ : failed_);
  std::string line = what + ": ";
  if (ok) {
    for (const auto& [name, value] : record["metrics"].items()) {
      char number[48];
      std::snprintf(number, sizeof number, "%s %.2f ", name.c_str(), value.is_number() ? value.get<double>() : 0.0);
      line += number;
    }
    line += "in " + duration_text(record["timings"].value("total_s", 0.0)) + " on rank " + std::to_string(worker + 1);
  } else if (record.value("status", "") == "interrupted") {
    const int epoch = record.value("train", nlohmann::json::object()).value("checkpoint_epoch", 0);
    line += epoch > 0 ? "stopped with a checkpoint after epoch " + std::to_string(epoch) + "; the next run resumes it"
                      : "stopped in its first epoch; the next run starts it over";
  } else {
    line += std::string(final ? "FAILED" : "failed, will retry") + ": " + record.value("error", "");
  }
  if (terminal_) std::cerr << "\r\033[K";
  std::cerr << "[" << (reused_ + ok_ + failed_) << "/" << total_ << "] " << line << std::endl;
  show(true);
}

void Progress::tick(double eta_seconds) {
  eta_seconds_ = eta_seconds;
  show(false);
}

nlohmann::json Progress::status(const std::string& state) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  nlohmann::json status = {{"state", state},
                           {"pid", ::getpid()},
                           {"updated_at", utc_now_iso8601()},
                           {"elapsed_s", elapsed},
                           {"total", total_},
                           {"finished_before", reused_},
                           {"done", reused_ + ok_},
                           {"failed", failed_},
                           {"running", running_tasks()},
                           {"workers", workers_},
                           {"tasks_per_minute", elapsed > 0 ? (ok_ + failed_) * 60.0 / elapsed : 0.0},
                           {"eta_s", state == "running" ? eta_seconds_ : 0.0},
                           {"ranks", nlohmann::json::array()}};
  status["host"] = host_name();
  for (int worker = 0; worker < workers_; ++worker) {
    nlohmann::json rank = {{"rank", worker + 1}};
    const auto about = workers_about_.find(worker);
    if (about != workers_about_.end()) rank.update(about->second);
    const auto tasks = running_.find(worker);
    if (tasks != running_.end() && !tasks->second.empty()) {
      const Running& first = tasks->second.front();
      rank["task_id"] = first.task_id;
      rank["task"] = first.what;
      rank["running_s"] = std::chrono::duration<double>(Clock::now() - first.since).count();
      if (tasks->second.size() > 1) rank["tasks"] = tasks->second.size();
    }
    status["ranks"].push_back(rank);
  }
  return status;
}

void Progress::show(bool force) {
  // The file at most once a second (each write is two fsyncs); the terminal line at every event.
  const auto now = Clock::now();
  const bool write_file = now - last_written_ >= std::chrono::seconds(1);
  if (!write_file && !(force && terminal_)) return;
  const nlohmann::json current = status("running");
  if (write_file) {
    last_written_ = now;
    try {
      write_json_file_atomic(out_dir_ + "/status.json", current);
    } catch (const Error& e) {
      log_warning(std::string("cannot update the status file: ") + e.what());
    }
  }
  if (!terminal_) return;
  char line[256];
  std::snprintf(line, sizeof line, "[%zu/%zu done, %zu running, %zu failed] %.1f tasks/min, ETA %s",
                reused_ + ok_, total_, running_tasks(), failed_, current["tasks_per_minute"].get<double>(),
                duration_text(eta_seconds_).c_str());
  std::cerr << "\r\033[K" << line << std::flush;
}

void Progress::done(const std::string& state) {
  if (terminal_) std::cerr << "\r\033[K" << std::flush;
  try {
    write_json_file_atomic(out_dir_ + "/status.json", status(state));
  } catch (const Error& e) {
    log_warning(std::string("cannot update the status file: ") + e.what());
  }
}

}  // namespace pg::orchestrator
