// A first read of an HDF5 file in a child process. libhdf5 1.10 trusts some fields of a file's
// metadata: a damaged or crafted file can make it read or write past its buffers (fuzzing found such
// files in a few seconds), which kills the process or corrupts its memory. So before promptgrid reads a
// file it did not just write, a forked child reads it completely; if the child dies (a signal, an
// abort, a sanitizer report) or hangs, the file is reported damaged and the parent never parses it. The
// child's pg::Error (an ordinary malformed file) comes back as the same pg::Error.
// Storage-internal.
#pragma once

#include <functional>
#include <string>

namespace pg::storage {

// Runs `read` in a child process and waits for it, at most `time_limit_seconds` (0: a minute plus
// 20 MB/s of the file's size). Returns when it finished; throws the child's pg::Error, or a pg::Error
// naming `path` when the child crashed or ran out of time (it is then killed).
void probe_in_child(const std::string& path, const std::function<void()>& read, int time_limit_seconds = 0);
// The same, where the child's read returns a report (what it found) that comes back to the parent, so
// the parent need not read the file a second time to learn it.
std::string probe_in_child_with_report(const std::string& path, const std::function<std::string()>& read,
                                       int time_limit_seconds = 0);

}  // namespace pg::storage
