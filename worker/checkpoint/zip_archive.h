// Read-only access to the zip archives PyTorch writes (TorchScript archives such as OpenAI's
// ViT-B-16.pt, and torch.save files): the central directory (zip64 included) is parsed once, entries
// are found by name and read whole. PyTorch stores every entry uncompressed (method STORED), so that
// is all this reader supports; a compressed entry, a CRC mismatch or a truncated file is a pg::Error
// naming the file and the entry.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "worker/checkpoint/binary_file.h"

namespace pg::checkpoint {

class ZipArchive {
 public:
  // Reads the central directory of `path`; errors name the file.
  explicit ZipArchive(const std::string& path);

  const std::string& path() const { return file_->path(); }
  // Entry names in central-directory order.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  // Uncompressed size of an entry (error if absent).
  uint64_t entry_size(const std::string& name) const;
  // The entry's bytes, checked against its CRC-32.
  std::string read(const std::string& name) const;

 private:
  struct Entry {
    uint16_t method = 0;
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint64_t local_header_offset = 0;
  };
  const Entry& entry(const std::string& name) const;

  std::unique_ptr<BinaryFile> file_;
  std::vector<std::string> order_;
  std::map<std::string, Entry> entries_;
};

}  // namespace pg::checkpoint
