// Test helpers: where ../shared/data is, and running the promptgrid binary.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"

namespace pg::testing {

// Absolute path of a file under ../shared/data; fails the calling test with a clear message (the path
// it looked for) when the folder is missing, so a missing checkout never turns a test green.
std::string shared_data(const std::string& relative_path);

// Whole test files (golden data, files a test wrote), read without the product's per-format limits.
std::string read_bytes(const std::string& path);
nlohmann::json read_json(const std::string& path);

// A fresh empty temporary folder for one test; removed by the OS's /tmp cleaning, not by the test,
// so failures can be inspected.
std::string make_temp_dir(const std::string& name);

// Runs `action`, expects a pg::Error and returns its message (an empty string, and a test failure, when
// none was thrown).
template <typename Action>
std::string error_message(Action action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a pg::Error";
  return "";
}

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// Runs the built promptgrid binary with the given argument string (shell-quoted by the caller).
// exit_code is -1 when the process was killed by a signal (a crash).
CommandResult run_promptgrid(const std::string& arguments);
// The same, with files limited to `kilobytes` (RLIMIT_FSIZE, SIGXFSZ ignored): writes past the limit
// fail as they do on a full disk.
CommandResult run_promptgrid_with_file_limit(const std::string& arguments, int kilobytes);
// The temporary name a process that has died (exited and reaped) would have used for `path`: what
// common/files.h's temporary_path_for gave it, on this host.
std::string temporary_of_a_dead_process(const std::string& path);

// Runs a shell command line; "$PG" in it is the promptgrid binary.
CommandResult run_shell(const std::string& command);

}  // namespace pg::testing
