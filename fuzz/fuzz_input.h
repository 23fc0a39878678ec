// The fuzz input as a file, for readers that take a path (HDF5, checkpoints, split files): one file per
// process in /dev/shm (memory-backed; /tmp where there is none), rewritten for every input and removed
// at exit. (A memfd will not do: HDF5 resolves the real path of the files it opens.)
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace pg::fuzz {

inline std::string as_file(const uint8_t* data, size_t size) {
  static std::string path;
  static const int fd = [] {
    std::string pattern = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/pg_fuzz_XXXXXX");
    const int created = mkstemp(pattern.data());
    if (created < 0) std::abort();
    path = pattern;
    std::atexit([] { std::remove(path.c_str()); });
    return created;
  }();
  if (ftruncate(fd, 0) != 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return path;
}

}  // namespace pg::fuzz
