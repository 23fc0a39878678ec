#include "common/log.h"

#include <iostream>
#include <mutex>

namespace pg {
namespace {
LogLevel g_level = LogLevel::info;
std::mutex g_mutex;

void write(const char* tag, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::cerr << "[promptgrid" << tag << "] " << message << std::endl;
}
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
void log_info(const std::string& message) {
  if (g_level >= LogLevel::info) write("", message);
}
void log_debug(const std::string& message) {
  if (g_level >= LogLevel::debug) write(" debug", message);
}
void log_warning(const std::string& message) { write(" warning", message); }

}  // namespace pg
