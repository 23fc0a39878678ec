#include "worker/checkpoint/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "common/error.h"

namespace pg::checkpoint {
namespace {

// Record signatures and sizes from the ZIP application note (PKWARE APPNOTE.TXT, 4.3).
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndOfCentralDirectorySignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kEndOfCentralDirectorySize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kMaxCommentSize = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kMethodStored = 0;

std::string not_a_zip(const std::string& path, const std::string& why) {
  return path + ": not a readable zip archive (" + why +
         "); expected a TorchScript archive or torch.save file, possibly truncated (download it again)";
}

}  // namespace

ZipArchive::ZipArchive(const std::string& path) : file_(std::make_unique<BinaryFile>(path)) {
  const uint64_t file_size = file_->size();
  if (file_size < kEndOfCentralDirectorySize) {
    throw Error(not_a_zip(path, "only " + std::to_string(file_size) + " bytes"));
  }
  // The end-of-central-directory record is followed only by a comment of at most 64 KiB: search back.
  const uint64_t tail_size = std::min<uint64_t>(file_size, kEndOfCentralDirectorySize + kMaxCommentSize);
  const std::string tail = file_->read(file_size - tail_size, tail_size, "end of central directory");
  int64_t found = -1;
  for (int64_t i = static_cast<int64_t>(tail_size - kEndOfCentralDirectorySize); i >= 0; --i) {
    if (read_le(tail, static_cast<size_t>(i), 4) == kEndOfCentralDirectorySignature) {
      found = i;
      break;
    }
  }
  if (found < 0) throw Error(not_a_zip(path, "no end-of-central-directory record"));
  const uint64_t end_offset = file_size - tail_size + static_cast<uint64_t>(found);
  const auto eocd = static_cast<size_t>(found);
  uint64_t entry_count = read_le(tail, eocd + 10, 2);
  uint64_t directory_size = read_le(tail, eocd + 12, 4);
  uint64_t directory_offset = read_le(tail, eocd + 16, 4);

  const bool zip64 = entry_count == 0xffff || directory_size == 0xffffffff || directory_offset == 0xffffffff;
  if (zip64) {
    if (end_offset < kZip64LocatorSize) throw Error(not_a_zip(path, "zip64 locator missing"));
    const std::string locator = file_->read(end_offset - kZip64LocatorSize, kZip64LocatorSize, "zip64 locator");
    if (read_le(locator, 0, 4) != kZip64LocatorSignature) throw Error(not_a_zip(path, "zip64 locator missing"));
    const uint64_t zip64_end_offset = read_le(locator, 8, 8);
    const std::string zip64_end = file_->read(zip64_end_offset, kZip64EndSize, "zip64 end of central directory");
    if (read_le(zip64_end, 0, 4) != kZip64EndSignature) {
      throw Error(not_a_zip(path, "bad zip64 end-of-central-directory record"));
    }
    entry_count = read_le(zip64_end, 32, 8);
    directory_size = read_le(zip64_end, 40, 8);
    directory_offset = read_le(zip64_end, 48, 8);
  }

  const std::string directory = file_->read(directory_offset, directory_size, "central directory");
  size_t position = 0;
  for (uint64_t index = 0; index < entry_count; ++index) {
    if (position + kCentralHeaderSize > directory.size() ||
        read_le(directory, position, 4) != kCentralHeaderSignature) {
      throw Error(not_a_zip(path, "central directory entry " + std::to_string(index) + " is damaged"));
    }
    Entry entry;
    entry.method = static_cast<uint16_t>(read_le(directory, position + 10, 2));
    entry.crc32 = static_cast<uint32_t>(read_le(directory, position + 16, 4));
    entry.compressed_size = read_le(directory, position + 20, 4);
    entry.size = read_le(directory, position + 24, 4);
    const size_t name_length = read_le(directory, position + 28, 2);
    const size_t extra_length = read_le(directory, position + 30, 2);
    const size_t comment_length = read_le(directory, position + 32, 2);
    entry.local_header_offset = read_le(directory, position + 42, 4);
    const size_t name_start = position + kCentralHeaderSize;
    const size_t next = name_start + name_length + extra_length + comment_length;
    if (next > directory.size()) {
      throw Error(not_a_zip(path, "central directory entry " + std::to_string(index) + " is damaged"));
    }
    const std::string name = directory.substr(name_start, name_length);

    // Zip64 extra field: the 8-byte values appear, in this order, only for the fields saturated above.
    size_t extra = name_start + name_length;
    const size_t extra_end = extra + extra_length;
    while (extra + 4 <= extra_end) {
      const auto id = static_cast<uint16_t>(read_le(directory, extra, 2));
      const size_t length = read_le(directory, extra + 2, 2);
      const size_t data = extra + 4;
      if (data + length > extra_end) break;
      if (id == kZip64ExtraId) {
        size_t field = data;
        auto take = [&](uint64_t& value) {
          if (value != 0xffffffff) return;
          if (field + 8 > data + length) {
            throw Error(not_a_zip(path, "zip64 extra field of entry " + name + " is too short"));
          }
          value = read_le(directory, field, 8);
          field += 8;
        };
        take(entry.size);
        take(entry.compressed_size);
        take(entry.local_header_offset);
      }
      extra = data + length;
    }
    entries_[name] = entry;
    order_.push_back(name);
    position = next;
  }
}

std::vector<std::string> ZipArchive::names() const { return order_; }

bool ZipArchive::contains(const std::string& name) const { return entries_.count(name) != 0; }

const ZipArchive::Entry& ZipArchive::entry(const std::string& name) const {
  const auto found = entries_.find(name);
  if (found == entries_.end()) {
    throw Error(path() + ": zip archive has no entry " + name + " (is this a PyTorch checkpoint?)");
  }
  return found->second;
}

uint64_t ZipArchive::entry_size(const std::string& name) const { return entry(name).size; }

std::string ZipArchive::read(const std::string& name) const {
  const Entry& e = entry(name);
  if (e.method != kMethodStored || e.compressed_size != e.size) {
    throw Error(path() + ": zip entry " + name + " is compressed (method " + std::to_string(e.method) +
                "); PyTorch writes entries uncompressed: re-save the checkpoint with torch.save / "
                "torch.jit.save instead of re-zipping it");
  }
  const std::string what = "zip entry " + name;
  const std::string header = file_->read(e.local_header_offset, kLocalHeaderSize, what + " (local header)");
  if (read_le(header, 0, 4) != kLocalHeaderSignature) {
    throw Error(path() + ": zip entry " + name + " has a damaged local header; the file is corrupt");
  }
  const uint64_t data_offset = e.local_header_offset + kLocalHeaderSize + read_le(header, 26, 2) +
                               read_le(header, 28, 2);
  std::string bytes = file_->read(data_offset, e.size, what);
  // zlib's crc32 takes a 32-bit length: feed large entries in pieces.
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr size_t kPiece = std::numeric_limits<uInt>::max() / 2;
  for (size_t done = 0; done < bytes.size(); done += kPiece) {
    const size_t piece = std::min(kPiece, bytes.size() - done);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), static_cast<uInt>(piece));
  }
  if (static_cast<uint32_t>(crc) != e.crc32) {
    throw Error(path() + ": zip entry " + name + " fails its CRC-32 check; the file is corrupt (download it again)");
  }
  return bytes;
}

}  // namespace pg::checkpoint
