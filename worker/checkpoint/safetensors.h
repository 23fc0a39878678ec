// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, ..., "__metadata__":
// {...}}, then the raw little-endian tensor bytes, offsets relative to the data start.
//
// The reader checks what the format's reference reader checks: a header of at most 100 MB starting
// with '{', no key twice, every tensor's bytes matching its dtype and shape, and the tensors tiling the
// data area exactly (sorted by offset, each starting where the previous ended, the last ending at the
// end of the file), so a header length that is off by one, overlapping tensors or trailing bytes are
// errors rather than shifted or shared weights. Every length is checked before anything is allocated.
#pragma once

#include <string>
#include <vector>

#include "worker/checkpoint/tensor_record.h"

namespace pg::checkpoint {

std::vector<TensorRecord> read_safetensors(const std::string& path);

// Writes contiguous records (offset 0, strides of their shape) in the layout above, atomically.
void write_safetensors(const std::string& path, const std::vector<TensorRecord>& tensors);

}  // namespace pg::checkpoint
