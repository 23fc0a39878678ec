// The system calls by which promptgrid changes files (write, fsync, rename), behind one seam as
// LevelDB's Env does it: the file layer (files.h) and the run journal make them through file_calls(),
// and a test installs its own for a scope (ScopedFileCalls) to inject a full disk, a failed fsync or a
// failed rename at an exact point, then checks that nothing was lost or half-written.
#pragma once

#include <sys/types.h>

#include <functional>

namespace pg {

struct FileCalls {
  // Same contract as the system calls: -1 with errno set on failure.
  std::function<ssize_t(int fd, const void* data, size_t size)> write;
  std::function<int(int fd)> fsync;
  // rename(2), or renameat2(..., RENAME_NOREPLACE) when `replace` is false.
  std::function<int(const char* from, const char* to, bool replace)> rename;
};

// The system's calls.
FileCalls system_file_calls();
// The calls in use (the system's unless a test replaced them).
const FileCalls& file_calls();

// Replaces the calls in use until destroyed (tests only; not thread-safe against concurrent writers).
class ScopedFileCalls {
 public:
  explicit ScopedFileCalls(FileCalls calls);
  ~ScopedFileCalls();
  ScopedFileCalls(const ScopedFileCalls&) = delete;
  ScopedFileCalls& operator=(const ScopedFileCalls&) = delete;

 private:
  FileCalls previous_;
};

}  // namespace pg
