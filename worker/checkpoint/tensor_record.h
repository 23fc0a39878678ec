// A tensor as a checkpoint file describes it, before LibTorch sees it: dtype, shape, strides and an
// offset into a storage of raw little-endian bytes. The readers of this folder produce records and
// validate them with check_tensor_record, so that every size, stride and offset a file declares is
// checked for overflow and bounds here, in plain integer arithmetic; worker/clip/state_dict.h then
// turns records into tensors. No LibTorch in this folder (the fuzz targets build it without).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pg::checkpoint {

enum class DType { float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8, boolean };

int64_t element_size(DType dtype);
// "float32", "bfloat16", ... for messages.
std::string dtype_name(DType dtype);

struct TensorRecord {
  std::string name;  // dotted, as in a state dict: "transformer.resblocks.0.attn.in_proj_weight"
  DType dtype = DType::float32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements, one per dimension
  int64_t offset = 0;            // in elements, into the storage
  std::shared_ptr<const std::string> storage;  // shared by the views of one storage

  int64_t storage_elements() const;
  int64_t numel() const;  // product of shape (valid after check_tensor_record)
};

// Largest number of elements one tensor may have: 2^36 (256 GiB of float32), far beyond any CLIP
// weight, small enough that no product of sizes below overflows.
constexpr int64_t kMaxTensorElements = int64_t{1} << 36;
constexpr size_t kMaxTensorRank = 16;

// Checks, without overflow, that the view lies inside its storage and is not larger than it (views
// that repeat elements, such as stride 0 over a huge size, are not weights). `where` starts the
// error: "ViT-B-16.pt: tensor visual.proj".
void check_tensor_record(const TensorRecord& record, const std::string& where);

// Strides of a dense row-major tensor of `shape`.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);

}  // namespace pg::checkpoint
