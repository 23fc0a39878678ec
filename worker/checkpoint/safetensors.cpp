#include "worker/checkpoint/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "worker/checkpoint/binary_file.h"

namespace pg::checkpoint {
namespace {

// The reference implementation refuses headers over 100 MB; so does this reader.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const std::map<std::string, DType>& dtypes_by_name() {
  static const std::map<std::string, DType> table = {
      {"F64", DType::float64}, {"F32", DType::float32}, {"F16", DType::float16}, {"BF16", DType::bfloat16},
      {"I64", DType::int64},   {"I32", DType::int32},   {"I16", DType::int16},   {"I8", DType::int8},
      {"U8", DType::uint8},    {"BOOL", DType::boolean},
  };
  return table;
}

std::string safetensors_name(DType dtype) {
  for (const auto& [name, value] : dtypes_by_name()) {
    if (value == dtype) return name;
  }
  return "?";  // unreachable: the table covers every DType
}

// Parses the header JSON, refusing a key that appears twice in any object (nlohmann would keep the
// last one silently; the two readings of such a file disagree).
nlohmann::json parse_header(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  const auto on_event = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Event::key && !open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
        duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, on_event);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": safetensors header is not valid JSON (" + e.what() + ")");
  }
  if (!duplicate.empty()) {
    throw Error(path + ": safetensors header names '" + duplicate + "' twice; the file is corrupt or crafted");
  }
  if (!header.is_object()) throw Error(path + ": safetensors header is not a JSON object");
  return header;
}

struct Entry {
  std::string name;
  DType dtype = DType::float32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& name, const nlohmann::json& info, uint64_t data_size, const std::string& path) {
  const std::string where = path + ": tensor " + name;
  if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets") ||
      !info["dtype"].is_string() || !info["shape"].is_array() || !info["data_offsets"].is_array() ||
      info["data_offsets"].size() != 2) {
    throw Error(where + ": header entry needs dtype, shape and data_offsets [begin, end]");
  }
  Entry entry;
  entry.name = name;
  const auto dtype = dtypes_by_name().find(info["dtype"].get<std::string>());
  if (dtype == dtypes_by_name().end()) {
    throw Error(where + " has dtype " + info["dtype"].get<std::string>() +
                ", which promptgrid cannot read (F64, F32, F16, BF16 and integer types are supported)");
  }
  entry.dtype = dtype->second;
  if (info["shape"].size() > kMaxTensorRank) throw Error(where + ": shape has too many dimensions");
  uint64_t bytes = static_cast<uint64_t>(element_size(entry.dtype));
  bool empty = false;
  for (const auto& dimension : info["shape"]) {
    if (!dimension.is_number_unsigned()) throw Error(where + ": shape has a non-integer or negative entry");
    const auto extent = dimension.get<uint64_t>();
    if (extent == 0) empty = true;
    // Checked step by step so that a crafted shape cannot overflow the byte count.
    if (!empty && bytes > data_size / extent) {
      throw Error(where + ": shape " + info["shape"].dump() + " needs more bytes than the file holds");
    }
    if (!empty) bytes *= extent;
    entry.shape.push_back(static_cast<int64_t>(extent));
  }
  if (empty) bytes = 0;
  const auto& offsets = info["data_offsets"];
  if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
    throw Error(where + ": data_offsets must be two non-negative integers");
  }
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_size) {
    throw Error(where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                "] lie outside the file's " + std::to_string(data_size) +
                " data bytes; the file is truncated or corrupt");
  }
  if (entry.end - entry.begin != bytes) {
    throw Error(where + ": data_offsets span " + std::to_string(entry.end - entry.begin) + " bytes but shape " +
                format_shape(entry.shape) + " of " + info["dtype"].get<std::string>() + " needs " +
                std::to_string(bytes));
  }
  return entry;
}

// The tensors must tile the data area: sorted by offset, each begins where the previous ended and the
// last ends at the end of the file. Overlaps, gaps and trailing bytes all break this.
void check_tiling(std::vector<Entry>& entries, uint64_t data_size, const std::string& path) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t expected = 0;
  for (const Entry& entry : entries) {
    if (entry.begin != expected) {
      throw Error(path + ": tensor " + entry.name + " has data_offsets [" + std::to_string(entry.begin) + ", " +
                  std::to_string(entry.end) + "] but the previous tensor ends at byte " + std::to_string(expected) +
                  (entry.begin < expected ? " (tensors overlap)" : " (a gap)") +
                  "; the file is corrupt or its header length is wrong");
    }
    expected = entry.end;
  }
  if (expected != data_size) {
    throw Error(path + ": the tensors cover " + std::to_string(expected) + " data bytes but the file has " +
                std::to_string(data_size) + " after its header; the file is truncated, has trailing bytes or "
                "its header length is wrong");
  }
}

}  // namespace

std::vector<TensorRecord> read_safetensors(const std::string& path) {
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
  const std::string header_text = file.read(8, header_length, "safetensors header");
  if (header_text.empty() || header_text[0] != '{') {
    throw Error(path + ": safetensors header does not start with '{'; the file is not safetensors");
  }
  const nlohmann::json header = parse_header(header_text, path);

  const uint64_t data_start = 8 + header_length;
  const uint64_t data_size = file.size() - data_start;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    entries.push_back(parse_entry(name, info, data_size, path));
  }
  check_tiling(entries, data_size, path);

  std::vector<TensorRecord> records;
  records.reserve(entries.size());
  for (const Entry& entry : entries) {
    TensorRecord record;
    record.name = entry.name;
    record.dtype = entry.dtype;
    record.shape = entry.shape;
    record.strides = contiguous_strides(entry.shape);
    record.storage = std::make_shared<const std::string>(
        file.read(data_start + entry.begin, entry.end - entry.begin, "tensor " + entry.name));
    check_tensor_record(record, path + ": tensor " + entry.name);
    records.push_back(std::move(record));
  }
  std::sort(records.begin(), records.end(), [](const TensorRecord& a, const TensorRecord& b) { return a.name < b.name; });
  return records;
}

void write_safetensors(const std::string& path, const std::vector<TensorRecord>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const TensorRecord& tensor : tensors) {
    if (tensor.name == "__metadata__") throw Error(path + ": a tensor cannot be named __metadata__ in safetensors");
    if (header.contains(tensor.name)) throw Error(path + ": tensor " + tensor.name + " is given twice");
    const uint64_t bytes = static_cast<uint64_t>(tensor.numel() * element_size(tensor.dtype));
    if (tensor.offset != 0 || tensor.strides != contiguous_strides(tensor.shape) || !tensor.storage ||
        tensor.storage->size() != bytes) {
      throw Error(path + ": tensor " + tensor.name + " is not a contiguous record of its own bytes");
    }
    header[tensor.name] = {{"dtype", safetensors_name(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  std::string contents;
  contents.reserve(8 + header_text.size() + offset);
  for (int i = 0; i < 8; ++i) contents.push_back(static_cast<char>((header_text.size() >> (8 * i)) & 0xff));
  contents += header_text;
  for (const TensorRecord& tensor : tensors) contents += *tensor.storage;
  write_file_atomic(path, contents);
}

}  // namespace pg::checkpoint
