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
  return !text.empty() && text.size() <= 7 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

long long slurm_time_seconds(const std::string& text) {
  if (text == "UNLIMITED" || text == "INFINITE" || text == "unlimited" || text == "infinite") return 0;
  // Slurm's formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (each field digits).
  std::string rest = text;
  long long days = 0;
  const size_t dash = rest.find('-');
  if (dash != std::string::npos) {
    if (!all_digits(rest.substr(0, dash))) return -1;
    days = std::stoll(rest.substr(0, dash));
    rest = rest.substr(dash + 1);
  }
  const std::vector<std::string> fields = split(rest, ':');
  if (fields.empty() || fields.size() > 3 || !std::all_of(fields.begin(), fields.end(), all_digits)) return -1;
  std::vector<long long> v;
  for (const auto& field : fields) v.push_back(std::stoll(field));
  long long seconds = 0;
  if (dash != std::string::npos) {  // D-H, D-H:M, D-H:M:S
    seconds = v[0] * 3600 + (v.size() > 1 ? v[1] * 60 : 0) + (v.size() > 2 ? v[2] : 0);
  } else if (v.size() == 1) {  // M
    seconds = v[0] * 60;
  } else if (v.size() == 2) {  // M:S
    seconds = v[0] * 60 + v[1];
  } else {  // H:M:S
    seconds = v[0] * 3600 + v[1] * 60 + v[2];
  }
  return days * 86400 + seconds;
}

namespace {

int parse_count(const sweeps::SlurmDefault& value, const std::string& key) {
  try {
    size_t used = 0;
    const int number = std::stoi(value.value, &used);
    if (used == value.value.size()) return number;
  } catch (const std::exception&) {
  }
  throw Error(value.where + ": slurm." + key + " is '" + value.value + "'; give a whole number (see slurm submit --help "
              "for its range)");
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& sweep_keys_and_options() {
  static const std::vector<std::pair<std::string, std::string>> pairs = {
      {"nodes", "--nodes"},       {"gpus_per_node", "--gpus-per-node"}, {"cpus_per_gpu", "--cpus-per-gpu"},
      {"time", "--time"},         {"partition", "--partition"},         {"account", "--account"},
      {"qos", "--qos"},           {"constraint", "--constraint"},       {"mem", "--mem"},
      {"gpu_type", "--gpu-type"}, {"setup", "--setup"},                 {"jobs", "--jobs"},
      {"max_requeues", "--max-requeues"}, {"signal_seconds", "--signal-seconds"}};
  return pairs;
}

void apply_sweep_defaults(JobOptions& options, const std::map<std::string, sweeps::SlurmDefault>& defaults,
                          const std::vector<std::string>& given) {
  std::vector<std::string> applied;
  for (const auto& [key, value] : defaults) {
    if (std::find(given.begin(), given.end(), key) != given.end()) continue;  // the command line wins
    applied.push_back(key);
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
    else if (key == "mem") options.memory = value.value;
    else if (key == "gpu_type") options.gpu_type = value.value;
    else if (key == "setup") options.setup = value.value;
    else throw Error(value.where + ": slurm." + key + " is not an option of slurm submit", ErrorKind::internal);
  }
  const std::optional<OptionProblem> problem = job_options_problem(options);
  if (!problem) return;
  // Name the sweep-file key that set one of its options, when the sweep file set one.
  for (const std::string& option : problem->options) {
    for (const auto& [key, key_option] : sweep_keys_and_options()) {
      if (key_option == option && std::find(applied.begin(), applied.end(), key) != applied.end()) {
        throw Error(defaults.at(key).where + ": slurm." + key + ": " + problem->message, problem->kind);
      }
    }
  }
  throw Error(problem->message, problem->kind);
}

std::optional<OptionProblem> job_options_problem(const JobOptions& o) {
  const struct {
    const char* option;
    int value, low, high;
  } ranges[] = {{"--nodes", o.nodes, 1, 100000},
                {"--gpus-per-node", o.gpus_per_node, 0, 1024},
                {"--workers-per-node", o.workers_per_node, 1, 1024},
                {"--cpus-per-gpu", o.cpus_per_worker, 0, 100000},
                {"--jobs", o.jobs, 1, 10000},
                {"--max-requeues", o.max_requeues, 0, 1000},
                {"--signal-seconds", o.signal_seconds, 1, 65535},  // Slurm's --signal takes up to 65535 s
                {"--threads", o.threads, 0, 100000},
                {"--checkpoint-every", o.checkpoint_every_s, 0, 1000000000}};
  for (const auto& range : ranges) {
    if (range.value < range.low || range.value > range.high) {
      return OptionProblem{{range.option},
                           std::string(range.option) + " is " + std::to_string(range.value) + "; give " +
                               std::to_string(range.low) + " to " + std::to_string(range.high)};
    }
  }
  if (!o.time.empty()) {
    const long long limit = slurm_time_seconds(o.time);
    if (limit < 0)
      return OptionProblem{{"--time"},
                           "--time '" + o.time + "' is not a Slurm time; give HH:MM:SS, D-HH:MM:SS or minutes"};
    // USR2 comes --signal-seconds before the limit (Slurm may send it up to a minute earlier still): a
    // warning at the start would stop every run before it did anything.
    if (limit > 0 && o.signal_seconds * 2 > limit) {
      return OptionProblem{{"--signal-seconds", "--time"},
                           "--signal-seconds " + std::to_string(o.signal_seconds) + " is not well inside --time " +
                               o.time + " (" + std::to_string(limit) +
                               " s): the warning would come near the start of every run; "
                               "give --signal-seconds at most " +
                               std::to_string(limit / 2) + ", or a longer --time"};
    }
  }
  if (!o.memory.empty()) {
    const size_t digits = o.memory.find_first_not_of("0123456789");
    const std::string unit = digits == std::string::npos ? "" : o.memory.substr(digits);
    if (digits == 0 || digits > 9 || !(unit.empty() || unit == "K" || unit == "M" || unit == "G" || unit == "T")) {
      return OptionProblem{
          {"--mem"}, "--mem '" + o.memory + "' is not a Slurm memory size; give a number with K, M, G or T (64G)"};
    }
  }
  if (!o.gpu_type.empty() && !is_plain_word(o.gpu_type, "")) {
    return OptionProblem{{"--gpu-type"},
                         "--gpu-type '" + o.gpu_type + "' is not a GPU type name (letters, digits, - _ .)"};
  }
  if (!o.partition.empty() && !is_plain_word(o.partition, ",")) {
    return OptionProblem{
        {"--partition"},
        "--partition '" + o.partition + "' is not a partition name (letters, digits, - _ . and , between names)"};
  }
  if (!o.account.empty() && !is_plain_word(o.account, "")) {
    return OptionProblem{{"--account"},
                         "--account '" + o.account + "' is not an account name (letters, digits, - _ .)"};
  }
  if (!o.qos.empty() && !is_plain_word(o.qos, ""))
    return OptionProblem{{"--qos"}, "--qos '" + o.qos + "' is not a QOS name (letters, digits, - _ .)"};
  if (!o.constraint.empty() && !is_plain_word(o.constraint, "&|,[]*:()!")) {
    return OptionProblem{{"--constraint"},
                         "--constraint '" + o.constraint +
                             "' is not a Slurm feature expression (names with & | , [ ] * : ( ) !, no spaces)"};
  }
  if (!is_plain_word(o.job_name, ""))
    return OptionProblem{{}, "the job name '" + o.job_name + "' must be letters, digits, - _ .", ErrorKind::internal};
  if (!o.device.empty() && o.device != "cpu" && o.device != "cuda")
    return OptionProblem{{"--device"}, "--device is '" + o.device + "'; give cpu or cuda"};
  if (o.device == "cuda" && o.gpus_per_node == 0)
    return OptionProblem{{"--device", "--gpus-per-node"}, "--device cuda needs --gpus-per-node 1 or more"};
  if (o.setup.find('\0') != std::string::npos) return OptionProblem{{"--setup"}, "--setup holds a NUL character"};
  if (o.out_dir.find('%') != std::string::npos) {
    return OptionProblem{{"--out"},
                         "--out '" + o.out_dir +
                             "' holds '%', which Slurm reads in file names as a pattern (%j: "
                             "the job id); choose a folder without it"};
  }
  for (const auto* path : {&o.promptgrid, &o.sweep_file, &o.out_dir}) {
    if (path->empty() || (*path)[0] != '/')
      return OptionProblem{{}, "'" + *path + "' must be an absolute path", ErrorKind::internal};
  }
  return std::nullopt;
}

void check_job_options(const JobOptions& options) {
  if (const auto problem = job_options_problem(options)) throw Error(problem->message, problem->kind);
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

}  // namespace pg::slurm
