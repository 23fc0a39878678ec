// Progress messages on stderr (stdout is kept for machine-readable output such as ids and JSON).
#pragma once

#include <string>

namespace pg {

enum class LogLevel { quiet = 0, info = 1, debug = 2 };

void set_log_level(LogLevel level);
void log_info(const std::string& message);
void log_debug(const std::string& message);
void log_warning(const std::string& message);

// While alive, every message logged (whatever the level) is also appended to `lines`, with its tag:
// how a worker keeps a task's log lines for DIR/logs/<task_id>.log.
class ScopedLogCapture {
 public:
  explicit ScopedLogCapture(std::string& lines);
  ~ScopedLogCapture();
  ScopedLogCapture(const ScopedLogCapture&) = delete;
  ScopedLogCapture& operator=(const ScopedLogCapture&) = delete;

 private:
  std::string* previous_;
};

}  // namespace pg
