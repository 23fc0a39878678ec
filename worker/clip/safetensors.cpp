// safetensors reading and writing (declared in worker/clip/state_dict.h). Layout: an 8-byte
// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, ...,
// "__metadata__": {...}}, then the raw little-endian tensor bytes, offsets relative to the data start.
// Every length and offset is checked against the file size before anything is allocated or read.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "worker/clip/binary_file.h"
#include "worker/clip/state_dict.h"

namespace pg::worker {
namespace {

// The reference implementation refuses headers over 100 MB; so does this reader.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DType {
  torch::ScalarType scalar_type;
  uint64_t element_size;
};

const std::map<std::string, DType>& dtypes() {
  static const std::map<std::string, DType> table = {
      {"F64", {torch::kFloat64, 8}}, {"F32", {torch::kFloat32, 4}}, {"F16", {torch::kFloat16, 2}},
      {"BF16", {torch::kBFloat16, 2}}, {"I64", {torch::kInt64, 8}}, {"I32", {torch::kInt32, 4}},
      {"I16", {torch::kInt16, 2}},   {"I8", {torch::kInt8, 1}},     {"U8", {torch::kUInt8, 1}},
      {"BOOL", {torch::kBool, 1}},
  };
  return table;
}

}  // namespace

StateDict read_safetensors(const std::string& path) {
  BinaryFile file(path);
  if (file.size() < 8) {
    throw Error(path + ": only " + std::to_string(file.size()) + " bytes, too short to be a safetensors file");
  }
  const uint64_t header_length = read_le(file.read(0, 8, "safetensors header length"), 0, 8);
  if (header_length > file.size() - 8 || header_length > kMaxHeaderBytes) {
    throw Error(path + ": safetensors header length " + std::to_string(header_length) + " exceeds the file size (" +
                std::to_string(file.size()) + " bytes) or the 100 MB limit; the file is truncated or not "
                "safetensors");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.read(8, header_length, "safetensors header"));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path + ": safetensors header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) throw Error(path + ": safetensors header is not a JSON object");

  const uint64_t data_start = 8 + header_length;
  const uint64_t data_size = file.size() - data_start;
  StateDict tensors;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor " + name;
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets") ||
        !info["dtype"].is_string() || !info["shape"].is_array() || !info["data_offsets"].is_array() ||
        info["data_offsets"].size() != 2) {
      throw Error(where + ": header entry needs dtype, shape and data_offsets [begin, end]");
    }
    const auto dtype = dtypes().find(info["dtype"].get<std::string>());
    if (dtype == dtypes().end()) {
      throw Error(where + " has dtype " + info["dtype"].get<std::string>() +
                  ", which promptgrid cannot read (F64, F32, F16, BF16 and integer types are supported)");
    }
    std::vector<uint64_t> extents;
    for (const auto& dimension : info["shape"]) {
      if (!dimension.is_number_unsigned()) throw Error(where + ": shape has a non-integer or negative entry");
      extents.push_back(dimension.get<uint64_t>());
    }
    const bool empty = std::find(extents.begin(), extents.end(), 0) != extents.end();
    uint64_t bytes = empty ? 0 : dtype->second.element_size;
    std::vector<int64_t> shape;
    for (const uint64_t extent : extents) {
      // Checked step by step so that a crafted shape cannot overflow the byte count.
      if (!empty && bytes > data_size / extent) {
        throw Error(where + ": shape " + info["shape"].dump() + " needs more bytes than the file holds");
      }
      bytes *= extent;
      shape.push_back(static_cast<int64_t>(extent));
    }
    const auto& offsets = info["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      throw Error(where + ": data_offsets must be two non-negative integers");
    }
    const auto begin = offsets[0].get<uint64_t>();
    const auto end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      throw Error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] lie outside the file's " + std::to_string(data_size) +
                  " data bytes; the file is truncated or corrupt");
    }
    if (end - begin != bytes) {
      throw Error(where + ": data_offsets span " + std::to_string(end - begin) + " bytes but shape " +
                  format_shape(shape) + " of " + info["dtype"].get<std::string>() + " needs " +
                  std::to_string(bytes));
    }
    torch::Tensor raw = torch::empty(shape, torch::TensorOptions().dtype(dtype->second.scalar_type));
    file.read_into(data_start + begin, bytes, raw.data_ptr(), "tensor " + name);
    tensors[name] = raw.to(torch::kFloat32);
  }
  return tensors;
}

void write_safetensors(const std::string& path, const StateDict& tensors) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw Error(path + ": a tensor cannot be named __metadata__ in safetensors");
    torch::Tensor values = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(values.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", values.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(values);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  std::string contents;
  contents.reserve(8 + header_text.size() + offset);
  for (int i = 0; i < 8; ++i) contents.push_back(static_cast<char>((header_text.size() >> (8 * i)) & 0xff));
  contents += header_text;
  for (const torch::Tensor& values : data) {
    contents.append(static_cast<const char*>(values.data_ptr()), static_cast<size_t>(values.numel()) * 4);
  }
  write_file_atomic(path, contents);
}

}  // namespace pg::worker
