// Progress messages on stderr (stdout is kept for machine-readable output such as ids and JSON).
#pragma once

#include <string>

namespace pg {

enum class LogLevel { quiet = 0, info = 1, debug = 2 };

void set_log_level(LogLevel level);
void log_info(const std::string& message);
void log_debug(const std::string& message);
void log_warning(const std::string& message);

}  // namespace pg
