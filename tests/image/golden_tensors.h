// A tiny safetensors reader for the image tests (8-byte little-endian header length, JSON header, raw
// little-endian data; dtypes F32 and U8 only). pg_image must not depend on the checkpoint library, and
// the tests should not trust the product's readers to check the product.
#pragma once

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/test_data.h"

namespace pg::testing {

class GoldenTensors {
 public:
  explicit GoldenTensors(const std::string& path) : path_(path), bytes_(read_bytes(path)) {
    if (bytes_.size() < 8) throw std::runtime_error(path + ": too short for safetensors");
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<uint8_t>(bytes_[i]);
    if (header_size > bytes_.size() - 8) throw std::runtime_error(path + ": header past the end");
    header_ = nlohmann::json::parse(bytes_.substr(8, header_size));
    data_start_ = 8 + header_size;
  }

  bool has(const std::string& key) const { return header_.contains(key); }

  std::vector<int64_t> shape(const std::string& key) const { return entry(key, nullptr)["shape"]; }

  std::vector<float> f32(const std::string& key) const {
    const std::string raw = data(key, "F32");
    std::vector<float> values(raw.size() / 4);
    std::memcpy(values.data(), raw.data(), values.size() * 4);  // little-endian host, as the file
    return values;
  }

  std::vector<uint8_t> u8(const std::string& key) const {
    const std::string raw = data(key, "U8");
    return std::vector<uint8_t>(raw.begin(), raw.end());
  }

 private:
  const nlohmann::json& entry(const std::string& key, const char* dtype) const {
    if (!header_.contains(key)) throw std::runtime_error(path_ + ": no tensor " + key);
    const nlohmann::json& e = header_.at(key);
    if (dtype != nullptr && e.at("dtype") != dtype) throw std::runtime_error(path_ + ": " + key + " is not " + dtype);
    return e;
  }

  std::string data(const std::string& key, const char* dtype) const {
    const nlohmann::json& e = entry(key, dtype);
    const uint64_t begin = e.at("data_offsets")[0], end = e.at("data_offsets")[1];
    if (begin > end || data_start_ + end > bytes_.size()) throw std::runtime_error(path_ + ": bad offsets of " + key);
    return bytes_.substr(data_start_ + begin, end - begin);
  }

  std::string path_, bytes_;
  nlohmann::json header_;
  uint64_t data_start_ = 0;
};

}  // namespace pg::testing
