#include "slurm/job_log.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"

namespace pg::slurm {
namespace {

using nlohmann::json;

std::vector<SubmittedJob> all_jobs(const std::string& out_dir) {
  const std::string path = job_log_path(out_dir);
  std::vector<SubmittedJob> jobs;
  if (!file_exists(path)) return jobs;
  int line_number = 0;
  for (const std::string& line : split(read_file(path, kMaxJsonFileBytes, "the sweep's Slurm job log"), '\n')) {
    ++line_number;
    if (line.empty()) continue;
    const json record = json::parse(line, nullptr, false);
    try {
      if (!record.is_object()) throw std::runtime_error("not JSON");
      jobs.push_back({record.at("submission").get<int>(), record.at("job_id").get<std::string>(),
                      record.at("part").get<int>(), record.at("parts").get<int>(), record.at("out").get<std::string>(),
                      record.value("script", ""), record.value("submitted_at", "")});
    } catch (const std::exception&) {
      throw Error(path + ":" + std::to_string(line_number) +
                  ": not a job record ({\"submission\", \"job_id\", \"part\", \"parts\", \"out\"}); remove or fix "
                  "the line");
    }
  }
  return jobs;
}

}  // namespace

std::string job_log_path(const std::string& out_dir) { return out_dir + "/slurm/jobs.jsonl"; }

int next_submission(const std::string& out_dir) {
  int last = 0;
  for (const auto& job : all_jobs(out_dir)) last = std::max(last, job.submission);
  return last + 1;
}

void record_submitted_job(const std::string& out_dir, const SubmittedJob& job) {
  const std::string path = job_log_path(out_dir);
  const std::string earlier = file_exists(path) ? read_file(path, kMaxJsonFileBytes, "the sweep's Slurm job log") : "";
  const json record = {{"submission", job.submission}, {"job_id", job.job_id}, {"part", job.part},
                       {"parts", job.parts},           {"out", job.out_dir},     {"script", job.script},
                       {"submitted_at", job.submitted_at}};
  write_file_atomic(path, earlier + record.dump() + "\n");
}

std::vector<SubmittedJob> latest_jobs(const std::string& out_dir) {
  std::vector<SubmittedJob> jobs = all_jobs(out_dir);
  int latest = 0;
  for (const auto& job : jobs) latest = std::max(latest, job.submission);
  std::vector<SubmittedJob> found;
  for (const auto& job : jobs) {
    if (job.submission == latest) found.push_back(job);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.part < b.part; });
  return found;
}

}  // namespace pg::slurm
