// The sbatch script (slurm/job_script.h) from arbitrary option values: the input's NUL-separated fields
// are the partition, account, QOS, constraint, time, setup, sweep path, output folder, job name and
// overrides. Whatever check_job_options accepts must render to a script whose directive block (the
// #SBATCH lines sbatch reads, before the first command) holds one option per line in Slurm's plain
// alphabet, and whose quoted words, read in order by a POSIX single-quote reader written here
// (independent of shell_quote), are exactly the values given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.h"
#include "slurm/job_options.h"
#include "slurm/job_script.h"

namespace {

// Reads one shell word made of '...' segments and \' escapes at `at`; it must end at a newline, a
// space or ')'. Aborts (a finding) on anything else.
std::string read_quoted_word(const std::string& script, size_t& at) {
  std::string word;
  while (at < script.size()) {
    const char c = script[at];
    if (c == '\'') {
      const size_t end = script.find('\'', at + 1);
      if (end == std::string::npos) std::abort();
      word += script.substr(at + 1, end - at - 1);
      at = end + 1;
    } else if (c == '\\' && at + 1 < script.size() && script[at + 1] == '\'') {
      word += '\'';
      at += 2;
    } else if (c == '\n' || c == ' ' || c == ')') {
      return word;
    } else {
      std::abort();  // an unquoted character in a quoted value
    }
  }
  std::abort();
}

// The assignment `name='...'` that follows `at` (the script is read in order, so that a value holding
// "\nname='" cannot stand in for the real one); `at` moves past it.
void expect_assignment(const std::string& script, size_t& at, const std::string& name, const std::string& value) {
  const size_t found = script.find("\n" + name + "='", at);
  if (found == std::string::npos) std::abort();
  at = found + name.size() + 2;
  if (read_quoted_word(script, at) != value || script[at] != '\n') std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> fields(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) fields.emplace_back();
    else fields.back() += static_cast<char>(data[i]);
  }
  fields.resize(std::max<size_t>(fields.size(), 10));
  pg::slurm::JobOptions options;
  options.partition = fields[0];
  options.account = fields[1];
  options.qos = fields[2];
  options.constraint = fields[3];
  options.time = fields[4];
  options.setup = fields[5];
  options.sweep_file = "/" + fields[6];
  options.out_dir = "/" + fields[7];
  options.job_name = fields[8].empty() ? pg::slurm::job_name_for(options.sweep_file) : fields[8];
  options.promptgrid = "/usr/bin/promptgrid";
  options.overrides.assign(fields.begin() + 9, fields.end());
  options.gpus_per_node = static_cast<int>(size % 3);
  std::string script;
  try {
    script = pg::slurm::render_job_script(options, pg::slurm::job_parts(options).at(0));
  } catch (const pg::Error&) {
    return 0;
  }
  // #SBATCH lines: one option each, Slurm's words only. sbatch reads them up to the first line that is
  // neither a comment nor blank (the assignments below), so that is the block to check.
  const size_t commands = script.find("\npromptgrid='");
  if (commands == std::string::npos) std::abort();
  for (size_t at = 0; (at = script.find("#SBATCH", at)) < commands; ++at) {
    const size_t end = script.find('\n', at);
    for (size_t i = at; i < end; ++i) {
      const char c = script[i];
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         std::string("#-=:@&|,[]*()!_. ").find(c) != std::string::npos;
      if (!plain || (c == ' ' && i != at + 7)) std::abort();
    }
  }
  size_t at = 0;
  expect_assignment(script, at, "promptgrid", options.promptgrid);
  expect_assignment(script, at, "sweep", options.sweep_file);
  // overrides=('a' 'b' ...), right after
  if (script.compare(at, 12, "\noverrides=(") != 0) std::abort();
  at += 12;
  for (size_t i = 0; i < options.overrides.size(); ++i) {
    if (i > 0 && script[at++] != ' ') std::abort();
    if (read_quoted_word(script, at) != options.overrides[i]) std::abort();
  }
  if (script.compare(at, 2, ")\n") != 0) std::abort();
  expect_assignment(script, at, "out", options.out_dir);
  expect_assignment(script, at, "cancel_file", options.out_dir + "/slurm/cancel");
  if (!options.setup.empty()) expect_assignment(script, at, "setup", options.setup);
  return 0;
}
