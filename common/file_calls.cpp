#include "common/file_calls.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace pg {
namespace {

FileCalls& calls_in_use() {
  static FileCalls calls = system_file_calls();
  return calls;
}

}  // namespace

FileCalls system_file_calls() {
  FileCalls calls;
  calls.write = [](int fd, const void* data, size_t size) { return ::write(fd, data, size); };
  calls.fsync = [](int fd) { return ::fsync(fd); };
  calls.rename = [](const char* from, const char* to, bool replace) {
    return replace ? ::rename(from, to) : ::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
  };
  return calls;
}

const FileCalls& file_calls() { return calls_in_use(); }

ScopedFileCalls::ScopedFileCalls(FileCalls calls) : previous_(calls_in_use()) { calls_in_use() = std::move(calls); }

ScopedFileCalls::~ScopedFileCalls() { calls_in_use() = previous_; }

}  // namespace pg
