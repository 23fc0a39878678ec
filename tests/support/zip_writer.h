// Byte-level builders of the files checkpoint readers take: hex strings, little-endian fields and zip
// archives laid out as the ZIP application note says. No test framework here: the fuzz targets'
// seed writer (fuzz/make_seeds.cpp) uses it too.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pg::testing {

inline std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

inline void put_le(std::string& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A zip archive as the ZIP application note lays it out: local headers + data, central directory,
// (zip64 end record and locator,) end record. `zip64` saturates the 32-bit fields and moves the real
// values into zip64 extra fields, as writers do for archives over 4 GiB. `method` is stored as given
// (8 = deflate) but the data is written as is.
inline std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries, bool zip64 = false,
                     uint16_t method = 0) {
  std::string out;
  std::string directory;
  for (const auto& [name, data] : entries) {
    const uint64_t offset = out.size();
    const auto crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(data.data()),
                                                 static_cast<uInt>(data.size())));
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2);
    put_le(out, 0, 2);
    put_le(out, method, 2);
    put_le(out, 0, 4);  // time, date
    put_le(out, crc, 4);
    put_le(out, data.size(), 4);
    put_le(out, data.size(), 4);
    put_le(out, name.size(), 2);
    put_le(out, 0, 2);
    out += name + data;

    std::string extra;
    if (zip64) {
      put_le(extra, 0x0001, 2);
      put_le(extra, 24, 2);
      put_le(extra, data.size(), 8);
      put_le(extra, data.size(), 8);
      put_le(extra, offset, 8);
    }
    const uint64_t saturated = 0xffffffff;
    put_le(directory, 0x02014b50, 4);
    put_le(directory, 45, 2);
    put_le(directory, 45, 2);
    put_le(directory, 0, 2);
    put_le(directory, method, 2);
    put_le(directory, 0, 4);
    put_le(directory, crc, 4);
    put_le(directory, zip64 ? saturated : data.size(), 4);
    put_le(directory, zip64 ? saturated : data.size(), 4);
    put_le(directory, name.size(), 2);
    put_le(directory, extra.size(), 2);
    put_le(directory, 0, 2);  // comment
    put_le(directory, 0, 2);  // disk
    put_le(directory, 0, 2);
    put_le(directory, 0, 4);
    put_le(directory, zip64 ? saturated : offset, 4);
    directory += name + extra;
  }
  const uint64_t directory_offset = out.size();
  out += directory;
  if (zip64) {
    const uint64_t zip64_end_offset = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, entries.size(), 8);
    put_le(out, entries.size(), 8);
    put_le(out, directory.size(), 8);
    put_le(out, directory_offset, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, zip64_end_offset, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 4);
  put_le(out, zip64 ? 0xffff : entries.size(), 2);
  put_le(out, zip64 ? 0xffff : entries.size(), 2);
  put_le(out, zip64 ? 0xffffffff : directory.size(), 4);
  put_le(out, zip64 ? 0xffffffff : directory_offset, 4);
  put_le(out, 0, 2);
  return out;
}

// A torch.save'd state dict {'w': tensor([1.5, -2.0])} (protocol 2), as its zip archive: the smallest
// checkpoint the TorchScript reader accepts.
inline std::string tiny_torch_save_zip(bool zip64 = false) {
  std::string storage;
  for (float value : {1.5f, -2.0f}) storage.append(reinterpret_cast<const char*>(&value), 4);
  // pickle.dumps protocol 2 of {'w': _rebuild_tensor_v2(persistent_id(('storage', torch.FloatStorage, '0',
  // 'cpu', 2)), 0, (2,), (1,), False, OrderedDict())}, as torch.save writes it (checked with pickletools).
  const std::string pickle = from_hex(
      "80027d7100580100000077710163746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a7102282858070000"
      "0073746f72616765710363746f7263680a466c6f617453746f726167650a71045801000000307105580300000063707571064b0274"
      "7107514b004b02854b01858963636f6c6c656374696f6e730a4f726465726564446963740a29527452732e");
  return make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", storage}}, zip64);
}

}  // namespace pg::testing
