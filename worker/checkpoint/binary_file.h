// Random-access, bounds-checked reads from a file on disk, for the checkpoint readers (zip archives,
// safetensors). Checkpoints are hundreds of megabytes, so they are read range by range rather than
// whole; every read past the end of the file is a pg::Error naming the file and what was being read,
// which is how a truncated download shows up.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace pg::checkpoint {

class BinaryFile {
 public:
  // Opens `path` for reading; an error names the path.
  explicit BinaryFile(const std::string& path);

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // `length` bytes at `offset`; `what` names the part of the file for the error message
  // (e.g. "zip entry tiny_clip/data/3").
  std::string read(uint64_t offset, uint64_t length, const std::string& what);
  // Same, into caller memory.
  void read_into(uint64_t offset, uint64_t length, void* destination, const std::string& what);

 private:
  void check_range(uint64_t offset, uint64_t length, const std::string& what) const;

  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

// Little-endian integer at `offset` of `bytes` (the caller has checked the bounds).
uint64_t read_le(const std::string& bytes, size_t offset, int width);

}  // namespace pg::checkpoint
