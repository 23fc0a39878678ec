// DIR/slurm/jobs.jsonl: every job `promptgrid slurm submit` submitted for a sweep's output folder, one
// JSON line each ({"submission", "job_id", "part", "parts", "out", "script", "submitted_at"}), so that
// `slurm status` and `slurm cancel` find them. A submission of K jobs (--jobs K) shares its number.
#pragma once

#include <string>
#include <vector>

namespace pg::slurm {

struct SubmittedJob {
  int submission = 0;
  std::string job_id;
  int part = 0;  // 0-based
  int parts = 1;
  std::string out_dir;  // the part's output folder (its journal)
  std::string script;
  std::string submitted_at;
};

std::string job_log_path(const std::string& out_dir);
// The number the next submission gets (1 for the first).
int next_submission(const std::string& out_dir);
void record_submitted_job(const std::string& out_dir, const SubmittedJob& job);
// The jobs of the latest submission, by part; empty when none. A damaged line is a pg::Error naming it.
std::vector<SubmittedJob> latest_jobs(const std::string& out_dir);

}  // namespace pg::slurm
