#include "worker/checkpoint/binary_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace pg::checkpoint {

namespace {

// Checkpoints are read at random offsets: only a regular file will do (a device such as /dev/zero has
// no end, and opening a named pipe would wait for a writer).
const std::string& regular_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw Error(path + ": cannot open file (" + std::strerror(errno) + ")");
  if (!S_ISREG(info.st_mode)) throw Error(path + ": is not a regular file; pass the checkpoint file itself");
  return path;
}

}  // namespace

BinaryFile::BinaryFile(const std::string& path) : path_(path), in_(regular_file(path), std::ios::binary) {
  if (!in_) throw Error(path + ": cannot open file (" + std::strerror(errno) + ")");
  in_.seekg(0, std::ios::end);
  const std::streamoff end = in_.tellg();
  if (end < 0) throw Error(path + ": cannot determine the file size (is it a regular file?)");
  size_ = static_cast<uint64_t>(end);
}

void BinaryFile::check_range(uint64_t offset, uint64_t length, const std::string& what) const {
  if (offset > size_ || length > size_ - offset) {
    throw Error(path_ + ": " + what + " needs bytes " + std::to_string(offset) + ".." +
                std::to_string(offset + length) + " but the file has only " + std::to_string(size_) +
                " bytes; the file is truncated or corrupt (download it again)");
  }
}

std::string BinaryFile::read(uint64_t offset, uint64_t length, const std::string& what) {
  // Checked before allocating: a corrupt length field must not turn into a huge allocation.
  check_range(offset, length, what);
  std::string bytes(length, '\0');
  read_into(offset, length, bytes.data(), what);
  return bytes;
}

void BinaryFile::read_into(uint64_t offset, uint64_t length, void* destination, const std::string& what) {
  check_range(offset, length, what);
  if (length == 0) return;
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(offset));
  in_.read(static_cast<char*>(destination), static_cast<std::streamsize>(length));
  if (!in_ || static_cast<uint64_t>(in_.gcount()) != length) {
    throw Error(path_ + ": read failed for " + what + " (" + std::strerror(errno) + ")");
  }
}

uint64_t read_le(const std::string& bytes, size_t offset, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + static_cast<size_t>(i)]);
  }
  return value;
}

}  // namespace pg::checkpoint
