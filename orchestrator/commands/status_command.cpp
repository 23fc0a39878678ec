// `promptgrid status DIR`: how a sweep stands, from another shell, while it runs or after.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "common/files.h"
#include "common/system_info.h"
#include "orchestrator/commands/commands.h"
#include "results/task_records.h"
#include "storage/journal.h"

namespace pg::orchestrator {

void add_status_command(CLI::App& app) {
  auto out_dir = std::make_shared<std::string>();
  auto* command = app.add_subcommand(
      "status", "Show a sweep's progress (done / running / failed / total, rate, ETA, the task on each rank) from "
                "its output folder");
  command->add_option("dir", *out_dir, "The sweep's output folder (run --out)")->required();
  command->callback([out_dir] {
    const std::string path = *out_dir + "/status.json";
    if (!file_exists(path)) {
      if (file_exists(*out_dir + "/slurm/jobs.jsonl")) {
        throw Error(*out_dir + ": has no status.json of its own (a sweep submitted to Slurm, split into jobs or not "
                    "started yet); use `promptgrid slurm status " + *out_dir + "`");
      }
      throw Error(*out_dir + ": has no status.json; give the folder a `promptgrid run --out` wrote");
    }
    const nlohmann::json status = read_json_file(path, "a sweep's status file");
    std::string state = status.value("state", "unknown");
    // A "running" sweep whose coordinator is gone was killed: say so, and how to resume.
    const int pid = status.value("pid", 0);
    if (state == "running" && status.value("host", "") == host_name() && pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      state = "interrupted (its coordinator, pid " + std::to_string(pid) + ", is gone; run the same command to resume)";
    }
    const storage::JournalContents journal = storage::read_journal(*out_dir + "/journal.jsonl");
    size_t ok = 0, failed = 0;
    for (const auto& record : results::latest_task_records(journal.records)) {
      ++(record.value("status", "") == "ok" ? ok : failed);
    }
    char rate[96];
    const double eta = status.value("eta_s", 0.0);
    std::snprintf(rate, sizeof rate, eta >= 0 ? "%.1f tasks/min, ETA %.0f s" : "%.1f tasks/min, ETA unknown yet",
                  status.value("tasks_per_minute", 0.0), eta);
    std::cout << "sweep " << *out_dir << ": " << state << " (updated " << status.value("updated_at", "?") << ")\n"
              << "tasks: " << status.value("done", 0) << " done, " << status.value("running", 0) << " running, "
              << status.value("failed", 0) << " failed this run, " << status.value("total", 0) << " in the sweep; "
              << rate << "\n"
              << "journal: " << ok << " tasks finished, " << failed << " failed\n";
    for (const auto& rank : status.value("ranks", nlohmann::json::array())) {
      std::printf("rank %d (pid %d on %s): ", rank.value("rank", 0), rank.value("pid", 0), rank.value("host", "?").c_str());
      if (rank.contains("task")) {
        std::printf("%s (%s), %.0f s\n", rank.value("task", "").c_str(), rank.value("task_id", "").c_str(),
                    rank.value("running_s", 0.0));
      } else {
        std::printf("idle\n");
      }
    }
    for (const auto& warning : journal.warnings) std::cout << "warning: " << warning << "\n";
  });
}

}  // namespace pg::orchestrator
