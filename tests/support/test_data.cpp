#include "support/test_data.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "common/files.h"

namespace pg::testing {

std::string shared_data(const std::string& relative_path) {
  const std::string path = std::string(PG_SHARED_DATA_DIR) + "/" + relative_path;
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "test data missing: " << path
                  << " (tests read ../shared/data beside the project checkout; put it there)";
    throw std::runtime_error("missing test data: " + path);
  }
  return path;
}

std::string read_bytes(const std::string& path) { return read_file(path, uint64_t{1} << 32, "test data"); }

nlohmann::json read_json(const std::string& path) { return read_json_file(path, "test data"); }

std::string make_temp_dir(const std::string& name) {
  std::string pattern = (std::filesystem::temp_directory_path() / ("pg_" + name + "_XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  return pattern;
}

std::string temporary_of_a_dead_process(const std::string& path) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const std::string own = temporary_path_for(path);
  const std::string own_pid = std::to_string(::getpid());
  return own.substr(0, own.size() - own_pid.size()) + std::to_string(child);
}

CommandResult run_shell(const std::string& command) {
  const std::string line = "PG='" + std::string(PG_BINARY) + "'; export PG; (" + command + ") 2>&1";
  FILE* pipe = ::popen(line.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + line);
  std::string output;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

CommandResult run_promptgrid(const std::string& arguments) {
  // exec, so that a crash shows as the shell's 128 + signal; reported as -1.
  CommandResult result = run_shell("exec \"$PG\" " + arguments);
  if (result.exit_code > 128) result.exit_code = -1;
  return result;
}

CommandResult run_promptgrid_with_file_limit(const std::string& arguments, int kilobytes) {
  CommandResult result =
      run_shell("trap '' XFSZ; ulimit -f " + std::to_string(kilobytes) + "; exec \"$PG\" " + arguments);
  if (result.exit_code > 128) result.exit_code = -1;
  return result;
}

}  // namespace pg::testing
