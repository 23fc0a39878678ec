#include "slurm/job_options.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "common/strings.h"

namespace pg::slurm {
namespace {

// Characters Slurm accepts in partition, account and QOS names: nothing a shell or sbatch's own
// `#SBATCH` parser would treat specially.
bool is_plain_word(const std::string& value, const std::string& extra) {
  if (value.empty() || value.size() > 200) return false;
  return std::all_of(value.begin(), value.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           extra.find(c) != std::string::npos;
  });
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 6 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (each field digits).
bool is_slurm_time(const std::string& text) {
  std::string rest = text;
  const size_t dash = rest.find('-');
  if (dash != std::string::npos) {
    if (!all_digits(rest.substr(0, dash))) return false;
    rest = rest.substr(dash + 1);
  }
  const std::vector<std::string> fields = split(rest, ':');
  if (fields.empty() || fields.size() > 3) return false;
  return std::all_of(fields.begin(), fields.end(), all_digits);
}

int parse_count(const sweeps::SlurmDefault& value, const std::string& key) {
  try {
    size_t used = 0;
    const int number = std::stoi(value.value, &used);
    if (used == value.value.size()) return number;
  } catch (const std::exception&) {
  }
  throw Error(value.where + ": slurm." + key + " is '" + value.value + "'; give a whole number");
}

}  // namespace

void apply_sweep_defaults(JobOptions& options, const std::map<std::string, sweeps::SlurmDefault>& defaults,
                          const std::vector<std::string>& given) {
  for (const auto& [key, value] : defaults) {
    if (std::find(given.begin(), given.end(), key) != given.end()) continue;  // the command line wins
    if (key == "nodes") options.nodes = parse_count(value, key);
    else if (key == "gpus_per_node") options.gpus_per_node = parse_count(value, key);
    else if (key == "cpus_per_gpu") options.cpus_per_worker = parse_count(value, key);
    else if (key == "jobs") options.jobs = parse_count(value, key);
    else if (key == "max_requeues") options.max_requeues = parse_count(value, key);
    else if (key == "signal_seconds") options.signal_seconds = parse_count(value, key);
    else if (key == "time") options.time = value.value;
    else if (key == "partition") options.partition = value.value;
    else if (key == "account") options.account = value.value;
    else if (key == "qos") options.qos = value.value;
    else if (key == "constraint") options.constraint = value.value;
    else if (key == "setup") options.setup = value.value;
    else throw Error(value.where + ": slurm." + key + " is not an option of slurm submit", ErrorKind::internal);
    try {
      JobOptions copy = options;
      check_job_options(copy);
    } catch (const Error& e) {
      throw Error(value.where + ": slurm." + key + ": " + e.what());
    }
  }
}

void check_job_options(const JobOptions& o) {
  auto range = [](const char* name, int value, int low, int high) {
    if (value < low || value > high) {
      throw Error(std::string(name) + " is " + std::to_string(value) + "; give " + std::to_string(low) + " to " +
                  std::to_string(high));
    }
  };
  range("--nodes", o.nodes, 1, 100000);
  range("--gpus-per-node", o.gpus_per_node, 0, 1024);
  range("--workers-per-node", o.workers_per_node, 1, 1024);
  range("--cpus-per-gpu", o.cpus_per_worker, 0, 100000);
  range("--jobs", o.jobs, 1, 10000);
  range("--max-requeues", o.max_requeues, 0, 1000);
  range("--signal-seconds", o.signal_seconds, 1, 65535);  // Slurm's --signal takes up to 65535 s
  range("--threads", o.threads, 0, 100000);
  range("--checkpoint-every", o.checkpoint_every_s, 0, 1000000000);
  if (!o.time.empty() && !is_slurm_time(o.time)) {
    throw Error("--time '" + o.time + "' is not a Slurm time; give HH:MM:SS, D-HH:MM:SS or minutes");
  }
  if (!o.partition.empty() && !is_plain_word(o.partition, ",")) {
    throw Error("--partition '" + o.partition + "' is not a partition name (letters, digits, - _ . and , between names)");
  }
  if (!o.account.empty() && !is_plain_word(o.account, "")) {
    throw Error("--account '" + o.account + "' is not an account name (letters, digits, - _ .)");
  }
  if (!o.qos.empty() && !is_plain_word(o.qos, "")) throw Error("--qos '" + o.qos + "' is not a QOS name (letters, digits, - _ .)");
  if (!o.constraint.empty() && !is_plain_word(o.constraint, "&|,[]*:()!")) {
    throw Error("--constraint '" + o.constraint + "' is not a Slurm feature expression (names with & | , [ ] * : ( ) !, no spaces)");
  }
  if (!is_plain_word(o.job_name, "")) throw Error("the job name '" + o.job_name + "' must be letters, digits, - _ .", ErrorKind::internal);
  if (!o.device.empty() && o.device != "cpu" && o.device != "cuda") throw Error("--device is '" + o.device + "'; give cpu or cuda");
  if (o.device == "cuda" && o.gpus_per_node == 0) throw Error("--device cuda needs --gpus-per-node 1 or more");
  if (o.setup.find('\0') != std::string::npos) throw Error("--setup holds a NUL character");
  if (o.out_dir.find('%') != std::string::npos) {
    throw Error("--out '" + o.out_dir + "' holds '%', which Slurm reads in file names as a pattern (%j: the job "
                "id); choose a folder without it");
  }
  for (const auto* path : {&o.promptgrid, &o.sweep_file, &o.out_dir}) {
    if (path->empty() || (*path)[0] != '/') throw Error("'" + *path + "' must be an absolute path", ErrorKind::internal);
  }
}

std::string job_name_for(const std::string& sweep_file) {
  std::string stem = sweep_file.substr(sweep_file.find_last_of('/') + 1);
  const size_t dot = stem.rfind('.');
  if (dot != std::string::npos && dot > 0) stem = stem.substr(0, dot);
  std::string name = "pg-";
  for (const char c : stem) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    name += keep ? c : '_';
    if (name.size() >= 64) break;
  }
  return name;
}

int worker_ranks(const JobOptions& options) {
  return options.nodes * (options.gpus_per_node > 0 ? options.gpus_per_node : options.workers_per_node);
}

}  // namespace pg::slurm
