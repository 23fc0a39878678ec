#include "worker/checkpoint/tensor_record.h"

#include <algorithm>

#include "common/error.h"
#include "common/strings.h"

namespace pg::checkpoint {

int64_t element_size(DType dtype) {
  switch (dtype) {
    case DType::float64:
    case DType::int64:
      return 8;
    case DType::float32:
    case DType::int32:
      return 4;
    case DType::float16:
    case DType::bfloat16:
    case DType::int16:
      return 2;
    case DType::int8:
    case DType::uint8:
    case DType::boolean:
      return 1;
  }
  return 1;  // unreachable: every enumerator is handled above
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float64: return "float64";
    case DType::float32: return "float32";
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
    case DType::int64: return "int64";
    case DType::int32: return "int32";
    case DType::int16: return "int16";
    case DType::int8: return "int8";
    case DType::uint8: return "uint8";
    case DType::boolean: return "bool";
  }
  return "unknown";  // unreachable
}

int64_t TensorRecord::storage_elements() const {
  return storage ? static_cast<int64_t>(storage->size()) / element_size(dtype) : 0;
}

int64_t TensorRecord::numel() const {
  int64_t count = 1;
  for (const int64_t size : shape) count *= size;
  return count;
}

void check_tensor_record(const TensorRecord& record, const std::string& where) {
  const std::string described = where + " (shape " + format_shape(record.shape) + ", strides " +
                                format_shape(record.strides) + ", offset " + std::to_string(record.offset) + ")";
  if (record.shape.size() > kMaxTensorRank) {
    throw Error(described + " has rank " + std::to_string(record.shape.size()) + "; at most " +
                std::to_string(kMaxTensorRank) + " is supported; the checkpoint is corrupt");
  }
  if (record.strides.size() != record.shape.size()) {
    throw Error(described + ": size and stride have different lengths; the checkpoint is corrupt");
  }
  if (record.offset < 0) throw Error(described + ": negative storage offset; the checkpoint is corrupt");
  int64_t count = 1;
  for (size_t i = 0; i < record.shape.size(); ++i) {
    if (record.shape[i] < 0 || record.strides[i] < 0) {
      throw Error(described + ": negative size or stride; the checkpoint is corrupt");
    }
    if (record.shape[i] != 0 && count > kMaxTensorElements / record.shape[i]) {
      throw Error(described + " has more than 2^36 elements; the checkpoint is corrupt");
    }
    count *= record.shape[i];
  }
  if (count == 0) return;  // an empty view touches no element
  const int64_t available = record.storage_elements();
  if (count > available) {
    throw Error(described + " has " + std::to_string(count) + " elements but its storage only " +
                std::to_string(available) + "; views that repeat elements are not weights (the checkpoint is corrupt)");
  }
  // The furthest element the view touches, accumulated so that no step can overflow: every term is
  // bounded by `available` before it is added.
  int64_t last = record.offset;
  if (last >= available) {
    throw Error(described + " starts at element " + std::to_string(last) + " of a storage of " +
                std::to_string(available) + " elements; the checkpoint is corrupt");
  }
  for (size_t i = 0; i < record.shape.size(); ++i) {
    const int64_t steps = record.shape[i] - 1;
    if (steps == 0) continue;
    if (record.strides[i] > (available - 1 - last) / steps) {
      throw Error(described + " reaches beyond the " + std::to_string(available) +
                  " elements of its storage; the checkpoint is corrupt");
    }
    last += steps * record.strides[i];
  }
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(shape[i], 1);
  return strides;
}

}  // namespace pg::checkpoint
