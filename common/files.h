// File helpers: whole-file reads, JSON files, and atomic writes (write to a temporary file in the same
// folder, fsync, rename) so that a process dying mid-write never leaves a half-written result.
// Every failure is a pg::Error naming the path.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace pg {

std::string read_file(const std::string& path);
nlohmann::json read_json_file(const std::string& path);

void write_file_atomic(const std::string& path, const std::string& contents);
void write_json_file_atomic(const std::string& path, const nlohmann::json& value);

// Creates the folder and its parents; an error names the path when that is impossible.
void make_directories(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace pg
