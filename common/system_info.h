// Facts about this process's machine and time that records and status files carry.
#pragma once

#include <string>

namespace pg {

// The machine's host name ("unknown" when it cannot be read).
std::string host_name();
// Now, in UTC, as ISO 8601: "2026-11-30T12:00:00Z".
std::string utc_now_iso8601();
// The running program's own path (/proc/self/exe resolved); "" when it cannot be read.
std::string executable_path();

}  // namespace pg
