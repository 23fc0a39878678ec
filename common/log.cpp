#include "common/log.h"

#include <iostream>
#include <mutex>

namespace pg {
namespace {
LogLevel g_level = LogLevel::info;
std::mutex g_mutex;
std::string* g_capture = nullptr;

void write(const char* tag, const std::string& message, bool shown) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const std::string line = std::string("[promptgrid") + tag + "] " + message;
  if (g_capture != nullptr) *g_capture += line + "\n";
  if (shown) std::cerr << line << std::endl;
}
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
void log_info(const std::string& message) { write("", message, g_level >= LogLevel::info); }
void log_debug(const std::string& message) { write(" debug", message, g_level >= LogLevel::debug); }
void log_warning(const std::string& message) { write(" warning", message, true); }

ScopedLogCapture::ScopedLogCapture(std::string& lines) {
  std::lock_guard<std::mutex> lock(g_mutex);
  previous_ = g_capture;
  g_capture = &lines;
}

ScopedLogCapture::~ScopedLogCapture() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_capture = previous_;
}

}  // namespace pg
